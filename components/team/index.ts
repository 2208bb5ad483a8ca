/**
 * A team stack (gpuserve:role team, docs/teams.md): the team's serving stack in the namespace its
 * platform made for it, on the platform's cluster and ALB. It creates only what belongs to the team:
 * its worker pools and scale policies, its gateway (keys, limits), UI and Ingress (its host on the
 * platform's ALB), its batch store, its Pod Identity roles (scoped to its namespace and service
 * accounts) and its weights bucket. No VPC, cluster, node group, namespace or other cluster-scoped
 * object: `pulumi destroy` of a team leaves the platform and the other teams as they were.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { staticCost } from "../../capacity/cost";
import type { CostEstimate } from "../../capacity/costEstimate";
import { expectedCost } from "../../capacity/sim";
import { LoadedConfig } from "../../stacks/load";
import { clusterNameFor, costTags } from "../clusterStack";
import { ServingStack, TeamPlacement } from "../serving";
import { PlatformOutputs } from "../../stacks/platformOutputs";
import { COST_KEY, PROJECT_ROOT, costSummary } from "../stackOutputs";
import { teamClusterAccess } from "./clusterAccess";
import { expectedAddons } from "../../stacks/existingCluster";

/** Where a team's serving stack runs on its platform. */
export function teamPlacement(p: PlatformOutputs): TeamPlacement {
    return {
        kind: "team",
        albSources: p.loadBalancerSourceCidrs,
        ingress: { className: p.ingress.className, groupName: p.ingress.groupName, tls: p.ingress.tls, idleTimeoutSeconds: p.ingress.idleTimeoutSeconds },
        prometheusNamespace: p.prometheus.namespace,
    };
}

export async function deployTeam({ config, secrets }: LoadedConfig) {
    const p = config.platform!;
    const name = clusterNameFor(config.environment);
    const tags = costTags(config);
    const awsProvider = new aws.Provider("aws", { region: config.region as aws.Region, defaultTags: { tags: { ...tags, "managed-by": "pulumi" } } });
    const access = teamClusterAccess(name, p, awsProvider);
    if (p.coldStart.imageCache === "snapshot" && config.serving.vllmImage !== p.coldStart.vllmImage) {
        void pulumi.log.warn(
            `serving.vllmImage is ${config.serving.vllmImage}, but platform '${p.stack}' caches ${p.coldStart.vllmImage} on its GPU nodes: every new node pulls this team's image (minutes of cold start). Fix: use ${p.coldStart.vllmImage}, or ask for it in the platform's serving.vllmImage`,
        );
    }

    const serving = new ServingStack(
        name,
        {
            config,
            vpcCidr: p.vpcCidr,
            prometheusUrl: p.prometheus.url,
            serviceMonitors: true,
            hfToken: secrets.hfToken,
            gatewayApiKeys: secrets.gatewayApiKeys,
            batchStorePassword: secrets.batchStorePassword,
            keda: [],
            loadBalancerController: [],
            tags,
            clusterName: access.clusterName,
            clusterArn: access.clusterArn,
            namePrefix: name,
            placement: teamPlacement(p),
        },
        { providers: [awsProvider, access.provider] },
    );

    const own = config.models.filter((m) => !m.shared);
    const cost: CostEstimate = { ...staticCost(config, 0), expected: config.models.length > 0 ? expectedCost(config, { root: PROJECT_ROOT }) : null };
    return {
        url: serving.url,
        region: config.region,
        namespace: config.serving.namespace,
        // Not `platform`: that output name is a platform's own (its teams read it).
        onPlatform: { stack: p.stack, cluster: p.cluster.name },
        scaling: serving.scaling,
        ...(own.length < config.models.length ? { sharedPools: config.models.filter((m) => m.shared).map((m) => m.name) } : {}),
        // On a cluster this program did not create: what must already be there (docs/teams.md).
        ...(config.existingCluster ? { expectsOnCluster: expectedAddons(config.existingCluster) } : {}),
        costEstimate: costSummary(cost),
        [COST_KEY]: cost,
    };
}
