/**
 * A worker pool: its upstreams (static or discovered through a headless Service's DNS),
 * least-outstanding-requests balancing, and the bounded wait queue that holds requests
 * while no upstream is ready (cold start from zero) or all are at capacity.
 */
import { promises as dns } from "dns";
import { EventEmitter } from "events";
import { upstreamHeaders, type GatewayConfig, type PoolConfig } from "./config";
import { errors, GatewayError } from "./errors";
import type { PoolUsageHooks } from "./billing";
import type { Logger } from "./log";
import type { Metrics } from "./metrics";
import { FairQueue, QueueTicket } from "./queue";
import { Outcome, Upstream } from "./upstream";

/** Resolves a host name to IP addresses; [] when the name does not exist (no ready pods). */
export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = async (host) => {
    try {
        // lookup (getaddrinfo) honours /etc/resolv.conf search domains, so short Service names work in-cluster.
        return (await dns.lookup(host, { all: true })).map((a) => a.address);
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOTFOUND") return [];
        throw e;
    }
};

/**
 * Cancels one request (client gone, drain timeout). An EventEmitter, which undici accepts as
 * `signal`: on the per-request path it costs far less than AbortController's EventTarget.
 */
export class Cancellation extends EventEmitter {
    aborted = false;

    abort(): void {
        if (this.aborted) return;
        this.aborted = true;
        this.emit("abort");
    }
}

export interface AcquireOptions {
    team: string;
    /** Absolute time (ms) after which the request gives up waiting. */
    deadlineMs: number;
    signal: Cancellation;
    /** A retry of an admitted request: not counted against maxDepth, served first. */
    urgent?: boolean;
    /** Prefer another upstream than this one (it just failed). */
    avoid?: Upstream;
}

interface Waiter {
    opts: AcquireOptions;
    enqueuedMs: number;
    resolve: (up: Upstream) => void;
    reject: (err: Error) => void;
    timer: NodeJS.Timeout;
    ticket?: QueueTicket<Waiter>;
    onAbort: () => void;
}

export class AbortedError extends Error {
    constructor() {
        super("client went away");
        this.name = "AbortedError";
    }
}

/** How long a peak of interactive demand keeps batch work off the slots it needed. */
const INTERACTIVE_PEAK_WINDOW_MS = 10_000;
const PEAK_BUCKETS = 10;

export class Pool {
    readonly name: string;
    /** Slots held by batch lines (takeSpare, releaseSpare). */
    private batchOutstanding = 0;
    /** Interactive demand (in flight + waiting), the most seen in each second of the last INTERACTIVE_PEAK_WINDOW_MS. */
    private readonly peaks = new Array<number>(PEAK_BUCKETS).fill(0);
    private peakSecond = 0;
    private readonly upstreams = new Map<string, Upstream>();
    private readonly queue = new FairQueue<Waiter>();
    private rotation = 0;
    /** Headers of every request to this pool's upstreams (its upstream gateway's key). */
    private readonly headers: Readonly<Record<string, string>>;
    private discoveryTimer: NodeJS.Timeout | undefined;
    private closed = false;
    /** Labelled metric children, bound once (label hashing per call shows in profiles). */
    private readonly m: {
        queueDepth: { set(v: number): void };
        inflight: { inc(): void; dec(): void };
        queueWait: { observe(v: number): void };
        handedToWorker: { inc(): void };
    };

    constructor(
        readonly config: PoolConfig,
        private readonly gateway: GatewayConfig,
        private readonly metrics: Metrics,
        private readonly log: Logger,
        private readonly resolve: Resolver = systemResolver,
        /** The pool's meter for the per-team bill (billing/index.ts). */
        private readonly usage?: PoolUsageHooks,
    ) {
        this.name = config.name;
        this.headers = upstreamHeaders(config);
        const labels = { pool: this.name };
        this.m = {
            queueDepth: metrics.queueDepth.labels(labels),
            inflight: metrics.inflight.labels(labels),
            queueWait: metrics.queueWait.labels(labels),
            handedToWorker: metrics.upstreamRequestsFor(this.name),
        };
        metrics.queueDepth.set(labels, 0);
        // From 0, so increase() sees the first request after start (a series born at 1 shows no increase).
        metrics.upstreamRequests.inc(labels, 0);
        metrics.inflight.set(labels, 0);
        this.updateGauges();
    }

    start(): void {
        if (this.config.upstreams) this.setUpstreams(this.config.upstreams);
        else void this.discover();
    }

    get queueDepth(): number {
        return this.queue.size;
    }

    readyCount(now = Date.now()): number {
        let n = 0;
        for (const u of this.upstreams.values()) if (u.available(now, undefined)) n++;
        return n;
    }

    /** Replaces the upstream set; removed upstreams finish their in-flight requests. */
    setUpstreams(origins: readonly string[]): void {
        const wanted = new Set(origins);
        for (const [origin, up] of this.upstreams) {
            if (!wanted.has(origin)) {
                this.upstreams.delete(origin);
                void up.stop();
                this.log.info({ pool: this.name, upstream: origin }, "upstream removed");
            }
        }
        for (const origin of wanted) {
            if (this.upstreams.has(origin)) continue;
            const up = new Upstream(
                origin,
                this.gateway,
                {
                    onAvailable: () => {
                        this.dispatch();
                        this.notifySpare();
                    },
                    onStateChange: () => this.updateGauges(),
                    onEjected: (u, reason) => {
                        this.metrics.ejections.inc({ pool: this.name });
                        this.log.warn({ pool: this.name, upstream: u.origin, reason, seconds: this.gateway.health.ejectSeconds }, "upstream ejected");
                    },
                },
                this.headers,
            );
            this.upstreams.set(origin, up);
            up.startProbing();
            this.log.info({ pool: this.name, upstream: origin }, "upstream added");
        }
        this.updateGauges();
    }

    private async discover(): Promise<void> {
        if (this.closed || !this.config.dns) return;
        const i = this.config.dns.lastIndexOf(":");
        const host = this.config.dns.slice(0, i);
        const port = this.config.dns.slice(i + 1);
        try {
            const addrs = await this.resolve(host);
            if (!this.closed) this.setUpstreams([...new Set(addrs)].map((a) => (a.includes(":") ? `http://[${a}]:${port}` : `http://${a}:${port}`)));
        } catch (e) {
            // A DNS hiccup keeps the current set; only "no such name" (no ready pods) empties it.
            this.log.warn({ pool: this.name, host, err: (e as Error).message }, "dns lookup failed; keeping current upstreams");
        }
        if (this.closed) return;
        this.discoveryTimer = setTimeout(() => void this.discover(), this.gateway.health.dnsRefreshSeconds * 1000);
        this.discoveryTimer.unref();
    }

    /** Least outstanding requests among available upstreams; ties rotate so equal load spreads evenly. */
    private pick(avoid?: Upstream): Upstream | undefined {
        const now = Date.now();
        const max = this.config.maxConcurrentPerUpstream;
        const list = [...this.upstreams.values()];
        const n = list.length;
        let best: Upstream | undefined;
        let fallback: Upstream | undefined;
        const start = this.rotation++ % Math.max(1, n);
        for (let k = 0; k < n; k++) {
            const u = list[(start + k) % n];
            if (!u.available(now, max)) continue;
            if (u === avoid) {
                fallback = u;
                continue;
            }
            if (best === undefined || u.outstanding < best.outstanding) best = u;
        }
        return best ?? fallback;
    }

    private take(up: Upstream, team: string): Upstream {
        this.usage?.take(team);
        up.outstanding++;
        this.m.inflight.inc();
        this.m.handedToWorker.inc();
        return up;
    }

    /** Interactive requests in flight or waiting, all upstreams. */
    private interactiveDemand(): number {
        let n = this.queue.size - this.batchOutstanding;
        for (const u of this.upstreams.values()) n += u.outstanding;
        return n;
    }

    /** Records the interactive demand now (plus `arriving`, a request not counted anywhere yet) in this second's bucket. */
    private notePeak(arriving = 0): void {
        const sec = Math.floor(Date.now() / (INTERACTIVE_PEAK_WINDOW_MS / PEAK_BUCKETS));
        if (sec !== this.peakSecond) {
            // Buckets of the seconds that passed without a note start empty.
            for (let k = this.peakSecond + 1; k <= sec && k <= this.peakSecond + PEAK_BUCKETS; k++) this.peaks[k % PEAK_BUCKETS] = 0;
            this.peakSecond = sec;
        }
        const i = sec % PEAK_BUCKETS;
        this.peaks[i] = Math.max(this.peaks[i], this.interactiveDemand() + arriving);
    }

    /** The most interactive demand seen in the last INTERACTIVE_PEAK_WINDOW_MS. */
    recentInteractivePeak(): number {
        this.notePeak();
        return Math.max(...this.peaks);
    }

    /** Resolves with an upstream (its slot taken), or rejects: 429 queue full, 503 wait exceeded, AbortedError. */
    acquire(opts: AcquireOptions): Promise<Upstream> {
        if (opts.signal.aborted) return Promise.reject(new AbortedError());
        // This request counts as interactive demand from its arrival (batch lines take slots through takeSpare).
        this.notePeak(1);
        // FIFO: nobody overtakes a waiting request, except retries of admitted ones.
        if (this.queue.size === 0 || opts.urgent) {
            const up = this.pick(opts.avoid);
            if (up) return Promise.resolve(this.take(up, opts.team));
        }
        if (!opts.urgent && this.queue.size >= this.gateway.queue.maxDepth) {
            // At zero workers no slot frees before the pool starts: say so, or SDKs retry every few seconds.
            const retryAfter =
                this.readyCount() === 0 ? this.gateway.queue.retryAfterSeconds : Math.max(1, Math.ceil(this.gateway.queue.retryAfterSeconds / 10));
            const full = errors.queueFull(this.name, retryAfter);
            // Full: a team below its share takes the slot of the newest request of the team holding the most.
            const victim = this.queue.makeRoomFor(opts.team);
            if (victim === undefined) return Promise.reject(full);
            this.leave(victim);
            victim.reject(full);
        }
        return new Promise<Upstream>((resolve, reject) => {
            const w: Waiter = {
                opts,
                enqueuedMs: Date.now(),
                resolve,
                reject,
                timer: setTimeout(() => this.expire(w), Math.max(0, opts.deadlineMs - Date.now())),
                onAbort: () => {
                    if (this.leave(w)) reject(new AbortedError());
                },
            };
            opts.signal.once("abort", w.onAbort);
            w.ticket = this.queue.push(opts.team, w, opts.urgent);
            this.usage?.enqueue(opts.team);
            this.m.queueDepth.set(this.queue.size);
        });
    }

    /** Takes a waiter out of the queue; false if it was already served. */
    private leave(w: Waiter): boolean {
        clearTimeout(w.timer);
        w.opts.signal.removeListener("abort", w.onAbort);
        const removed = w.ticket !== undefined && this.queue.remove(w.ticket);
        this.m.queueDepth.set(this.queue.size);
        if (removed) {
            this.m.queueWait.observe((Date.now() - w.enqueuedMs) / 1000);
            this.usage?.dequeue(w.opts.team);
        }
        return removed;
    }

    private expire(w: Waiter): void {
        if (!this.leave(w)) return;
        const waited = Math.round((Date.now() - w.enqueuedMs) / 100) / 10;
        const retryAfter = this.gateway.queue.retryAfterSeconds;
        w.reject(
            this.readyCount() === 0
                ? errors.poolStarting(this.name, waited, retryAfter)
                : errors.poolBusy(this.name, waited, Math.max(1, Math.ceil(retryAfter / 10))),
        );
    }

    /** Serves waiting requests while an upstream has room. */
    dispatch(): void {
        if (this.queue.size > 0) this.notePeak();
        while (this.queue.size > 0) {
            const head = this.queue.peek()!;
            const up = this.pick(head.opts.avoid);
            if (!up) return;
            this.queue.shift();
            head.ticket = undefined;
            clearTimeout(head.timer);
            head.opts.signal.removeListener("abort", head.onAbort);
            this.m.queueDepth.set(this.queue.size);
            this.m.queueWait.observe((Date.now() - head.enqueuedMs) / 1000);
            this.usage?.dequeue(head.opts.team);
            head.resolve(this.take(up, head.opts.team));
        }
    }

    /** Returns an upstream slot (taken for `team`) and feeds passive health. */
    release(up: Upstream, outcome: Outcome, team: string): void {
        this.usage?.release(team);
        up.outstanding--;
        this.m.inflight.dec();
        up.report(outcome);
        this.dispatch();
        this.notifySpare();
    }

    private readonly spareListeners = new Set<() => void>();

    /** fn runs whenever a slot may have freed up (batch/runner.ts waits on it); returns the unsubscribe. */
    onSpare(fn: () => void): () => void {
        this.spareListeners.add(fn);
        return () => this.spareListeners.delete(fn);
    }

    private notifySpare(): void {
        for (const fn of this.spareListeners) fn();
    }

    /**
     * An upstream slot for batch work (batch/runner.ts), only from room interactive requests
     * leave: nobody waits in this pool's queue, `reserve` of maxConcurrentPerUpstream stay free
     * on the upstream, and batch holds no slot interactive demand needed in the last
     * INTERACTIVE_PEAK_WINDOW_MS (so when the class is busy, batch lines do not take the slots
     * between its requests and make the next ones wait: issue 23 point 7). `room(up)`: batch
     * lines that upstream may still take. Give it back with releaseSpare.
     */
    takeSpare(reserve: number, room: (up: Upstream) => number, team: string): Upstream | undefined {
        let best: Upstream | undefined;
        this.forSpare(reserve, room, (u) => {
            if (best === undefined || u.outstanding < best.outstanding) best = u;
        });
        if (best === undefined) return undefined;
        this.batchOutstanding++;
        return this.take(best, team);
    }

    /** Returns a slot taken with takeSpare. */
    releaseSpare(up: Upstream, outcome: Outcome, team: string): void {
        this.batchOutstanding--;
        this.release(up, outcome, team);
    }

    /** How many batch lines takeSpare would grant now. */
    spareCount(reserve: number, room: (up: Upstream) => number): number {
        let n = 0;
        this.forSpare(reserve, room, (u, free) => (n += free));
        return n;
    }

    private forSpare(reserve: number, room: (up: Upstream) => number, fn: (up: Upstream, free: number) => void): void {
        if (this.queue.size > 0) return;
        const now = Date.now();
        const max = this.config.maxConcurrentPerUpstream;
        // With one slot per upstream nothing can be reserved: batch then waits only for an idle upstream.
        const limit = max === undefined ? undefined : Math.max(1, max - reserve);
        // Pool-wide, batch may hold what the ready upstreams' limits leave above the recent interactive peak.
        let budget = Infinity;
        if (limit !== undefined) {
            let slots = 0;
            for (const u of this.upstreams.values()) if (u.available(now, undefined)) slots += limit;
            budget = slots - this.recentInteractivePeak() - this.batchOutstanding;
        }
        for (const u of this.upstreams.values()) {
            if (budget <= 0) return;
            if (!u.available(now, limit)) continue;
            const free = Math.min(room(u), limit === undefined ? Infinity : limit - u.outstanding, budget);
            if (free > 0) {
                fn(u, free);
                budget -= free;
            }
        }
    }

    /** Fails every waiting request (drain timeout). */
    failWaiting(err: GatewayError): void {
        let w: Waiter | undefined;
        while ((w = this.queue.peek()) !== undefined) {
            this.leave(w);
            w.reject(err);
        }
    }

    private updateGauges(): void {
        const ready = this.readyCount();
        this.usage?.workers(ready);
        this.metrics.readyUpstreams.set({ pool: this.name }, ready);
        this.metrics.knownUpstreams.set({ pool: this.name }, this.upstreams.size);
    }

    async close(force: boolean): Promise<void> {
        this.closed = true;
        clearTimeout(this.discoveryTimer);
        await Promise.all([...this.upstreams.values()].map((u) => (force ? u.destroy() : u.stop())));
    }
}
