/** Writing answers to the client: a flight subscriber bound to a fastify reply, and errors. */
import type { FastifyReply } from "fastify";
import { PassThrough } from "stream";
import type { CachedResponse } from "./cache";
import { GatewayError, sseErrorEvent } from "./errors";
import type { Subscriber } from "./flight";

export function sendError(reply: FastifyReply, err: GatewayError): FastifyReply {
    if (err.retryAfter !== undefined) reply.header("retry-after", String(err.retryAfter));
    reply.header("x-should-retry", String(err.shouldRetry));
    return reply.code(err.status).type("application/json; charset=utf-8").send(err.body());
}

export class ReplySubscriber implements Subscriber {
    private sent = false;
    private pass: PassThrough | undefined;

    constructor(private readonly reply: FastifyReply) {}

    whole(status: number, contentType: string, body: Buffer): void {
        if (this.sent) return;
        this.sent = true;
        this.reply.code(status).type(contentType).send(body);
    }

    streamStart(status: number, contentType: string): void {
        if (this.sent) return;
        this.sent = true;
        this.pass = new PassThrough();
        // No proxy in between may buffer the stream: each chunk is a token for the user.
        this.reply.code(status).header("content-type", contentType).header("cache-control", "no-cache").header("x-accel-buffering", "no");
        this.reply.send(this.pass);
    }

    private get writable(): boolean {
        return this.pass !== undefined && !this.pass.destroyed && !this.pass.writableEnded;
    }

    streamData(chunk: Buffer): void {
        if (this.writable) this.pass!.write(chunk);
    }

    streamEnd(): void {
        if (this.writable) this.pass!.end();
    }

    fail(err: GatewayError): void {
        if (!this.sent) {
            this.sent = true;
            sendError(this.reply, err);
        } else if (this.writable) {
            this.pass!.end(sseErrorEvent(err));
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
