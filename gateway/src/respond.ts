/**
 * Writing answers to the client: a flight subscriber bound to a fastify reply, and errors.
 * Nothing is written past a full socket: streamData() reports it and the flight waits on
 * waitWritable(); a whole answer left unread for clientStallSeconds closes the connection.
 */
import type { FastifyReply } from "fastify";
import { PassThrough } from "stream";
import type { CachedResponse } from "./cache";
import { GatewayError, sseErrorEvent } from "./errors";
import type { Subscriber } from "./flight";

const NEWLINE = Buffer.from("\n");

export function sendError(reply: FastifyReply, err: GatewayError): FastifyReply {
    if (err.retryAfter !== undefined) reply.header("retry-after", String(err.retryAfter));
    return reply.code(err.status).type("application/json; charset=utf-8").send(err.body());
}

export class ReplySubscriber implements Subscriber {
    private sent = false;
    private pass: PassThrough | undefined;

    /** stallMs: how long a whole answer may sit unread in the socket before the connection is closed. */
    constructor(
        private readonly reply: FastifyReply,
        private readonly stallMs: number,
    ) {}

    whole(status: number, contentType: string, body: Buffer): void {
        if (this.sent) return;
        this.sent = true;
        this.reply.code(status).type(contentType).send(body);
        if (this.reply.raw.writableNeedDrain) this.watchStall();
    }

    /**
     * What is left to send sits in memory until the client reads it: a client that reads
     * nothing for stallMs is disconnected. Called only when the socket is already full.
     */
    private watchStall(): void {
        const raw = this.reply.raw;
        let timer: NodeJS.Timeout;
        const arm = () => {
            clearTimeout(timer);
            timer = setTimeout(() => this.abandon(), this.stallMs);
        };
        const stop = () => {
            clearTimeout(timer);
            raw.off("drain", arm);
            this.pass?.off("drain", arm);
        };
        arm();
        raw.on("drain", arm).once("finish", stop).once("close", stop);
        this.pass?.on("drain", arm);
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

    streamData(chunk: Buffer): boolean {
        return this.writable ? this.pass!.write(chunk) : true;
    }

    waitWritable(ms: number): Promise<boolean> {
        const pass = this.pass;
        if (pass === undefined || !this.writable || !pass.writableNeedDrain) return Promise.resolve(true);
        return new Promise<boolean>((resolve) => {
            const done = (ok: boolean) => {
                clearTimeout(timer);
                pass.off("drain", onDrain).off("close", onClose);
                resolve(ok);
            };
            const onDrain = () => done(true);
            const onClose = () => done(true); // gone: it no longer holds anything back
            const timer = setTimeout(() => done(false), ms);
            pass.once("drain", onDrain).once("close", onClose);
        });
    }

    abandon(): void {
        this.pass?.destroy();
        this.reply.raw.destroy();
    }

    streamEnd(): void {
        if (!this.writable) return;
        const pass = this.pass!;
        pass.end();
        if (pass.writableNeedDrain || pass.readableLength > 0 || this.reply.raw.writableNeedDrain) this.watchStall();
    }

    fail(err: GatewayError): void {
        if (!this.sent) {
            this.sent = true;
            sendError(this.reply, err);
        } else if (this.writable) {
            // The leading newline ends any event in progress, so the error event stands alone.
            this.pass!.end(Buffer.concat([NEWLINE, sseErrorEvent(err)]));
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
