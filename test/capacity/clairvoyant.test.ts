/** The clairvoyant bound (capacity/bounds/clairvoyant.ts): worked examples, invariants, the classroom figure. */
import * as assert from "assert";
import fc from "fast-check";
import { clairvoyantCost, clairvoyantSeconds, coldStartSeconds } from "../../capacity/bounds/clairvoyant";
import { coldStartPhases, totalSeconds } from "../../capacity/sim/coldStart";
import { DEFAULT_SIM_PARAMS } from "../../capacity/sim/params";
import { oracleCost } from "../../capacity/sim/oracle";
import { classroomStack } from "../../capacity/sim/reference";
import { buildSimInput } from "../../capacity/sim/setup";
import { expectedCost } from "../../capacity/sim";

describe("clairvoyantSeconds", () => {
    it("pays one cold start, then the busy time, for a single request", () => {
        const r = clairvoyantSeconds([100], [110], 4, 600);
        assert.deepStrictEqual(r, { gpuSeconds: 610, busySeconds: 10, coldStartSeconds: 600, coldStarts: 1, peakWorkers: 1 });
    });

    it("keeps a worker through a gap shorter than the cold start and restarts it after a longer one", () => {
        // Busy [0,10), gap 50 (< 60: keep, pay 50), busy [60,70), gap 930 (> 60: restart, pay 60), busy [1000,1010).
        const r = clairvoyantSeconds([0, 60, 1000], [10, 70, 1010], 1, 60);
        assert.strictEqual(r.busySeconds, 30);
        assert.strictEqual(r.coldStartSeconds, 60 + 50 + 60);
        assert.strictEqual(r.coldStarts, 2);
    });

    it("opens a second worker level only while active requests exceed one worker's concurrency", () => {
        // Concurrency 2: three overlapping requests over [5, 8) need a second worker for 3 s.
        const r = clairvoyantSeconds([0, 2, 5], [10, 8, 12], 2, 100);
        assert.strictEqual(r.peakWorkers, 2);
        assert.strictEqual(r.busySeconds, 12 + 3);
        assert.strictEqual(r.coldStartSeconds, 200);
    });

    it("is never below the oracle's busy time and grows with the cold start (property)", () => {
        fc.assert(
            fc.property(fc.array(fc.tuple(fc.double({ min: 0, max: 1e5, noNaN: true }), fc.double({ min: 0.1, max: 50, noNaN: true })), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 8 }), fc.double({ min: 1, max: 2000, noNaN: true }), (reqs, c, cs) => {
                const starts = reqs.map((r) => r[0]);
                const ends = reqs.map((r) => r[0] + r[1]);
                const a = clairvoyantSeconds(starts, ends, c, cs);
                const b = clairvoyantSeconds(starts, ends, c, cs * 2);
                const work = reqs.reduce((s, r) => s + r[1], 0) / c;
                return a.busySeconds >= work - 1e-6 && a.gpuSeconds >= a.busySeconds + cs - 1e-6 && b.gpuSeconds >= a.gpuSeconds - 1e-6;
            }),
        );
    });
});

describe("clairvoyantCost", () => {
    it("uses the simulator's cold start phases, node to routable: ~12 min for MedGemma 4B from the Hub on a fresh AL2023 node, less with the fast-start mechanisms", () => {
        const slow = buildSimInput(classroomStack({ unoptimized: true }), { days: 1 });
        const slowCs = coldStartSeconds(DEFAULT_SIM_PARAMS, slow.workerPools[0], slow.gpuPools[0].instanceType);
        assert.ok(slowCs > 11 * 60 && slowCs < 14 * 60, `${slowCs} s`);
        const input = buildSimInput(classroomStack(), { days: 1 });
        const cs = coldStartSeconds(DEFAULT_SIM_PARAMS, input.workerPools[0], input.gpuPools[0].instanceType);
        // The phases a policy that launches the node itself pays: all but the trigger, the autoscaler's reaction and the answer.
        const phases = coldStartPhases(DEFAULT_SIM_PARAMS, { mechanisms: input.workerPools[0].coldStart, weightsGiB: input.workerPools[0].weightsGiB, instanceType: input.gpuPools[0].instanceType, pollingIntervalSeconds: 15, firstAnswer: { expected: 9, pessimistic: 9 } });
        assert.strictEqual(cs, totalSeconds(phases.filter((x) => !["trigger", "autoscaler", "firstAnswer"].includes(x.key))));
        assert.ok(cs < slowCs / 1.5, `${cs} s vs ${slowCs} s`);
    });

    it("matches the independent figure on the classroom profile (~$117/month strict, one A10G pool) and sits between the oracle and our policy", function () {
        this.timeout(30000);
        // The independent figure was computed with the unoptimized ~13-minute cold start.
        const config = classroomStack({ traffic: { seed: 1 }, unoptimized: true });
        const input = buildSimInput(config, { days: 28, historyDays: 0 });
        const perMonth = (730 * 3600) / input.trace.horizonSeconds;
        const bound = clairvoyantCost(input, input.trace).usd * perMonth;
        assert.ok(Math.abs(bound - 117) < 117 * 0.05, `$${bound.toFixed(2)}`);
        assert.ok(oracleCost(input, input.trace).usd * perMonth < bound);
        const e = expectedCost(config, { days: 14 });
        assert.ok(e.clairvoyantUsdPerMonth < e.gpuUsdPerMonth && e.clairvoyantRatio! > 1, `${e.clairvoyantUsdPerMonth} vs ${e.gpuUsdPerMonth}`);
    });
});
