/**
 * Stack roles (docs/teams.md): which config keys each role may set and which it needs.
 *   standalone: one stack = one cluster and its serving stack (the default, unchanged);
 *   platform:   the VPC, cluster, node groups, add-ons, the shared ALB, shared pools, the team registry;
 *   team:       a team's serving stack in its namespace on a platform (or an existing cluster).
 * A key a role may not set is refused by name, with where it belongs instead. Pure: no Pulumi calls.
 */
import { ConfigIssue, configKey, showValue } from "./errors";
import { PROJECT, STACK_ROLES, StackRole } from "./schema";

const key = (...path: PropertyKey[]) => configKey(PROJECT, path);

/** Keys the platform owns: a team stack inherits them from its platform's outputs. */
const PLATFORM_OWNED: Readonly<Record<string, string>> = {
    network: "the platform's VPC",
    cluster: "the platform's EKS cluster",
    systemNodes: "the platform's system node group",
    gpuPools: "the platform's GPU node groups (a team's models name one in models[].pool)",
    addons: "the platform's add-ons",
    prices: "the platform's price table",
    teams: "the platform's team registry",
};

/** The role a raw config asks for (an invalid value is reported by the schema). */
export function roleOf(raw: Record<string, unknown>): StackRole {
    const r = raw.role;
    return (STACK_ROLES as readonly unknown[]).includes(r) ? (r as StackRole) : "standalone";
}

/** Keys set that the role may not set, and keys it needs that are missing. */
export function roleIssues(raw: Record<string, unknown>): ConfigIssue[] {
    const role = roleOf(raw);
    const issues: ConfigIssue[] = [];
    const set = (k: string) => raw[k] !== undefined;
    if (role === "team") {
        for (const [k, what] of Object.entries(PLATFORM_OWNED)) {
            // On a cluster this program did not create, prices are the team's own to state.
            if (k === "prices" && set("existingCluster")) continue;
            if (set(k))
                issues.push({
                    key: key(k),
                    message: `a team stack cannot set it: ${what} serves every team`,
                    fix: `remove it from the team's stack file (set it in the platform stack's, if at all)`,
                });
        }
        const cold = raw.coldStart as Record<string, unknown> | undefined;
        for (const k of ["imageCache", "imageCacheSnapshotId"]) {
            if (cold && typeof cold === "object" && cold[k] !== undefined) {
                issues.push({
                    key: key("coldStart", k),
                    message: "a team stack cannot set it: the image cache is a property of the platform's GPU nodes",
                    fix: "remove it (the platform's coldStart.imageCache applies)",
                });
            }
        }
        if (set("platformStack") === set("existingCluster")) {
            issues.push({
                key: key("platformStack"),
                message: set("platformStack")
                    ? "is set together with gpuserve:existingCluster; a team stack runs on one of them"
                    : "a team stack needs its platform",
                fix: set("platformStack")
                    ? "keep one of them"
                    : "set gpuserve:platformStack: <org>/<project>/<platform stack>, e.g. acme/gpuserve/lab (or gpuserve:existingCluster for a cluster this program did not create)",
            });
        }
        if (!set("models") && !set("sharedPools")) {
            issues.push({
                key: key("models"),
                message: "is missing: a team needs at least one model of its own or a shared pool of its platform",
                fix: "add gpuserve:models: [{id: Qwen/Qwen3-VL-2B-Instruct, pool: <a GPU pool of the platform>}], or gpuserve:sharedPools: [<a shared pool>]",
            });
        }
        return issues;
    }
    for (const k of ["platformStack", "existingCluster", "sharedPools"]) {
        if (set(k))
            issues.push({
                key: key(k),
                message: `only a team stack sets it (this stack's role is ${showValue(role)})`,
                fix: `remove it, or set gpuserve:role: team`,
            });
    }
    if (role === "standalone" && set("teams")) {
        issues.push({
            key: key("teams"),
            message: 'only a platform stack registers teams (this stack\'s role is "standalone")',
            fix: "remove it, or set gpuserve:role: platform",
        });
    }
    return issues;
}
