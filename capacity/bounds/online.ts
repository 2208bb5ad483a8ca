/**
 * The online bound: the cheapest a policy that does NOT know the next arrival could run a
 * trace, on the clairvoyant bound's accounting (clairvoyant.ts: the same worker levels,
 * busy time and first cold starts; only the price of an idle gap differs).
 *
 * An online policy decides at the start of an idle gap, not knowing its length G, how
 * long to keep the worker. Two families, each priced in hindsight on the real gaps:
 * - constant hold T (a cooldown): a gap costs min(G, T) + (G > T) x C, C the cold start.
 *   T is the best single value for the whole trace (per worker pool), chosen knowing
 *   every gap, which no real policy can do.
 * - rate-aware: the policy knows the profile's expected rate lambda(t) per hour
 *   (capacity/traffic/rates.ts), not the arrivals. It keeps the first worker while
 *   lambda(t) x C >= 1 and releases it as soon as the rate drops below that: a gap costs
 *   G if the rate stays high to its end, else (hold until the drop) + C. For Poisson
 *   arrivals at a constant rate lambda this is the optimal online rule (the next
 *   arrival is memoryless: holding for it costs 1/lambda on average, releasing costs C).
 *   It is not the rule for the extra workers (levels 2+): their gap ends when enough
 *   requests overlap again, much rarer than one arrival, and holding them "while the rate
 *   is high" keeps a second GPU all afternoon (on office-hours: 66 GPU-hours a month
 *   against 0.4). They take the best constant hold in hindsight over the extra workers'
 *   gaps, as in the first family.
 * The bound is the cheaper of the two. Both ignore the latency a release causes (the
 * next request waits a cold start), so it is a lower bound for online hold policies, not
 * a policy we could ship; a policy's ratio to it says how much of its cost above the
 * clairvoyant bound is the price of not knowing the future.
 */
import type { Trace } from "../traffic/trace";
import { rateAt, PoolWeeklyRates } from "../traffic/rates";
import type { WeeklyRates } from "../traffic/weekly";
import type { SimInput } from "../sim/types";
import { coldStartSeconds, LevelGaps, levelGaps, requestSpans } from "./clairvoyant";

/** Idle-gap seconds of a constant hold T: sum of min(G, T) + (G > T) x C. */
export function constantHoldIdleSeconds(gaps: readonly number[], holdSeconds: number, coldStart: number): number {
    let s = 0;
    for (const g of gaps) s += g > holdSeconds ? holdSeconds + coldStart : g;
    return s;
}

/**
 * The constant hold with the lowest idle cost for these gaps, and that cost. The cost is
 * piecewise linear in T and drops only where T reaches a gap, so the best T is 0 or one
 * of the gaps: one pass over the sorted gaps with a running sum.
 */
export function bestConstantHold(gaps: readonly number[], coldStart: number): { holdSeconds: number; idleSeconds: number } {
    const sorted = [...gaps].sort((a, b) => a - b);
    const n = sorted.length;
    let best = { holdSeconds: 0, idleSeconds: n * coldStart };
    let heldSum = 0;
    for (let k = 1; k <= n; k++) {
        heldSum += sorted[k - 1];
        // T = the k-th smallest gap: gaps up to it are held, the rest cost T + C (ties count once they are all summed).
        if (k < n && sorted[k] === sorted[k - 1]) continue;
        const T = sorted[k - 1];
        const cost = heldSum + (n - k) * (T + coldStart);
        if (cost < best.idleSeconds) best = { holdSeconds: T, idleSeconds: cost };
    }
    return best;
}

/** Idle-gap seconds of the rate-aware policy: hold while lambda(t) x C >= 1 (`rate` in requests per second). */
export function rateAwareIdleSeconds(gapStarts: readonly number[], gaps: readonly number[], coldStart: number, rate: (t: number) => number): number {
    let s = 0;
    for (let i = 0; i < gaps.length; i++) {
        const start = gapStarts[i];
        const end = start + gaps[i];
        let t = start;
        // Walk the hourly rate from the gap's start: release where it first drops below 1 / C.
        while (t < end && rate(t) * coldStart >= 1) t = Math.floor(t / 3600) * 3600 + 3600;
        s += t >= end ? gaps[i] : t - start + coldStart;
    }
    return s;
}

export interface OnlinePool {
    readonly gpuSeconds: number;
    /** Which family gave the bound, and its setting. */
    readonly policy: string;
    readonly constantHold: { readonly holdSeconds: number; readonly gpuSeconds: number };
    readonly rateAware: { readonly gpuSeconds: number };
    readonly usd: number;
}

export interface OnlineCost {
    readonly usd: number;
    readonly gpuSeconds: number;
    readonly perWorkerPool: readonly OnlinePool[];
}

/** Both families on one pool's level decomposition. Pure, for tests. */
export function onlineSeconds(g: LevelGaps, coldStart: number, rate: (t: number) => number): Omit<OnlinePool, "usd"> {
    const base = g.busySeconds + g.levels * coldStart;
    const hold = bestConstantHold(g.gapSeconds, coldStart);
    const constantHold = { holdSeconds: hold.holdSeconds, gpuSeconds: base + hold.idleSeconds };
    const first = g.gapLevels.flatMap((l, i) => (l === 0 ? [i] : []));
    const extra = g.gapLevels.flatMap((l, i) => (l > 0 ? [g.gapSeconds[i]] : []));
    const firstIdle = rateAwareIdleSeconds(
        first.map((i) => g.gapStarts[i]),
        first.map((i) => g.gapSeconds[i]),
        coldStart,
        rate,
    );
    const rateAware = { gpuSeconds: base + firstIdle + bestConstantHold(extra, coldStart).idleSeconds };
    const byHold = constantHold.gpuSeconds <= rateAware.gpuSeconds;
    return {
        gpuSeconds: Math.min(constantHold.gpuSeconds, rateAware.gpuSeconds),
        policy: byHold ? `constant hold ${Math.round(hold.holdSeconds)} s` : `rate-aware (first worker held while rate x ${Math.round(coldStart)} s >= 1)`,
        constantHold,
        rateAware,
    };
}

/** The online bound of a trace, priced per GPU like the clairvoyant bound; `rates` from capacity/traffic/rates.ts. */
export function onlineCost(input: Pick<SimInput, "workerPools" | "gpuPools" | "params" | "coldStartMeasured">, trace: Trace, rates: PoolWeeklyRates): OnlineCost {
    const { starts, ends } = requestSpans(input, trace);
    const perWorkerPool = input.workerPools.map((w, wi) => {
        const cs = coldStartSeconds(input.params, w, input.gpuPools[w.gpuPool].instanceType, input.coldStartMeasured);
        const week: WeeklyRates = rates[wi];
        const r = onlineSeconds(levelGaps(starts[wi], ends[wi], w.service.concurrency), cs, (t) => rateAt(week, trace.startWeekday, t));
        const g = input.gpuPools[w.gpuPool];
        return { ...r, usd: (r.gpuSeconds / 3600) * (g.usdPerHour / g.gpusPerNode) };
    });
    return { usd: perWorkerPool.reduce((a, p) => a + p.usd, 0), gpuSeconds: perWorkerPool.reduce((a, p) => a + p.gpuSeconds, 0), perWorkerPool };
}
