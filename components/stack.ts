/**
 * The whole stack, from a validated config: AWS provider (cost-allocation tags on every
 * resource), network, cluster. Returns the stack outputs. Called by index.ts under the
 * real engine and by the offline plan and the tests under mocks.
 */
import * as aws from "@pulumi/aws";
import * as path from "path";
import { CostEstimate, platformUsdPerHour, poolNodePrice, staticCost } from "../capacity/cost";
import { expectedCost } from "../capacity/sim";
import { LoadedConfig } from "../stacks/load";
import { PROJECT } from "../stacks/schema";
import { PlatformAddons } from "./addons";
import { GpuCluster, STORAGE_CLASS, nodeGroupPrefixes } from "./cluster";
import { liveDesiredSizes } from "./cluster/nodeGroupSize";
import { EKS_ADDON_VERSIONS } from "./cluster/versions";
import { Network } from "./network";
import { ServingStack } from "./serving";
import { warnIdleGpus } from "./idleGpus";

/** Key under which deployStack hands the full cost estimate to the offline plan. */
export const COST_KEY = "__costEstimate";

export function clusterNameFor(environment: string): string {
    return `${PROJECT}-${environment}`;
}

export async function deployStack({ config, secrets }: LoadedConfig) {
    const name = clusterNameFor(config.environment);
    /** Cost-allocation tags: on every AWS resource Pulumi creates (provider default tags), and passed on to what EC2, EBS and the ALB controller create. */
    const tags = { project: PROJECT, environment: config.environment, ...config.tags };
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
            imageCache: config.coldStart.imageCache === "snapshot" ? { image: config.serving.vllmImage, snapshotId: config.coldStart.imageCacheSnapshotId, initRateMiBps: config.coldStart.imageCacheInitRateMiBps } : undefined,
            liveDesiredSizes: liveSizes,
        },
        { providers: { aws: awsProvider } },
    );

    const addons = new PlatformAddons(
        name,
        {
            config: config.addons,
            scope: { accountId: aws.getCallerIdentityOutput({}, { provider: awsProvider }).accountId, region: config.region, clusterName: name, clusterArn: cluster.clusterArn, clusterNameOutput: cluster.clusterName },
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

    const serving = new ServingStack(
        name,
        {
            config,
            vpcCidr: network.vpcCidr,
            albSubnetCidrs: network.publicSubnetCidrs,
            prometheusUrl: addons.prometheusUrl,
            serviceMonitors: config.addons.prometheus.enabled || config.addons.prometheus.url !== undefined,
            hfToken: secrets.hfToken,
            gatewayApiKeys: secrets.gatewayApiKeys,
            batchStorePassword: secrets.batchStorePassword,
            keda: addons.keda ? [addons.keda.release] : [],
            loadBalancerController: addons.loadBalancerController ? [addons.loadBalancerController.release] : [],
            tags,
            clusterName: cluster.clusterName,
            clusterArn: cluster.clusterArn,
            namePrefix: name,
        },
        { providers: [awsProvider, cluster.provider], dependsOn: addons.ready },
    );

    // Simulated week of the traffic profile, normalized to a month (a CSV trace path is relative to the project).
    const cost: CostEstimate = { ...staticCost(config, network.natGatewayCount), expected: expectedCost(config, { root: path.resolve(__dirname, "..") }) };
    const e = cost.expected!;
    warnIdleGpus(config, e);
    return {
        url: serving.url,
        region: config.region,
        clusterName: cluster.clusterName,
        kubeconfig: cluster.kubeconfig,
        vpcId: network.vpcId,
        gpuPools: Object.fromEntries(
            config.gpuPools.map((p) => [p.name, { gpuType: p.gpuType, instanceTypes: p.instanceTypes, capacityType: p.capacityType, minNodes: p.minNodes, maxNodes: p.maxNodes, asgName: cluster.gpuNodePools[p.name].asgName }]),
        ),
        ...(addons.monitoring ? { grafanaAdminPassword: addons.monitoring.grafanaAdminPassword } : {}),
        prometheusUrl: addons.prometheusUrl,
        scaling: serving.scaling,
        costEstimate: {
            floorUsdPerMonth: cost.floorUsdPerMonth,
            ceilingUsdPerMonth: cost.ceilingUsdPerMonth,
            expected: {
                profile: e.profile,
                usdPerMonth: e.usdPerMonth,
                gpuHoursPerMonth: e.gpuHoursPerMonth,
                p95LatencySeconds: e.p95LatencySeconds,
                coldStarts: e.coldStarts,
                usdPer1kRequests: e.usdPer1kRequests,
                oracleUsdPerMonth: e.oracleUsdPerMonth,
                clairvoyantUsdPerMonth: e.clairvoyantUsdPerMonth,
            },
        },
        // Not a stack output: the offline plan writes it to cost.json.
        [COST_KEY]: cost,
    };
}
