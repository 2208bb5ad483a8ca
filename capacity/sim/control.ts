/**
 * The control loops, as deployed: Prometheus scrapes the gateway, vLLM and DCGM gauges;
 * KEDA polls its triggers (activation 0 <-> 1, cooldown, cron windows, fallback); the
 * HPA KEDA created syncs every 15 s on the same metrics (1 <-> N). They act on the
 * Deployment through Cluster.setReplicas. Metrics are what the last scrape saw, so
 * every decision lags the system by up to a scrape interval, as in a real cluster.
 */
import { WEEK_MINUTES, minuteOfWeek } from "./calendar";
import { Cluster } from "./cluster";
import { MetricObservation, combineProposals, replicasForMetric } from "./hpa";
import { isActivated, kedaPoll } from "./keda";
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
        for (const w of s.wps) {
            w.snapDemand = w.heldCount + w.inflight;
            w.snapWaiting = w.waitingTotal;
            w.snapLastArrival = w.lastArrival;
            if (s.p.queryLookbackSeconds > 0) {
                const cutoff = s.now - s.p.queryLookbackSeconds;
                w.samples = w.samples.filter((x) => x.t > cutoff);
                w.samples.push({ t: s.now, demand: w.snapDemand, waiting: w.snapWaiting });
                for (const x of w.samples) {
                    w.snapDemand = Math.max(w.snapDemand, x.demand);
                    w.snapWaiting = Math.max(w.snapWaiting, x.waiting);
                }
            }
            w.snapWaitingPerPod = w.ready.map((p) => p.waitingLive);
            w.snapWaitingMissing = w.pods.filter((p) => p.state === PodState.Pending || p.state === PodState.Starting).length;
            if (w.recent.length > 0) {
                const cutoff = s.now - s.p.latencyWindowSeconds;
                w.recent = w.recent.filter((x) => x.t > cutoff);
                w.snapLatencyP95 = w.recent.length > 0 ? quantileSorted(sortedCopy(w.recent.map((x) => x.latency)), 0.95) : 0;
            } else w.snapLatencyP95 = 0;
        }
    }

    /** DCGM_FI_DEV_GPU_UTIL per pod with a GPU: share of the interval with at least one running request. */
    dcgmScrape(): void {
        const s = this.s;
        for (const w of s.wps) {
            for (const pod of w.pods) {
                if (!pod.node) continue;
                const busy = pod.busyAccum + (pod.running.size > 0 ? s.now - pod.busySince : 0);
                const span = s.now - pod.utilMarkAt;
                pod.util = span > 0 ? Math.min(100, ((busy - pod.utilMark) / span) * 100) : 0;
                pod.utilMark = busy;
                pod.utilMarkAt = s.now;
            }
        }
    }

    windowReplicas(w: WorkerPoolState, t: number): number {
        if (w.windows.length === 0) return 0;
        const m = minuteOfWeek(t, this.s.trace.startWeekday) % WEEK_MINUTES;
        let r = 0;
        for (const win of w.windows) if (win.table[m]) r = Math.max(r, win.replicas);
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
        w.failedSyncs = failed ? w.failedSyncs + 1 : 0;
        const fallback = pol.controller === "keda" && pol.fallbackReplicas > 0 && w.failedSyncs >= s.p.fallbackFailureThreshold;
        const observations = pol.metrics.map((m) => this.observe(w, m, failed, fallback));
        // KEDA cron trigger: External AverageValue, target 1, value = window replicas inside, 1 outside.
        const minute = minuteOfWeek(s.now, s.trace.startWeekday) % WEEK_MINUTES;
        for (const win of w.windows) observations.push({ kind: "AverageValue", total: win.table[minute] === 1 ? win.replicas : 1, target: 1 });
        const proposals = observations.map((o) => replicasForMetric(o, current, w.ready.length, pol.tolerance));
        const next = w.hpa.sync(s.now, current, combineProposals(proposals, current));
        if (next !== current) this.cluster.setReplicas(wi, next);
    }

    kedaPoll(wi: number): void {
        const s = this.s;
        const w = s.wps[wi];
        const pol = w.setup.policy;
        const error = this.outage();
        let active = this.windowReplicas(w, s.now) > 0;
        if (!error) {
            const lookback = pol.activityLookbackSeconds ?? s.p.activityLookbackSeconds;
            if (lookback > 0 && s.now - w.snapLastArrival < lookback) active = true;
            for (const m of pol.metrics) {
                const value = m.source === "demand" ? w.snapDemand : m.source === "waiting" ? w.snapWaiting : m.source === "latencyP95" ? w.snapLatencyP95 : 0;
                if (isActivated(value, m.activation)) active = true;
            }
        }
        const next = kedaPoll(w.keda, { now: s.now, replicas: w.desired, minReplicas: pol.minReplicas, cooldownSeconds: pol.cooldownSeconds, active, error, fallbackReplicas: pol.fallbackReplicas });
        if (next !== undefined && next !== w.desired) this.cluster.setReplicas(wi, next);
    }
}
