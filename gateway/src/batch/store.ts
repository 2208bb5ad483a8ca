/**
 * Batch state in Valkey/Redis: files, batches, and one stream of lines per pool read by every
 * gateway replica through one consumer group (XREADGROUP; a dead replica's claimed lines are
 * taken over with XAUTOCLAIM after the lease). Exactly-once output: a line's result is written
 * by a Lua script that first does HSETNX on the batch's `done` hash, so a line run twice (a
 * reclaimed lease) is written once; the same script acknowledges the stream entry and, for the
 * last line, completes the batch and creates its output/error files, atomically.
 *
 * Commands used (all in Valkey 7.2+/8 and Redis >= 6.2; XAUTOCLAIM since 6.2.0), per the
 * command reference at valkey.io/commands and redis.io/docs/latest/commands:
 * XADD, XGROUP CREATE ... MKSTREAM, XREADGROUP ... BLOCK, XAUTOCLAIM, XCLAIM ... IDLE/JUSTID,
 * XPENDING, XACK, XDEL, XLEN, HSETNX, EVALSHA (ioredis defineCommand).
 */
import { Redis } from "ioredis";
import type { BatchConfig } from "./config";
import { errorFileId, outputFileId } from "./objects";
import type { LineError, ValidLine } from "./validate";

export const GROUP = "gateways";

/** Shared by the two scripts that can finish a batch (last line, cancel). */
const FINALIZE = `
local function finalize(bkey, activeKey, filesKey, outFileKey, errFileKey, outId, errId, batchId, now, nowms)
  local b = redis.call('HMGET', bkey, 'total', 'completed', 'failed', 'cancelled_lines', 'status', 'team', 'out_bytes', 'err_bytes')
  if not b[1] then return 1 end
  local comp, fail, canc = tonumber(b[2]), tonumber(b[3]), tonumber(b[4])
  if comp + fail + canc < tonumber(b[1]) then return 1 end
  if b[5] ~= 'in_progress' and b[5] ~= 'cancelling' then return 1 end
  if comp > 0 then
    redis.call('HSET', outFileKey, 'id', outId, 'team', b[6], 'purpose', 'batch_output', 'filename', batchId .. '_output.jsonl', 'bytes', b[7], 'created_at', now, 'batch', batchId, 'kind', 'out')
    redis.call('ZADD', filesKey, nowms, outId)
    redis.call('HSET', bkey, 'output_file_id', outId)
  end
  if fail > 0 then
    redis.call('HSET', errFileKey, 'id', errId, 'team', b[6], 'purpose', 'batch_output', 'filename', batchId .. '_error.jsonl', 'bytes', b[8], 'created_at', now, 'batch', batchId, 'kind', 'err')
    redis.call('ZADD', filesKey, nowms, errId)
    redis.call('HSET', bkey, 'error_file_id', errId)
  end
  if b[5] == 'cancelling' then
    redis.call('HSET', bkey, 'status', 'cancelled', 'cancelled_at', now)
  else
    redis.call('HSET', bkey, 'status', 'completed', 'finalizing_at', now, 'completed_at', now)
  end
  redis.call('SREM', activeKey, batchId)
  return 2
end
`;

/** KEYS: batch, done, out, err, stream, active, files, outFile, errFile. ARGV: idx, kind (o|e), line, group, entryId, now, nowms, batchId, outId, errId, pool. */
const FINISH_LINE = `${FINALIZE}
if ARGV[5] ~= '' then
  redis.call('XACK', KEYS[5], ARGV[4], ARGV[5])
  redis.call('XDEL', KEYS[5], ARGV[5])
end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
if ARGV[2] == 'o' then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'completed', 1)
  redis.call('HINCRBY', KEYS[1], 'out_bytes', #ARGV[3] + 1)
else
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'failed', 1)
  redis.call('HINCRBY', KEYS[1], 'err_bytes', #ARGV[3] + 1)
end
redis.call('HINCRBY', KEYS[1], 'done:' .. ARGV[11], 1)
return finalize(KEYS[1], KEYS[6], KEYS[7], KEYS[8], KEYS[9], ARGV[9], ARGV[10], ARGV[8], ARGV[6], ARGV[7])
`;

/** KEYS: batch, done, active, files, outFile, errFile. ARGV: from, to, now, nowms, batchId, outId, errId. Marks lines [from, to) cancelled. */
const CANCEL_LINES = `${FINALIZE}
if redis.call('HGET', KEYS[1], 'status') ~= 'cancelling' then return -1 end
local n = 0
for i = tonumber(ARGV[1]), tonumber(ARGV[2]) - 1 do
  if redis.call('HSETNX', KEYS[2], tostring(i), 'c') == 1 then n = n + 1 end
end
if n > 0 then redis.call('HINCRBY', KEYS[1], 'cancelled_lines', n) end
return finalize(KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[6], ARGV[7], ARGV[5], ARGV[3], ARGV[4])
`;

/** KEYS: batch. ARGV: now. 1: now cancelling; 0: already final (nothing to cancel); -1: no such batch. */
const BEGIN_CANCEL = `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return -1 end
if st == 'validating' or st == 'in_progress' then
  redis.call('HSET', KEYS[1], 'status', 'cancelling', 'cancelling_at', ARGV[1])
  return 1
end
if st == 'cancelling' then return 1 end
return 0
`;

interface Scripts {
    finishLine(...args: string[]): Promise<number>;
    cancelLines(...args: string[]): Promise<number>;
    beginCancel(...args: string[]): Promise<number>;
}

export type StoreRedis = Redis & Scripts;

export function connect(config: BatchConfig, name: string): StoreRedis {
    const redis = new Redis(config.redisUrl, {
        password: process.env.GATEWAY_BATCH_REDIS_PASSWORD || undefined,
        connectionName: name,
        // Commands wait (bounded by their caller) while Valkey restarts, instead of failing at once.
        maxRetriesPerRequest: 20,
        lazyConnect: false,
    }) as StoreRedis;
    redis.defineCommand("finishLine", { numberOfKeys: 9, lua: FINISH_LINE });
    redis.defineCommand("cancelLines", { numberOfKeys: 6, lua: CANCEL_LINES });
    redis.defineCommand("beginCancel", { numberOfKeys: 1, lua: BEGIN_CANCEL });
    return redis;
}

const nowSec = () => String(Math.floor(Date.now() / 1000));

/** Key names in one place. */
export class Keys {
    constructor(readonly p: string) {}
    file = (id: string) => `${this.p}file:${id}`;
    fileData = (id: string) => `${this.p}file:${id}:data`;
    files = (team: string) => `${this.p}files:${team}`;
    batch = (id: string) => `${this.p}batch:${id}`;
    lines = (id: string) => `${this.p}batch:${id}:lines`;
    done = (id: string) => `${this.p}batch:${id}:done`;
    out = (id: string) => `${this.p}batch:${id}:out`;
    err = (id: string) => `${this.p}batch:${id}:err`;
    attempts = (id: string) => `${this.p}batch:${id}:attempts`;
    entries = (id: string) => `${this.p}batch:${id}:entries`;
    batches = (team: string) => `${this.p}batches:${team}`;
    get active(): string {
        return `${this.p}active`;
    }
    queue = (pool: string) => `${this.p}queue:${pool}`;
}

/** A stored line: `["custom_id","pool"]\n<body JSON>` (the body is kept as the bytes sent upstream). */
export function encodeLine(l: ValidLine): string {
    return `${JSON.stringify([l.customId, l.pool])}\n${l.body}`;
}

export function decodeLine(s: string): { customId: string; pool: string; body: string } {
    const nl = s.indexOf("\n");
    const [customId, pool] = JSON.parse(s.slice(0, nl)) as [string, string];
    return { customId, pool, body: s.slice(nl + 1) };
}

const CHUNK = 500;

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
    async createFile(f: { id: string; team: string; purpose: string; filename: string; data: Buffer }): Promise<Record<string, string>> {
        const h = { id: f.id, team: f.team, purpose: f.purpose, filename: f.filename, bytes: String(f.data.length), created_at: nowSec() };
        await this.redis.multi().set(this.keys.fileData(f.id), f.data).hset(this.keys.file(f.id), h).zadd(this.keys.files(f.team), Date.now(), f.id).exec();
        return h;
    }

    /** The file if it exists and belongs to the team (another team's file is "not found"). */
    async getFile(id: string, team: string): Promise<Record<string, string> | undefined> {
        const h = await this.redis.hgetall(this.keys.file(id));
        return h.id && h.team === team ? h : undefined;
    }

    async fileContent(h: Record<string, string>): Promise<Buffer> {
        if (!h.batch) return (await this.redis.getBuffer(this.keys.fileData(h.id))) ?? Buffer.alloc(0);
        // Output/error files are views on the batch's result hashes, in input line order.
        const all = await this.redis.hgetall(h.kind === "err" ? this.keys.err(h.batch) : this.keys.out(h.batch));
        const idx = Object.keys(all).map(Number).sort((a, b) => a - b);
        return Buffer.from(idx.map((i) => all[String(i)] + "\n").join(""));
    }

    async deleteFile(h: Record<string, string>): Promise<void> {
        await this.redis.multi().del(this.keys.file(h.id), this.keys.fileData(h.id)).zrem(this.keys.files(h.team), h.id).exec();
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

    // ---- batches
    async getBatch(id: string, team?: string): Promise<Record<string, string> | undefined> {
        const h = await this.redis.hgetall(this.keys.batch(id));
        return h.id && (team === undefined || h.team === team) ? h : undefined;
    }

    async activeCount(team: string): Promise<number> {
        const ids = await this.redis.smembers(this.keys.active);
        const p = this.redis.pipeline();
        for (const id of ids) p.hget(this.keys.batch(id), "team");
        return ((await p.exec()) ?? []).filter(([, t]) => t === team).length;
    }

    async activeBatches(): Promise<Record<string, string>[]> {
        const ids = await this.redis.smembers(this.keys.active);
        return (await this.hashes(ids.map((id) => this.keys.batch(id)))).filter((h) => h.id);
    }

    /** A batch whose input failed validation: recorded failed, nothing queued. */
    async createFailed(base: Record<string, string>, errs: LineError[]): Promise<void> {
        const now = nowSec();
        const h = { ...base, status: "failed", failed_at: now, total: "0", completed: "0", failed: "0", cancelled_lines: "0", errors: JSON.stringify({ object: "list", data: errs }) };
        await this.redis.multi().hset(this.keys.batch(base.id), h).zadd(this.keys.batches(base.team), Date.now(), base.id).exec();
    }

    /** Stores the lines and queues each on its pool's stream, a chunk at a time; the batch is listed (validating) first, in_progress once every line is queued. */
    async createQueued(base: Record<string, string>, lines: Iterable<ValidLine>, perPool: ReadonlyMap<string, number>): Promise<void> {
        const id = base.id;
        let total = 0;
        for (const n of perPool.values()) total += n;
        const h: Record<string, string> = { ...base, status: "validating", total: String(total), completed: "0", failed: "0", cancelled_lines: "0", out_bytes: "0", err_bytes: "0" };
        for (const [pool, n] of perPool) {
            h[`total:${pool}`] = String(n);
            h[`done:${pool}`] = "0";
        }
        h.pools = JSON.stringify([...perPool.keys()]);
        await this.redis.multi().hset(this.keys.batch(id), h).sadd(this.keys.active, id).zadd(this.keys.batches(base.team), Date.now(), id).exec();
        for (const pool of perPool.keys()) await this.ensureGroup(pool);
        let s = 0;
        let chunk: ValidLine[] = [];
        const flush = async () => {
            const p = this.redis.pipeline();
            const fields: string[] = [];
            chunk.forEach((l, k) => fields.push(String(s + k), encodeLine(l)));
            p.hset(this.keys.lines(id), ...fields);
            chunk.forEach((l, k) => p.xadd(this.keys.queue(l.pool), "*", "b", id, "i", String(s + k)));
            const res = (await p.exec()) ?? [];
            const entries: string[] = [];
            res.slice(1).forEach(([err, entryId], k) => {
                if (err) throw err;
                entries.push(`${chunk[k].pool} ${String(entryId)}`);
            });
            await this.redis.rpush(this.keys.entries(id), ...entries);
            s += chunk.length;
            chunk = [];
        };
        for (const l of lines) {
            chunk.push(l);
            if (chunk.length >= CHUNK) await flush();
        }
        if (chunk.length > 0) await flush();
        await this.redis.hset(this.keys.batch(id), "status", "in_progress", "in_progress_at", nowSec());
    }

    /** Cancels: marks every unfinished line cancelled (in chunks), drops its queue entry, and the batch ends `cancelled`. */
    async cancel(id: string): Promise<void> {
        const r = await this.redis.beginCancel(this.keys.batch(id), nowSec());
        if (r !== 1) return;
        const total = Number(await this.redis.hget(this.keys.batch(id), "total"));
        // Queue entries first, so a pool at zero is not woken for cancelled lines.
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
                await this.redis.multi().xack(this.keys.queue(pool), GROUP, ...part).xdel(this.keys.queue(pool), ...part).exec();
            }
        }
        const team = (await this.redis.hget(this.keys.batch(id), "team")) ?? "";
        const k = this.keys;
        // Chunks keep each script short (Valkey runs one script at a time); the call that marks the last line ends the batch.
        for (let s = 0; s < total || s === 0; s += 5000) {
            await this.redis.cancelLines(k.batch(id), k.done(id), k.active, k.files(team), k.file(outputFileId(id)), k.file(errorFileId(id)), String(s), String(Math.min(total, s + 5000)), nowSec(), String(Date.now()), id, outputFileId(id), errorFileId(id));
        }
    }

    /** Writes a line's result once (0: it was already written by another attempt). */
    async finishLine(a: { batchId: string; team: string; idx: number; pool: string; ok: boolean; line: string; entryId: string }): Promise<number> {
        const k = this.keys;
        const id = a.batchId;
        return this.redis.finishLine(
            k.batch(id),
            k.done(id),
            k.out(id),
            k.err(id),
            k.queue(a.pool),
            k.active,
            k.files(a.team),
            k.file(outputFileId(id)),
            k.file(errorFileId(id)),
            String(a.idx),
            a.ok ? "o" : "e",
            a.line,
            GROUP,
            a.entryId,
            nowSec(),
            String(Date.now()),
            id,
            outputFileId(id),
            errorFileId(id),
            a.pool,
        );
    }

    /** Lines waiting in a pool's queue (not yet claimed by any replica). */
    async backlog(pool: string): Promise<{ waiting: number; claimed: number }> {
        const [[, len], [, pending]] = (await this.redis.multi().xlen(this.keys.queue(pool)).xpending(this.keys.queue(pool), GROUP).exec()) as [[null, number], [null, unknown[] | null]];
        const claimed = Array.isArray(pending) ? Number(pending[0] ?? 0) : 0;
        return { waiting: Math.max(0, len - claimed), claimed };
    }
}
