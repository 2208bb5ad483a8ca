/**
 * Explicit warm-up: a teacher says "get GPUs ready for class" before students arrive.
 *
 * - POST /v1/warmup {"model", "minutes"} (keys with the `warmup` permission; minutes 1-240)
 *   -> 202 {pool, warm_until, ready_in_seconds_estimate}. The pool's ScaledObject reads
 *   max(gateway_warmup_replicas{pool}) (components/serving/scaling.ts) and holds at least
 *   that many replicas until the warm-up expires: nothing in the gateway starts workers.
 * - GET /v1/warmup: active warm-ups with readiness, and whether the caller may warm up
 *   (the UI shows its button from that).
 * - gateway_warmup_replicas{pool}: active warm-ups of the pool (one replica each; a team's
 *   repeated warm-up of a model extends it rather than adding one). With a
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
import type { GatewayConfig } from "./config";
import { errors, GatewayError } from "./errors";
import type { Metrics } from "./metrics";
import type { Pool } from "./pool";
import { MemoryWarmups, RedisWarmups, WarmupEntry, WarmupStore } from "./warmupStore";

/** The most a /metrics scrape waits for the warm-up store (it answers in about a millisecond when healthy). */
const SCRAPE_BUDGET_MS = 100;

/** Longest warm-up, minutes (stacks/scalePolicy.ts MAX_WARMUP_MINUTES: a forgotten warm-up cannot hold GPUs for days). */
export const MAX_WARMUP_MINUTES = 240;

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
export function permissionsOf(auth: GatewayConfig["auth"]): (authorization: string | undefined) => ReadonlySet<string> {
    if (auth === undefined) return () => new Set();
    if (auth.disabled) return () => new Set(["warmup"]);
    const byHash = new Map(auth.keys.map((k) => [k.sha256.toLowerCase(), new Set<string>(k.permissions)]));
    return (authorization) => {
        const m = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
        return (m && byHash.get(sha256Hex(m[1]))) || new Set();
    };
}

function parseBody(body: unknown): { model: string; minutes: number } {
    let json: unknown;
    try {
        json = JSON.parse(Buffer.isBuffer(body) ? body.toString("utf8") : String(body ?? ""));
    } catch {
        throw errors.badRequest('Body must be JSON: {"model": "<id>", "minutes": N}');
    }
    const o = json as { model?: unknown; minutes?: unknown };
    if (typeof o !== "object" || o === null || typeof o.model !== "string" || o.model === "") throw errors.badRequest("'model' must be a model id served by this gateway", "invalid_model");
    if (typeof o.minutes !== "number" || !Number.isInteger(o.minutes) || o.minutes < 1 || o.minutes > MAX_WARMUP_MINUTES) {
        throw errors.badRequest(`'minutes' must be a whole number from 1 to ${MAX_WARMUP_MINUTES} (got ${JSON.stringify(o.minutes ?? null)})`, "invalid_minutes");
    }
    return { model: o.model, minutes: o.minutes };
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
        (reading ??= active().then(
            () => undefined,
            (e: unknown) => {
                if (!failing) v1.log.warn({ err: (e as Error).message }, "warm-up store unreachable: gateway_warmup_replicas keeps the last warm-ups read until they expire");
                failing = true;
            },
        ).finally(() => (reading = undefined)));
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
        for (const name of deps.pools.keys()) gauge.set({ pool: name }, list.filter((e) => e.pool === name).length);
    };
    for (const name of deps.pools.keys()) gauge.set({ pool: name }, 0);

    const estimate = (pool: Pool) => (pool.readyCount() > 0 ? 0 : (deps.config.pools.find((p) => p.name === pool.name)?.coldStartSecondsEstimate ?? 600));

    v1.post("/warmup", async (request, reply) => {
        if (!permissions(request.headers.authorization).has("warmup")) {
            throw new GatewayError(403, "invalid_request_error", "permission_denied", "This API key may not warm up pools: it needs the 'warmup' permission (gateway config auth.keys[].permissions)");
        }
        const refused = deps.refusal?.(request.gw.team ?? "anonymous");
        if (refused) throw refused;
        const { model, minutes } = parseBody(request.body);
        const pool = deps.poolByModel.get(model);
        if (pool === undefined) throw errors.modelNotFound(model);
        request.gw.pool = pool.name;
        request.gw.model = model;
        const t = now();
        const until = t + minutes * 60_000;
        await store.add({ pool: pool.name, model, team: request.gw.team ?? "anonymous", until }, t);
        request.log.info({ team: request.gw.team, pool: pool.name, minutes }, "warm-up requested");
        return reply.code(202).send({ object: "warmup", pool: pool.name, model, warm_until: new Date(until).toISOString(), ready_in_seconds_estimate: estimate(pool) });
    });

    v1.get("/warmup", async (request) => ({
        object: "list",
        permitted: permissions(request.headers.authorization).has("warmup"),
        data: (await active()).map((e) => {
            const pool = deps.pools.get(e.pool)!;
            return { object: "warmup", pool: e.pool, model: e.model, team: e.team, warm_until: new Date(e.until).toISOString(), ready: pool.readyCount() > 0, ready_in_seconds_estimate: estimate(pool) };
        }),
    }));
}
