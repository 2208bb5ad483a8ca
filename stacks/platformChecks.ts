/**
 * A platform's team registry against its node groups: every team's GPUs are of a type the platform
 * has, and for each GPU type the teams' quotas plus the shared pools' maxReplicas fit in what the
 * node groups of that type can hold at once (every team at its quota together must still find a
 * GPU); hosts and namespaces are one per team and no namespace the platform uses itself. Pure.
 */
import { ConfigIssue, configKey, showValue } from "./errors";
import { PROJECT } from "./schema";
import type { StackConfig } from "./resolved";

const key = (...path: PropertyKey[]) => configKey(PROJECT, path);

/** Namespaces the platform itself uses (add-ons, Kubernetes): no team may take one. */
const RESERVED_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease", "monitoring", "keda"] as const;

/** A registered team's namespace: its own setting, or the team's name. */
export function teamNamespace(team: string, registration: { readonly namespace?: string }): string {
    return registration.namespace ?? team;
}

export function checkPlatform(cfg: StackConfig, issues: ConfigIssue[]): void {
    const types = [...new Set(cfg.gpuPools.map((p) => p.gpuType))];
    const capacity = new Map<string, number>();
    for (const p of cfg.gpuPools) capacity.set(p.gpuType, (capacity.get(p.gpuType) ?? 0) + p.maxNodes * p.gpusPerNode);
    const sharedNames = cfg.models.map((m) => m.name);
    const reserved = [...RESERVED_NAMESPACES, cfg.serving.namespace];

    const hosts = new Map<string, string>();
    const namespaces = new Map<string, string>();
    for (const [team, t] of Object.entries(cfg.teams)) {
        for (const [gpuType, n] of Object.entries(t.gpus)) {
            if (n > 0 && !types.includes(gpuType as never)) {
                issues.push({
                    key: key("teams", team, "gpus", gpuType),
                    message: `team '${team}' is given ${n} ${gpuType} GPU${n > 1 ? "s" : ""}, but the platform has no ${gpuType} pool (its pools: ${cfg.gpuPools.map((p) => `${p.name} (${p.gpuType})`).join(", ")})`,
                    fix: `give the team GPUs of a type the platform has, or add a ${gpuType} pool to gpuserve:gpuPools`,
                });
            }
        }
        t.sharedPools.forEach((p, i) => {
            if (!sharedNames.includes(p)) {
                issues.push({
                    key: key("teams", team, "sharedPools", i),
                    message: `the platform shares no pool '${p}' (its shared pools, gpuserve:models: ${sharedNames.join(", ") || "none"})`,
                    fix: "name one of those, or add the model to the platform's gpuserve:models",
                });
            }
        });
        if (t.deployRoleArn && !t.permissionsBoundaryArn) {
            issues.push({
                key: key("teams", team, "permissionsBoundaryArn"),
                message: `team '${team}' has a deploy role but no permissions boundary: a role that may create IAM roles without one can give them, and so itself, any permission`,
                fix: 'create the boundary policy of docs/teams.md ("The team\'s AWS roles") and set its ARN here',
            });
        }
        const ns = teamNamespace(team, t);
        if (reserved.includes(ns)) {
            issues.push({
                key: key("teams", team, "namespace"),
                message: `${showValue(ns)} is a namespace the platform uses itself`,
                fix: `choose another, e.g. team-${team}`,
            });
        }
        if (namespaces.has(ns))
            issues.push({
                key: key("teams", team, "namespace"),
                message: `namespace '${ns}' is already team '${namespaces.get(ns)}''s`,
                fix: "give every team its own namespace",
            });
        namespaces.set(ns, team);
        if (hosts.has(t.host))
            issues.push({
                key: key("teams", team, "host"),
                message: `host '${t.host}' is already team '${hosts.get(t.host)}''s`,
                fix: "give every team its own host on the load balancer",
            });
        hosts.set(t.host, team);
    }

    // Every team at its quota, and every shared pool at its maximum, at once.
    for (const gpuType of types) {
        const teams = Object.entries(cfg.teams)
            .map(([team, t]) => ({ team, n: t.gpus[gpuType] ?? 0 }))
            .filter((x) => x.n > 0);
        const shared = cfg.models
            .filter((m) => cfg.gpuPools.find((p) => p.name === m.pool)?.gpuType === gpuType)
            .map((m) => ({ team: `shared pool ${m.name}`, n: m.scaling.maxReplicas }));
        const wanted = [...teams, ...shared].reduce((s, x) => s + x.n, 0);
        const holds = capacity.get(gpuType) ?? 0;
        if (wanted > holds) {
            const pools = cfg.gpuPools.filter((p) => p.gpuType === gpuType);
            const last = cfg.gpuPools.indexOf(pools[pools.length - 1]);
            const perNode = pools[pools.length - 1].gpusPerNode;
            issues.push({
                key: key("teams"),
                message: `the teams' ${gpuType} quotas and shared pools (${[...teams, ...shared].map((x) => `${x.team} ${x.n}`).join(", ")}) add up to ${wanted} GPUs, but the platform's ${gpuType} node groups hold ${holds} (${pools.map((p) => `${p.name}: ${p.maxNodes} nodes x ${p.gpusPerNode}`).join(", ")})`,
                fix: `raise gpuserve:gpuPools[${last}].maxNodes to ${pools[pools.length - 1].maxNodes + Math.ceil((wanted - holds) / perNode)}, or lower the teams' gpus.${gpuType}`,
            });
        }
    }
}
