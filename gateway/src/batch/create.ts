/**
 * Creating a batch, in the background and resumable (issue 23 points 2 and 5).
 *
 * POST /v1/batches only records the batch (validating) and its place in the `creating` list
 * (store.reserve, after the team's limits); the work is done here, by any gateway replica:
 * 1. validate: the input file is read from Valkey a piece at a time and every line checked
 *    (validate.ts); envelope problems fail the batch with their line numbers;
 * 2. queue: the lines are indexed and queued a chunk at a time, each chunk written together
 *    with the cursor that follows it (QUEUE_CHUNK, one atomic script), then the batch starts.
 * A replica works on a batch under a lease it renews; if it dies, the lease lapses
 * (batch.leaseSeconds) and the next replica to sweep (every metricsIntervalSeconds) resumes:
 * validation again from the start (it writes nothing), queueing from the cursor, so no line is
 * queued twice or lost. A batch whose creation is interrupted MAX_ATTEMPTS times fails with a
 * clear error instead of holding one of the team's places for 24 h.
 *
 * Memory: one piece of the file (1 MiB), the line being checked, and the custom_id digests of
 * the file (~80 bytes a line) per creation, `createConcurrency` creations per replica at most,
 * whatever the number of POSTs.
 */
import type { Logger } from "../log";
import type { BatchConfig } from "./config";
import { batchLimits } from "./config";
import { newLineRequestId, outputLine } from "./objects";
import { BatchStore, encodeIndex } from "./store";
import { checkLine, fileLines, isBlank, LineRules, maxLineBytes, scanFile } from "./validate";

/** Attempts at creating one batch before it fails (a creation interrupted by crashes this often will not finish by itself). */
const MAX_ATTEMPTS = 3;
/** Lines per queueing chunk, and the most bytes of error lines in one. */
const CHUNK_LINES = 500;
const CHUNK_ERROR_BYTES = 1024 * 1024;

export interface CreatorDeps {
    readonly store: BatchStore;
    readonly cfg: BatchConfig;
    readonly rules: LineRules;
    readonly log: Logger;
    /** This replica's name in leases. */
    readonly consumer: string;
}

export class BatchCreator {
    private readonly running = new Map<string, Promise<void>>();
    private scanning: Promise<void> | undefined;
    private stopped = false;

    constructor(private readonly d: CreatorDeps) {}

    /** Takes batches waiting to be created, up to createConcurrency at once on this replica. */
    kick(): Promise<void> {
        if (this.stopped || this.running.size >= this.d.cfg.createConcurrency) return Promise.resolve();
        return (this.scanning ??= this.scan()
            .catch((e: unknown) => this.d.log.warn({ err: (e as Error).message }, "batch: reading the batches to create failed; retrying"))
            .finally(() => (this.scanning = undefined)));
    }

    /**
     * A batch just recorded: starts its creation here if this replica has room, and waits for it
     * up to `ms` (small files are then answered validated and queued, like a synchronous API).
     */
    async createSoon(id: string, ms: number): Promise<void> {
        // A scan already under way may have read the list before this batch was on it.
        if (this.scanning) await this.scanning;
        await this.kick();
        const job = this.running.get(id);
        if (job === undefined || ms <= 0) return;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([job, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
        clearTimeout(timer);
    }

    private async scan(): Promise<void> {
        const { store, cfg } = this.d;
        const ids = await store.redis.zrange(store.keys.creating, "0", String(cfg.createConcurrency * 8 - 1));
        for (const id of ids) {
            if (this.stopped || this.running.size >= cfg.createConcurrency) return;
            if (this.running.has(id)) continue;
            const attempt = await store.redis.acquireCreation(
                store.keys.batch(id),
                store.keys.creator(id),
                store.keys.creating,
                this.d.consumer,
                String(cfg.leaseSeconds * 1000),
                id,
            );
            if (attempt <= 0) continue; // another replica has it, or it is no longer validating
            const job = this.run(id, attempt).finally(() => {
                this.running.delete(id);
                void this.kick();
            });
            this.running.set(id, job);
        }
    }

    /** Stops taking work; creations in progress stop at their next chunk (their lease then hands them on). */
    async stop(): Promise<void> {
        this.stopped = true;
        await Promise.all(this.running.values());
    }

    private async run(id: string, attempt: number): Promise<void> {
        const { store, cfg, log } = this.d;
        const owner = this.d.consumer;
        const leaseMs = cfg.leaseSeconds * 1000;
        let lost = false;
        const renew = setInterval(
            () => {
                void store.redis.renewCreation(store.keys.creator(id), owner, String(leaseMs)).then(
                    (r) => (lost ||= r !== 1),
                    () => undefined, // Valkey unreachable: the lease may lapse; QUEUE_CHUNK checks it before every write
                );
            },
            Math.max(100, leaseMs / 3),
        );
        const active = () => !lost && !this.stopped;
        try {
            const b = await store.getBatch(id);
            if (!b || b.status !== "validating") return;
            const batchTtl = Number(b.batch_ttl ?? 2_592_000);
            if (attempt > MAX_ATTEMPTS) {
                await store.fail(
                    id,
                    [
                        {
                            code: "batch_creation_failed",
                            message: `Creating this batch was interrupted ${attempt - 1} times (a gateway stopped while validating or queueing it); create it again`,
                            param: null,
                            line: null,
                        },
                    ],
                    batchTtl,
                );
                log.warn({ batch: id, attempts: attempt - 1 }, "batch: creation interrupted too often; failed");
                return;
            }
            const rules = this.d.rules;
            const size = Number(b.input_bytes ?? 0);
            const read = (offset: number, length: number) => store.readData(b.input_file_id, offset, length);
            const maxLine = maxLineBytes(rules);
            if (b.phase !== "queueing") {
                const scan = await scanFile(fileLines(read, size, { offset: 0, no: 1 }, maxLine), rules, batchLimits(cfg, b.team).maxLinesPerBatch);
                if (!active()) return;
                if (scan.errors.length > 0) {
                    await store.fail(id, scan.errors, batchTtl);
                    log.info({ batch: id, team: b.team, errors: scan.errors.length }, "batch: input failed validation");
                    return;
                }
                const pools = [...scan.perPool.keys()].filter((p) => p !== "");
                for (const p of pools) await store.ensureGroup(p);
                const fields: string[] = ["total", String(scan.total), "pools", JSON.stringify(pools)];
                for (const p of pools) fields.push(`total:${p}`, String(scan.perPool.get(p)), `done:${p}`, "0");
                if ((await store.redis.beginQueue(store.keys.batch(id), store.keys.creator(id), owner, ...fields)) !== 1) return;
            }
            if (!(await this.queue(id, b.team, read, size, maxLine, active))) return;
            await store.start(id);
            log.info({ batch: id, team: b.team, attempt }, "batch: created");
        } catch (e) {
            // Valkey unreachable or full: the lease lapses and a later sweep resumes (at most MAX_ATTEMPTS times).
            log.warn({ batch: id, err: (e as Error).message }, "batch: creation interrupted; it resumes after its lease");
        } finally {
            clearInterval(renew);
        }
    }

    /** Queues the lines from the batch's cursor; false if it had to stop (lease lost, batch cancelled or expired, shutting down). */
    private async queue(
        id: string,
        team: string,
        read: (o: number, n: number) => Promise<Buffer>,
        size: number,
        maxLine: number,
        active: () => boolean,
    ): Promise<boolean> {
        const { store } = this.d;
        const k = store.keys;
        const [line, off, poolsJson] = await store.redis.hmget(k.batch(id), "queued_line", "queued_off", "pools");
        const pools = JSON.parse(poolsJson ?? "[]") as string[];
        let idx = Number(line ?? 0);
        let args: (string | number)[] = [];
        let errorBytes = 0;
        let end = Number(off ?? 0);
        const flush = async (): Promise<boolean> => {
            const keys = [k.batch(id), k.index(id), k.entries(id), k.done(id), k.err(id), k.creator(id), ...pools.map((p) => k.queue(p))];
            const r = await store.redis.queueChunk(
                keys.length,
                ...keys,
                id,
                this.d.consumer,
                String(idx),
                String(end),
                String(pools.length),
                ...pools,
                ...args,
            );
            args = [];
            errorBytes = 0;
            return r === 1;
        };
        for await (const l of fileLines(read, size, { offset: end, no: 0 }, maxLine)) {
            if (!active()) return false;
            if (isBlank(l)) continue; // only trailing blank lines get here: others failed validation
            const c = l.buf ? checkLine(l.buf, l.start, l.end, idx + 1, this.d.rules, false) : undefined;
            if (c === undefined || c.kind === "invalid") throw new Error(`line ${idx + 1} no longer passes validation (the input changed)`);
            const entry = encodeIndex({ offset: l.offset, length: l.length, customId: c.customId });
            if (c.kind === "request") {
                args.push(String(idx), String(pools.indexOf(c.pool) + 1), entry, "");
            } else {
                const err = outputLine(c.customId, {
                    status: c.error.status,
                    requestId: newLineRequestId(),
                    body: Buffer.from(JSON.stringify(c.error.body())),
                });
                args.push(String(idx), "0", entry, err);
                errorBytes += err.length;
            }
            idx++;
            end = l.next;
            if (args.length / 4 >= CHUNK_LINES || errorBytes >= CHUNK_ERROR_BYTES) {
                if (!(await flush())) return false;
            }
        }
        if (args.length > 0 && !(await flush())) return false;
        return active();
    }
}

/** The error file's line for a line that was never run (expired). */
export function expiredLine(customId: string): string {
    return outputLine(customId, undefined, { code: "batch_expired", message: "This request could not be executed before the completion window expired." });
}
