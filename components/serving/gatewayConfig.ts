/**
 * The gateway's config file, generated from the stack config: one gateway pool per
 * worker pool, upstreams discovered from its headless Service, API keys as SHA-256
 * hashes only. Validated with the gateway's own parser, so a config the gateway would
 * refuse at start fails `pulumi up`/`npm run plan` instead.
 */
import { createHash } from "crypto";
import { parseConfig } from "../../gateway/src/config";
import type { StackConfig } from "../../stacks/resolved";
import type { TeamGatewayLimits } from "../../stacks/schema";
import { batchRedisUrl, valkeyMaxMemoryMiB } from "./batchStore";
import { idleTimeoutSeconds } from "./ingress";
import { estimatedColdStartSeconds } from "../../capacity/bounds/clairvoyant";
import { sessionGateFor } from "../../capacity/timetableWarm";
import { floorNodes, natGatewayCount, poolNodePrice, staticCost } from "../../capacity/cost";
import { HOURS_PER_MONTH } from "../../stacks/catalog/instances";
import { VLLM_PORT, workerName } from "./workers";

/** Shortest API key accepted from the stack config. */
const MIN_KEY_LENGTH = 32;

/** Most tokens one request may generate, per pool (the gateway adds max_tokens when absent): long answers, never a GPU slot held for a whole context. */
const MAX_OUTPUT_TOKENS = 4096;

/** Requests one team may hold at once by default: half a pool's queue, so another team always finds room. */
function perTeamMaxConcurrent(maxQueueDepth: number): number {
    return Math.max(1, Math.ceil(maxQueueDepth / 2));
}

/** Requests per minute one team may send by default (10/s sustained; a class of 20 is one burst). */
const PER_TEAM_REQUESTS_PER_MINUTE = 600;

/** RFC 1918: an existing VPC's CIDR is not known at plan time, and the ALB is inside it. */
const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

export interface ApiKey {
    readonly team: string;
    readonly key: string;
    /** "warmup": may call POST /v1/warmup (gateway/src/warmup.ts). */
    readonly permissions?: readonly "warmup"[];
}

/**
 * The command that sets one key for `team`, ready to paste: the shell makes a random 32-byte key
 * (openssl rand -base64 32: 44 characters) inside the JSON.
 */
export function apiKeysCommand(team: string): string {
    return `pulumi config set --secret gatewayApiKeys "[{\\"team\\":\\"${team}\\",\\"key\\":\\"$(openssl rand -base64 32)\\"}]"`;
}

/** Parses the `gatewayApiKeys` secret: JSON [{"team": "...", "key": "...", "permissions"?: ["warmup"]}]. `team`: the stack's team tag, for the fixes. */
export function parseApiKeys(json: string, team = "radiology"): ApiKey[] {
    let parsed: unknown;
    try {
        parsed = JSON.parse(json);
    } catch {
        throw new Error(`gpuserve:gatewayApiKeys: not JSON. Fix: ${apiKeysCommand(team)}`);
    }
    if (
        !Array.isArray(parsed) ||
        (parsed as unknown[]).some((k) => typeof (k as Partial<ApiKey> | null)?.team !== "string" || typeof (k as Partial<ApiKey> | null)?.key !== "string")
    ) {
        throw new Error(`gpuserve:gatewayApiKeys: must be a JSON list of {"team": string, "key": string}. Fix: ${apiKeysCommand(team)}`);
    }
    // A guessable key is a team's quota and data: at least 32 characters, not a short pattern repeated.
    const weak = (parsed as ApiKey[]).find((k) => k.key.length < MIN_KEY_LENGTH || new Set(k.key).size < 12);
    if (weak) {
        throw new Error(
            `gpuserve:gatewayApiKeys: the key of team '${weak.team}' is too weak (${weak.key.length} characters, ${new Set(weak.key).size} distinct); keys need ${MIN_KEY_LENGTH}+ random characters. Fix: generate one with 'openssl rand -base64 32' and run pulumi config set --secret gatewayApiKeys '[{"team":"${weak.team}","key":"<that key>"}]'`,
        );
    }
    parsed.forEach((k: { permissions?: unknown }, i: number) => {
        if (k.permissions !== undefined && (!Array.isArray(k.permissions) || k.permissions.some((p) => p !== "warmup"))) {
            throw new Error(
                `gpuserve:gatewayApiKeys[${i}].permissions: must be a list of permissions, only "warmup" exists (got ${JSON.stringify(k.permissions)}). Fix: '[{"team":"teaching","key":"<random 32+ chars>","permissions":["warmup"]}]'`,
            );
        }
    });
    return parsed as ApiKey[];
}

import { drainSeconds } from "./drain";
export { drainSeconds };

/** The node group a worker pool runs on, priced as capacity/cost.ts prices it. */
function poolBilling(cfg: StackConfig, poolName: string) {
    const pool = cfg.gpuPools.find((p) => p.name === poolName);
    if (pool === undefined) throw new Error(`no GPU pool '${poolName}'`);
    // To the micro-dollar, as cost.json and the cost rules print prices (1.006 x 0.4 is 0.4024, not 0.40240000000000004).
    const nodeUsdPerHour = Math.round(poolNodePrice(cfg, pool).usdPerHour * 1e6) / 1e6;
    return { nodePool: pool.name, nodeUsdPerHour, gpusPerNode: pool.gpusPerNode, minNodes: pool.minNodes, floorNodes: floorNodes(cfg, pool) };
}

/** USD/hour of everything that runs at zero load (cost.json floorUsdPerMonth / hours per month, unrounded). */
export function floorUsdPerHour(cfg: StackConfig): number {
    const floor = staticCost(cfg, natGatewayCount(cfg)).floor;
    return Math.round(floor.reduce((s, l) => s + l.usdPerHour * l.quantity, 0) * 1e6) / 1e6;
}

/**
 * The floor a stack's gateway bills its teams (USD/hour). Standalone: the stack's whole floor. A team
 * on a platform: its own floor (GPU nodes its minReplicas keep, its bucket) plus an equal part of the
 * platform's floor (a team's gateway sees no other team's spend, so it cannot split by usage; the plan
 * does). The platform's shared gateway: none (the teams' gateways bill the platform's floor).
 */
export function billingFloorUsdPerHour(cfg: StackConfig): number {
    if (cfg.role === "platform") return 0;
    const own = floorUsdPerHour(cfg);
    if (cfg.role !== "team" || !cfg.platform) return own;
    const teams = Math.max(1, Object.keys(cfg.platform.teams).length);
    return Math.round((own + cfg.platform.floorUsdPerMonth / HOURS_PER_MONTH / teams) * 1e6) / 1e6;
}

/**
 * The stack's own budget (gpuserve:billing.budgetUsdPerMonth) as the gateway's billing.account: every key of
 * its gateway together. A team using shared pools also counts what the platform's shared gateway bills it
 * there (its GET /v1/usage, with the team's key on it), so a team on shared pools only is held to its budget too.
 */
function accountOf(cfg: StackConfig) {
    if (cfg.billing.budgetUsdPerMonth === undefined) return undefined;
    const sharedGateways = [...new Set(cfg.models.flatMap((m) => (m.shared ? [m.shared.gateway] : [])))];
    return {
        name: cfg.environment,
        budgetUsdPerMonth: cfg.billing.budgetUsdPerMonth,
        budgetHardStop: cfg.billing.budgetHardStop,
        ...(sharedGateways.length > 0 ? { elsewhere: sharedGateways.map((g) => ({ url: `http://${g}`, apiKeyEnv: SHARED_POOL_KEY_ENV })) } : {}),
    };
}

/** Env var of a team gateway holding its key to the platform's shared gateway (gateway/src/config.ts upstreamApiKeyEnv). */
export const SHARED_POOL_KEY_ENV = "GATEWAY_SHARED_POOL_KEY";
/** The Secret (key `key`) the platform puts in a team's namespace with that key (components/platform/sharedPools.ts). */
export const SHARED_POOL_KEY_SECRET = "gpuserve-shared-pool-key";

/** Where the gateway runs, when not a standalone stack's (components/serving/index.ts ServingPlacement). */
export interface GatewayConfigOptions {
    /** Proxies whose X-Forwarded-For is believed: the ALB's subnets. @default the VPC (RFC 1918 for an existing VPC) */
    readonly trustedProxies?: readonly string[];
    /** The ALB's idle timeout in front of the gateway (a platform's). @default idleTimeoutSeconds(maxWaitSeconds) */
    readonly albIdleTimeoutSeconds?: number;
    /** Per-team limits that replace the stack's serving.gateway.limits.teams (a platform's shared gateway: its registry). */
    readonly teamLimits?: Readonly<Record<string, TeamGatewayLimits>>;
}

type GatewayTeamLimits = { maxConcurrent?: number; requestsPerMinute?: number; burst?: number };

/** The gateway's `limits`: the stack's default (else half the queue and 600/min) and each team's own. */
function limitsOf(cfg: StackConfig, teams: Readonly<Record<string, TeamGatewayLimits>>) {
    const configured = cfg.serving.gateway.limits.default ?? {};
    const base: GatewayTeamLimits = {
        maxConcurrent: perTeamMaxConcurrent(cfg.serving.gateway.maxQueueDepth),
        requestsPerMinute: PER_TEAM_REQUESTS_PER_MINUTE,
        ...configured,
    };
    const own = (t: TeamGatewayLimits): GatewayTeamLimits => {
        const { warmup: _w, batch: _b, ...rest } = t;
        return { ...base, ...rest };
    };
    const perTeam = Object.fromEntries(Object.entries(teams).map(([team, t]) => [team, own(t)]));
    return { default: base, ...(Object.keys(perTeam).length > 0 ? { teams: perTeam } : {}) };
}

/** A key's permissions with its team's `warmup` setting applied (true grants, false takes away). */
function permissionsOf(k: ApiKey, teams: Readonly<Record<string, TeamGatewayLimits>>): "warmup"[] {
    const own = new Set(k.permissions ?? []);
    const warmup = teams[k.team]?.warmup;
    if (warmup === true) own.add("warmup");
    if (warmup === false) own.delete("warmup");
    return [...own];
}

export function gatewayConfig(cfg: StackConfig, keys: ApiKey[] | undefined, opts: GatewayConfigOptions = {}): Record<string, unknown> {
    const ns = cfg.serving.namespace;
    const teams = opts.teamLimits ?? cfg.serving.gateway.limits.teams;
    const config: Record<string, unknown> = {
        pools: cfg.models.map((m) => ({
            name: m.name,
            models: [m.id, m.name],
            // A shared pool: the platform's shared gateway, which queues it fairly across teams.
            ...(m.shared
                ? { dns: m.shared.gateway, upstreamApiKeyEnv: SHARED_POOL_KEY_ENV }
                : { dns: `${workerName(m)}.${ns}.svc.cluster.local:${VLLM_PORT}` }),
            // Beyond what vLLM batches usefully, hold requests in the gateway (counted as demand). A shared
            // gateway upstream holds and bounds per team itself.
            ...(m.shared ? {} : { maxConcurrentPerUpstream: m.maxNumSeqs }),
            // What POST /v1/warmup tells a teacher to expect at zero workers.
            coldStartSecondsEstimate: Math.round(estimatedColdStartSeconds(cfg, m)),
            // A warm-up may ask for up to the pool's max replicas, not more (POST /v1/warmup refuses more).
            maxWarmupReplicas: m.scaling.maxReplicas,
            // A client-chosen max_tokens (or ignore_eos without one) cannot hold a slot for the whole context.
            maxTokens: Math.min(MAX_OUTPUT_TOKENS, m.maxModelLen),
            ...(cfg.serving.gateway.responseCache ? { cache: { enabled: true } } : {}),
            // One worker's price for the per-team bill: the same node price as cost.json and the cost rules. A shared
            // pool's upstream is the platform's shared gateway, which bills it.
            ...(m.shared ? {} : { billing: poolBilling(cfg, m.pool) }),
        })),
        // The floor this gateway's teams share (per hour): billingFloorUsdPerHour.
        billing: {
            floorUsdPerHour: billingFloorUsdPerHour(cfg),
            floorSplit: cfg.billing.floorSplit,
            // The stack's own budget: every key of its gateway together (and its spend on the shared gateway).
            ...(accountOf(cfg) ? { account: accountOf(cfg) } : {}),
        },
        queue: { maxDepth: cfg.serving.gateway.maxQueueDepth, maxWaitSeconds: cfg.serving.gateway.maxWaitSeconds, retryAfterSeconds: 30 },
        drainTimeoutSeconds: drainSeconds(cfg.serving.gateway.maxWaitSeconds),
        // Above the ALB's idle timeout, so the ALB never reuses a connection the gateway closed.
        keepAliveTimeoutSeconds: (opts.albIdleTimeoutSeconds ?? idleTimeoutSeconds(cfg.serving.gateway.maxWaitSeconds)) + 5,
        maxBodyBytes: 20 * 1024 * 1024,
        // Per-team limits: one key holder cannot take a pool's whole queue (the queue also shares slots fairly).
        limits: limitsOf(cfg, teams),
        // Client addresses in logs come from the ALB's X-Forwarded-For, believed only from inside the VPC.
        trustedProxies: opts.trustedProxies ? [...opts.trustedProxies] : cfg.network.existing ? PRIVATE_RANGES : [cfg.network.vpcCidr],
    };
    // A shared gateway upstream holds a request up to its own bound while its pool starts: wait for its answer that long.
    const sharedHold = Math.max(0, ...cfg.models.map((m) => (m.shared ? (cfg.platform?.sharedPools.find((p) => p.name === m.name)?.maxWaitSeconds ?? 0) : 0)));
    if (sharedHold > 0) config.upstream = { headersTimeoutSeconds: sharedHold + UPSTREAM_HEADERS_TIMEOUT_SECONDS };
    const batch = cfg.serving.batch;
    if (batch.enabled) {
        const MiB = 1024 * 1024;
        const batchDefault = {
            maxLinesPerBatch: batch.maxLinesPerBatch,
            maxFileBytes: batch.maxFileBytes,
            maxBatchesInProgress: batch.maxBatchesInProgress,
            maxStoredFiles: batch.filesPerTeam,
            ...(batch.storagePerTeamMiB !== undefined ? { maxStoredBytes: batch.storagePerTeamMiB * MiB } : {}),
        };
        // A team's entry replaces the default (gateway/src/batch/config.ts batchLimits): each carries every field.
        const teamBatch = ({ storageMiB, files, ...rest }: NonNullable<TeamGatewayLimits["batch"]>) => ({
            ...batchDefault,
            ...rest,
            ...(storageMiB !== undefined ? { maxStoredBytes: storageMiB * MiB } : {}),
            ...(files !== undefined ? { maxStoredFiles: files } : {}),
        });
        const batchTeams = Object.entries(teams).flatMap(([team, t]) => (t.batch ? [[team, teamBatch(t.batch)] as const] : []));
        config.batch = {
            redisUrl: batchRedisUrl(cfg),
            limits: { default: batchDefault, ...(batchTeams.length > 0 ? { teams: Object.fromEntries(batchTeams) } : {}) },
            retention: { inputFileDays: batch.retentionDays, outputFileDays: batch.retentionDays, batchDays: batch.retentionDays },
            // The in-cluster Valkey's maxmemory (valkeyConf); an external store's is read from it (INFO) at run time.
            ...(batch.store === "inCluster" ? { storage: { storeBytes: valkeyMaxMemoryMiB(batch.memoryMiB) * MiB } } : {}),
        };
    }
    // The timetable's sessions of the pools it warms: gateway_timetable_session{pool}, read by their recent-requests trigger.
    const sessions = cfg.models.flatMap((m) => {
        const gate = sessionGateFor(cfg, m);
        return gate ? [[m.name, gate.windows] as const] : [];
    });
    if (sessions.length > 0) config.timetable = { timezone: cfg.timezone, pools: Object.fromEntries(sessions) };
    if (!cfg.serving.gateway.requireApiKey) config.auth = { disabled: true };
    else if (keys && keys.length > 0) {
        config.auth = {
            keys: keys.map((k) => {
                const permissions = permissionsOf(k, teams);
                return { team: k.team, sha256: createHash("sha256").update(k.key).digest("hex"), ...(permissions.length ? { permissions } : {}) };
            }),
        };
    }
    // else: no auth section, and the gateway refuses every /v1 request (secure default).
    parseConfig(config); // throws, naming the field, if the gateway would refuse it
    return config;
}

/** The gateway's default time to an upstream's response headers (gateway/src/config.ts upstream.headersTimeoutSeconds). */
const UPSTREAM_HEADERS_TIMEOUT_SECONDS = 600;
