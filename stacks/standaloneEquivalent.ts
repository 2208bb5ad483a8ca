/**
 * A team stack as it would be on its own: a standalone stack with its own VPC, cluster, system nodes
 * and ALB, the same GPU pools it uses on the platform (the platform's node groups, shared ones
 * included, as its own), the same models, scale policies, limits and traffic. What `compare` sets
 * beside the shared arrangement (docs/teams.md: when to choose shared or standalone). Pure.
 */
import { PlatformOutputs } from "./platformOutputs";
import { usedSharedPools } from "./teamChecks";

/** Keys of a team's config that mean nothing for a standalone stack of its own. */
const TEAM_ONLY = ["role", "platformStack", "existingCluster", "sharedPools"];

export function standaloneEquivalent(raw: Record<string, unknown>, platform: PlatformOutputs): Record<string, unknown> {
    const models = [...(Array.isArray(raw.models) ? (raw.models as unknown[]) : []), ...usedSharedPools(raw, platform).map((p) => p.model)] as {
        pool: string;
    }[];
    const pools = platform.gpuPools
        .filter((p) => models.some((m) => m.pool === p.name))
        .map(({ gpusPerNode: _g, gpuMemoryGiB: _m, nodeSelector: _n, ...pool }) => pool);
    const serving = { ...((raw.serving ?? {}) as Record<string, unknown>) };
    // Its own ALB: plain HTTP unless the team brings a certificate (the cost is the same).
    if (serving.certificateArn === undefined) serving.allowInsecureHttp = true;
    const out: Record<string, unknown> = { ...raw, role: "standalone", gpuPools: pools, models, serving, prices: platform.prices };
    for (const k of TEAM_ONLY) delete out[k];
    return out;
}
