/**
 * The platform's `platform` stack output (stacks/platformOutputs.ts): everything a team stack needs,
 * resolved from the platform's config and its cluster. Validated against the shape before export,
 * so a platform never publishes what its teams could not read.
 */
import * as pulumi from "@pulumi/pulumi";
import { PLATFORM_OUTPUTS_VERSION, PlatformOutputs, parsePlatformOutputs } from "../../stacks/platformOutputs";
import type { StackConfig } from "../../stacks/resolved";
import { gpuNodeLabels, GPU_POOL_LABEL } from "../cluster";
import { teamNamespace } from "../../stacks/platformChecks";
import { platformIdleTimeoutSeconds } from "./ingressClass";
import { TeamQuota } from "./teamQuota";

export interface PlatformOutputsArgs {
    readonly config: StackConfig;
    readonly stack: string;
    readonly cluster: {
        readonly name: pulumi.Input<string>;
        readonly arn: pulumi.Input<string>;
        readonly endpoint: pulumi.Input<string>;
        readonly certificateAuthority: pulumi.Input<string>;
        readonly version: string;
    };
    readonly vpcCidr: pulumi.Input<string>;
    readonly loadBalancerSourceCidrs: pulumi.Input<string>[];
    readonly ingressClassName: string;
    readonly prometheus: { readonly url: string; readonly namespace: string };
    readonly quotas: Readonly<Record<string, TeamQuota>>;
    /** The shared gateway's address (host:port) and namespace, when the platform shares pools. */
    readonly sharedGateway?: { readonly address: string; readonly namespace: string };
    readonly floorUsdPerMonth: number;
}

/** A model entry as the platform's config states it (without what validation resolved). */
function modelEntry(m: StackConfig["models"][number]) {
    const { spec: _spec, shared: _shared, ...entry } = m;
    return entry;
}

export function platformOutputs(args: PlatformOutputsArgs): pulumi.Output<PlatformOutputs> {
    const c = args.config;
    return pulumi
        .all([
            args.cluster.name,
            args.cluster.arn,
            args.cluster.endpoint,
            args.cluster.certificateAuthority,
            args.vpcCidr,
            pulumi.all(args.loadBalancerSourceCidrs),
        ])
        .apply(([name, arn, endpoint, ca, vpcCidr, cidrs]) => {
            const value: PlatformOutputs = {
                version: PLATFORM_OUTPUTS_VERSION,
                stack: args.stack,
                environment: c.environment,
                region: c.region,
                cluster: { name, arn, endpoint, certificateAuthority: ca, version: args.cluster.version },
                vpcCidr,
                loadBalancerSourceCidrs: cidrs,
                ingress: {
                    className: args.ingressClassName,
                    groupName: args.ingressClassName,
                    tls: c.serving.certificateArn !== undefined,
                    idleTimeoutSeconds: platformIdleTimeoutSeconds(),
                },
                prometheus: { url: args.prometheus.url, namespace: args.prometheus.namespace, retention: c.addons.prometheus.retention },
                addons: {
                    keda: c.addons.keda.enabled,
                    dcgmExporter: c.addons.dcgmExporter.enabled,
                    nvidiaDevicePlugin: c.addons.nvidiaDevicePlugin.enabled,
                    clusterAutoscaler: c.addons.clusterAutoscaler.enabled,
                },
                coldStart: { imageCache: c.coldStart.imageCache, vllmImage: c.serving.vllmImage },
                prices: c.prices,
                gpuPools: c.gpuPools.map((p) => ({
                    name: p.name,
                    gpuType: p.gpuType,
                    instanceTypes: p.instanceTypes,
                    capacityType: p.capacityType,
                    minNodes: p.minNodes,
                    maxNodes: p.maxNodes,
                    ami: p.ami,
                    diskSizeGiB: p.diskSizeGiB,
                    podStorage: p.podStorage,
                    ...(p.scaleDownUnneededSeconds !== undefined ? { scaleDownUnneededSeconds: p.scaleDownUnneededSeconds } : {}),
                    gpusPerNode: p.gpusPerNode,
                    gpuMemoryGiB: p.gpuMemoryGiB,
                    nodeSelector: { [GPU_POOL_LABEL]: gpuNodeLabels(p)[GPU_POOL_LABEL] },
                })),
                teams: Object.fromEntries(
                    Object.entries(c.teams).map(([team, t]) => [
                        team,
                        {
                            namespace: teamNamespace(team, t),
                            host: t.host,
                            gpus: { ...t.gpus },
                            quota: args.quotas[team],
                            sharedPools: t.sharedPools,
                            ...(t.permissionsBoundaryArn ? { permissionsBoundaryArn: t.permissionsBoundaryArn } : {}),
                        },
                    ]),
                ),
                sharedPools: args.sharedGateway
                    ? c.models.map((m) => ({
                          name: m.name,
                          model: modelEntry(m),
                          gateway: args.sharedGateway!.address,
                          namespace: args.sharedGateway!.namespace,
                          maxWaitSeconds: c.serving.gateway.maxWaitSeconds,
                      }))
                    : [],
                floorUsdPerMonth: args.floorUsdPerMonth,
            };
            // What the teams will parse: a platform never exports a shape they would refuse.
            return parsePlatformOutputs(value, `platform stack '${args.stack}'`);
        });
}
