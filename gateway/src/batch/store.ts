/**
 * Batch state in Valkey/Redis: files, batches, and one stream of lines per pool read by every
 * gateway replica through one consumer group (XREADGROUP; a dead replica's claimed lines are
 * taken over with XAUTOCLAIM after the lease). Exactly-once output: a line's result is written
 * by a Lua script that first does HSETNX on the batch's `done` hash, so a line run twice (a
 * reclaimed lease) is written once; the same script acknowledges the stream entry and, for the
 * last line, completes the batch and creates its output/error files, atomically (luaScripts.ts).
 *
 * A batch does not copy its input: it pins the uploaded file's data (no expiry while the batch
 * may read it, refs set `file:<id>:refs`) and keeps an index of its lines (`batch:<id>:index`:
 * line -> [offset, length, custom_id]); a line is read from the file when it runs. So a batch
 * costs its results and ~50 bytes a line in Valkey, not a second copy of its input.
 *
 * Two connections: the routes' fails fast (no offline queue, commands bounded by
 * API_TIMEOUT_MS: Valkey down is a 503 within seconds), the background work's (runner,
 * creation) waits out a Valkey restart.
 *
 * Commands used (all in Valkey 7.2+/8 and Redis >= 6.2; XAUTOCLAIM since 6.2.0), per the
 * command reference at valkey.io/commands and redis.io/docs/latest/commands:
 * XADD, XGROUP CREATE ... MKSTREAM, XREADGROUP ... BLOCK, XAUTOCLAIM, XCLAIM ... IDLE/JUSTID,
 * XPENDING, XACK, XDEL, XLEN, HSETNX, GETRANGE, APPEND, EVALSHA (ioredis defineCommand), INFO.
 */
import { Redis, RedisOptions } from "ioredis";
import { GatewayError } from "../errors";
import type { BatchConfig } from "./config";
import { errorFileId, outputFileId } from "./objects";
import { defineScripts, Scripts } from "./luaScripts";
import type { LineError } from "./validate";

export const GROUP = "gateways";

/** How long a route waits for Valkey before answering 503 (issue 23 point 10: it waited 73 s). */
export const API_TIMEOUT_MS = 3000;

export type StoreRedis = Redis & Scripts;

/**
 * A connection to the batch store. `api`: the routes' (fails fast: with Valkey down a command
 * is refused at once instead of queued, and an unanswered one times out); otherwise the
 * background work's (commands wait, bounded by their caller, while Valkey restarts).
 * Options per ioredis 6.0.0 built/Redis.js sendCommand (enableOfflineQueue, commandTimeout) and
 * redis/event_handler.js (maxRetriesPerRequest, autoResendUnfulfilledCommands).
 */
export function connect(config: BatchConfig, name: string, opts: { api?: boolean } = {}): StoreRedis {
    const common: RedisOptions = { password: process.env.GATEWAY_BATCH_REDIS_PASSWORD || undefined, connectionName: name, lazyConnect: false };
    const redis = new Redis(
        config.redisUrl,
        opts.api
            ? { ...common, enableOfflineQueue: false, commandTimeout: API_TIMEOUT_MS, maxRetriesPerRequest: 1, autoResendUnfulfilledCommands: false }
            : { ...common, maxRetriesPerRequest: 20 },
    ) as StoreRedis;
    defineScripts(redis);
    return redis;
}

/**
 * Waits until a connection is ready (at most `ms`), so a request arriving while the gateway
 * connects, or while Valkey restarts, waits a moment instead of failing; past `ms` the command
 * it sends fails at once (no offline queue) and the request gets its 503.
 */
export async function whenReady(redis: Redis, ms: number): Promise<void> {
    if (redis.status === "ready" || redis.status === "end") return;
    let timer: NodeJS.Timeout | undefined;
    let onReady: (() => void) | undefined;
    await new Promise<void>((resolve) => {
        onReady = resolve;
        timer = setTimeout(resolve, ms);
        redis.once("ready", onReady);
    });
    clearTimeout(timer);
    redis.off("ready", onReady!);
}

const nowSec = () => String(Math.floor(Date.now() / 1000));

/** Key names in one place. */
export class Keys {
    constructor(readonly p: string) {}
    file = (id: string) => `${this.p}file:${id}`;
    fileData = (id: string) => `${this.p}file:${id}:data`;
    fileRefs = (id: string) => `${this.p}file:${id}:refs`;
    files = (team: string) => `${this.p}files:${team}`;
    batch = (id: string) => `${this.p}batch:${id}`;
    index = (id: string) => `${this.p}batch:${id}:index`;
    done = (id: string) => `${this.p}batch:${id}:done`;
    out = (id: string) => `${this.p}batch:${id}:out`;
    err = (id: string) => `${this.p}batch:${id}:err`;
    attempts = (id: string) => `${this.p}batch:${id}:attempts`;
    entries = (id: string) => `${this.p}batch:${id}:entries`;
    creator = (id: string) => `${this.p}batch:${id}:creator`;
    batches = (team: string) => `${this.p}batches:${team}`;
    get active(): string {
        return `${this.p}active`;
    }
    get creating(): string {
        return `${this.p}creating`;
    }
    teamActive = (team: string) => `${this.p}active:${team}`;
    queue = (pool: string) => `${this.p}queue:${pool}`;
    /** Uploads in progress of a team: upload id -> bytes reserved (storage quota). */
    teamPending = (team: string) => `${this.p}pending:${team}`;
    /** Uploads in progress of all teams: "team id" -> bytes reserved and not yet stored. */
    get pending(): string {
        return `${this.p}pending`;
    }
    /** Deadlines of those reservations ("team id" scored by ms): a crashed replica's lapse. */
    get pendingDeadlines(): string {
        return `${this.p}pending:deadlines`;
    }
    quotaLock = (team: string) => `${this.p}quota-lock:${team}`;
}

/** A line's entry in a batch's index: where it is in the input file, and its custom_id. */
export interface IndexEntry {
    offset: number;
    length: number;
    customId: string;
}

export const encodeIndex = (e: IndexEntry): string => JSON.stringify([e.offset, e.length, e.customId]);

export function decodeIndex(s: string): IndexEntry {
    const [offset, length, customId] = JSON.parse(s) as [number, number, string];
    return { offset, length, customId };
}

const CHUNK = 500;
/** Largest piece of a file read or sent at once: a download holds at most one (plus the socket's buffer). */
const DOWNLOAD_PIECE_BYTES = 64 * 1024;
/** Result lines read per HMGET when streaming an output file (fewer when lines are large). */
const STREAM_LINES = 200;

export class BatchStore {
    readonly keys: Keys;

    constructor(
        readonly redis: StoreRedis,
        config: BatchConfig,
    ) {
        this.keys = new Keys(config.keyPrefix);
    }

    async ensureGroup(pool: string): Promise<void> {
        try {
            // From id 0: lines queued before the group existed are read too.
            await this.redis.xgroup("CREATE", this.keys.queue(pool), GROUP, "0", "MKSTREAM");
        } catch (e) {
            if (!/BUSYGROUP/.test((e as Error).message)) throw e;
        }
    }

    // ---- files
    /** The file if it exists and belongs to the team (another team's file is "not found"). */
    async getFile(id: string, team: string): Promise<Record<string, string> | undefined> {
        const h = await this.redis.hgetall(this.keys.file(id));
        return h.id && h.team === team ? h : undefined;
    }

    /** Bytes [offset, offset + length) of an uploaded file's data (empty when it is gone). */
    async readData(fileId: string, offset: number, length: number): Promise<Buffer> {
        if (length <= 0) return Buffer.alloc(0);
        return this.redis.getrangeBuffer(this.keys.fileData(fileId), offset, offset + length - 1);
    }

    /**
     * A file's content, a bounded piece at a time: GETRANGE of an uploaded file's data, HMGET of
     * result lines of an output/error file (a view on the batch's result hash, in input line
     * order). Each piece is read when the previous one was taken (sendPieces), so a download
     * holds one piece whatever the file's size.
     */
    async *pieces(h: Record<string, string>): AsyncGenerator<Buffer> {
        if (!h.batch) {
            const size = Number(h.bytes);
            for (let off = 0; off < size; off += DOWNLOAD_PIECE_BYTES) yield await this.readData(h.id, off, Math.min(DOWNLOAD_PIECE_BYTES, size - off));
            return;
        }
        const key = h.kind === "err" ? this.keys.err(h.batch) : this.keys.out(h.batch);
        const lines = Number(h.lines ?? 0);
        let step = STREAM_LINES;
        for (let s = 0; s < lines;) {
            const n = Math.min(lines, s + step) - s;
            const vals = await this.redis.hmget(key, ...Array.from({ length: n }, (_, k) => String(s + k)));
            s += n;
            const text = vals
                .filter((v): v is string => v !== null)
                .map((v) => v + "\n")
                .join("");
            // Large result lines: read fewer at a time, so a piece stays near DOWNLOAD_PIECE_BYTES.
            const bytes = Buffer.byteLength(text);
            step = Math.max(1, Math.min(STREAM_LINES, Math.floor((n * DOWNLOAD_PIECE_BYTES) / Math.max(1, bytes))));
            if (text) yield Buffer.from(text);
        }
    }

    /** Deletes a file; its data stays while a running batch reads it; an output/error file's results go with it. */
    async deleteFile(h: Record<string, string>): Promise<void> {
        const k = this.keys;
        // An uploaded file has no results: its own key again (already deleted) stands in.
        const results = h.batch ? (h.kind === "err" ? k.err(h.batch) : k.out(h.batch)) : k.file(h.id);
        await this.redis.deleteFile(k.file(h.id), k.fileData(h.id), k.fileRefs(h.id), k.files(h.team), results, h.id);
    }

    async listIds(key: string, limit: number, after: string | undefined): Promise<{ ids: string[]; hasMore: boolean }> {
        let start = 0;
        if (after !== undefined) {
            const rank = await this.redis.zrevrank(key, after);
            if (rank === null) return { ids: [], hasMore: false };
            start = rank + 1;
        }
        const ids = await this.redis.zrevrange(key, start, start + limit);
        return { ids: ids.slice(0, limit), hasMore: ids.length > limit };
    }

    async hashes(keys: string[]): Promise<Record<string, string>[]> {
        if (keys.length === 0) return [];
        const p = this.redis.pipeline();
        for (const k of keys) p.hgetall(k);
        return ((await p.exec()) ?? []).map(([, v]) => v as Record<string, string>);
    }

    /** The hashes of a page of listed ids; ids whose hash has expired (retention) are dropped from the list as found. */
    async listed(listKey: string, ids: string[], keyOf: (id: string) => string): Promise<Record<string, string>[]> {
        const hs = await this.hashes(ids.map(keyOf));
        const gone = ids.filter((_, i) => !hs[i]?.id);
        if (gone.length > 0) await this.redis.zrem(listKey, ...gone).catch(() => undefined);
        return hs.filter((h) => h?.id);
    }

    // ---- batches
    async getBatch(id: string, team?: string): Promise<Record<string, string> | undefined> {
        const h = await this.redis.hgetall(this.keys.batch(id));
        return h.id && (team === undefined || h.team === team) ? h : undefined;
    }

    async activeBatches(): Promise<Record<string, string>[]> {
        const ids = await this.redis.smembers(this.keys.active);
        return (await this.hashes(ids.map((id) => this.keys.batch(id)))).filter((h) => h.id);
    }

    /** The keys of the scripts that can end a batch (BKEYS). */
    bkeys(id: string, team: string, inputFileId: string): string[] {
        const k = this.keys;
        return [
            k.batch(id),
            k.done(id),
            k.out(id),
            k.err(id),
            k.index(id),
            k.attempts(id),
            k.entries(id),
            k.active,
            k.teamActive(team),
            k.files(team),
            k.file(outputFileId(id)),
            k.file(errorFileId(id)),
            k.file(inputFileId),
            k.fileData(inputFileId),
            k.fileRefs(inputFileId),
            k.creating,
            k.creator(id),
        ];
    }

    bargv(id: string): string[] {
        return [nowSec(), String(Date.now()), id, outputFileId(id), errorFileId(id)];
    }

    /** The team and input file of a batch: what its scripts' keys are made of. */
    private async owner(id: string): Promise<{ team: string; input: string; total: number }> {
        const [team, input, total] = await this.redis.hmget(this.keys.batch(id), "team", "input_file_id", "total");
        return { team: team ?? "", input: input ?? "", total: Number(total ?? 0) };
    }

    /**
     * Records a new batch (validating) if the team is under its limit of batches in progress and
     * its input file is there, atomically (RESERVE in luaScripts.ts). undefined: created;
     * "gone": no such input file; a number: the team's count in progress (over the limit).
     */
    async reserve(base: Record<string, string>, limit: number): Promise<number | "gone" | undefined> {
        const h: Record<string, string> = {
            ...base,
            status: "validating",
            total: "0",
            completed: "0",
            failed: "0",
            cancelled_lines: "0",
            out_bytes: "0",
            err_bytes: "0",
        };
        const k = this.keys;
        const f = base.input_file_id;
        const r = await this.redis.reserve(
            k.teamActive(base.team),
            k.active,
            k.batch(base.id),
            k.batches(base.team),
            k.file(f),
            k.fileData(f),
            k.fileRefs(f),
            k.creating,
            String(limit),
            String(Date.now()),
            base.id,
            base.team,
            ...Object.entries(h).flat(),
        );
        return r === -1 ? undefined : r === -2 ? "gone" : r;
    }

    /** A batch that cannot run: failed with these errors, no longer in progress; its queued lines (if any) are dropped first. */
    async fail(id: string, errs: LineError[], batchTtl: number): Promise<boolean> {
        const { team, input } = await this.owner(id);
        await this.dropQueueEntries(id);
        return (
            (await this.redis.failBatch(
                ...this.bkeys(id, team, input),
                ...this.bargv(id),
                JSON.stringify({ object: "list", data: errs }),
                String(batchTtl),
            )) === 1
        );
    }

    /** Validating -> in_progress once every line is queued (ends it at once if every line is already done). */
    async start(id: string): Promise<void> {
        const { team, input } = await this.owner(id);
        await this.redis.startBatch(...this.bkeys(id, team, input), ...this.bargv(id));
    }

    /** Acknowledges and deletes the batch's queue entries, so no replica runs (or a pool at zero wakes for) its lines. */
    async dropQueueEntries(id: string): Promise<void> {
        const entries = await this.redis.lrange(this.keys.entries(id), 0, -1);
        const byPool = new Map<string, string[]>();
        for (const e of entries) {
            const [pool, entryId] = e.split(" ");
            if (!byPool.has(pool)) byPool.set(pool, []);
            byPool.get(pool)!.push(entryId);
        }
        for (const [pool, ids] of byPool) {
            for (let s = 0; s < ids.length; s += CHUNK) {
                const part = ids.slice(s, s + CHUNK);
                await this.redis
                    .multi()
                    .xack(this.keys.queue(pool), GROUP, ...part)
                    .xdel(this.keys.queue(pool), ...part)
                    .exec();
            }
        }
    }

    /** Cancels: marks every unfinished line cancelled (in chunks), drops its queue entries, and the batch ends `cancelled`. */
    async cancel(id: string): Promise<void> {
        const r = await this.redis.beginCancel(this.keys.batch(id), nowSec());
        if (r !== 1) return;
        const { team, input, total } = await this.owner(id);
        await this.dropQueueEntries(id);
        // Chunks keep each script short (Valkey runs one script at a time); the call that marks the last line ends the batch.
        for (let s = 0; s < total || s === 0; s += 5000) {
            await this.redis.cancelLines(...this.bkeys(id, team, input), ...this.bargv(id), String(s), String(Math.min(total, s + 5000)));
        }
    }

    /**
     * Expires a batch past its `expires_at` (completion window): its queue entries are dropped,
     * each line not yet done goes to the error file as `batch_expired` (the code of OpenAI's
     * BatchRequestOutput error, OpenAI OpenAPI spec: "The request could not be executed before
     * the completion window ended"), finished lines stay in the output file, and the batch ends
     * `expired`. Idempotent: any replica may run it, at once or after a restart, and resume it.
     */
    async expire(id: string, errorLine: (customId: string) => string): Promise<boolean> {
        if ((await this.redis.beginExpire(this.keys.batch(id), nowSec())) !== 1) return false;
        const { team, input, total: n } = await this.owner(id);
        await this.dropQueueEntries(id);
        const k = this.keys;
        for (let s = 0; s < n || s === 0; s += CHUNK) {
            const idx = Array.from({ length: Math.max(0, Math.min(n, s + CHUNK) - s) }, (_, j) => String(s + j));
            const pairs: string[] = [];
            if (idx.length > 0) {
                const [done, index] = await Promise.all([this.redis.hmget(k.done(id), ...idx), this.redis.hmget(k.index(id), ...idx)]);
                idx.forEach((i, j) => {
                    if (done[j] !== null) return;
                    // A line not queued yet (expired while its batch was being created) has no index entry.
                    pairs.push(i, errorLine(index[j] === null ? `line-${Number(i) + 1}` : decodeIndex(index[j]).customId));
                });
            }
            // The last call runs even with no pairs: it is the one that ends the batch.
            if (pairs.length > 0 || s + CHUNK >= n) await this.redis.expireLines(...this.bkeys(id, team, input), ...this.bargv(id), ...pairs);
        }
        return true;
    }

    /** Expires every batch in progress past its completion window; returns how many. */
    async expireDue(errorLine: (customId: string) => string): Promise<number> {
        const now = Date.now() / 1000;
        let n = 0;
        for (const b of await this.activeBatches()) {
            const due =
                (b.status === "finalizing" && b.expire === "1") || ((b.status === "in_progress" || b.status === "validating") && Number(b.expires_at) <= now);
            if (due && (await this.expire(b.id, errorLine))) n++;
        }
        return n;
    }

    /** Writes a line's result once (0: it was already written by another attempt, or the batch has ended). */
    async finishLine(a: {
        batchId: string;
        team: string;
        inputFileId: string;
        idx: number;
        pool: string;
        ok: boolean;
        line: string;
        entryId: string;
    }): Promise<number> {
        return this.redis.finishLine(
            ...this.bkeys(a.batchId, a.team, a.inputFileId),
            this.keys.queue(a.pool),
            ...this.bargv(a.batchId),
            String(a.idx),
            a.ok ? "o" : "e",
            a.line,
            GROUP,
            a.entryId,
            a.pool,
        );
    }

    /** Lines waiting in a pool's queue (not yet claimed by any replica). */
    async backlog(pool: string): Promise<{ waiting: number; claimed: number }> {
        const [[, len], [, pending]] = (await this.redis.multi().xlen(this.keys.queue(pool)).xpending(this.keys.queue(pool), GROUP).exec()) as [
            [null, number],
            [null, unknown[] | null],
        ];
        const claimed = Array.isArray(pending) ? Number(pending[0] ?? 0) : 0;
        return { waiting: Math.max(0, len - claimed), claimed };
    }
}

/**
 * Valkey's refusals as API errors in the OpenAI shape, instead of a 500 with a stack trace:
 * full is 507: `-OOM command not allowed when used memory > 'maxmemory'.` (server.c
 * shared.oomerr, a write under maxmemory-policy noeviction), `-OOM allow-oom flag is not set on
 * the script ...` (script.c, a `#!lua` script), or EXECABORT of a MULTI holding such a write;
 * unreachable is 503 (refused, closed, or not answering within API_TIMEOUT_MS: ioredis
 * "Command timed out", and "Stream isn't writeable" while disconnected without an offline queue).
 * Anything else is left as it is.
 */
export function storeError(e: unknown): unknown {
    if (e instanceof GatewayError) return e;
    const msg = (e as Error)?.message ?? "";
    if (/^(EXECABORT.*)?OOM\b|\bOOM command not allowed/.test(msg)) {
        return new GatewayError(
            507,
            "server_error",
            "batch_storage_full",
            "The batch store (Valkey) is full and refuses new data (maxmemory reached, no eviction). Delete files and batches no longer needed, wait for their retention (batch.retention) to free space, or give Valkey more memory (serving.batch.memoryMiB)",
        );
    }
    if (
        (e as Error)?.name === "MaxRetriesPerRequestError" ||
        /ECONNREFUSED|ECONNRESET|Connection is closed|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|Command timed out|Stream isn't writeable/.test(msg)
    ) {
        return new GatewayError(503, "service_unavailable", "batch_store_unavailable", "The batch store (Valkey) is unreachable; retry shortly", 5);
    }
    return e;
}
