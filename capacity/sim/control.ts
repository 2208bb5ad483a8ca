/**
 * The control loops, as deployed: Prometheus scrapes the gateway, vLLM and DCGM gauges;
 * KEDA polls its triggers (activation 0 <-> 1, cooldown, cron windows, fallback); the
 * HPA KEDA created syncs every 15 s on the same metrics (1 <-> N). They act on the
 * Deployment through Cluster.setReplicas. Metrics are what the last scrape saw, so
 * every decision lags the system by up to a scrape interval, as in a real cluster.
 */
import { cronMetricValue } from "./cron";
import { Cluster } from "./cluster";
import { MetricObservation, combineProposals, replicasForMetric } from "./hpa";
import { fallbackActive, isActivated, kedaPoll } from "./keda";
import { MetricSpec } from "./policy";
import { PodState, SimState, WorkerPoolState } from "./state";
import { quantileSorted, sortedCopy } from "./stats";

export class Control {
    constructor(
        private readonly s: SimState,
        private readonly cluster: Cluster,
    ) {}

    /** Replicas each worker pool runs at t = 0 (steady state: min, or the warm window's count). */
    initialReplicas(): number[] {
        return this.s.wps.map((w) => {
            const pol = w.setup.policy;
            const floor = pol.controller === "hpa" ? Math.max(1, pol.minReplicas) : pol.minReplicas;
            return Math.min(pol.maxReplicas, Math.max(floor, this.windowReplicas(w, 0)));
        });
    }

    private outage(): boolean {
        const s = this.s;
        for (const o of s.p.metricOutages) if (s.now >= o.min && s.now < o.max) return true;
        return false;
    }

    scrape(): void {
        const s = this.s;
        if (this.outage()) return; // Prometheus is unreachable: queries fail (hpaSync, kedaPoll)
        s.batch?.scrape();
        for (const w of s.wps) {
            w.snapDemand = w.heldCount + w.inflight;
            const perRequest = w.setup.policy.coldAwareSecondsPerRequest;
            if (perRequest !== undefined) {
                // components/serving/scaling.ts coldAwareDemandQuery: deriv(held[2m]) as the arrival rate, plus the backlog drained within a cold start.
                w.heldSamples = w.heldSamples.filter((x) => x.t > s.now - 120);
                w.heldSamples.push({ t: s.now, held: w.heldCount });
                const first = w.heldSamples[0];
                const rate = s.now > first.t ? Math.max(0, (w.heldCount - first.held) / (s.now - first.t)) : 0;
                const backlog = w.heldCount + w.waitingTotal; // held in the gateway + queued inside vLLM
                const replicas = Math.max(1, Math.ceil(rate * perRequest + (backlog * perRequest) / (w.setup.policy.coldAwareColdStartSeconds ?? Infinity)));
                const target = w.setup.policy.metrics.find((m) => m.source === "demand")?.target ?? 1;
                w.snapDemand = w.inflight - w.waitingTotal + Math.min(backlog, target * replicas);
            }
            if (s.p.queryLookbackSeconds > 0) {
                const cutoff = s.now - s.p.queryLookbackSeconds;
                w.samples = w.samples.filter((x) => x.t > cutoff);
                w.samples.push({ t: s.now, demand: w.snapDemand, waiting: w.snapWaiting });
                for (const x of w.samples) {
                    w.snapDemand = Math.max(w.snapDemand, x.demand);
                    w.snapWaiting = Math.max(w.snapWaiting, x.waiting);
                }
            }
            w.snapHistory = historyRate(w, s.now);
            // components/serving/scaling.ts recent-requests: sum(increase(gateway_upstream_requests_total[lookback])), the requests handed to a worker in the look-back.
            const lookback = w.setup.policy.activityLookbackSeconds ?? s.p.activityLookbackSeconds;
            w.snapRecent = lookback > 0 ? upperBound(w.handoffs, s.now) - upperBound(w.handoffs, s.now - lookback) : 0;
            w.snapWarmup = 0;
            for (const x of w.warmups) if (s.now >= x.from && s.now < x.until) w.snapWarmup = Math.max(w.snapWarmup, x.replicas);
            w.snapWaitingPerPod = w.ready.map((p) => p.waitingLive);
            w.snapWaitingMissing = w.pods.filter((p) => p.state === PodState.Pending || p.state === PodState.Starting).length;
            if (w.recent.length > 0) {
                const cutoff = s.now - s.p.latencyWindowSeconds;
                w.recent = w.recent.filter((x) => x.t > cutoff);
                w.snapLatencyP95 = w.recent.length > 0 ? quantileSorted(sortedCopy(w.recent.map((x) => x.latency)), 0.95) : 0;
            } else w.snapLatencyP95 = 0;
        }
    }

    /**
     * DCGM_FI_DEV_GPU_UTIL per pod with a GPU: a point sample, not an average over the scrape
     * interval (facts.md: "DCGM_FI_DEV_GPU_UTIL is a point sample (<= 1 s window)"; NVIDIA
     * DCGM field docs: "GPU utilization", sampled by the driver over its last short period).
     * A GPU with a request running reads 100 %, an idle one 0 %.
     */
    dcgmScrape(): void {
        const s = this.s;
        for (const w of s.wps) {
            for (const pod of w.pods) {
                if (!pod.node) continue;
                pod.util = pod.running.size > 0 ? 100 : 0;
            }
        }
    }

    /** Deployment status.replicas: pods that exist and are not terminating (pending, starting, ready). */
    private statusReplicas(w: WorkerPoolState): number {
        let n = 0;
        for (const p of w.pods) if (p.state === PodState.Pending || p.state === PodState.Starting || p.state === PodState.Ready) n++;
        return n;
    }

    /**
     * A failed metric read, counted per trigger as KEDA does: both KEDA's poll and the
     * HPA's metric request go through GetMetricsWithFallback, and each increments the
     * trigger's NumberOfFailures (pkg/scaling/scale_handler.go, pkg/fallback/fallback.go
     * at v2.20.2); a successful read resets it.
     */
    private countRead(w: WorkerPoolState, failed: boolean): boolean {
        w.failedSyncs = failed ? w.failedSyncs + 1 : 0;
        return fallbackActive(w.failedSyncs, this.s.p.fallbackFailureThreshold, w.setup.policy.controller === "keda" ? w.setup.policy.fallbackReplicas : 0);
    }

    windowReplicas(w: WorkerPoolState, t: number): number {
        let r = 0;
        for (const win of w.windows) r = Math.max(r, cronMetricValue(win, t));
        return r;
    }

    private observe(w: WorkerPoolState, m: MetricSpec, failed: boolean, fallback: boolean): MetricObservation {
        const pol = w.setup.policy;
        if (failed) {
            // KEDA's fallback (behavior currentReplicasIfHigher, components/serving/scaling.ts) answers the HPA
            // with max(current, fallbackReplicas) x target after the failure threshold: an outage never shrinks a pool.
            if (fallback && m.type === "AverageValue") return { kind: "AverageValue", total: Math.max(w.desired, pol.fallbackReplicas) * m.target, target: m.target };
            return { kind: "Failed" };
        }
        switch (m.source) {
            case "demand":
                return { kind: "AverageValue", total: w.snapDemand, target: m.target };
            case "waiting":
                return m.type === "PodsAverage"
                    ? { kind: "PodsAverage", values: w.snapWaitingPerPod, missing: w.snapWaitingMissing, target: m.target }
                    : { kind: "AverageValue", total: w.snapWaiting, target: m.target };
            case "gpuUtil": {
                if (m.type === "PodsAverage") {
                    // prometheus-adapter per-pod metric: every pod holding a GPU reports; pending ones are missing.
                    const bound = w.pods.filter((p) => p.state === PodState.Starting || p.state === PodState.Ready);
                    return { kind: "PodsAverage", values: bound.map((p) => p.util), missing: w.pods.filter((p) => p.state === PodState.Pending).length, target: m.target };
                }
                // components/serving/scaling.ts: average over GPUs running vLLM x their count.
                return { kind: "AverageValue", total: w.ready.reduce((a, p) => a + p.util, 0), target: m.target };
            }
            case "history":
                return { kind: "AverageValue", total: w.snapHistory, target: m.target };
            case "warmup":
                return { kind: "AverageValue", total: w.snapWarmup, target: m.target };
            case "latencyP95":
                return m.type === "Value" ? { kind: "Value", value: w.snapLatencyP95, target: m.target } : { kind: "AverageValue", total: w.snapLatencyP95 * w.ready.length, target: m.target };
        }
    }

    hpaSync(wi: number): void {
        const s = this.s;
        const w = s.wps[wi];
        const pol = w.setup.policy;
        const current = w.desired;
        if (current === 0) return;
        const failed = this.outage();
        const fallback = this.countRead(w, failed);
        const observations = pol.metrics.map((m) => this.observe(w, m, failed, fallback));
        const batch = failed ? undefined : s.batch?.observation(wi);
        if (batch) observations.push(batch);
        // KEDA cron trigger: External AverageValue, target 1, value = desiredReplicas inside the
        // window and 0 outside (pkg/scalers/cron_scaler.go GetMetricsAndActivity at v2.20.2).
        for (const win of w.windows) observations.push({ kind: "AverageValue", total: cronMetricValue(win, s.now), target: 1 });
        const status = this.statusReplicas(w);
        const proposals = observations.map((o) => replicasForMetric(o, current, w.ready.length, pol.tolerance, status));
        const next = w.hpa.sync(s.now, current, combineProposals(proposals, current));
        if (next !== current) this.cluster.setReplicas(wi, next);
    }

    kedaPoll(wi: number): void {
        const s = this.s;
        const w = s.wps[wi];
        const pol = w.setup.policy;
        let error = this.outage();
        let active = this.windowReplicas(w, s.now) > 0;
        if (error && this.countRead(w, true)) {
            // Past the failure threshold the trigger answers with its fallback metric and counts as active.
            active = true;
            error = false;
        } else if (!error) {
            w.failedSyncs = 0;
            const lookback = pol.activityLookbackSeconds ?? s.p.activityLookbackSeconds;
            // The recent-requests trigger: active while more requests than its activationThreshold came in the look-back.
            if (lookback > 0 && isActivated(w.snapRecent, pol.activityActivation ?? 0)) active = true;
            for (const m of pol.metrics) {
                const value = m.source === "demand" ? w.snapDemand : m.source === "waiting" ? w.snapWaiting : m.source === "latencyP95" ? w.snapLatencyP95 : m.source === "history" ? w.snapHistory : m.source === "warmup" ? w.snapWarmup : 0;
                if (isActivated(value, m.activation)) active = true;
            }
            if (s.batch?.activates(wi)) active = true;
        }
        const next = kedaPoll(w.keda, { now: s.now, replicas: w.desired, minReplicas: pol.minReplicas, cooldownSeconds: pol.cooldownSeconds, active, error, fallbackReplicas: pol.fallbackReplicas });
        if (next !== undefined && next !== w.desired) this.cluster.setReplicas(wi, next);
    }
}

/** First index of a sorted array with a value > x. */
function upperBound(a: ArrayLike<number>, x: number): number {
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (a[mid] <= x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/**
 * The predictive trigger's value: `sum(rate(gateway_requests_total[window] offset
 * (lookback - lead)))`, i.e. requests per second in the window ending lookback - lead ago,
 * from the pool's arrivals (history included). 0 before any history.
 */
export function historyRate(w: WorkerPoolState, now: number): number {
    const h = w.setup.policy.history;
    if (!h) return 0;
    const a = w.arrivalsAll;
    const count = (from: number, to: number) => upperBound(a, to) - upperBound(a, from);
    const end = now - h.lookbackSeconds + h.leadSeconds;
    const n = count(end - h.windowSeconds, end);
    if (n === 0 || h.confirmSeconds === undefined) return n / h.windowSeconds;
    // components/serving/scaling.ts predictiveQuery: last week's slot counts only while last week's traffic began
    // less than confirmSeconds ago (none in the window ending confirmSeconds before that moment last week) or the
    // pool had requests in the last confirmSeconds.
    const lastWeekNow = now - h.lookbackSeconds;
    const began = count(lastWeekNow - h.confirmSeconds - h.windowSeconds, lastWeekNow - h.confirmSeconds) === 0;
    const used = count(now - h.confirmSeconds, now) > 0;
    return began || used ? n / h.windowSeconds : 0;
}
