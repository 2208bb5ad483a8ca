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
import { Readable } from "stream";
import { GatewayError } from "../errors";
import type { BatchConfig } from "./config";
import { errorFileId, outputFileId, outputLine } from "./objects";
import type { LineError, ValidLine } from "./validate";

export const GROUP = "gateways";

/*
 * Every script starts with `#!lua` (no flags): Valkey/Redis then refuses the whole script with
 * "-OOM allow-oom flag is not set on the script, ..." when memory is full, instead of running it
 * until its first denied write and leaving it half done (scripts are not rolled back): script.c
 * scriptPrepareForRun, the check skipped only for flag-less EVAL_COMPAT_MODE scripts (Redis
 * 7.0+, kept by Valkey); "Script flags" at valkey.io/topics/eval-intro.
 *
 * The scripts that can end a batch share one KEYS layout (BKEYS) and the first ARGV (BARGV).
 */
/** KEYS 1-12: batch, done, out, err, lines, attempts, entries, active, teamActive, files, outFile, errFile. */
const BKEYS = 12;
/* ARGV 1-5: now, nowms, batchId, outId, errId. */

/** Ends the batch once every line is done; sets the retention TTLs (nothing of a running batch ever expires). */
const FINALIZE = `#!lua
local function finalize()
  local now, nowms, batchId, outId, errId = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
  local b = redis.call('HMGET', KEYS[1], 'total', 'completed', 'failed', 'cancelled_lines', 'status', 'team', 'out_bytes', 'err_bytes', 'expire', 'output_ttl', 'batch_ttl')
  if not b[1] then return 1 end
  local comp, fail, canc = tonumber(b[2]), tonumber(b[3]), tonumber(b[4])
  if comp + fail + canc < tonumber(b[1]) then return 1 end
  local st = b[5]
  if st ~= 'in_progress' and st ~= 'cancelling' and not (st == 'finalizing' and b[9] == '1') then return 1 end
  local ottl, bttl = tonumber(b[10]) or 2592000, tonumber(b[11]) or 2592000
  if comp > 0 then
    redis.call('HSET', KEYS[11], 'id', outId, 'team', b[6], 'purpose', 'batch_output', 'filename', batchId .. '_output.jsonl', 'bytes', b[7], 'created_at', now, 'expires_at', tonumber(now) + ottl, 'batch', batchId, 'kind', 'out', 'lines', b[1])
    redis.call('ZADD', KEYS[10], nowms, outId)
    redis.call('HSET', KEYS[1], 'output_file_id', outId)
    redis.call('EXPIRE', KEYS[11], ottl)
    redis.call('EXPIRE', KEYS[3], ottl)
  end
  if fail > 0 then
    redis.call('HSET', KEYS[12], 'id', errId, 'team', b[6], 'purpose', 'batch_output', 'filename', batchId .. '_error.jsonl', 'bytes', b[8], 'created_at', now, 'expires_at', tonumber(now) + ottl, 'batch', batchId, 'kind', 'err', 'lines', b[1])
    redis.call('ZADD', KEYS[10], nowms, errId)
    redis.call('HSET', KEYS[1], 'error_file_id', errId)
    redis.call('EXPIRE', KEYS[12], ottl)
    redis.call('EXPIRE', KEYS[4], ottl)
  end
  if st == 'cancelling' then
    redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelled_at', now)
  elseif st == 'finalizing' then
    redis.call('HSET', KEYS[1], 'status', 'expired', 'expired_at', now)
  else
    redis.call('HSET', KEYS[1], 'status', 'completed', 'finalizing_at', now, 'completed_at', now)
  end
  redis.call('SREM', KEYS[8], batchId)
  redis.call('SREM', KEYS[9], batchId)
  -- The input copy and the bookkeeping of running lines are not needed any more.
  redis.call('DEL', KEYS[5], KEYS[6], KEYS[7])
  redis.call('EXPIRE', KEYS[1], bttl)
  redis.call('EXPIRE', KEYS[2], bttl)
  return 2
end
`;

/** KEYS: BKEYS, stream. ARGV: BARGV, idx, kind (o|e), line, group, entryId, pool. */
const FINISH_LINE = `${FINALIZE}
if ARGV[10] ~= '' then
  redis.call('XACK', KEYS[13], ARGV[9], ARGV[10])
  redis.call('XDEL', KEYS[13], ARGV[10])
end
local st = redis.call('HGET', KEYS[1], 'status')
-- A late line of a batch that has ended (or expired from Valkey) writes nothing.
if st ~= 'validating' and st ~= 'in_progress' and st ~= 'cancelling' and st ~= 'finalizing' then return 0 end
if redis.call('HSETNX', KEYS[2], ARGV[6], ARGV[7]) == 0 then return 0 end
if ARGV[7] == 'o' then
  redis.call('HSET', KEYS[3], ARGV[6], ARGV[8])
  redis.call('HINCRBY', KEYS[1], 'completed', 1)
  redis.call('HINCRBY', KEYS[1], 'out_bytes', #ARGV[8] + 1)
else
  redis.call('HSET', KEYS[4], ARGV[6], ARGV[8])
  redis.call('HINCRBY', KEYS[1], 'failed', 1)
  redis.call('HINCRBY', KEYS[1], 'err_bytes', #ARGV[8] + 1)
end
redis.call('HINCRBY', KEYS[1], 'done:' .. ARGV[11], 1)
return finalize()
`;

/** KEYS: BKEYS. ARGV: BARGV, from, to. Marks lines [from, to) cancelled. */
const CANCEL_LINES = `${FINALIZE}
if redis.call('HGET', KEYS[1], 'status') ~= 'cancelling' then return -1 end
local n = 0
for i = tonumber(ARGV[6]), tonumber(ARGV[7]) - 1 do
  if redis.call('HSETNX', KEYS[2], tostring(i), 'c') == 1 then n = n + 1 end
end
if n > 0 then redis.call('HINCRBY', KEYS[1], 'cancelled_lines', n) end
return finalize()
`;

/** KEYS: BKEYS. ARGV: BARGV, then pairs (idx, error line). Writes each not-yet-done line to the error file as expired. */
const EXPIRE_LINES = `${FINALIZE}
local st = redis.call('HMGET', KEYS[1], 'status', 'expire')
if st[1] ~= 'finalizing' or st[2] ~= '1' then return -1 end
local n, bytes = 0, 0
for i = 6, #ARGV - 1, 2 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], 'e') == 1 then
    redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
    n = n + 1
    bytes = bytes + #ARGV[i + 1] + 1
  end
end
if n > 0 then
  redis.call('HINCRBY', KEYS[1], 'failed', n)
  redis.call('HINCRBY', KEYS[1], 'err_bytes', bytes)
end
return finalize()
`;

/** KEYS: batch. ARGV: now. 1: now cancelling; 0: already final (nothing to cancel); -1: no such batch. */
const BEGIN_CANCEL = `#!lua
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return -1 end
if st == 'validating' or st == 'in_progress' then
  redis.call('HSET', KEYS[1], 'status', 'cancelling', 'cancelling_at', ARGV[1])
  return 1
end
if st == 'cancelling' then return 1 end
return 0
`;

/**
 * KEYS: batch. ARGV: now. 1: the batch is past its expires_at and is now (or already was) being
 * expired; 0: not due, or already final. Status `finalizing` (with field expire=1) while its
 * unrun lines are written to the error file; any replica may do or resume that.
 */
const BEGIN_EXPIRE = `#!lua
local b = redis.call('HMGET', KEYS[1], 'status', 'expires_at', 'expire')
if not b[1] then return 0 end
if b[1] == 'finalizing' and b[3] == '1' then return 1 end
if (b[1] == 'validating' or b[1] == 'in_progress') and tonumber(b[2]) <= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'status', 'finalizing', 'finalizing_at', ARGV[1], 'expire', '1')
  return 1
end
return 0
`;

/**
 * The "max batches in progress" check and the new batch's record in one step, so two
 * concurrent creates of one team cannot both pass it (a script runs atomically: EVAL,
 * valkey.io/commands/eval, redis.io/docs/latest/develop/programmability/eval-intro).
 * KEYS: teamActive, active, batch, batches. ARGV: limit, nowms, id, then the batch's field/value pairs.
 * -1: created; otherwise the team's count of batches in progress (over the limit).
 */
const RESERVE = `#!lua
local n = redis.call('SCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then return n end
redis.call('HSET', KEYS[3], unpack(ARGV, 4))
redis.call('SADD', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
return -1
`;

/** KEYS: batch. ARGV: now. Validating -> in_progress once every line is queued (not if it was cancelled or expired meanwhile). */
/**
 * KEYS: BKEYS. ARGV: BARGV. Validating -> in_progress once every line is queued. A runner may
 * have finished every line already (a small batch, a fast worker: FINISH_LINE records lines of a
 * validating batch, but FINALIZE ends only a batch in progress), so it finalizes here too;
 * otherwise such a batch would stay in_progress for ever.
 */
const START = `${FINALIZE}
if redis.call('HGET', KEYS[1], 'status') ~= 'validating' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'in_progress', 'in_progress_at', ARGV[1])
finalize()
return 1
`;

interface Scripts {
    finishLine(...args: string[]): Promise<number>;
    cancelLines(...args: string[]): Promise<number>;
    expireLines(...args: string[]): Promise<number>;
    beginCancel(...args: string[]): Promise<number>;
    beginExpire(...args: string[]): Promise<number>;
    reserve(...args: string[]): Promise<number>;
    startBatch(...args: string[]): Promise<number>;
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
    redis.defineCommand("finishLine", { numberOfKeys: BKEYS + 1, lua: FINISH_LINE });
    redis.defineCommand("cancelLines", { numberOfKeys: BKEYS, lua: CANCEL_LINES });
    redis.defineCommand("expireLines", { numberOfKeys: BKEYS, lua: EXPIRE_LINES });
    redis.defineCommand("beginCancel", { numberOfKeys: 1, lua: BEGIN_CANCEL });
    redis.defineCommand("beginExpire", { numberOfKeys: 1, lua: BEGIN_EXPIRE });
    redis.defineCommand("reserve", { numberOfKeys: 4, lua: RESERVE });
    redis.defineCommand("startBatch", { numberOfKeys: BKEYS, lua: START });
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
    teamActive = (team: string) => `${this.p}active:${team}`;
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
/** Pieces of a streamed file: bytes of an uploaded one, lines of an output one. */
const STREAM_BYTES = 1024 * 1024;
const STREAM_LINES = 500;

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
    /** Stores an uploaded file; it expires `ttl` seconds after creation (a running batch holds its own copy of the lines). */
    async createFile(f: { id: string; team: string; purpose: string; filename: string; data: Buffer; ttl: number }): Promise<Record<string, string>> {
        const now = Math.floor(Date.now() / 1000);
        const h = { id: f.id, team: f.team, purpose: f.purpose, filename: f.filename, bytes: String(f.data.length), created_at: String(now), expires_at: String(now + f.ttl) };
        const dataKey = this.keys.fileData(f.id);
        try {
            // The bytes go in 1 MiB pieces (SET, then APPEND), so neither side copies or blocks on
            // a 200 MB command; the file is listed only once all of it is stored.
            await this.redis.set(dataKey, f.data.subarray(0, STREAM_BYTES), "EX", f.ttl);
            for (let off = STREAM_BYTES; off < f.data.length; off += STREAM_BYTES) await this.redis.append(dataKey, f.data.subarray(off, off + STREAM_BYTES));
            const res = await this.redis.multi().hset(this.keys.file(f.id), h).expire(this.keys.file(f.id), f.ttl).zadd(this.keys.files(f.team), Date.now(), f.id).exec();
            // MULTI/EXEC reports a command's error (e.g. OOM) in its slot instead of throwing.
            const failed = (res ?? []).find(([e]) => e);
            if (failed) throw failed[0]!;
        } catch (e) {
            await this.redis.del(dataKey, this.keys.file(f.id)).catch(() => undefined);
            throw e;
        }
        return h;
    }

    /** The file if it exists and belongs to the team (another team's file is "not found"). */
    async getFile(id: string, team: string): Promise<Record<string, string> | undefined> {
        const h = await this.redis.hgetall(this.keys.file(id));
        return h.id && h.team === team ? h : undefined;
    }

    /** An uploaded file's bytes, whole (batch creation validates it in two passes). */
    async fileContent(h: Record<string, string>): Promise<Buffer> {
        return (await this.redis.getBuffer(this.keys.fileData(h.id))) ?? Buffer.alloc(0);
    }

    /**
     * A file's content as a stream read from Valkey a bounded piece at a time: GETRANGE of an
     * uploaded file, HMGET of `STREAM_LINES` result lines of an output/error file (a view on
     * the batch's result hash, in input line order). Memory stays bounded for a 200 MB file.
     */
    fileStream(h: Record<string, string>): Readable {
        const redis = this.redis;
        if (!h.batch) {
            const key = this.keys.fileData(h.id);
            const size = Number(h.bytes);
            return Readable.from(
                (async function* () {
                    for (let off = 0; off < size; off += STREAM_BYTES) yield await redis.getrangeBuffer(key, off, Math.min(size, off + STREAM_BYTES) - 1);
                })(),
                { objectMode: false },
            );
        }
        const key = h.kind === "err" ? this.keys.err(h.batch) : this.keys.out(h.batch);
        const lines = Number(h.lines ?? 0);
        return Readable.from(
            (async function* () {
                for (let s = 0; s < lines; s += STREAM_LINES) {
                    const fields = Array.from({ length: Math.min(lines, s + STREAM_LINES) - s }, (_, k) => String(s + k));
                    const vals = await redis.hmget(key, ...fields);
                    const text = vals.filter((v): v is string => v !== null).map((v) => v + "\n").join("");
                    if (text) yield Buffer.from(text);
                }
            })(),
            { objectMode: false },
        );
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

    /** The 12 keys of the scripts that can end a batch (BKEYS). */
    private bkeys(id: string, team: string): string[] {
        const k = this.keys;
        return [k.batch(id), k.done(id), k.out(id), k.err(id), k.lines(id), k.attempts(id), k.entries(id), k.active, k.teamActive(team), k.files(team), k.file(outputFileId(id)), k.file(errorFileId(id))];
    }

    private bargv(id: string): string[] {
        return [nowSec(), String(Date.now()), id, outputFileId(id), errorFileId(id)];
    }

    /**
     * Records a new batch (validating) if the team is under its limit of batches in progress,
     * atomically (RESERVE). Returns undefined when created, else the team's count in progress.
     */
    async reserve(base: Record<string, string>, limit: number): Promise<number | undefined> {
        const h: Record<string, string> = { ...base, status: "validating", total: "0", completed: "0", failed: "0", cancelled_lines: "0", out_bytes: "0", err_bytes: "0" };
        const k = this.keys;
        const r = await this.redis.reserve(k.teamActive(base.team), k.active, k.batch(base.id), k.batches(base.team), String(limit), String(Date.now()), base.id, ...Object.entries(h).flat());
        return r === -1 ? undefined : r;
    }

    /** A batch whose input failed validation: failed, nothing queued, no longer in progress. */
    async failValidation(id: string, team: string, errs: LineError[], batchTtl: number): Promise<void> {
        const k = this.keys;
        await this.redis
            .multi()
            .hset(k.batch(id), { status: "failed", failed_at: nowSec(), errors: JSON.stringify({ object: "list", data: errs }) })
            .srem(k.active, id)
            .srem(k.teamActive(team), id)
            .expire(k.batch(id), batchTtl)
            .exec();
    }

    /** Stores the lines and queues each on its pool's stream, a chunk at a time; in_progress once every line is queued. */
    async createQueued(id: string, team: string, lines: AsyncIterable<ValidLine>, perPool: ReadonlyMap<string, number>): Promise<void> {
        let total = 0;
        for (const n of perPool.values()) total += n;
        const h: Record<string, string> = { total: String(total) };
        for (const [pool, n] of perPool) {
            h[`total:${pool}`] = String(n);
            h[`done:${pool}`] = "0";
        }
        h.pools = JSON.stringify([...perPool.keys()]);
        await this.redis.hset(this.keys.batch(id), h);
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
            res.forEach(([err, entryId], k) => {
                if (err) throw err;
                if (k > 0) entries.push(`${chunk[k - 1].pool} ${String(entryId)}`);
            });
            await this.redis.rpush(this.keys.entries(id), ...entries);
            s += chunk.length;
            chunk = [];
        };
        for await (const l of lines) {
            chunk.push(l);
            if (chunk.length >= CHUNK) await flush();
        }
        if (chunk.length > 0) await flush();
        await this.redis.startBatch(...this.bkeys(id, team), ...this.bargv(id));
    }

    /** Acknowledges and deletes the batch's queue entries, so no replica runs (or a pool at zero wakes for) its lines. */
    private async dropQueueEntries(id: string): Promise<void> {
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
    }

    /** Cancels: marks every unfinished line cancelled (in chunks), drops its queue entry, and the batch ends `cancelled`. */
    async cancel(id: string): Promise<void> {
        const r = await this.redis.beginCancel(this.keys.batch(id), nowSec());
        if (r !== 1) return;
        const [total, team] = await this.redis.hmget(this.keys.batch(id), "total", "team");
        await this.dropQueueEntries(id);
        const n = Number(total);
        // Chunks keep each script short (Valkey runs one script at a time); the call that marks the last line ends the batch.
        for (let s = 0; s < n || s === 0; s += 5000) {
            await this.redis.cancelLines(...this.bkeys(id, team ?? ""), ...this.bargv(id), String(s), String(Math.min(n, s + 5000)));
        }
    }

    /**
     * Expires a batch past its `expires_at` (completion window): its queue entries are dropped,
     * each line not yet done goes to the error file as `batch_expired` (the code of OpenAI's
     * BatchRequestOutput error, OpenAI OpenAPI spec: "The request could not be executed before
     * the completion window ended"), finished lines stay in the output file, and the batch ends
     * `expired`. Idempotent: any replica may run it, at once or after a restart, and resume it.
     */
    async expire(id: string): Promise<boolean> {
        if ((await this.redis.beginExpire(this.keys.batch(id), nowSec())) !== 1) return false;
        const [total, team] = await this.redis.hmget(this.keys.batch(id), "total", "team");
        await this.dropQueueEntries(id);
        const n = Number(total);
        const k = this.keys;
        const message = "This request could not be executed before the completion window expired.";
        for (let s = 0; s < n || s === 0; s += CHUNK) {
            const idx = Array.from({ length: Math.max(0, Math.min(n, s + CHUNK) - s) }, (_, j) => String(s + j));
            const pairs: string[] = [];
            if (idx.length > 0) {
                const [done, raw] = await Promise.all([this.redis.hmget(k.done(id), ...idx), this.redis.hmget(k.lines(id), ...idx)]);
                idx.forEach((i, j) => {
                    if (done[j] !== null) return;
                    const customId = raw[j] === null ? null : decodeLine(raw[j]!).customId;
                    pairs.push(i, outputLine(customId ?? `line-${Number(i) + 1}`, undefined, { code: "batch_expired", message }));
                });
            }
            // The last call runs even with no pairs: it is the one that ends the batch.
            if (pairs.length > 0 || s + CHUNK >= n) await this.redis.expireLines(...this.bkeys(id, team ?? ""), ...this.bargv(id), ...pairs);
        }
        return true;
    }

    /** Expires every batch in progress past its completion window; returns how many. */
    async expireDue(): Promise<number> {
        const now = Date.now() / 1000;
        let n = 0;
        for (const b of await this.activeBatches()) {
            const due = (b.status === "finalizing" && b.expire === "1") || ((b.status === "in_progress" || b.status === "validating") && Number(b.expires_at) <= now);
            if (due && (await this.expire(b.id))) n++;
        }
        return n;
    }

    /** Writes a line's result once (0: it was already written by another attempt, or the batch has ended). */
    async finishLine(a: { batchId: string; team: string; idx: number; pool: string; ok: boolean; line: string; entryId: string }): Promise<number> {
        return this.redis.finishLine(...this.bkeys(a.batchId, a.team), this.keys.queue(a.pool), ...this.bargv(a.batchId), String(a.idx), a.ok ? "o" : "e", a.line, GROUP, a.entryId, a.pool);
    }

    /** Lines waiting in a pool's queue (not yet claimed by any replica). */
    async backlog(pool: string): Promise<{ waiting: number; claimed: number }> {
        const [[, len], [, pending]] = (await this.redis.multi().xlen(this.keys.queue(pool)).xpending(this.keys.queue(pool), GROUP).exec()) as [[null, number], [null, unknown[] | null]];
        const claimed = Array.isArray(pending) ? Number(pending[0] ?? 0) : 0;
        return { waiting: Math.max(0, len - claimed), claimed };
    }
}

/**
 * Valkey's refusals as API errors in the OpenAI shape, instead of a 500 with a stack trace:
 * full is 507: `-OOM command not allowed when used memory > 'maxmemory'.` (server.c
 * shared.oomerr, a write under maxmemory-policy noeviction), `-OOM allow-oom flag is not set on
 * the script ...` (script.c, a `#!lua` script), or EXECABORT of a MULTI holding such a write;
 * unreachable is 503. Anything else is left as it is.
 */
export function storeError(e: unknown): unknown {
    if (e instanceof GatewayError) return e;
    const msg = (e as Error)?.message ?? "";
    if (/^(EXECABORT.*)?OOM\b|\bOOM command not allowed/.test(msg)) {
        return new GatewayError(507, "server_error", "batch_storage_full", "The batch store (Valkey) is full and refuses new data (maxmemory reached, no eviction). Delete files and batches no longer needed, wait for their retention (batch.retention) to free space, or give Valkey more memory (serving.batch.memoryMiB)");
    }
    if ((e as Error)?.name === "MaxRetriesPerRequestError" || /ECONNREFUSED|Connection is closed|ETIMEDOUT|ENOTFOUND/.test(msg)) {
        return new GatewayError(503, "service_unavailable", "batch_store_unavailable", "The batch store (Valkey) is unreachable; retry shortly", 5);
    }
    return e;
}
