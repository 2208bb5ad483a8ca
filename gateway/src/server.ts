/**
 * Server wiring: fastify routes and hooks, per-request accounting (metrics, one log line),
 * and the drain sequence for SIGTERM.
 */
import { randomUUID } from "crypto";
import Fastify, { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, LogController } from "fastify";
import { AddressInfo } from "net";
import { performance } from "perf_hooks";
import { createAuthenticator } from "./auth";
import { registerBatchRoutes } from "./batch/routes";
import { cacheKey, isDeterministic, ResponseCache } from "./cache";
import { GatewayConfig, GatewayConfigInput, parseConfig } from "./config";
import { errors, GatewayError } from "./errors";
import { Flight } from "./flight";
import { TeamLimiter } from "./limits";
import { loggerOptions } from "./log";
import { Metrics } from "./metrics";
import { registerModelRoutes } from "./models";
import { Pool, Resolver } from "./pool";
import { boundTokens, clip, parseChatRequest } from "./request";
import { replay, ReplySubscriber, sendError } from "./respond";
import { registerWarmupRoutes } from "./warmup";

export interface GatewayOptions {
    /** DNS resolver for `dns` pools (tests inject one). */
    resolver?: Resolver;
    /** Where JSON logs go. @default stdout */
    logStream?: NodeJS.WritableStream;
    /** Add Node process metrics (CPU, memory, event loop) to /metrics. @default false */
    processMetrics?: boolean;
}

export interface Gateway {
    readonly app: FastifyInstance;
    readonly config: GatewayConfig;
    readonly metrics: Metrics;
    readonly pools: ReadonlyMap<string, Pool>;
    readonly draining: boolean;
    /** Starts upstream discovery and probing, then listens. Resolves with the base URL. */
    listen(opts?: { port?: number; host?: string }): Promise<string>;
    /** SIGTERM: refuse new requests, let held ones finish (bounded), then close. */
    drain(timeoutMs?: number): Promise<{ clean: boolean }>;
    close(): Promise<void>;
}

interface RequestContext {
    /** performance.now() at arrival. */
    startMs: number;
    team?: string;
    pool?: string;
    model?: string;
    cache?: "hit" | "shared" | "miss" | "bypass";
    closed: boolean;
    /** Bytes of the body budget this request holds (released when its response closes). */
    bodyBytes: number;
    cleanup: Array<() => void>;
}

declare module "fastify" {
    interface FastifyRequest {
        gw: RequestContext;
    }
}

/** Runs fn when the client's response is closed (at once if it already is). */
function onClosed(ctx: RequestContext, fn: () => void): void {
    if (ctx.closed) fn();
    else ctx.cleanup.push(fn);
}

function toGatewayError(err: FastifyError, maxBodyBytes: number): GatewayError {
    if (err instanceof GatewayError) return err;
    if (err.statusCode === 413) return errors.tooLarge(maxBodyBytes);
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
        return new GatewayError(err.statusCode === 415 ? 400 : err.statusCode, "invalid_request_error", (err.code ?? "invalid_request").toLowerCase(), err.message);
    }
    return new GatewayError(500, "server_error", "internal_error", "Internal gateway error");
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function createGateway(input: GatewayConfigInput | GatewayConfig, options: GatewayOptions = {}): Gateway {
    const config = parseConfig(input);
    const metrics = new Metrics({ processMetrics: options.processMetrics, holdSeconds: config.queue.maxWaitSeconds });
    const app = Fastify({
        logger: loggerOptions(config.logLevel, options.logStream),
        // One log line per request is written by accountFor(); fastify's own two are off.
        logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "requestId" }),
        // Honour a caller's request id so logs join up across proxies; otherwise make one.
        genReqId: (req) => {
            const h = req.headers["x-request-id"];
            return typeof h === "string" && REQUEST_ID.test(h) ? h : randomUUID();
        },
        bodyLimit: config.maxBodyBytes,
        // A client must send its whole request (headers and body) within this time, or gets 408:
        // a trickled body cannot hold a connection and its buffer open (fastify docs, Server.md#requesttimeout).
        requestTimeout: config.requestTimeoutSeconds * 1000,
        // Node checks that timeout only every connectionsCheckingInterval (30 s by default); headers
        // get no longer than the whole request (Node http.createServer options, v20 docs).
        http: {
            requestTimeout: config.requestTimeoutSeconds * 1000,
            headersTimeout: Math.min(60_000, config.requestTimeoutSeconds * 1000),
            connectionsCheckingInterval: Math.min(5000, Math.max(100, (config.requestTimeoutSeconds * 1000) / 4)),
        },
        // Socket inactivity backstop (Server.md#connectiontimeout). Held requests are silent for up to a
        // queue wait plus a non-stream answer, so it cannot be short; stalled readers are cut by respond.ts.
        connectionTimeout: (config.queue.maxWaitSeconds + config.upstream.headersTimeoutSeconds + 60) * 1000,
        // The client address in logs: X-Forwarded-For is believed only from these proxies (Server.md#trustproxy).
        trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
        keepAliveTimeout: config.keepAliveTimeoutSeconds * 1000,
        forceCloseConnections: true,
        return503OnClosing: false,
    });
    const log = app.log;
    const authenticate = createAuthenticator(config.auth);
    if (config.auth === undefined) log.warn("no 'auth' section in the config: every /v1 request is refused");
    const limiter = new TeamLimiter(config);

    const pools = new Map<string, Pool>();
    const poolByModel = new Map<string, Pool>();
    const caches = new Map<string, ResponseCache>();
    for (const pc of config.pools) {
        const pool = new Pool(pc, config, metrics, log, options.resolver);
        pools.set(pc.name, pool);
        for (const m of pc.models) poolByModel.set(m, pool);
        if (pc.cache?.enabled) {
            caches.set(pc.name, new ResponseCache(pc.cache.maxBytes, pc.cache.maxEntryBytes, pc.cache.ttlSeconds * 1000, () => metrics.cacheEvictions.inc({ pool: pc.name })));
            metrics.cacheBytes.set({ pool: pc.name }, 0);
        }
    }
    /** Cacheable upstream calls in progress, joinable by identical requests. */
    const sharedFlights = new Map<string, Flight>();
    const flights = new Set<Flight>();
    let draining = false;
    let admitted = 0;
    /** Body bytes held by all requests (being received, queued, in flight): bounded by maxHeldBodyBytes. */
    let heldBodyBytes = 0;
    const stallMs = config.streams.clientStallSeconds * 1000;
    let started = false;
    const startedAt = Math.floor(Date.now() / 1000);

    app.decorateRequest("gw", null as unknown as RequestContext);
    app.setErrorHandler((err: FastifyError, request, reply) => {
        const ge = toGatewayError(err, config.maxBodyBytes);
        if (ge.status >= 500 && !(err instanceof GatewayError)) request.log.error({ err: { message: err.message, code: err.code } }, "unhandled error");
        // Refused before its body arrived: close the connection instead of reading (or waiting for) the rest.
        if (!request.raw.complete) reply.header("connection", "close");
        return sendError(reply, ge);
    });
    app.setNotFoundHandler((request, reply) => {
        if (!request.raw.complete) reply.header("connection", "close");
        return sendError(reply, new GatewayError(404, "invalid_request_error", "not_found", `No route for ${request.method} ${clip(request.url.split("?")[0])}`));
    });

    app.get("/healthz", async () => ({ status: "ok" }));
    app.get("/readyz", async (_request, reply) => {
        // Ready even with zero workers: the gateway holds requests through a cold start.
        const status = Object.fromEntries([...pools].map(([n, p]) => [n, { readyUpstreams: p.readyCount(), queued: p.queueDepth }]));
        return reply.code(draining ? 503 : 200).send({ status: draining ? "draining" : "ready", pools: status });
    });
    app.get("/metrics", async (_request, reply) => {
        for (const [name, cache] of caches) metrics.cacheBytes.set({ pool: name }, cache.bytes);
        return reply.type(metrics.registry.contentType).send(await metrics.text());
    });

    function accountFor(request: FastifyRequest, reply: FastifyReply): void {
        const ctx = request.gw;
        ctx.closed = true;
        for (const fn of ctx.cleanup.splice(0)) fn();
        const code = String(reply.raw.writableFinished ? reply.raw.statusCode : 499);
        const pool = ctx.pool ?? "none";
        const seconds = (performance.now() - ctx.startMs) / 1000;
        metrics.requestsFor(pool, code).inc();
        metrics.durationFor(pool).observe(seconds);
        if (ctx.team !== undefined) metrics.teamRequestsFor(ctx.team, pool, code).inc();
        request.log.info(
            { team: ctx.team, pool: ctx.pool, model: ctx.model === undefined ? undefined : clip(ctx.model), status: Number(code), ms: Math.round(seconds * 1000), cache: ctx.cache, ip: request.ip },
            `${request.method} ${request.routeOptions.url ?? clip(request.url)}`,
        );
    }

    void app.register(
        async (v1) => {
            // Bodies are kept as bytes: forwarded to vLLM unchanged, parsed once here for routing.
            v1.removeAllContentTypeParsers();
            v1.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

            v1.addHook("onRequest", (request, reply, done) => {
                request.gw = { startMs: performance.now(), closed: false, cleanup: [], bodyBytes: 0 };
                reply.header("x-request-id", request.id);
                if (draining) {
                    reply.header("connection", "close");
                    return done(errors.shuttingDown());
                }
                admitted++;
                reply.raw.once("close", () => {
                    admitted--;
                    accountFor(request, reply);
                });
                const who = authenticate(request.headers.authorization);
                if (who instanceof GatewayError) return done(who);
                request.gw.team = who;
                if (request.method !== "POST") return done();
                // Everything below runs before the body is read, so a refused request costs no buffer.
                const type = request.headers["content-type"];
                // JSON APIs only (other routes, e.g. file uploads, bring their own parsers).
                if (request.routeOptions.url === "/v1/chat/completions" && (type === undefined || !/^application\/json\s*(;|$)/i.test(type))) {
                    return done(new GatewayError(415, "invalid_request_error", "unsupported_media_type", "Send the body as JSON with 'Content-Type: application/json'"));
                }
                const release = limiter.admit(who);
                if (release instanceof GatewayError) return done(release);
                onClosed(request.gw, release);
                // The body budget: the declared size (or the most a chunked body may be).
                const declared = Number(request.headers["content-length"] ?? NaN);
                const bytes = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, config.maxBodyBytes) : config.maxBodyBytes;
                if (heldBodyBytes + bytes > config.maxHeldBodyBytes) {
                    return done(errors.tooBusy("request bodies", 1));
                }
                heldBodyBytes += bytes;
                request.gw.bodyBytes = bytes;
                onClosed(request.gw, () => (heldBodyBytes -= bytes));
                done();
            });

            registerModelRoutes(v1, { config, created: startedAt });
            registerWarmupRoutes(v1, { config, pools, poolByModel, metrics });
            registerBatchRoutes(v1, { config, pools, metrics, log, isDraining: () => draining });

            v1.get("/models", async () => ({
                object: "list",
                data: config.pools.flatMap((p) => p.models.map((id) => ({ id, object: "model", created: startedAt, owned_by: p.name }))),
            }));

            // Synchronous on purpose: the answer is sent later by the flight. (An async handler
            // returning `reply` makes fastify wait on the response's end, a cost per request.)
            v1.post("/chat/completions", (request, reply) => {
                const ctx = request.gw;
                if (ctx.closed) return;
                const chat = parseChatRequest(request.body as Buffer | undefined, config.requestBounds, config.allowedMediaDomains);
                ctx.model = chat.model;
                const pool = poolByModel.get(chat.model);
                if (pool === undefined) throw errors.modelNotFound(clip(chat.model));
                ctx.pool = pool.name;
                const team = ctx.team!;
                const raw = boundTokens(chat, request.body as Buffer, pool.config.maxTokens);

                const sub = new ReplySubscriber(reply, stallMs);
                const cache = caches.get(pool.name);
                let key: string | undefined;
                // Per-team caches say whether they hit; a shared one never does (it would tell one team what another asked).
                const teamScoped = pool.config.cache?.scope !== "shared";
                if (cache) {
                    if (/\bno-store\b/i.test(String(request.headers["cache-control"] ?? "")) || !isDeterministic(chat.body)) {
                        metrics.cacheBypass.inc({ pool: pool.name });
                        ctx.cache = "bypass";
                    } else {
                        key = cacheKey(pool.name, chat.body, teamScoped ? team : undefined);
                        const hit = cache.get(key);
                        const inFlight = hit ? undefined : sharedFlights.get(key);
                        if (hit || inFlight?.join(sub)) {
                            metrics.cacheHits.inc({ pool: pool.name });
                            ctx.cache = hit ? "hit" : "shared";
                            if (teamScoped) reply.header("x-gateway-cache", ctx.cache);
                            if (hit) replay(sub, hit);
                            else onClosed(ctx, () => inFlight!.leave(sub));
                            return;
                        }
                        metrics.cacheMisses.inc({ pool: pool.name });
                        ctx.cache = "miss";
                    }
                    if (teamScoped) reply.header("x-gateway-cache", ctx.cache);
                }

                const flightKey = key;
                const flight: Flight = new Flight(
                    {
                        pool,
                        body: raw,
                        stream: chat.stream,
                        team,
                        requestId: request.id,
                        deadlineMs: Date.now() + config.queue.maxWaitSeconds * 1000,
                        recordLimit: cache && flightKey ? cache.maxEntryBytes : 0,
                    },
                    config,
                    metrics,
                    log,
                    {
                        onUsage: (u) => {
                            metrics.teamTokensFor(team, pool.name, "prompt").inc(u.promptTokens);
                            metrics.teamTokensFor(team, pool.name, "completion").inc(u.completionTokens);
                        },
                        onRecorded: (status, contentType, chunks) => {
                            if (cache && flightKey) cache.set(flightKey, status, contentType, chunks);
                        },
                        onClosedToJoiners: () => {
                            if (flightKey && sharedFlights.get(flightKey) === flight) sharedFlights.delete(flightKey);
                        },
                    },
                );
                if (flightKey) sharedFlights.set(flightKey, flight);
                flight.join(sub);
                onClosed(ctx, () => flight.leave(sub));
                flights.add(flight);
                void flight.run().finally(() => flights.delete(flight));
                return;
            });
        },
        { prefix: "/v1" },
    );

    const waitFor = async (cond: () => boolean, ms: number): Promise<boolean> => {
        const until = Date.now() + ms;
        while (!cond()) {
            if (Date.now() >= until) return false;
            await new Promise((r) => setTimeout(r, 20));
        }
        return true;
    };

    let closing: Promise<void> | undefined;
    const close = (force = true): Promise<void> =>
        (closing ??= (async () => {
            await app.close();
            await Promise.all([...pools.values()].map((p) => p.close(force)));
        })());

    return {
        app,
        config,
        metrics,
        pools,
        get draining() {
            return draining;
        },
        async listen(opts = {}) {
            if (!started) {
                started = true;
                for (const p of pools.values()) p.start();
            }
            // A deep accept backlog: a burst of clients arriving at a cold pool all get in and wait.
            await app.listen({ port: opts.port ?? 8080, host: opts.host ?? "0.0.0.0", backlog: 2048 });
            const addr = app.server.address() as AddressInfo;
            const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
            return `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${addr.port}`;
        },
        async drain(timeoutMs = config.drainTimeoutSeconds * 1000) {
            draining = true;
            const queued = [...pools.values()].reduce((n, p) => n + p.queueDepth, 0);
            log.info({ inFlight: admitted, queued, timeoutSeconds: timeoutMs / 1000 }, "draining: refusing new requests, finishing held ones");
            const clean = await waitFor(() => admitted === 0 && flights.size === 0, timeoutMs);
            if (!clean) {
                log.warn({ remaining: admitted }, "drain timeout: ending the remaining requests");
                for (const p of pools.values()) p.failWaiting(errors.shuttingDown());
                for (const f of flights) f.terminate(errors.shuttingDown());
                await waitFor(() => admitted === 0, 1000);
            }
            await close(!clean);
            log.info({ clean }, "drained");
            return { clean };
        },
        close: () => close(true),
    };
}

/** createGateway + listen. */
export async function startGateway(
    config: GatewayConfigInput | GatewayConfig,
    opts: GatewayOptions & { port?: number; host?: string } = {},
): Promise<Gateway & { url: string }> {
    const gw = createGateway(config, opts);
    const url = await gw.listen({ port: opts.port, host: opts.host });
    return Object.assign(gw, { url });
}
