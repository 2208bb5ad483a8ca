/**
 * Where the pools' metered steps (meter.ts) live until the books fold them (books.ts).
 *
 * Each gateway replica meters its own requests, so a step of a pool is written by every
 * replica that saw it, each under its own field; reading merges them: busy time and waiting
 * requests add up (each request went through one replica), warm-ups are the union, and the
 * pool's worker time is the one seen by the replica that observed the most of the step (all
 * replicas probe the same workers). Writes are idempotent (HSET of the replica's own field),
 * so a retried write never counts a step twice.
 *
 * - With a batch store (`batch.redisUrl`): Valkey/Redis, one hash per pool step
 *   `<keyPrefix>usage:<pool>:<start>` (field: replica id, value: the replica's step as JSON)
 *   and a sorted set `<keyPrefix>usage:<pool>:steps` of the steps written (score: start), both
 *   expiring after RETENTION_SECONDS. Every replica folds the same steps, so every replica's
 *   bill is the same and survives restarts.
 * - Without one: this replica's memory. A restart forgets the month, and with several
 *   replicas each bills only what it saw (docs/billing.md says so).
 *
 * Commands (Redis >= 6.2, Valkey 7.2+; redis.io/docs/latest/commands): HSET, HGETALL, EXPIRE,
 * ZADD, ZRANGE key min max BYSCORE (6.2.0), ZREMRANGEBYSCORE, SET key value NX, GET, MULTI/EXEC.
 */
import type { Redis } from "ioredis";
import type { PoolStep } from "./meter";

/** A month and the 7 days of forecast history before its last day, with margin. */
export const RETENTION_SECONDS = 40 * 86400;

export interface UsageStore {
    /** Records this replica's steps of a pool. */
    write(pool: string, replica: string, steps: readonly PoolStep[]): Promise<void>;
    /** The merged steps of a pool with from <= start < to, in time order. */
    read(pool: string, from: number, to: number): Promise<PoolStep[]>;
    /** When metering began (the first call wins, across replicas and restarts): the floor is billed from then. */
    since(now: number): Promise<number>;
    close(): Promise<void>;
}

/** One replica's step as stored: short keys, it is written every minute per pool and replica. */
interface Stored {
    s: number;
    w: number;
    z: number;
    e: 0 | 1;
    b: Record<string, number>;
    h: Record<string, number>;
    u: string[];
}

function encode(step: PoolStep): string {
    const v: Stored = {
        s: step.seconds,
        w: step.workerSeconds,
        z: step.zeroSeconds,
        e: step.zeroAtEnd ? 1 : 0,
        b: step.busy,
        h: step.heldAtZero,
        u: [...step.warmups],
    };
    return JSON.stringify(v);
}

/** The replicas' records of one step merged into the pool's step. */
function mergeStep(start: number, records: readonly string[]): PoolStep | undefined {
    let best: Stored | undefined;
    const busy: Record<string, number> = {};
    const held: Record<string, number> = {};
    const warm = new Set<string>();
    for (const text of records) {
        let v: Stored;
        try {
            v = JSON.parse(text) as Stored;
        } catch {
            continue; // not ours
        }
        if (typeof v?.s !== "number" || typeof v.w !== "number" || typeof v.z !== "number") continue;
        if (best === undefined || v.s > best.s || (v.s === best.s && v.w > best.w)) best = v;
        for (const [k, n] of Object.entries(v.b ?? {})) if (typeof n === "number") busy[k] = (busy[k] ?? 0) + n;
        for (const [k, n] of Object.entries(v.h ?? {})) if (typeof n === "number") held[k] = (held[k] ?? 0) + n;
        for (const t of v.u ?? []) if (typeof t === "string") warm.add(t);
    }
    if (best === undefined) return undefined;
    return { start, seconds: best.s, workerSeconds: best.w, zeroSeconds: best.z, zeroAtEnd: best.e === 1, busy, heldAtZero: held, warmups: [...warm].sort() };
}

/** Steps this replica's memory keeps: the books fold them within a minute, and a restart forgets them anyway. */
const MEMORY_RETENTION_SECONDS = 2 * 3600;

export class MemoryUsage implements UsageStore {
    private readonly steps = new Map<string, Map<number, Map<string, string>>>();
    private first: number | undefined;

    /** @param retentionSeconds steps older than this before the newest written are dropped */
    constructor(private readonly retentionSeconds = MEMORY_RETENTION_SECONDS) {}

    async write(pool: string, replica: string, steps: readonly PoolStep[]): Promise<void> {
        let byStart = this.steps.get(pool);
        if (byStart === undefined) this.steps.set(pool, (byStart = new Map<number, Map<string, string>>()));
        for (const st of steps) {
            let rec = byStart.get(st.start);
            if (rec === undefined) byStart.set(st.start, (rec = new Map<string, string>()));
            rec.set(replica, encode(st));
        }
        const last = steps.at(-1)?.start;
        if (last !== undefined) for (const start of byStart.keys()) if (start < last - this.retentionSeconds) byStart.delete(start);
    }

    async read(pool: string, from: number, to: number): Promise<PoolStep[]> {
        const byStart = this.steps.get(pool);
        if (byStart === undefined) return [];
        return [...byStart.entries()]
            .filter(([start]) => start >= from && start < to)
            .sort((a, b) => a[0] - b[0])
            .map(([start, rec]) => mergeStep(start, [...rec.values()]))
            .filter((s): s is PoolStep => s !== undefined);
    }

    async since(now: number): Promise<number> {
        return (this.first ??= now);
    }

    async close(): Promise<void> {}
}

/** How long a store call may take: the books retry at the next fold, requests never wait on it. */
const TIMEOUT_MS = 5000;

function within<T>(p: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Steps read per round trip. */
const READ_BATCH = 500;

export class RedisUsage implements UsageStore {
    constructor(
        private readonly redis: Redis,
        private readonly prefix: string,
    ) {}

    private key(pool: string, start: number): string {
        return `${this.prefix}usage:${pool}:${start}`;
    }

    private index(pool: string): string {
        return `${this.prefix}usage:${pool}:steps`;
    }

    async write(pool: string, replica: string, steps: readonly PoolStep[]): Promise<void> {
        if (steps.length === 0) return;
        const m = this.redis.multi();
        for (const st of steps) {
            const key = this.key(pool, st.start);
            m.hset(key, replica, encode(st)).expire(key, RETENTION_SECONDS).zadd(this.index(pool), st.start, String(st.start));
        }
        const last = steps[steps.length - 1].start;
        m.zremrangebyscore(this.index(pool), "-inf", `(${last - RETENTION_SECONDS}`).expire(this.index(pool), RETENTION_SECONDS);
        const replies = await within(m.exec(), "usage store write");
        const failed = replies?.find(([err]) => err);
        if (!replies || failed) throw failed?.[0] ?? new Error("usage store write: transaction discarded");
    }

    async read(pool: string, from: number, to: number): Promise<PoolStep[]> {
        const starts = (await within(this.redis.zrange(this.index(pool), from, `(${to}`, "BYSCORE"), "usage store read")).map(Number).filter(Number.isFinite);
        const out: PoolStep[] = [];
        for (let i = 0; i < starts.length; i += READ_BATCH) {
            const batch = starts.slice(i, i + READ_BATCH);
            const p = this.redis.pipeline();
            for (const start of batch) p.hgetall(this.key(pool, start));
            const replies = (await within(p.exec(), "usage store read")) ?? [];
            batch.forEach((start, k) => {
                const [err, hash] = replies[k] ?? [new Error("no reply"), null];
                if (err) throw err;
                const step = mergeStep(start, Object.values((hash ?? {}) as Record<string, string>));
                if (step) out.push(step);
            });
        }
        return out;
    }

    async since(now: number): Promise<number> {
        const key = `${this.prefix}usage:since`;
        await within(this.redis.set(key, String(now), "NX"), "usage store since");
        const v = Number(await within(this.redis.get(key), "usage store since"));
        return Number.isFinite(v) ? v : now;
    }

    async close(): Promise<void> {
        if (this.redis.status === "ready") await this.redis.quit().catch(() => this.redis.disconnect());
        else this.redis.disconnect();
    }
}
