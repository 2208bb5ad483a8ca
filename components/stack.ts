/**
 * The whole stack, from a validated config, by its role (docs/teams.md): a standalone stack (its
 * own cluster and serving stack), a platform (the cluster teams share), or a team on a platform.
 * Returns the stack outputs. Called by index.ts under the real engine and by the offline plan and
 * the tests under mocks.
 */
import { staticCost } from "../capacity/cost";
import type { CostEstimate } from "../capacity/costEstimate";
import { expectedCost } from "../capacity/sim";
import { LoadedConfig } from "../stacks/load";
import { deployClusterStack, servingOn } from "./clusterStack";
import { COST_KEY, PROJECT_ROOT, costSummary } from "./stackOutputs";
import { deployPlatform } from "./platform";
import { ServingStack } from "./serving";
import { deployTeam } from "./team";
import { warnIdleGpus } from "./idleGpus";

export { COST_KEY };

export async function deployStack(loaded: LoadedConfig) {
    if (loaded.config.role === "platform") return deployPlatform(loaded);
    if (loaded.config.role === "team") return deployTeam(loaded);
    return deployStandalone(loaded);
}

async function deployStandalone({ config, secrets }: LoadedConfig) {
    const base = await deployClusterStack(config);
    const { name, awsProvider, network, cluster, addons } = base;

    const serving = new ServingStack(
        name,
        {
            ...servingOn(base, config),
            hfToken: secrets.hfToken,
            gatewayApiKeys: secrets.gatewayApiKeys,
            batchStorePassword: secrets.batchStorePassword,
            loadBalancerController: addons.loadBalancerController ? [addons.loadBalancerController.release] : [],
        },
        { providers: [awsProvider, cluster.provider], dependsOn: addons.ready },
    );

    // Simulated week of the traffic profile, normalized to a month (a CSV trace path is relative to the project).
    const cost: CostEstimate = { ...staticCost(config, network.natGatewayCount), expected: expectedCost(config, { root: PROJECT_ROOT }) };
    const e = cost.expected!;
    warnIdleGpus(config, e);
    return {
        url: serving.url,
        region: config.region,
        clusterName: cluster.clusterName,
        kubeconfig: cluster.kubeconfig,
        vpcId: network.vpcId,
        gpuPools: Object.fromEntries(
            config.gpuPools.map((p) => [
                p.name,
                {
                    gpuType: p.gpuType,
                    instanceTypes: p.instanceTypes,
                    capacityType: p.capacityType,
                    minNodes: p.minNodes,
                    maxNodes: p.maxNodes,
                    asgName: cluster.gpuNodePools[p.name].asgName,
                },
            ]),
        ),
        ...(addons.monitoring ? { grafanaAdminPassword: addons.monitoring.grafanaAdminPassword } : {}),
        prometheusUrl: addons.prometheusUrl,
        scaling: serving.scaling,
        costEstimate: costSummary(cost),
        // Not a stack output: the offline plan writes it to cost.json.
        [COST_KEY]: cost,
    };
}
