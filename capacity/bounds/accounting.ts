/**
 * How every reference cost prices a trace: the clairvoyant bound (clairvoyant.ts), the
 * optimal online rule and the best constant hold in hindsight (online.ts). One accounting,
 * stated here and in docs/capacity.md; the references differ only in when they release a
 * worker.
 *
 * - Requests start at their arrival and take their service time (the service model), so a
 *   worker pool needs n(t) = ceil(active(t) / concurrency) workers. Worker "level" k (the
 *   k-th worker) is busy while n(t) >= k. Each level is priced on its own, as one GPU at
 *   node price / GPUs per node; latency is ignored (nobody waits).
 * - A level's time splits into runs: from a node launch to its release. A run pays
 *   - one cold start C before its first request: node launch to routable, the phases a
 *     policy that launches the node itself pays (capacity/bounds/clairvoyant.ts
 *     coldStartSeconds; no metric scrape, KEDA poll or autoscaler reaction);
 *   - its busy time, and every idle gap it holds through, in full;
 *   - its release, what the platform charges every policy on each node release
 *     (capacity/sim/cluster.ts, the same figures the simulator reads): the worker's
 *     preStop P (the pod keeps its GPU while it leaves the endpoints), then Cluster
 *     Autoscaler keeps the empty node its unneeded time U (the pool's ASG tag,
 *     gpuPools[].scaleDownUnneededSeconds or the derived figure) and removes no node within
 *     D (scale-down-delay-after-add) of its launch: the node is billed
 *     max(P + U, launch + D - release) after the release.
 *   A released node still there when the next request arrives is reused: the gap then
 *   costs its length, as if held (the worker's restart on it is latency, ignored). The
 *   clairvoyant bound never needs this: it releases only when the gap exceeds the tail
 *   and the cold start.
 * - Counted as launched one cold start before the run's first request, also for online
 *   rules (which would launch at the arrival: latency ignored).
 * - The last release of a level is billed up to the end of the span (the simulator bills
 *   nodes to the same end).
 * - Not charged: Cluster Autoscaler's scan granularity (a policy could time its releases to
 *   it), and other pools' scale-ups that delay this pool's scale-down (the delay is
 *   cluster-wide): so the clairvoyant figure stays a lower bound for every policy on this
 *   platform.
 */
import type { SimParams } from "../../stacks/model/params";
import type { GpuPoolSetup } from "../sim/types";

/** What the platform charges on each node release (seconds). */
export interface ReleaseCharge {
    /** The worker's preStop: it keeps its GPU this long after deletion (SimParams.preStopSeconds). */
    readonly preStopSeconds: number;
    /** Cluster Autoscaler removes an empty node of the pool after this long (GpuPoolSetup.scaleDownUnneededSeconds). */
    readonly unneededSeconds: number;
    /** No scale-down this long after a scale-up (SimParams.caDelayAfterAddSeconds). */
    readonly delayAfterAddSeconds: number;
}

/** The release charge of a GPU pool, from the simulator's input (the figures its cluster uses). */
export function releaseCharge(
    params: Pick<SimParams, "preStopSeconds" | "caDelayAfterAddSeconds">,
    gpuPool: Pick<GpuPoolSetup, "scaleDownUnneededSeconds">,
): ReleaseCharge {
    return { preStopSeconds: params.preStopSeconds, unneededSeconds: gpuPool.scaleDownUnneededSeconds, delayAfterAddSeconds: params.caDelayAfterAddSeconds };
}

/** Seconds a node released at `releasedAt` stays billed: max(P + U, launch + D - release). */
export function releaseTail(r: ReleaseCharge, launchedAt: number, releasedAt: number): number {
    return Math.max(r.preStopSeconds + r.unneededSeconds, launchedAt + r.delayAfterAddSeconds - releasedAt);
}

/** No release charge (the accounting before it was added; tests of the gap arithmetic). */
export const NO_RELEASE_CHARGE: ReleaseCharge = { preStopSeconds: 0, unneededSeconds: 0, delayAfterAddSeconds: 0 };

/** One worker level's busy intervals, in time order (disjoint; a gap may be 0). */
export interface Level {
    readonly starts: readonly number[];
    readonly ends: readonly number[];
}

/** A pool's worker levels from its requests: busy time of all levels, and each level's busy intervals. */
export interface Levels {
    readonly busySeconds: number;
    /** levels[k]: the (k+1)-th worker's busy intervals. */
    readonly levels: readonly Level[];
}

/**
 * A pool's worker levels from request start/end times (seconds, any order) and the
 * per-worker concurrency. Pure, for tests.
 */
export function workerLevels(starts: ArrayLike<number>, ends: ArrayLike<number>, concurrency: number): Levels {
    const n = starts.length;
    // Events sorted by time; at equal times ends come first (a finishing request frees its slot).
    const times = new Float64Array(2 * n);
    const deltas = new Int8Array(2 * n);
    for (let i = 0; i < n; i++) {
        times[2 * i] = starts[i];
        deltas[2 * i] = 1;
        times[2 * i + 1] = ends[i];
        deltas[2 * i + 1] = -1;
    }
    const order = Array.from({ length: 2 * n }, (_, k) => k).sort((a, b) => times[a] - times[b] || deltas[a] - deltas[b]);
    const levels: { starts: number[]; ends: number[] }[] = [];
    let active = 0;
    let level = 0;
    let busy = 0;
    for (const k of order) {
        const t = times[k];
        active += deltas[k];
        const next = Math.ceil(active / concurrency);
        while (level < next) {
            if (levels[level] === undefined) levels[level] = { starts: [], ends: [] };
            levels[level].starts.push(t);
            level++;
        }
        while (level > next) {
            level--;
            const l = levels[level];
            busy += t - l.starts[l.starts.length - 1];
            l.ends.push(t);
        }
    }
    return { busySeconds: busy, levels };
}

/** What a reference paid on one level (or a pool): GPU seconds by cause, and how many runs. */
export interface LevelCost {
    readonly gpuSeconds: number;
    readonly busySeconds: number;
    /** Cold starts paid: one per run. */
    readonly runs: number;
    readonly coldStartSeconds: number;
    /** Idle gaps held through. */
    readonly heldSeconds: number;
    /** Release tails billed (preStop, unneeded time, delay after add). */
    readonly releaseSeconds: number;
}

export const ZERO_COST: LevelCost = { gpuSeconds: 0, busySeconds: 0, runs: 0, coldStartSeconds: 0, heldSeconds: 0, releaseSeconds: 0 };

export function addCosts(a: LevelCost, b: LevelCost): LevelCost {
    return {
        gpuSeconds: a.gpuSeconds + b.gpuSeconds,
        busySeconds: a.busySeconds + b.busySeconds,
        runs: a.runs + b.runs,
        coldStartSeconds: a.coldStartSeconds + b.coldStartSeconds,
        heldSeconds: a.heldSeconds + b.heldSeconds,
        releaseSeconds: a.releaseSeconds + b.releaseSeconds,
    };
}

/**
 * The price of one level under a release rule: `releaseAfter(idleSince)` says how long the
 * rule keeps an idle worker (Infinity: until the next request). Releases earlier
 * than launch + D - P - U are moved there (the node is billed that long anyway, so holding
 * the worker until then is free). The level's last interval is followed by the same rule,
 * billed to `spanEnd`. This is the accounting of the header for rules that decide without
 * knowing the next arrival; the clairvoyant bound (clairvoyant.ts) minimizes over every
 * choice instead.
 */
export function priceRule(level: Level, coldStart: number, r: ReleaseCharge, spanEnd: number, releaseAfter: (idleSince: number) => number): LevelCost {
    const n = level.starts.length;
    if (n === 0) return ZERO_COST;
    const floor = r.delayAfterAddSeconds - r.preStopSeconds - r.unneededSeconds;
    let launch = level.starts[0] - coldStart;
    let busy = 0;
    let held = 0;
    let released = 0;
    let runs = 1;
    for (let i = 0; i < n; i++) {
        busy += level.ends[i] - level.starts[i];
        const idle = level.ends[i];
        const next = i + 1 < n ? level.starts[i + 1] : Infinity;
        const at = Math.max(idle + releaseAfter(idle), launch + floor);
        if (at >= next) {
            held += next - idle;
            continue;
        }
        // Released at `at`, the node leaves `tail` later.
        const tail = releaseTail(r, launch, at);
        if (next === Infinity) {
            const end = Math.max(spanEnd, idle);
            held += Math.min(at, end) - idle;
            released += Math.max(0, Math.min(tail, end - at));
            break;
        }
        if (at + tail >= next) {
            // The node is still there when the next request arrives: it is reused, the gap costs its length.
            held += next - idle;
            continue;
        }
        held += at - idle;
        released += tail;
        runs++;
        launch = next - coldStart;
    }
    const cold = runs * coldStart;
    return { gpuSeconds: busy + cold + held + released, busySeconds: busy, runs, coldStartSeconds: cold, heldSeconds: held, releaseSeconds: released };
}

/**
 * The cheapest price of one level under the accounting above, knowing every arrival: at
 * each idle gap hold, or release at once and launch again one cold start before the next
 * request. A release's tail depends on when the run's node was launched (the delay after
 * add), so the choice is a shortest path over (gap, run start); runs older than D - P - U
 * all release at the same P + U and merge into one state. Pure, for tests.
 */
export function cheapestLevel(level: Level, coldStart: number, r: ReleaseCharge, spanEnd: number): LevelCost {
    const n = level.starts.length;
    if (n === 0) return ZERO_COST;
    interface State {
        launch: number;
        cost: LevelCost;
    }
    const young = r.delayAfterAddSeconds - r.preStopSeconds - r.unneededSeconds;
    const add = (c: LevelCost, d: Partial<LevelCost>): LevelCost => ({
        gpuSeconds: c.gpuSeconds + (d.busySeconds ?? 0) + (d.coldStartSeconds ?? 0) + (d.heldSeconds ?? 0) + (d.releaseSeconds ?? 0),
        busySeconds: c.busySeconds + (d.busySeconds ?? 0),
        runs: c.runs + (d.runs ?? 0),
        coldStartSeconds: c.coldStartSeconds + (d.coldStartSeconds ?? 0),
        heldSeconds: c.heldSeconds + (d.heldSeconds ?? 0),
        releaseSeconds: c.releaseSeconds + (d.releaseSeconds ?? 0),
    });
    const cheaper = (a: State | undefined, b: State) => (a === undefined || b.cost.gpuSeconds < a.cost.gpuSeconds ? b : a);
    // States after the busy interval i: runs still young (their tail depends on the launch) and the best old one.
    let states: State[] = [
        { launch: level.starts[0] - coldStart, cost: add(ZERO_COST, { runs: 1, coldStartSeconds: coldStart, busySeconds: level.ends[0] - level.starts[0] }) },
    ];
    for (let i = 0; i + 1 < n; i++) {
        const idle = level.ends[i];
        const next = level.starts[i + 1];
        const gap = next - idle;
        const busy = level.ends[i + 1] - level.starts[i + 1];
        const out: State[] = [];
        let restart: State | undefined;
        let old: State | undefined;
        for (const s of states) {
            const tail = releaseTail(r, s.launch, idle);
            if (tail + coldStart < gap)
                restart = cheaper(restart, {
                    launch: next - coldStart,
                    cost: add(s.cost, { releaseSeconds: tail, runs: 1, coldStartSeconds: coldStart, busySeconds: busy }),
                });
            const kept = { launch: s.launch, cost: add(s.cost, { heldSeconds: gap, busySeconds: busy }) };
            if (level.ends[i + 1] >= s.launch + young) old = cheaper(old, kept);
            else out.push(kept);
        }
        if (restart) {
            if (level.ends[i + 1] >= restart.launch + young) old = cheaper(old, restart);
            else out.push(restart);
        }
        if (old) out.push(old);
        states = out;
    }
    const last = level.ends[n - 1];
    const end = Math.max(spanEnd, last);
    let best: LevelCost | undefined;
    for (const s of states) {
        const c = add(s.cost, { releaseSeconds: Math.min(releaseTail(r, s.launch, last), end - last) });
        if (best === undefined || c.gpuSeconds < best.gpuSeconds) best = c;
    }
    return best!;
}
