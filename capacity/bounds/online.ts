/**
 * Two reference costs for policies that do NOT know the next arrival, priced on the
 * bounds' accounting (accounting.ts: worker levels, a cold start per run, the platform's
 * release charge), latency ignored. Neither is a lower bound: a policy that knows more
 * (the timetable, last week's traffic) can beat both. They say how much of a policy's
 * cost above the clairvoyant bound a hold rule alone could remove.
 *
 * - The optimal online rule for a known-rate Poisson profile (`onlineRuleCost`): the rule
 *   knows the profile's expected arrival rate lambda(t) (capacity/traffic/rates.ts) and
 *   the time, not the arrivals. An idle first worker costs 1 per second held; released at
 *   t, its node stays W = P + U (reused if a request comes meanwhile), then the next
 *   request pays the cold start C: R(t) = E[min(tau, W)] + P(tau > W) C. For Poisson
 *   arrivals the past says nothing about the next arrival, so the best rule is an optimal
 *   stopping time in t alone, found by backward induction over the span:
 *     V(t) = min(R(t), integral_0^h e^{-lambda s} ds + e^{-lambda h} V(t + h)),
 *   holding where the second term is smaller. With a constant rate it holds while
 *   lambda x C >= 1, the expected arrivals within a cold start (the next arrival is
 *   memoryless: holding for it costs 1/lambda, releasing costs the same W-wait plus C if
 *   it comes later); with a varying rate it looks ahead across hour (or class) boundaries
 *   instead of reading the rate at the moment. Extra workers (levels 2+)
 *   go idle when requests stop overlapping, which the arrival rate does not predict: they
 *   take the best constant hold chosen in hindsight over their gaps (below), so the figure
 *   is a demanding reference, not a rule one could run as it is.
 * - The best constant hold in hindsight (`hindsightHoldCost`): one hold time T for every
 *   idle worker of the pool (a cooldown), chosen knowing every gap: what the best fixed
 *   cooldown could do, latency ignored.
 */
import type { Trace } from "../traffic/trace";
import type { SimInput } from "../sim/types";
import { Level, LevelCost, ReleaseCharge, ZERO_COST, addCosts, priceRule, releaseCharge, workerLevels } from "./accounting";
import { coldStartSeconds, requestSpans, usdPerGpuSecond } from "./clairvoyant";

/** Requests per second at simulated second t, per worker pool. */
export type RateFunction = (t: number) => number;

/** Most grid steps of the stopping rule's backward induction (the step grows for long spans). */
const MAX_STEPS = 4_000_000;

/**
 * Where the optimal online rule releases an idle first worker: sorted, disjoint [start, end)
 * intervals (seconds) of the stopping region, from backward induction on a grid over
 * [0, spanEnd) (1 s, coarser past MAX_STEPS), past which the worker is released.
 * Releasing at t costs R(t) = E[min(tau, W)] + P(tau > W) C, tau the wait for the next
 * arrival: the node stays W = P + U after a release and is reused if a request comes in
 * that time, else the next run pays the cold start C. Both terms are exact for a rate that
 * is constant over each step (sliding sums over the W window). Pure, for tests.
 */
export function poissonStopRegion(rate: RateFunction, coldStart: number, reuseSeconds: number, spanEnd: number): Float64Array {
    const C = coldStart;
    const h = Math.max(1, Math.ceil(spanEnd / MAX_STEPS));
    const steps = Math.ceil(spanEnd / h);
    const w = Math.round(reuseSeconds / h);
    // Rates per step, zero past the span (nothing is expected there).
    const lam = new Float32Array(steps + w);
    for (let k = 0; k < steps; k++) lam[k] = rate(k * h);
    /** Expected seconds held over `d` seconds at rate l before an arrival ends the wait. */
    const wait = (l: number, d: number) => (l > 0 ? -Math.expm1(-l * d) / l : d);
    // Window sums over steps [k, k + w): a = expected wait within it, m = expected arrivals in it.
    let a = w * h;
    let m = 0;
    const out: number[] = [];
    let v = a + C;
    let stopEnd = NaN; // end of the stop interval being built (backwards), NaN: none open
    for (let k = steps - 1; k >= 0; k--) {
        const l = lam[k];
        if (w > 0) {
            const lOut = lam[k + w];
            // Drop step k + w from the window of k + 1 (weighted by the chance of reaching it), then add step k in front.
            const inner = m - lOut * h; // arrivals expected in steps [k + 1, k + w)
            a = wait(l, h) + Math.exp(-l * h) * (a - Math.exp(-inner) * wait(lOut, h));
            m = inner + l * h;
        }
        const t = k * h;
        const release = w > 0 ? a + Math.exp(-m) * C : C;
        const hold = wait(l, h) + Math.exp(-l * h) * v;
        if (hold < release) {
            v = hold;
            if (!Number.isNaN(stopEnd)) {
                out.push(t + h, stopEnd);
                stopEnd = NaN;
            }
        } else {
            v = release;
            if (Number.isNaN(stopEnd)) stopEnd = Math.min(spanEnd, t + h);
        }
    }
    if (!Number.isNaN(stopEnd)) out.push(0, stopEnd);
    // Built backwards: reverse the pairs.
    const region = new Float64Array(out.length);
    for (let i = 0; i < out.length; i += 2) {
        region[out.length - 2 - i] = out[i];
        region[out.length - 1 - i] = out[i + 1];
    }
    return region;
}

/** The first time >= t in the stop region (t itself inside it), or spanEnd past every interval. */
export function releaseTime(region: Float64Array, spanEnd: number, t: number): number {
    let lo = 0;
    let hi = region.length / 2;
    // First interval whose end is > t.
    while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (region[2 * mid + 1] <= t) lo = mid + 1;
        else hi = mid;
    }
    if (lo === region.length / 2) return Math.max(t, spanEnd);
    return Math.max(t, region[2 * lo]);
}

/** A hold rule's cost on one pool: GPU seconds by cause, the rule in words. */
export interface RulePool extends LevelCost {
    readonly policy: string;
    readonly usd: number;
}

export interface RuleCost {
    readonly usd: number;
    readonly gpuSeconds: number;
    readonly perWorkerPool: readonly RulePool[];
}

/** Cost of holding every idle worker of `levels` for T seconds. */
export function constantHoldCost(levels: readonly Level[], holdSeconds: number, coldStart: number, r: ReleaseCharge, spanEnd: number): LevelCost {
    return levels.reduce(
        (sum, level) =>
            addCosts(
                sum,
                priceRule(level, coldStart, r, spanEnd, () => holdSeconds),
            ),
        ZERO_COST,
    );
}

/** How many candidate holds (the best of the quick estimate) are priced exactly. */
const EXACT_CANDIDATES = 24;

/**
 * The constant hold with the lowest cost for these levels, chosen in hindsight. The cost is
 * piecewise linear in T: a gap G costs G once T >= G - W (held, or the released node reused;
 * W = P + U) and T + W + C below, so the best T is 0 or one of the G - W. A sorted sweep ranks
 * every such T with that estimate; the best few are priced exactly (the delay after add
 * makes a release's tail depend on earlier choices).
 */
export function bestConstantHold(levels: readonly Level[], coldStart: number, r: ReleaseCharge, spanEnd: number): { holdSeconds: number; cost: LevelCost } {
    const W = r.preStopSeconds + r.unneededSeconds;
    const K = W + coldStart;
    const xs: number[] = [];
    for (const l of levels) for (let i = 0; i + 1 < l.starts.length; i++) if (l.starts[i + 1] - l.ends[i] > W) xs.push(l.starts[i + 1] - l.ends[i] - W);
    xs.sort((a, b) => a - b);
    // estimate(T) = sum of the gaps with x <= T + (count of the others) x (T + K), gaps <= W aside (always reused).
    const estimates: { T: number; cost: number }[] = [{ T: 0, cost: xs.length * K }];
    let heldSum = 0;
    for (let k = 1; k <= xs.length; k++) {
        heldSum += xs[k - 1] + W;
        if (k < xs.length && xs[k] === xs[k - 1]) continue;
        const T = xs[k - 1];
        estimates.push({ T, cost: heldSum + (xs.length - k) * (T + K) });
    }
    estimates.sort((a, b) => a.cost - b.cost || a.T - b.T);
    let best: { holdSeconds: number; cost: LevelCost } | undefined;
    for (const { T } of estimates.slice(0, EXACT_CANDIDATES)) {
        const cost = constantHoldCost(levels, T, coldStart, r, spanEnd);
        if (best === undefined || cost.gpuSeconds < best.cost.gpuSeconds) best = { holdSeconds: T, cost };
    }
    return best!;
}

/**
 * The optimal online rule on one pool's requests: the first worker released by the Poisson
 * stopping rule of `rate`, extra workers by the best constant hold in hindsight. Pure, for tests.
 */
export function onlineRuleSeconds(
    starts: ArrayLike<number>,
    ends: ArrayLike<number>,
    concurrency: number,
    coldStart: number,
    r: ReleaseCharge,
    spanEnd: number,
    rate: RateFunction,
): LevelCost & { readonly policy: string } {
    const { levels } = workerLevels(starts, ends, concurrency);
    if (levels.length === 0) return { ...ZERO_COST, policy: "no requests" };
    const region = poissonStopRegion(rate, coldStart, r.preStopSeconds + r.unneededSeconds, spanEnd);
    const first = priceRule(levels[0], coldStart, r, spanEnd, (t) => releaseTime(region, spanEnd, t) - t);
    const extra = bestConstantHold(levels.slice(1), coldStart, r, spanEnd);
    const policy = `first worker held while the profile expects >= 1 request within a cold start (${Math.round(coldStart)} s), looking ahead (Poisson stopping rule)${levels.length > 1 ? `; extra workers held ${Math.round(extra.holdSeconds)} s (best in hindsight)` : ""}`;
    return { ...addCosts(first, extra.cost), policy };
}

/** The optimal online rule of a trace, priced per GPU like the clairvoyant bound; `rates` per worker pool (capacity/traffic/rates.ts). */
export function onlineRuleCost(
    input: Pick<SimInput, "workerPools" | "gpuPools" | "params" | "coldStartMeasured">,
    trace: Trace,
    rates: readonly RateFunction[],
): RuleCost {
    const { starts, ends } = requestSpans(input, trace);
    return priced(
        input,
        input.workerPools.map((w, wi) => {
            const g = input.gpuPools[w.gpuPool];
            return onlineRuleSeconds(
                starts[wi],
                ends[wi],
                w.service.concurrency,
                coldStartSeconds(input.params, w, g.instanceType, input.coldStartMeasured),
                releaseCharge(input.params, g),
                trace.horizonSeconds,
                rates[wi],
            );
        }),
    );
}

/** The best constant hold in hindsight of a trace, priced per GPU like the clairvoyant bound. */
export function hindsightHoldCost(input: Pick<SimInput, "workerPools" | "gpuPools" | "params" | "coldStartMeasured">, trace: Trace): RuleCost {
    const { starts, ends } = requestSpans(input, trace);
    return priced(
        input,
        input.workerPools.map((w, wi) => {
            const g = input.gpuPools[w.gpuPool];
            const { levels } = workerLevels(starts[wi], ends[wi], w.service.concurrency);
            const best = bestConstantHold(
                levels,
                coldStartSeconds(input.params, w, g.instanceType, input.coldStartMeasured),
                releaseCharge(input.params, g),
                trace.horizonSeconds,
            );
            return { ...best.cost, policy: `every idle worker held ${Math.round(best.holdSeconds)} s (the best constant hold, chosen in hindsight)` };
        }),
    );
}

function priced(input: Pick<SimInput, "workerPools" | "gpuPools">, pools: readonly (LevelCost & { readonly policy: string })[]): RuleCost {
    const perWorkerPool = pools.map((p, wi) => ({ ...p, usd: p.gpuSeconds * usdPerGpuSecond(input.gpuPools[input.workerPools[wi].gpuPool]) }));
    return { usd: perWorkerPool.reduce((a, p) => a + p.usd, 0), gpuSeconds: perWorkerPool.reduce((a, p) => a + p.gpuSeconds, 0), perWorkerPool };
}
