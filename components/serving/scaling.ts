/**
 * A worker pool's KEDA ScaledObject, as a pure function of its scale policy (semantics in
 * stacks/scalePolicy.ts, which the simulator models too).
 *
 * At zero: only the gateway's demand metric can be non-zero (no worker exists to report
 * anything), and `activationThreshold: 0` makes any held request wake the pool (0 -> 1).
 * At peak: the HPA takes the highest replica count any trigger asks for: demand per
 * replica, vLLM waiting per replica, and optionally P95 latency and GPU utilization.
 * After the peak: the HPA steps down slowly (HPA_BEHAVIOR); KEDA returns the pool to zero
 * `cooldownSeconds` after the last demand, unless a warm window or a timetable session (cron
 * triggers, stacks/cronTriggers.ts) holds it.
 */
import { ScalingConfig } from "../../stacks/schema";
import {
    ARRIVAL_RATE_RANGE_SECONDS,
    ARRIVAL_RATE_STEP_SECONDS,
    HPA_BEHAVIOR,
    LATENCY_RANGE_SECONDS,
    NEVER_THRESHOLD,
    PREDICTIVE_CONFIRM_SECONDS,
    TRIGGER,
    backlogDrainFactor,
    cooldownSecondsFor,
    predictiveLeadSeconds,
    predictiveWarmupEnabled,
    predictiveWindowSeconds,
    recentRequestsActivation,
} from "../../stacks/scalePolicy";
import { CronTrigger, warmWindowTriggers } from "../../stacks/cronTriggers";

/**
 * Which gateways' and workers' series count for a pool. A standalone stack has one gateway and one
 * pool of each name, so the pool label alone selects them. On a platform, every team's gateway exports
 * series for its own pools with the same names (two teams may both run `qwen3-vl-2b`): their queries
 * add the namespace (Prometheus Operator's target label `namespace`) so one team's demand never scales
 * another's pool. A shared pool counts warm-ups from the teams allowed to warm it (`warmup`).
 */
export interface MetricScope {
    readonly namespace: string;
    /** Namespaces whose gateways' warm-up gauges count (a shared pool's permitted teams). @default [namespace] */
    readonly warmup?: readonly string[];
}

/** `{pool="x"}`, with the namespace matcher of a scope: `namespace="a"` or `namespace=~"a|b"`. */
function poolSelector(pool: string, namespaces?: readonly string[]): string {
    if (!namespaces || namespaces.length === 0) return `{pool="${pool}"}`;
    return namespaces.length === 1 ? `{pool="${pool}",namespace="${namespaces[0]}"}` : `{pool="${pool}",namespace=~"${[...namespaces].sort().join("|")}"}`;
}

export interface ScaledObjectInput {
    readonly poolName: string;
    readonly deploymentName: string;
    readonly namespace: string;
    readonly prometheusUrl: string;
    readonly timezone: string;
    readonly scaling: ScalingConfig;
    /** The pool's estimated cold start (capacity/bounds/clairvoyant.ts coldStartSeconds): the predictive warm-up's lead. */
    readonly coldStartSeconds?: number;
    /**
     * GPU-seconds one request needs on a worker: median answer time / worker concurrency
     * (the service model, capacity/sim/service.ts). Sizes a pool at zero from the arrival
     * rate of held requests instead of their count. Without it the demand query is the plain one.
     */
    readonly workerSecondsPerRequest?: number;
    /** Whose series count (platform and team stacks). @default the pool label alone */
    readonly scope?: MetricScope;
    /** The gateway runs batch jobs (serving.batch.enabled): only then is there a backlog to wake the pool. @default true */
    readonly batchEnabled?: boolean;
    /**
     * GPU seconds a restart costs (node launch to routable, capacity/bounds/clairvoyant.ts restartSeconds): the
     * recent-requests trigger holds the pool while requests come more often than one per this. @default any request holds it
     */
    readonly restartSeconds?: number;
    /** Cron triggers: warm windows and timetable sessions (stacks/cronTriggers.ts). @default the warm windows of `scaling` in `timezone` */
    readonly cron?: readonly CronTrigger[];
    /**
     * The recent-requests trigger's window outside the timetable's sessions (capacity/timetableWarm.ts sessionGateFor): the
     * stack's gateway exports gateway_timetable_session{pool}. @default the same window in and out of sessions
     */
    readonly afterSessionLookbackSeconds?: number;
}

/**
 * Cold-start-aware demand. Counting every held request as demand makes the HPA ask for
 * maxReplicas during a cold start, and the nodes arrive after one worker has drained the
 * queue (a few seconds to a minute of work). Held requests (and those queued inside vLLM,
 * which the gateway counts as in flight) count instead for the replicas
 * they will need once served: their arrival rate (the held count grows at about the
 * arrival rate while nothing serves them: deriv over 2 minutes) x GPU-seconds per request,
 * plus what it takes to drain the backlog within one cold start (held x GPU-seconds per
 * request / cold start), at least one replica's worth and never more than the held count.
 * In-flight requests count in full, so a pool whose workers are saturated still scales on
 * them. (PromQL: deriv, subqueries, clamp_min/clamp_max; Prometheus 2.x querying docs.)
 */
export function coldAwareDemandQuery(
    pool: string,
    queueDepthPerReplica: number,
    workerSecondsPerRequest: number,
    coldStartSeconds: number,
    scope?: MetricScope,
): string {
    const sel = poolSelector(pool, scope && [scope.namespace]);
    // Backlog: held in the gateway plus queued inside vLLM (in flight but not running); running requests count in full.
    const waiting = `(sum(vllm:num_requests_waiting${sel}) or vector(0))`;
    const backlog = `((sum(gateway_queue_depth${sel}) or vector(0)) + ${waiting})`;
    const running = `clamp_min((sum(gateway_inflight_requests${sel}) or vector(0)) - ${waiting}, 0)`;
    const arrivals = `(clamp_min(deriv(sum(gateway_queue_depth${sel})[${ARRIVAL_RATE_RANGE_SECONDS}s:${ARRIVAL_RATE_STEP_SECONDS}s]), 0) or vector(0))`;
    const replicas = `clamp_min(ceil(${arrivals} * ${workerSecondsPerRequest} + ${backlog} * ${backlogDrainFactor(workerSecondsPerRequest, coldStartSeconds)}), 1)`;
    // clamp_max takes a scalar bound: scalar() of the one-element replicas vector.
    return `${running} + clamp_max(${backlog}, scalar(${queueDepthPerReplica} * ${replicas}))`;
}

/** PromQL per trigger. `or vector(0)` keeps a query valid (0, not empty) when no series exists yet. */
export function scalingQueries(pool: string, scope?: MetricScope) {
    const sel = poolSelector(pool, scope && [scope.namespace]);
    return {
        demand: `(sum(gateway_queue_depth${sel}) or vector(0)) + (sum(gateway_inflight_requests${sel}) or vector(0))`,
        waiting: `sum(vllm:num_requests_waiting${sel}) or vector(0)`,
        // Only requests handed to a worker: cache hits and refusals (429) must not keep a GPU node up.
        recentRequests: (lookbackSeconds: number) => `sum(increase(gateway_upstream_requests_total${sel}[${lookbackSeconds}s])) or vector(0)`,
        // Per-replica values (P95, utilization) times the replica count: as an AverageValue
        // target this gives the HPA's Value semantics, ceil(replicas * metric / target), and
        // keeps KEDA's fallback available (it only supports AverageValue triggers).
        // `>= 0` drops NaN, which `or vector(0)` would keep: histogram_quantile is NaN once no request finished in
        // the window (0/0), and scalar() of no workers is NaN (Prometheus docs, "histogram_quantile", "scalar").
        latencyP95: `((histogram_quantile(0.95, sum by (le) (rate(gateway_request_duration_seconds_bucket${sel}[${LATENCY_RANGE_SECONDS}s]))) * scalar(count(vllm:num_requests_running${sel}))) >= 0) or vector(0)`,
        // Every gateway replica exports the same backlog (read from Valkey): max, not sum.
        batchBacklog: `max(gateway_batch_backlog${sel}) or vector(0)`,
        // `and on (namespace, pod)` keeps the GPUs of the pool's pods without multiplying by any
        // of vLLM's values. DCGM's `pod`/`namespace` are the GPU's workload (dcgm-exporter
        // 4.5.3-4.8.2 internal/pkg/transformation/const.go + kubernetes.go; the chart sets
        // DCGM_EXPORTER_KUBERNETES=true) and survive the scrape because our ServiceMonitor has
        // honorLabels (components/addons/dcgmExporter). vLLM's come from the ServiceMonitor's
        // target labels (prometheus-operator v0.93 pkg/prometheus/promcfg.go: namespace, pod).
        gpuUtilization: `(avg(DCGM_FI_DEV_GPU_UTIL and on (namespace, pod) vllm:num_requests_running${sel}) * scalar(count(vllm:num_requests_running${sel}))) or vector(0)`,
    };
}

/**
 * Predictive warm-up: the pool's rate of requests handed to a worker in the same slot `lookbackDays`
 * earlier, shifted ahead by `leadSeconds` (PromQL `offset`, Prometheus docs "offset modifier"), so a
 * replica is asked for `leadSeconds` before last week's traffic began and is ready when it would have
 * been needed. It counts only while last week's traffic began less than PREDICTIVE_CONFIRM_SECONDS ago
 * (last week had none in the window ending that long before) or the pool's workers were handed requests
 * within that time (`and on()` / `or` set operators and `increase`, Prometheus docs "Operators" and
 * "Functions"), so a cancelled class frees its GPU. Empty without history, hence `or vector(0)`.
 * The series is gateway_upstream_requests_total (gateway/src/metrics.ts: requests handed to a worker),
 * never gateway_requests_total, which counts cache hits and refusals (429) too: a burst of refused or
 * cached requests must not warm a GPU next week, nor keep a cancelled class's GPU. The simulator's
 * model: capacity/sim/triggers.ts `predictive`.
 */
export function predictiveQuery(pool: string, lookbackDays: number, leadSeconds: number, scope?: MetricScope): string {
    const series = `gateway_upstream_requests_total${poolSelector(pool, scope && [scope.namespace])}`;
    const window = predictiveWindowSeconds(leadSeconds);
    const offset = lookbackDays * 86400 - leadSeconds;
    const lastWeek = `sum(rate(${series}[${window}s] offset ${offset}s))`;
    const began = `(sum(increase(${series}[${window}s] offset ${offset + leadSeconds + PREDICTIVE_CONFIRM_SECONDS}s)) or vector(0)) == 0`;
    const used = `sum(increase(${series}[${PREDICTIVE_CONFIRM_SECONDS}s])) > 0`;
    return `(${lastWeek} and on() (${began} or ${used})) or vector(0)`;
}

/**
 * The recent-requests trigger of a pool the timetable warms: the requests of the last `lookbackSeconds` while
 * one of its sessions is in progress (gateway_timetable_session{pool}, gateway/src/timetable.ts), else those of
 * the last `afterSeconds` scaled to the same window (x lookback / after), so one activation threshold (the
 * same rate over a shorter window) holds either way: through a class's lulls, and only briefly once it has gone
 * quiet. With the usual threshold (lookback / restart, near 1) one request in the short window holds the pool. `and on()`
 * keeps the left side only while the gauge reads 1; `or` falls back to the right side when the left is empty
 * (Prometheus docs, "Logical/set binary operators"); an empty increase() (no samples yet) falls through too.
 * The simulator's model: capacity/sim/triggers.ts recentRequests.
 */
export function sessionRecentRequestsQuery(pool: string, lookbackSeconds: number, afterSeconds: number, scope?: MetricScope): string {
    const sel = poolSelector(pool, scope && [scope.namespace]);
    const count = (seconds: number) => `sum(increase(gateway_upstream_requests_total${sel}[${seconds}s]))`;
    return `(${count(lookbackSeconds)} and on() (max(gateway_timetable_session${sel}) > 0)) or (${count(afterSeconds)} * ${lookbackSeconds / afterSeconds}) or vector(0)`;
}

/**
 * Explicit warm-up (POST /v1/warmup): replicas a teacher asked for, as gauges of every
 * gateway replica; max, so several gateway replicas agree on one count rather than adding up.
 */
export function warmupQuery(pool: string, scope?: MetricScope): string {
    return `max(gateway_warmup_replicas${poolSelector(pool, scope && (scope.warmup ?? [scope.namespace]))}) or vector(0)`;
}

/**
 * What a worker pool does while Prometheus cannot be read (every trigger but cron fails).
 *
 * Without a `fallback` block (fallbackReplicas 0, the default), KEDA v2.20.2 changes nothing:
 * - pkg/scaling/executor/scale_scaledobjects.go RequestScale, not active: case `isError &&
 *   scaledObject.Spec.Fallback == nil` sets the TriggerError condition and neither scales from nor to zero;
 *   active (a cron warm window, which reads no Prometheus): `case isError` (PartialTriggerError), no change.
 * - the HPA, fed by KEDA's metrics server, keeps its replica count when every external metric fails and
 *   never scales down while one fails (kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go
 *   computeReplicasForMetrics, read at commit 00067268: `invalidMetricsCount >= len(metricSpecs) ||
 *   (invalidMetricsCount > 0 && replicas < specReplicas)` returns an error and reconcileAutoscaler does not rescale).
 * So an outage starts no GPU for an idle pool and shrinks no busy one; requests held at a pool at zero wait
 * up to the gateway's maxWaitSeconds and then get 503 with Retry-After (docs/scaling.md).
 * With any `fallback` block, even `replicas: 0`, a trigger past `failureThreshold` answers the fallback
 * metric and counts as ACTIVE (pkg/fallback/fallback.go GetMetricsWithFallback returns fallbackActive;
 * pkg/scaling/scale_handler.go getScalerState: `isActiveOrFallback := fallbackActive || isMetricActive`),
 * and RequestScale scales every pool at zero to max(minReplicaCount, 1) (scaleFromZeroOrIdle): about
 * 45 s of outage started a p4de in prod. Hence no block unless fallbackReplicas > 0 asks for exactly that.
 * When asked: behavior `currentReplicasIfHigher` (max(current, replicas); keda-docs 2.20 scaledobject-spec.md,
 * "fallback") so a busy pool is not shrunk to `replicas`.
 */
export function fallbackSpec(replicas: number) {
    return { failureThreshold: 3, replicas, behavior: "currentReplicasIfHigher" as const };
}

function prometheusTrigger(name: string, url: string, query: string, threshold: number, activation: number) {
    return {
        type: "prometheus",
        name,
        metricType: "AverageValue",
        metadata: {
            serverAddress: url,
            query,
            threshold: String(threshold),
            activationThreshold: String(activation),
        },
    };
}

/**
 * Batch lines waiting in Valkey (gateway_batch_backlog) wake the pool from zero and size it:
 * one replica per `perReplica` waiting lines. Lines being run count in the demand trigger
 * already (gateway_inflight_requests), so the pool stays up until the batch is done.
 */
function batchTrigger(url: string, query: string, perReplica: number): Record<string, unknown> | undefined {
    return perReplica > 0 ? prometheusTrigger(TRIGGER.batchBacklog, url, query, perReplica, 0) : undefined;
}

export function scaledObjectSpec(input: ScaledObjectInput): Record<string, unknown> {
    const s = input.scaling;
    const q = scalingQueries(input.poolName, input.scope);
    const url = input.prometheusUrl;
    // Only demand wakes the pool (0 -> 1). The sizing triggers below can be non-zero only
    // while workers run, so they never activate (NEVER_THRESHOLD) and only size.
    const triggers: Record<string, unknown>[] = [
        prometheusTrigger(
            TRIGGER.demand,
            url,
            input.workerSecondsPerRequest === undefined || input.coldStartSeconds === undefined
                ? q.demand
                : coldAwareDemandQuery(input.poolName, s.queueDepthPerReplica, input.workerSecondsPerRequest, input.coldStartSeconds, input.scope),
            s.queueDepthPerReplica,
            0,
        ),
        prometheusTrigger(TRIGGER.waiting, url, q.waiting, s.waitingPerReplica, NEVER_THRESHOLD),
    ];
    // Keeps the pool active (never sizes it) while requests come often enough to expect one within a restart:
    // gauges sampled every poll read 0 between questions and would let a class's pool cool to zero mid-class.
    if (s.activityLookbackSeconds > 0)
        triggers.push(
            prometheusTrigger(
                TRIGGER.recentRequests,
                url,
                input.afterSessionLookbackSeconds === undefined
                    ? q.recentRequests(s.activityLookbackSeconds)
                    : sessionRecentRequestsQuery(input.poolName, s.activityLookbackSeconds, input.afterSessionLookbackSeconds, input.scope),
                NEVER_THRESHOLD,
                recentRequestsActivation(s.activityLookbackSeconds, input.restartSeconds),
            ),
        );
    const batch = input.batchEnabled === false ? undefined : batchTrigger(url, q.batchBacklog, s.batchBacklogPerReplica);
    if (batch) triggers.push(batch);
    if (s.latencyP95Seconds !== undefined) triggers.push(prometheusTrigger(TRIGGER.latencyP95, url, q.latencyP95, s.latencyP95Seconds, NEVER_THRESHOLD));
    if (s.gpuUtilizationPercent !== undefined)
        triggers.push(prometheusTrigger(TRIGGER.gpuUtilization, url, q.gpuUtilization, s.gpuUtilizationPercent, NEVER_THRESHOLD));
    // Explicit warm-up: target 1 per replica, so the HPA holds at least the gauge's count; any count > 0 wakes the pool.
    triggers.push(prometheusTrigger(TRIGGER.warmup, url, warmupQuery(input.poolName, input.scope), 1, 0));
    if (predictiveWarmupEnabled(s) && input.coldStartSeconds !== undefined) {
        const lead = predictiveLeadSeconds(s, input.coldStartSeconds);
        triggers.push(
            prometheusTrigger(
                TRIGGER.predictive,
                url,
                predictiveQuery(input.poolName, s.predictiveWarmup.lookbackDays, lead, input.scope),
                s.predictiveWarmup.requestsPerSecondPerReplica,
                0,
            ),
        );
    }
    // KEDA cron scaler metadata (kedacore/keda pkg/scalers/cron_scaler.go cronMetadata at v2.20.2): start, end, timezone, desiredReplicas.
    for (const c of input.cron ?? warmWindowTriggers(s.warmWindows, input.timezone)) {
        triggers.push({
            type: "cron",
            name: c.name,
            metadata: { timezone: c.timezone, start: c.start, end: c.end, desiredReplicas: String(c.desiredReplicas) },
        });
    }
    return {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: input.deploymentName },
        pollingInterval: s.pollingIntervalSeconds,
        cooldownPeriod: cooldownSecondsFor(s, input.coldStartSeconds),
        minReplicaCount: s.minReplicas,
        maxReplicaCount: s.maxReplicas,
        ...(s.fallbackReplicas > 0 ? { fallback: fallbackSpec(s.fallbackReplicas) } : {}),
        advanced: {
            restoreToOriginalReplicaCount: false,
            horizontalPodAutoscalerConfig: {
                name: `${input.deploymentName}-hpa`,
                behavior: {
                    scaleUp: { ...HPA_BEHAVIOR.scaleUp, policies: [...HPA_BEHAVIOR.scaleUp.policies] },
                    scaleDown: { ...HPA_BEHAVIOR.scaleDown, policies: [...HPA_BEHAVIOR.scaleDown.policies] },
                },
            },
        },
        triggers,
    };
}
