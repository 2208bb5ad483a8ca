/**
 * Server wiring: the node:http server (chat completions to chat.ts, everything else to fastify),
 * the fastify routes and hooks, and the drain sequence for SIGTERM. Admission and per-request
 * accounting (metrics, one log line) are the gate's (gate.ts), shared by both paths.
 */
import proxyAddr from "@fastify/proxy-addr";
import Fastify, { FastifyError, FastifyInstance, LogController } from "fastify";
import { createServer, IncomingMessage, ServerResponse } from "http";
import { AddressInfo } from "net";
import { createAuthenticator } from "./auth";
import { Billing } from "./billing";
import { registerUsageRoutes } from "./billing/routes";
import type { UsageStore } from "./billing/store";
import { registerBatchRoutes } from "./batch/routes";
import { ResponseCache } from "./cache";
import { createChatRoute, isChatRequest } from "./chat";
import { GatewayConfig, GatewayConfigInput, parseConfig } from "./config";
import { errors, GatewayError } from "./errors";
import type { Flight } from "./flight";
import { bodyDeadline, BodyRule, bodyRuleOf, Gate, newContext, onResponseClosed, RequestContext, requestIdOf } from "./gate";
import { TeamLimiter } from "./limits";
import { loggerOptions } from "./log";
import { Metrics } from "./metrics";
import { modelObjects, registerModelRoutes } from "./models";
import { Pool, Resolver } from "./pool";
import { clip, SMALL_JSON_BYTES } from "./json";
import { sendError } from "./respond";
import { registerWarmupRoutes, warmupStoreFor } from "./warmup";
import { exportTimetableSession } from "./timetable";

/** What a POST route takes unless it says otherwise: a small JSON object. */
const SMALL_JSON_RULE: BodyRule = { json: true, limit: SMALL_JSON_BYTES };

export interface GatewayOptions {
    /** DNS resolver for `dns` pools (tests inject one). */
    resolver?: Resolver;
    /** Where JSON logs go. @default stdout */
    logStream?: NodeJS.WritableStream;
    /** Add Node process metrics (CPU, memory, event loop) to /metrics. @default false */
    processMetrics?: boolean;
    /** Clock of the per-team bill and of gateway_timetable_session, ms (tests). @default Date.now */
    now?: () => number;
    /** Where the per-team bill keeps its steps. @default Valkey with a batch store, else memory */
    usageStore?: UsageStore;
}

export interface Gateway {
    readonly app: FastifyInstance;
    readonly config: GatewayConfig;
    readonly metrics: Metrics;
    readonly pools: ReadonlyMap<string, Pool>;
    /** Per-team bills and budgets (billing/). */
    readonly billing: Billing;
    readonly draining: boolean;
    /** Starts upstream discovery and probing, then listens. Resolves with the base URL. */
    listen(opts?: { port?: number; host?: string }): Promise<string>;
    /** SIGTERM: refuse new requests, let held ones finish (bounded), then close. */
    drain(timeoutMs?: number): Promise<{ clean: boolean }>;
    close(): Promise<void>;
}

declare module "fastify" {
    interface FastifyRequest {
        gw: RequestContext;
    }
}

function toGatewayError(err: FastifyError, bodyLimit: number): GatewayError {
    if (err instanceof GatewayError) return err;
    if (err.statusCode === 413) return errors.tooLarge(bodyLimit);
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
        return new GatewayError(
            err.statusCode === 415 ? 400 : err.statusCode,
            "invalid_request_error",
            (err.code ?? "invalid_request").toLowerCase(),
            err.message,
        );
    }
    return new GatewayError(500, "server_error", "internal_error", "Internal gateway error");
}

export function createGateway(input: GatewayConfigInput | GatewayConfig, options: GatewayOptions = {}): Gateway {
    const config = parseConfig(input);
    const metrics = new Metrics({ processMetrics: options.processMetrics, holdSeconds: config.queue.maxWaitSeconds });
    const connectionTimeoutMs = (config.queue.maxWaitSeconds + config.upstream.headersTimeoutSeconds + 60) * 1000;
    // A request must arrive within requestTimeoutSeconds, an upload within batch.uploadTimeoutSeconds: Node's
    // bound is the longer, and every other route is held to the shorter by gate.ts bodyDeadline.
    const requestMs = config.requestTimeoutSeconds * 1000;
    const serverRequestMs = Math.max(requestMs, (config.batch?.uploadTimeoutSeconds ?? 0) * 1000);
    // Set once the routes exist: the server is made inside Fastify().
    const late: { chatRoute?: (req: IncomingMessage, res: ServerResponse) => void } = {};
    const app = Fastify({
        logger: loggerOptions(config.logLevel, options.logStream),
        // One log line per request is written by the gate (gate.ts); fastify's own two are off.
        logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "requestId" }),
        // Honour a caller's request id so logs join up across proxies; otherwise make one.
        genReqId: (req) => requestIdOf(req.headers),
        bodyLimit: config.maxBodyBytes,
        // A client must send its whole request (headers and body) within this time, or gets 408:
        // a trickled body cannot hold a connection and its buffer open (fastify docs, Server.md#requesttimeout).
        requestTimeout: serverRequestMs,
        // Node checks that timeout only every connectionsCheckingInterval (30 s by default); headers
        // get no longer than a whole (non-upload) request (Node http.createServer options, v20 docs).
        http: {
            requestTimeout: serverRequestMs,
            headersTimeout: Math.min(60_000, requestMs),
            connectionsCheckingInterval: Math.min(5000, Math.max(100, requestMs / 4)),
        },
        // Socket inactivity backstop (Server.md#connectiontimeout). Held requests are silent for up to a
        // queue wait plus a non-stream answer, so it cannot be short; stalled readers are cut by respond.ts.
        connectionTimeout: connectionTimeoutMs,
        // The client address in logs: X-Forwarded-For is believed only from these proxies (Server.md#trustproxy).
        trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
        keepAliveTimeout: config.keepAliveTimeoutSeconds * 1000,
        forceCloseConnections: true,
        return503OnClosing: false,
        // Our own node:http server: chat completions go to the chat route (chat.ts), the rest to
        // fastify. Set up as fastify sets up its own (fastify 5.12 lib/server.js getServerInstance).
        serverFactory: (fastifyHandler, opts) => {
            const server = createServer(opts.http ?? {}, (req, res) =>
                late.chatRoute !== undefined && isChatRequest(req) ? late.chatRoute(req, res) : fastifyHandler(req, res),
            );
            server.keepAliveTimeout = config.keepAliveTimeoutSeconds * 1000;
            server.requestTimeout = serverRequestMs;
            server.setTimeout(connectionTimeoutMs);
            return server;
        },
    });
    const log = app.log;
    const authenticate = createAuthenticator(config.auth);
    if (config.auth === undefined) log.warn("no 'auth' section in the config: every /v1 request is refused");
    const gate = new Gate(config, authenticate, new TeamLimiter(config), metrics, log);
    if (config.timetable) metrics.timetableCollector = exportTimetableSession(metrics.timetableSession, config.timetable, options.now);
    const warmups = warmupStoreFor(config);
    const billing = new Billing(config, metrics, log, { now: options.now, store: options.usageStore, warmups: (now) => warmups.active(now) });

    const pools = new Map<string, Pool>();
    const poolByModel = new Map<string, Pool>();
    const caches = new Map<string, ResponseCache>();
    for (const pc of config.pools) {
        const pool = new Pool(pc, config, metrics, log, options.resolver, billing.hooks(pc));
        pools.set(pc.name, pool);
        for (const m of pc.models) poolByModel.set(m, pool);
        if (pc.cache?.enabled) {
            caches.set(
                pc.name,
                new ResponseCache(pc.cache.maxBytes, pc.cache.maxEntryBytes, pc.cache.ttlSeconds * 1000, () => metrics.cacheEvictions.inc({ pool: pc.name })),
            );
            metrics.cacheBytes.set({ pool: pc.name }, 0);
        }
    }
    const flights = new Set<Flight>();
    const trusted = config.trustedProxies.length > 0 ? proxyAddr.compile(config.trustedProxies) : undefined;
    /** The client's address, as fastify's request.ip computes it (fastify 5.12 lib/request.js). */
    const clientIp = (req: IncomingMessage): string => (trusted ? proxyAddr(req, trusted) : (req.socket.remoteAddress ?? ""));
    late.chatRoute = createChatRoute({ config, gate, poolByModel, caches, metrics, log, clientIp, flights, serverRequestMs, billing });
    let started = false;
    const startedAt = Math.floor(Date.now() / 1000);

    app.decorateRequest("gw", null as unknown as RequestContext);
    app.setErrorHandler((err: FastifyError, request, reply) => {
        const ge = toGatewayError(err, request.routeOptions.bodyLimit ?? config.maxBodyBytes);
        if (ge.status >= 500 && !(err instanceof GatewayError)) request.log.error({ err: { message: err.message, code: err.code } }, "unhandled error");
        // Refused before its body arrived: close the connection instead of reading (or waiting for) the rest.
        if (!request.raw.complete) reply.header("connection", "close");
        return sendError(reply, ge);
    });
    app.setNotFoundHandler((request, reply) => {
        if (!request.raw.complete) reply.header("connection", "close");
        return sendError(
            reply,
            new GatewayError(404, "invalid_request_error", "not_found", `No route for ${request.method} ${clip(request.url.split("?")[0])}`),
        );
    });

    app.get("/healthz", async () => ({ status: "ok" }));
    app.get("/readyz", async (_request, reply) => {
        // Ready even with zero workers: the gateway holds requests through a cold start.
        const status = Object.fromEntries([...pools].map(([n, p]) => [n, { readyUpstreams: p.readyCount(), queued: p.queueDepth }]));
        return reply.code(gate.draining ? 503 : 200).send({ status: gate.draining ? "draining" : "ready", pools: status });
    });
    app.get("/metrics", async (_request, reply) => {
        for (const [name, cache] of caches) metrics.cacheBytes.set({ pool: name }, cache.bytes);
        return reply.type(metrics.registry.contentType).send(await metrics.text());
    });

    void app.register(
        async (v1) => {
            // Bodies are kept as bytes, up to the route's limit (routes parse what they need through json.ts),
            // except file uploads: their route reads the stream itself, a window at a time (batch/upload.ts).
            v1.removeAllContentTypeParsers();
            v1.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
            v1.addContentTypeParser("multipart/form-data", (_req, payload, done) => done(null, payload));
            // A POST route that does not say what body it takes (gate.ts bodyRoute) takes a small JSON object:
            // the bound holds for every route, also ones added later.
            v1.addHook("onRoute", (route) => {
                const methods = Array.isArray(route.method) ? route.method : [route.method];
                if (!methods.includes("POST") || bodyRuleOf(route.config) !== undefined) return;
                route.bodyLimit = SMALL_JSON_RULE.limit;
                route.config = { ...(route.config as object), body: SMALL_JSON_RULE };
            });

            v1.addHook("onRequest", (request, reply, done) => {
                const ctx = (request.gw = newContext(request.id));
                reply.header("x-request-id", request.id);
                if (gate.draining) {
                    reply.header("connection", "close");
                    return done(errors.shuttingDown());
                }
                gate.track(
                    ctx,
                    (fn) => onResponseClosed(request.raw, reply.raw, fn),
                    () => ({
                        status: reply.raw.writableFinished ? reply.raw.statusCode : 499,
                        line: `${request.method} ${request.routeOptions.url ?? clip(request.url)}`,
                        ip: request.ip,
                    }),
                );
                // What the route takes (set on every POST route: bodyRoute, or the onRoute hook above).
                const rule = request.method === "POST" ? (bodyRuleOf(request.routeOptions.config) ?? SMALL_JSON_RULE) : undefined;
                const refused = gate.admit(ctx, request.method, request.headers, rule);
                if (!refused && serverRequestMs > (rule?.timeoutMs ?? requestMs)) bodyDeadline(ctx, request.raw, reply.raw, rule?.timeoutMs ?? requestMs);
                done(refused);
            });

            registerModelRoutes(v1, { config, created: startedAt });
            registerWarmupRoutes(v1, {
                config,
                pools,
                poolByModel,
                metrics,
                store: warmups,
                now: options.now,
                refusal: (team) => billing.refusal(team, "warmup"),
            });
            registerBatchRoutes(v1, { config, pools, metrics, log, isDraining: () => gate.draining, refusal: (team) => billing.refusal(team, "batch") });
            registerUsageRoutes(v1, billing);

            v1.get("/models", async () => ({
                object: "list",
                data: modelObjects(config, startedAt),
            }));
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
            await billing.close();
            await warmups.close();
        })());

    return {
        app,
        config,
        metrics,
        pools,
        billing,
        get draining() {
            return gate.draining;
        },
        async listen(opts = {}) {
            if (!started) {
                started = true;
                for (const p of pools.values()) p.start();
                billing.start();
            }
            // A deep accept backlog: a burst of clients arriving at a cold pool all get in and wait.
            await app.listen({ port: opts.port ?? 8080, host: opts.host ?? "0.0.0.0", backlog: 2048 });
            const addr = app.server.address() as AddressInfo;
            const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
            return `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${addr.port}`;
        },
        async drain(timeoutMs = config.drainTimeoutSeconds * 1000) {
            gate.draining = true;
            const queued = [...pools.values()].reduce((n, p) => n + p.queueDepth, 0);
            log.info({ inFlight: gate.admitted, queued, timeoutSeconds: timeoutMs / 1000 }, "draining: refusing new requests, finishing held ones");
            const clean = await waitFor(() => gate.admitted === 0 && flights.size === 0, timeoutMs);
            if (!clean) {
                log.warn({ remaining: gate.admitted }, "drain timeout: ending the remaining requests");
                for (const p of pools.values()) p.failWaiting(errors.shuttingDown());
                for (const f of flights) f.terminate(errors.shuttingDown());
                await waitFor(() => gate.admitted === 0, 1000);
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
