/**
 * Runs batch lines: one loop per pool, in every gateway replica, reading the pool's stream
 * through the shared consumer group. Interactive first: a line is read only when the pool has
 * spare room (Pool.spareCount: nobody waiting, reserved slots kept free), and is sent on a
 * slot from Pool.takeSpare, so it counts in gateway_inflight_requests like any request.
 *
 * Leases: a claimed line stays in the group's pending list until its result is written. While
 * it runs, this replica renews it (XCLAIM to itself resets the idle time); a replica that dies
 * stops renewing, and after `leaseSeconds` another one takes the line over with XAUTOCLAIM.
 * SIGTERM: stop claiming, let running lines finish (bounded), hand the rest back at once
 * (XCLAIM ... IDLE past the lease, to a parking consumer) so other replicas run them now.
 */
import { hostname } from "os";
import type { Redis } from "ioredis";
import type { Logger } from "../log";
import { Cancellation, Pool } from "../pool";
import type { Outcome, Upstream } from "../upstream";
import { randomBytes } from "crypto";
import type { BatchConfig } from "./config";
import type { BatchCreator } from "./create";
import { expiredLine } from "./create";
import type { BatchMetrics } from "./metrics";
import { newLineRequestId, outputLine } from "./objects";
import { BatchStore, decodeIndex, GROUP } from "./store";
import { checkLine, LineRules } from "./validate";

/** Lines handed back on shutdown are parked here, idle past the lease, for any replica's XAUTOCLAIM. */
const PARKING = "returned";
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** Longest pause between two scans of the pending list (XAUTOCLAIM: O(1) for a small COUNT). */
const RECLAIM_SCAN_MS = 2000;

type Entry = [id: string, fields: string[] | null];

interface Running {
    entryId: string;
    abort: Cancellation;
    /** Counted in PoolWorker.held (claimed, not on a worker yet). */
    held: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class PoolWorker {
    private readonly running = new Map<string, Running>();
    private readonly batchPerUp = new Map<Upstream, number>();
    /** Lines claimed and not yet on a worker (being read from Valkey, or waiting for a spare slot): the loop claims no more than the spare room minus these. */
    private held = 0;
    /** Lines claimed whose last attempt failed, waiting to try again. */
    private backingOff = 0;
    private stopping = false;
    private cursor = "0-0";
    private lastReclaim = 0;
    /** Everyone waiting for a spare slot (the loop and each line waiting in acquire): all are woken when one may have freed. */
    private readonly wakers = new Set<() => void>();
    private readonly unsubscribe: () => void;
    private loopDone: Promise<void> = Promise.resolve();
    private heartbeat: NodeJS.Timeout | undefined;
    private readonly queueKey: string;

    constructor(
        private readonly pool: Pool,
        private readonly store: BatchStore,
        private readonly blocking: Redis,
        private readonly consumer: string,
        private readonly cfg: BatchConfig,
        private readonly metrics: BatchMetrics,
        private readonly log: Logger,
        private readonly isDraining: () => boolean,
        private readonly rules: LineRules,
    ) {
        this.queueKey = store.keys.queue(pool.name);
        this.unsubscribe = pool.onSpare(() => this.wakeAll());
    }

    /**
     * Lines this replica has claimed that wait for a worker (no spare slot, or between attempts).
     * Valkey counts them as claimed, not waiting, yet they are demand: a pool that scaled to zero
     * just after its lines were claimed would otherwise read a backlog of 0 and never wake.
     */
    get waitingForWorker(): number {
        return this.held + this.backingOff;
    }

    get poolName(): string {
        return this.pool.name;
    }

    private get leaseMs(): number {
        return this.cfg.leaseSeconds * 1000;
    }

    private room = (up: Upstream) => this.cfg.concurrencyPerUpstream - (this.batchPerUp.get(up) ?? 0);

    private get stopped(): boolean {
        return this.stopping || this.isDraining();
    }

    start(): void {
        this.heartbeat = setInterval(() => void this.renew(), Math.max(100, this.leaseMs / 3));
        this.heartbeat.unref();
        this.loopDone = this.loop();
    }

    private wakeAll(): void {
        for (const w of [...this.wakers]) w();
    }

    private waitSpare(ms: number): Promise<void> {
        return new Promise((resolve) => {
            const t = setTimeout(done, ms);
            const wakers = this.wakers;
            function done() {
                clearTimeout(t);
                wakers.delete(done);
                resolve();
            }
            wakers.add(done);
        });
    }

    private async loop(): Promise<void> {
        await this.store.ensureGroup(this.pool.name).catch(() => undefined);
        while (!this.stopped) {
            try {
                const free = this.pool.spareCount(this.cfg.reservedSlotsPerUpstream, this.room) - this.held;
                if (free <= 0) {
                    await this.waitSpare(250);
                    continue;
                }
                let entries: Entry[] = [];
                // Scan for expired or handed-back lines often (a hand-back is due at once), not only once per lease.
                if (Date.now() - this.lastReclaim >= Math.min(this.leaseMs / 4, RECLAIM_SCAN_MS)) entries = await this.reclaim(free);
                if (entries.length === 0) entries = await this.readNew(free);
                for (const e of entries) {
                    if (!e[1]) continue;
                    // Counted from the claim: until it is on a worker, a line may not make the loop claim more.
                    this.held++;
                    void this.runLine(e[0], e[1]);
                }
            } catch (e) {
                if (this.stopped) break;
                this.log.warn({ pool: this.pool.name, err: (e as Error).message }, "batch: reading the queue failed; retrying");
                await sleep(1000);
            }
        }
    }

    /** Lines whose lease ran out (their replica died or handed them back). */
    private async reclaim(count: number): Promise<Entry[]> {
        const r = (await this.store.redis.xautoclaim(this.queueKey, GROUP, this.consumer, this.leaseMs, this.cursor, "COUNT", count)) as [
            string,
            Entry[],
            string[]?,
        ];
        this.cursor = r[0];
        if (this.cursor === "0-0") this.lastReclaim = Date.now();
        const got = r[1].filter((e) => e[1] !== null);
        if (got.length > 0) this.log.info({ pool: this.pool.name, lines: got.length }, "batch: took over lines whose lease expired");
        return got;
    }

    private async readNew(count: number): Promise<Entry[]> {
        const r = await this.blocking.xreadgroup("GROUP", GROUP, this.consumer, "COUNT", count, "BLOCK", 1000, "STREAMS", this.queueKey, ">");
        return r?.[0]?.[1] ?? [];
    }

    /** Renews the lease of every line this replica holds. */
    private async renew(): Promise<void> {
        const ids = [...this.running.keys()];
        if (ids.length === 0) return;
        try {
            await this.store.redis.xclaim(this.queueKey, GROUP, this.consumer, 0, ...ids, "JUSTID");
        } catch (e) {
            this.log.warn({ pool: this.pool.name, err: (e as Error).message }, "batch: lease renewal failed");
        }
    }

    /** A slot for a claimed line (held until then); undefined when stopping. */
    private async acquire(r: Running, team: string): Promise<Upstream | undefined> {
        // A retry waits for a slot again: held again (it is demand, and the loop must not claim past it).
        if (!r.held) {
            r.held = true;
            this.held++;
        }
        for (;;) {
            if (r.abort.aborted || this.stopped) return undefined;
            const up = this.pool.takeSpare(this.cfg.reservedSlotsPerUpstream, this.room, team);
            if (up) {
                this.batchPerUp.set(up, (this.batchPerUp.get(up) ?? 0) + 1);
                this.unhold(r);
                return up;
            }
            await this.waitSpare(250);
        }
    }

    /** The line no longer counts as held (on a worker, or done without one); once per line. */
    private unhold(r: Running): void {
        if (r.held) {
            r.held = false;
            this.held--;
        }
    }

    private release(up: Upstream, outcome: Outcome, team: string): void {
        const n = (this.batchPerUp.get(up) ?? 1) - 1;
        if (n <= 0) this.batchPerUp.delete(up);
        else this.batchPerUp.set(up, n);
        this.pool.releaseSpare(up, outcome, team);
    }

    private async runLine(entryId: string, fields: string[]): Promise<void> {
        const f: Record<string, string> = {};
        for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
        const batchId = f.b;
        const idx = Number(f.i);
        const r: Running = { entryId, abort: new Cancellation(), held: true };
        this.running.set(entryId, r);
        const k = this.store.keys;
        try {
            const [[, head], [, raw], [, done]] = (await this.store.redis
                .multi()
                .hmget(k.batch(batchId), "status", "team", "input_file_id")
                .hget(k.index(batchId), String(idx))
                .hexists(k.done(batchId), String(idx))
                .exec()) as [[null, (string | null)[]], [null, string | null], [null, number]];
            const [status, t, input] = head;
            if (raw === null || done === 1 || (status !== "in_progress" && status !== "validating")) {
                // Finished, cancelled or deleted meanwhile: just drop the entry.
                await this.store.redis.multi().xack(this.queueKey, GROUP, entryId).xdel(this.queueKey, entryId).exec();
                return;
            }
            const team = t ?? "unknown";
            const inputFileId = input ?? "";
            // The line is read from the (pinned) input file and checked and rewritten as when it was queued, by the chat route's own function.
            const entry = decodeIndex(raw);
            const bytes = await this.store.readData(inputFileId, entry.offset, entry.length);
            const check = bytes.length === entry.length ? checkLine(bytes, 0, bytes.length, idx + 1, this.rules, true) : undefined;
            if (check?.kind !== "request" || check.body === undefined) {
                const text =
                    check?.kind === "refused"
                        ? outputLine(entry.customId, {
                              status: check.error.status,
                              requestId: newLineRequestId(),
                              body: Buffer.from(JSON.stringify(check.error.body())),
                          })
                        : outputLine(entry.customId, undefined, {
                              code: "invalid_request",
                              message: check?.kind === "invalid" ? check.message : "The input file's line could not be read from the batch store",
                          });
                await this.finish(batchId, team, inputFileId, idx, false, text, entryId);
                return;
            }
            const line = { customId: entry.customId, body: check.body };
            const running = this.metrics.running.labels({ pool: this.pool.name, team });
            for (;;) {
                const up = await this.acquire(r, team);
                if (!up) return; // stopping: the entry is handed back by stop()
                running.inc();
                const requestId = newLineRequestId();
                let outcome: Outcome = "ok";
                let result: { status: number; body: Buffer } | undefined;
                let failure: string | undefined;
                try {
                    const res = await up.http.request({
                        method: "POST",
                        path: "/v1/chat/completions",
                        headers: { ...up.headers, "content-type": "application/json", accept: "application/json", "x-request-id": requestId },
                        body: line.body,
                        signal: r.abort,
                    });
                    const len = Number(res.headers["content-length"] ?? 0);
                    if (len > MAX_ANSWER_BYTES) throw new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`);
                    const body = Buffer.from(await res.body.arrayBuffer());
                    if (res.statusCode >= 500) {
                        outcome = "http-5xx";
                        failure = `HTTP ${res.statusCode}: ${body.toString("utf8").slice(0, 200)}`;
                    } else {
                        result = { status: res.statusCode, body };
                    }
                } catch (e) {
                    outcome = r.abort.aborted ? "aborted" : "connect-failure";
                    failure = (e as Error).message || String(e);
                } finally {
                    running.dec();
                    this.release(up, outcome, team);
                }
                if (r.abort.aborted) return;
                if (result) {
                    const ok = result.status >= 200 && result.status < 300;
                    const text = outputLine(line.customId, { status: result.status, requestId, body: result.body });
                    await this.finish(batchId, team, inputFileId, idx, ok, text, entryId);
                    return;
                }
                const attempts = await this.store.redis.hincrby(k.attempts(batchId), String(idx), 1);
                if (attempts >= this.cfg.maxAttempts) {
                    const text = outputLine(line.customId, undefined, {
                        code: "upstream_failed",
                        message: `Pool '${this.pool.name}' failed to answer after ${attempts} attempts: ${failure}`,
                    });
                    await this.finish(batchId, team, inputFileId, idx, false, text, entryId);
                    return;
                }
                this.log.warn({ pool: this.pool.name, batch: batchId, line: idx + 1, attempts, err: failure }, "batch: line failed on the worker; retrying");
                this.backingOff++;
                try {
                    await sleep(Math.min(10_000, 500 * 2 ** attempts));
                } finally {
                    this.backingOff--;
                }
            }
        } catch (e) {
            // Valkey unreachable mid-line: the entry stays claimed and is retried after its lease.
            this.log.warn(
                { pool: this.pool.name, batch: batchId, line: idx + 1, err: (e as Error).message },
                "batch: line not recorded; it runs again after its lease",
            );
        } finally {
            this.unhold(r);
            this.running.delete(entryId);
        }
    }

    private async finish(batchId: string, team: string, inputFileId: string, idx: number, ok: boolean, line: string, entryId: string): Promise<void> {
        const r = await this.store.finishLine({ batchId, team, inputFileId, idx, pool: this.pool.name, ok, line, entryId });
        if (r === 0) return; // another attempt wrote it first
        this.metrics.lines.inc({ pool: this.pool.name, team, outcome: ok ? "completed" : "failed" });
        if (r === 2) this.log.info({ batch: batchId, team }, "batch: finished");
    }

    /** Stops claiming; waits for running lines up to `timeoutMs`, then hands back whatever is still claimed. */
    async stop(timeoutMs: number): Promise<void> {
        this.stopping = true;
        this.unsubscribe();
        this.wakeAll();
        this.blocking.disconnect();
        // Valkey unreachable: the loop waits on a command queued behind the reconnects, which ioredis never
        // settles once the client is disconnected while reconnecting (ioredis 6.0.0 built/Redis.js
        // disconnect(): clears the reconnect timer, flushes nothing), so there is nothing to wait for.
        if (this.store.redis.status === "ready") await this.loopDone;
        const until = Date.now() + timeoutMs;
        while (this.running.size > 0 && Date.now() < until) await sleep(20);
        for (const r of this.running.values()) r.abort.abort();
        while (this.running.size > 0 && Date.now() < until + 1000) await sleep(10);
        clearInterval(this.heartbeat);
        await this.handBack().catch((e: unknown) =>
            this.log.warn({ pool: this.pool.name, err: (e as Error).message }, "batch: could not hand back claimed lines; they run again after their lease"),
        );
    }

    private async handBack(): Promise<void> {
        // Not connected: the commands would only queue behind the reconnects; the lease hands the lines on.
        if (this.store.redis.status !== "ready") throw new Error(`Valkey is not connected (${this.store.redis.status})`);
        const pending = (await this.store.redis.xpending(this.queueKey, GROUP, "-", "+", 10_000, this.consumer)) as [string, string, number, number][];
        const ids = pending.map((p) => p[0]);
        if (ids.length > 0) {
            await this.store.redis.xclaim(this.queueKey, GROUP, PARKING, 0, ...ids, "IDLE", this.leaseMs + 1000, "JUSTID");
            this.log.info({ pool: this.pool.name, lines: ids.length }, "batch: handed back unfinished lines");
        }
        await this.store.redis.xgroup("DELCONSUMER", this.queueKey, GROUP, this.consumer);
    }
}

/** This replica's name in the consumer group and in creation leases. */
export const newConsumerName = () => `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;

export class BatchRunner {
    private readonly workers: PoolWorker[] = [];
    private metricsTimer: NodeJS.Timeout | undefined;
    private sweeping = false;

    constructor(
        readonly consumer: string,
        private readonly store: BatchStore,
        private readonly pools: ReadonlyMap<string, Pool>,
        private readonly cfg: BatchConfig,
        private readonly metrics: BatchMetrics,
        private readonly log: Logger,
        private readonly isDraining: () => boolean,
        private readonly rules: LineRules,
        private readonly creator: BatchCreator,
    ) {}

    start(): void {
        for (const pool of this.pools.values()) {
            // XREADGROUP BLOCK holds its connection: one each, apart from the shared one.
            const blocking = this.store.redis.duplicate();
            blocking.on("error", () => undefined);
            const w = new PoolWorker(pool, this.store, blocking, this.consumer, this.cfg, this.metrics, this.log, this.isDraining, this.rules);
            this.workers.push(w);
            w.start();
        }
        const tick = () => {
            void this.updateGauges().catch((e: unknown) => this.log.warn({ err: (e as Error).message }, "batch: reading backlog failed"));
            // Batches waiting to be created, or whose creation a stopped replica left (its lease lapsed).
            if (!this.isDraining()) void this.creator.kick();
            // Every replica sweeps: a batch past its completion window expires even if the replica
            // that was running it is gone, and one that was down at the deadline expires it on start.
            if (this.sweeping) return;
            this.sweeping = true;
            void this.store
                .expireDue(expiredLine)
                .then((n) => n > 0 && this.log.info({ batches: n }, "batch: expired at the end of their completion window"))
                .catch((e: unknown) => this.log.warn({ err: (e as Error).message }, "batch: expiring batches failed; retrying"))
                .finally(() => (this.sweeping = false));
        };
        tick();
        this.metricsTimer = setInterval(tick, this.cfg.metricsIntervalSeconds * 1000);
        this.metricsTimer.unref();
    }

    async updateGauges(): Promise<void> {
        for (const pool of this.pools.keys()) {
            await this.store.ensureGroup(pool);
            // Waiting in Valkey, plus what this replica claimed but cannot run yet (the trigger takes the max over replicas).
            const local = this.workers.filter((w) => w.poolName === pool).reduce((n, w) => n + w.waitingForWorker, 0);
            this.metrics.backlog.set({ pool }, (await this.store.backlog(pool)).waiting + local);
        }
        const queued = new Map<string, number>();
        for (const b of await this.store.activeBatches()) {
            if (b.status !== "in_progress" && b.status !== "validating") continue;
            for (const pool of JSON.parse(b.pools ?? "[]") as string[]) {
                const key = `${pool}\u0000${b.team}`;
                queued.set(key, (queued.get(key) ?? 0) + Number(b[`total:${pool}`] ?? 0) - Number(b[`done:${pool}`] ?? 0));
            }
        }
        this.metrics.queued.reset();
        for (const [key, n] of queued) {
            const [pool, team] = key.split("\u0000");
            this.metrics.queued.set({ pool, team }, n);
        }
    }

    async stop(timeoutMs: number): Promise<void> {
        clearInterval(this.metricsTimer);
        await Promise.all([this.creator.stop(), ...this.workers.map((w) => w.stop(timeoutMs))]);
    }
}
