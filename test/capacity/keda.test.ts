/**
 * KEDA's activation semantics (0 <-> 1, cooldown, fallback, cron windows), first as the
 * pure poll function, then through the whole simulated loop: scrape -> poll -> replicas
 * -> Cluster Autoscaler -> node -> pod -> first answer.
 */
import * as assert from "assert";
import { hhmmToMinutes } from "../../stacks/calendar/clock";
import { compileCron } from "../../capacity/sim/cron";
import { warmWindowTriggers } from "../../stacks/cronTriggers";
import { simulateStack } from "../../capacity/sim";
import { isActivated, kedaPoll } from "../../capacity/sim/keda";
import { restartSeconds } from "../../capacity/bounds/clairvoyant";
import { ACTIVATION_DEMAND } from "../../stacks/scalePolicy";
import { UNOPTIMIZED, csvTrace, fixedService, oneStack } from "./helpers";

const poll = (over: Partial<Parameters<typeof kedaPoll>[1]> & { lastActive?: number }) => {
    const state = { lastActive: over.lastActive ?? -Infinity };
    const next = kedaPoll(state, { now: 1000, replicas: 0, minReplicas: 0, cooldownSeconds: 300, active: false, error: false, fallbackReplicas: 1, ...over });
    return { next, lastActive: state.lastActive };
};

describe("kedaPoll", () => {
    it("activates on demand strictly above the activation threshold (any held or in-flight request)", () => {
        assert.strictEqual(isActivated(0, ACTIVATION_DEMAND), false);
        assert.strictEqual(isActivated(1, ACTIVATION_DEMAND), true);
    });

    it("scales 0 -> 1 on an active poll, or to minReplicaCount when that is higher", () => {
        assert.deepStrictEqual(poll({ active: true }), { next: 1, lastActive: 1000 });
        assert.strictEqual(poll({ active: true, minReplicas: 3 }).next, 3);
    });

    it("leaves 1..N to the HPA while active and only remembers the time", () => {
        assert.deepStrictEqual(poll({ active: true, replicas: 4 }), { next: undefined, lastActive: 1000 });
    });

    it("scales to 0 only once lastActiveTime + cooldownPeriod is strictly in the past", () => {
        assert.strictEqual(poll({ replicas: 2, lastActive: 700 }).next, undefined); // 700 + 300 = now
        assert.strictEqual(poll({ replicas: 2, lastActive: 699 }).next, 0);
    });

    it("never goes below minReplicaCount > 0, and restores it", () => {
        assert.strictEqual(poll({ replicas: 2, minReplicas: 1, lastActive: 0 }).next, undefined);
        assert.strictEqual(poll({ replicas: 0, minReplicas: 1 }).next, 1);
    });

    it("does nothing while a trigger errors, with a fallback set or without one (RequestScale: TriggerError), even at 0 replicas", () => {
        assert.strictEqual(poll({ replicas: 3, error: true, lastActive: 0 }).next, undefined);
        assert.strictEqual(poll({ replicas: 0, error: true }).next, undefined);
        // fallbackReplicas 0: the stack emits no fallback block; a busy pool is not cooled to zero during an outage.
        assert.strictEqual(poll({ replicas: 3, error: true, fallbackReplicas: 0, lastActive: 0 }).next, undefined);
    });
});

describe("warm windows as KEDA cron triggers (capacity/sim/cron.ts)", () => {
    const win = (days: string, start: string, end: string) =>
        compileCron(warmWindowTriggers([{ days, start, end, replicas: 1 }], "UTC")[0], { startWeekday: 1, days: 14 });
    /** Second of the first week (day 0 is a Monday) at a weekday (cron numbering) and time. */
    const at = (weekday: number, hhmm: string) => (((weekday + 6) % 7) * 1440 + hhmmToMinutes(hhmm)) * 60 + 30;

    it("is active from the start minute to the minute before the end, on the listed days only", () => {
        const w = win("1-5", "08:00", "18:00");
        assert.deepStrictEqual(
            ["07:59", "08:00", "17:59", "18:00"].map((h) => w.activeAt(at(1, h))),
            [false, true, true, false],
        );
        assert.strictEqual(w.activeAt(at(6, "12:00")), false);
        assert.strictEqual(w.activeAt(at(0, "12:00")), false);
        let minutes = 0;
        for (let m = 0; m < 7 * 1440; m++) if (w.activeAt(m * 60 + 30)) minutes++;
        assert.strictEqual(minutes, 5 * 600);
    });

    it("keeps a window that crosses midnight on Friday open until Monday's end, like KEDA with the same crons", () => {
        const w = win("1-5", "22:00", "06:00");
        assert.strictEqual(w.activeAt(at(1, "05:59") + 7 * 86400), true); // from Friday 22:00
        assert.strictEqual(w.activeAt(at(1, "06:00") + 7 * 86400), false);
        assert.strictEqual(w.activeAt(at(6, "12:00")), true);
        assert.strictEqual(w.activeAt(at(3, "21:59")), false);
        assert.strictEqual(w.activeAt(at(3, "22:00")), true);
    });
});

describe("activation through the simulated loop", () => {
    // An unoptimized stack with fixed draws, so the cold-start chain is exact: the autoscaler's GPU buffer 30
    // + AL2023 boot 120 + device plugin 10 after Ready (its 90 s from launch are inside the boot) + pull 300
    // + vLLM (4.3 GiB x (3.7 + 2.0) s/GiB + process start 24 + profiling 9.6 + uncached compile 200) + routable 11.
    const params = { nodeBootSeconds: { min: 120, max: 120 }, imagePullUncachedSeconds: { min: 300, max: 300 } };
    const provisioning = 120 + 10 + 300 + 4.3 * 5.7 + 24 + 9.6 + 200 + 11;
    const chain = 30 + provisioning;
    const oneRequest = (extra: Record<string, unknown> = {}) => {
        const { root, file } = csvTrace(["1000,image"]);
        return {
            root,
            config: oneStack({
                ...UNOPTIMIZED,
                gateway: { maxWaitSeconds: 3600 },
                traffic: { profile: "csv", csvFile: file, service: fixedService(1, 4) },
                ...extra,
            }),
        };
    };

    it("wakes a pool at zero within one scrape, one poll and one autoscaler scan, then pays the whole cold start", () => {
        const { root, config } = oneRequest();
        const sim = simulateStack(config, { root, params });
        const w = sim.result.workerPools[0];
        assert.strictEqual(w.answered, 1);
        assert.strictEqual(w.coldStarts, 1);
        const held = sim.result.completion[0] - 1000 - 1;
        assert.ok(held >= chain - 1e-6, `held ${held} < chain ${chain}`);
        assert.ok(held <= chain + 15 + 15 + 10 + 1e-6, `held ${held} > chain + scrape + poll + scan`);
        assert.deepStrictEqual(w.timeToFirstAnswer, [held + 1]);
    });

    it("holds the pool while its recent requests expect another within a restart, then cools down; the autoscaler removes the node after its unneeded time", () => {
        const { root, config } = oneRequest();
        const sim = simulateStack(config, { root, params });
        const node = sim.result.gpuPools[0].nodeSeconds;
        const pol = sim.input.workerPools[0].policy;
        // An unoptimized restart costs ~12 min of GPU: one request in the 300 s look-back expects another within it
        // (activation 300 / restart < 1), so the request keeps the pool active 300 s after it was handed to the worker.
        assert.strictEqual(pol.activityLookbackSeconds, 300);
        const activation = pol.metrics.find((m) => m.source === "recentRequests")!.activation;
        assert.strictEqual(activation, Math.round((300 / restartSeconds(config, config.models[0])) * 100) / 100);
        assert.ok(activation < 1);
        // Then the cooldown (a minute: the recent-requests trigger does the holding), preStop, the node group's
        // scale-down-unneeded-time (its launch-to-allocatable, 150 s on AL2023).
        assert.strictEqual(pol.cooldownSeconds, 60);
        assert.strictEqual(sim.input.gpuPools[0].scaleDownUnneededSeconds, 150);
        // The recent-requests trigger keeps the pool active while increase(upstream requests[300s]) is over its threshold:
        // until the window no longer holds the scrape before the hand-over, 270-300 s after it (two 15 s scrapes either side).
        const lower = provisioning + 300 - 30 + 60 + 15 + 150;
        assert.ok(node >= lower - 1e-6 && node <= lower + 30 + 15 + 15 + 10 + 10 + 1, `node seconds ${node}, expected ${lower} plus loop delays`);
    });

    it("wakes from zero during a Prometheus outage once the failures exceed the threshold (a trigger on fallback is active, KEDA >= 2.19); stays down without a fallback", () => {
        const { root, file } = csvTrace(["1000,image"]);
        const outage = { ...params, metricOutages: [{ min: 900, max: 5000 }] };
        const withFallback = simulateStack(
            oneStack({ scaling: { fallbackReplicas: 1 }, gateway: { maxWaitSeconds: 1800 }, traffic: { profile: "csv", csvFile: file } }),
            { root, params: outage },
        );
        assert.strictEqual(withFallback.result.workerPools[0].answered, 1);
        assert.ok(withFallback.result.gpuPools[0].nodeSeconds > 0);
        const none = simulateStack(
            oneStack({ scaling: { fallbackReplicas: 0 }, gateway: { maxWaitSeconds: 600 }, traffic: { profile: "csv", csvFile: file } }),
            { root, params: outage },
        );
        assert.strictEqual(none.result.workerPools[0].rejected503, 1);
        assert.strictEqual(none.result.gpuPools[0].nodeSeconds, 0);
    });

    it("keeps a warm window's replica up without traffic, from the window's first poll to cooldown and node removal after it", () => {
        const config = oneStack({ scaling: { warmWindows: [{ days: "1-5", start: "08:00", end: "18:00", replicas: 1 }] } });
        const sim = simulateStack(config, { days: 1 });
        const hours = sim.result.gpuPools[0].nodeSeconds / 3600;
        // 10 h window + cooldown (the estimated cold start) + preStop 15 + unneeded (Bottlerocket launch-to-allocatable:
        // 100 s boot + 5 s plugin, rounded up to the 10 s scan: 110 s), less the poll and the GPU buffer before the launch.
        const after = sim.input.workerPools[0].policy.cooldownSeconds + 15 + 110;
        assert.strictEqual(sim.input.gpuPools[0].scaleDownUnneededSeconds, 110);
        assert.ok(hours > 10 + (after - 65) / 3600 && hours < 10 + (after + 45) / 3600, `node hours ${hours}`);
        assert.strictEqual(sim.result.workerPools[0].coldStarts, 0);
    });

    it("keeps a busy pool's replicas through a Prometheus outage without a fallback (the default): KEDA and the HPA change nothing", () => {
        const config = oneStack({
            scaling: { minReplicas: 0, maxReplicas: 4, queueDepthPerReplica: 1 },
            traffic: { profile: "hourly", hourly: [{ days: "0-6", rates: new Array(24).fill(3600) }], service: fixedService(2, 1) },
            gateway: { maxQueueDepth: 100000, maxWaitSeconds: 3600 },
        });
        const sim = simulateStack(config, { days: 1, params: { metricOutages: [{ min: 4 * 3600, max: 6 * 3600 }], timeseries: true } });
        assert.strictEqual(sim.input.workerPools[0].policy.fallbackReplicas, 0);
        const desired = sim.result.series!.perWorkerPool[0].desired;
        assert.strictEqual(desired[Math.round(3.9 * 60)], 4);
        for (let m = 4 * 60; m < 6 * 60; m += 5) assert.strictEqual(desired[m], 4, `minute ${m}: an outage must not shrink or cool a busy pool`);
    });

    it("keeps a busy pool's replicas through a Prometheus outage (fallback currentReplicasIfHigher), and recovers after it", () => {
        const config = oneStack({
            scaling: { minReplicas: 1, maxReplicas: 4, queueDepthPerReplica: 1, fallbackReplicas: 2 },
            traffic: { profile: "hourly", hourly: [{ days: "0-6", rates: new Array(24).fill(3600) }], service: fixedService(2, 1) },
            gateway: { maxQueueDepth: 100000, maxWaitSeconds: 3600 },
        });
        const sim = simulateStack(config, { days: 1, params: { metricOutages: [{ min: 4 * 3600, max: 6 * 3600 }], timeseries: true } });
        const s = sim.result.series!;
        const desiredAt = (h: number) => s.perWorkerPool[0].desired[Math.round(h * 60)];
        assert.strictEqual(desiredAt(3.9), 4);
        assert.strictEqual(desiredAt(5.5), 4, "fallback must not shrink a pool above fallbackReplicas");
        assert.strictEqual(desiredAt(7), 4);
    });
});

describe("the recent-requests trigger holds a pool while its requests come often enough (simulated)", () => {
    // Default stack: Qwen3-VL-2B on a g5.xlarge, a restart costs ~194 s of GPU: more than 300 / 194 = 1.55
    // requests in the last 5 minutes keep the pool active.
    const run = (times: number[]) => {
        const { root, file } = csvTrace(times.map((t) => `${t},image`));
        const sim = simulateStack(oneStack({ traffic: { profile: "csv", csvFile: file, service: fixedService(1, 4) } }), {
            root,
            params: { timeseries: true },
        });
        return {
            w: sim.result.workerPools[0],
            desired: sim.result.series!.perWorkerPool[0].desired,
            activation: sim.input.workerPools[0].policy.metrics.find((m) => m.source === "recentRequests")!.activation,
        };
    };

    it("keeps a class's GPU through a 3-minute pause: a question every 30 s for 20 minutes, 3 minutes of silence, 10 more minutes", () => {
        const times: number[] = [];
        for (let t = 1000; t < 1000 + 20 * 60; t += 30) times.push(t);
        for (let t = 1000 + 23 * 60; t < 1000 + 33 * 60; t += 30) times.push(t);
        const { w, desired, activation } = run(times);
        assert.ok(activation > 1 && activation < 2, `activation ${activation}`);
        assert.strictEqual(w.coldStarts, 1);
        // Never back to zero from the first worker to the last question (minute 50).
        const first = Math.ceil((1000 + w.timeToFirstAnswer[0]) / 60);
        for (let m = first; m <= 50; m++) assert.ok(desired[m] >= 1, `no replica at minute ${m}`);
    });

    it("releases it between the questions of a user asking every 8 minutes (0.4 per restart), keeps it for one asking every 2 minutes", () => {
        const sparse = run(Array.from({ length: 10 }, (_, k) => 1000 + k * 480)).w;
        assert.strictEqual(sparse.coldStarts, 10);
        const dense = run(Array.from({ length: 20 }, (_, k) => 1000 + k * 120)).w;
        assert.strictEqual(dense.coldStarts, 1);
    });
});
