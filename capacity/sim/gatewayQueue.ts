/**
 * The request path: the gateway (gateway/src/pool.ts semantics) and the vLLM workers.
 *
 * - A request goes to the routable worker with the fewest outstanding requests (ties
 *   rotate) and fewer than `maxConcurrentPerWorker`; otherwise the gateway holds it:
 *   FIFO, at most `maxQueueDepth` held (else 429), each for at most `maxWaitSeconds`
 *   (else 503). Held requests go out as soon as a worker is routable.
 * - A worker serves `concurrency` requests at once for their service time; the rest wait
 *   in its vLLM queue. A request that waits there longer than the gateway's upstream
 *   timeout gives up (504).
 * - A request held while the pool had no routable worker opens a "cold start": it ends
 *   with the first answer to a held request (time to first answer) or, if every held
 *   request gave up first, unanswered.
 */
import { Ev, Pod, SimState, WorkerPoolState } from "./state";
import { OUTCOME } from "./types";

const HELD = 1;
const WAITING = 2;

/** What the gateway asks of the cluster about a worker it routed to (cluster.ts implements it; engine.ts wires the two). */
export interface WorkerDrain {
    /** The worker is being taken out (scale-down): it gets no new request. */
    isDraining(pod: Pod): boolean;
    /** A draining worker has finished its last request: it goes once its preStop time is over. */
    release(pod: Pod): void;
}

export class Gateway {
    cluster!: WorkerDrain;

    constructor(private readonly s: SimState) {}

    arrive(r: number): void {
        const s = this.s;
        const w = s.wps[s.trace.pools[r]];
        w.arrived++;
        if (s.batch?.isBatch(r)) {
            s.batch.arrive(s.trace.pools[r], r);
            s.rec?.events.push({ t: s.now, kind: "backlog", pool: s.trace.pools[r], delta: 1 });
            return this.drainBatch(w);
        }
        const pod = this.pick(w);
        if (pod) return this.assign(pod, r);
        if (w.heldCount >= s.input.gateway.maxQueueDepth) {
            w.rejected429++;
            this.finished(w, r, 429);
            return s.resolve(r, OUTCOME.rejected429);
        }
        this.hold(w, r, false);
    }

    /** Holds a request; `urgent` retries (spot) go first, like the gateway's retries. */
    hold(w: WorkerPoolState, r: number, urgent: boolean): void {
        const s = this.s;
        (urgent ? w.urgentQ : w.heldQ).push(r);
        this.held(w, 1);
        s.inQueue[r] = HELD;
        s.meters?.enqueue(s.trace.pools[r], r, s.now);
        if (Number.isNaN(s.heldAt[r])) w.held++;
        s.heldAt[r] = s.now;
        if (w.ready.length === 0 && Number.isNaN(w.episodeStart)) {
            w.episodeStart = s.now;
            w.coldStarts++;
        }
        s.at(s.now + s.input.gateway.maxWaitSeconds, Ev.HoldTimeout, { i: r, g: s.gen[r] });
    }

    holdTimeout(r: number, g: number): void {
        const s = this.s;
        if (s.inQueue[r] !== HELD || s.gen[r] !== g) return;
        s.inQueue[r] = 0;
        s.meters?.dequeue(s.trace.pools[r], r, s.now);
        const w = s.wps[s.trace.pools[r]];
        this.held(w, -1);
        w.rejected503++;
        this.finished(w, r, 503);
        s.resolve(r, OUTCOME.rejected503);
        if (w.heldCount === 0 && !Number.isNaN(w.episodeStart)) {
            w.episodeStart = NaN;
            w.coldStartsUnanswered++;
        }
    }

    /** Sends held requests to routable workers while any has room. */
    drainHeld(w: WorkerPoolState): void {
        while (w.heldCount > 0) {
            const pod = this.pick(w);
            if (!pod) return;
            const r = this.nextHeld(w);
            if (r === undefined) return;
            this.s.inQueue[r] = 0;
            this.s.meters?.dequeue(pod.wp, r, this.s.now);
            this.held(w, -1);
            this.assign(pod, r);
        }
        this.drainBatch(w);
    }

    /** Batch lines (batch.ts) go out only on room interactive requests leave, like gateway/src/batch/runner.ts. */
    drainBatch(w: WorkerPoolState): void {
        const b = this.s.batch;
        if (!b || w.heldCount > 0) return;
        const wi = this.s.wps.indexOf(w);
        const limit = Math.max(1, w.setup.maxConcurrentPerWorker - b.setup.reservedSlots);
        while (b.waiting(wi) > 0) {
            let best: Pod | undefined;
            for (const pod of w.ready) if (pod.outstanding < limit && b.room(pod) > 0 && (!best || pod.outstanding < best.outstanding)) best = pod;
            if (!best) return;
            b.started(best);
            this.s.rec?.events.push({ t: this.s.now, kind: "backlog", pool: wi, delta: -1 });
            this.assign(best, b.next(wi)!);
        }
    }

    private nextHeld(w: WorkerPoolState): number | undefined {
        const inQueue = this.s.inQueue;
        while (w.urgentQ.length > 0) {
            const r = w.urgentQ.shift()!;
            if (inQueue[r] === HELD) return r;
        }
        while (w.heldHead < w.heldQ.length) {
            const r = w.heldQ[w.heldHead++];
            if (w.heldHead > 4096 && w.heldHead * 2 > w.heldQ.length) {
                w.heldQ = w.heldQ.slice(w.heldHead);
                w.heldHead = 0;
            }
            if (inQueue[r] === HELD) return r;
        }
        return undefined;
    }

    private pick(w: WorkerPoolState): Pod | undefined {
        const n = w.ready.length;
        if (n === 0) return undefined;
        const cap = w.setup.maxConcurrentPerWorker;
        const start = w.rotation++ % n;
        let best: Pod | undefined;
        for (let k = 0; k < n; k++) {
            const pod = w.ready[(start + k) % n];
            if (pod.outstanding >= cap) continue;
            if (!best || pod.outstanding < best.outstanding) best = pod;
        }
        return best;
    }

    private assign(pod: Pod, r: number): void {
        const s = this.s;
        const w = s.wps[pod.wp];
        this.inflight(w, 1);
        w.series.handoff(s.now);
        s.rec?.events.push({ t: s.now, kind: "handoff", pool: pod.wp });
        s.meters?.take(pod.wp, r, s.now);
        s.reqPod[r] = pod;
        if (pod.running.size < w.setup.service.concurrency) return this.start(pod, r);
        pod.waiting.push(r);
        this.waiting(pod, 1);
        s.inQueue[r] = WAITING;
        s.at(s.now + s.p.upstreamTimeoutSeconds, Ev.UpstreamTimeout, { i: r, g: s.gen[r] });
    }

    private start(pod: Pod, r: number): void {
        const s = this.s;
        if (pod.running.size === 0) pod.busySince = s.now;
        pod.running.add(r);
        s.rec?.events.push({ t: s.now, kind: "running", pool: pod.wp, pod: pod.seq, delta: 1 });
        s.at(s.now + s.service[r], Ev.Complete, { i: r, g: s.gen[r] });
    }

    complete(r: number, g: number): void {
        const s = this.s;
        if (s.gen[r] !== g || !s.isPending(r)) return;
        const pod = s.reqPod[r]!;
        const w = s.wps[pod.wp];
        pod.running.delete(r);
        s.rec?.events.push({ t: s.now, kind: "running", pool: pod.wp, pod: pod.seq, delta: -1 });
        this.inflight(w, -1);
        s.meters?.release(pod.wp, r, s.now);
        w.answered++;
        const latency = s.now - s.trace.times[r];
        w.workSeconds += s.service[r] / w.setup.service.concurrency;
        if (s.batch?.isBatch(r)) s.batch.answered(pod, pod.wp, r, s.now, s.service[r] / w.setup.service.concurrency);
        else {
            w.latencies.push(latency);
            this.finished(w, r, 200);
        }
        if (!Number.isNaN(w.episodeStart) && s.heldAt[r] >= w.episodeStart) {
            w.ttfa.push(s.now - w.episodeStart);
            w.episodeStart = NaN;
        }
        s.completion[r] = s.now;
        s.lastCompletion = Math.max(s.lastCompletion, s.now);
        s.resolve(r, OUTCOME.answered);
        this.startNextWaiting(pod);
        if (pod.running.size === 0) pod.busyAccum += s.now - pod.busySince;
        this.afterRequestLeft(pod);
    }

    /** vLLM's queue moved too slowly: the gateway's upstream timeout answers 504. */
    upstreamTimeout(r: number, g: number): void {
        const s = this.s;
        if (s.inQueue[r] !== WAITING || s.gen[r] !== g) return;
        s.inQueue[r] = 0;
        const pod = s.reqPod[r]!;
        const w = s.wps[pod.wp];
        this.waiting(pod, -1);
        this.inflight(w, -1);
        s.meters?.release(pod.wp, r, s.now);
        w.timedOut++;
        if (s.batch?.isBatch(r)) s.batch.left(pod);
        else this.finished(w, r, 504);
        s.resolve(r, OUTCOME.timedOut);
        this.afterRequestLeft(pod);
    }

    private startNextWaiting(pod: Pod): void {
        const s = this.s;
        while (pod.waitingLive > 0 && pod.running.size < s.wps[pod.wp].setup.service.concurrency) {
            const next = pod.waiting[pod.waitHead++];
            if (pod.waitHead > 1024 && pod.waitHead * 2 > pod.waiting.length) {
                pod.waiting = pod.waiting.slice(pod.waitHead);
                pod.waitHead = 0;
            }
            if (s.inQueue[next] !== WAITING) continue;
            s.inQueue[next] = 0;
            this.waiting(pod, -1);
            this.start(pod, next);
        }
    }

    private afterRequestLeft(pod: Pod): void {
        if (this.cluster.isDraining(pod)) {
            if (pod.outstanding === 0) this.cluster.release(pod);
        } else this.drainHeld(this.s.wps[pod.wp]); // a slot under the per-worker cap opened
    }

    /**
     * A worker vanished with requests on it (spot reclaim): the gateway sees the connection
     * drop and re-sends them, first in line.
     */
    evict(pod: Pod): void {
        const s = this.s;
        const w = s.wps[pod.wp];
        const lost = [...pod.running];
        for (let k = pod.waitHead; k < pod.waiting.length; k++) if (s.inQueue[pod.waiting[k]] === WAITING) lost.push(pod.waiting[k]);
        if (pod.running.size > 0) pod.busyAccum += s.now - pod.busySince;
        if (pod.running.size > 0) s.rec?.events.push({ t: s.now, kind: "running", pool: pod.wp, pod: pod.seq, delta: -pod.running.size });
        pod.running.clear();
        this.waiting(pod, -pod.waitingLive);
        pod.waiting = [];
        pod.waitHead = 0;
        for (const r of lost) {
            s.gen[r]++; // its completion or timeout event no longer counts
            s.inQueue[r] = 0;
            s.reqPod[r] = undefined;
            this.inflight(w, -1);
            s.meters?.release(pod.wp, r, s.now);
            w.requeued++;
            if (s.batch?.isBatch(r)) {
                s.batch.requeue(pod, pod.wp, r);
                s.rec?.events.push({ t: s.now, kind: "backlog", pool: pod.wp, delta: 1 });
            } else this.hold(w, r, true);
        }
    }

    // --- what the gateway and vLLM export (the recording mirrors each change; exported.ts) ---

    private held(w: WorkerPoolState, delta: number): void {
        w.heldCount += delta;
        this.s.rec?.events.push({ t: this.s.now, kind: "held", pool: this.s.wps.indexOf(w), delta });
    }

    private inflight(w: WorkerPoolState, delta: number): void {
        w.inflight += delta;
        this.s.rec?.events.push({ t: this.s.now, kind: "inflight", pool: this.s.wps.indexOf(w), delta });
    }

    private waiting(pod: Pod, delta: number): void {
        if (delta === 0) return;
        pod.waitingLive += delta;
        this.s.wps[pod.wp].waitingTotal += delta;
        this.s.rec?.events.push({ t: this.s.now, kind: "waiting", pool: pod.wp, pod: pod.seq, delta });
    }

    /** An interactive request's answer or refusal: gateway_requests_total and the duration histogram (gateway/src/gate.ts account()). */
    private finished(w: WorkerPoolState, r: number, code: number): void {
        const seconds = this.s.now - this.s.trace.times[r];
        w.series.finished(seconds);
        this.s.rec?.events.push({ t: this.s.now, kind: "finished", pool: this.s.wps.indexOf(w), code, seconds });
    }
}
