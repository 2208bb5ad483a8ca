/**
 * The Horizontal Pod Autoscaler's algorithm, as kube-controller-manager runs it
 * (pkg/controller/podautoscaler: replica_calculator.go and horizontal.go), for the
 * metric kinds our policies use. Pure and deterministic, so the worked examples of the
 * HPA documentation can be replayed as tests.
 *
 * - External AverageValue (KEDA triggers): desired = ceil(sum / target), unless
 *   |sum / (target * statusReplicas) - 1| <= tolerance, then statusReplicas
 *   (replica_calculator.go GetExternalPerPodMetricReplicas: it divides by the scale
 *   subresource's status.replicas, the pods that exist and are not terminating, not by
 *   spec.replicas).
 * - External Value: ratio = value / target; desired = ceil(ratio * readyPods).
 * - Pods average (prometheus-adapter per-pod metrics): desired = ceil(ratio * podsWithMetrics);
 *   pods without a sample yet (pending) count as 0 on a scale-up and as the target on a
 *   scale-down, and a recount that flips the direction keeps the current count.
 * - Several metrics: the highest proposal wins; if a metric fails, the HPA still scales
 *   up on the others but never down.
 * - Behavior: stabilization (scale-up: lowest recommendation in its window, scale-down:
 *   highest), then rate policies against the replica count at the start of each policy's
 *   period; selectPolicy Max picks the policy allowing the biggest change.
 */
import { HpaPolicy, HpaRules } from "../../stacks/scalePolicy";

export interface HpaBehavior {
    readonly scaleUp: HpaRules;
    readonly scaleDown: HpaRules;
}

export type MetricObservation =
    | { readonly kind: "AverageValue"; readonly total: number; readonly target: number }
    | { readonly kind: "Value"; readonly value: number; readonly target: number }
    | { readonly kind: "PodsAverage"; readonly values: readonly number[]; readonly missing: number; readonly target: number }
    /** The metric could not be read (Prometheus down, no pods with samples). */
    | { readonly kind: "Failed" };

/**
 * Desired replicas for one metric; undefined when it cannot be computed. `statusReplicas`
 * (default `current`): the Deployment's status.replicas, which External AverageValue uses.
 */
export function replicasForMetric(m: MetricObservation, current: number, readyPods: number, tolerance: number, statusReplicas = current): number | undefined {
    switch (m.kind) {
        case "AverageValue": {
            const ratio = m.total / (m.target * statusReplicas);
            return Math.abs(1 - ratio) > tolerance ? Math.ceil(m.total / m.target) : statusReplicas;
        }
        case "Value": {
            const ratio = m.value / m.target;
            if (current === 0) return Math.ceil(ratio);
            return Math.abs(1 - ratio) <= tolerance ? current : Math.ceil(ratio * readyPods);
        }
        case "PodsAverage":
            return podsAverageReplicas(m.values, m.missing, m.target, current, tolerance);
        case "Failed":
            return undefined;
    }
}

function podsAverageReplicas(values: readonly number[], missing: number, target: number, current: number, tolerance: number): number | undefined {
    if (values.length === 0) return undefined; // "did not receive metrics for any ready pods"
    const sum = values.reduce((a, b) => a + b, 0);
    const ratio = sum / values.length / target;
    if (missing === 0) {
        return Math.abs(1 - ratio) <= tolerance ? current : Math.ceil(ratio * values.length);
    }
    const fill = ratio < 1 ? target : 0;
    const n = values.length + missing;
    const newRatio = (sum + fill * missing) / n / target;
    if (Math.abs(1 - newRatio) <= tolerance || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1)) return current;
    const proposal = Math.ceil(newRatio * n);
    if ((newRatio < 1 && proposal > current) || (newRatio > 1 && proposal < current)) return current;
    return proposal;
}

/**
 * Combines metric proposals: max of the valid ones. Returns undefined (no scaling this
 * sync) when every metric failed, or when one failed and the rest would scale down.
 */
export function combineProposals(proposals: readonly (number | undefined)[], current: number): number | undefined {
    const valid = proposals.filter((p): p is number => p !== undefined);
    if (valid.length === 0) return undefined;
    const best = Math.max(...valid);
    if (valid.length < proposals.length && best < current) return undefined;
    return best;
}

interface Timestamped {
    readonly t: number;
    readonly v: number;
}

/** One HPA object's memory (recommendations, scale events) and its normalization step. */
export class HpaController {
    private recommendations: Timestamped[] = [];
    private upEvents: Timestamped[] = [];
    private downEvents: Timestamped[] = [];

    constructor(
        readonly behavior: HpaBehavior,
        readonly minReplicas: number,
        readonly maxReplicas: number,
    ) {}

    /**
     * One sync: `desired` is the combined metric proposal (undefined: metrics failed).
     * Returns the replica count to set (equal to current when nothing changes).
     */
    sync(now: number, current: number, desired: number | undefined): number {
        if (current === 0) return 0; // scaling disabled at zero: KEDA owns 0 <-> 1
        let proposal: number;
        if (current > this.maxReplicas) proposal = this.maxReplicas;
        else if (current < this.minReplicas) proposal = this.minReplicas;
        else if (desired === undefined) return current;
        else proposal = this.normalize(now, current, desired);
        if (proposal !== current) this.record(now, current, proposal);
        return proposal;
    }

    private normalize(now: number, current: number, desired: number): number {
        const stabilized = this.stabilize(now, current, desired);
        return this.rateLimit(now, current, stabilized);
    }

    private stabilize(now: number, current: number, desired: number): number {
        const upCutoff = now - this.behavior.scaleUp.stabilizationWindowSeconds;
        const downCutoff = now - this.behavior.scaleDown.stabilizationWindowSeconds;
        let up = desired;
        let down = desired;
        for (const r of this.recommendations) {
            if (r.t > upCutoff) up = Math.min(up, r.v);
            if (r.t > downCutoff) down = Math.max(down, r.v);
        }
        const keep = Math.min(upCutoff, downCutoff);
        this.recommendations = this.recommendations.filter((r) => r.t >= keep);
        this.recommendations.push({ t: now, v: desired });
        let rec = current;
        if (rec < up) rec = up;
        if (rec > down) rec = down;
        return rec;
    }

    private rateLimit(now: number, current: number, desired: number): number {
        if (desired > current) {
            let limit = scaleUpLimit(now, current, this.upEvents, this.downEvents, this.behavior.scaleUp);
            if (limit < current) limit = current;
            return Math.min(desired, Math.min(this.maxReplicas, limit));
        }
        if (desired < current) {
            let limit = scaleDownLimit(now, current, this.upEvents, this.downEvents, this.behavior.scaleDown);
            if (limit > current) limit = current;
            return Math.max(desired, Math.max(this.minReplicas, limit));
        }
        return desired;
    }

    private record(now: number, from: number, to: number): void {
        const horizon = now - 1800; // periodSeconds is at most 1800
        this.upEvents = this.upEvents.filter((e) => e.t > horizon);
        this.downEvents = this.downEvents.filter((e) => e.t > horizon);
        if (to > from) this.upEvents.push({ t: now, v: to - from });
        else this.downEvents.push({ t: now, v: from - to });
    }
}

function changeInPeriod(now: number, period: number, events: readonly Timestamped[]): number {
    const cutoff = now - period;
    let sum = 0;
    for (const e of events) if (e.t > cutoff) sum += e.v;
    return sum;
}

function periodStart(now: number, current: number, p: HpaPolicy, up: readonly Timestamped[], down: readonly Timestamped[]): number {
    return current - changeInPeriod(now, p.periodSeconds, up) + changeInPeriod(now, p.periodSeconds, down);
}

function scaleUpLimit(now: number, current: number, up: readonly Timestamped[], down: readonly Timestamped[], rules: HpaRules): number {
    let result = rules.selectPolicy === "Min" ? Infinity : -Infinity;
    for (const p of rules.policies) {
        const start = periodStart(now, current, p, up, down);
        const proposed = p.type === "Pods" ? start + p.value : Math.ceil(start * (1 + p.value / 100));
        result = rules.selectPolicy === "Min" ? Math.min(result, proposed) : Math.max(result, proposed);
    }
    return result;
}

function scaleDownLimit(now: number, current: number, up: readonly Timestamped[], down: readonly Timestamped[], rules: HpaRules): number {
    let result = rules.selectPolicy === "Min" ? -Infinity : Infinity;
    for (const p of rules.policies) {
        const start = periodStart(now, current, p, up, down);
        const proposed = p.type === "Pods" ? start - p.value : Math.trunc(start * (1 - p.value / 100));
        result = rules.selectPolicy === "Min" ? Math.max(result, proposed) : Math.min(result, proposed);
    }
    return result;
}
