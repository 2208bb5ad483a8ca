/**
 * The `batch` section of the gateway config (OpenAI Batch API on Valkey/Redis).
 * Absent: the /v1/files and /v1/batches routes answer 404 (feature off).
 */
import { z } from "zod";

const REDIS_URL = /^rediss?:\/\/[^\s]+$/;

export const batchLimitsSchema = z.strictObject({
    /** Lines (requests) in one batch. @default 50000 (OpenAI's own limit) */
    maxLinesPerBatch: z.int().positive().default(50_000),
    /** Bytes of one uploaded JSONL file. @default 209715200 (200 MiB, OpenAI's own limit) */
    maxFileBytes: z
        .int()
        .positive()
        .default(200 * 1024 * 1024),
    /** Batches of one team in validating / in_progress / cancelling at once. @default 10 */
    maxBatchesInProgress: z.int().positive().default(10),
    /**
     * Bytes one team may keep in the batch store: its files (uploads, outputs, error files), the
     * results of its running batches and its uploads in progress. Over it, uploads and new batches
     * get 403 storage_quota_exceeded (running batches always finish).
     * @default the store's usable capacity (storage) shared equally by the teams of auth.keys
     */
    maxStoredBytes: z.int().positive().optional(),
    /** Files one team may keep (uploads, outputs, error files). @default 1000 */
    maxStoredFiles: z.int().positive().default(1000),
});

export const batchConfigSchema = z.strictObject({
    /** Valkey/Redis URL without the password: redis://host:port[/db], rediss:// for TLS (ElastiCache). The password comes from env GATEWAY_BATCH_REDIS_PASSWORD (a Secret), never the ConfigMap. */
    redisUrl: z.string().regex(REDIS_URL, "must be a redis:// or rediss:// URL, e.g. redis://valkey:6379"),
    /** Key prefix; the {braces} are a Redis Cluster hash tag, so every key (and each Lua script) lives in one slot. @default "gpuserve:{batch}:" */
    keyPrefix: z.string().min(1).default("gpuserve:{batch}:"),
    /** A line claimed by a replica that stopped renewing it is run again by another replica after this long. @default 30 */
    leaseSeconds: z.number().positive().default(30),
    /** Batch lines in flight per upstream (worker) at most. @default 4 */
    concurrencyPerUpstream: z.int().positive().default(4),
    /** Slots per upstream (of pools[].maxConcurrentPerUpstream) batch lines never take, so an arriving interactive request finds one free. @default 2 */
    reservedSlotsPerUpstream: z.int().nonnegative().default(2),
    /** Attempts per line on a failing worker (5xx, connection error) before it goes to the error file. @default 3 */
    maxAttempts: z.int().positive().default(3),
    /** How often backlog gauges are read from Valkey. @default 5 */
    metricsIntervalSeconds: z.number().positive().default(5),
    /**
     * How long the "24h" completion window lasts, in seconds: a batch not finished by then ends
     * `expired` (its unrun lines go to the error file as `batch_expired`). Only tests shorten it;
     * the API accepts no other window than "24h". @default 86400
     */
    completionWindowSeconds: z.number().positive().default(86_400),
    /**
     * How long things stay in Valkey (Redis TTLs; eviction is off, so nothing else frees memory).
     * Data of a batch that is still running never expires: its TTLs are set when it ends.
     */
    retention: z
        .strictObject({
            /** Days an uploaded input file is kept, unless the upload sets `expires_after`. @default 30 (OpenAI's default for purpose=batch) */
            inputFileDays: z.number().positive().default(30),
            /** Days a finished batch's output and error files are kept, unless the batch sets `output_expires_after`. @default 30 */
            outputFileDays: z.number().positive().default(30),
            /** Days a finished batch object stays retrievable and listed. @default 30 */
            batchDays: z.number().positive().default(30),
        })
        .prefault({}),
    /** The store's capacity, and what of it uploads may not take. */
    storage: z
        .strictObject({
            /** Bytes of data Valkey may hold (its maxmemory). @default Valkey's own maxmemory (INFO memory), read at run time; no bound when that is 0 */
            storeBytes: z.int().positive().optional(),
            /**
             * Share of storeBytes kept for the results of running batches: uploads and new batches are
             * refused (507) once Valkey's used memory would pass storeBytes x (1 - this). @default 0.25
             */
            headroomFraction: z.number().min(0.05).max(0.9).default(0.25),
        })
        .prefault({}),
    /**
     * How long an upload (POST /v1/files) may take to arrive; every other request keeps
     * requestTimeoutSeconds. 200 MiB at 20 Mbit/s takes ~85 s. @default 600
     */
    uploadTimeoutSeconds: z.number().positive().max(3600).default(600),
    /** Batch creations (validating and queueing a file) one gateway runs at once; more wait their turn as `validating`. @default 1 */
    createConcurrency: z.int().positive().max(8).default(1),
    /** How long POST /v1/batches waits for the batch's creation before answering with it still `validating`. @default 5 */
    createWaitSeconds: z.number().nonnegative().max(60).default(5),
    /** Per-team limits: `teams[<team>]` overrides `default`. */
    limits: z
        .strictObject({
            default: batchLimitsSchema.prefault({}),
            teams: z.record(z.string(), batchLimitsSchema).default({}),
        })
        .prefault({}),
});

export type BatchConfig = z.output<typeof batchConfigSchema>;
export type BatchLimits = z.output<typeof batchLimitsSchema>;

/** Days to a TTL in whole seconds (at least 1). */
export const ttlSeconds = (days: number): number => Math.max(1, Math.round(days * 86_400));

export function batchLimits(config: BatchConfig, team: string): BatchLimits {
    return config.limits.teams[team] ?? config.limits.default;
}
