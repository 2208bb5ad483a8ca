/**
 * Writing answers to the client: a flight subscriber bound to a node:http response, and errors.
 * Nothing is written past a full socket: streamData() reports it and the flight waits on
 * waitWritable(); an answer left unread for clientStallSeconds closes the connection.
 */
import type { ServerResponse } from "http";
import type { Socket } from "net";
import type { FastifyReply } from "fastify";
import type { CachedResponse } from "./cache";
import { GatewayError, sseErrorEvent } from "./errors";
import type { Subscriber } from "./flight";

const NEWLINE = Buffer.from("\n");
const JSON_UTF8 = "application/json; charset=utf-8";

/** An error on a fastify route. */
export function sendError(reply: FastifyReply, err: GatewayError): FastifyReply {
    if (err.retryAfter !== undefined) reply.header("retry-after", String(err.retryAfter));
    reply.header("x-should-retry", String(err.shouldRetry));
    return reply.code(err.status).type(JSON_UTF8).send(err.body());
}

/** An error on the node:http chat route (chat.ts); the same headers and body as sendError. */
export function writeError(res: ServerResponse, err: GatewayError): void {
    if (res.headersSent) return;
    const body = Buffer.from(JSON.stringify(err.body()));
    if (err.retryAfter !== undefined) res.setHeader("retry-after", String(err.retryAfter));
    res.writeHead(err.status, { "x-should-retry": String(err.shouldRetry), "content-type": JSON_UTF8, "content-length": body.length });
    res.end(body);
}

/**
 * Bytes written to the socket that the kernel has not taken yet. The stream's writableLength
 * stays at the whole write until it completes; libuv's queue size on the socket's handle shrinks
 * as a slow client reads, so progress shows (Node's own socket timeout tells an active write this
 * way: lib/net.js Socket.prototype._onTimeout, v20).
 */
function unsent(socket: Socket): number {
    const handle = (socket as Socket & { _handle?: { writeQueueSize?: number } })._handle;
    return handle?.writeQueueSize ?? socket.writableLength;
}

export class ResponseSubscriber implements Subscriber {
    private sent = false;
    private streaming = false;

    /** stallMs: how long an answer may sit unread in the socket before the connection is closed. */
    constructor(
        private readonly res: ServerResponse,
        private readonly stallMs: number,
    ) {}

    whole(status: number, contentType: string, body: Buffer): void {
        if (this.sent) return;
        this.sent = true;
        this.res.writeHead(status, { "content-type": contentType, "content-length": body.length });
        this.res.end(body);
        this.watchStall();
    }

    /**
     * After the last write: what is left to send sits in memory until the client reads it. A
     * client that reads nothing for stallMs is disconnected; one that reads slowly is not.
     */
    private watchStall(): void {
        const res = this.res;
        const socket = res.socket;
        if (!socket) {
            // A pipelined answer waits for the one before it: watch once it has its socket and is
            // flushed (ServerResponse.assignSocket emits 'socket', then flushes; lib/_http_server.js, v20).
            res.once("socket", () => process.nextTick(() => this.watchStall()));
            return;
        }
        if (unsent(socket) === 0) return;
        let last = unsent(socket);
        const timer = setInterval(() => {
            const now = unsent(socket);
            if (now === 0 || res.destroyed) return stop();
            if (now >= last) {
                stop();
                this.abandon();
            }
            last = now;
        }, this.stallMs);
        const stop = () => clearInterval(timer);
        res.once("finish", stop).once("close", stop);
    }

    streamStart(status: number, contentType: string): void {
        if (this.sent) return;
        this.sent = true;
        this.streaming = true;
        // No proxy in between may buffer the stream: each chunk is a token for the user.
        this.res.writeHead(status, { "content-type": contentType, "cache-control": "no-cache", "x-accel-buffering": "no" });
    }

    private get writable(): boolean {
        return this.streaming && !this.res.destroyed && !this.res.writableEnded;
    }

    streamData(chunk: Buffer): boolean {
        return this.writable ? this.res.write(chunk) : true;
    }

    waitWritable(ms: number): Promise<boolean> {
        const res = this.res;
        if (!this.writable || !res.writableNeedDrain) return Promise.resolve(true);
        return new Promise<boolean>((resolve) => {
            const done = (ok: boolean) => {
                clearTimeout(timer);
                res.off("drain", onDrain).off("close", onClose);
                resolve(ok);
            };
            const onDrain = () => done(true);
            const onClose = () => done(true); // gone: it no longer holds anything back
            const timer = setTimeout(() => done(false), ms);
            res.once("drain", onDrain).once("close", onClose);
        });
    }

    abandon(): void {
        this.res.destroy();
    }

    streamEnd(): void {
        if (!this.writable) return;
        this.res.end();
        this.watchStall();
    }

    fail(err: GatewayError): void {
        if (!this.sent) {
            this.sent = true;
            writeError(this.res, err);
        } else if (this.writable) {
            // The leading newline ends any event in progress, so the error event stands alone.
            this.res.end(Buffer.concat([NEWLINE, sseErrorEvent(err)]));
        }
    }
}

/** Sends a cached answer exactly as the upstream sent it. */
export function replay(sub: Subscriber, hit: CachedResponse): void {
    if (hit.contentType.startsWith("text/event-stream")) {
        sub.streamStart(hit.status, hit.contentType);
        for (const c of hit.chunks) sub.streamData(c);
        sub.streamEnd();
    } else {
        sub.whole(hit.status, hit.contentType, Buffer.concat(hit.chunks));
    }
}
