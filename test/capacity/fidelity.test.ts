/**
 * Simulator fidelity: one test per upstream rule the simulator follows, each naming the
 * upstream file (and tag) it was checked against.
 */
import * as assert from "assert";
import { simulateStack } from "../../capacity/sim";
import { replicasForMetric } from "../../capacity/sim/hpa";
import { fallbackActive, kedaPoll } from "../../capacity/sim/keda";
import { compileCron, cronMetricValue } from "../../capacity/sim/cron";
import { warmWindowTriggers } from "../../stacks/cronTriggers";
import { fixedService, oneStack } from "./helpers";

describe("simulator fidelity (upstream rules)", function () {
    this.timeout(60000);

    // kedacore/keda v2.20.2 pkg/fallback/fallback.go GetMetricsWithFallback:
    // `case *healthStatus.NumberOfFailures > scaledObject.Spec.Fallback.FailureThreshold: return doFallback(...)`.
    it("KEDA fallback: applies only when consecutive failures are strictly above failureThreshold (pkg/fallback/fallback.go@v2.20.2)", () => {
        assert.strictEqual(fallbackActive(3, 3, 1), false);
        assert.strictEqual(fallbackActive(4, 3, 1), true);
        assert.strictEqual(fallbackActive(10, 3, 0), false); // replicas 0: the stack's "no fallback"
    });

    // kedacore/keda v2.20.2 pkg/scaling/scale_handler.go getScalerState: `isActiveOrFallback := fallbackActive || isMetricActive`
    // and pkg/scaling/executor/scale_scaledobjects.go RequestScale: active at 0 replicas -> scaleFromZeroOrIdle.
    it("KEDA >= 2.19: a trigger on fallback is active, so KEDA scales a pool at zero up during a metrics outage (pkg/scaling/executor/scale_scaledobjects.go@v2.20.2)", () => {
        const state = { lastActive: -Infinity };
        // The simulator passes active = true once fallbackActive() holds; RequestScale then scales 0 -> max(min, 1).
        assert.strictEqual(
            kedaPoll(state, {
                now: 100,
                replicas: 0,
                minReplicas: 0,
                cooldownSeconds: 300,
                active: fallbackActive(4, 3, 2),
                error: false,
                fallbackReplicas: 2,
            }),
            1,
        );
        // Through the whole loop: no traffic at all, Prometheus down for an hour -> the pool wakes and runs fallback.replicas.
        const sim = simulateStack(oneStack({ scaling: { fallbackReplicas: 2 } }), {
            days: 1,
            params: { metricOutages: [{ min: 3600, max: 7200 }], timeseries: true },
        });
        const desired = sim.result.series!.perWorkerPool[0].desired;
        assert.strictEqual(desired[50], 0);
        assert.strictEqual(desired[100], 2);
        assert.strictEqual(desired[180], 0); // back to zero after the outage and the cooldown
    });

    // kedacore/keda v2.20.2 pkg/scalers/cron_scaler.go GetMetricsAndActivity: `metricValue := float64(0); if isWithinInterval { metricValue = DesiredReplicas }`.
    it("KEDA cron trigger: its metric is 0 outside the window, not 1 (pkg/scalers/cron_scaler.go@v2.20.2)", () => {
        // Day 0 is a Monday.
        const win = compileCron(warmWindowTriggers([{ days: "1-5", start: "08:00", end: "09:00", replicas: 3 }], "UTC")[0], { startWeekday: 1, days: 7 });
        assert.strictEqual(cronMetricValue(win, (8 * 60 + 30) * 60), 3); // Monday 08:30
        assert.strictEqual(cronMetricValue(win, 12 * 3600), 0); // Monday 12:00
        // The HPA reads 0 as "no replicas wanted": ceil(0 / 1) = 0, below any other trigger's proposal.
        assert.strictEqual(replicasForMetric({ kind: "AverageValue", total: cronMetricValue(win, 12 * 3600), target: 1 }, 3, 3, 0.1), 0);
    });

    // kubernetes/kubernetes pkg/controller/podautoscaler/replica_calculator.go GetExternalPerPodMetricReplicas(statusReplicas, ...):
    // `replicaCount = statusReplicas; usageRatio := usage / (targetUsagePerPod * replicaCount)`; horizontal.go passes the scale's status.replicas.
    it("HPA External AverageValue divides by status.replicas (pods that exist), not spec.replicas (replica_calculator.go)", () => {
        // spec 4, 3 pods exist (one just deleted, terminating); total 13 at target 4: 13 / (4 * 3) = 1.08, within the
        // 0.1 tolerance of status -> status (3). Against spec, 13 / 16 = 0.81 would be outside and give ceil(13 / 4) = 4.
        assert.strictEqual(replicasForMetric({ kind: "AverageValue", total: 13, target: 4 }, 4, 3, 0.1, 3), 3);
        assert.strictEqual(replicasForMetric({ kind: "AverageValue", total: 13, target: 4 }, 4, 3, 0.1, 4), 4);
    });

    // NVIDIA DCGM: DCGM_FI_DEV_GPU_UTIL is the driver's utilization over its last short sample period (<= 1 s), a point
    // sample, not an average over the 15 s scrape interval (facts.md "vLLM"; dcgm-exporter 4.8.2 default counters).
    it("DCGM GPU utilization is a point sample: a GPU busy at the scrape reads 100 %, whatever the rest of the interval", () => {
        // One request of 1 s every 4 s (25 % busy on average): the 15 s-average reading is 25 %, a point sample is 0 or 100.
        const config = oneStack({
            scaling: { minReplicas: 1, maxReplicas: 4, gpuUtilizationPercent: 70 },
            traffic: { profile: "hourly", hourly: [{ days: "0-6", rates: new Array(24).fill(900) }], service: fixedService(1, 1), imageShare: 1 },
        });
        const sim = simulateStack(config, { days: 1, params: { timeseries: true } });
        // With averaged 25 % the GPU trigger (70 %) never scales above 1; point samples of 100 % at ~25 % of scrapes push it up at times.
        assert.ok(sim.result.workerPools[0].peakReplicas > 1, `peak ${sim.result.workerPools[0].peakReplicas}`);
    });
});
