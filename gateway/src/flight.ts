/**
 * One upstream call and everyone waiting for its answer.
 *
 * A flight waits for an upstream (the pool's queue), sends the request, and relays the
 * answer to its subscribers: normally the one client that asked; for a cacheable request,
 * also identical requests that arrive while it runs (they get the chunks so far, then the
 * live ones). Rules it implements:
 * - a connection failure before the answer starts (connect error, reset, broken body of a
 *   non-stream answer, stream cut before its first chunk: the worker's fault) is retried once,
 *   preferably on another upstream; nothing was sent to the client yet, so the retry is
 *   invisible. A 5xx answer or a timeout is not retried: the request reached the model and may
 *   have failed on its own input, and a retry would double the GPU work (and, for a poisoned
 *   request, take a second worker down);
 * - the upstream is read only as fast as the clients read: when a client's socket is full the
 *   flight stops reading (undici then stops reading the socket) until it drains, and a client
 *   that stays full for streams.clientStallSeconds is cut off. A stream is bounded in bytes,
 *   line length and duration;
 * - a failure after a stream started ends it with an error event, never a silent truncation
 *   (a stream that closes without `data: [DONE]` counts as cut);
 * - when every subscriber has gone, the upstream request is aborted (vLLM then stops generating).
 */
import type { Dispatcher } from "undici";
import type { GatewayConfig } from "./config";
import { errors, GatewayError } from "./errors";
import type { Logger } from "./log";
import type { Metrics } from "./metrics";
import { AbortedError, Cancellation, Pool } from "./pool";
import { CHAT_PATH } from "./request";
import type { Outcome, Upstream } from "./upstream";
import { SseScanner, Usage, usageOfJson } from "./usage";
import { requestWhole } from "./whole";

/** Where a flight's answer goes: a client response (server.ts). */
export interface Subscriber {
    /** A complete answer: non-stream, or a stream request the upstream answered with an error. */
    whole(status: number, contentType: string, body: Buffer): void;
    streamStart(status: number, contentType: string): void;
    /** Returns false when the client's buffer is full: wait for waitWritable() before sending more. */
    streamData(chunk: Buffer): boolean;
    /** Resolves true once the client has read what is buffered, false if it did not within `ms` (or went away). */
    waitWritable(ms: number): Promise<boolean>;
    /** Cuts a client that does not read (its connection is closed; the close makes it leave). */
    abandon(): void;
    streamEnd(): void;
    /** Before anything was sent: an error response; during a stream: an error event, then the end. */
    fail(err: GatewayError): void;
}

export interface FlightRequest {
    pool: Pool;
    body: Buffer;
    stream: boolean;
    /** Team whose queue slot and usage this call counts against. */
    team: string;
    requestId: string;
    /** Absolute time (ms) until which the request may wait for a ready upstream. */
    deadlineMs: number;
    /** Keep the answer's bytes up to this size for the cache and late joiners; 0: do not. */
    recordLimit: number;
}

export interface FlightHooks {
    /** The answer completed with 200 and was recorded whole. */
    onRecorded?(status: number, contentType: string, chunks: Buffer[]): void;
    /** No new subscriber may join from now on (finished, failed, or too big to replay). */
    onClosedToJoiners?(): void;
    onUsage?(usage: Usage): void;
}

/** Non-stream answers are buffered (to allow a retry); this bounds that buffer (a chat answer is KBs). */
const MAX_WHOLE_BYTES = 16 * 1024 * 1024;

type BodyReadable = Dispatcher.ResponseData["body"];

class RetryableError extends Error {}

/** undici's timeouts: the worker is slow on this request, not broken. */
function isTimeout(e: unknown): boolean {
    const code = (e as { code?: unknown }).code;
    return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}

/** A whole (non-stream) answer, bounded by MAX_WHOLE_BYTES. */
async function readWhole(body: BodyReadable, contentLength: number): Promise<Buffer> {
    if (contentLength <= MAX_WHOLE_BYTES) {
        // Known size: undici collects it without an async iterator per chunk.
        const bytes = await body.bytes();
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    if (contentLength > MAX_WHOLE_BYTES) throw new Error(`answer larger than ${MAX_WHOLE_BYTES} bytes`);
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_WHOLE_BYTES) throw new Error(`answer larger than ${MAX_WHOLE_BYTES} bytes`);
        parts.push(chunk);
    }
    return Buffer.concat(parts);
}

export class Flight {
    private readonly subs = new Set<Subscriber>();
    private readonly abort = new Cancellation();
    private state: "waiting" | "streaming" | "done" = "waiting";
    private streamHead?: { status: number; contentType: string };
    private chunks: Buffer[] = [];
    private recorded = 0;
    private recording: boolean;
    private joinable = true;

    constructor(
        private readonly req: FlightRequest,
        private readonly config: GatewayConfig,
        private readonly metrics: Metrics,
        private readonly log: Logger,
        private readonly hooks: FlightHooks = {},
    ) {
        this.recording = req.recordLimit > 0;
    }

    get subscribers(): number {
        return this.subs.size;
    }

    /** Adds a subscriber; false if the flight can no longer replay what it already sent. */
    join(sub: Subscriber): boolean {
        if (!this.joinable) return false;
        this.subs.add(sub);
        if (this.state === "streaming") {
            sub.streamStart(this.streamHead!.status, this.streamHead!.contentType);
            for (const c of this.chunks) sub.streamData(c);
        }
        return true;
    }

    /** A subscriber's client went away; the last one leaving cancels the upstream call. */
    leave(sub: Subscriber): void {
        this.subs.delete(sub);
        if (this.subs.size === 0 && this.state !== "done") {
            this.closeToJoiners();
            this.abort.abort();
        }
    }

    /** Ends the flight now with an error for everyone (drain timeout). */
    terminate(err: GatewayError): void {
        if (this.state === "done") return;
        this.finish(err);
        this.abort.abort();
    }

    async run(): Promise<void> {
        const { pool } = this.req;
        let avoid: Upstream | undefined;
        for (let attempt = 1; ; attempt++) {
            let up: Upstream;
            try {
                up = await pool.acquire({
                    team: this.req.team,
                    // A retry may wait again, as long as a first attempt may.
                    deadlineMs: attempt === 1 ? this.req.deadlineMs : Date.now() + this.config.queue.maxWaitSeconds * 1000,
                    signal: this.abort,
                    urgent: attempt > 1,
                    avoid,
                });
            } catch (e) {
                if (!(e instanceof AbortedError)) this.finish(e as GatewayError);
                return;
            }
            try {
                await this.send(up);
                return;
            } catch (e) {
                if (!(e instanceof RetryableError) || this.state === "done") return;
                if (attempt >= 2) {
                    this.finish(errors.upstreamFailed(pool.name, e.message));
                    return;
                }
                this.metrics.retries.inc({ pool: pool.name });
                this.log.warn(
                    { requestId: this.req.requestId, pool: pool.name, upstream: up.origin, err: e.message },
                    "upstream failed before answering; retrying",
                );
                avoid = up;
            }
        }
    }

    /** One attempt on one upstream. Throws RetryableError while nothing was sent to clients. */
    private async send(up: Upstream): Promise<void> {
        const { pool, stream } = this.req;
        let outcome: Outcome = "ok";
        try {
            const headers = {
                ...up.headers,
                "content-type": "application/json",
                accept: stream ? "text/event-stream" : "application/json",
                "x-request-id": this.req.requestId,
            };
            if (!stream) {
                const res = await requestWhole(up.http, { path: CHAT_PATH, headers, body: this.req.body, signal: this.abort, maxBytes: MAX_WHOLE_BYTES });
                if (res.statusCode >= 500) {
                    // Not retried (see the top comment); the upstream probes itself to tell whose fault it was.
                    outcome = "http-5xx";
                    this.finish(errors.upstreamFailed(pool.name, `HTTP ${res.statusCode}`));
                    return;
                }
                this.deliverWhole(res.statusCode, String(res.headers["content-type"] ?? "application/json"), res.body);
                return;
            }
            const res = await up.http.request({ method: "POST", path: CHAT_PATH, headers, body: this.req.body, signal: this.abort });
            const contentType = String(res.headers["content-type"] ?? "application/json");
            if (res.statusCode >= 500) {
                // As above: not retried.
                await res.body.dump().catch(() => undefined);
                outcome = "http-5xx";
                this.finish(errors.upstreamFailed(pool.name, `HTTP ${res.statusCode}`));
                return;
            }
            if (res.statusCode === 200 && contentType.startsWith("text/event-stream")) {
                const scanner = new SseScanner();
                const limits = this.config.streams;
                const endBy = Date.now() + limits.maxSeconds * 1000;
                let bytes = 0;
                for await (const chunk of res.body as AsyncIterable<Buffer>) {
                    if (this.state === "waiting") this.startStream(res.statusCode, contentType);
                    if (this.state === "done") return; // every client left (aborted) or the drain ended it
                    bytes += chunk.length;
                    let over: string | undefined;
                    if (bytes > limits.maxBytes) over = `the answer exceeds ${limits.maxBytes} bytes`;
                    else if (Date.now() > endBy) over = `the answer took longer than ${limits.maxSeconds} s`;
                    if (over === undefined) {
                        scanner.push(chunk);
                        if (scanner.lineTooLong) over = "the worker sent an SSE line longer than 1 MiB";
                    }
                    if (over !== undefined) {
                        // Cut at a line end, so the error event that follows parses as its own event.
                        const nl = scanner.midLine && !scanner.lineTooLong ? chunk.indexOf(0x0a) : -1;
                        if (nl >= 0) this.relay(chunk.subarray(0, nl + 1));
                        this.streamFailed(up, over);
                        this.abort.abort();
                        return;
                    }
                    const full = this.relay(chunk);
                    if (full !== undefined) await this.waitForClients(full);
                }
                if (this.state === "waiting") {
                    outcome = "http-5xx";
                    throw new RetryableError("empty stream");
                }
                if (scanner.usage) this.hooks.onUsage?.(scanner.usage);
                if (!scanner.sawDone) {
                    outcome = "connect-failure";
                    this.streamFailed(up, "the stream closed before data: [DONE]");
                    return;
                }
                this.finish();
                return;
            }
            // A stream request the worker answered with an error (or not as a stream).
            this.deliverWhole(res.statusCode, contentType, await readWhole(res.body, Number(res.headers["content-length"] ?? NaN)));
        } catch (e) {
            if (e instanceof RetryableError) throw e;
            if (this.abort.aborted) {
                outcome = "aborted";
                return;
            }
            const detail = (e as Error).message || String(e);
            if (isTimeout(e)) {
                // Slow on this request (a long generation): neither eject nor retry.
                outcome = "timeout";
                if (this.state === "waiting") this.finish(errors.upstreamTimeout(pool.name, detail));
                else this.streamFailed(up, detail);
                return;
            }
            outcome = "connect-failure";
            if (this.state === "waiting") throw new RetryableError(detail);
            this.streamFailed(up, detail);
        } finally {
            pool.release(up, outcome, this.req.team);
        }
    }

    /** A complete answer to every subscriber (recorded for the cache when it is a 200). */
    private deliverWhole(status: number, contentType: string, body: Buffer): void {
        if (status === 200) {
            const usage = usageOfJson(body);
            if (usage) this.hooks.onUsage?.(usage);
            if (this.recording && body.length <= this.req.recordLimit) this.chunks = [body];
            else this.recording = false;
        } else {
            this.recording = false;
        }
        this.closeToJoiners();
        this.state = "done";
        for (const s of this.subs) s.whole(status, contentType, body);
        this.complete(status, contentType);
    }

    private startStream(status: number, contentType: string): void {
        this.state = "streaming";
        this.streamHead = { status, contentType };
        for (const s of this.subs) s.streamStart(status, contentType);
    }

    /** Sends a chunk to every subscriber; returns the ones whose buffer is now full. */
    private relay(chunk: Buffer): Subscriber[] | undefined {
        if (this.recording) {
            this.recorded += chunk.length;
            if (this.recorded > this.req.recordLimit) {
                // Too big to keep: stop recording, and so stop accepting joiners who would need the replay.
                this.recording = false;
                this.chunks = [];
                this.closeToJoiners();
            } else {
                this.chunks.push(chunk);
            }
        }
        let full: Subscriber[] | undefined;
        for (const s of this.subs) if (!s.streamData(chunk)) (full ??= []).push(s);
        return full;
    }

    /**
     * Waits until the full clients have read (upstream reading is paused meanwhile); one that
     * reads nothing for streams.clientStallSeconds is cut off so it holds no memory or slot.
     */
    private async waitForClients(full: Subscriber[]): Promise<void> {
        const ms = this.config.streams.clientStallSeconds * 1000;
        const ok = await Promise.all(full.map((s) => s.waitWritable(ms)));
        full.forEach((s, i) => {
            if (ok[i] || !this.subs.has(s)) return;
            this.metrics.streamErrors.inc({ pool: this.req.pool.name });
            this.log.warn(
                { requestId: this.req.requestId, pool: this.req.pool.name, seconds: ms / 1000 },
                "client read nothing while its buffer was full; cutting it off",
            );
            s.abandon();
        });
    }

    private streamFailed(up: Upstream, detail: string): void {
        this.metrics.streamErrors.inc({ pool: this.req.pool.name });
        this.log.warn({ requestId: this.req.requestId, pool: this.req.pool.name, upstream: up.origin, err: detail }, "upstream failed mid-stream");
        this.finish(errors.streamInterrupted(this.req.pool.name, detail));
    }

    /** Ends a stream (or fails everyone) and closes the flight. */
    private finish(err?: GatewayError): void {
        if (this.state === "done") return;
        const wasStreaming = this.state === "streaming";
        this.state = "done";
        this.closeToJoiners();
        for (const s of this.subs) {
            if (err) s.fail(err);
            else s.streamEnd();
        }
        if (!err && wasStreaming && this.streamHead) this.complete(this.streamHead.status, this.streamHead.contentType);
    }

    private complete(status: number, contentType: string): void {
        if (status === 200 && this.recording) this.hooks.onRecorded?.(status, contentType, this.chunks);
        this.chunks = [];
    }

    private closeToJoiners(): void {
        if (!this.joinable) return;
        this.joinable = false;
        this.hooks.onClosedToJoiners?.();
    }
}
