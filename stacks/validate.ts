/**
 * Turns raw stack config into a validated, catalog-resolved StackConfig, or throws a
 * ConfigError naming every bad key with its value and the fix. Pure: no Pulumi calls.
 */
import { z } from "zod";
import { DEFAULT_INSTANCE_TYPES, INSTANCE_CATALOG, catalogRegions, instanceSpec } from "./catalog/instances";
import { MODEL_CATALOG, ModelSpec, modelSpec } from "./catalog/models";
import { AWS_REGIONS } from "./catalog/regions";
import { fittingGpuTypes, smallerVariants, variantNeeds } from "./catalog/fit";
import { ConfigError, ConfigIssue, closest, configKey, showValue } from "./errors";
import { EXAMPLE_FIXES, ownWords } from "./issueText";
import { ModelConfig, PROJECT, ParsedStackConfig, StackRole, gpuPoolSchema, modelSchema, stackConfigSchema } from "./schema";
import { PlatformOutputs } from "./platformOutputs";
import { roleIssues, roleOf } from "./roles";
import { checkPlatform } from "./platformChecks";
import { checkTeam, usedSharedPools, withPlatform } from "./teamChecks";
import { durationSeconds } from "./scalePolicy";
import { MIN_SYSTEM_NODES, sizableTypes, sizeSystemNodes } from "./systemNodes";
import { diskNeededGiB, instanceStoreNeededGiB, workerDisk } from "./workerDisk";
import { choosePodStorage } from "./podStorage";
import { instanceStore, instanceStoreGiB } from "./catalog/instanceStore";
import { holdBoundSeconds } from "./model/holdTime";
import { gpuNodeUnneededSeconds } from "./model/coldStartPhases";
import { DEFAULT_SIM_PARAMS } from "./model/params";
import { resolveTimetable } from "./timetable";
import type { ResolvedGpuPool, ResolvedModel, ResolvedSystemNodes, StackConfig } from "./resolved";

/** gpuPools[].scaleDownUnneededSeconds bounds: Cluster Autoscaler's 10 s scan interval to an hour. */
const UNNEEDED_SECONDS = { min: 10, max: 3600 } as const;

const key = (...path: PropertyKey[]) => configKey(PROJECT, path);

export interface ParseOptions {
    /** Directory files named in the config (timetable calendars) are relative to. @default process.cwd() (the project, under Pulumi) */
    readonly root?: string;
}

/** The schema of a role: standalone stacks need GPU pools and models, a platform GPU pools (its models are shared pools). */
function schemaFor(role: StackRole) {
    if (role === "standalone") return stackConfigSchema.extend({ gpuPools: z.array(gpuPoolSchema).min(1), models: z.array(modelSchema).min(1) });
    if (role === "platform") return stackConfigSchema.extend({ gpuPools: z.array(gpuPoolSchema).min(1) });
    return stackConfigSchema;
}

/**
 * Parses and cross-checks the raw config (keys without the `gpuserve:` prefix; `region` from aws:region).
 * A team stack's config is read with its platform's outputs: the platform's GPU pools, prices and
 * add-ons, and the shared pools it uses, are added to it before the checks (stacks/teamChecks.ts).
 * `opts.root`: the directory timetable calendars are read relative to.
 */
export function parseStackConfig(raw: Record<string, unknown>, platform?: PlatformOutputs, opts: ParseOptions = {}): StackConfig {
    const role = roleOf(raw);
    const early = roleIssues(raw);
    const input = role === "team" && platform ? withPlatform(raw, platform) : raw;
    const parsed = schemaFor(role).safeParse(withTimetableProfile(input));
    if (!parsed.success)
        throw new ConfigError([...early, ...parsed.error.issues.map((i) => fromZodIssue(i, input)).filter((i) => !early.some((e) => e.key === i.key))]);
    if (early.length > 0) throw new ConfigError(early);
    if (role === "team" && !platform) {
        throw new ConfigError([
            {
                key: key("platformStack"),
                message: "a team stack is read with its platform's outputs, and none were given",
                fix: "plan it with npm run plan -- --stack <team> (it reads the platform's plan), or run pulumi up",
            },
        ]);
    }
    const issues: ConfigIssue[] = [];
    const resolved = resolve(parsed.data, issues, opts.root ?? process.cwd());
    // withPlatform appended the shared pools the team uses after its own models, in this order.
    const shared = platform ? usedSharedPools(raw, platform) : [];
    const own = resolved.models.length - shared.length;
    const cfg: StackConfig = {
        ...resolved,
        ...(platform ? { platform } : {}),
        models: resolved.models.map((m, i) => (i >= own ? { ...m, shared: { gateway: shared[i - own].gateway, namespace: shared[i - own].namespace } } : m)),
    };
    checkCrossField(cfg, issues);
    if (role === "platform") checkPlatform(cfg, issues);
    if (role === "team" && platform) checkTeam(cfg, raw, platform, issues);
    if (issues.length > 0) throw new ConfigError(issues);
    // A team simulates and prices the platform's pools its models run on, not the others.
    return role === "team" ? { ...cfg, gpuPools: cfg.gpuPools.filter((p) => cfg.models.some((m) => m.pool === p.name)) } : cfg;
}

function fromZodIssue(issue: z.core.$ZodIssue, raw: unknown): ConfigIssue {
    if (issue.code === "unrecognized_keys") {
        const known = knownKeysAt(issue.path);
        const [first] = issue.keys;
        const hint = closest(first, known);
        return {
            key: key(...issue.path, first),
            message: `unknown key${issue.keys.length > 1 ? `s ${issue.keys.map((k) => `'${k}'`).join(", ")}` : ` '${first}'`}`,
            fix: hint ? `did you mean '${hint}'? Known keys: ${known.join(", ")}` : `remove it; known keys: ${known.join(", ")}`,
        };
    }
    const value = valueAt(raw, issue.path);
    if (value === undefined && issue.path.length === 1 && REQUIRED_EXAMPLES[String(issue.path[0])]) {
        const [what, example] = REQUIRED_EXAMPLES[String(issue.path[0])];
        return { key: key(...issue.path), message: `is missing: ${what}`, fix: `add to Pulumi.<stack>.yaml under config:  ${example}` };
    }
    const got = value === undefined ? "it is missing" : `got ${showValue(value)}`;
    if (issue.path[0] === "region" && typeof value === "string") {
        const hint = closest(value, AWS_REGIONS);
        return {
            key: key(...issue.path),
            message: `${showValue(value)} is not an AWS region`,
            fix: hint
                ? `did you mean '${hint}'? (pulumi config set aws:region ${hint})`
                : `use an AWS region code such as us-east-1: ${AWS_REGIONS.join(", ")}`,
        };
    }
    if (issue.code === "invalid_value" && typeof value === "string") {
        // Enums: the same did-you-mean as keys and model ids (wrong case is the usual slip: A10G, Spot).
        const options = issue.values.map(String);
        // Stricter than for keys: short values ("h100" vs "a10g") must not get a misleading hint.
        const hint = options.find((o) => o.toLowerCase() === value.toLowerCase()) ?? closest(value, options, Math.max(1, Math.floor(value.length / 4)));
        return {
            key: key(...issue.path),
            message: `${showValue(value)} is not one of ${options.join(", ")}`,
            fix: hint ? `did you mean '${hint}'?` : `use one of ${options.join(", ")}`,
        };
    }
    const words = ownWords(issue, value, schemaAt(issue.path));
    if (words) return { key: key(...issue.path), ...words };
    const example = EXAMPLE_FIXES[issue.path.map(String).join(".")];
    return {
        key: key(...issue.path),
        message: `${issue.message} (${got})`,
        fix: example ?? (value === undefined ? "set it: it has no default" : "set a valid value (see docs/config.md)"),
    };
}

/** Required top-level keys: what they are for and the line(s) to add. */
const REQUIRED_EXAMPLES: Readonly<Record<string, readonly [string, string]>> = {
    tags: ["the cost-allocation tags need at least a 'team' tag (AWS Cost Explorer groups spend by it)", "gpuserve:tags: {team: radiology}"],
    gpuPools: ["at least one GPU pool is needed", "gpuserve:gpuPools: [{name: a10g, gpuType: a10g, maxNodes: 2}]"],
    models: ["at least one model is needed", "gpuserve:models: [{id: Qwen/Qwen3-VL-2B-Instruct, pool: a10g}]"],
};

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
    let v: unknown = raw;
    for (const p of path) {
        if (v === null || typeof v !== "object") return undefined;
        v = (v as Record<PropertyKey, unknown>)[p];
    }
    return v;
}

/** The schema at a config path (list items and map values included), unwrapped of defaults and optionals. */
function schemaAt(path: readonly PropertyKey[]): z.ZodType {
    let schema: z.ZodType = stackConfigSchema;
    for (const p of path) {
        schema = unwrap(schema);
        if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.ZodType | undefined>)[p as string] ?? schema;
        else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType;
        else if (schema instanceof z.ZodRecord) schema = schema.valueType as z.ZodType;
    }
    return unwrap(schema);
}

/** Keys the schema accepts at a path, for "did you mean" hints. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
    const schema = schemaAt(path);
    return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
    let s = schema;
    while (s instanceof z.ZodDefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
    return s;
}

function priceFor(cfg: Pick<ParsedStackConfig, "prices" | "region">, instanceType: string): number | undefined {
    return cfg.prices.instances[instanceType] ?? instanceSpec(instanceType)?.usdPerHour[cfg.region];
}

function checkInstanceType(cfg: ParsedStackConfig, instanceType: string, path: PropertyKey[], issues: ConfigIssue[]): boolean {
    if (!instanceSpec(instanceType)) {
        const hint = closest(instanceType, Object.keys(INSTANCE_CATALOG));
        issues.push({
            key: key(...path),
            message: `unknown instance type ${showValue(instanceType)}`,
            fix: `${hint ? `did you mean '${hint}'? ` : ""}use one of ${Object.keys(INSTANCE_CATALOG).join(", ")}, or add it to stacks/catalog/instances.ts`,
        });
        return false;
    }
    if (priceFor(cfg, instanceType) === undefined) {
        issues.push({
            key: key(...path),
            message: `instance type '${instanceType}' has no price for region '${cfg.region}' (the catalog covers ${catalogRegions(instanceType).join(", ")})`,
            fix: `choose a catalogued region, or set gpuserve:prices.instances.${instanceType} to its on-demand USD/hour in ${cfg.region} after checking the type is offered there`,
        });
        return false;
    }
    return true;
}

/**
 * One instance shape per node group: Cluster Autoscaler builds its node template from the
 * group's first instance type and requires equal vCPU and memory across the group
 * (cluster-autoscaler/cloudprovider/aws/README.md, "Using Mixed Instances Policies and Spot
 * Instances"); a bigger second type would be scheduled as if it were the first.
 */
function checkOneShape(instanceTypes: string[], path: PropertyKey[], issues: ConfigIssue[]): void {
    const known = instanceTypes.filter((t) => instanceSpec(t));
    if (known.length < 2) return;
    const shape = (t: string) => {
        const s = instanceSpec(t)!;
        return `${s.vcpu} vCPU, ${s.memoryGiB} GiB, ${s.gpu?.count ?? 0} GPU`;
    };
    const first = known[0];
    known.slice(1).forEach((t) => {
        if (shape(t) === shape(first)) return;
        issues.push({
            key: key(...path, instanceTypes.indexOf(t)),
            message: `'${t}' (${shape(t)}) has another shape than '${first}' (${shape(first)}); Cluster Autoscaler needs equal CPU and memory within a node group`,
            fix: `keep one shape per pool (instanceTypes: [${first}]) and put '${t}' in a pool of its own`,
        });
    });
}

/** A stack that gives a timetable and no traffic profile simulates its timetable (traffic.profile "timetable"). */
function withTimetableProfile(raw: Record<string, unknown>): Record<string, unknown> {
    const t = raw.timetable as { sessions?: unknown[]; calendars?: unknown[] } | undefined;
    const traffic = raw.traffic as Record<string, unknown> | undefined;
    const given =
        t !== null && typeof t === "object" && ((Array.isArray(t.sessions) && t.sessions.length > 0) || (Array.isArray(t.calendars) && t.calendars.length > 0));
    if (!given || (traffic !== undefined && (traffic === null || typeof traffic !== "object" || traffic.profile !== undefined))) return raw;
    return { ...raw, traffic: { ...traffic, profile: "timetable" } };
}

/** The system node group: what the config says, the rest sized from the system pods' requests. */
function resolveSystemNodes(cfg: ParsedStackConfig): ResolvedSystemNodes {
    const s = cfg.systemNodes;
    // A team runs on its platform's system nodes.
    if (cfg.role === "team") return { instanceTypes: [], minSize: 0, maxSize: 0, diskSizeGiB: s.diskSizeGiB };
    // Types outside the sizing's node facts are taken as configured, at the plain default size.
    const sizable = s.instanceTypes === undefined || sizableTypes(s.instanceTypes);
    const sizing =
        sizable && (s.instanceTypes === undefined || s.minSize === undefined)
            ? sizeSystemNodes(cfg, s.minSize ?? MIN_SYSTEM_NODES, s.instanceTypes)
            : undefined;
    const minSize = s.minSize ?? sizing?.nodes ?? MIN_SYSTEM_NODES;
    // No candidate priced in the region: the previous default, which checkInstanceType then reports with its fix.
    const instanceTypes = s.instanceTypes ?? [sizing?.instanceType ?? "m7i.large"];
    return { instanceTypes, minSize, maxSize: s.maxSize ?? Math.max(4, minSize + 1), diskSizeGiB: s.diskSizeGiB, ...(sizing ? { sizing } : {}) };
}

function resolve(parsed: ParsedStackConfig, issues: ConfigIssue[], root: string): StackConfig {
    const cfg = { ...parsed, systemNodes: resolveSystemNodes(parsed) };
    cfg.systemNodes.instanceTypes.forEach((t, i) => {
        if (checkInstanceType(cfg, t, ["systemNodes", "instanceTypes", i], issues) && instanceSpec(t)?.gpu) {
            issues.push({
                key: key("systemNodes", "instanceTypes", i),
                message: `'${t}' is a GPU instance`,
                fix: "use a CPU instance type such as m7i.large for the system node group",
            });
        } else if (instanceSpec(t)?.arm64) {
            issues.push({
                key: key("systemNodes", "instanceTypes", i),
                message: `'${t}' is a Graviton (arm64) type, but the system node group runs the x86_64 AMI and the gateway image the stack builds is linux/amd64 only`,
                fix: 'use an x86_64 type (or leave instanceTypes out: the stack sizes the group from its pods\' requests, docs/teams.md "A cheaper floor")',
            });
        }
    });

    const gpuPools: ResolvedGpuPool[] = cfg.gpuPools.map((pool, p) => {
        const instanceTypes = pool.instanceTypes ?? [...DEFAULT_INSTANCE_TYPES[pool.gpuType]];
        let gpuMemoryGiB = Infinity;
        let gpusPerNode = Infinity;
        instanceTypes.forEach((t, i) => {
            const path = ["gpuPools", p, "instanceTypes", i];
            if (!checkInstanceType(cfg, t, path, issues)) return;
            const gpu = instanceSpec(t)!.gpu;
            if (!gpu || gpu.type !== pool.gpuType) {
                issues.push({
                    key: key(...path),
                    message: `'${t}' carries ${gpu ? `${gpu.type} GPUs` : "no GPU"}, but the pool's gpuType is '${pool.gpuType}'`,
                    fix: `use an instance type with ${pool.gpuType} GPUs (${DEFAULT_INSTANCE_TYPES[pool.gpuType].join(", ")}) or change gpuType`,
                });
                return;
            }
            gpuMemoryGiB = Math.min(gpuMemoryGiB, gpu.memoryGiB);
            gpusPerNode = Math.min(gpusPerNode, gpu.count);
        });
        checkOneShape(instanceTypes, ["gpuPools", p, "instanceTypes"], issues);
        const without = instanceTypes.filter((t) => !instanceStore(t));
        if (pool.podStorage === "instanceStore" && without.length > 0) {
            issues.push({
                key: key("gpuPools", p, "podStorage"),
                message: `is "instanceStore", but ${without.join(", ")} has no NVMe instance store we know of (stacks/catalog/instanceStore.ts)`,
                fix: 'set it to "volume" or "auto", or use instance types with an instance store',
            });
        }
        // An invalid explicit choice is reported above; resolving it to the volume keeps the other checks running.
        const { storage, reason } = choosePodStorage(without.length > 0 && pool.podStorage === "instanceStore" ? "volume" : pool.podStorage, instanceTypes);
        return {
            ...pool,
            podStorage: storage,
            podStorageReason: reason,
            instanceTypes,
            gpuMemoryGiB: isFinite(gpuMemoryGiB) ? gpuMemoryGiB : 0,
            gpusPerNode: isFinite(gpusPerNode) ? gpusPerNode : 0,
        };
    });

    const parsedModels: (Omit<ResolvedModel, "scaling"> & Pick<ModelConfig, "scaling">)[] = [];
    cfg.models.forEach((m, i) => {
        const spec = modelSpec(m.id);
        if (!spec) {
            const hint = closest(m.id, Object.keys(MODEL_CATALOG));
            issues.push({
                key: key("models", i, "id"),
                message: `unknown model ${showValue(m.id)}`,
                fix: `${hint ? `did you mean '${hint}'? ` : ""}use one of ${Object.keys(MODEL_CATALOG).join(", ")}, or add it to stacks/catalog/models.ts`,
            });
            return;
        }
        const revision = m.revision ?? spec.revision;
        if (revision === undefined) {
            issues.push({
                key: key("models", i, "revision"),
                message: `the catalog pins no Hugging Face revision for ${showValue(m.id)} (a third-party checkpoint whose commit could not be verified here)`,
                fix: `set the 40-hex commit every pod must load, from https://huggingface.co/${m.id}/commits/main, e.g. revision: <sha>`,
            });
            return;
        }
        parsedModels.push({
            ...m,
            name: m.name ?? spec.shortName,
            revision,
            spec,
            maxModelLen: m.maxModelLen ?? spec.defaults.maxModelLen,
            gpuMemoryUtilization: m.gpuMemoryUtilization ?? spec.defaults.gpuMemoryUtilization,
            maxImagesPerPrompt: m.maxImagesPerPrompt ?? spec.defaults.maxImagesPerPrompt,
            maxNumSeqs: m.maxNumSeqs ?? spec.defaults.maxNumSeqs,
        });
    });
    const resolved = resolveTimetable(cfg.timetable, parsedModels, cfg.timezone, root, issues);
    // The predictive warm-up defaults to off where the timetable's cron triggers warm the pool (schema.ts predictiveWarmupSchema).
    const warmed = new Set(resolved.warm ? resolved.slots.map((s) => s.pool) : []);
    const predictiveOff = parsedModels.filter((m) => m.scaling.predictiveWarmup.enabled === undefined && warmed.has(m.name)).map((m) => m.name);
    const timetable = { ...resolved, predictiveOff };
    const models: ResolvedModel[] = parsedModels.map((m) => {
        const p = m.scaling.predictiveWarmup;
        return { ...m, scaling: { ...m.scaling, predictiveWarmup: { ...p, enabled: p.enabled ?? !warmed.has(m.name) } } };
    });
    const partial = { ...cfg, gpuPools, models, timetable };
    // The hold bound follows the modelled cold start of the slowest pool (stacks/model/holdTime.ts).
    const maxWaitSeconds = cfg.serving.gateway.maxWaitSeconds ?? holdBoundSeconds(partial);
    return { ...partial, serving: { ...cfg.serving, gateway: { ...cfg.serving.gateway, maxWaitSeconds } } };
}

/** The fix for a model too big for its pool: the cheapest GPU type that fits, and smaller variants of the model. */
function fitHint(cfg: StackConfig, spec: ModelSpec): string {
    const usd = (n: number) => `$${n.toFixed(n < 10 ? 3 : 2)}/hour`;
    const [cheapest] = fittingGpuTypes(spec.minGpuMemoryGiB, (t) => priceFor(cfg, t));
    const parts = [
        cheapest
            ? `move it to a pool with gpuType ${cheapest.gpuType} (the cheapest GPU in the catalog with >= ${spec.minGpuMemoryGiB} GiB: ${cheapest.instanceType}, ${cheapest.gpusPerNode} GPU${cheapest.gpusPerNode > 1 ? "s" : ""} of ${cheapest.gpuMemoryGiB} GiB, ${usd(cheapest.usdPerHour)} on demand in ${cfg.region})`
            : `move it to a pool whose GPU has >= ${spec.minGpuMemoryGiB} GiB`,
    ];
    const variants = smallerVariants(spec).map((v) => {
        const [fit] = fittingGpuTypes(v.minGpuMemoryGiB, (t) => priceFor(cfg, t));
        return `'${v.id}' (needs ${v.minGpuMemoryGiB} GiB${fit ? `, fits ${fit.gpuType} ${fit.instanceType} at ${usd(fit.usdPerHour)}` : ""}${variantNeeds(v)})`;
    });
    if (variants.length > 0) parts.push(`or serve ${variants.join(" or ")}`);
    else parts.push("or choose a smaller model");
    return parts.join(", ");
}

function duplicates(names: string[]): string[] {
    return names.filter((n, i) => names.indexOf(n) !== i);
}

function checkCrossField(cfg: StackConfig, issues: ConfigIssue[]): void {
    if (cfg.addons.prometheus.enabled) {
        const retention = durationSeconds(cfg.addons.prometheus.retention);
        cfg.models.forEach((m, i) => {
            const p = m.scaling.predictiveWarmup;
            if (p.enabled && retention < (p.lookbackDays + 1) * 86400) {
                issues.push({
                    key: key("models", i, "scaling", "predictiveWarmup"),
                    message: `predictive warm-up looks back ${p.lookbackDays} days, but Prometheus keeps only ${cfg.addons.prometheus.retention} (gpuserve:addons.prometheus.retention): the query would read nothing`,
                    fix: `set gpuserve:addons.prometheus.retention to at least ${p.lookbackDays + 1}d, or predictiveWarmup.enabled: false`,
                });
            }
        });
    }
    cfg.traffic.timetable.forEach((session, i) => {
        if (session.model !== undefined && !cfg.models.some((m) => m.name === session.model || m.id === session.model)) {
            issues.push({
                key: key("traffic", "timetable", i, "model"),
                message: `session ${i} uses model ${showValue(session.model)}, which is not a model of this stack`,
                fix: `use a model id or name from gpuserve:models (${cfg.models.map((m) => m.id).join(", ")}), or leave it out for the first model`,
            });
        }
    });
    checkTimetable(cfg, issues);
    const { systemNodes, cluster, serving } = cfg;
    if (systemNodes.maxSize < systemNodes.minSize) {
        issues.push({
            key: key("systemNodes", "maxSize"),
            message: `'maxSize' (${systemNodes.maxSize}) must be >= 'minSize' (${systemNodes.minSize})`,
            fix: `set gpuserve:systemNodes.maxSize to at least ${systemNodes.minSize}`,
        });
    }
    for (const dup of new Set(duplicates(cfg.gpuPools.map((p) => p.name)))) {
        issues.push({ key: key("gpuPools"), message: `pool name '${dup}' is used more than once`, fix: "give every GPU pool a unique name" });
    }
    cfg.gpuPools.forEach((pool, p) => {
        if (pool.minNodes > 0 && !pool.minNodesReason) {
            issues.push({
                key: key("gpuPools", p, "minNodesReason"),
                message: `pool '${pool.name}' keeps ${pool.minNodes} GPU node(s) running at zero load without saying why`,
                fix: 'set minNodesReason (e.g. "latency SLO: first answer within 5 s in clinic hours"), or minNodes: 0 and a warm window',
            });
        }
        const unneeded = pool.scaleDownUnneededSeconds;
        if (unneeded !== undefined && (!Number.isInteger(unneeded) || unneeded < UNNEEDED_SECONDS.min || unneeded > UNNEEDED_SECONDS.max)) {
            issues.push({
                key: key("gpuPools", p, "scaleDownUnneededSeconds"),
                message: `pool '${pool.name}' keeps an empty GPU node ${showValue(unneeded)} s: it must be whole seconds from ${UNNEEDED_SECONDS.min} to ${UNNEEDED_SECONDS.max}`,
                fix: `set a whole number of seconds from ${UNNEEDED_SECONDS.min} (Cluster Autoscaler's scan interval) to ${UNNEEDED_SECONDS.max} (an hour), or remove it for the derived ${gpuNodeUnneededSeconds(DEFAULT_SIM_PARAMS, pool.ami)} s`,
            });
        }
        if (pool.maxNodes < pool.minNodes) {
            issues.push({
                key: key("gpuPools", p, "maxNodes"),
                message: `'maxNodes' (${pool.maxNodes}) must be >= 'minNodes' (${pool.minNodes})`,
                fix: `set maxNodes to at least ${pool.minNodes}`,
            });
        }
    });

    const poolsByName = new Map(cfg.gpuPools.map((p) => [p.name, p]));
    const replicasByPool = new Map<string, number>();
    const modelIndex = new Map(cfg.models.map((m) => [m, cfg.models.indexOf(m)]));
    for (const dup of new Set(duplicates(cfg.models.map((m) => m.name)))) {
        issues.push({
            key: key("models"),
            message: `worker pool name '${dup}' is used more than once`,
            fix: "set a unique 'name' on each model entry that serves the same model twice",
        });
    }
    for (const m of cfg.models) {
        const i = modelIndex.get(m)!;
        const pool = poolsByName.get(m.pool);
        if (!pool) {
            issues.push(
                cfg.platform
                    ? {
                          key: key("models", i, "pool"),
                          message: `platform '${cfg.platform.stack}' has no GPU pool '${m.pool}' (its pools: ${cfg.platform.gpuPools.map((p) => `${p.name} (${p.gpuType})`).join(", ")})`,
                          fix: `set it to one of those pools; a team stack runs on its platform's node groups`,
                      }
                    : {
                          key: key("models", i, "pool"),
                          message: `GPU pool '${m.pool}' does not exist (pools: ${[...poolsByName.keys()].join(", ")})`,
                          fix: `set it to one of the pools in gpuserve:gpuPools, or add a pool named '${m.pool}'`,
                      },
            );
            continue;
        }
        if (pool.gpuMemoryGiB > 0 && m.spec.minGpuMemoryGiB > pool.gpuMemoryGiB) {
            issues.push({
                key: key("models", i, "pool"),
                message: `model '${m.id}' needs a GPU with >= ${m.spec.minGpuMemoryGiB} GiB, but pool '${pool.name}' has ${pool.gpuType} GPUs with ${pool.gpuMemoryGiB} GiB`,
                fix: fitHint(cfg, m.spec),
            });
        }
        const s = m.scaling;
        if (s.maxReplicas < s.minReplicas) {
            issues.push({
                key: key("models", i, "scaling", "maxReplicas"),
                message: `'maxReplicas' (${s.maxReplicas}) must be >= 'minReplicas' (${s.minReplicas})`,
                fix: `set maxReplicas to at least ${s.minReplicas}`,
            });
        }
        s.warmWindows.forEach((w, j) => {
            if (w.replicas > s.maxReplicas) {
                issues.push({
                    key: key("models", i, "scaling", "warmWindows", j, "replicas"),
                    message: `warm window replicas (${w.replicas}) exceed 'maxReplicas' (${s.maxReplicas})`,
                    fix: `lower it to ${s.maxReplicas} or raise maxReplicas`,
                });
            }
            if (w.start === w.end) {
                issues.push({
                    key: key("models", i, "scaling", "warmWindows", j, "end"),
                    message: `warm window starts and ends at ${w.start}`,
                    fix: "give the window a non-zero length",
                });
            }
        });
        if (s.fallbackReplicas > s.maxReplicas) {
            issues.push({
                key: key("models", i, "scaling", "fallbackReplicas"),
                message: `'fallbackReplicas' (${s.fallbackReplicas}) exceeds 'maxReplicas' (${s.maxReplicas})`,
                fix: `set it to at most ${s.maxReplicas}`,
            });
        }
        replicasByPool.set(pool.name, (replicasByPool.get(pool.name) ?? 0) + s.maxReplicas);
    }
    // A team's pools are bounded by its quota on the platform instead (stacks/teamChecks.ts).
    if (cfg.role !== "team")
        cfg.gpuPools.forEach((pool, p) => {
            const replicas = replicasByPool.get(pool.name) ?? 0;
            const capacity = pool.maxNodes * pool.gpusPerNode;
            if (pool.gpusPerNode > 0 && replicas > capacity) {
                const needed = Math.ceil(replicas / pool.gpusPerNode);
                issues.push({
                    key: key("gpuPools", p, "maxNodes"),
                    message: `pool '${pool.name}' can host ${capacity} one-GPU workers (${pool.maxNodes} nodes x ${pool.gpusPerNode} GPUs), but its models' maxReplicas add up to ${replicas}`,
                    fix: `set maxNodes to at least ${needed}, or lower the models' scaling.maxReplicas`,
                });
            }
        });

    checkAddons(cfg, issues);
    checkBatch(cfg, issues);
    checkColdStart(cfg, issues);
    checkWorkerDisk(cfg, issues);
    if (serving.gateway.maxReplicas < serving.gateway.replicas) {
        issues.push({
            key: key("serving", "gateway", "maxReplicas"),
            message: `'maxReplicas' (${serving.gateway.maxReplicas}) must be >= 'replicas' (${serving.gateway.replicas})`,
            fix: `set it to at least ${serving.gateway.replicas}`,
        });
    }

    // A team's TLS may come from its platform's ALB (the certificate on the platform's IngressClassParams).
    const tls = serving.certificateArn !== undefined || (cfg.platform?.ingress.tls ?? false);
    if (cfg.production) {
        if (!tls || !serving.domain) {
            issues.push({
                key: key("serving", serving.certificateArn ? "domain" : "certificateArn"),
                message: "a production stack must serve HTTPS, but no TLS certificate and domain are set",
                fix: "set gpuserve:serving.certificateArn (an ACM certificate ARN) and gpuserve:serving.domain",
            });
        }
        if (serving.allowInsecureHttp) {
            issues.push({ key: key("serving", "allowInsecureHttp"), message: "plain HTTP is not allowed in production", fix: "set it to false" });
        }
        if (cfg.role !== "team" && cluster.endpointPublicAccessCidrs.includes("0.0.0.0/0")) {
            issues.push({
                key: key("cluster", "endpointPublicAccessCidrs"),
                message: "the Kubernetes API endpoint is open to 0.0.0.0/0 in production",
                fix: "list your office/VPN/CI CIDRs instead",
            });
        }
        if (serving.gateway.replicas < 2) {
            issues.push({
                key: key("serving", "gateway", "replicas"),
                message: `production needs >= 2 gateway replicas (got ${serving.gateway.replicas})`,
                fix: "set it to 2 or more",
            });
        }
    } else if (!tls && !serving.allowInsecureHttp) {
        issues.push({
            key: key("serving", "certificateArn"),
            message: "no TLS certificate is set and plain HTTP was not explicitly allowed",
            fix: "set gpuserve:serving.certificateArn (and domain), or for a dev stack set gpuserve:serving.allowInsecureHttp to true",
        });
    }
}

/** Share of the store's memory uploads may use, twice over: Valkey's maxmemory of its container, and the gateway's upload line of maxmemory (batch.storage.headroomFraction 0.25). */
const UPLOAD_SHARE = 0.75;

/** The batch store: an endpoint exactly when it is external. */
function checkBatch(cfg: StackConfig, issues: ConfigIssue[]): void {
    const b = cfg.serving.batch;
    if (!b.enabled) return;
    if (b.store === "external" && b.endpoint === undefined) {
        issues.push({
            key: key("serving", "batch", "endpoint"),
            message: 'store is "external" but no endpoint is set',
            fix: 'set it to your Valkey/Redis, e.g. rediss://master.my-cache.abc123.use1.cache.amazonaws.com:6379, or set serving.batch.store to "inCluster"',
        });
    }
    if (b.store === "inCluster" && b.endpoint !== undefined) {
        issues.push({
            key: key("serving", "batch", "endpoint"),
            message: `is set (${showValue(b.endpoint)}) but store is "inCluster", which ignores it`,
            fix: 'remove it, or set serving.batch.store to "external"',
        });
    }
    // Valkey's maxmemory is 75 % of memoryMiB (valkeyConf), and uploads may fill 75 % of that: the rest is kept for the
    // results of running batches (gateway batch.storage.headroomFraction). One largest upload must fit under that line.
    // (A batch reads its lines from the uploaded file: no second copy.)
    const needMiB = Math.ceil(b.maxFileBytes / 2 ** 20 / UPLOAD_SHARE / UPLOAD_SHARE);
    if (b.store === "inCluster" && b.memoryMiB < needMiB) {
        issues.push({
            key: key("serving", "batch", "memoryMiB"),
            message: `is ${b.memoryMiB}: uploads may use 75 % of Valkey's maxmemory (itself 75 % of memoryMiB), which cannot hold one ${Math.round(b.maxFileBytes / 2 ** 20)} MiB upload (maxFileBytes)`,
            fix: `set it to at least ${needMiB}, or lower serving.batch.maxFileBytes`,
        });
    }
    // A storage quota below one largest upload (the team's own maxFileBytes) refuses every such upload.
    const quotas: [string[], number | undefined, number][] = [
        [["serving", "batch", "storagePerTeamMiB"], b.storagePerTeamMiB, b.maxFileBytes],
        ...Object.entries(cfg.serving.gateway.limits.teams).map(([t, l]): [string[], number | undefined, number] => [
            ["serving", "gateway", "limits", "teams", t, "batch", "storageMiB"],
            l.batch?.storageMiB ?? b.storagePerTeamMiB,
            l.batch?.maxFileBytes ?? b.maxFileBytes,
        ]),
    ];
    for (const [path, mib, fileBytes] of quotas) {
        const fileMiB = Math.ceil(fileBytes / 2 ** 20);
        if (mib !== undefined && mib < fileMiB) {
            issues.push({
                key: key(...path),
                message: `is ${mib}: below one largest upload (maxFileBytes, ${fileMiB} MiB), so such uploads are always refused`,
                fix: `set it to at least ${fileMiB}, or lower the team's maxFileBytes`,
            });
        }
    }
}

/** Add-ons can be turned off, but not when another part of the stack needs them. */
function checkAddons(cfg: StackConfig, issues: ConfigIssue[]): void {
    const a = cfg.addons;
    const needed = (addon: string, why: string) =>
        issues.push({ key: key("addons", addon, "enabled"), message: `cannot be false: ${why}`, fix: `set gpuserve:addons.${addon}.enabled to true` });
    if (!a.keda.enabled) needed("keda", "every worker pool's scale policy is a KEDA ScaledObject");
    const al2023 = cfg.gpuPools.filter((p) => p.ami === "al2023").map((p) => p.name);
    if (!a.nvidiaDevicePlugin.enabled && al2023.length > 0)
        needed(
            "nvidiaDevicePlugin",
            `AL2023 GPU pools (${al2023.join(", ")}) need it to advertise nvidia.com/gpu, so no worker starts there without it (Bottlerocket pools have it built in)`,
        );
    if (!a.loadBalancerController.enabled) needed("loadBalancerController", "the ALB ingress in front of the gateway and UI is created by it");
    if (!a.clusterAutoscaler.enabled) {
        const elastic = cfg.gpuPools.filter((p) => p.minNodes !== p.maxNodes).map((p) => p.name);
        if (elastic.length > 0)
            needed("clusterAutoscaler", `GPU pools ${elastic.join(", ")} scale between minNodes and maxNodes through it (or give them minNodes = maxNodes)`);
    }
    if (!a.prometheus.enabled && !a.prometheus.url) {
        issues.push({
            key: key("addons", "prometheus", "url"),
            message: "kube-prometheus-stack is disabled and no existing Prometheus is given, but KEDA's triggers query Prometheus",
            fix: "set gpuserve:addons.prometheus.url to your Prometheus (it must run the Prometheus Operator), or enable the add-on",
        });
    }
    if (!a.dcgmExporter.enabled) {
        cfg.models.forEach((m, i) => {
            if (m.scaling.gpuUtilizationPercent !== undefined) {
                issues.push({
                    key: key("models", i, "scaling", "gpuUtilizationPercent"),
                    message: "scales on DCGM GPU utilization, but the DCGM exporter is disabled",
                    fix: "enable gpuserve:addons.dcgmExporter or remove this trigger",
                });
            }
        });
    }
}

/** EBS: cumulative volume initialization rate of concurrent volume creations per Region, MiB/s (default quota). */
const EBS_INIT_RATE_QUOTA_MIBPS = 5000;

/** The image cache is a Bottlerocket data volume: an AL2023 pool cannot use it, and must not look as if it did. */
function checkColdStart(cfg: StackConfig, issues: ConfigIssue[]): void {
    for (const [phase, f] of Object.entries(cfg.coldStart.phases)) {
        if (f && f.pessimistic < f.expected) {
            issues.push({
                key: key("coldStart", "phases", phase, "pessimistic"),
                message: `${f.pessimistic} s is below the phase's expected ${f.expected} s: a slow start cannot be faster than a typical one`,
                fix: `enter the slowest ${phase} you measured (at least ${f.expected} s) as pessimistic, and the typical one as expected`,
            });
        }
    }
    if (cfg.coldStart.imageCache !== "snapshot") return;
    // EBS quota: 5,000 MiB/s of volume initialization rate across concurrent volume creations per Region; a launch
    // over it fails (EBS user guide, "Initialize Amazon EBS volumes", Quotas and Considerations).
    const rate = cfg.coldStart.imageCacheInitRateMiBps;
    const nodes = cfg.gpuPools.filter((p) => p.ami === "bottlerocket").reduce((n, p) => n + p.maxNodes, 0);
    if (rate > 0 && rate * nodes > EBS_INIT_RATE_QUOTA_MIBPS) {
        issues.push({
            key: key("coldStart", "imageCacheInitRateMiBps"),
            message: `${rate} MiB/s for up to ${nodes} GPU nodes launching at once is ${rate * nodes} MiB/s, over the Region's EBS volume initialization quota of ${EBS_INIT_RATE_QUOTA_MIBPS} MiB/s: launches over it fail`,
            fix:
                Math.floor(EBS_INIT_RATE_QUOTA_MIBPS / nodes) >= 100
                    ? `set it to at most ${Math.floor(EBS_INIT_RATE_QUOTA_MIBPS / nodes)} (or 0 for lazy restore), or raise the quota (Service Quotas, Amazon EBS) and keep it`
                    : "set it to 0 (lazy restore), or raise the quota (Service Quotas, Amazon EBS) and keep it",
        });
    }
    cfg.gpuPools.forEach((pool, p) => {
        if (pool.ami !== "bottlerocket") {
            issues.push({
                key: key("gpuPools", p, "ami"),
                message: `pool '${pool.name}' uses ${showValue(pool.ami)}, but gpuserve:coldStart.imageCache is "snapshot", which restores the vLLM image onto a Bottlerocket data volume`,
                fix: "set ami: bottlerocket on this pool, or gpuserve:coldStart.imageCache: none (every new node then pulls the ~10 GB image)",
            });
        }
    });
}

/** The timetable's warm replicas fit the pools; the "timetable" traffic profile has sessions. */
function checkTimetable(cfg: StackConfig, issues: ConfigIssue[]): void {
    const t = cfg.timetable;
    const at = (source: string): PropertyKey[] => {
        const session = /^sessions\[(\d+)\]$/.exec(source);
        if (session) return ["timetable", "sessions", Number(session[1])];
        const file = cfg.timetable.calendars.findIndex((c) => source.startsWith(`${c.file.split(/[\\/]/).pop()} `));
        return ["timetable", "calendars", Math.max(0, file)];
    };
    const seen = new Set<string>();
    for (const slot of t.slots) {
        const m = cfg.models.find((x) => x.name === slot.pool);
        const k = key(...at(slot.source), "replicas");
        if (m && slot.replicas > m.scaling.maxReplicas && !seen.has(k)) {
            seen.add(k);
            issues.push({
                key: k,
                message: `warms ${slot.replicas} replicas, more than worker pool '${m.name}' may run (maxReplicas ${m.scaling.maxReplicas})`,
                fix: `lower it to ${m.scaling.maxReplicas} or raise models[].scaling.maxReplicas`,
            });
        }
    }
    if (cfg.traffic.profile === "timetable" && cfg.traffic.timetable.length === 0 && t.slots.length === 0) {
        issues.push({
            key: key("traffic", "timetable"),
            message: 'profile "timetable" needs sessions: in traffic.timetable, or gpuserve:timetable sessions or calendars',
            fix: 'add e.g. gpuserve:timetable: {sessions: [{days: "1,3", start: "09:00", minutes: 50, students: 20, questionsPerStudent: 6}]}',
        });
    }
}

/**
 * A GPU node's volume must hold the vLLM image and every worker that can land on the node with its weights copy and
 * caches (stacks/workerDisk.ts), within the kubelet's eviction headroom: else the pods are evicted for disk pressure
 * (or never scheduled, since they request their ephemeral storage). The worst node: its GPUs filled with the
 * pool's models, largest disk first, each at most its maxReplicas. With the pods on the instance store, that store
 * (the kubelet's filesystem, whose size is the node's ephemeral-storage capacity) must hold the workers, and the
 * volume (the image filesystem) the image.
 */
/** Whether the pool's volume would hold its workers, said in a fix. */
function volumeFits(diskSizeGiB: number, neededGiB: number): string {
    return diskSizeGiB >= neededGiB ? `its ${diskSizeGiB} GiB diskSizeGiB holds them` : `and diskSizeGiB to at least ${neededGiB}`;
}

function checkWorkerDisk(cfg: StackConfig, issues: ConfigIssue[]): void {
    cfg.gpuPools.forEach((pool, p) => {
        const needs = cfg.models
            .filter((m) => m.pool === pool.name)
            .map((m) => ({ m, disk: workerDisk(m, cfg.coldStart.weights) }))
            .sort((a, b) => b.disk.requestGiB - a.disk.requestGiB);
        let slots = Math.max(1, pool.gpusPerNode);
        const onNode: { id: string; n: number; gib: number }[] = [];
        for (const { m, disk } of needs) {
            const n = Math.min(slots, m.scaling.maxReplicas);
            if (n > 0) onNode.push({ id: m.id, n, gib: disk.requestGiB });
            slots -= n;
        }
        const workers = onNode.reduce((t, w) => t + w.n, 0);
        const perWorker = workers === 0 ? 0 : onNode.reduce((t, w) => t + w.n * w.gib, 0) / workers;
        const onStore = pool.podStorage === "instanceStore";
        const needed = diskNeededGiB(workers, perWorker, onStore);
        if (onStore && workers > 0) {
            const storeNeeded = instanceStoreNeededGiB(workers, perWorker);
            const smallest = [...pool.instanceTypes].sort((a, b) => instanceStoreGiB(a) - instanceStoreGiB(b))[0];
            const store = Math.floor(instanceStoreGiB(smallest));
            if (store < storeNeeded) {
                const what = onNode.map((w) => `${w.n} x ${w.id} (${w.gib} GiB each)`).join(" + ");
                issues.push({
                    key: key("gpuPools", p, "podStorage"),
                    message: `pool '${pool.name}' puts its pods on the instance store (${pool.podStorageReason}), but ${smallest}'s ${store} GiB cannot hold what one node can run: ${what}, within the 10 % the kubelet keeps free (weights copied from S3 and vLLM's caches: stacks/workerDisk.ts)`,
                    fix: `set gpuPools[${p}].podStorage to "volume" (${volumeFits(pool.diskSizeGiB, diskNeededGiB(workers, perWorker))}), or lower the models' maxReplicas on this pool`,
                });
            }
        }
        if (workers > 0 && pool.diskSizeGiB < needed) {
            const what = onNode.map((w) => `${w.n} x ${w.id} (${w.gib} GiB each)`).join(" + ");
            issues.push({
                key: key("gpuPools", p, "diskSizeGiB"),
                message: onStore
                    ? `pool '${pool.name}' volume of ${pool.diskSizeGiB} GiB is too small for the vLLM image within the 15 % the kubelet keeps free on the image filesystem (its pods are on the instance store: stacks/workerDisk.ts)`
                    : `pool '${pool.name}' volume of ${pool.diskSizeGiB} GiB is too small for what one node can hold: ${what}, plus the vLLM image, within the 10 % the kubelet keeps free (weights copied from S3 and vLLM's caches: stacks/workerDisk.ts)`,
                fix: `set gpuPools[${p}].diskSizeGiB to at least ${needed}, or lower the models' maxReplicas on this pool`,
            });
        }
    });
}
