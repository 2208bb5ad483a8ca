/**
 * The value each KEDA trigger's query returns at time t, computed from what Prometheus holds
 * (exported.ts) with Prometheus's arithmetic (promql.ts): one function per query that
 * components/serving/scaling.ts emits, written term by term in the query's order, so the
 * floating-point results are the same. test/prometheus/conformance.test.ts evaluates the
 * emitted queries on a real Prometheus holding the series the simulation produced and compares
 * them with these values, poll by poll.
 *
 * A query can return NaN (the P95 of a window without requests); KEDA's Prometheus scaler then
 * reads 0 (pkg/scalers/prometheus_scaler.go ExecutePromQuery at v2.20.2: `ignoreNullValues`,
 * default true, turns NaN and Inf into 0): `kedaReads`.
 */
import { ARRIVAL_RATE_RANGE_SECONDS, ARRIVAL_RATE_STEP_SECONDS, LATENCY_RANGE_SECONDS } from "../../stacks/scalePolicy";
import { GatewayScrape, PoolSeries, countAtOrBefore, scrapesIn } from "./exported";
import { MetricSpec, PolicySpec } from "./policy";
import { bucketQuantile, derivSlope, extrapolatedDelta } from "./promql";

/** What KEDA makes of a query's value: NaN or +-Inf read as 0 (ignoreNullValues). */
export function kedaReads(value: number): number {
    return Number.isFinite(value) ? value : 0;
}

// No closures in the functions below: they run at every poll and sync of a 28-day run.

function sum(xs: readonly number[]): number {
    let a = 0;
    for (let i = 0; i < xs.length; i++) a += xs[i];
    return a;
}

/** `sum(vllm:num_requests_waiting{pool}) or vector(0)` of a scrape. */
function waitingSum(x: GatewayScrape | undefined): number {
    return x && x.pods.length > 0 ? sum(x.waiting) : 0;
}

// Module-level aliases: an imported binding is a property read through the module's getter on every use.
const RATE_RANGE = ARRIVAL_RATE_RANGE_SECONDS;
const RATE_STEP = ARRIVAL_RATE_STEP_SECONDS;
const LATENCY_RANGE = LATENCY_RANGE_SECONDS;
const delta = extrapolatedDelta;
const countUpTo = countAtOrBefore;

/** `increase(c[to - from])` at `to` of a counter given as increment times; NaN when empty. */
function counterDelta(series: PoolSeries, times: readonly number[], from: number, to: number, isRate: boolean): number {
    const clock = series.clock;
    let first: number;
    let last: number;
    let count: number;
    if (clock.outages.length === 0) {
        // The scrape grid without gaps: multiples of the period from the gateway's start.
        const p = clock.period;
        const k0 = Math.max(Math.floor(from / p) + 1, Math.ceil(clock.start / p));
        const k1 = Math.floor(to / p);
        if (k1 < k0) return NaN;
        first = k0 * p;
        last = k1 * p;
        count = k1 - k0 + 1;
    } else {
        const w = scrapesIn(clock, from, to);
        if (!w) return NaN;
        ({ first, last, count } = w);
    }
    return delta({ firstT: first, firstV: countUpTo(times, first), lastT: last, lastV: countUpTo(times, last), count }, from, to, isRate);
}

/**
 * components/serving/scaling.ts coldAwareDemandQuery: running requests in full, plus the backlog
 * (held + waiting in vLLM) up to queueDepthPerReplica x the replicas it needs: ceil(arrival rate
 * (deriv of the held count over [2m:15s]) x GPU-seconds per request + backlog x drain factor), >= 1.
 */
function coldAwareDemand(series: PoolSeries, pol: PolicySpec, target: number, t: number): number {
    const x = series.at(t);
    const queue = x?.queueDepth ?? 0;
    const inflight = x?.inflight ?? 0;
    const waiting = waitingSum(x);
    const backlog = queue + waiting;
    const running = Math.max(inflight - waiting, 0);
    // Subquery steps: multiples of the step in (t - range, t], each reading the latest sample.
    const ts: number[] = [];
    const vs: number[] = [];
    const step = RATE_STEP;
    for (let tau = Math.ceil((t - RATE_RANGE) / step) * step; tau <= t; tau += step) {
        if (tau <= t - RATE_RANGE) continue;
        const s = series.at(tau);
        if (s) {
            ts.push(tau);
            vs.push(s.queueDepth);
        }
    }
    const slope = derivSlope(ts, vs);
    const arrivals = Number.isNaN(slope) ? 0 : Math.max(slope, 0);
    const replicas = Math.max(Math.ceil(arrivals * pol.coldAwareSecondsPerRequest! + backlog * pol.coldAwareBacklogFactor!), 1);
    return running + Math.min(backlog, target * replicas);
}

/** (histogram_quantile(0.95, sum by (le) (rate(gateway_request_duration_seconds_bucket{pool}[2m]))) x the pool's vLLM pods) >= 0, or 0. */
function latencyP95(series: PoolSeries, t: number): number {
    const bounds = series.bucketBounds!;
    const from = t - LATENCY_RANGE;
    const inRange = series.scrapes().filter((s) => s.t > from && s.t <= t && s.durationBuckets);
    if (inRange.length < 2) return 0; // no rate: the query's `or vector(0)`
    const first = inRange[0];
    const last = inRange[inRange.length - 1];
    const buckets = bounds.map((upperBound, i) => ({
        upperBound,
        count: delta(
            { firstT: first.t, firstV: first.durationBuckets![i], lastT: last.t, lastV: last.durationBuckets![i], count: inRange.length },
            from,
            t,
            true,
        ),
    }));
    const pods = series.at(t)?.pods.length ?? 0;
    // scalar(count(...)) of no series is NaN; `>= 0` then drops a NaN product, and `or vector(0)` answers 0.
    const v = bucketQuantile(0.95, buckets) * (pods > 0 ? pods : NaN);
    return v >= 0 ? v : 0;
}

/** avg(DCGM_FI_DEV_GPU_UTIL of the pool's vLLM pods) x count(the pool's vLLM pods). */
function gpuUtilization(series: PoolSeries, t: number): number {
    const x = series.at(t);
    const dcgm = series.dcgm;
    if (!x || !dcgm || dcgm.t > t) return 0;
    let total = 0;
    let n = 0;
    for (const p of x.pods) {
        const u = dcgm.util.get(p);
        if (u === undefined) continue;
        total += u;
        n++;
    }
    if (n === 0) return 0;
    return (total / n) * x.pods.length;
}

/**
 * components/serving/scaling.ts predictiveQuery: the rate of requests handed to a worker in
 * last week's window ending `lead` ahead of now, while last week's traffic began less than
 * confirmSeconds ago or the pool was used in the last confirmSeconds; else 0.
 */
function predictive(series: PoolSeries, pol: PolicySpec, t: number): number {
    const h = pol.history!;
    const offset = h.lookbackSeconds - h.leadSeconds;
    const lastWeek = counterDelta(series, series.handoffs, t - offset - h.windowSeconds, t - offset, true);
    if (Number.isNaN(lastWeek)) return 0;
    if (h.confirmSeconds === undefined) return lastWeek;
    const beganOffset = offset + h.leadSeconds + h.confirmSeconds;
    const before = counterDelta(series, series.handoffs, t - beganOffset - h.windowSeconds, t - beganOffset, false);
    const began = Number.isNaN(before) || before === 0;
    const used = counterDelta(series, series.handoffs, t - h.confirmSeconds, t, false) > 0;
    return began || used ? lastWeek : 0;
}

/**
 * components/serving/scaling.ts recent-requests query: `increase` over the look-back; with the timetable's session gate
 * (sessionRecentRequestsQuery), over the look-back while gateway_timetable_session reads > 0, else over the range after
 * sessions scaled by look-back / that range. An empty increase (NaN here) is an empty side: the next one answers.
 */
function recentRequests(series: PoolSeries, pol: PolicySpec, t: number): number {
    const lookback = pol.activityLookbackSeconds!;
    const gate = pol.sessionGate;
    if (gate === undefined) {
        const v = counterDelta(series, series.handoffs, t - lookback, t, false);
        return Number.isNaN(v) ? 0 : v;
    }
    if ((series.at(t)?.timetableSession ?? 0) > 0) {
        const during = counterDelta(series, series.handoffs, t - lookback, t, false);
        if (!Number.isNaN(during)) return during;
    }
    const after = gate.afterSessionLookbackSeconds;
    const v = counterDelta(series, series.handoffs, t - after, t, false);
    return Number.isNaN(v) ? 0 : v * (lookback / after);
}

/** The query's value at t (NaN where Prometheus returns NaN; an empty result is the query's `or vector(0)`). */
export function triggerValue(m: MetricSpec, pol: PolicySpec, series: PoolSeries, t: number): number {
    switch (m.source) {
        case "demand": {
            if (pol.coldAwareSecondsPerRequest !== undefined && pol.coldAwareBacklogFactor !== undefined) return coldAwareDemand(series, pol, m.target, t);
            const x = series.at(t);
            return (x?.queueDepth ?? 0) + (x?.inflight ?? 0);
        }
        case "waiting":
            return waitingSum(series.at(t));
        case "recentRequests":
            return recentRequests(series, pol, t);
        case "batchBacklog":
            return series.at(t)?.batchBacklog ?? 0;
        case "latencyP95":
            return latencyP95(series, t);
        case "gpuUtil":
            return gpuUtilization(series, t);
        case "warmup":
            return series.at(t)?.warmupReplicas ?? 0;
        case "history":
            return predictive(series, pol, t);
    }
}
