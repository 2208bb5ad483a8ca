/**
 * A worker pool's KEDA ScaledObject, as a pure function of its scale policy (semantics in
 * stacks/scalePolicy.ts, which the simulator models too).
 *
 * At zero: only the gateway's demand metric can be non-zero (no worker exists to report
 * anything), and `activationThreshold: 0` makes any held request wake the pool (0 -> 1).
 * At peak: the HPA takes the highest replica count any trigger asks for: demand per
 * replica, vLLM waiting per replica, and optionally P95 latency and GPU utilization.
 * After the peak: the HPA steps down slowly (HPA_BEHAVIOR); KEDA returns the pool to zero
 * `cooldownSeconds` after the last demand, unless a warm window (cron trigger) holds it.
 */
import { ScalingConfig } from "../../stacks/schema";
import { HPA_BEHAVIOR } from "../../stacks/scalePolicy";

export interface ScaledObjectInput {
    readonly poolName: string;
    readonly deploymentName: string;
    readonly namespace: string;
    readonly prometheusUrl: string;
    readonly timezone: string;
    readonly scaling: ScalingConfig;
}

/** PromQL per trigger. `or vector(0)` keeps a query valid (0, not empty) when no series exists yet. */
export function scalingQueries(pool: string) {
    const sel = `{pool="${pool}"}`;
    return {
        demand: `(sum(gateway_queue_depth${sel}) or vector(0)) + (sum(gateway_inflight_requests${sel}) or vector(0))`,
        waiting: `sum(vllm:num_requests_waiting${sel}) or vector(0)`,
        recentRequests: (lookbackSeconds: number) => `sum(increase(gateway_requests_total${sel}[${lookbackSeconds}s])) or vector(0)`,
        // Per-replica values (P95, utilization) times the replica count: as an AverageValue
        // target this gives the HPA's Value semantics, ceil(replicas * metric / target), and
        // keeps KEDA's fallback available (it only supports AverageValue triggers).
        latencyP95: `(histogram_quantile(0.95, sum by (le) (rate(gateway_request_duration_seconds_bucket${sel}[2m]))) * scalar(count(vllm:num_requests_running${sel}))) or vector(0)`,
        gpuUtilization: `(avg(DCGM_FI_DEV_GPU_UTIL * on (pod) group_left() max by (pod) (vllm:num_requests_running${sel})) * scalar(count(vllm:num_requests_running${sel}))) or vector(0)`,
    };
}

/**
 * KEDA fallback while Prometheus fails: after `failureThreshold` failed polls, the HPA gets
 * max(current replicas, `replicas`) instead of the bare `replicas` (behavior
 * `currentReplicasIfHigher`, KEDA >= 2.15; keda-docs content/docs/2.20/reference/scaledobject-spec.md,
 * "fallback"; the CRD enum is static | currentReplicas | currentReplicasIfHigher |
 * currentReplicasIfLower). With the default `static`, an outage shrank a busy pool to `replicas`.
 */
export function fallbackSpec(replicas: number) {
    return { failureThreshold: 3, replicas, behavior: "currentReplicasIfHigher" as const };
}

/** "08:00" + "1-5" -> "0 8 * * 1-5" */
export function cronAt(hhmm: string, days: string): string {
    const [h, m] = hhmm.split(":").map(Number);
    return `${m} ${h} * * ${days}`;
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

export function scaledObjectSpec(input: ScaledObjectInput): Record<string, unknown> {
    const s = input.scaling;
    const q = scalingQueries(input.poolName);
    const url = input.prometheusUrl;
    // Only demand wakes the pool (0 -> 1). The sizing triggers below can be non-zero only
    // while workers run, so they never activate (threshold NEVER) and only size.
    const NEVER = 1e9;
    const triggers: Record<string, unknown>[] = [
        prometheusTrigger("demand", url, q.demand, s.queueDepthPerReplica, 0),
        prometheusTrigger("vllm-waiting", url, q.waiting, s.waitingPerReplica, NEVER),
    ];
    // Keeps the pool active (never sizes it) while requests were answered recently: gauges
    // sampled every poll can read 0 between sparse requests and let the pool cool to zero mid-class.
    if (s.activityLookbackSeconds > 0) triggers.push(prometheusTrigger("recent-requests", url, q.recentRequests(s.activityLookbackSeconds), NEVER, 0));
    if (s.latencyP95Seconds !== undefined) triggers.push(prometheusTrigger("latency-p95", url, q.latencyP95, s.latencyP95Seconds, NEVER));
    if (s.gpuUtilizationPercent !== undefined) triggers.push(prometheusTrigger("gpu-utilization", url, q.gpuUtilization, s.gpuUtilizationPercent, NEVER));
    s.warmWindows.forEach((w, i) => {
        triggers.push({
            type: "cron",
            name: `warm-${i}`,
            metadata: { timezone: input.timezone, start: cronAt(w.start, w.days), end: cronAt(w.end, w.days), desiredReplicas: String(w.replicas) },
        });
    });
    return {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: input.deploymentName },
        pollingInterval: s.pollingIntervalSeconds,
        cooldownPeriod: s.cooldownSeconds,
        minReplicaCount: s.minReplicas,
        maxReplicaCount: s.maxReplicas,
        fallback: fallbackSpec(s.fallbackReplicas),
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
