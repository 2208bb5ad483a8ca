/**
 * Explicit warm-up: a teacher says "get GPUs ready for class" before students arrive.
 *
 * - POST /v1/warmup {"model", "minutes", "replicas"?} (keys with the `warmup` permission;
 *   minutes 1-240; replicas 1 to the pool's maxWarmupReplicas, default 1)
 *   -> 202 {pool, warm_until, replicas, ready_in_seconds_estimate}. The pool's ScaledObject reads
 *   max(gateway_warmup_replicas{pool}) (components/serving/scaling.ts) and holds at least
 *   that many replicas until the warm-up expires: nothing in the gateway starts workers.
 * - GET /v1/warmup: the caller's team's active warm-ups with readiness, and whether the caller
 *   may warm up (the UI shows its button from that). Another team's warm-ups are not listed.
 * - gateway_warmup_replicas{pool}: the replicas the teams' active warm-ups of the pool ask for,
 *   summed. One warm-up per (pool, team): a repeat, by
 *   either of the pool's model names, extends it rather than adding one. With a
 *   batch store they live in Valkey and every gateway replica exports the same count, across
 *   restarts; without one, in the memory of the replica that received them
 *   (warmupStore.ts). Either way the trigger takes the max across replicas, so replicas
 *   never add up a count twice.
 * - A store that does not answer: POST and GET answer 503 (the warm-up is not silently
 *   lost); the gauge keeps the last warm-ups it read until they expire, so a Valkey restart
 *   does not let a class's GPUs go.
 */
import type { FastifyInstance } from "fastify";
import { sha256Hex } from "./auth";
import type { GatewayConfig, PoolConfig } from "./config";
import { errors, GatewayError } from "./errors";
import { parseJsonObject } from "./json";
import type { Metrics } from "./metrics";
import type { Pool } from "./pool";
import { MemoryWarmups, RedisWarmups, WarmupEntry, WarmupStore } from "./warmupStore";

/** The most a /metrics scrape waits for the warm-up store (it answers in about a millisecond when healthy). */
const SCRAPE_BUDGET_MS = 100;

/** Longest warm-up, minutes (stacks/scalePolicy.ts MAX_WARMUP_MINUTES: a forgotten warm-up cannot hold GPUs for days). */
const MAX_WARMUP_MINUTES = 240;

export interface WarmupDeps {
    readonly config: GatewayConfig;
    readonly pools: ReadonlyMap<string, Pool>;
    readonly poolByModel: ReadonlyMap<string, Pool>;
    readonly metrics: Metrics;
    /** Clock (ms), for tests. @default Date.now */
    readonly now?: () => number;
    /** Where warm-ups live. @default Valkey when config.batch is set (its redisUrl, key `<keyPrefix>warmups`), else this replica's memory */
    readonly store?: WarmupStore;
    /** The team's budget refusal (billing/), checked before a warm-up is recorded. */
    readonly refusal?: (team: string) => GatewayError | undefined;
}

/** The store of a gateway config: the batch store's Valkey when there is one. */
export function warmupStoreFor(config: GatewayConfig): WarmupStore {
    return config.batch ? RedisWarmups.connect(config.batch.redisUrl, `${config.batch.keyPrefix}warmups`) : new MemoryWarmups();
}

/** Permissions of the key in an Authorization header (every permission when auth is disabled: a dev gateway without keys). */
function permissionsOf(auth: GatewayConfig["auth"]): (authorization: string | undefined) => ReadonlySet<string> {
    if (auth === undefined) return () => new Set();
    if (auth.disabled) return () => new Set(["warmup"]);
    const byHash = new Map(auth.keys.map((k) => [k.sha256.toLowerCase(), new Set<string>(k.permissions)]));
    return (authorization) => {
        const m = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
        return (m && byHash.get(sha256Hex(m[1]))) || new Set();
    };
}

/** The body: {"model", "minutes", "replicas"?}, through the one bounded JSON parse (json.ts); small (the route's body limit is SMALL_JSON_BYTES). */
function parseBody(body: unknown, config: GatewayConfig): { model: string; minutes: number; replicas: unknown } {
    const o = parseJsonObject(Buffer.isBuffer(body) ? body : undefined, config.requestBounds, 'The body (JSON {"model": "<id>", "minutes": N})');
    if (typeof o.model !== "string" || o.model === "") throw errors.badRequest("'model' must be a model id served by this gateway", "invalid_model");
    if (typeof o.minutes !== "number" || !Number.isInteger(o.minutes) || o.minutes < 1 || o.minutes > MAX_WARMUP_MINUTES) {
        throw errors.badRequest(
            `'minutes' must be a whole number from 1 to ${MAX_WARMUP_MINUTES} (got ${JSON.stringify(o.minutes ?? null)?.slice(0, 40)})`,
            "invalid_minutes",
        );
    }
    return { model: o.model, minutes: o.minutes, replicas: o.replicas };
}

/** `replicas`: 1 when absent, else a whole number up to the pool's maxWarmupReplicas (more is refused, never silently capped). */
function replicasOf(v: unknown, pool: PoolConfig): number {
    if (v === undefined || v === null) return 1;
    const max = pool.maxWarmupReplicas;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) {
        throw errors.badRequest(
            `'replicas' must be a whole number from 1 to ${max}, the most pool '${pool.name}' warms (pools[].maxWarmupReplicas) (got ${JSON.stringify(v)?.slice(0, 40)})`,
            "invalid_replicas",
        );
    }
    return v;
}

/** Registers the warm-up routes on the /v1 scope (after its auth hook, which sets request.gw.team). */
export function registerWarmupRoutes(v1: FastifyInstance, deps: WarmupDeps): void {
    const now = deps.now ?? Date.now;
    const permissions = permissionsOf(deps.config.auth);
    const store = deps.store ?? warmupStoreFor(deps.config);
    if (deps.store === undefined) v1.addHook("onClose", async () => store.close());
    // The last list read: the gauge falls back to it (minus what expired) while the store does not answer.
    let lastRead: WarmupEntry[] = [];
    let failing = false;
    const active = async (): Promise<WarmupEntry[]> => {
        lastRead = await store.active(now());
        failing = false;
        return lastRead;
    };
    let reading: Promise<void> | undefined;
    const refresh = (): Promise<void> =>
        (reading ??= active()
            .then(
                () => undefined,
                (e: unknown) => {
                    if (!failing)
                        v1.log.warn(
                            { err: (e as Error).message },
                            "warm-up store unreachable: gateway_warmup_replicas keeps the last warm-ups read until they expire",
                        );
                    failing = true;
                },
            )
            .finally(() => (reading = undefined)));
    // Computed at scrape time, so an expired warm-up stops holding replicas without a timer. The
    // scrape waits for the store at most SCRAPE_BUDGET_MS: a slow or absent Valkey must not stall
    // /metrics, which also carries the demand signal every pool scales on.
    const gauge = deps.metrics.warmupReplicas;
    deps.metrics.warmupCollector = async () => {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([refresh(), new Promise<void>((r) => (timer = setTimeout(r, SCRAPE_BUDGET_MS)))]);
        clearTimeout(timer);
        const t = now();
        const list = lastRead.filter((w) => w.until > t);
        // The teams' asks add up (the ScaledObject's maxReplicaCount bounds the pool anyway).
        for (const name of deps.pools.keys())
            gauge.set(
                { pool: name },
                list.filter((e) => e.pool === name).reduce((n, e) => n + e.replicas, 0),
            );
    };
    for (const name of deps.pools.keys()) gauge.set({ pool: name }, 0);

    const estimate = (pool: Pool) => (pool.readyCount() > 0 ? 0 : (deps.config.pools.find((p) => p.name === pool.name)?.coldStartSecondsEstimate ?? 600));

    v1.post("/warmup", async (request, reply) => {
        if (!permissions(request.headers.authorization).has("warmup")) {
            throw new GatewayError(
                403,
                "invalid_request_error",
                "permission_denied",
                "This API key may not warm up pools: it needs the 'warmup' permission (gateway config auth.keys[].permissions)",
            );
        }
        const refused = deps.refusal?.(request.gw.team ?? "anonymous");
        if (refused) throw refused;
        const body = parseBody(request.body, deps.config);
        const pool = deps.poolByModel.get(body.model);
        if (pool === undefined) throw errors.modelNotFound(body.model.slice(0, 200));
        const replicas = replicasOf(body.replicas, pool.config);
        request.gw.pool = pool.name;
        request.gw.model = body.model;
        const t = now();
        const until = t + body.minutes * 60_000;
        const team = request.gw.team ?? "anonymous";
        await store.add({ pool: pool.name, model: body.model, team, until, replicas }, t);
        request.log.info({ team, pool: pool.name, minutes: body.minutes, replicas }, "warm-up requested");
        return reply.code(202).send({
            object: "warmup",
            pool: pool.name,
            model: body.model,
            warm_until: new Date(until).toISOString(),
            replicas,
            ready_in_seconds_estimate: estimate(pool),
        });
    });

    // A team sees its own warm-ups only: another team's would tell who teaches when.
    v1.get("/warmup", async (request) => ({
        object: "list",
        permitted: permissions(request.headers.authorization).has("warmup"),
        data: (await active())
            .filter((e) => e.team === request.gw.team && deps.pools.has(e.pool))
            .map((e) => {
                const pool = deps.pools.get(e.pool)!;
                return {
                    object: "warmup",
                    pool: e.pool,
                    model: e.model,
                    team: e.team,
                    warm_until: new Date(e.until).toISOString(),
                    replicas: e.replicas,
                    ready: pool.readyCount() > 0,
                    ready_in_seconds_estimate: estimate(pool),
                };
            }),
    }));
}
