/**
 * Telling a client that reads slowly from one that reads nothing (issue 23 point 9).
 *
 * Node cannot see how much of what it wrote the client has taken: once the kernel's buffers
 * are full (a few MB on a fast link), 'drain' and libuv's write queue move only when the kernel
 * wakes the writer, after about half of its send queue has left (Linux tcp_poll:
 * sk_stream_is_writeable). A client reading 4 KiB/s frees that in minutes, so waiting for
 * 'drain' cut it off as if it read nothing. The kernel does show it: the socket's send queue
 * (`tx_queue` in /proc/net/tcp and tcp6: write_seq - snd_una, bytes not yet acknowledged by the
 * client, net/ipv4/tcp_ipv4.c get_tcp4_sock) shrinks each time the client's window opens. A
 * connection counts as progressing when, between two looks, its tx_queue shrank, or Node handed
 * more bytes to the kernel (bytesWritten), or libuv's write queue shrank. Without /proc (not
 * Linux) only the last two are seen.
 *
 * The client's kernel opens its window in steps (it waits for a segment's worth of free space,
 * and more when its buffer is large: __tcp_select_window, net/ipv4/tcp_output.c), so a slow
 * reader shows progress in bursts: every ~30 s for 4 KiB/s over loopback, whose segments are
 * 64 KiB. One that reads nothing never shows progress again once its buffers are full. So a
 * connection that took something after a pause (a slow reader's signature) is allowed
 * SLOW_READER_FACTOR x the stall time between bursts; one that never did is cut after the stall time.
 */
import { promises as fs } from "fs";
import type { ServerResponse } from "http";
import type { Socket } from "net";

/** How long one read of /proc/net/tcp serves every check (they come in bursts: one per stalled client). */
const CACHE_MS = 1000;

/** /proc/net/tcp's form of an address: the 32-bit words of the address as the host stores them, in hex (little-endian here). */
function procHex(address: string): string[] {
    const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(address);
    if (v4) {
        const word = [v4[4], v4[3], v4[2], v4[1]].map((b) => Number(b).toString(16).toUpperCase().padStart(2, "0")).join("");
        // In tcp (IPv4 socket), and in tcp6 as an IPv4-mapped address (::ffff:a.b.c.d).
        return [word, `0000000000000000FFFF0000${word}`];
    }
    // IPv6: expand, then each 4-byte word byte-reversed.
    const [head, tail] = address.toLowerCase().split("::");
    const h = head ? head.split(":") : [];
    const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
    const groups = [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t].map((g) => g.padStart(4, "0"));
    const bytes = groups.join("").match(/../g) ?? [];
    let out = "";
    for (let i = 0; i < bytes.length; i += 4) out += [bytes[i + 3], bytes[i + 2], bytes[i + 1], bytes[i]].join("");
    return [out.toUpperCase()];
}

function key(localPort: number, remoteHex: string, remotePort: number): string {
    return `${localPort} ${remoteHex} ${remotePort}`;
}

/** The send queues of this process's network namespace, read from /proc at most once per CACHE_MS. */
class SendQueues {
    private table = new Map<string, number>();
    private readAt = -Infinity;
    private reading: Promise<void> | undefined;
    private available = process.platform === "linux";

    async of(socket: Socket): Promise<number | undefined> {
        if (!this.available || socket.localPort === undefined || socket.remotePort === undefined || socket.remoteAddress === undefined) return undefined;
        if (performance.now() - this.readAt >= CACHE_MS) await (this.reading ??= this.read().finally(() => (this.reading = undefined)));
        for (const hex of procHex(socket.remoteAddress)) {
            const v = this.table.get(key(socket.localPort, hex, socket.remotePort));
            if (v !== undefined) return v;
        }
        return undefined;
    }

    private async read(): Promise<void> {
        const table = new Map<string, number>();
        let found = false;
        for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
            let text: string;
            try {
                text = await fs.readFile(file, "latin1");
                found = true;
            } catch {
                continue; // no IPv6 in this namespace, or not Linux
            }
            // "sl local_address rem_address st tx_queue:rx_queue ...", addresses as HEX:PORT (hex port).
            for (const line of text.split("\n")) {
                const f = line.trim().split(/\s+/);
                if (f.length < 5 || f[3] !== "01") continue; // ESTABLISHED only
                const [, lport] = f[1].split(":");
                const [raddr, rport] = f[2].split(":");
                table.set(key(parseInt(lport, 16), raddr, parseInt(rport, 16)), parseInt(f[4].split(":")[0], 16));
            }
        }
        if (!found) this.available = false;
        this.table = table;
        this.readAt = performance.now();
    }
}

const queues = new SendQueues();

/** Bytes written to the socket that libuv has not handed to the kernel yet (lib/net.js Socket.prototype._onTimeout reads the same, v20). */
function unsent(socket: Socket): number {
    const handle = (socket as Socket & { _handle?: { writeQueueSize?: number } })._handle;
    return handle?.writeQueueSize ?? socket.writableLength;
}

/** How much longer than the stall time a proven slow reader may go between bursts of progress. */
const SLOW_READER_FACTOR = 4;

/** How far a socket's output has got, across every wait of its connection (one per socket). */
class SendProgress {
    private last: { written: number; unsent: number; tx: number | undefined } | undefined;
    /** performance.now() of the last look that saw progress (or of the first look). */
    private lastMoved = performance.now();
    /** The client took something after a pause of at least half the stall time: a slow reader, not a dead one. */
    private slowReader = false;

    constructor(private readonly socket: Socket) {}

    /** Looks again; true when the client took nothing for too long: stallMs, or SLOW_READER_FACTOR x stallMs for a proven slow reader. */
    async stalled(stallMs: number): Promise<boolean> {
        const now = { written: this.socket.bytesWritten, unsent: unsent(this.socket), tx: await queues.of(this.socket) };
        const last = this.last;
        this.last = now;
        const moved =
            last !== undefined &&
            (now.written > last.written || now.unsent < last.unsent || (now.tx !== undefined && last.tx !== undefined && now.tx < last.tx));
        const t = performance.now();
        if (moved) {
            if (t - this.lastMoved >= stallMs / 2) this.slowReader = true;
            this.lastMoved = t;
        }
        return t - this.lastMoved >= (this.slowReader ? SLOW_READER_FACTOR * stallMs : stallMs);
    }

    /** A wait begins: the stall time counts from now at the earliest. */
    restart(): void {
        this.lastMoved = Math.max(this.lastMoved, performance.now());
    }
}

const progressBySocket = new WeakMap<Socket, SendProgress>();

/** The progress record of a socket's connection (kept across the waits of all its responses). */
function progressOf(socket: Socket): SendProgress {
    let p = progressBySocket.get(socket);
    if (p === undefined) progressBySocket.set(socket, (p = new SendProgress(socket)));
    return p;
}

/**
 * How often a waiting socket is looked at: the window updates that show a slow reader's
 * progress come a segment or more at a time (64 KiB on loopback), so a reader counts as stalled
 * only when nothing moved over the whole stallMs, looked at several times.
 */
const lookEvery = (stallMs: number) => Math.max(50, Math.min(1000, stallMs / 4));

/**
 * Waits until the response's buffer drains (true), the response closes (true: it holds nothing
 * back any more), or the client took nothing for stallMs (false).
 */
export function waitDrain(res: ServerResponse, stallMs: number): Promise<boolean> {
    if (res.destroyed || res.writableEnded || !res.writableNeedDrain || !res.socket) return Promise.resolve(true);
    const progress = progressOf(res.socket);
    progress.restart();
    return new Promise<boolean>((resolve) => {
        let settled = false;
        const done = (ok: boolean) => {
            if (settled) return;
            settled = true;
            clearInterval(timer);
            res.off("drain", onDrain).off("close", onClose);
            resolve(ok);
        };
        const onDrain = () => done(true);
        const onClose = () => done(true);
        void progress.stalled(stallMs);
        const timer = setInterval(() => {
            void progress.stalled(stallMs).then((stuck) => {
                if (stuck) done(false);
            });
        }, lookEvery(stallMs));
        res.once("drain", onDrain).once("close", onClose);
    });
}

/**
 * After the last write of a response: what is left sits in memory until the client reads it.
 * Calls `cut` when the client took nothing for stallMs; stops once everything is sent.
 */
export function watchUnread(res: ServerResponse, stallMs: number, cut: () => void): void {
    const socket = res.socket;
    if (!socket) {
        // A pipelined answer waits for the one before it: watch once it has its socket and is
        // flushed (ServerResponse.assignSocket emits 'socket', then flushes; lib/_http_server.js, v20).
        res.once("socket", () => process.nextTick(() => watchUnread(res, stallMs, cut)));
        return;
    }
    if (unsent(socket) === 0) return;
    const progress = progressOf(socket);
    progress.restart();
    void progress.stalled(stallMs);
    let cutOnce = false;
    const timer = setInterval(() => {
        if (unsent(socket) === 0 || res.destroyed) return stop();
        void progress.stalled(stallMs).then((stuck) => {
            if (!stuck || res.destroyed || cutOnce) return;
            cutOnce = true;
            stop();
            cut();
        });
    }, lookEvery(stallMs));
    const stop = () => clearInterval(timer);
    res.once("finish", stop).once("close", stop);
}
