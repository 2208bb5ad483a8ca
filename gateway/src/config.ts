/**
 * Gateway config: one zod schema, defaults resolved here and nowhere else, and errors
 * that name the bad field so a broken ConfigMap fails at start, not at the first request.
 */
import * as fs from "fs";
import { z } from "zod";
import { batchConfigSchema } from "./batch/config";
import { timetableConfigSchema } from "./timetable";

const seconds = z.number().positive();
const HEX64 = /^[0-9a-fA-F]{64}$/;
const HTTP_URL = /^https?:\/\/[^/\s?#]+$/;
const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const teamLimitsSchema = z.strictObject({
    /** Requests a team may have held at once (queued or in flight). Unlimited when absent. */
    maxConcurrent: z.int().positive().optional(),
    /** Sustained request rate per team (token bucket refill). Unlimited when absent. */
    requestsPerMinute: z.number().positive().optional(),
    /** Bucket size: requests allowed in a burst. @default requestsPerMinute */
    burst: z.int().positive().optional(),
    /**
     * Bytes of the body budget (maxHeldBodyBytes) kept for this team: other teams cannot take them
     * (bodyBudget.ts). @default min(maxBodyBytes, maxHeldBodyBytes / (2 x the teams of auth.keys))
     */
    reservedBodyBytes: z.int().nonnegative().optional(),
    /**
     * Monthly budget in USD (GPU time attributed to the team plus its floor share, billing/books.ts). Past
     * 100 %, the team's warm-ups and new batches are refused (429 insufficient_quota). No budget when absent.
     */
    budgetUsdPerMonth: z.number().positive().optional(),
    /** Past 100 % of the budget, refuse chat completions too (otherwise interactive requests go on). @default false */
    budgetHardStop: z.boolean().optional(),
});

/** What one worker of a pool costs: its GPU node group's price (capacity/cost.ts), for the per-team bill (billing/). */
const poolBillingSchema = z.strictObject({
    /** The GPU node group the pool's workers run on: pools on one group share its nodes. */
    nodePool: z.string().regex(NAME, "must be letters, digits, '.', '_' or '-'"),
    /** USD/hour of one node of the group (spot-discounted when spot). */
    nodeUsdPerHour: z.number().nonnegative(),
    /** @default 1 */
    gpusPerNode: z.int().positive().default(1),
    /** The group's minimum size. @default 0 */
    minNodes: z.int().nonnegative().default(0),
    /** The group's nodes counted in the platform floor (paid by the floor, not by the teams). @default minNodes */
    floorNodes: z.int().nonnegative().optional(),
});

const billingSchema = z.strictObject({
    /** USD/hour of what runs at zero load (control plane, NAT, load balancer, system nodes, floor GPU nodes), shared by the teams. @default 0 */
    floorUsdPerHour: z.number().nonnegative().default(0),
    /** "equal": each team pays the same part of the floor; "usage": in proportion to its GPU spend this month. @default "equal" */
    floorSplit: z.enum(["equal", "usage"]).default("equal"),
    /** Teams that share the floor. @default the teams of auth.keys */
    teams: z.array(z.string().regex(NAME, "must be letters, digits, '.', '_' or '-'")).optional(),
    /** Length of an attribution step (the rule reads a pool minute by minute). @default 60 */
    stepSeconds: z.number().min(0.1).max(3600).default(60),
    /**
     * A budget for everything this gateway bills together (all its teams, their floor, idle time nobody
     * used): a team stack on a platform, whose keys are its groups. Past it every team's warm-ups and new
     * batches are refused (with budgetHardStop, chat too). Absent: budgets per team only.
     */
    account: z
        .strictObject({
            /** The account's name in messages and metrics, e.g. the team stack's name. */
            name: z.string().regex(NAME, "must be letters, digits, '.', '_' or '-'"),
            budgetUsdPerMonth: z.number().positive(),
            /** @default false */
            budgetHardStop: z.boolean().default(false),
            /**
             * The account's spend on other gateways, added to its own: a platform's shared gateway, which
             * bills this stack's use of the shared pools. Read from their GET /v1/usage with the key in the
             * environment variable (the team's key on that gateway). @default []
             */
            elsewhere: z
                .array(
                    z.strictObject({
                        url: z.string().regex(HTTP_URL, "must be a base URL such as http://gateway.lab-serving.svc.cluster.local (no path)"),
                        apiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name such as GATEWAY_SHARED_POOL_KEY"),
                    }),
                )
                .default([]),
        })
        .optional(),
});

const cacheSchema = z.strictObject({
    /** Opt-in per pool. @default false */
    enabled: z.boolean().default(false),
    /** Memory bound for stored responses. @default 67108864 (64 MiB) */
    maxBytes: z
        .int()
        .positive()
        .default(64 * 1024 * 1024),
    /** Larger responses are passed through but not stored. @default 1048576 (1 MiB) */
    maxEntryBytes: z
        .int()
        .positive()
        .default(1024 * 1024),
    /** @default 300 */
    ttlSeconds: seconds.default(300),
    /**
     * "team": each team has its own entries, so one team cannot learn what another asked
     * (a hit reveals it) nor read its answer. "shared": identical requests of different teams
     * share answers (a class using several keys); only when every team may see every answer.
     * @default "team"
     */
    scope: z.enum(["team", "shared"]).default("team"),
});

const poolSchema = z
    .strictObject({
        name: z.string().regex(NAME, "must be letters, digits, '.', '_' or '-'"),
        models: z.array(z.string().min(1)).min(1, "must list at least one model"),
        /** Static upstream base URLs, e.g. http://10.0.0.5:8000. Exactly one of upstreams / dns. */
        upstreams: z.array(z.string().regex(HTTP_URL, "must be a base URL such as http://10.0.0.5:8000 (no path)")).min(1).optional(),
        /** Headless Service "name:port", re-resolved every health.dnsRefreshSeconds. */
        dns: z.string().regex(HOST_PORT, "must be 'host:port', e.g. vllm-a10g-headless:8000").optional(),
        /** Requests per upstream before the gateway queues instead (vLLM batches internally). Unlimited when absent. */
        maxConcurrentPerUpstream: z.int().positive().optional(),
        /** Most replicas one warm-up may ask for (POST /v1/warmup `replicas`); the stack sets the pool's max replicas. @default 1 */
        maxWarmupReplicas: z.int().positive().default(1),
        /** Expected seconds from zero workers to a ready one (POST /v1/warmup's ready_in_seconds_estimate). @default 600 */
        coldStartSecondsEstimate: z.int().positive().max(7200).default(600),
        cache: cacheSchema.optional(),
        /**
         * Most tokens one request may generate (max_tokens / max_completion_tokens / min_tokens);
         * set when absent, so `ignore_eos` cannot hold a GPU slot up to the context length. Unbounded when absent.
         */
        maxTokens: z.int().positive().optional(),
        /** Price of one worker, for the per-team bill. Without it the pool's time is measured but costs $0. */
        billing: poolBillingSchema.optional(),
        /**
         * Env var holding an API key sent as `Authorization: Bearer <key>` to this pool's upstreams (requests
         * and health probes): the pool is another gateway, e.g. a platform's shared gateway in front of a pool
         * several teams share. The key comes from the environment (a Secret), never the config file. Absent: none sent.
         */
        upstreamApiKeyEnv: z
            .string()
            .regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name such as GATEWAY_SHARED_POOL_KEY")
            .optional(),
    })
    .superRefine((p, ctx) => {
        if ((p.upstreams === undefined) === (p.dns === undefined)) {
            ctx.addIssue({ code: "custom", path: ["upstreams"], message: "set exactly one of 'upstreams' (list of URLs) or 'dns' (\"host:port\")" });
        }
    });

const authSchema = z
    .strictObject({
        /** Turns authentication off (every caller is team "anonymous"). @default false */
        disabled: z.boolean().default(false),
        keys: z
            .array(
                z.strictObject({
                    team: z.string().regex(NAME, "must be letters, digits, '.', '_' or '-'"),
                    sha256: z.string().regex(HEX64, "must be the hex SHA-256 of the key (64 hex characters)"),
                    /** Extra rights of the key: "warmup" allows POST /v1/warmup (gateway/src/warmup.ts). @default [] */
                    permissions: z.array(z.enum(["warmup"])).default([]),
                }),
            )
            .default([]),
    })
    .superRefine((a, ctx) => {
        if (a.disabled && a.keys.length > 0) ctx.addIssue({ code: "custom", path: ["disabled"], message: "is true while keys are listed; remove one of them" });
        if (!a.disabled && a.keys.length === 0)
            ctx.addIssue({ code: "custom", path: ["keys"], message: "must list at least one key, or set auth.disabled: true" });
    });

export const configSchema = z
    .strictObject({
        pools: z.array(poolSchema).min(1, "must list at least one pool"),
        queue: z
            .strictObject({
                /** Requests held per pool before 429. @default 1000 */
                maxDepth: z.int().positive().default(1000),
                /** How long a request waits for a ready upstream before 503. @default 120 */
                maxWaitSeconds: seconds.default(120),
                /** Retry-After on 503 (pool starting). @default 30 */
                retryAfterSeconds: z.int().positive().default(30),
            })
            .prefault({}),
        /** Absent: every /v1 request is refused (secure by default). */
        auth: authSchema.optional(),
        limits: z
            .strictObject({
                default: teamLimitsSchema.optional(),
                teams: z.record(z.string(), teamLimitsSchema).default({}),
            })
            .prefault({}),
        /** @default 20971520 (20 MiB: a few images as data URLs) */
        maxBodyBytes: z
            .int()
            .positive()
            .default(20 * 1024 * 1024),
        /**
         * Bytes of request bodies held at once (being received, queued or in flight), all teams
         * together: the memory bound for bodies, kept well under the pod limit. A request whose
         * declared size does not fit gets 503 before its body is read. @default 134217728 (128 MiB)
         */
        maxHeldBodyBytes: z
            .int()
            .positive()
            .default(128 * 1024 * 1024),
        /** Time to receive a whole request (headers and body); a slower client gets 408. @default 30 */
        requestTimeoutSeconds: seconds.default(30),
        /** Shape bounds checked before any heavy work (JSON parse, cache key): over them, 400. */
        requestBounds: z
            .strictObject({
                /** Nesting of arrays/objects. @default 32 */
                maxDepth: z.int().positive().default(32),
                /** @default 1000 */
                maxMessages: z.int().positive().default(1000),
                /** Content parts over all messages. @default 1000 */
                maxParts: z.int().positive().default(1000),
                /** Image/video/audio parts over all messages. @default 32 */
                maxMedia: z.int().positive().default(32),
                /** Largest `n` (and `best_of`): each choice is a whole answer's GPU work. @default 4 */
                maxChoices: z.int().positive().default(4),
            })
            .prefault({}),
        /**
         * Remote media: `http(s)` URLs in image_url/video_url/audio_url parts are refused unless
         * their host is exactly one in this list; `data:` URLs are always accepted.
         * Keep it equal to vLLM's --allowed-media-domains. @default [] (no remote media)
         */
        allowedMediaDomains: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, "must be a domain name such as images.example.org")).default([]),
        streams: z
            .strictObject({
                /** Bytes one answer may send; a longer stream ends with an error event. @default 67108864 (64 MiB) */
                maxBytes: z
                    .int()
                    .positive()
                    .default(64 * 1024 * 1024),
                /** Longest answer (from the upstream's headers to its end). @default 1800 */
                maxSeconds: seconds.default(1800),
                /**
                 * A client that reads nothing for this long while the gateway has data for it is cut off
                 * (the upstream is paused meanwhile, so nothing piles up in memory). @default 30
                 */
                clientStallSeconds: seconds.default(30),
            })
            .prefault({}),
        /**
         * Proxies (CIDRs) whose X-Forwarded-For is believed when logging the client address:
         * the VPC's CIDR behind an ALB. @default [] (log the peer address)
         */
        trustedProxies: z.array(z.string().regex(/^[0-9a-fA-F.:]+(\/\d{1,3})?$/, "must be an IP address or CIDR such as 10.0.0.0/16")).default([]),
        health: z
            .strictObject({
                /** Active probe (GET /v1/models) period for a ready upstream. @default 5 */
                probeIntervalSeconds: seconds.default(5),
                /** Probe period while an upstream is not ready: how fast a cold start is noticed. @default 0.5 */
                probeIntervalNotReadySeconds: seconds.default(0.5),
                /** @default 2 */
                probeTimeoutSeconds: seconds.default(2),
                /** Passive ejection time after a failure. @default 10 */
                ejectSeconds: seconds.default(10),
                /** Ignored (kept so existing configs parse): a 5xx answer now triggers a probe, and only a failed probe or a connection failure takes an upstream out. @default 3 */
                failuresToEject: z.int().positive().default(3),
                /** DNS re-resolution period for `dns` pools. @default 5 */
                dnsRefreshSeconds: seconds.default(5),
            })
            .prefault({}),
        upstream: z
            .strictObject({
                /** @default 5 */
                connectTimeoutSeconds: seconds.default(5),
                /** Time to response headers (a non-stream answer arrives whole). @default 600 */
                headersTimeoutSeconds: seconds.default(600),
                /** Longest silence between body chunks. @default 300 */
                bodyTimeoutSeconds: seconds.default(300),
            })
            .prefault({}),
        /** SIGTERM: how long in-flight and queued requests may take to finish. @default 60 */
        drainTimeoutSeconds: seconds.default(60),
        /** Idle keep-alive time of client connections; behind a load balancer set it above the LB's idle timeout, or the LB reuses connections the gateway already closed (502s). @default 75 */
        keepAliveTimeoutSeconds: seconds.default(75),
        /** Per-team bills (billing/): the floor and how it is shared. Prices per pool are in pools[].billing. */
        billing: billingSchema.prefault({}),
        /** OpenAI Batch API on Valkey/Redis (batch/config.ts). Absent: /v1/files and /v1/batches are off. */
        batch: batchConfigSchema.optional(),
        /** The class timetable's sessions per pool (timetable.ts): gateway_timetable_session{pool}. Absent: no such gauge. */
        timetable: timetableConfigSchema.optional(),
        /** @default "info" */
        logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    })
    .superRefine((c, ctx) => {
        const reserved = [...reserves(c).values()].reduce((a, b) => a + b, 0);
        if (reserved > c.maxHeldBodyBytes) {
            ctx.addIssue({
                code: "custom",
                path: ["limits"],
                message: `the teams' reservedBodyBytes add up to ${reserved}, over maxHeldBodyBytes (${c.maxHeldBodyBytes}); lower them or raise maxHeldBodyBytes`,
            });
        }
        // Pools on one node group describe the same nodes.
        const groups = new Map<string, { pool: string; key: string }>();
        c.pools.forEach((p, i) => {
            const b = p.billing;
            if (b === undefined) return;
            if (b.floorNodes !== undefined && b.floorNodes < b.minNodes)
                ctx.addIssue({ code: "custom", path: ["pools", i, "billing", "floorNodes"], message: `must be >= minNodes (${b.minNodes})` });
            const key = JSON.stringify([b.nodeUsdPerHour, b.gpusPerNode, b.minNodes, b.floorNodes ?? b.minNodes]);
            const seen = groups.get(b.nodePool);
            if (seen === undefined) groups.set(b.nodePool, { pool: p.name, key });
            else if (seen.key !== key)
                ctx.addIssue({
                    code: "custom",
                    path: ["pools", i, "billing"],
                    message: `node pool '${b.nodePool}' is priced differently by pool '${seen.pool}'; pools on one node group must give the same nodeUsdPerHour, gpusPerNode, minNodes and floorNodes`,
                });
        });
        for (const pool of Object.keys(c.timetable?.pools ?? {}))
            if (!c.pools.some((p) => p.name === pool))
                ctx.addIssue({ code: "custom", path: ["timetable", "pools", pool], message: `'${pool}' is not a pool of this gateway (pools[].name)` });
        const owner = new Map<string, string>();
        c.pools.forEach((p, i) => {
            if (c.pools.findIndex((q) => q.name === p.name) !== i)
                ctx.addIssue({ code: "custom", path: ["pools", i, "name"], message: `duplicate pool name '${p.name}'` });
            p.models.forEach((m, j) => {
                const other = owner.get(m);
                if (other !== undefined)
                    ctx.addIssue({ code: "custom", path: ["pools", i, "models", j], message: `model '${m}' is already served by pool '${other}'` });
                else owner.set(m, p.name);
            });
        });
    });

export type GatewayConfig = z.output<typeof configSchema>;
export type GatewayConfigInput = z.input<typeof configSchema>;
export type PoolConfig = GatewayConfig["pools"][number];
export type TeamLimits = z.output<typeof teamLimitsSchema>;

export class ConfigError extends Error {
    constructor(readonly issues: readonly string[]) {
        super(issues.length === 1 ? `invalid gateway config: ${issues[0]}` : `invalid gateway config:\n${issues.map((i) => `  - ${i}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

/** ["pools", 0, "upstreams", 1] -> "pools[0].upstreams[1]" */
function fieldPath(path: readonly PropertyKey[]): string {
    let out = "";
    for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
    return out === "" ? "(top level)" : out;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
    let v: unknown = raw;
    for (const p of path) v = v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[p] : undefined;
    return v;
}

/** Validates and fills defaults; throws ConfigError listing every problem with its field. */
export function parseConfig(raw: unknown): GatewayConfig {
    const r = configSchema.safeParse(raw);
    if (r.success) return r.data;
    throw new ConfigError(
        r.error.issues.map((i) => {
            if (i.code === "unrecognized_keys")
                return `${fieldPath([...i.path, i.keys[0]])}: unknown field (${i.keys.map((k) => `'${k}'`).join(", ")} not allowed here)`;
            const got = valueAt(raw, i.path);
            const shown = got === undefined ? "" : ` (got ${JSON.stringify(got)?.slice(0, 80)})`;
            return `${fieldPath(i.path)}: ${i.message}${shown}`;
        }),
    );
}

export function loadConfigFile(file: string): GatewayConfig {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (e) {
        throw new ConfigError([`cannot read config file ${file}: ${(e as Error).message}`]);
    }
    let raw: unknown;
    try {
        raw = JSON.parse(text);
    } catch (e) {
        throw new ConfigError([`config file ${file} is not valid JSON: ${(e as Error).message}`]);
    }
    return parseConfig(raw);
}

/** The one team of a gateway without keys (auth.disabled): every request is its. */
export const ANONYMOUS = "anonymous";

/** The teams a config knows: those with keys (or "anonymous" when auth is off) and those with limits. */
export function knownTeams(config: Pick<GatewayConfig, "auth" | "limits">): string[] {
    const teams = new Set<string>();
    if (config.auth?.disabled) teams.add(ANONYMOUS);
    for (const k of config.auth?.keys ?? []) teams.add(k.team);
    for (const t of Object.keys(config.limits.teams)) teams.add(t);
    return [...teams].sort();
}

/**
 * Each known team's reserve of the body budget (bodyBudget.ts): its own `reservedBodyBytes`, else
 * limits.default's, else min(maxBodyBytes, maxHeldBodyBytes / (2 x teams)).
 */
export function reserves(config: Pick<GatewayConfig, "auth" | "limits" | "maxBodyBytes" | "maxHeldBodyBytes">): Map<string, number> {
    const teams = knownTeams(config);
    const fallback =
        config.limits.default?.reservedBodyBytes ?? Math.min(config.maxBodyBytes, Math.floor(config.maxHeldBodyBytes / (2 * Math.max(1, teams.length))));
    return new Map(teams.map((t) => [t, config.limits.teams[t]?.reservedBodyBytes ?? fallback]));
}

/**
 * Headers every request to a pool's upstreams carries: the upstream API key (upstreamApiKeyEnv), read
 * when the pool starts. A pool that names an unset or empty variable fails at start, not at the first request.
 */
export function upstreamHeaders(pool: PoolConfig, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
    if (pool.upstreamApiKeyEnv === undefined) return {};
    const key = env[pool.upstreamApiKeyEnv];
    if (!key)
        throw new ConfigError([
            `pools[${JSON.stringify(pool.name)}].upstreamApiKeyEnv: environment variable ${pool.upstreamApiKeyEnv} is not set (it holds the key of the pool's upstream gateway)`,
        ]);
    return { authorization: `Bearer ${key}` };
}

/** Effective limits of a team: its own entry, else the default, else none. */
export function teamLimits(config: GatewayConfig, team: string): TeamLimits {
    return config.limits.teams[team] ?? config.limits.default ?? {};
}
