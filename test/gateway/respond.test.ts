/**
 * ResponseSubscriber's stall watch for a whole (non-stream) answer. On 127.0.0.1 the kernel's
 * socket buffers (tcp_rmem up to 32 MiB here) swallow any answer the gateway allows (16 MiB),
 * so a client that never reads cannot be made over real TCP; these tests drive the watch with
 * a response whose socket reports libuv's write queue as a client reads (or does not).
 */
import * as assert from "assert";
import { EventEmitter } from "events";
import type { ServerResponse } from "http";
import { errors } from "../../gateway/src/errors";
import { ResponseSubscriber } from "../../gateway/src/respond";
import { sleep } from "./helpers";

/** The parts of a ServerResponse the subscriber uses, after end() as Node reports them (writableNeedDrain false). */
class StandInResponse extends EventEmitter {
    socket: { writableLength: number; _handle: { writeQueueSize: number } } | null = { writableLength: 0, _handle: { writeQueueSize: 0 } };
    destroyed = false;
    writableEnded = false;
    writableNeedDrain = false;
    headersSent = false;
    status = 0;
    headers: Record<string, unknown> = {};
    written = 0;
    writeHead(status: number, headers: Record<string, unknown>): this {
        this.status = status;
        this.headers = headers;
        this.headersSent = true;
        return this;
    }
    setHeader(): void {}
    write(chunk: Buffer): boolean {
        this.written += chunk.length;
        return true;
    }
    end(chunk?: Buffer): void {
        if (chunk) this.written += chunk.length;
        this.writableEnded = true;
    }
    destroy(): void {
        this.destroyed = true;
        this.emit("close");
    }
    /** The kernel took `bytes` more (the client read). */
    drainSome(bytes: number): void {
        this.socket!._handle.writeQueueSize = Math.max(0, this.socket!._handle.writeQueueSize - bytes);
    }
}

function subscriberOn(res: StandInResponse, stallMs: number): ResponseSubscriber {
    return new ResponseSubscriber(res as unknown as ServerResponse, stallMs);
}

describe("ResponseSubscriber: a whole answer the client does not read", () => {
    it("closes the connection when nothing of the answer left the gateway for clientStallSeconds", async () => {
        const res = new StandInResponse();
        res.socket!._handle.writeQueueSize = 8 << 20; // 8 MiB waiting for a client that reads nothing
        subscriberOn(res, 100).whole(200, "application/json", Buffer.alloc(1024));
        await sleep(350);
        assert.strictEqual(res.destroyed, true, "the stalled client should have been cut off");
    });

    it("watches a pipelined answer once it gets its socket (it waits for the answer before it)", async () => {
        const res = new StandInResponse();
        const socket = res.socket!;
        res.socket = null; // queued behind the previous response on this connection
        subscriberOn(res, 100).whole(200, "application/json", Buffer.alloc(1024));
        await sleep(150);
        assert.strictEqual(res.destroyed, false);
        // Its turn: Node assigns the socket, emits 'socket', and flushes into a full socket.
        res.socket = socket;
        socket._handle.writeQueueSize = 8 << 20;
        res.emit("socket", socket);
        await sleep(350);
        assert.strictEqual(res.destroyed, true, "the stalled client should have been cut off");
    });

    it("keeps a client that reads slowly", async () => {
        const res = new StandInResponse();
        res.socket!._handle.writeQueueSize = 8 << 20;
        subscriberOn(res, 100).whole(200, "application/json", Buffer.alloc(1024));
        const reader = setInterval(() => res.drainSome(1 << 20), 40);
        await sleep(450);
        clearInterval(reader);
        assert.strictEqual(res.destroyed, false, "a client that keeps reading must not be cut");
        res.emit("finish");
    });

    it("does not watch an answer the socket took whole", async () => {
        const res = new StandInResponse();
        subscriberOn(res, 50).whole(200, "application/json", Buffer.alloc(1024));
        await sleep(150);
        assert.strictEqual(res.destroyed, false);
        assert.strictEqual(res.status, 200);
        assert.strictEqual(res.headers["content-length"], 1024);
    });

    it("watches the end of a stream the same way", async () => {
        const res = new StandInResponse();
        const sub = subscriberOn(res, 100);
        sub.streamStart(200, "text/event-stream");
        sub.streamData(Buffer.from("data: {}\n\n"));
        res.socket!._handle.writeQueueSize = 4 << 20;
        sub.streamEnd();
        await sleep(350);
        assert.strictEqual(res.destroyed, true);
    });

    it("sends an error with Retry-After and x-should-retry before anything else was sent", () => {
        const res = new StandInResponse();
        const set: Record<string, string> = {};
        res.setHeader = ((k: string, v: string) => void (set[k] = v)) as () => void;
        subscriberOn(res, 100).fail(errors.queueFull("a10g", 3));
        assert.strictEqual(res.status, 429);
        assert.strictEqual(set["retry-after"], "3");
        assert.strictEqual(res.headers["x-should-retry"], "true");
        assert.strictEqual(res.headers["content-type"], "application/json; charset=utf-8");
    });
});
