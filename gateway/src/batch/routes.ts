/**
 * The OpenAI Batch API routes, inside the gateway's /v1 scope (so API-key auth, drain refusal
 * and per-request accounting apply): /v1/files and /v1/batches. A team sees only its own
 * files and batches; another team's id answers 404 exactly like an unknown one.
 * Wired by one call in server.ts; absent `batch` config, nothing is registered.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { GatewayConfig } from "../config";
import { errors, GatewayError } from "../errors";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import type { Pool } from "../pool";
import { batchLimits, ttlSeconds } from "./config";
import { BatchMetrics } from "./metrics";
import { parseMultipart } from "./multipart";
import { batchObject, fileObject, ID, newBatchId, newFileId } from "./objects";
import { BatchRunner } from "./runner";
import { BatchStore, connect, storeError } from "./store";
import { LineError, scanEvery, yielding } from "./validate";

export interface BatchDeps {
    config: GatewayConfig;
    pools: ReadonlyMap<string, Pool>;
    metrics: Metrics;
    log: Logger;
    isDraining: () => boolean;
    /** The team's budget refusal (billing/), checked before a batch is created. */
    refusal?: (team: string) => GatewayError | undefined;
}

const ENDPOINT = "/v1/chat/completions";
const WINDOW = "24h";
const notFound = (what: string, id: string) => new GatewayError(404, "invalid_request_error", "not_found", `No such ${what}: '${id.slice(0, 80)}' (or it belongs to another team)`);

function team(request: FastifyRequest): string {
    return request.gw.team!;
}

function jsonBody(request: FastifyRequest): Record<string, unknown> {
    const raw = request.body as Buffer | undefined;
    if (!raw || raw.length === 0) return {};
    let v: unknown;
    try {
        v = JSON.parse(raw.toString("utf8"));
    } catch (e) {
        throw errors.badRequest(`The request body is not valid JSON: ${(e as Error).message}`, "invalid_json");
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw errors.badRequest("The request body must be a JSON object", "invalid_json");
    return v as Record<string, unknown>;
}

function pageArgs(query: unknown): { limit: number; after: string | undefined } {
    const q = (query ?? {}) as Record<string, string | undefined>;
    const limit = q.limit === undefined ? 20 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw errors.badRequest(`'limit' must be an integer from 1 to 100 (got ${JSON.stringify(q.limit)})`, "invalid_limit");
    if (q.after !== undefined && !ID.test(q.after)) throw errors.badRequest("'after' must be an id from a previous page", "invalid_after");
    return { limit, after: q.after };
}

/**
 * `expires_after` (file upload) / `output_expires_after` (batch create): {anchor: "created_at",
 * seconds: 3600..2592000}, as openai-node 6.30.1 types them (resources/files.d.ts
 * FileCreateParams.ExpiresAfter, resources/batches.d.ts BatchCreateParams.OutputExpiresAfter).
 */
function expiresAfter(name: string, anchor: unknown, seconds: unknown): number | undefined {
    if (anchor === undefined && seconds === undefined) return undefined;
    const n = typeof seconds === "string" && /^\d+$/.test(seconds) ? Number(seconds) : seconds;
    if (anchor !== "created_at" || typeof n !== "number" || !Number.isInteger(n) || n < 3600 || n > 2_592_000) {
        throw errors.badRequest(`'${name}' must be {"anchor": "created_at", "seconds": 3600 to 2592000} (got anchor ${JSON.stringify(anchor ?? null)}, seconds ${JSON.stringify(seconds ?? null)})`, `invalid_${name}`);
    }
    return n;
}

function validMetadata(m: unknown): Record<string, string> | undefined {
    if (m === undefined || m === null) return undefined;
    const bad = () => errors.badRequest("'metadata' must be an object of at most 16 string values (keys up to 64, values up to 512 characters)", "invalid_metadata");
    if (typeof m !== "object" || Array.isArray(m)) throw bad();
    const entries = Object.entries(m as Record<string, unknown>);
    if (entries.length > 16 || entries.some(([k, v]) => k.length > 64 || typeof v !== "string" || v.length > 512)) throw bad();
    return m as Record<string, string>;
}

export function registerBatchRoutes(v1: FastifyInstance, deps: BatchDeps): void {
    const cfg = deps.config.batch;
    if (cfg === undefined) return;
    const redis = connect(cfg, "gpuserve-gateway");
    redis.on("error", (e: Error) => deps.log.warn({ err: e.message }, "batch: Valkey connection error"));
    const store = new BatchStore(redis, cfg);
    const bm = new BatchMetrics(deps.metrics);
    const runner = new BatchRunner(store, deps.pools, cfg, bm, deps.log, deps.isDraining);
    const poolByModel = new Map<string, string>();
    for (const p of deps.config.pools) for (const m of p.models) poolByModel.set(m, p.name);
    const maxUpload = Math.max(cfg.limits.default.maxFileBytes, ...Object.values(cfg.limits.teams).map((l) => l.maxFileBytes));

    v1.addHook("onReady", async () => runner.start());
    // Valkey full or unreachable: an OpenAI-shaped 507/503 from every batch route, not a 500.
    v1.addHook("onRoute", (route) => {
        if (!/^\/v1\/(files|batches)\b/.test(route.url)) return;
        const h = route.handler;
        route.handler = async function (this: unknown, request, reply) {
            try {
                return await (h as (...a: unknown[]) => unknown).call(this, request, reply);
            } catch (e) {
                throw storeError(e);
            }
        };
    });
    v1.addHook("preClose", async () => {
        // SIGTERM (draining) may take the whole drain bound; a forced close only a moment.
        await runner.stop(deps.isDraining() ? deps.config.drainTimeoutSeconds * 1000 : 2000);
        // QUIT waits for a connection: with Valkey unreachable it sits in the offline queue behind the
        // commands already there (ioredis 6.0.0 built/Redis.js sendCommand) for ~10 s of reconnects, past
        // fastify's 10 s close timeout (AVV_ERR_READY_TIMEOUT), so drop the connection instead.
        if (redis.status === "ready") await redis.quit().catch(() => redis.disconnect());
        else redis.disconnect();
    });

    // ---- files
    v1.post("/files", { bodyLimit: maxUpload + 64 * 1024 }, async (request, reply) => {
        const t = team(request);
        const parts = parseMultipart(request.body as Buffer, request.headers["content-type"]);
        const purpose = parts.find((p) => p.name === "purpose")?.data.toString("utf8");
        const file = parts.find((p) => p.name === "file");
        if (purpose !== "batch") throw errors.badRequest(`'purpose' must be "batch" (got ${JSON.stringify(purpose ?? null)})`, "invalid_purpose");
        if (!file) throw errors.badRequest("The multipart body has no 'file' part", "missing_file");
        const limit = batchLimits(cfg, t).maxFileBytes;
        if (file.data.length > limit) throw new GatewayError(413, "invalid_request_error", "file_too_large", `The file is ${file.data.length} bytes, over this team's limit of ${limit} bytes (batch.limits maxFileBytes)`);
        // The SDK sends nested form fields with brackets: expires_after[anchor], expires_after[seconds] (openai-node 6.30.1 internal/uploads.js addFormValue).
        const field = (n: string) => parts.find((p) => p.name === n)?.data.toString("utf8");
        const ttl = expiresAfter("expires_after", field("expires_after[anchor]"), field("expires_after[seconds]")) ?? ttlSeconds(cfg.retention.inputFileDays);
        const h = await store.createFile({ id: newFileId(), team: t, purpose, filename: (file.filename ?? "input.jsonl").slice(0, 255), data: file.data, ttl });
        return reply.send(fileObject(h));
    });

    v1.get("/files", async (request) => {
        const { limit, after } = pageArgs(request.query);
        const page = await store.listIds(store.keys.files(team(request)), limit, after);
        const data = (await store.listed(store.keys.files(team(request)), page.ids, store.keys.file)).map(fileObject);
        return { object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: page.hasMore };
    });

    const fileOf = async (request: FastifyRequest) => {
        const id = (request.params as { id: string }).id;
        const h = ID.test(id) ? await store.getFile(id, team(request)) : undefined;
        if (!h) throw notFound("file", id);
        return h;
    };
    v1.get("/files/:id", async (request) => fileObject(await fileOf(request)));
    v1.get("/files/:id/content", async (request, reply) => {
        const h = await fileOf(request);
        return reply.type(h.purpose === "batch" || h.batch ? "application/jsonl" : "application/octet-stream").send(store.fileStream(h));
    });
    v1.delete("/files/:id", async (request) => {
        const h = await fileOf(request);
        await store.deleteFile(h);
        return { id: h.id, object: "file", deleted: true };
    });

    // ---- batches
    v1.post("/batches", async (request) => {
        const t = team(request);
        const refused = deps.refusal?.(t);
        if (refused) throw refused;
        const b = jsonBody(request);
        if (typeof b.input_file_id !== "string" || !ID.test(b.input_file_id)) throw errors.badRequest("'input_file_id' is required: the id of a file uploaded with purpose \"batch\"", "invalid_input_file_id");
        if (b.endpoint !== ENDPOINT) throw errors.badRequest(`'endpoint' must be "${ENDPOINT}" (got ${JSON.stringify(b.endpoint ?? null)})`, "invalid_endpoint");
        if (b.completion_window !== WINDOW) throw errors.badRequest(`'completion_window' must be "${WINDOW}" (got ${JSON.stringify(b.completion_window ?? null)})`, "invalid_completion_window");
        const metadata = validMetadata(b.metadata);
        const oea = (b.output_expires_after ?? {}) as Record<string, unknown>;
        const outputTtl = expiresAfter("output_expires_after", oea.anchor, oea.seconds) ?? ttlSeconds(cfg.retention.outputFileDays);
        const batchTtl = ttlSeconds(cfg.retention.batchDays);
        const file = await store.getFile(b.input_file_id, t);
        if (!file || file.batch) throw notFound("file", b.input_file_id);
        const limits = batchLimits(cfg, t);
        const now = Math.floor(Date.now() / 1000);
        const base: Record<string, string> = {
            id: newBatchId(),
            team: t,
            endpoint: ENDPOINT,
            input_file_id: file.id,
            completion_window: WINDOW,
            created_at: String(now),
            expires_at: String(now + cfg.completionWindowSeconds),
            output_ttl: String(outputTtl),
            batch_ttl: String(batchTtl),
            ...(metadata ? { metadata: JSON.stringify(metadata) } : {}),
        };
        const content = await store.fileContent(file);
        // The limit check and the batch's record are one atomic step (two concurrent creates cannot both pass).
        const active = await store.reserve(base, limits.maxBatchesInProgress);
        if (active !== undefined) {
            throw errors.rateLimited(`Team '${t}' has ${active} batches in progress, its limit (batch.limits maxBatchesInProgress); wait for one to finish or cancel one`, 60, "too_many_batches");
        }
        const opts = { endpoint: ENDPOINT, poolOf: (m: string) => poolByModel.get(m), maxLines: limits.maxLinesPerBatch, maxBodyBytes: deps.config.maxBodyBytes };
        // Two passes over the file: validate everything first, then queue a chunk at a time.
        // Both yield to the event loop every few ms: a 200 MB file never stalls other requests.
        const errs: LineError[] = [];
        const perPool = new Map<string, number>();
        try {
            for await (const l of yielding(scanEvery(content, opts, errs))) perPool.set(l.pool, (perPool.get(l.pool) ?? 0) + 1);
            if (errs.length > 0) await store.failValidation(base.id, t, errs, batchTtl);
            else await store.createQueued(base.id, t, yielding(scanEvery(content, opts, [])), perPool);
        } catch (e) {
            // E.g. Valkey full while queueing: the batch fails (and stops counting) rather than staying validating.
            await store.failValidation(base.id, t, [{ code: "batch_store_error", message: String((storeError(e) as Error).message).slice(0, 500), param: null, line: null }], batchTtl).catch(() => undefined);
            throw e;
        }
        request.log.info({ batch: base.id, team: t, lines: [...perPool.values()].reduce((a, b) => a + b, 0), invalid: errs.length }, "batch created");
        return batchObject((await store.getBatch(base.id))!);
    });

    v1.get("/batches", async (request) => {
        const { limit, after } = pageArgs(request.query);
        const page = await store.listIds(store.keys.batches(team(request)), limit, after);
        const data = (await store.listed(store.keys.batches(team(request)), page.ids, store.keys.batch)).map(batchObject);
        return { object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: page.hasMore };
    });

    const batchOf = async (request: FastifyRequest) => {
        const id = (request.params as { id: string }).id;
        const h = ID.test(id) ? await store.getBatch(id, team(request)) : undefined;
        if (!h) throw notFound("batch", id);
        return h;
    };
    v1.get("/batches/:id", async (request) => batchObject(await batchOf(request)));
    v1.post("/batches/:id/cancel", async (request) => {
        const h = await batchOf(request);
        await store.cancel(h.id);
        return batchObject((await store.getBatch(h.id))!);
    });
}
