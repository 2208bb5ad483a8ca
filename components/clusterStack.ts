/**
 * The cluster half of a standalone or platform stack: the AWS provider (cost-allocation tags on
 * every resource), the network, the EKS cluster with its node groups, and the add-ons. Both roles
 * build it with the same code and names, so a standalone stack plans exactly as before the
 * platform/team split.
 */
import * as aws from "@pulumi/aws";
import { platformUsdPerHour, poolNodePrice } from "../capacity/cost";
import type { StackConfig } from "../stacks/resolved";
import { PROJECT } from "../stacks/schema";
import { PlatformAddons } from "./addons";
import { GpuCluster, STORAGE_CLASS, nodeGroupPrefixes } from "./cluster";
import { liveDesiredSizes } from "./cluster/nodeGroupSize";
import { EKS_ADDON_VERSIONS } from "./cluster/versions";
import { Network } from "./network";

export function clusterNameFor(environment: string): string {
    return `${PROJECT}-${environment}`;
}

/** Cost-allocation tags: on every AWS resource Pulumi creates (provider default tags), and passed on to what EC2, EBS and the ALB controller create. */
export function costTags(config: Pick<StackConfig, "environment" | "tags">): Record<string, string> {
    return { project: PROJECT, environment: config.environment, ...config.tags };
}

export interface ClusterStack {
    readonly name: string;
    readonly tags: Record<string, string>;
    readonly awsProvider: aws.Provider;
    readonly network: Network;
    readonly cluster: GpuCluster;
    readonly addons: PlatformAddons;
}

export async function deployClusterStack(config: StackConfig): Promise<ClusterStack> {
    const name = clusterNameFor(config.environment);
    const tags = costTags(config);
    const awsProvider = new aws.Provider("aws", { region: config.region as aws.Region, defaultTags: { tags: { ...tags, "managed-by": "pulumi" } } });
    const providers = { providers: [awsProvider] };
    // Who runs `pulumi up`: EKS already makes them admin (GpuCluster skips their explicit access entry).
    const deployer = await aws.getCallerIdentity({}, { provider: awsProvider });
    // Node group sizes as they are now, so an update keeps the autoscaler's and never goes below minNodes.
    const prefixes = nodeGroupPrefixes(name, config.gpuPools);
    const liveSizes = await liveDesiredSizes(name, [prefixes.system, ...Object.values(prefixes.gpu)], awsProvider);

    const network = new Network(
        name,
        {
            clusterName: name,
            vpcCidr: config.network.vpcCidr,
            availabilityZoneCount: config.network.availabilityZoneCount,
            natGateways: config.network.natGateways,
            existing: config.network.existing,
        },
        providers,
    );

    const cluster = new GpuCluster(
        name,
        {
            clusterName: name,
            kubernetesVersion: config.cluster.version,
            addonVersions: EKS_ADDON_VERSIONS[config.cluster.version],
            vpcId: network.vpcId,
            publicSubnetIds: network.publicSubnetIds,
            privateSubnetIds: network.privateSubnetIds,
            endpointPublicAccessCidrs: config.cluster.endpointPublicAccessCidrs,
            adminPrincipalArns: config.cluster.adminPrincipalArns,
            deployerArn: deployer.arn,
            accountId: deployer.accountId,
            region: config.region,
            logTypes: config.cluster.logTypes,
            logRetentionDays: config.cluster.logRetentionDays,
            production: config.production,
            costTags: tags,
            systemNodes: config.systemNodes,
            gpuPools: config.gpuPools,
            imageCache:
                config.coldStart.imageCache === "snapshot"
                    ? {
                          image: config.serving.vllmImage,
                          snapshotId: config.coldStart.imageCacheSnapshotId,
                          initRateMiBps: config.coldStart.imageCacheInitRateMiBps,
                      }
                    : undefined,
            liveDesiredSizes: liveSizes,
        },
        { providers: { aws: awsProvider } },
    );

    const addons = new PlatformAddons(
        name,
        {
            config: config.addons,
            scope: {
                accountId: aws.getCallerIdentityOutput({}, { provider: awsProvider }).accountId,
                region: config.region,
                clusterName: name,
                clusterArn: cluster.clusterArn,
                clusterNameOutput: cluster.clusterName,
            },
            vpcId: network.vpcId,
            clusterSecurityGroupId: cluster.clusterSecurityGroupId,
            storageClassName: STORAGE_CLASS,
            tags,
            gpuNodeGroups: config.gpuPools.map((p) => ({ nodeGroupPrefix: prefixes.gpu[p.name], usdPerHour: poolNodePrice(config, p).usdPerHour })),
            // The device plugin chart only where the node OS lacks it (AL2023); Bottlerocket's NVIDIA variant has it built in.
            devicePluginChart: config.gpuPools.some((p) => p.ami === "al2023"),
            gpuPoolCosts: config.gpuPools.map((p) => ({
                name: p.name,
                nodeUsdPerHour: poolNodePrice(config, p).usdPerHour,
                gpusPerNode: p.gpusPerNode,
                minNodes: p.minNodes,
                workerPools: config.models.filter((m) => m.pool === p.name).map((m) => m.name),
            })),
            platformUsdPerHour: platformUsdPerHour(config, network.natGatewayCount),
            clusterReady: cluster.ready,
        },
        { providers: [awsProvider, cluster.provider] },
    );
    return { name, tags, awsProvider, network, cluster, addons };
}

/** What a serving stack on this cluster needs of it (a standalone stack's, a platform's shared pools). */
export function servingOn(c: ClusterStack, config: StackConfig) {
    return {
        config,
        vpcCidr: c.network.vpcCidr,
        albSubnetCidrs: c.network.publicSubnetCidrs,
        prometheusUrl: c.addons.prometheusUrl,
        serviceMonitors: config.addons.prometheus.enabled || config.addons.prometheus.url !== undefined,
        keda: c.addons.keda ? [c.addons.keda.release] : [],
        tags: c.tags,
        clusterName: c.cluster.clusterName,
        clusterArn: c.cluster.clusterArn,
        namePrefix: c.name,
    };
}
