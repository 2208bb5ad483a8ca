/**
 * Where active warm-ups (POST /v1/warmup) live.
 *
 * - With a batch store (`batch.redisUrl`): in Valkey/Redis, one sorted set
 *   `<batch.keyPrefix>warmups` scored by warm_until (ms). Every gateway replica reads the same
 *   set, so GET /v1/warmup and gateway_warmup_replicas{pool} agree across replicas and survive
 *   a restart or a rolling update. The key expires with its last warm-up; expired members are
 *   skipped on read and removed on the next write.
 * - Without one: in this replica's memory, as before. A restart forgets them, and each replica
 *   exports only its own (the KEDA trigger takes the max across replicas, so a warm-up still
 *   holds its replica while the replica that took it runs).
 *
 * One warm-up per (pool, team): asking again, for any name of the pool's models, extends it
 * to the later warm_until and sets its replicas to the latest asked, instead of adding
 * replicas, so a double click, a retry after a 503 whose write did reach the store, or the
 * pool's other model name never doubles the GPUs. Two teams warming one pool add up.
 *
 * In Valkey: the sorted set `<key>` (member JSON [pool, team], score warm_until ms) and the
 * hash `<key>:meta` (same member -> JSON {model, replicas}). Members of the earlier layout,
 * [pool, model, team] (one replica each), are still read until they expire.
 *
 * Commands (Redis >= 7.0, Valkey 7.2+), per redis.io/docs/latest/commands: MULTI/EXEC,
 * ZREMRANGEBYSCORE, ZADD key GT (since 6.2.0: a member's score only grows; a new member is
 * added), HSET, HMGET, PEXPIREAT key ms NX and GT (the options since 7.0.0: NX sets the
 * expiry of a new key, GT extends it only to a later warm_until), ZRANGE key (now +inf BYSCORE
 * (BYSCORE since 6.2.0).
 */
import { Redis } from "ioredis";
import { GatewayError } from "./errors";

export interface WarmupEntry {
    readonly pool: string;
    /** The model name the team asked with (the latest ask). */
    readonly model: string;
    readonly team: string;
    /** warm_until, ms since the epoch. */
    readonly until: number;
    /** Replicas the team wants warm (the latest ask). @default 1 */
    readonly replicas: number;
}

export interface WarmupStore {
    /** Records a warm-up; rejects with a 503 GatewayError when the store cannot. */
    add(entry: WarmupEntry, now: number): Promise<void>;
    /** Warm-ups with until > now; rejects with a 503 GatewayError when the store cannot answer. */
    active(now: number): Promise<WarmupEntry[]>;
    close(): Promise<void>;
}

export class MemoryWarmups implements WarmupStore {
    private readonly entries: WarmupEntry[] = [];

    async add(entry: WarmupEntry, now: number): Promise<void> {
        this.prune(now);
        const same = this.entries.findIndex((e) => e.pool === entry.pool && e.team === entry.team);
        if (same < 0) this.entries.push(entry);
        else this.entries[same] = { ...entry, until: Math.max(entry.until, this.entries[same].until) };
    }

    async active(now: number): Promise<WarmupEntry[]> {
        this.prune(now);
        return [...this.entries];
    }

    async close(): Promise<void> {}

    private prune(now: number): void {
        for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i].until <= now) this.entries.splice(i, 1);
    }
}

/** How long a store call may take before the request gets a 503 (a class should not wait on a dead Valkey). */
const STORE_TIMEOUT_MS = 2000;

function storeUnavailable(cause: unknown): GatewayError {
    const why = (cause as Error)?.message ?? String(cause);
    return new GatewayError(
        503,
        "service_unavailable",
        "warmup_store_unavailable",
        `The warm-up store (Valkey) did not answer (${why.slice(0, 200)}); the warm-up may not be recorded: send it again shortly (a repeat extends it, it never adds a replica)`,
        5,
    );
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class RedisWarmups implements WarmupStore {
    constructor(
        private readonly redis: Redis,
        readonly key: string,
        private readonly timeoutMs = STORE_TIMEOUT_MS,
    ) {}

    /** A connection of its own: fails fast (one retry, bounded commands) where the batch runner's waits out a Valkey restart. */
    static connect(redisUrl: string, key: string): RedisWarmups {
        const redis = new Redis(redisUrl, {
            password: process.env.GATEWAY_BATCH_REDIS_PASSWORD || undefined,
            connectionName: "gpuserve-gateway-warmup",
            maxRetriesPerRequest: 1,
            commandTimeout: STORE_TIMEOUT_MS,
        });
        // Errors reach the caller as rejected commands; without a listener ioredis would also print each reconnect failure.
        redis.on("error", () => undefined);
        return new RedisWarmups(redis, key);
    }

    private get meta(): string {
        return `${this.key}:meta`;
    }

    async add(entry: WarmupEntry, now: number): Promise<void> {
        const member = JSON.stringify([entry.pool, entry.team]);
        try {
            const replies = await within(
                this.redis
                    .multi()
                    .zremrangebyscore(this.key, "-inf", now)
                    .zadd(this.key, "GT", entry.until, member)
                    .hset(this.meta, member, JSON.stringify({ model: entry.model, replicas: entry.replicas }))
                    .pexpireat(this.key, entry.until, "NX")
                    .pexpireat(this.key, entry.until, "GT")
                    .pexpireat(this.meta, entry.until, "NX")
                    .pexpireat(this.meta, entry.until, "GT")
                    .exec(),
                this.timeoutMs,
            );
            const failed = replies?.find(([err]) => err);
            if (!replies || failed) throw failed?.[0] ?? new Error("transaction discarded");
        } catch (e) {
            throw storeUnavailable(e);
        }
    }

    async active(now: number): Promise<WarmupEntry[]> {
        let reply: string[];
        let meta: (string | null)[] = [];
        try {
            reply = await within(this.redis.zrange(this.key, `(${now}`, "+inf", "BYSCORE", "WITHSCORES"), this.timeoutMs);
            const members = reply.filter((_, i) => i % 2 === 0);
            if (members.length > 0) meta = await within(this.redis.hmget(this.meta, ...members), this.timeoutMs);
        } catch (e) {
            throw storeUnavailable(e);
        }
        const out: WarmupEntry[] = [];
        for (let i = 0; i + 1 < reply.length; i += 2) {
            try {
                const m = JSON.parse(reply[i]) as string[];
                const until = Number(reply[i + 1]);
                if (m.length === 3) {
                    // The earlier layout: [pool, model, team], one replica.
                    out.push({ pool: m[0], model: m[1], team: m[2], until, replicas: 1 });
                    continue;
                }
                const { model, replicas } = JSON.parse(meta[i / 2] ?? "{}") as { model?: string; replicas?: number };
                out.push({ pool: m[0], team: m[1], model: model ?? "", until, replicas: Number.isInteger(replicas) && replicas! > 0 ? replicas! : 1 });
            } catch {
                // Not ours (another writer under the same key): skip it rather than fail every scrape.
            }
        }
        return out;
    }

    async close(): Promise<void> {
        // As the batch store (batch/routes.ts): a QUIT queued behind reconnects to an unreachable Valkey never settles.
        if (this.redis.status === "ready") await this.redis.quit().catch(() => this.redis.disconnect());
        else this.redis.disconnect();
    }
}
