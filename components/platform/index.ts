/**
 * A platform stack (gpuserve:role platform, docs/teams.md): the cluster half every stack has (VPC,
 * EKS, node groups, add-ons), the IngressClass that puts every team on one ALB, a TeamSpace per
 * registered team (namespace, quota, baseline policies, deploy access), the shared pools (its
 * gpuserve:models, behind a gateway that queues them fairly per team), and the `platform` output
 * its team stacks read.
 */
import * as pulumi from "@pulumi/pulumi";
import { staticCost } from "../../capacity/cost";
import type { CostEstimate } from "../../capacity/costEstimate";
import { expectedCost } from "../../capacity/sim";
import { LoadedConfig } from "../../stacks/load";
import { PLATFORM_OUTPUT } from "../../stacks/platformOutputs";
import { teamNamespace } from "../../stacks/platformChecks";
import { MONITORING_NAMESPACE } from "../addons";
import { deployClusterStack, servingOn } from "../clusterStack";
import { ServingStack, SharedPlacement } from "../serving";
import { ApiKey } from "../serving/gatewayConfig";
import type { StackConfig } from "../../stacks/resolved";
import { TeamRegistration } from "../../stacks/schema";
import { COST_KEY, PROJECT_ROOT, costSummary } from "../stackOutputs";
import { PlatformIngressClass } from "./ingressClass";
import { platformOutputs } from "./outputs";
import { SharedKeys } from "./sharedKeys";
import { TeamQuota, teamQuota } from "./teamQuota";
import { TeamSpace } from "./teamSpace";
import { GATEWAY_NAME } from "../serving/gatewayDeployment";

/** Teams that use the platform's shared pools. */
function sharedPoolUsers(config: StackConfig): [string, TeamRegistration][] {
    return Object.entries(config.teams).filter(([, t]) => t.sharedPools.length > 0);
}

/** Where the platform's shared pools run: reached by the gateways of the teams that use them, with their keys and limits. */
export function sharedPlacement(config: StackConfig, teamKeys: pulumi.Output<ApiKey[]>): SharedPlacement {
    const users = sharedPoolUsers(config);
    return {
        kind: "shared",
        teamNamespaces: users.map(([team, t]) => teamNamespace(team, t)),
        warmupNamespaces: users.filter(([, t]) => t.sharedLimits?.warmup).map(([team, t]) => teamNamespace(team, t)),
        teamKeys,
        teamLimits: Object.fromEntries(users.map(([team, t]) => [team, t.sharedLimits ?? {}])),
        prometheusNamespace: MONITORING_NAMESPACE,
    };
}

export async function deployPlatform({ config, secrets }: LoadedConfig) {
    const base = await deployClusterStack(config);
    const { name, tags, awsProvider, network, cluster, addons } = base;
    const k8sOpts = { providers: [awsProvider, cluster.provider], dependsOn: addons.ready };
    const platform = config.environment;

    const ingressClass = new PlatformIngressClass(`${name}-ingress-class`, { platform, certificateArn: config.serving.certificateArn, tags }, k8sOpts);

    const quotas: Record<string, TeamQuota> = {};
    const spaces: Record<string, TeamSpace> = {};
    for (const [team, registration] of Object.entries(config.teams)) {
        quotas[team] = teamQuota(registration, config.gpuPools);
        spaces[team] = new TeamSpace(
            `${name}-team-${team}`,
            {
                team,
                namespace: teamNamespace(team, registration),
                platform,
                registration,
                quota: quotas[team],
                clusterName: cluster.clusterName,
                ingressClassName: ingressClass.className,
            },
            k8sOpts,
        );
    }

    // Shared pools: the platform's models, reached by the gateways of the teams that use them.
    let shared: ServingStack | undefined;
    if (config.models.length > 0) {
        const users = sharedPoolUsers(config);
        const keys = new SharedKeys(
            `${name}-shared-keys`,
            {
                teams: users.map(([team, t]) => ({
                    team,
                    namespace: teamNamespace(team, t),
                    namespaceResource: spaces[team].namespace,
                    warmup: t.sharedLimits?.warmup ?? false,
                })),
            },
            k8sOpts,
        );
        shared = new ServingStack(
            name,
            { ...servingOn(base, config), hfToken: secrets.hfToken, loadBalancerController: [], placement: sharedPlacement(config, keys.keys) },
            k8sOpts,
        );
    }

    const cost: CostEstimate = {
        ...staticCost(config, network.natGatewayCount),
        expected: config.models.length > 0 ? expectedCost(config, { root: PROJECT_ROOT }) : null,
    };
    return {
        region: config.region,
        clusterName: cluster.clusterName,
        kubeconfig: cluster.kubeconfig,
        vpcId: network.vpcId,
        ...(addons.monitoring ? { grafanaAdminPassword: addons.monitoring.grafanaAdminPassword } : {}),
        prometheusUrl: addons.prometheusUrl,
        ...(shared ? { scaling: shared.scaling } : {}),
        costEstimate: costSummary(cost),
        [PLATFORM_OUTPUT]: platformOutputs({
            config,
            stack: pulumi.getStack(),
            cluster: {
                name: cluster.clusterName,
                arn: cluster.clusterArn,
                endpoint: cluster.endpoint,
                certificateAuthority: cluster.certificateAuthority,
                version: cluster.kubernetesVersion,
            },
            vpcCidr: network.vpcCidr,
            loadBalancerSourceCidrs: network.publicSubnetCidrs,
            ingressClassName: ingressClass.className,
            prometheus: { url: addons.prometheusUrl, namespace: MONITORING_NAMESPACE },
            quotas,
            sharedGateway: shared
                ? { address: `${GATEWAY_NAME}.${config.serving.namespace}.svc.cluster.local:80`, namespace: config.serving.namespace }
                : undefined,
            floorUsdPerMonth: cost.floorUsdPerMonth,
        }),
        [COST_KEY]: cost,
    };
}
