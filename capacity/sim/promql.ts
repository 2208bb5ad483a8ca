/**
 * The three PromQL functions the stack's KEDA triggers rely on, with Prometheus's own
 * arithmetic, so the simulator's trigger values are the numbers the deployed queries return
 * (test/prometheus/conformance.test.ts checks them against a real Prometheus):
 *
 * - `increase` / `rate` over a range: the extrapolated delta (prometheus/prometheus
 *   promql/functions.go `extrapolatedRate` at v3.14.0, the Prometheus kube-prometheus-stack
 *   88.5.3 deploys; v2.42.0, the test's Debian package, gives the same numbers whenever the
 *   series starts at 0, as every counter the gateway exports does);
 * - `deriv`: the least-squares slope (functions.go `funcDeriv` + `linearRegression`);
 * - `histogram_quantile` over classic buckets (promql/quantile.go `BucketQuantile`).
 *
 * Range selectors are left-open, (t - range, t], since Prometheus 3.0; v2.42 includes a sample
 * exactly at t - range. The simulator evaluates its triggers 5 s and 10 s after each 15 s
 * scrape, so no sample ever sits on a range boundary and the two agree.
 */

/** One counter's first and last sample inside a range, and how many there are. */
export interface CounterWindow {
    readonly firstT: number;
    readonly firstV: number;
    readonly lastT: number;
    readonly lastV: number;
    /** Samples in the range (>= 2 for a result). */
    readonly count: number;
}

/**
 * `increase(c[range])` (isRate false) or `rate(c[range])` (isRate true) of a counter that never
 * resets, over samples in (rangeStart, rangeEnd]; NaN when there are fewer than two samples
 * (Prometheus drops the series: an empty result).
 */
export function extrapolatedDelta(w: CounterWindow, rangeStart: number, rangeEnd: number, isRate: boolean): number {
    if (w.count < 2) return NaN;
    const result = w.lastV - w.firstV;
    let durationToStart = w.firstT - rangeStart;
    let durationToEnd = rangeEnd - w.lastT;
    const sampledInterval = w.lastT - w.firstT;
    const averageDurationBetweenSamples = sampledInterval / (w.count - 1);
    // A sample missing where the spacing would put one: the series starts or ends inside the range.
    const extrapolationThreshold = averageDurationBetweenSamples * 1.1;
    if (durationToStart >= extrapolationThreshold) durationToStart = averageDurationBetweenSamples / 2;
    // Counters cannot be negative: never extrapolate back past the counter's zero point.
    if (result > 0 && w.firstV >= 0) {
        const durationToZero = sampledInterval * (w.firstV / result);
        if (durationToZero < durationToStart) durationToStart = durationToZero;
    }
    if (durationToEnd >= extrapolationThreshold) durationToEnd = averageDurationBetweenSamples / 2;
    let factor = sampledInterval !== 0 ? (sampledInterval + durationToStart + durationToEnd) / sampledInterval : 1;
    if (isRate) factor /= rangeEnd - rangeStart;
    return result * factor;
}

/** `deriv()` of points (time in seconds, value): the least-squares slope; NaN with fewer than two points. */
export function derivSlope(ts: readonly number[], vs: readonly number[]): number {
    const n = ts.length;
    if (n < 2) return NaN;
    const t0 = ts[0];
    let constY = true;
    let sumX = 0;
    let sumY = 0;
    let sumXY = 0;
    let sumX2 = 0;
    for (let i = 0; i < n; i++) {
        if (i > 0 && vs[i] !== vs[0]) constY = false;
        const x = ts[i] - t0;
        sumX += x;
        sumY += vs[i];
        sumXY += x * vs[i];
        sumX2 += x * x;
    }
    if (constY) return 0;
    const covXY = sumXY - (sumX * sumY) / n;
    const varX = sumX2 - (sumX * sumX) / n;
    return covXY / varX;
}

export interface Bucket {
    readonly upperBound: number;
    count: number;
}

/** Differences this small between adjacent buckets are float noise, not a decrease (quantile.go smallDeltaTolerance). */
const SMALL_DELTA_TOLERANCE = 1e-12;

/** util/almost Equal: relative difference below eps (absolute, scaled by the smallest normal float, near 0). */
function almostEqual(a: number, b: number, eps: number): boolean {
    if (a === b) return true;
    const absSum = Math.abs(a) + Math.abs(b);
    const diff = Math.abs(a - b);
    const minNormal = 2.2250738585072014e-308;
    if (a === 0 || b === 0 || absSum < minNormal) return diff < eps * minNormal;
    return diff / Math.min(absSum, Number.MAX_VALUE) < eps;
}

/**
 * `histogram_quantile(q, ...)` over classic buckets (cumulative counts or rates, one per `le`,
 * +Inf included): linear interpolation inside the bucket that holds the rank; NaN without
 * observations or without a +Inf bucket.
 */
export function bucketQuantile(q: number, input: readonly Bucket[]): number {
    if (Number.isNaN(q)) return NaN;
    if (q < 0) return -Infinity;
    if (q > 1) return Infinity;
    const sorted = input.map((b) => ({ upperBound: b.upperBound, count: b.count })).sort((a, b) => a.upperBound - b.upperBound);
    if (sorted.length === 0 || sorted[sorted.length - 1].upperBound !== Infinity) return NaN;
    // Coalesce equal bounds, then force monotonic counts (quantile.go coalesceBuckets, ensureMonotonicAndIgnoreSmallDeltas).
    const buckets: Bucket[] = [];
    for (const b of sorted) {
        const last = buckets[buckets.length - 1];
        if (last && last.upperBound === b.upperBound) last.count += b.count;
        else buckets.push(b);
    }
    let prev = buckets[0].count;
    for (let i = 1; i < buckets.length; i++) {
        const curr = buckets[i].count;
        if (curr === prev) continue;
        if (almostEqual(prev, curr, SMALL_DELTA_TOLERANCE) || curr < prev) {
            buckets[i].count = prev;
            continue;
        }
        prev = curr;
    }
    if (buckets.length < 2) return NaN;
    const observations = buckets[buckets.length - 1].count;
    if (observations === 0) return NaN;
    let rank = q * observations;
    let b = 0;
    while (b < buckets.length - 1 && buckets[b].count < rank) b++;
    if (b === buckets.length - 1) return buckets[buckets.length - 2].upperBound;
    if (b === 0 && buckets[0].upperBound <= 0) return buckets[0].upperBound;
    let bucketStart = 0;
    const bucketEnd = buckets[b].upperBound;
    let count = buckets[b].count;
    if (b > 0) {
        bucketStart = buckets[b - 1].upperBound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}
