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
import { Cluster } from "./cluster";
import { Ev, Pod, SimState, WorkerPoolState } from "./state";
import { OUTCOME } from "./types";

const HELD = 1;
const WAITING = 2;

export class Gateway {
    cluster!: Cluster;

    constructor(private readonly s: SimState) {}

    arrive(r: number): void {
        const s = this.s;
        const w = s.wps[s.trace.pools[r]];
        w.arrived++;
        if (s.batch?.isBatch(r)) {
            s.batch.arrive(s.trace.pools[r], r);
            return this.drainBatch(w);
        }
        w.lastArrival = s.now;
        const pod = this.pick(w);
        if (pod) return this.assign(pod, r);
        if (w.heldCount >= s.input.gateway.maxQueueDepth) {
            w.rejected429++;
            return s.resolve(r, OUTCOME.rejected429);
        }
        this.hold(w, r, false);
    }

    /** Holds a request; `urgent` retries (spot) go first, like the gateway's retries. */
    hold(w: WorkerPoolState, r: number, urgent: boolean): void {
        const s = this.s;
        (urgent ? w.urgentQ : w.heldQ).push(r);
        w.heldCount++;
        s.inQueue[r] = HELD;
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
        const w = s.wps[s.trace.pools[r]];
        w.heldCount--;
        w.rejected503++;
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
            w.heldCount--;
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
        w.inflight++;
        w.handoffs.push(s.now); // gateway_upstream_requests_total: a request handed to a worker
        s.reqPod[r] = pod;
        if (pod.running.size < w.setup.service.concurrency) return this.start(pod, r);
        pod.waiting.push(r);
        pod.waitingLive++;
        w.waitingTotal++;
        s.inQueue[r] = WAITING;
        s.at(s.now + s.p.upstreamTimeoutSeconds, Ev.UpstreamTimeout, { i: r, g: s.gen[r] });
    }

    private start(pod: Pod, r: number): void {
        const s = this.s;
        if (pod.running.size === 0) pod.busySince = s.now;
        pod.running.add(r);
        s.at(s.now + s.service[r], Ev.Complete, { i: r, g: s.gen[r] });
    }

    complete(r: number, g: number): void {
        const s = this.s;
        if (s.gen[r] !== g || !s.isPending(r)) return;
        const pod = s.reqPod[r]!;
        const w = s.wps[pod.wp];
        pod.running.delete(r);
        w.inflight--;
        w.answered++;
        const latency = s.now - s.trace.times[r];
        w.workSeconds += s.service[r] / w.setup.service.concurrency;
        if (s.batch?.isBatch(r)) s.batch.answered(pod, pod.wp, r, s.now, s.service[r] / w.setup.service.concurrency);
        else {
            w.latencies.push(latency);
            if (w.tracksLatency) w.recent.push({ t: s.now, latency });
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
        pod.waitingLive--;
        w.waitingTotal--;
        w.inflight--;
        w.timedOut++;
        if (s.batch?.isBatch(r)) s.batch.left(pod);
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
            pod.waitingLive--;
            s.wps[pod.wp].waitingTotal--;
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
        pod.running.clear();
        w.waitingTotal -= pod.waitingLive;
        pod.waiting = [];
        pod.waitHead = 0;
        pod.waitingLive = 0;
        for (const r of lost) {
            s.gen[r]++; // its completion or timeout event no longer counts
            s.inQueue[r] = 0;
            s.reqPod[r] = undefined;
            w.inflight--;
            w.requeued++;
            if (s.batch?.isBatch(r)) s.batch.requeue(pod, pod.wp, r);
            else this.hold(w, r, true);
        }
    }
}
