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
    maxFileBytes: z.int().positive().default(200 * 1024 * 1024),
    /** Batches of one team in validating / in_progress / cancelling at once. @default 10 */
    maxBatchesInProgress: z.int().positive().default(10),
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

export function batchLimits(config: BatchConfig, team: string): BatchLimits {
    return config.limits.teams[team] ?? config.limits.default;
}
