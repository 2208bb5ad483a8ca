/**
 * The Lua scripts of the batch store (store.ts), each one atomic step on Valkey/Redis (EVAL:
 * a script runs alone, valkey.io/commands/eval). Every script starts with `#!lua` (no flags):
 * Valkey/Redis then refuses the whole script with "-OOM allow-oom flag is not set on the
 * script, ..." when memory is full, instead of running it until its first denied write and
 * leaving it half done (scripts are not rolled back): script.c scriptPrepareForRun, the check
 * skipped only for flag-less EVAL_COMPAT_MODE scripts (Redis 7.0+, kept by Valkey); "Script
 * flags" at valkey.io/topics/eval-intro. Every key a script touches is passed in KEYS.
 *
 * The scripts that can end a batch share one KEYS layout (BKEYS) and the first ARGV (BARGV).
 */
import type { Redis } from "ioredis";

/**
 * KEYS 1-17: batch, done, out, err, index, attempts, entries, active, teamActive, files,
 * outFile, errFile, inFile, inData, inRefs, creating, creator.
 */
const BKEYS = 17;
/* BARGV, the first five ARGV of those scripts: now, nowms, batchId, outId, errId. */

/**
 * Ends the batch once every line is done; sets the retention TTLs (nothing of a running batch
 * ever expires), drops its line index and bookkeeping, and unpins its input file's data (the
 * data then follows the file's own expiry, or goes at once if the file has expired or was deleted).
 */
const FINALIZE = `#!lua
local function unpin(batchId)
  redis.call('SREM', KEYS[15], batchId)
  if redis.call('SCARD', KEYS[15]) == 0 then
    local ttl = redis.call('PTTL', KEYS[13])
    if ttl == -2 then redis.call('DEL', KEYS[14]) elseif ttl > 0 then redis.call('PEXPIRE', KEYS[14], ttl) end
  end
end
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
  redis.call('DEL', KEYS[5], KEYS[6], KEYS[7], KEYS[17])
  redis.call('ZREM', KEYS[16], batchId)
  unpin(batchId)
  redis.call('EXPIRE', KEYS[1], bttl)
  redis.call('EXPIRE', KEYS[2], bttl)
  return 2
end
`;

/** KEYS: BKEYS, stream. ARGV: BARGV, idx, kind (o|e), line, group, entryId, pool. */
const FINISH_LINE = `${FINALIZE}
if ARGV[10] ~= '' then
  redis.call('XACK', KEYS[18], ARGV[9], ARGV[10])
  redis.call('XDEL', KEYS[18], ARGV[10])
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

/**
 * KEYS: BKEYS. ARGV: BARGV. Validating -> in_progress once every line is queued (not if it was
 * cancelled or expired meanwhile). A runner may have finished every line already (a small batch,
 * a fast worker: FINISH_LINE records lines of a validating batch, but FINALIZE ends only a batch
 * in progress), so it finalizes here too; otherwise such a batch would stay in_progress for ever.
 */
const START = `${FINALIZE}
if redis.call('HGET', KEYS[1], 'status') ~= 'validating' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'in_progress', 'in_progress_at', ARGV[1])
redis.call('DEL', KEYS[17])
redis.call('ZREM', KEYS[16], ARGV[3])
finalize()
return 1
`;

/**
 * KEYS: BKEYS. ARGV: BARGV, errors (JSON), batch TTL. A batch that cannot run (its input failed
 * validation, or its creation was interrupted too often): failed, no longer in progress, nothing
 * of it kept but the batch object (its queue entries are dropped by the caller first).
 */
const FAIL = `${FINALIZE}
if redis.call('HGET', KEYS[1], 'status') ~= 'validating' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'failed', 'failed_at', ARGV[1], 'errors', ARGV[6])
redis.call('SREM', KEYS[8], ARGV[3])
redis.call('SREM', KEYS[9], ARGV[3])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[17])
redis.call('ZREM', KEYS[16], ARGV[3])
unpin(ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[7])
return 1
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
 * A new batch, if the team is under its limit of batches in progress and its input file is
 * there, in one step (two concurrent creates cannot both pass the limit): recorded as
 * validating, its input file's data pinned (no expiry while the batch may read it), and put on
 * the list of batches to create (creation runs in the background: create.ts).
 * KEYS: teamActive, active, batch, batches, inFile, inData, inRefs, creating.
 * ARGV: limit, nowms, id, team, then the batch's field/value pairs.
 * -1: created; -2: no such input file of this team; otherwise the team's count in progress.
 */
const RESERVE = `#!lua
local f = redis.call('HMGET', KEYS[5], 'team', 'purpose', 'batch')
if f[1] ~= ARGV[4] or f[2] ~= 'batch' or f[3] or redis.call('EXISTS', KEYS[6]) == 0 then return -2 end
local n = redis.call('SCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then return n end
redis.call('HSET', KEYS[3], unpack(ARGV, 5))
redis.call('SADD', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[7], ARGV[3])
redis.call('PERSIST', KEYS[6])
redis.call('ZADD', KEYS[8], ARGV[2], ARGV[3])
return -1
`;

/**
 * The lease of a batch's creation (one replica at a time; another takes over when it lapses).
 * KEYS: batch, creator, creating. ARGV: owner, leaseMs, batchId. The attempt number when taken;
 * 0 when another replica holds it; -1 when the batch is no longer validating (dropped from the list).
 */
const ACQUIRE = `#!lua
if redis.call('HGET', KEYS[1], 'status') ~= 'validating' then
  redis.call('ZREM', KEYS[3], ARGV[3])
  return -1
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('HINCRBY', KEYS[1], 'create_attempts', 1) end
return 0
`;

/** KEYS: creator. ARGV: owner, leaseMs. 1: renewed; 0: lost. */
const RENEW = `#!lua
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/**
 * Validation passed: the batch's counts, and the queueing cursor at the start (unless a previous
 * attempt got there: it then resumes from its cursor). KEYS: batch, creator. ARGV: owner, then
 * field/value pairs. 1: queue from the cursor; 0: lease lost; -1: no longer validating.
 */
const BEGIN_QUEUE = `#!lua
if redis.call('HGET', KEYS[1], 'status') ~= 'validating' then return -1 end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'phase') == 'queueing' then return 1 end
redis.call('HSET', KEYS[1], 'phase', 'queueing', 'queued_line', '0', 'queued_off', '0', unpack(ARGV, 2))
return 1
`;

/**
 * One chunk of lines queued, with the cursor that follows it, atomically: after a crash the
 * next attempt resumes exactly after the last chunk written, so no line is queued twice or lost.
 * Each line gets its index entry (JSON [offset, length, custom_id] into the input file) and
 * either a queue entry on its pool's stream, or (a request the chat route would refuse) its
 * answer in the error file at once.
 * KEYS: batch, index, entries, done, err, creator, then one queue (stream) per pool.
 * ARGV: batchId, owner, nextLine, nextOffset, pool count P, P pool names, then per line:
 * idx, pool number (1..P; 0: refused), index value, error line ('' unless refused).
 * 1: written; 0: lease lost; -1: no longer validating (cancelled, expired).
 */
const QUEUE_CHUNK = `#!lua
if redis.call('HGET', KEYS[1], 'status') ~= 'validating' then return -1 end
if redis.call('GET', KEYS[6]) ~= ARGV[2] then return 0 end
local np = tonumber(ARGV[5])
local entries = {}
local failed, errBytes = 0, 0
for k = 6 + np, #ARGV, 4 do
  local idx, poolNo = ARGV[k], tonumber(ARGV[k + 1])
  redis.call('HSET', KEYS[2], idx, ARGV[k + 2])
  if poolNo == 0 then
    if redis.call('HSETNX', KEYS[4], idx, 'e') == 1 then
      redis.call('HSET', KEYS[5], idx, ARGV[k + 3])
      failed = failed + 1
      errBytes = errBytes + #ARGV[k + 3] + 1
    end
  else
    local id = redis.call('XADD', KEYS[6 + poolNo], '*', 'b', ARGV[1], 'i', idx)
    entries[#entries + 1] = ARGV[5 + poolNo] .. ' ' .. id
  end
end
if #entries > 0 then redis.call('RPUSH', KEYS[3], unpack(entries)) end
if failed > 0 then
  redis.call('HINCRBY', KEYS[1], 'failed', failed)
  redis.call('HINCRBY', KEYS[1], 'err_bytes', errBytes)
end
redis.call('HSET', KEYS[1], 'queued_line', ARGV[3], 'queued_off', ARGV[4])
return 1
`;

/**
 * Deletes a file: its object, its listing, its data unless a running batch still reads it (the
 * batch's end drops it then), and for a batch's output or error file the results behind it.
 * KEYS: file, data, refs, files, results.
 */
const DELETE_FILE = `#!lua
redis.call('DEL', KEYS[1], KEYS[5])
redis.call('ZREM', KEYS[4], ARGV[1])
if redis.call('SCARD', KEYS[3]) == 0 then redis.call('DEL', KEYS[2]) end
return 1
`;

/**
 * One piece of an upload: the first creates the data key (expiring at the upload's deadline,
 * so an interrupted upload leaves nothing behind), the next ones append only if it is still
 * there (a piece arriving after the upload was abandoned creates nothing). The global pending
 * reservation shrinks by what is now stored. KEYS: data, pending. ARGV: piece, pending field, first (1|0), deadline ms.
 * 1: stored; -1: the upload's data is gone.
 */
const UPLOAD_PIECE = `#!lua
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('APPEND', KEYS[1], ARGV[1])
else
  return -1
end
redis.call('HINCRBY', KEYS[2], ARGV[2], -#ARGV[1])
return 1
`;

/**
 * The upload is complete: the file is listed, data and object expire together, and its
 * reservation is released. KEYS: file, data, files, teamPending, pending, deadlines.
 * ARGV: id, ttl (s), nowms, pending field, then the file's field/value pairs. 1; -1: data gone.
 */
const COMMIT_UPLOAD = `#!lua
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[4])
redis.call('ZREM', KEYS[6], ARGV[4])
return 1
`;

/** KEYS: lock. ARGV: token. Releases a lock only if it is still ours. */
const UNLOCK = `#!lua
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface Scripts {
    finishLine(...args: string[]): Promise<number>;
    cancelLines(...args: string[]): Promise<number>;
    expireLines(...args: string[]): Promise<number>;
    startBatch(...args: string[]): Promise<number>;
    failBatch(...args: string[]): Promise<number>;
    beginCancel(...args: string[]): Promise<number>;
    beginExpire(...args: string[]): Promise<number>;
    reserve(...args: string[]): Promise<number>;
    acquireCreation(...args: string[]): Promise<number>;
    renewCreation(...args: string[]): Promise<number>;
    beginQueue(...args: string[]): Promise<number>;
    queueChunk(...args: (string | number)[]): Promise<number>;
    deleteFile(...args: string[]): Promise<number>;
    uploadPiece(...args: (string | Buffer)[]): Promise<number>;
    commitUpload(...args: string[]): Promise<number>;
    unlock(...args: string[]): Promise<number>;
}

/** Registers the scripts on a connection (ioredis defineCommand: EVALSHA, falling back to EVAL). */
export function defineScripts(redis: Redis): void {
    const def = (name: keyof Scripts, keys: number, lua: string) => redis.defineCommand(name, { numberOfKeys: keys, lua });
    def("finishLine", BKEYS + 1, FINISH_LINE);
    def("cancelLines", BKEYS, CANCEL_LINES);
    def("expireLines", BKEYS, EXPIRE_LINES);
    def("startBatch", BKEYS, START);
    def("failBatch", BKEYS, FAIL);
    def("beginCancel", 1, BEGIN_CANCEL);
    def("beginExpire", 1, BEGIN_EXPIRE);
    def("reserve", 8, RESERVE);
    def("acquireCreation", 3, ACQUIRE);
    def("renewCreation", 1, RENEW);
    def("beginQueue", 2, BEGIN_QUEUE);
    def("deleteFile", 5, DELETE_FILE);
    def("uploadPiece", 2, UPLOAD_PIECE);
    def("commitUpload", 6, COMMIT_UPLOAD);
    def("unlock", 1, UNLOCK);
    // QUEUE_CHUNK takes one stream key per pool of the batch: the key count is the call's first argument.
    redis.defineCommand("queueChunk", { lua: QUEUE_CHUNK });
}
