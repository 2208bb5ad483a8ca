/**
 * The scale policy of a worker pool, shared by the KEDA ScaledObject the stack deploys
 * and the simulator that estimates its cost, so both describe the same control loop.
 *
 * Loop (per worker pool):
 * - KEDA polls Prometheus every `pollingIntervalSeconds`. 0 -> 1: when the pool's demand
 *   (gateway held + in-flight requests) is above the activation threshold (0), KEDA
 *   scales the Deployment to 1 (or to the warm-window count). 1 -> 0: after
 *   `cooldownSeconds` with every trigger inactive and no warm window.
 * - 1 <-> N: the HPA KEDA creates, with the metrics below (highest desired count wins):
 *   demand per replica (target `queueDepthPerReplica`, AverageValue), vLLM waiting
 *   requests per replica (target `waitingPerReplica`), and optionally gateway P95 latency
 *   and DCGM GPU utilization. `HPA_BEHAVIOR` shapes the HPA's steps.
 * - Warm windows: KEDA cron triggers that ask for `replicas` inside the window.
 */
export interface HpaPolicy {
    readonly type: "Pods" | "Percent";
    readonly value: number;
    readonly periodSeconds: number;
}

export interface HpaRules {
    readonly stabilizationWindowSeconds: number;
    readonly selectPolicy: "Max" | "Min";
    readonly policies: readonly HpaPolicy[];
}

/**
 * Fast up, slow down. Up: no stabilization, double or +4 pods every 15 s (the HPA
 * defaults, kubernetes.io HPA docs). Down: 5-minute window, then at most one pod per
 * 2 minutes (EKS ML docs' suggestion), so a class pausing between questions keeps its GPUs.
 */
/** Kubernetes' default HPA scale-up (kubernetes.io HPA docs): double or +4 pods every 15 s. */
export const K8S_DEFAULT_SCALE_UP: HpaRules = {
    stabilizationWindowSeconds: 0,
    selectPolicy: "Max",
    policies: [
        { type: "Percent", value: 100, periodSeconds: 15 },
        { type: "Pods", value: 4, periodSeconds: 15 },
    ],
};

export const HPA_BEHAVIOR: { readonly scaleUp: HpaRules; readonly scaleDown: HpaRules } = {
    scaleUp: K8S_DEFAULT_SCALE_UP,
    scaleDown: {
        stabilizationWindowSeconds: 300,
        selectPolicy: "Max",
        policies: [{ type: "Pods", value: 1, periodSeconds: 120 }],
    },
};

/** HPA tolerance: no change while |metric/target - 1| <= 0.1 (kube-controller-manager default). */
export const HPA_TOLERANCE = 0.1;
/** HPA sync period (kube-controller-manager default). */
export const HPA_SYNC_SECONDS = 15;
/** KEDA activation threshold on demand: any held or in-flight request wakes the pool. */
export const ACTIVATION_DEMAND = 0;

/**
 * KEDA cooldownPeriod of a pool: the configured one; else, with the recent-requests trigger on, a minute: that
 * trigger holds an idle pool while requests come often enough to be worth it (recentRequestsActivation), so the
 * cooldown only bridges polls; without it the pool's estimated cold start (ski-rental: an idle worker kept as long
 * as a restart costs). KEDA counts the cooldown from the last poll at which any trigger was active.
 */
export function cooldownSecondsFor(
    s: { readonly cooldownSeconds?: number; readonly activityLookbackSeconds: number },
    coldStartSeconds: number | undefined,
): number {
    if (s.cooldownSeconds !== undefined) return s.cooldownSeconds;
    return s.activityLookbackSeconds > 0 ? MIN_COOLDOWN_SECONDS : Math.max(MIN_COOLDOWN_SECONDS, Math.round(coldStartSeconds ?? FALLBACK_COOLDOWN_SECONDS));
}

/**
 * The recent-requests trigger's activationThreshold: the pool stays active while more than `lookback / restart`
 * requests were handed to its workers in the last `lookbackSeconds`, i.e. while their rate x the pool's restart
 * (GPU seconds from a node launch to a routable worker, capacity/bounds/clairvoyant.ts coldStartSeconds) exceeds
 * one: the expected requests within a cold start. That is the optimal online rule for Poisson arrivals
 * (capacity/bounds/online.ts: hold an idle worker while rate x cold start >= 1) with the rate observed over the
 * look-back instead of known in advance. A class asking a question every half minute keeps its GPU through a
 * three-minute pause; a user asking every few minutes releases it in between. Without a restart estimate: any request.
 */
export function recentRequestsActivation(lookbackSeconds: number, restartSeconds: number | undefined): number {
    if (restartSeconds === undefined || restartSeconds <= 0) return 0;
    return Math.round((lookbackSeconds / restartSeconds) * 100) / 100;
}
/** Never below a few KEDA polls, so one empty scrape cannot take a pool to zero. */
const MIN_COOLDOWN_SECONDS = 60;
/** Without a cold-start estimate: KEDA's own default cooldownPeriod (facts.md "HPA and KEDA semantics"). */
const FALLBACK_COOLDOWN_SECONDS = 300;

/**
 * Whether a pool's predictive warm-up is on: predictiveWarmup.enabled as stacks/validate.ts resolves it (off by
 * default where the timetable's cron triggers warm the pool), on when a scaling block was parsed alone.
 */
export function predictiveWarmupEnabled(s: { readonly predictiveWarmup: { readonly enabled?: boolean } }): boolean {
    return s.predictiveWarmup.enabled ?? true;
}

/**
 * Margin added to a pool's estimated cold start for the predictive warm-up's lead: 120 s for a slower start than
 * the estimate, plus 300 s because the lead counts from last week's first request, and a class may start up to
 * ~5 min earlier than it did last week (timetable start jitter -2..+5 min, capacity/traffic/timetable.ts). With
 * 120 s alone, the weeks a class started earlier than the week before left its first questions waiting for the
 * GPU (P99 134 s over 28 days on the classroom's seed 3; 2.6 s with this margin: npm run compare -- --reference).
 */
export const PREDICTIVE_MARGIN_SECONDS = 420;
/**
 * Window of the predictive warm-up's rate() over last week's requests: the lead itself. The query at t reads
 * last week's [t + lead - window, t + lead], so it asks for a replica from `lead` before last week's first
 * request until last week's last one, and no longer; the cooldown then holds the pool as after real traffic.
 * (A fixed 600 s window held every warmed replica `600 - lead` s past last week's traffic, ~5 min a class.)
 */
export function predictiveWindowSeconds(leadSeconds: number): number {
    return leadSeconds;
}

/** The gateway's and workers' ServiceMonitor interval, seconds (components/serving/monitoring.ts `interval: "15s"`). */
const SCRAPE_INTERVAL_SECONDS = 15;

/**
 * Seconds ahead of last week's traffic the predictive trigger asks for replicas: the cold start plus a margin, rounded
 * up to whole scrape intervals. The query's ranges then reach back a whole number of scrapes (lead + offset), so
 * none starts exactly on a scrape at KEDA's polls, where Prometheus 2.x (closed ranges) and 3.x (left-open) would
 * read different samples (test/prometheus/conformance.test.ts); an unrounded lead hit that whenever the modelled
 * cold start moved by a few seconds.
 */
export function predictiveLeadSeconds(s: { readonly predictiveWarmup: { readonly leadSeconds?: number } }, coldStartSeconds: number): number {
    return s.predictiveWarmup.leadSeconds ?? Math.ceil((coldStartSeconds + PREDICTIVE_MARGIN_SECONDS) / SCRAPE_INTERVAL_SECONDS) * SCRAPE_INTERVAL_SECONDS;
}

/**
 * Last week's slot keeps asking for a replica only while it began less than this long ago, or while the pool
 * had requests in the last this-long: a class cancelled this week (or a quiet day) releases its predicted GPU
 * after ~10 min instead of holding it through last week's whole session. 10 min covers a class starting a few
 * minutes later than last week's (timetable start jitter -2..+5 min, capacity/traffic/timetable.ts).
 */
export const PREDICTIVE_CONFIRM_SECONDS = 600;

/** "15d", "2w", "36h" (Prometheus retention as the schema accepts it) to seconds. */
export function durationSeconds(d: string): number {
    const n = Number(d.slice(0, -1));
    const unit = d.slice(-1);
    return n * (unit === "w" ? 604800 : unit === "d" ? 86400 : unit === "h" ? 3600 : unit === "m" ? 60 : 1);
}

/** Longest explicit warm-up (POST /v1/warmup `minutes`): a half-day class at most, so a forgotten one cannot hold GPUs for days. */
export const MAX_WARMUP_MINUTES = 240;

/**
 * The names of a worker pool's KEDA triggers (components/serving/scaling.ts) and of the
 * simulator's trigger models (capacity/sim/policy.ts): one list, so the conformance test
 * (test/prometheus/conformance.test.ts) can pair each emitted trigger with its model.
 */
export const TRIGGER = {
    demand: "demand",
    waiting: "vllm-waiting",
    recentRequests: "recent-requests",
    batchBacklog: "batch-backlog",
    latencyP95: "latency-p95",
    gpuUtilization: "gpu-utilization",
    warmup: "warmup",
    predictive: "predictive",
} as const;

/** The cron trigger of warm window `i` (scaling.warmWindows[i]). */
export const warmWindowTrigger = (i: number) => `warm-${i}`;

/**
 * Threshold of a trigger that never decides on its own: as activationThreshold, a trigger that
 * only sizes (it reads 0 at zero workers); as threshold, one that only activates.
 */
export const NEVER_THRESHOLD = 1e9;

/** The cold-start-aware demand's arrival-rate subquery: deriv over this range at this step (`[2m:15s]`). */
export const ARRIVAL_RATE_RANGE_SECONDS = 120;
export const ARRIVAL_RATE_STEP_SECONDS = 15;
/** Range of the P95 latency trigger's rate() over the gateway's duration histogram. */
export const LATENCY_RANGE_SECONDS = 120;

/**
 * The cold-start-aware demand's backlog factor, GPU-seconds per request / cold start, as the
 * query writes it (4 significant digits): the simulator multiplies by the same number.
 */
export function backlogDrainFactor(workerSecondsPerRequest: number, coldStartSeconds: number): number {
    return Number((workerSecondsPerRequest / coldStartSeconds).toPrecision(4));
}
