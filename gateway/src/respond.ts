/**
 * Writing answers to the client: a flight subscriber bound to a node:http response, streamed
 * bodies (file downloads), and errors. Nothing is written past a full socket: streamData()
 * reports it and the flight waits on waitWritable(); a client that takes nothing of an answer
 * for clientStallSeconds is disconnected, one that reads slowly is not (stall.ts).
 */
import type { ServerResponse } from "http";
import type { FastifyReply } from "fastify";
import type { CachedResponse } from "./cache";
import { GatewayError, sseErrorEvent } from "./errors";
import type { Subscriber } from "./flight";
import { waitDrain, watchUnread } from "./stall";

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

    /** After the last write: a client that takes nothing of the rest for stallMs is disconnected (stall.ts). */
    private watchStall(): void {
        watchUnread(this.res, this.stallMs, () => this.abandon());
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
        if (!this.writable) return Promise.resolve(true);
        return waitDrain(this.res, ms);
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

/**
 * Sends a body read piece by piece (a file from the batch store), never faster than the client
 * reads: the next piece is read only once the socket has room, and a client that takes nothing
 * for stallMs is disconnected. The caller reads the first piece before (a store failure then is
 * still an error response); a failure later cuts the connection (the Content-Length then tells
 * the client the body is incomplete).
 */
export async function sendPieces(
    res: ServerResponse,
    head: { status: number; headers: Record<string, string | number>; length: number },
    first: IteratorResult<Buffer>,
    pieces: AsyncIterator<Buffer>,
    stallMs: number,
): Promise<void> {
    let next = first;
    res.writeHead(head.status, { ...head.headers, "content-length": head.length });
    try {
        while (!next.done) {
            if (res.destroyed) return;
            if (!res.write(next.value) && !(await waitDrain(res, stallMs))) {
                res.destroy();
                return;
            }
            next = await pieces.next();
        }
        res.end();
        watchUnread(res, stallMs, () => res.destroy());
    } catch (e) {
        res.destroy();
        throw e;
    } finally {
        await pieces.return?.(undefined);
    }
}
