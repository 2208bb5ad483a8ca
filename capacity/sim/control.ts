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
import { kedaReads, triggerValue } from "./triggers";

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

    /**
     * Prometheus scrapes the gateway and the pool's vLLM workers (ServiceMonitor interval): the
     * samples go to each pool's series (exported.ts), which is all the triggers read.
     */
    scrape(): void {
        const s = this.s;
        if (this.outage()) return; // Prometheus is unreachable: no samples, queries fail (hpaSync, kedaPoll)
        s.rec?.events.push({ t: s.now, kind: "scrape" });
        s.wps.forEach((w, wi) => {
            let warmup = 0;
            for (const x of w.warmups) if (s.now >= x.from && s.now < x.until) warmup += x.replicas;
            w.series.scrape({
                t: s.now,
                queueDepth: w.heldCount,
                inflight: w.inflight,
                warmupReplicas: warmup,
                batchBacklog: s.batch?.waiting(wi) ?? 0,
                ...(w.inSession ? { timetableSession: w.inSession(s.now) ? 1 : 0 } : {}),
                pods: w.ready.map((p) => p.seq),
                waiting: w.ready.map((p) => p.waitingLive),
            });
            // The reference policy's per-pod metric (prometheus-adapter): pods not running vLLM yet have none.
            w.snapWaitingPerPod = w.ready.map((p) => p.waitingLive);
            w.snapWaitingMissing = w.pods.filter((p) => p.state === PodState.Pending || p.state === PodState.Starting).length;
        });
    }

    /**
     * DCGM_FI_DEV_GPU_UTIL per pod with a GPU: a point sample, not an average over the scrape
     * interval (facts.md: "DCGM_FI_DEV_GPU_UTIL is a point sample (<= 1 s window)"; NVIDIA
     * DCGM field docs: "GPU utilization", sampled by the driver over its last short period).
     * A GPU with a request running reads 100 %, an idle one 0 %.
     */
    dcgmScrape(): void {
        const s = this.s;
        if (this.outage()) return;
        s.rec?.events.push({ t: s.now, kind: "dcgmScrape" });
        for (const w of s.wps) {
            const util = new Map<number, number>();
            for (const pod of w.pods) {
                if (!pod.node) continue;
                pod.util = pod.running.size > 0 ? 100 : 0;
                util.set(pod.seq, pod.util);
            }
            w.series.dcgm = { t: s.now, util };
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

    /**
     * The HPA's reading of one metric. KEDA's triggers are External AverageValue metrics whose
     * value is the trigger query's (triggers.ts; NaN read as 0 by KEDA); the reference policy's
     * per-pod metrics come from the pods themselves (prometheus-adapter).
     */
    private observe(w: WorkerPoolState, m: MetricSpec, value: number, failed: boolean, fallback: boolean): MetricObservation {
        const pol = w.setup.policy;
        if (failed) {
            // KEDA's fallback (behavior currentReplicasIfHigher, components/serving/scaling.ts) answers the HPA
            // with max(current, fallbackReplicas) x target after the failure threshold: an outage never shrinks a pool.
            if (fallback && m.type === "AverageValue")
                return { kind: "AverageValue", total: Math.max(w.desired, pol.fallbackReplicas) * m.target, target: m.target };
            return { kind: "Failed" };
        }
        if (m.type === "PodsAverage") {
            if (m.source === "waiting") return { kind: "PodsAverage", values: w.snapWaitingPerPod, missing: w.snapWaitingMissing, target: m.target };
            // Every pod holding a GPU reports its DCGM utilization; pending ones are missing.
            const bound = w.pods.filter((p) => p.state === PodState.Starting || p.state === PodState.Ready);
            return {
                kind: "PodsAverage",
                values: bound.map((p) => p.util),
                missing: w.pods.filter((p) => p.state === PodState.Pending).length,
                target: m.target,
            };
        }
        return m.type === "Value" ? { kind: "Value", value, target: m.target } : { kind: "AverageValue", total: value, target: m.target };
    }

    /** Every trigger's value at the current time, as KEDA reads it (NaN as 0), recorded when asked. */
    private readTriggers(w: WorkerPoolState): number[] {
        const pol = w.setup.policy;
        return pol.metrics.map((m) => (m.type === "PodsAverage" ? NaN : kedaReads(triggerValue(m, pol, w.series, this.s.now))));
    }

    private readings(metrics: readonly MetricSpec[], values: readonly number[], activated?: readonly boolean[]) {
        return metrics.map((m, k) => ({ trigger: m.trigger ?? m.source, value: values[k], ...(activated ? { active: activated[k] } : {}) }));
    }

    hpaSync(wi: number): void {
        const s = this.s;
        const w = s.wps[wi];
        const pol = w.setup.policy;
        const current = w.desired;
        if (current === 0) return;
        const failed = this.outage();
        const fallback = this.countRead(w, failed);
        const values = failed ? pol.metrics.map(() => NaN) : this.readTriggers(w);
        const observations = pol.metrics.map((m, k) => this.observe(w, m, values[k], failed, fallback));
        // KEDA cron trigger: External AverageValue, target 1, value = desiredReplicas inside the
        // window and 0 outside (pkg/scalers/cron_scaler.go GetMetricsAndActivity at v2.20.2).
        const cron = w.windows.map((win) => cronMetricValue(win, s.now));
        for (const v of cron) observations.push({ kind: "AverageValue", total: v, target: 1 });
        if (s.rec && !failed)
            s.rec.evaluations.push({
                t: s.now,
                pool: wi,
                loop: "hpa",
                readings: [...this.readings(pol.metrics, values), ...cron.map((v, i) => ({ trigger: w.windows[i].name, value: v }))],
            });
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
            const values = this.readTriggers(w);
            const activated = pol.metrics.map((m, k) => isActivated(values[k], m.activation));
            if (activated.some((a) => a)) active = true;
            if (s.rec) {
                const cron = w.windows.map((win) => ({ trigger: win.name, value: cronMetricValue(win, s.now), active: cronMetricValue(win, s.now) > 0 }));
                s.rec.evaluations.push({ t: s.now, pool: wi, loop: "keda", readings: [...this.readings(pol.metrics, values, activated), ...cron] });
            }
        }
        const next = kedaPoll(w.keda, {
            now: s.now,
            replicas: w.desired,
            minReplicas: pol.minReplicas,
            cooldownSeconds: pol.cooldownSeconds,
            active,
            error,
            fallbackReplicas: pol.fallbackReplicas,
        });
        if (next !== undefined && next !== w.desired) this.cluster.setReplicas(wi, next);
    }
}
