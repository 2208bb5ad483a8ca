/**
 * The whole stack, from a validated config: AWS provider (cost-allocation tags on every
 * resource), network, cluster. Returns the stack outputs. Called by index.ts under the
 * real engine and by the offline plan and the tests under mocks.
 */
import * as aws from "@pulumi/aws";
import { staticCost } from "../stacks/cost";
import { LoadedConfig } from "../stacks/load";
import { PROJECT } from "../stacks/schema";
import { GpuCluster } from "./cluster";
import { EKS_ADDON_VERSIONS } from "./cluster/versions";
import { Network } from "./network";

/** Key under which deployStack hands the full cost estimate to the offline plan. */
export const COST_KEY = "__costEstimate";

export function clusterNameFor(environment: string): string {
    return `${PROJECT}-${environment}`;
}

export function deployStack({ config }: LoadedConfig) {
    const name = clusterNameFor(config.environment);
    const awsProvider = new aws.Provider("aws", {
        region: config.region as aws.Region,
        defaultTags: { tags: { project: PROJECT, environment: config.environment, "managed-by": "pulumi", ...config.tags } },
    });
    const providers = { providers: [awsProvider] };

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
            logTypes: config.cluster.logTypes,
            logRetentionDays: config.cluster.logRetentionDays,
            deletionProtection: config.production,
            systemNodes: config.systemNodes,
            gpuPools: config.gpuPools,
        },
        { providers: { aws: awsProvider } },
    );

    const cost = staticCost(config, network.natGatewayCount);
    return {
        region: config.region,
        clusterName: cluster.clusterName,
        kubeconfig: cluster.kubeconfig,
        vpcId: network.vpcId,
        gpuPools: Object.fromEntries(
            config.gpuPools.map((p) => [p.name, { gpuType: p.gpuType, instanceTypes: p.instanceTypes, capacityType: p.capacityType, minNodes: p.minNodes, maxNodes: p.maxNodes, asgName: cluster.gpuNodePools[p.name].asgName }]),
        ),
        costEstimate: { floorUsdPerMonth: cost.floorUsdPerMonth, ceilingUsdPerMonth: cost.ceilingUsdPerMonth, expected: cost.expected },
        // Not a stack output: the offline plan writes it to cost.json.
        [COST_KEY]: cost,
    };
}
