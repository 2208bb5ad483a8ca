/**
 * Admission: what every /v1 request passes before its body is read, on both request paths
 * (the chat route on node:http, chat.ts, and the fastify routes, server.ts): draining, the
 * API key, the content type, the body limit, the team's limits (every method: a GET counts
 * against the team's request rate and concurrency like a POST) and the body budget with each
 * team's reserve (bodyBudget.ts). A request refused here costs no buffer. Also the one log
 * line and the metrics each request ends with.
 */
import { randomUUID } from "crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "http";
import type { Socket } from "net";
import { performance } from "perf_hooks";
import type { Authenticator } from "./auth";
import { BodyBudget } from "./bodyBudget";
import type { GatewayConfig } from "./config";
import { errors, GatewayError } from "./errors";
import { clip } from "./json";
import type { TeamLimiter } from "./limits";
import type { Logger } from "./log";
import type { Metrics } from "./metrics";
import { writeError } from "./respond";

export interface RequestContext {
    readonly id: string;
    /** performance.now() at arrival. */
    readonly startMs: number;
    team?: string;
    pool?: string;
    model?: string;
    cache?: "hit" | "shared" | "miss" | "bypass";
    closed: boolean;
    /** Bytes of the body budget this request holds (released when its response closes). */
    bodyBytes: number;
    cleanup: Array<() => void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's request id (so logs join up across proxies), or a new one. */
export function requestIdOf(headers: IncomingHttpHeaders): string {
    const h = headers["x-request-id"];
    return typeof h === "string" && REQUEST_ID.test(h) ? h : randomUUID();
}

export function newContext(id: string): RequestContext {
    return { id, startMs: performance.now(), closed: false, cleanup: [], bodyBytes: 0 };
}

/** Runs fn when the client's response is closed (at once if it already is). */
export function onClosed(ctx: RequestContext, fn: () => void): void {
    if (ctx.closed) fn();
    else ctx.cleanup.push(fn);
}

/** Callbacks of responses waiting on a socket: one 'close' listener per socket, however deep a client pipelines. */
const waitingOn = new WeakMap<Socket, Set<() => void>>();

/**
 * Runs fn once, when the response closes or its connection does. The second is needed: a
 * pipelined request's response waits for the one before it, and when the client disconnects,
 * Node 20 destroys the pending requests but never emits 'close' on that queued response
 * (lib/_http_server.js socketOnClose -> abortIncoming). Its team slot, body budget and upstream
 * call would be held for good, and a drain would never be clean.
 */
export function onResponseClosed(req: IncomingMessage, res: ServerResponse, fn: () => void): void {
    const socket = req.socket;
    let waiting = waitingOn.get(socket);
    if (waiting === undefined) {
        const set = (waiting = new Set());
        waitingOn.set(socket, set);
        socket.once("close", () => {
            waitingOn.delete(socket);
            for (const f of [...set]) f();
        });
    }
    const once = () => {
        if (!waiting.delete(once)) return;
        fn();
    };
    waiting.add(once);
    res.once("close", once);
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/** What a route does with a request body, for admission. */
export interface BodyRule {
    /** The body must be JSON (415 otherwise). */
    readonly json: boolean;
    /** Most bytes the route reads (413 before reading when Content-Length says more). */
    readonly limit: number;
    /** Bytes the request holds in memory at once: a streamed upload holds its window, not its size. @default min(Content-Length, limit) */
    readonly held?: number;
    /** How long the whole request may take to arrive, ms (uploads: batch.uploadTimeoutSeconds). @default requestTimeoutSeconds */
    readonly timeoutMs?: number;
}

/**
 * Answers 408 (OpenAI shape) and closes the connection if the request's body is not complete
 * `ms` after the request began. Node's own requestTimeout is set to the longest route's (an
 * upload's); this holds every other route to requestTimeoutSeconds, so a trickled chat body
 * is still cut as before (issue 13) while a 200 MiB upload over a slow link may take minutes.
 */
export function bodyDeadline(ctx: RequestContext, req: IncomingMessage, res: ServerResponse, ms: number): void {
    if (req.complete) return;
    const timer = setTimeout(
        () => {
            if (req.complete || res.headersSent || res.destroyed) return;
            res.setHeader("connection", "close");
            writeError(res, errors.requestTimeout(ms / 1000));
            // The client may still be sending: close once the answer is out.
            res.once("finish", () => req.socket.destroy());
        },
        Math.max(0, ms - (performance.now() - ctx.startMs)),
    );
    req.once("end", () => clearTimeout(timer));
    onClosed(ctx, () => clearTimeout(timer));
}

export class Gate {
    /** SIGTERM: new requests are refused. */
    draining = false;
    /** Requests admitted whose response has not closed yet. */
    admitted = 0;
    /** Body bytes held by all requests (being received, queued, in flight): bounded by maxHeldBodyBytes, a reserve per team. */
    readonly bodies: BodyBudget;

    constructor(
        config: GatewayConfig,
        private readonly authenticate: Authenticator,
        private readonly limiter: TeamLimiter,
        private readonly metrics: Metrics,
        private readonly log: Logger,
    ) {
        this.bodies = new BodyBudget(config);
    }

    /**
     * Counts the request as admitted until `closed` fires, then releases what it held and
     * writes its log line. Call once the request is past the draining check.
     */
    track(ctx: RequestContext, closed: (fn: () => void) => void, ended: () => { status: number; line: string; ip: string }): void {
        this.admitted++;
        closed(() => {
            this.admitted--;
            ctx.closed = true;
            for (const fn of ctx.cleanup.splice(0)) fn();
            const { status, line, ip } = ended();
            this.account(ctx, status, line, ip);
        });
    }

    /**
     * The checks before the body (the caller has handled draining). `body`: what the route does
     * with a body (POST); absent for routes without one. Fills ctx.team.
     */
    admit(ctx: RequestContext, method: string, headers: IncomingHttpHeaders, body?: BodyRule): GatewayError | undefined {
        const who = this.authenticate(headers.authorization);
        if (who instanceof GatewayError) return who;
        ctx.team = who;
        const post = method === "POST" && body !== undefined;
        const declared = Number(headers["content-length"] ?? NaN);
        // A POST without a body (cancel) needs no content type.
        const hasBody = declared > 0 || headers["transfer-encoding"] !== undefined;
        if (post && body.json && hasBody && (headers["content-type"] === undefined || !JSON_TYPE.test(headers["content-type"]))) {
            return new GatewayError(415, "invalid_request_error", "unsupported_media_type", "Send the body as JSON with 'Content-Type: application/json'");
        }
        if (post && declared > body.limit) return errors.tooLarge(body.limit);
        const release = this.limiter.admit(who);
        if (release instanceof GatewayError) return release;
        onClosed(ctx, release);
        if (!post) return undefined;
        // The body budget: what the request will hold (the declared size, or the most a chunked body may be).
        const size = Number.isFinite(declared) && declared >= 0 ? declared : hasBody ? body.limit : 0;
        const bytes = Math.min(size, body.held ?? body.limit);
        const free = this.bodies.take(who, bytes);
        if (free === undefined) return errors.tooBusy("request bodies", 1);
        ctx.bodyBytes = bytes;
        onClosed(ctx, free);
        return undefined;
    }

    /** Metrics and the one log line of a finished request (status 499: the client went away first). */
    private account(ctx: RequestContext, status: number, line: string, ip: string): void {
        const code = String(status);
        const pool = ctx.pool ?? "none";
        const seconds = (performance.now() - ctx.startMs) / 1000;
        this.metrics.requestsFor(pool, code).inc();
        this.metrics.durationFor(pool).observe(seconds);
        if (ctx.team !== undefined) this.metrics.teamRequestsFor(ctx.team, pool, code).inc();
        this.log.info(
            {
                requestId: ctx.id,
                team: ctx.team,
                pool: ctx.pool,
                model: ctx.model === undefined ? undefined : clip(ctx.model),
                status,
                ms: Math.round(seconds * 1000),
                cache: ctx.cache,
                ip,
            },
            line,
        );
    }
}

/** Fastify route options for a route taking a body: its limit (fastify enforces it while reading) and the rule admission reads. */
export function bodyRoute(rule: BodyRule): { bodyLimit: number; config: { body: BodyRule } } {
    return { bodyLimit: rule.limit, config: { body: rule } };
}

/** The rule of a fastify route (bodyRoute), or none for a route that takes no body. */
export function bodyRuleOf(routeConfig: unknown): BodyRule | undefined {
    return (routeConfig as { body?: BodyRule } | undefined)?.body;
}
