/**
 * The HPA algorithm against the worked examples of the Kubernetes HPA documentation
 * (kubernetes.io, "Horizontal Pod Autoscaling": algorithm details, scaling policies,
 * stabilization window, default behavior) and the replica calculator's rules.
 */
import * as assert from "assert";
import { HpaBehavior, HpaController, combineProposals, replicasForMetric } from "../../capacity/sim/hpa";
import { K8S_DEFAULT_BEHAVIOR } from "../../capacity/sim/policy";
import { HPA_BEHAVIOR, HPA_TOLERANCE } from "../../stacks/scalePolicy";

const pods = (values: number[], target: number, missing = 0) => ({ kind: "PodsAverage" as const, values, missing, target });

describe("replicasForMetric", () => {
    it("doubles the replicas when the metric is twice the target (docs: 200m current, 100m desired)", () => {
        assert.strictEqual(replicasForMetric(pods([200, 200], 100), 2, 2, HPA_TOLERANCE), 4);
    });

    it("halves the replicas when the metric is half the target (docs: 50m current, 100m desired)", () => {
        assert.strictEqual(replicasForMetric(pods([50, 50, 50, 50], 100), 4, 4, HPA_TOLERANCE), 2);
    });

    it("skips scaling while the ratio is within the 0.1 tolerance, and scales just outside it", () => {
        assert.strictEqual(replicasForMetric(pods([109, 109, 109], 100), 3, 3, HPA_TOLERANCE), 3);
        assert.strictEqual(replicasForMetric(pods([91, 91, 91], 100), 3, 3, HPA_TOLERANCE), 3);
        assert.strictEqual(replicasForMetric(pods([112, 112, 112], 100), 3, 3, HPA_TOLERANCE), 4);
    });

    it("computes External AverageValue as ceil(total / target) regardless of ready pods (KEDA triggers)", () => {
        assert.strictEqual(replicasForMetric({ kind: "AverageValue", total: 13, target: 4 }, 1, 0, HPA_TOLERANCE), 4);
        assert.strictEqual(replicasForMetric({ kind: "AverageValue", total: 0, target: 4 }, 3, 3, HPA_TOLERANCE), 0);
        // 4.3 / (4 x 1) = 1.075: inside the tolerance, so no change.
        assert.strictEqual(replicasForMetric({ kind: "AverageValue", total: 4.3, target: 4 }, 1, 1, HPA_TOLERANCE), 1);
    });

    it("counts pods without a sample as 0 on a scale-up and keeps the count when that flips the direction", () => {
        // One busy pod at 100 % (target 70) and two pending: (100 + 0 + 0) / 3 = 33 % < 70 %: no scale-up.
        assert.strictEqual(replicasForMetric(pods([100], 70, 2), 3, 1, HPA_TOLERANCE), 3);
        // With one pending: (100 + 0) / 2 = 50 %, still below: no change either.
        assert.strictEqual(replicasForMetric(pods([100], 70, 1), 2, 1, HPA_TOLERANCE), 2);
        // Two pods at 100 %, one pending: 200 / 3 = 66.7 % is within tolerance of 70 %: no change.
        assert.strictEqual(replicasForMetric(pods([100, 100], 70, 1), 3, 2, HPA_TOLERANCE), 3);
    });

    it("counts pods without a sample at the target on a scale-down", () => {
        // (10 + 10 + 70) / 3 = 30 % of 70 % -> ceil(0.43 x 3) = 2 (without the fill it would be 1).
        assert.strictEqual(replicasForMetric(pods([10, 10], 70, 1), 3, 2, HPA_TOLERANCE), 2);
        assert.strictEqual(replicasForMetric(pods([10, 10], 70, 0), 2, 2, HPA_TOLERANCE), 1);
    });

    it("scales a Value metric on ready pods only", () => {
        assert.strictEqual(replicasForMetric({ kind: "Value", value: 10, target: 5 }, 3, 2, HPA_TOLERANCE), 4);
        assert.strictEqual(replicasForMetric({ kind: "Failed" }, 3, 2, HPA_TOLERANCE), undefined);
    });
});

describe("combineProposals", () => {
    it("takes the highest proposal of several metrics (docs: the largest wins)", () => {
        assert.strictEqual(combineProposals([2, 5, 3], 3), 5);
    });

    it("still scales up when one metric fails, but never down", () => {
        assert.strictEqual(combineProposals([6, undefined], 3), 6);
        assert.strictEqual(combineProposals([1, undefined], 3), undefined);
        assert.strictEqual(combineProposals([undefined, undefined], 3), undefined);
    });
});

/** Runs syncs every 15 s with a constant desired count; returns the replicas after each sync. */
function run(hpa: HpaController, start: number, desired: number, syncs: number, t0 = 0): number[] {
    const out: number[] = [];
    let current = start;
    for (let k = 0; k < syncs; k++) {
        current = hpa.sync(t0 + k * 15, current, desired);
        out.push(current);
    }
    return out;
}

describe("HpaController", () => {
    it("scales up by the larger of 100 % and 4 pods every 15 s by default (docs: default behavior)", () => {
        const hpa = new HpaController(K8S_DEFAULT_BEHAVIOR, 1, 100);
        assert.deepStrictEqual(run(hpa, 1, 100, 7), [5, 10, 20, 40, 80, 100, 100]);
    });

    it("reproduces the docs' scale-down policy example: 80 -> 10 with Pods 4/60 s and Percent 10/60 s", () => {
        const behavior: HpaBehavior = {
            scaleUp: K8S_DEFAULT_BEHAVIOR.scaleUp,
            scaleDown: {
                stabilizationWindowSeconds: 300,
                selectPolicy: "Max",
                policies: [
                    { type: "Pods", value: 4, periodSeconds: 60 },
                    { type: "Percent", value: 10, periodSeconds: 60 },
                ],
            },
        };
        const hpa = new HpaController(behavior, 1, 100);
        const trace = run(hpa, 80, 10, 60);
        // One change per 60 s period (every 4th sync), never more.
        const changes = trace.map((r, k) => ({ k, r, prev: k === 0 ? 80 : trace[k - 1] })).filter((x) => x.r !== x.prev);
        changes.forEach((c, i) => assert.strictEqual(c.k, i * 4, `change ${i} at sync ${c.k}`));
        const steps = changes.map((c) => c.prev - c.r);
        // "during the first step 8 replicas will be reduced. In the next iteration when the number of
        // replicas is 72, 10 % of the pods is 7.2 but the number is rounded up to 8".
        assert.deepStrictEqual(steps.slice(0, 2), [8, 8]);
        // "When the number of replicas falls below 40 the first policy (Pods) is applied and 4 replicas will be reduced at a time."
        for (const c of changes.filter((c) => c.prev <= 40 && c.r > 10)) assert.strictEqual(c.prev - c.r, 4);
        assert.strictEqual(trace[trace.length - 1], 10);
    });

    it("holds the highest recommendation of the last 300 s before scaling down (stabilization window)", () => {
        const hpa = new HpaController(K8S_DEFAULT_BEHAVIOR, 1, 100);
        let current = 10;
        current = hpa.sync(0, current, 10);
        const seen: number[] = [];
        for (let t = 15; t <= 330; t += 15) {
            current = hpa.sync(t, current, 2);
            seen.push(current);
        }
        // The recommendation of 10 at t = 0 leaves the window after 300 s: 10 until then, 2 at t = 300.
        assert.deepStrictEqual(seen.slice(0, 19), new Array(19).fill(10));
        assert.strictEqual(seen[19], 2); // t = 300: the t = 0 sample is no longer after the cutoff
    });

    it("scales up at once: no scale-up stabilization by default", () => {
        const hpa = new HpaController(K8S_DEFAULT_BEHAVIOR, 1, 10);
        assert.strictEqual(hpa.sync(0, 2, 3), 3);
    });

    it("does nothing at 0 replicas (KEDA owns 0 <-> 1) and brings the count inside [min, max]", () => {
        const hpa = new HpaController(K8S_DEFAULT_BEHAVIOR, 2, 5);
        assert.strictEqual(hpa.sync(0, 0, 4), 0);
        assert.strictEqual(hpa.sync(15, 1, undefined), 2);
        assert.strictEqual(hpa.sync(30, 9, 9), 5);
        assert.strictEqual(hpa.sync(45, 3, undefined), 3);
    });

    it("applies our policy: down at most one pod per 120 s once the 300 s window has passed", () => {
        const hpa = new HpaController(HPA_BEHAVIOR, 1, 10);
        const trace = run(hpa, 4, 1, 60);
        const changeTimes = trace.map((r, k) => ({ r, t: k * 15, prev: k === 0 ? 4 : trace[k - 1] })).filter((x) => x.r !== x.prev);
        assert.deepStrictEqual(
            changeTimes.map((c) => c.prev - c.r),
            [1, 1, 1],
        );
        for (let i = 1; i < changeTimes.length; i++) assert.ok(changeTimes[i].t - changeTimes[i - 1].t >= 120);
    });
});
