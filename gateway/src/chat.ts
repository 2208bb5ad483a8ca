/**
 * POST /v1/chat/completions: the request path every interactive answer takes, served on
 * node:http directly instead of through fastify (issue 13 point 12). Fastify's routing,
 * request/reply objects, hooks and send pipeline cost more per request than everything else
 * the gateway does (profiled under 100 connections; numbers in gateway/README.md); the other
 * routes, where that does not matter, stay on fastify (server.ts).
 *
 * It applies the same admission as the fastify routes (gate.ts), reads the body within the
 * size limit, then routes, bounds, caches and relays the answer through a Flight.
 */
import type { IncomingMessage, ServerResponse } from "http";
import type { Billing } from "./billing";
import { cacheKey, isDeterministic, ResponseCache } from "./cache";
import type { GatewayConfig } from "./config";
import { errors, GatewayError } from "./errors";
import { Flight } from "./flight";
import { bodyDeadline, Gate, newContext, onClosed, onResponseClosed, RequestContext, requestIdOf } from "./gate";
import type { Logger } from "./log";
import type { Metrics } from "./metrics";
import type { Pool } from "./pool";
import { boundTokens, CHAT_PATH, clip, parseChatRequest } from "./request";
import { replay, ResponseSubscriber, writeError } from "./respond";

const LOG_LINE = `POST ${CHAT_PATH}`;

/** Whether the chat route takes this request (everything else goes to fastify). */
export function isChatRequest(req: IncomingMessage): boolean {
    if (req.method !== "POST") return false;
    const url = req.url ?? "";
    // 0x3f: "?", the query string.
    return url === CHAT_PATH || (url.startsWith(CHAT_PATH) && url.charCodeAt(CHAT_PATH.length) === 0x3f);
}

export interface ChatRouteDeps {
    readonly config: GatewayConfig;
    readonly gate: Gate;
    readonly poolByModel: ReadonlyMap<string, Pool>;
    readonly caches: ReadonlyMap<string, ResponseCache>;
    readonly metrics: Metrics;
    readonly log: Logger;
    /** The client's address for the log line (X-Forwarded-For believed only from trusted proxies). */
    readonly clientIp: (req: IncomingMessage) => string;
    /** Upstream calls in progress (the drain waits for them). */
    readonly flights: Set<Flight>;
    /** Node's requestTimeout (ms): when an upload's is longer than requestTimeoutSeconds, the chat route bounds its own bodies. */
    readonly serverRequestMs: number;
    /** Per-team bills: a team past its budget with budgetHardStop is refused. */
    readonly billing?: Billing;
}

export function createChatRoute(deps: ChatRouteDeps): (req: IncomingMessage, res: ServerResponse) => void {
    const { config, gate, poolByModel, caches, metrics, log } = deps;
    const stallMs = config.streams.clientStallSeconds * 1000;
    const requestMs = config.requestTimeoutSeconds * 1000;
    /** Cacheable upstream calls in progress, joinable by identical requests. */
    const sharedFlights = new Map<string, Flight>();

    /** Refused before or while its body arrived: close the connection instead of reading the rest. */
    const refuse = (req: IncomingMessage, res: ServerResponse, err: GatewayError): void => {
        if (!req.complete) res.setHeader("connection", "close");
        writeError(res, err);
    };

    function answer(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, body: Buffer): void {
        const chat = parseChatRequest(body, config.requestBounds, config.allowedMediaDomains);
        ctx.model = chat.model;
        const pool = poolByModel.get(chat.model);
        if (pool === undefined) throw errors.modelNotFound(clip(chat.model));
        ctx.pool = pool.name;
        const team = ctx.team!;
        const raw = boundTokens(chat, body, pool.config.maxTokens);

        const sub = new ResponseSubscriber(res, stallMs);
        const cache = caches.get(pool.name);
        let key: string | undefined;
        // Per-team caches say whether they hit; a shared one never does (it would tell one team what another asked).
        const teamScoped = pool.config.cache?.scope !== "shared";
        if (cache) {
            if (/\bno-store\b/i.test(String(req.headers["cache-control"] ?? "")) || !isDeterministic(chat.body)) {
                metrics.cacheBypass.inc({ pool: pool.name });
                ctx.cache = "bypass";
            } else {
                key = cacheKey(pool.name, chat.body, teamScoped ? team : undefined);
                const hit = cache.get(key);
                const inFlight = hit ? undefined : sharedFlights.get(key);
                if (hit || inFlight?.join(sub)) {
                    metrics.cacheHits.inc({ pool: pool.name });
                    ctx.cache = hit ? "hit" : "shared";
                    if (teamScoped) res.setHeader("x-gateway-cache", ctx.cache);
                    if (hit) replay(sub, hit);
                    else onClosed(ctx, () => inFlight!.leave(sub));
                    return;
                }
                metrics.cacheMisses.inc({ pool: pool.name });
                ctx.cache = "miss";
            }
            if (teamScoped) res.setHeader("x-gateway-cache", ctx.cache);
        }

        const flightKey = key;
        const flight: Flight = new Flight(
            {
                pool,
                body: raw,
                stream: chat.stream,
                team,
                requestId: ctx.id,
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
        deps.flights.add(flight);
        void flight.run().finally(() => deps.flights.delete(flight));
    }

    return (req, res) => {
        const ctx = newContext(requestIdOf(req.headers));
        res.setHeader("x-request-id", ctx.id);
        if (gate.draining) {
            res.setHeader("connection", "close");
            return writeError(res, errors.shuttingDown());
        }
        gate.track(
            ctx,
            (fn) => onResponseClosed(req, res, fn),
            () => ({ status: res.writableFinished ? res.statusCode : 499, line: LOG_LINE, ip: deps.clientIp(req) }),
        );
        const limit = config.maxBodyBytes;
        const refused = gate.admit(ctx, "POST", req.headers, { json: true, limit }) ?? deps.billing?.refusal(ctx.team!, "chat");
        if (refused) return refuse(req, res, refused);
        if (deps.serverRequestMs > requestMs) bodyDeadline(ctx, req, res, requestMs);

        const parts: Buffer[] = [];
        let size = 0;
        const onData = (chunk: Buffer) => {
            size += chunk.length;
            if (size > limit) {
                req.off("data", onData).off("end", onEnd);
                parts.length = 0;
                refuse(req, res, errors.tooLarge(limit));
                return;
            }
            parts.push(chunk);
        };
        const onEnd = () => {
            // (Node's parser holds a body to its Content-Length: a short one never ends, a long one is a bad next request.)
            if (ctx.closed) return;
            try {
                answer(req, res, ctx, parts.length === 1 ? parts[0] : Buffer.concat(parts, size));
            } catch (e) {
                if (e instanceof GatewayError) return refuse(req, res, e);
                log.error({ requestId: ctx.id, err: { message: (e as Error).message } }, "unhandled error");
                refuse(req, res, new GatewayError(500, "server_error", "internal_error", "Internal gateway error"));
            }
        };
        req.on("data", onData).on("end", onEnd);
    };
}
