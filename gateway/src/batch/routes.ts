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
import { batchLimits } from "./config";
import { BatchMetrics } from "./metrics";
import { parseMultipart } from "./multipart";
import { batchObject, fileObject, ID, newBatchId, newFileId } from "./objects";
import { BatchRunner } from "./runner";
import { BatchStore, connect } from "./store";
import { LineError, scanLines } from "./validate";

export interface BatchDeps {
    config: GatewayConfig;
    pools: ReadonlyMap<string, Pool>;
    metrics: Metrics;
    log: Logger;
    isDraining: () => boolean;
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
    v1.addHook("preClose", async () => {
        // SIGTERM (draining) may take the whole drain bound; a forced close only a moment.
        await runner.stop(deps.isDraining() ? deps.config.drainTimeoutSeconds * 1000 : 2000);
        await redis.quit().catch(() => redis.disconnect());
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
        const h = await store.createFile({ id: newFileId(), team: t, purpose, filename: (file.filename ?? "input.jsonl").slice(0, 255), data: file.data });
        return reply.send(fileObject(h));
    });

    v1.get("/files", async (request) => {
        const { limit, after } = pageArgs(request.query);
        const page = await store.listIds(store.keys.files(team(request)), limit, after);
        const data = (await store.hashes(page.ids.map((id) => store.keys.file(id)))).filter((h) => h.id).map(fileObject);
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
        return reply.type(h.purpose === "batch" || h.batch ? "application/jsonl" : "application/octet-stream").send(await store.fileContent(h));
    });
    v1.delete("/files/:id", async (request) => {
        const h = await fileOf(request);
        await store.deleteFile(h);
        return { id: h.id, object: "file", deleted: true };
    });

    // ---- batches
    v1.post("/batches", async (request) => {
        const t = team(request);
        const b = jsonBody(request);
        if (typeof b.input_file_id !== "string" || !ID.test(b.input_file_id)) throw errors.badRequest("'input_file_id' is required: the id of a file uploaded with purpose \"batch\"", "invalid_input_file_id");
        if (b.endpoint !== ENDPOINT) throw errors.badRequest(`'endpoint' must be "${ENDPOINT}" (got ${JSON.stringify(b.endpoint ?? null)})`, "invalid_endpoint");
        if (b.completion_window !== WINDOW) throw errors.badRequest(`'completion_window' must be "${WINDOW}" (got ${JSON.stringify(b.completion_window ?? null)})`, "invalid_completion_window");
        const metadata = validMetadata(b.metadata);
        const file = await store.getFile(b.input_file_id, t);
        if (!file || file.batch) throw notFound("file", b.input_file_id);
        const limits = batchLimits(cfg, t);
        const active = await store.activeCount(t);
        if (active >= limits.maxBatchesInProgress) {
            throw errors.rateLimited(`Team '${t}' has ${active} batches in progress, its limit (batch.limits maxBatchesInProgress); wait for one to finish or cancel one`, 60, "too_many_batches");
        }
        const now = Math.floor(Date.now() / 1000);
        const base: Record<string, string> = {
            id: newBatchId(),
            team: t,
            endpoint: ENDPOINT,
            input_file_id: file.id,
            completion_window: WINDOW,
            created_at: String(now),
            expires_at: String(now + 24 * 3600),
            ...(metadata ? { metadata: JSON.stringify(metadata) } : {}),
        };
        const content = await store.fileContent(file);
        const opts = { endpoint: ENDPOINT, poolOf: (m: string) => poolByModel.get(m), maxLines: limits.maxLinesPerBatch, maxBodyBytes: deps.config.maxBodyBytes };
        // Two passes over the file: validate everything first, then queue a chunk at a time.
        const errs: LineError[] = [];
        const perPool = new Map<string, number>();
        for (const l of scanLines(content, opts, errs)) perPool.set(l.pool, (perPool.get(l.pool) ?? 0) + 1);
        if (errs.length > 0) await store.createFailed(base, errs);
        else await store.createQueued(base, scanLines(content, opts, []), perPool);
        request.log.info({ batch: base.id, team: t, lines: [...perPool.values()].reduce((a, b) => a + b, 0), invalid: errs.length }, "batch created");
        return batchObject((await store.getBatch(base.id))!);
    });

    v1.get("/batches", async (request) => {
        const { limit, after } = pageArgs(request.query);
        const page = await store.listIds(store.keys.batches(team(request)), limit, after);
        const data = (await store.hashes(page.ids.map((id) => store.keys.batch(id)))).filter((h) => h.id).map(batchObject);
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
