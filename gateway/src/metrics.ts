/**
 * Prometheus metrics. One registry per gateway instance (tests run several in a process).
 * gateway_queue_depth is what KEDA scales each pool on: it exists at zero workers, so it can wake a pool.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, LabelValues, Registry } from "prom-client";

/**
 * A labelled counter child for the per-request path: inc() is a plain addition, added to the
 * prom-client counter when it is collected (a scrape). prom-client's own children re-validate
 * and re-hash their label set on every call (prom-client 15.1.3 lib/counter.js `labels()`:
 * `inc: this.inc.bind(this, labels)`), which showed in the request path's profile.
 */
class DeferredCounter {
    private pending = 0;

    constructor(
        private readonly counter: Counter<string>,
        private readonly labels: LabelValues<string>,
    ) {}

    inc(n = 1): void {
        this.pending += n;
    }

    flush(): void {
        if (this.pending === 0) return;
        this.counter.inc(this.labels, this.pending);
        this.pending = 0;
    }
}

/** Children of one counter, flushed by its `collect` (prom-client calls it before reading the counter). */
class DeferredChildren {
    readonly all: DeferredCounter[] = [];

    child(counter: Counter<string>, labels: LabelValues<string>): DeferredCounter {
        const c = new DeferredCounter(counter, labels);
        this.all.push(c);
        return c;
    }

    flush(): void {
        for (const c of this.all) c.flush();
    }
}

/** Fine buckets for answers that start at once (seconds). */
export const FAST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const WAIT_BUCKETS = [0.01, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300];
/** Past the fine buckets, one bucket every 5 minutes. */
const SLOW_STEP_SECONDS = 300;

/**
 * Bucket bounds that reach `upTo`: the fine ones below it, then every 5 minutes, and
 * `upTo` itself. Without buckets up to the hold bound, histogram_quantile caps every
 * quantile of a held request at the last finite bound (a P95 of 400 s reads as 300 s).
 */
export function bucketsUpTo(fine: readonly number[], upTo: number): number[] {
    const out = fine.filter((b) => b < upTo);
    for (let b = (Math.floor((out.at(-1) ?? 0) / SLOW_STEP_SECONDS) + 1) * SLOW_STEP_SECONDS; b < upTo; b += SLOW_STEP_SECONDS) out.push(b);
    out.push(upTo);
    return out;
}

export interface MetricsOptions {
    /** Add Node process metrics (CPU, memory, event loop). @default false */
    processMetrics?: boolean;
    /** The hold bound (queue.maxWaitSeconds): wait buckets reach it, duration buckets reach it plus an answer. @default 1200 */
    holdSeconds?: number;
}

/** A full hold followed by an answer of up to this long still lands in a finite duration bucket. */
export const ANSWER_SECONDS = SLOW_STEP_SECONDS;

export class Metrics {
    readonly registry = new Registry();

    readonly queueDepth = new Gauge({
        name: "gateway_queue_depth",
        help: "Requests waiting for a ready upstream, per pool",
        labelNames: ["pool"],
        registers: [this.registry],
    });
    readonly inflight = new Gauge({
        name: "gateway_inflight_requests",
        help: "Requests sent to an upstream and not yet finished, per pool",
        labelNames: ["pool"],
        registers: [this.registry],
    });
    private readonly deferred = {
        requests: new DeferredChildren(),
        upstreamRequests: new DeferredChildren(),
        teamRequests: new DeferredChildren(),
        teamTokens: new DeferredChildren(),
    };
    readonly requests = new Counter({
        name: "gateway_requests_total",
        help: "Requests answered, by pool and HTTP status (499: client went away)",
        labelNames: ["pool", "code"],
        registers: [this.registry],
        collect: () => this.deferred.requests.flush(),
    });
    /**
     * Requests handed to a worker (a retry counts again). Cache hits, refusals (429/4xx) and
     * requests that timed out in the queue are not: only these are recent activity that
     * keeps a pool awake (the `recent-requests` trigger, components/serving/scaling.ts).
     */
    readonly upstreamRequests = new Counter({
        name: "gateway_upstream_requests_total",
        help: "Requests handed to a worker, by pool (not cache hits, refusals or queue timeouts)",
        labelNames: ["pool"],
        registers: [this.registry],
        collect: () => this.deferred.upstreamRequests.flush(),
    });
    readonly duration: Histogram<"pool">;
    readonly queueWait: Histogram<"pool">;
    readonly readyUpstreams = new Gauge({
        name: "gateway_upstreams_ready",
        help: "Upstreams currently eligible for traffic, per pool",
        labelNames: ["pool"],
        registers: [this.registry],
    });
    readonly knownUpstreams = new Gauge({
        name: "gateway_upstreams",
        help: "Upstreams known (configured or discovered), per pool",
        labelNames: ["pool"],
        registers: [this.registry],
    });
    readonly retries = new Counter({
        name: "gateway_upstream_retries_total",
        help: "Requests retried on another upstream after a failure before the response started",
        labelNames: ["pool"],
        registers: [this.registry],
    });
    readonly ejections = new Counter({
        name: "gateway_upstream_ejections_total",
        help: "Upstreams taken out of rotation after failures",
        labelNames: ["pool"],
        registers: [this.registry],
    });
    readonly streamErrors = new Counter({
        name: "gateway_stream_errors_total",
        help: "Streams ended with an error event because the upstream failed mid-response",
        labelNames: ["pool"],
        registers: [this.registry],
    });
    readonly cacheHits = new Counter({
        name: "gateway_cache_hits_total",
        help: "Responses served from the cache or shared with an identical request in flight",
        labelNames: ["pool"],
        registers: [this.registry],
    });
    readonly cacheMisses = new Counter({
        name: "gateway_cache_misses_total",
        help: "Cacheable requests that needed an upstream call",
        labelNames: ["pool"],
        registers: [this.registry],
    });
    readonly cacheBypass = new Counter({
        name: "gateway_cache_bypass_total",
        help: "Requests to a caching pool not cached (non-deterministic or Cache-Control: no-store)",
        labelNames: ["pool"],
        registers: [this.registry],
    });
    readonly cacheBytes = new Gauge({
        name: "gateway_cache_bytes",
        help: "Bytes held by the response cache",
        labelNames: ["pool"],
        registers: [this.registry],
    });
    readonly cacheEvictions = new Counter({
        name: "gateway_cache_evictions_total",
        help: "Cache entries dropped to stay within maxBytes",
        labelNames: ["pool"],
        registers: [this.registry],
    });
    /** Set by warmup.ts: recomputes gateway_warmup_replicas at scrape time, so expired warm-ups drop out without a timer. */
    warmupCollector?: () => void | Promise<void>;
    readonly warmupReplicas: Gauge = new Gauge({
        name: "gateway_warmup_replicas",
        help: "Replicas to keep ready for active warm-ups (POST /v1/warmup), per pool: the same on every gateway replica with a batch store (Valkey), this replica's own without; KEDA takes the max across gateway replicas",
        labelNames: ["pool"],
        registers: [this.registry],
        collect: () => this.warmupCollector?.(),
    });
    /** Set by server.ts when the config has a timetable: recomputes gateway_timetable_session at scrape time. */
    timetableCollector?: () => void;
    readonly timetableSession: Gauge = new Gauge({
        name: "gateway_timetable_session",
        help: "1 while a session of the class timetable (config timetable) is in progress for the pool, else 0; its recent-requests trigger holds the pool through lulls only then",
        labelNames: ["pool"],
        registers: [this.registry],
        collect: () => this.timetableCollector?.(),
    });
    readonly teamRequests = new Counter({
        name: "gateway_team_requests_total",
        help: "Requests per team, by pool and HTTP status",
        labelNames: ["team", "pool", "code"],
        registers: [this.registry],
        collect: () => this.deferred.teamRequests.flush(),
    });
    readonly teamTokens = new Counter({
        name: "gateway_team_tokens_total",
        help: "Tokens reported by upstreams (usage), per team; kind is prompt or completion",
        labelNames: ["team", "pool", "kind"],
        registers: [this.registry],
        collect: () => this.deferred.teamTokens.flush(),
    });

    // The per-request paths: counters are deferred (see DeferredCounter), bound once per label set.
    readonly requestsFor = memo((pool: string, code: string) => this.deferred.requests.child(this.requests, { pool, code }));
    readonly durationFor = memo((pool: string) => this.duration.labels({ pool }));
    readonly teamRequestsFor = memo((team: string, pool: string, code: string) => this.deferred.teamRequests.child(this.teamRequests, { team, pool, code }));
    readonly teamTokensFor = memo((team: string, pool: string, kind: string) => this.deferred.teamTokens.child(this.teamTokens, { team, pool, kind }));
    readonly upstreamRequestsFor = memo((pool: string) => this.deferred.upstreamRequests.child(this.upstreamRequests, { pool }));

    constructor(options: MetricsOptions = {}) {
        const hold = options.holdSeconds ?? 1200;
        this.duration = new Histogram({
            name: "gateway_request_duration_seconds",
            help: "Time from request to the end of its response (whole stream), by pool",
            labelNames: ["pool"],
            buckets: bucketsUpTo(FAST_BUCKETS, hold + ANSWER_SECONDS),
            registers: [this.registry],
        });
        this.queueWait = new Histogram({
            name: "gateway_queue_wait_seconds",
            help: "Time requests waited for a ready upstream, by pool",
            labelNames: ["pool"],
            buckets: bucketsUpTo(WAIT_BUCKETS, hold),
            registers: [this.registry],
        });
        if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    }

    text(): Promise<string> {
        return this.registry.metrics();
    }
}

/** Caches fn's result per argument list (label values come from config and status codes: bounded). */
function memo<A extends string[], R>(fn: (...args: A) => R): (...args: A) => R {
    const cache = new Map<string, R>();
    return (...args: A) => {
        // Plain concatenation: this runs several times per request.
        let key = args[0];
        for (let i = 1; i < args.length; i++) key += "\u0000" + args[i];
        let v = cache.get(key);
        if (v === undefined) cache.set(key, (v = fn(...args)));
        return v;
    };
}
