/**
 * The OpenAI Batch API routes, inside the gateway's /v1 scope (so API-key auth, drain refusal,
 * the team's request rate and per-request accounting apply to every one, GETs included):
 * /v1/files and /v1/batches. A team sees only its own files and batches; another team's id
 * answers 404 exactly like an unknown one. Wired by one call in server.ts; absent `batch`
 * config, nothing is registered.
 *
 * Bounded work per request (issue 23): JSON bodies are small and go through the one bounded
 * parse (json.ts); uploads stream into Valkey (upload.ts) within the team's storage quota
 * (quota.ts); batch creation runs in the background, resumable (create.ts); downloads stream
 * out a piece at a time, never faster than the client reads (respond.ts sendPieces). The routes
 * use a connection that fails fast, so Valkey down is a 503 within seconds (store.ts).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { GatewayConfig } from "../config";
import { knownTeams } from "../config";
import { errors, GatewayError } from "../errors";
import { bodyRoute } from "../gate";
import { parseJsonObject, SMALL_JSON_BYTES } from "../json";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import type { Pool } from "../pool";
import { sendPieces } from "../respond";
import { batchLimits, ttlSeconds } from "./config";
import { BatchCreator } from "./create";
import { BatchMetrics } from "./metrics";
import { batchObject, fileObject, ID, newBatchId, newFileId } from "./objects";
import { StorageQuota } from "./quota";
import { BatchRunner, newConsumerName } from "./runner";
import { API_TIMEOUT_MS, BatchStore, connect, storeError, whenReady } from "./store";
import { commitUpload, discardUpload, MULTIPART_SLACK_BYTES, receiveUpload, UPLOAD_WINDOW_BYTES } from "./upload";
import type { LineRules } from "./validate";

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
const notFound = (what: string, id: string) =>
    new GatewayError(404, "invalid_request_error", "not_found", `No such ${what}: '${id.slice(0, 80)}' (or it belongs to another team)`);

function team(request: FastifyRequest): string {
    return request.gw.team!;
}

function pageArgs(query: unknown): { limit: number; after: string | undefined } {
    const q = (query ?? {}) as Record<string, string | undefined>;
    const limit = q.limit === undefined ? 20 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        throw errors.badRequest(`'limit' must be an integer from 1 to 100 (got ${JSON.stringify(q.limit)})`, "invalid_limit");
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
        throw errors.badRequest(
            `'${name}' must be {"anchor": "created_at", "seconds": 3600 to 2592000} (got anchor ${JSON.stringify(anchor ?? null)}, seconds ${JSON.stringify(seconds ?? null)})`,
            `invalid_${name}`,
        );
    }
    return n;
}

function validMetadata(m: unknown): Record<string, string> | undefined {
    if (m === undefined || m === null) return undefined;
    const bad = () =>
        errors.badRequest("'metadata' must be an object of at most 16 string values (keys up to 64, values up to 512 characters)", "invalid_metadata");
    if (typeof m !== "object" || Array.isArray(m)) throw bad();
    const entries = Object.entries(m as Record<string, unknown>);
    if (entries.length > 16 || entries.some(([k, v]) => k.length > 64 || typeof v !== "string" || v.length > 512)) throw bad();
    return m as Record<string, string>;
}

export function registerBatchRoutes(v1: FastifyInstance, deps: BatchDeps): void {
    const cfg = deps.config.batch;
    if (cfg === undefined) return;
    // The routes' connection fails fast; the background work's waits out a Valkey restart (store.ts connect).
    const apiRedis = connect(cfg, "gpuserve-gateway-api", { api: true });
    const workRedis = connect(cfg, "gpuserve-gateway");
    apiRedis.on("error", () => undefined); // its failures reach the requests as 503s
    workRedis.on("error", (e: Error) => deps.log.warn({ err: e.message }, "batch: Valkey connection error"));
    const store = new BatchStore(apiRedis, cfg);
    const work = new BatchStore(workRedis, cfg);
    const poolByModel = new Map(deps.config.pools.flatMap((p) => p.models.map((m) => [m, p] as const)));
    const rules: LineRules = {
        endpoint: ENDPOINT,
        poolOf: (m) => poolByModel.get(m),
        maxBodyBytes: deps.config.maxBodyBytes,
        bounds: deps.config.requestBounds,
        allowedMediaDomains: deps.config.allowedMediaDomains,
    };
    const consumer = newConsumerName();
    const quota = new StorageQuota(store, cfg, knownTeams(deps.config).length);
    const creator = new BatchCreator({ store: work, cfg, rules, log: deps.log, consumer });
    const runner = new BatchRunner(consumer, work, deps.pools, cfg, new BatchMetrics(deps.metrics), deps.log, deps.isDraining, rules, creator);
    const maxUpload = Math.max(cfg.limits.default.maxFileBytes, ...Object.values(cfg.limits.teams).map((l) => l.maxFileBytes));
    const stallMs = deps.config.streams.clientStallSeconds * 1000;

    v1.addHook("onReady", async () => runner.start());
    // Valkey full or unreachable: an OpenAI-shaped 507/503 from every batch route, not a 500.
    v1.addHook("onRoute", (route) => {
        if (!/^\/v1\/(files|batches)\b/.test(route.url)) return;
        const h = route.handler;
        route.handler = async function (this: unknown, request, reply) {
            try {
                await whenReady(apiRedis, API_TIMEOUT_MS);
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
        for (const r of [workRedis, apiRedis]) {
            if (r.status === "ready") await r.quit().catch(() => r.disconnect());
            else r.disconnect();
        }
    });

    // ---- files
    // Streamed (upload.ts): the body budget counts the window an upload holds, not its size.
    v1.post(
        "/files",
        bodyRoute({ json: false, limit: maxUpload + MULTIPART_SLACK_BYTES, held: UPLOAD_WINDOW_BYTES, timeoutMs: cfg.uploadTimeoutSeconds * 1000 }),
        async (request, reply) => {
            const t = team(request);
            const up = {
                id: newFileId(),
                team: t,
                body: request.raw,
                contentType: request.headers["content-type"],
                contentLength: Number(request.headers["content-length"] ?? NaN),
                deadlineMs: Date.now() + cfg.uploadTimeoutSeconds * 1000 + 60_000,
            };
            const got = await receiveUpload(store, quota, cfg, up);
            try {
                if (got.purpose !== "batch")
                    throw errors.badRequest(`'purpose' must be "batch" (got ${JSON.stringify(got.purpose ?? null)?.slice(0, 40)})`, "invalid_purpose");
                if (!got.file) throw errors.badRequest("The multipart body has no 'file' part", "missing_file");
                // The SDK sends nested form fields with brackets: expires_after[anchor], expires_after[seconds] (openai-node 6.30.1 internal/uploads.js addFormValue).
                const ttl =
                    expiresAfter("expires_after", got.fields.get("expires_after[anchor]"), got.fields.get("expires_after[seconds]")) ??
                    ttlSeconds(cfg.retention.inputFileDays);
                const now = Math.floor(Date.now() / 1000);
                const h = {
                    id: up.id,
                    team: t,
                    purpose: "batch",
                    filename: (got.filename ?? "input.jsonl").slice(0, 255),
                    bytes: String(got.bytes),
                    created_at: String(now),
                    expires_at: String(now + ttl),
                };
                await commitUpload(store, up, h, ttl);
                return reply.send(fileObject(h));
            } catch (e) {
                await discardUpload(store, quota, up);
                throw e;
            }
        },
    );

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
        const pieces = store.pieces(h);
        // The first piece is read before anything is sent: a store failure here is still an error response.
        const first = await pieces.next();
        void reply.hijack();
        const headers = {
            ...(reply.getHeaders() as Record<string, string>),
            "content-type": h.purpose === "batch" || h.batch ? "application/jsonl" : "application/octet-stream",
        };
        await sendPieces(reply.raw, { status: 200, headers, length: Number(h.bytes) }, first, pieces, stallMs).catch((e: unknown) => {
            request.log.warn({ err: (e as Error).message, file: h.id }, "batch: download cut: the store failed mid-file");
        });
    });
    v1.delete("/files/:id", async (request) => {
        const h = await fileOf(request);
        await store.deleteFile(h);
        return { id: h.id, object: "file", deleted: true };
    });

    // ---- batches
    v1.post("/batches", bodyRoute({ json: true, limit: SMALL_JSON_BYTES }), async (request) => {
        const t = team(request);
        const refused = deps.refusal?.(t);
        if (refused) throw refused;
        const b = parseJsonObject(request.body as Buffer | undefined, deps.config.requestBounds);
        if (typeof b.input_file_id !== "string" || !ID.test(b.input_file_id))
            throw errors.badRequest("'input_file_id' is required: the id of a file uploaded with purpose \"batch\"", "invalid_input_file_id");
        if (b.endpoint !== ENDPOINT)
            throw errors.badRequest(`'endpoint' must be "${ENDPOINT}" (got ${JSON.stringify(b.endpoint ?? null)?.slice(0, 80)})`, "invalid_endpoint");
        if (b.completion_window !== WINDOW)
            throw errors.badRequest(
                `'completion_window' must be "${WINDOW}" (got ${JSON.stringify(b.completion_window ?? null)?.slice(0, 80)})`,
                "invalid_completion_window",
            );
        const metadata = validMetadata(b.metadata);
        const oea = (b.output_expires_after ?? {}) as Record<string, unknown>;
        const outputTtl = expiresAfter("output_expires_after", oea.anchor, oea.seconds) ?? ttlSeconds(cfg.retention.outputFileDays);
        const batchTtl = ttlSeconds(cfg.retention.batchDays);
        const file = await store.getFile(b.input_file_id, t);
        if (!file || file.batch) throw notFound("file", b.input_file_id);
        const limits = batchLimits(cfg, t);
        // The limits before any work: the team's storage (its results need room) and the store's.
        await quota.checkCreate(t);
        const now = Math.floor(Date.now() / 1000);
        const base: Record<string, string> = {
            id: newBatchId(),
            team: t,
            endpoint: ENDPOINT,
            input_file_id: file.id,
            input_bytes: file.bytes,
            completion_window: WINDOW,
            created_at: String(now),
            expires_at: String(now + cfg.completionWindowSeconds),
            output_ttl: String(outputTtl),
            batch_ttl: String(batchTtl),
            ...(metadata ? { metadata: JSON.stringify(metadata) } : {}),
        };
        // The limit check and the batch's record are one atomic step (two concurrent creates cannot both pass).
        const active = await store.reserve(base, limits.maxBatchesInProgress);
        if (active === "gone") throw notFound("file", b.input_file_id);
        if (active !== undefined) {
            throw errors.rateLimited(
                `Team '${t}' has ${active} batches in progress, its limit (batch.limits maxBatchesInProgress); wait for one to finish or cancel one`,
                60,
                "too_many_batches",
            );
        }
        // Validation and queueing run in the background (create.ts); a small file is done before this answers.
        await creator.createSoon(base.id, cfg.createWaitSeconds * 1000);
        request.log.info({ batch: base.id, team: t, file: file.id, bytes: Number(file.bytes) }, "batch created");
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
    v1.post("/batches/:id/cancel", bodyRoute({ json: true, limit: SMALL_JSON_BYTES }), async (request) => {
        const h = await batchOf(request);
        await store.cancel(h.id);
        return batchObject((await store.getBatch(h.id))!);
    });
}
