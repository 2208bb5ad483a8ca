/**
 * What Prometheus holds about one worker pool, as the simulator scrapes it: the series the
 * gateway (gateway/src/metrics.ts), the pool's vLLM workers and the DCGM exporter export,
 * sampled at each scrape. The trigger models (triggers.ts) read only this, never the live
 * state, as the deployed triggers read only Prometheus.
 *
 * - Gauges are kept per scrape for the last few minutes (the longest range a gauge query reads).
 * - Counters are kept as the times of their increments: a scrape at time s reads the number of
 *   increments at or before s. gateway_upstream_requests_total (a request handed to a worker)
 *   starts at 0 when the gateway starts, before the simulated span: the pool's history
 *   arrivals (trace.history, not simulated) count as handed over when they arrived.
 * - vLLM series exist for routable workers only: Prometheus finds vLLM through the Service's
 *   Endpoints (the operator's default role, kube-prometheus-stack 88.5.3 values.yaml
 *   `serviceDiscoveryRole`: "If unset, the operator assumes the Endpoints role"), which list a
 *   pod once it is ready and drop it as it terminates; a starting pod's port does not answer.
 * - DCGM_FI_DEV_GPU_UTIL carries a pod's namespace/pod labels while the pod holds the GPU.
 */
import { bucketsUpTo, ANSWER_SECONDS, FAST_BUCKETS } from "../../gateway/src/metrics";
import type { Range } from "../../stacks/model/params";

export interface GatewayScrape {
    readonly t: number;
    /** gateway_queue_depth{pool} */
    readonly queueDepth: number;
    /** gateway_inflight_requests{pool} */
    readonly inflight: number;
    /** gateway_warmup_replicas{pool} */
    readonly warmupReplicas: number;
    /** gateway_batch_backlog{pool} */
    readonly batchBacklog: number;
    /** gateway_timetable_session{pool}: 1 while a session of the timetable is in progress; undefined where the gateway does not export it. */
    readonly timetableSession?: number;
    /** The vLLM pods scraped (Pod.seq), and vllm:num_requests_waiting of each. */
    readonly pods: readonly number[];
    readonly waiting: readonly number[];
    /** gateway_request_duration_seconds_bucket{pool} per `le` (cumulative); absent when no trigger reads it. */
    readonly durationBuckets?: Float64Array;
}

/** The scrape times: every `period` seconds from `start` (the gateway's start), none inside a Prometheus outage. */
export interface ScrapeClock {
    readonly period: number;
    readonly start: number;
    readonly outages: readonly Range[];
}

/** First and last scrape time in (from, to] and how many there are (undefined: none). */
export function scrapesIn(clock: ScrapeClock, from: number, to: number): { first: number; last: number; count: number } | undefined {
    const p = clock.period;
    let k0 = Math.max(Math.floor(from / p) + 1, Math.ceil(clock.start / p));
    let k1 = Math.floor(to / p);
    if (clock.outages.length === 0) return k1 >= k0 ? { first: k0 * p, last: k1 * p, count: k1 - k0 + 1 } : undefined;
    const down = (k: number) => clock.outages.some((o) => k * p >= o.min && k * p < o.max);
    while (k0 <= k1 && down(k0)) k0++;
    while (k1 >= k0 && down(k1)) k1--;
    if (k1 < k0) return undefined;
    let count = 0;
    for (let k = k0; k <= k1; k++) if (!down(k)) count++;
    return { first: k0 * p, last: k1 * p, count };
}

/** Number of sorted times <= x. */
export function countAtOrBefore(times: ArrayLike<number>, x: number): number {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (times[mid] <= x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/**
 * The gateway's duration histogram buckets for a hold bound (gateway/src/metrics.ts: the fine
 * buckets up to the hold bound plus one answer), with +Inf last.
 */
export function durationBucketBounds(maxWaitSeconds: number): number[] {
    return [...bucketsUpTo(FAST_BUCKETS, maxWaitSeconds + ANSWER_SECONDS), Infinity];
}

/** A sample is found by an instant query at most this long after it was taken (Prometheus --query.lookback-delta default). */
const LOOKBACK_DELTA_SECONDS = 300;

export class PoolSeries {
    private readonly ring: GatewayScrape[] = [];
    private ringHead = 0;
    /** gateway_upstream_requests_total increments, ascending. */
    readonly handoffs: number[];
    /** The last DCGM scrape: time and utilization (percent) per pod holding a GPU. */
    dcgm: { t: number; util: Map<number, number> } | undefined;
    /**
     * Cumulative counts of gateway_request_duration_seconds per bucket. The histogram exists from the start:
     * the long-running gateway has finished requests of the pool before (its history), as for the counters.
     */
    private readonly buckets: Float64Array | undefined;

    constructor(
        readonly clock: ScrapeClock,
        /** Gauge scrapes kept (at least the longest gauge range over the scrape period, plus two). */
        private readonly keep: number,
        historyArrivals: readonly number[],
        /** Histogram bucket bounds, +Inf last; undefined: no query reads the histogram, so it is not kept. */
        readonly bucketBounds: readonly number[] | undefined,
    ) {
        this.handoffs = [...historyArrivals];
        this.buckets = bucketBounds && new Float64Array(bucketBounds.length);
    }

    /** A request was handed to a worker (gateway/src/pool.ts take()). */
    handoff(t: number): void {
        this.handoffs.push(t);
    }

    /** A request finished after `seconds` (gateway/src/gate.ts account(): every status, refusals included). */
    finished(seconds: number): void {
        const bounds = this.bucketBounds;
        const buckets = this.buckets;
        if (!bounds || !buckets) return;
        for (let i = bounds.length - 1; i >= 0 && seconds <= bounds[i]; i--) buckets[i]++;
    }

    scrape(x: Omit<GatewayScrape, "durationBuckets">): void {
        const sample: GatewayScrape = this.buckets ? { ...x, durationBuckets: Float64Array.from(this.buckets) } : x;
        if (this.ring.length < this.keep) this.ring.push(sample);
        else {
            this.ring[this.ringHead] = sample;
            this.ringHead = (this.ringHead + 1) % this.keep;
        }
    }

    /** Gauge scrapes, oldest first. */
    scrapes(): GatewayScrape[] {
        return [...this.ring.slice(this.ringHead), ...this.ring.slice(0, this.ringHead)];
    }

    /** The sample an instant query at t sees: the latest at or before t, within the lookback delta. */
    at(t: number): GatewayScrape | undefined {
        const n = this.ring.length;
        for (let k = 1; k <= n; k++) {
            const s = this.ring[(this.ringHead - k + n) % n];
            if (s.t <= t) return t - s.t <= LOOKBACK_DELTA_SECONDS ? s : undefined;
        }
        return undefined;
    }
}
