/**
 * Scale policies the simulator can run, as data: our KEDA ScaledObject (built from a
 * model's `scaling` config and the constants in stacks/scalePolicy.ts, the same ones the
 * deployed ScaledObject uses) and the published reference deployment's plain HPA.
 */
import {
    ACTIVATION_DEMAND,
    backlogDrainFactor,
    cooldownSecondsFor,
    HPA_BEHAVIOR,
    HPA_SYNC_SECONDS,
    HPA_TOLERANCE,
    K8S_DEFAULT_SCALE_UP,
    NEVER_THRESHOLD,
    PREDICTIVE_CONFIRM_SECONDS,
    predictiveLeadSeconds,
    predictiveWarmupEnabled,
    predictiveWindowSeconds,
    recentRequestsActivation,
    TRIGGER,
} from "../../stacks/scalePolicy";
import { ScalingConfig } from "../../stacks/schema";
import { CronTrigger, SessionGate, warmWindowTriggers } from "../../stacks/cronTriggers";
import { HpaBehavior } from "./hpa";

/** What a trigger reads. */
export type MetricSource =
    /** gateway_queue_depth + gateway_inflight_requests of the pool (exists at 0 workers). */
    | "demand"
    /** vllm:num_requests_waiting of the pool's workers. */
    | "waiting"
    /** DCGM_FI_DEV_GPU_UTIL (percent) of the pool's GPUs. */
    | "gpuUtil"
    /** Gateway P95 latency of the pool over the last window, seconds. */
    | "latencyP95"
    /** Predictive warm-up: the pool's request rate `lookback - lead` seconds ago (PolicySpec.history). */
    | "history"
    /** Explicit warm-up: max(gateway_warmup_replicas) of the pool. */
    | "warmup"
    /** Requests handed to a worker in the last PolicySpec.activityLookbackSeconds: increase(gateway_upstream_requests_total). */
    | "recentRequests"
    /** Batch lines waiting in the store: max(gateway_batch_backlog) of the pool. */
    | "batchBacklog";

export interface MetricSpec {
    /** The ScaledObject trigger this models (stacks/scalePolicy.ts TRIGGER); absent for a plain HPA's metrics. */
    readonly trigger?: string;
    readonly source: MetricSource;
    /**
     * How the HPA reads it: "AverageValue" (External, KEDA's default for Prometheus
     * triggers: pool total / replicas vs target), "Value" (External, ratio of the value to
     * the target), "PodsAverage" (a per-pod metric through prometheus-adapter).
     */
    readonly type: "AverageValue" | "Value" | "PodsAverage";
    readonly target: number;
    /** KEDA activationThreshold (KEDA policies only): active while the value is above it. */
    readonly activation: number;
}

export interface PolicySpec {
    readonly name: string;
    /** "keda": ScaledObject (activation 0 <-> 1, cooldown to zero, cron windows, fallback); "hpa": a plain HPA (never below 1). */
    readonly controller: "keda" | "hpa";
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly metrics: readonly MetricSpec[];
    readonly behavior: HpaBehavior;
    readonly tolerance: number;
    readonly hpaSyncSeconds: number;
    readonly pollingIntervalSeconds: number;
    readonly cooldownSeconds: number;
    /** The ScaledObject's cron triggers (warm windows and timetable sessions), as deployed: stacks/cronTriggers.ts, capacity/timetableWarm.ts. */
    readonly cron: readonly CronTrigger[];
    readonly fallbackReplicas: number;
    /** Range of the recent-requests trigger's increase() (source "recentRequests"). */
    readonly activityLookbackSeconds?: number;
    /**
     * The timetable's session gate (capacity/timetableWarm.ts sessionGateFor): the pool's sessions, exported by the
     * gateway as gateway_timetable_session, and the recent-requests range outside them. Absent: one range.
     */
    readonly sessionGate?: SessionGate;
    /**
     * Cold-start-aware demand (components/serving/scaling.ts coldAwareDemandQuery): with no
     * routable worker, held requests count for ceil(arrival rate x this / 1) replicas' worth
     * (GPU-seconds per request), at least one; undefined: the plain held + in-flight demand.
     */
    readonly coldAwareSecondsPerRequest?: number;
    /** The cold start the cold-start-aware demand drains a backlog within (the deployed query's constant). */
    readonly coldAwareColdStartSeconds?: number;
    /** backlogDrainFactor(coldAwareSecondsPerRequest, coldAwareColdStartSeconds): the number the query writes. */
    readonly coldAwareBacklogFactor?: number;
    /** The predictive trigger's query shape: rate over `windowSeconds` at `lookbackSeconds - leadSeconds` ago. */
    readonly history?: { readonly lookbackSeconds: number; readonly leadSeconds: number; readonly windowSeconds: number; readonly confirmSeconds?: number };
}

/** Kubernetes' default HPA behavior (facts.md "HPA and KEDA semantics"). */
export const K8S_DEFAULT_BEHAVIOR: HpaBehavior = {
    scaleUp: K8S_DEFAULT_SCALE_UP,
    scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: "Max", policies: [{ type: "Percent", value: 100, periodSeconds: 15 }] },
};

/**
 * Our policy for one worker pool: exactly what the stack's ScaledObject asks KEDA and the
 * HPA to do. `coldStartSeconds`: the pool's estimated cold start, the predictive trigger's
 * lead (components/serving/workers.ts passes the same figure); without it no predictive trigger.
 * `cron`: the pool's cron triggers (capacity/timetableWarm.ts cronTriggersFor); @default its warm windows in UTC.
 * `restartSeconds`: the recent-requests trigger's rate threshold (capacity/bounds/clairvoyant.ts restartSeconds).
 * `sessionGate`: the timetable's sessions and the recent-requests range outside them (capacity/timetableWarm.ts sessionGateFor).
 */
export function policyFromScaling(
    s: ScalingConfig,
    name = "ours",
    coldStartSeconds?: number,
    workerSecondsPerRequest?: number,
    batchEnabled = true,
    cron: readonly CronTrigger[] = warmWindowTriggers(s.warmWindows, "UTC"),
    restartSeconds?: number,
    sessionGate?: SessionGate,
): PolicySpec {
    // Trigger by trigger as components/serving/scaling.ts scaledObjectSpec emits them (same order,
    // names, thresholds): every Prometheus trigger is an AverageValue metric of the HPA and an
    // activation test of KEDA. Cron triggers (warm windows, timetable sessions) are PolicySpec.cron.
    const metrics: MetricSpec[] = [
        { trigger: TRIGGER.demand, source: "demand", type: "AverageValue", target: s.queueDepthPerReplica, activation: ACTIVATION_DEMAND },
        { trigger: TRIGGER.waiting, source: "waiting", type: "AverageValue", target: s.waitingPerReplica, activation: NEVER_THRESHOLD },
    ];
    // Active while the requests of the look-back expect one within a restart (stacks/scalePolicy.ts recentRequestsActivation).
    if (s.activityLookbackSeconds > 0)
        metrics.push({
            trigger: TRIGGER.recentRequests,
            source: "recentRequests",
            type: "AverageValue",
            target: NEVER_THRESHOLD,
            activation: recentRequestsActivation(s.activityLookbackSeconds, restartSeconds),
        });
    // No batch store (serving.batch.enabled false): no backlog, and the ScaledObject has no batch trigger.
    if (batchEnabled && s.batchBacklogPerReplica > 0)
        metrics.push({ trigger: TRIGGER.batchBacklog, source: "batchBacklog", type: "AverageValue", target: s.batchBacklogPerReplica, activation: 0 });
    if (s.latencyP95Seconds !== undefined)
        metrics.push({ trigger: TRIGGER.latencyP95, source: "latencyP95", type: "AverageValue", target: s.latencyP95Seconds, activation: NEVER_THRESHOLD });
    if (s.gpuUtilizationPercent !== undefined)
        metrics.push({
            trigger: TRIGGER.gpuUtilization,
            source: "gpuUtil",
            type: "AverageValue",
            target: s.gpuUtilizationPercent,
            activation: NEVER_THRESHOLD,
        });
    metrics.push({ trigger: TRIGGER.warmup, source: "warmup", type: "AverageValue", target: 1, activation: 0 });
    const predictive = predictiveWarmupEnabled(s) && coldStartSeconds !== undefined;
    if (predictive)
        metrics.push({
            trigger: TRIGGER.predictive,
            source: "history",
            type: "AverageValue",
            target: s.predictiveWarmup.requestsPerSecondPerReplica,
            activation: 0,
        });
    return {
        name,
        controller: "keda",
        minReplicas: s.minReplicas,
        maxReplicas: s.maxReplicas,
        metrics,
        behavior: HPA_BEHAVIOR,
        tolerance: HPA_TOLERANCE,
        hpaSyncSeconds: HPA_SYNC_SECONDS,
        pollingIntervalSeconds: s.pollingIntervalSeconds,
        cooldownSeconds: cooldownSecondsFor(s, coldStartSeconds),
        cron,
        fallbackReplicas: s.fallbackReplicas,
        activityLookbackSeconds: s.activityLookbackSeconds,
        ...(sessionGate ? { sessionGate } : {}),
        coldAwareSecondsPerRequest: coldStartSeconds === undefined ? undefined : workerSecondsPerRequest,
        coldAwareColdStartSeconds: coldStartSeconds,
        coldAwareBacklogFactor:
            coldStartSeconds === undefined || workerSecondsPerRequest === undefined ? undefined : backlogDrainFactor(workerSecondsPerRequest, coldStartSeconds),
        history: predictive
            ? {
                  lookbackSeconds: s.predictiveWarmup.lookbackDays * 86400,
                  leadSeconds: predictiveLeadSeconds(s, coldStartSeconds),
                  windowSeconds: predictiveWindowSeconds(predictiveLeadSeconds(s, coldStartSeconds)),
                  confirmSeconds: PREDICTIVE_CONFIRM_SECONDS,
              }
            : undefined,
    };
}

/**
 * The published reference deployment (facts.md "Published reference deployment"): a
 * plain HPA on queue_length (average 3 per pod, read as vLLM waiting requests per pod)
 * and DCGM GPU utilization (70 %), min 1, max 8, scale-down cool-down 300 s, otherwise
 * Kubernetes' default behavior.
 */
export const REFERENCE_POLICY: PolicySpec = {
    name: "reference (HPA: GPU util 70 %, queue 3, min 1, max 8)",
    controller: "hpa",
    minReplicas: 1,
    maxReplicas: 8,
    metrics: [
        { source: "gpuUtil", type: "PodsAverage", target: 70, activation: Infinity },
        { source: "waiting", type: "PodsAverage", target: 3, activation: Infinity },
    ],
    behavior: K8S_DEFAULT_BEHAVIOR,
    tolerance: HPA_TOLERANCE,
    hpaSyncSeconds: HPA_SYNC_SECONDS,
    pollingIntervalSeconds: HPA_SYNC_SECONDS,
    cooldownSeconds: 300,
    cron: [],
    fallbackReplicas: 1,
};

/** How held requests count as demand, when it is not the default (sized by their arrival rate, cold-start aware). */
function heldDemand(p: PolicySpec): string {
    return p.coldAwareSecondsPerRequest === undefined && p.minReplicas === 0 ? " (each held request counts)" : "";
}

/** One-line description for tables. */
export function describePolicy(p: PolicySpec): string {
    const triggers = p.metrics
        .filter((m) => m.source !== "warmup" && m.source !== "recentRequests" && m.source !== "batchBacklog")
        .map((m) =>
            m.source === "history"
                ? `last week's rate ${p.history!.leadSeconds}s ahead`
                : `${m.source} ${m.type === "PodsAverage" ? "avg " : ""}${m.target}${m.source === "gpuUtil" ? "%" : m.source === "latencyP95" ? "s" : ""}${m.source === "demand" ? heldDemand(p) : ""}`,
        )
        .join(" + ");
    const windows = p.cron.filter((c) => c.name.startsWith("warm-")).map((c) => `warm '${c.start}'-'${c.end}' x${c.desiredReplicas}`);
    const classes = p.cron.length - windows.length;
    const warm = [...windows, ...(classes > 0 ? [`${classes} timetable trigger${classes > 1 ? "s" : ""}`] : [])].join(", ");
    const range = `${p.minReplicas}-${p.maxReplicas}`;
    const zero = p.controller === "keda" && p.minReplicas === 0 ? `, to 0 after ${p.cooldownSeconds}s` : "";
    return `${range} on ${triggers}${zero}${warm ? `, ${warm}` : ""}`;
}
