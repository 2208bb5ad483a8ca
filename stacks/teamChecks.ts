/**
 * A team stack read against its platform: the platform's GPU pools, prices, add-ons and image cache
 * are added to the team's config (a team cannot set them, stacks/roles.ts), with the shared pools
 * it uses after its own models; then the team is checked against what the platform registered for
 * it: its namespace and host, its GPUs per GPU type (the quota the platform holds for it), the GPU
 * types and shared pools it may use. Pure: no Pulumi calls.
 */
import { ConfigIssue, configKey, showValue } from "./errors";
import { PlatformOutputs, SharedPoolOutput } from "./platformOutputs";
import { PROJECT } from "./schema";
import type { StackConfig } from "./resolved";

const key = (...path: PropertyKey[]) => configKey(PROJECT, path);

/** The team's name on its platform: its environment (the stack name unless set). */
function teamName(raw: Record<string, unknown>): string {
    return typeof raw.environment === "string" ? raw.environment : "";
}

/** The shared pools of the platform a team config names (unknown names are reported by checkTeam). */
export function usedSharedPools(raw: Record<string, unknown>, platform: PlatformOutputs): SharedPoolOutput[] {
    const names = Array.isArray(raw.sharedPools) ? (raw.sharedPools as unknown[]) : [];
    return platform.sharedPools.filter((p) => names.includes(p.name));
}

/** The team's raw config with what its platform decides added (see above). */
export function withPlatform(raw: Record<string, unknown>, platform: PlatformOutputs): Record<string, unknown> {
    const team = platform.teams[teamName(raw)];
    const serving = (raw.serving ?? {}) as Record<string, unknown>;
    const coldStart = (raw.coldStart ?? {}) as Record<string, unknown>;
    return {
        ...raw,
        gpuPools: platform.gpuPools.map(({ gpusPerNode: _g, gpuMemoryGiB: _m, nodeSelector: _n, ...pool }) => pool),
        prices: platform.prices,
        addons: {
            keda: { enabled: platform.addons.keda },
            dcgmExporter: { enabled: platform.addons.dcgmExporter },
            nvidiaDevicePlugin: { enabled: platform.addons.nvidiaDevicePlugin },
            clusterAutoscaler: { enabled: platform.addons.clusterAutoscaler },
            prometheus: { enabled: true, retention: platform.prometheus.retention },
        },
        coldStart: typeof coldStart === "object" ? { ...coldStart, imageCache: platform.coldStart.imageCache } : coldStart,
        // The registered namespace and host are the defaults; another value is refused below.
        serving: typeof serving === "object" && team ? { namespace: team.namespace, domain: team.host, ...serving } : serving,
        models: [...(Array.isArray(raw.models) ? (raw.models as unknown[]) : []), ...usedSharedPools(raw, platform).map((p) => p.model)],
    };
}

/** GPUs a team's own worker pools may ask for at once, per GPU type (each worker takes one GPU). */
function gpusByType(cfg: Pick<StackConfig, "models" | "gpuPools">): Map<string, number> {
    const out = new Map<string, number>();
    for (const m of cfg.models.filter((x) => !x.shared)) {
        const pool = cfg.gpuPools.find((p) => p.name === m.pool);
        if (pool) out.set(pool.gpuType, (out.get(pool.gpuType) ?? 0) + m.scaling.maxReplicas);
    }
    return out;
}

export function checkTeam(cfg: StackConfig, raw: Record<string, unknown>, platform: PlatformOutputs, issues: ConfigIssue[]): void {
    const name = teamName(raw);
    const team = platform.teams[name];
    const where = `platform '${platform.stack}'`;
    if (cfg.region !== platform.region) {
        issues.push({
            key: "aws:region",
            message: `is ${showValue(cfg.region)}, but ${where} runs in ${platform.region}`,
            fix: `set aws:region: ${platform.region}`,
        });
    }
    if (!team) {
        const known = Object.keys(platform.teams);
        issues.push({
            key: key("environment"),
            message: `team '${name}' is not registered on ${where} (its teams: ${known.join(", ") || "none"})`,
            fix: `add it to gpuserve:teams in Pulumi.${platform.stack}.yaml, e.g. ${name}: {host: ${name}.<your domain>, gpus: {a10g: 1}}, and run the platform's pulumi up (offline: npm run plan -- --stack ${platform.stack})`,
        });
        return;
    }
    if (cfg.tags.team !== name) {
        issues.push({
            key: key("tags", "team"),
            message: `is ${showValue(cfg.tags.team)}, but the team is '${name}' on ${where}: the team's deploy role may only touch AWS resources tagged team=${name} (docs/teams.md)`,
            fix: `set gpuserve:tags.team to ${name}`,
        });
    }
    if (cfg.serving.namespace !== team.namespace) {
        issues.push({
            key: key("serving", "namespace"),
            message: `is ${showValue(cfg.serving.namespace)}, but ${where} gave team '${name}' the namespace '${team.namespace}'`,
            fix: "remove it (the registered namespace is the default)",
        });
    }
    if (cfg.serving.domain !== team.host) {
        issues.push({
            key: key("serving", "domain"),
            message: `is ${showValue(cfg.serving.domain)}, but ${where} routes host '${team.host}' to team '${name}'`,
            fix: `remove it, or change the team's host in Pulumi.${platform.stack}.yaml`,
        });
    }

    // Own pools: a GPU pool of the platform, of a GPU type the team has GPUs of, within its quota.
    const pools = platform.gpuPools.map((p) => `${p.name} (${p.gpuType})`).join(", ");
    const ownModels = cfg.models.filter((m) => !m.shared);
    ownModels.forEach((m, i) => {
        const pool = cfg.gpuPools.find((p) => p.name === m.pool);
        if (pool && (team.gpus[pool.gpuType] ?? 0) === 0) {
            issues.push({
                key: key("models", i, "pool"),
                message: `pool '${m.pool}' has ${pool.gpuType} GPUs, and ${where} gives team '${name}' none of that type (its GPUs: ${
                    Object.entries(team.gpus)
                        .map(([t, n]) => `${t} ${n}`)
                        .join(", ") || "none"
                })`,
                fix: `use a pool of a GPU type the team has, or add ${pool.gpuType} GPUs to gpuserve:teams.${name}.gpus in Pulumi.${platform.stack}.yaml`,
            });
        }
    });
    for (const [gpuType, wanted] of gpusByType(cfg)) {
        const granted = team.gpus[gpuType] ?? 0;
        if (granted > 0 && wanted > granted) {
            const users = ownModels.filter((m) => cfg.gpuPools.find((p) => p.name === m.pool)?.gpuType === gpuType);
            issues.push({
                key: key("models", ownModels.indexOf(users[users.length - 1]), "scaling", "maxReplicas"),
                message: `the team's ${gpuType} worker pools may run ${wanted} workers at once (${users.map((m) => `${m.name} ${m.scaling.maxReplicas}`).join(", ")}), but its quota on ${where} is ${granted} ${gpuType} GPU${granted > 1 ? "s" : ""} (one per worker)`,
                fix: `lower scaling.maxReplicas to fit ${granted}, or raise gpuserve:teams.${name}.gpus.${gpuType} in Pulumi.${platform.stack}.yaml (the platform checks its node groups can hold it)`,
            });
        }
    }

    // Shared pools: offered by the platform, and to this team.
    const requested = Array.isArray(raw.sharedPools) ? (raw.sharedPools as string[]) : [];
    requested.forEach((p, i) => {
        if (!platform.sharedPools.some((s) => s.name === p)) {
            issues.push({
                key: key("sharedPools", i),
                message: `${where} shares no pool '${p}' (it shares: ${platform.sharedPools.map((s) => s.name).join(", ") || "none"})`,
                fix: `name one of those, or run the model in a pool of the team's own (models: [{id, pool: <one of ${pools}>}])`,
            });
        } else if (!team.sharedPools.includes(p)) {
            issues.push({
                key: key("sharedPools", i),
                message: `${where} shares '${p}', but not with team '${name}'`,
                fix: `add '${p}' to gpuserve:teams.${name}.sharedPools in Pulumi.${platform.stack}.yaml`,
            });
        }
    });
}
