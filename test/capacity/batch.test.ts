/**
 * Batch jobs in the capacity model: 100 images submitted at 14:00 on weekdays, next to the
 * classroom profile. Lines run on spare capacity, the batch-backlog trigger wakes a pool at
 * zero, interactive latency figures leave batch lines out, and the batch is costed.
 */
import * as assert from "assert";
import { expectedCost, simulateStack } from "../../capacity/sim";
import { buildTrace } from "../../capacity/traffic";
import { withBatchJobs } from "../../capacity/traffic/batch";
import { ConfigError } from "../../stacks/errors";
import { oneStack } from "./helpers";

const classroom = { profile: "classroom", seed: 3 };
const scans = [{ at: "14:00", lines: 100 }];

describe("batch jobs in the simulator", () => {
    it("merges 100 lines per weekday at 14:00 into the trace, flagged, in time order", () => {
        const config = oneStack({ traffic: { ...classroom, batches: scans } });
        const targets = [{ name: "wp", id: config.models[0].id }];
        const base = buildTrace(config.traffic, targets, { days: 7, timezone: "UTC" });
        const t = withBatchJobs(base, config.traffic.batches, targets);
        assert.strictEqual(t.times.length, base.times.length + 500, "Monday..Friday: 5 jobs of 100");
        assert.deepStrictEqual(
            Array.from(t.batchJobs!),
            [0, 1, 2, 3, 4].map((d) => d * 86400 + 14 * 3600),
        );
        for (let i = 1; i < t.times.length; i++) assert.ok(t.times[i] >= t.times[i - 1]);
        const flagged = Array.from(t.batch!).filter((b) => b > 0);
        assert.strictEqual(flagged.length, 500);
        assert.throws(
            () => withBatchJobs(base, [{ days: "1-5", at: "14:00", lines: 1, model: "nope" }], targets),
            (e: unknown) => e instanceof ConfigError && /traffic\.batches\[0\]\.model/.test(e.message),
        );
    });

    it("answers every line, keeps them out of the interactive latency, and costs the batch", () => {
        const without = simulateStack(oneStack({ traffic: classroom }), { days: 7 });
        const withBatch = simulateStack(oneStack({ traffic: { ...classroom, batches: scans } }), { days: 7 });
        const b = withBatch.result.batch!;
        assert.strictEqual(b.lines, 500);
        assert.strictEqual(b.answered, 500);
        assert.ok(b.jobs.every((j) => j.answered === 100 && Number.isFinite(j.makespanSeconds)));
        // The interactive figures are over the same interactive requests.
        assert.strictEqual(withBatch.result.outcome.length - b.lines, without.result.outcome.length);
        const e = withBatch.expected;
        assert.ok(e.batch, "cost.json expected.batch");
        assert.ok(e.batch.gpuUsdPerMonth > 0 && e.batch.workGpuHoursPerMonth > 0);
        assert.ok(Math.abs(e.batch.linesPerMonth - 500 * (730 / 168)) <= 1);
        assert.ok(e.gpuUsdPerMonth >= without.expected.gpuUsdPerMonth, "batch work costs GPU time");
        assert.strictEqual(without.expected.batch, undefined);
        // Classes are at most slightly slower with a batch next to them (shared warm workers, reserved slots).
        const [p95a, p95b] = [without.expected.p95LatencySeconds!, e.p95LatencySeconds!];
        assert.ok(p95b <= p95a * 1.1 + 0.5, `interactive P95 ${p95b} s with batch vs ${p95a} s without`);
    });

    it("wakes a pool at zero for a batch on its own trigger, and finishes it long before the next day", () => {
        // No interactive traffic at all: only the batch-backlog trigger can start a worker.
        const config = oneStack({ traffic: { profile: "hourly", hourly: [{ days: "0-6", rates: new Array(24).fill(0) }], batches: scans } });
        const r = simulateStack(config, { days: 7 }).result;
        assert.strictEqual(r.batch!.answered, 500);
        for (const j of r.batch!.jobs) assert.ok(j.makespanSeconds < 2 * 3600, `job at ${j.submittedAt}: ${j.makespanSeconds} s`);
        assert.ok(r.usd > 0);
        assert.ok(expectedCost(config, { days: 7 }).batch!.completionSeconds!.max > 60, "includes the cold start");
    });
});
