/**
 * Storage quotas of the batch store (issue 23 point 4): one team cannot fill Valkey for the
 * others, and the store keeps room for the results of running batches.
 *
 * - Per team: bytes (its files: uploads, outputs, error files; the results of its running
 *   batches; its uploads in progress) and files, checked before an upload reads its body and
 *   before a batch is created: 403 storage_quota_exceeded naming the quota. The defaults share
 *   the store's usable capacity equally among the teams of auth.keys, so every team's quota fits
 *   at once.
 * - The store: uploads and new batches are refused (507 batch_storage_full) once Valkey's used
 *   memory (INFO memory used_memory) plus what uploads in progress will still write would pass
 *   capacity x (1 - headroomFraction). The rest is for results, which are never refused, so a
 *   running batch does not hit OOM because another team uploaded.
 *
 * Usage is computed from the store itself when asked (the team's file list, its running
 * batches, its reservations), not kept in counters that expiry (Redis TTLs) would leave wrong.
 * An upload in progress holds a reservation (its declared size) with a deadline, so a replica
 * that dies mid-upload leaves nothing reserved for long. A short per-team lock in Valkey makes
 * check-and-reserve one step across replicas.
 */
import { randomBytes } from "crypto";
import { GatewayError } from "../errors";
import type { BatchConfig } from "./config";
import { batchLimits } from "./config";
import type { BatchStore } from "./store";

const MiB = 1024 * 1024;
const fmt = (b: number) =>
    b >= 10 * MiB ? `${Math.round(b / MiB)} MiB` : b >= MiB ? `${(b / MiB).toFixed(1)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} bytes`;
const LOCK_MS = 5000;

interface Usage {
    bytes: number;
    files: number;
}

function quotaExceeded(message: string): GatewayError {
    return new GatewayError(403, "invalid_request_error", "storage_quota_exceeded", message);
}

function storeFull(message: string): GatewayError {
    return new GatewayError(507, "server_error", "batch_storage_full", message);
}

export class StorageQuota {
    constructor(
        private readonly store: BatchStore,
        private readonly cfg: BatchConfig,
        /** Teams sharing the store (the gateway config's known teams). */
        private readonly teams: number,
    ) {}

    /** Valkey's memory now: used_memory, and the capacity (batch.storage.storeBytes, else its maxmemory; undefined: unbounded). One INFO, ~0.1 ms. */
    private async memory(): Promise<{ used: number; capacity: number | undefined }> {
        const info = await this.store.redis.info("memory");
        const n = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, "m").exec(info)?.[1] ?? 0);
        const max = n("maxmemory");
        return { used: n("used_memory"), capacity: this.cfg.storage.storeBytes ?? (max > 0 ? max : undefined) };
    }

    async capacity(): Promise<number | undefined> {
        return this.cfg.storage.storeBytes ?? (await this.memory()).capacity;
    }

    /** The team's byte quota: its own maxStoredBytes, else an equal share of what uploads may use. */
    async bytesLimit(team: string): Promise<number | undefined> {
        const own = batchLimits(this.cfg, team).maxStoredBytes;
        if (own !== undefined) return own;
        const cap = await this.capacity();
        return cap === undefined ? undefined : Math.floor((cap * (1 - this.cfg.storage.headroomFraction)) / Math.max(1, this.teams));
    }

    /** What the team holds now (reservations that passed their deadline are dropped first). */
    async usage(team: string): Promise<Usage> {
        const k = this.store.keys;
        const redis = this.store.redis;
        await this.dropLapsed();
        const snap = (await redis.multi().zrange(k.files(team), "0", "-1").hgetall(k.teamPending(team)).smembers(k.teamActive(team)).exec()) ?? [];
        const [files, pending, active] = snap.map(([e, v]) => {
            if (e) throw e;
            return v;
        }) as [string[], Record<string, string>, string[]];
        const p = redis.pipeline();
        for (const id of files) p.hget(k.file(id), "bytes");
        for (const id of active) p.hmget(k.batch(id), "out_bytes", "err_bytes");
        const res = ((await p.exec()) ?? []).map(([, v]) => v);
        let bytes = 0;
        let count = 0;
        files.forEach((_, i) => {
            const b = res[i] as string | null;
            if (b === null) return; // expired (retention) or deleted since it was listed
            bytes += Number(b);
            count++;
        });
        active.forEach((_, i) => {
            const [o, e] = (res[files.length + i] as (string | null)[] | null) ?? [];
            bytes += Number(o ?? 0) + Number(e ?? 0);
        });
        for (const v of Object.values(pending)) bytes += Math.max(0, Number(v));
        return { bytes, files: count + Object.keys(pending).length };
    }

    /** Reservations whose upload passed its deadline (a replica died mid-upload): released. */
    private async dropLapsed(): Promise<void> {
        const k = this.store.keys;
        const lapsed = await this.store.redis.zrangebyscore(k.pendingDeadlines, "-inf", Date.now());
        if (lapsed.length === 0) return;
        const m = this.store.redis.multi();
        for (const member of lapsed) {
            const [team, id] = member.split(" ");
            m.hdel(k.teamPending(team), id).hdel(k.pending, member).zrem(k.pendingDeadlines, member);
        }
        await m.exec();
    }

    /** Refuses (507) when the store has no room for `bytes` more without eating into the headroom kept for results. */
    private async checkStore(bytes: number, what: string): Promise<void> {
        const [{ used, capacity: cap }, pendingValues] = await Promise.all([this.memory(), this.store.redis.hvals(this.store.keys.pending)]);
        if (cap === undefined) return;
        const pending = pendingValues.reduce((a, v) => a + Math.max(0, Number(v)), 0);
        const line = Math.floor(cap * (1 - this.cfg.storage.headroomFraction));
        if (used + pending + bytes > line) {
            throw storeFull(
                `The batch store has no room for ${what}: Valkey uses ${fmt(used)}${pending > 0 ? ` and uploads in progress will add ${fmt(pending)}` : ""}, and new data may use ${fmt(line)} of its ${fmt(cap)} (maxmemory); ` +
                    `the rest is kept for the results of running batches (batch.storage.headroomFraction). Delete files no longer needed, wait for their retention to free space, or give Valkey more memory (serving.batch.memoryMiB)`,
            );
        }
    }

    private async withLock<T>(team: string, fn: () => Promise<T>): Promise<T> {
        const key = this.store.keys.quotaLock(team);
        const token = randomBytes(8).toString("hex");
        // Held for a few Valkey round trips; several uploads of one team starting at once wait their turn.
        const until = Date.now() + 10_000;
        while ((await this.store.redis.set(key, token, "PX", LOCK_MS, "NX")) !== "OK") {
            if (Date.now() > until)
                throw new GatewayError(
                    503,
                    "service_unavailable",
                    "storage_busy",
                    "Another upload of this team is being checked against its storage quota; retry shortly",
                    1,
                );
            await new Promise((r) => setTimeout(r, 20));
        }
        try {
            return await fn();
        } finally {
            await this.store.redis.unlock(key, token).catch(() => undefined);
        }
    }

    /**
     * Reserves room for an upload of at most `bytes` (its declared size), after the team's
     * quotas and the store's room are checked; throws the 403/507 to send otherwise. The
     * reservation lapses at `deadlineMs` unless committed (COMMIT_UPLOAD) or released.
     */
    async reserveUpload(team: string, id: string, bytes: number, deadlineMs: number): Promise<void> {
        await this.checkStore(bytes, `an upload of up to ${fmt(bytes)}`);
        const k = this.store.keys;
        const limit = await this.bytesLimit(team);
        const maxFiles = batchLimits(this.cfg, team).maxStoredFiles;
        await this.withLock(team, async () => {
            const u = await this.usage(team);
            if (u.files + 1 > maxFiles) {
                throw quotaExceeded(
                    `Team '${team}' keeps ${u.files} files in the batch store, its limit (batch.limits maxStoredFiles ${maxFiles}); delete files it no longer needs (DELETE /v1/files/{id}) or wait for them to expire`,
                );
            }
            if (limit !== undefined && u.bytes + bytes > limit) {
                throw quotaExceeded(
                    `Team '${team}' keeps ${fmt(u.bytes)} in the batch store; this upload (up to ${fmt(bytes)}) would pass its storage quota of ${fmt(limit)} (batch.limits maxStoredBytes). Delete files it no longer needs (DELETE /v1/files/{id}) or wait for them to expire`,
                );
            }
            const member = `${team} ${id}`;
            const r = await this.store.redis
                .multi()
                .hset(k.teamPending(team), id, String(bytes))
                .hset(k.pending, member, String(bytes))
                .zadd(k.pendingDeadlines, deadlineMs, member)
                .exec();
            const failed = (r ?? []).find(([e]) => e);
            if (failed) throw failed[0]!;
        });
    }

    /** Releases an upload's reservation (it failed or was refused). */
    async releaseUpload(team: string, id: string): Promise<void> {
        const k = this.store.keys;
        const member = `${team} ${id}`;
        await this.store.redis.multi().hdel(k.teamPending(team), id).hdel(k.pending, member).zrem(k.pendingDeadlines, member).exec();
    }

    /** Before a batch is created: the team within its quota (its results need room) and the store below its line. */
    async checkCreate(team: string): Promise<void> {
        await this.checkStore(0, "the results of a new batch");
        const limit = await this.bytesLimit(team);
        if (limit === undefined) return;
        const u = await this.usage(team);
        if (u.bytes >= limit) {
            throw quotaExceeded(
                `Team '${team}' keeps ${fmt(u.bytes)} in the batch store, its whole storage quota of ${fmt(limit)} (batch.limits maxStoredBytes): a new batch would have no room for its results. Delete files it no longer needs (DELETE /v1/files/{id}) or wait for them to expire`,
            );
        }
    }
}
