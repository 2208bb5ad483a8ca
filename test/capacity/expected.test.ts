/** expectedCost: the `expected` block of cost.json (determinism, monthly normalization, totals). */
import * as assert from "assert";
import { imageCacheInitUsdPerLaunch } from "../../capacity/cacheCost";
import { HOURS_PER_MONTH } from "../../stacks/catalog/instances";
import { staticCost } from "../../capacity/cost";
import { expectedCost, fixedUsdPerMonth, natGatewayCount } from "../../capacity/sim";
import { classroomComparison } from "../../capacity/sim/reference";
import { G5_XLARGE_NODE_USD_PER_HOUR, oneStack } from "./helpers";

const steady = { profile: "steady" };

describe("expectedCost", () => {
    it("is deterministic for a config and its seed, and changes with the seed", () => {
        const config = oneStack({ traffic: { profile: "classroom", seed: 7 } });
        assert.deepStrictEqual(expectedCost(config), expectedCost(config));
        assert.notDeepStrictEqual(expectedCost(config).requests, expectedCost(oneStack({ traffic: { profile: "classroom", seed: 8 } })).requests);
    });

    it("normalizes to a 730-hour month: one warm node that never scales costs 730 node-hours, whatever the span", () => {
        const config = oneStack({ scaling: { minReplicas: 1, maxReplicas: 1 }, traffic: steady });
        for (const days of [7, 28]) {
            const e = expectedCost(config, { days });
            assert.ok(Math.abs(e.nodeHoursPerMonth - HOURS_PER_MONTH) < 0.2, `${days} days: ${e.nodeHoursPerMonth} node-hours`);
            assert.ok(Math.abs(e.gpuUsdPerMonth - HOURS_PER_MONTH * G5_XLARGE_NODE_USD_PER_HOUR) < 0.2, `${days} days: $${e.gpuUsdPerMonth}`);
        }
    });

    it("scales request counts to the month: 120 requests/hour is ~87,600 a month", () => {
        const e = expectedCost(oneStack({ traffic: steady }), { days: 7 });
        assert.ok(Math.abs(e.requests.arrived - 120 * HOURS_PER_MONTH) < 4 * Math.sqrt(120 * 168) * (HOURS_PER_MONTH / 168), `${e.requests.arrived}`);
        // Each monthly count is rounded on its own, so the sum may be off by one.
        assert.ok(Math.abs(e.requests.arrived - (e.requests.answered + e.requests.rejected)) <= 1);
    });

    it("adds the static floor's non-GPU lines to the simulated GPU cost", () => {
        const config = oneStack({ traffic: steady });
        const e = expectedCost(config);
        assert.strictEqual(e.fixedUsdPerMonth, staticCost(config, natGatewayCount(config)).floorUsdPerMonth); // no warm GPU: floor is all fixed
        assert.ok(Math.abs(e.usdPerMonth - (e.fixedUsdPerMonth + e.gpuUsdPerMonth + e.nodeLaunchUsdPerMonth)) < 0.016);
        const warm = oneStack({ scaling: { minReplicas: 1 }, traffic: steady });
        assert.ok(Math.abs(fixedUsdPerMonth(warm) - (staticCost(warm, 1).floorUsdPerMonth - HOURS_PER_MONTH * G5_XLARGE_NODE_USD_PER_HOUR)) < 0.011);
    });

    it("charges each GPU node launch the image-cache volume initialization: snapshot GiB x MiB/s x the price, none when lazy or without the cache", () => {
        const config = oneStack({ traffic: steady });
        const e = expectedCost(config);
        const launches = e.perPool.reduce((a, p) => a + p.nodeLaunchesPerMonth, 0);
        assert.ok(launches > 0);
        const perLaunch = imageCacheInitUsdPerLaunch(config, config.gpuPools[0]);
        // 35 GB = 32.6 GiB of snapshot data x 300 MiB/s x $0.000012 (us-east-1).
        assert.ok(Math.abs(perLaunch - (35 / 1.073741824) * 300 * 0.000012) < 1e-9 && perLaunch > 0.11 && perLaunch < 0.12, `${perLaunch}`);
        assert.ok(
            Math.abs(e.nodeLaunchUsdPerMonth - launches * perLaunch) < 0.06 + launches * 0.001,
            `${e.nodeLaunchUsdPerMonth} vs ${launches} x ${perLaunch}`,
        );
        const lazy = oneStack({ traffic: steady, coldStart: { imageCacheInitRateMiBps: 0 } });
        assert.strictEqual(imageCacheInitUsdPerLaunch(lazy, lazy.gpuPools[0]), 0);
        assert.strictEqual(imageCacheInitUsdPerLaunch(config, { ami: "al2023" }), 0);
    });

    it("is plain JSON (no NaN or Infinity), also when nothing is answered", () => {
        const e = expectedCost(oneStack());
        assert.deepStrictEqual(JSON.parse(JSON.stringify(e)), e);
        assert.strictEqual(e.p95LatencySeconds, null);
        assert.strictEqual(e.usdPer1kRequests, null);
    });

    it("puts the oracle below the simulated GPU cost", () => {
        const e = expectedCost(oneStack({ traffic: { profile: "office-hours" } }));
        assert.ok(e.oracleUsdPerMonth > 0 && e.oracleUsdPerMonth <= e.gpuUsdPerMonth);
        // The ratio is taken before rounding the dollar figures to cents.
        assert.ok(Math.abs(e.oracleRatio! / (e.gpuUsdPerMonth / e.oracleUsdPerMonth) - 1) < 0.01);
    });
});

describe("classroom comparison (reference policy vs ours vs oracle)", function () {
    this.timeout(60000);

    it("has our default cheaper than the reference on the same A10G pool, both far above the oracle", () => {
        const c = classroomComparison({ days: 14 });
        const [reference, ours, , fromZero, queueSized, online, clairvoyant, oracle] = c.rows;
        assert.deepStrictEqual(
            c.rows.map((r) => r.name),
            ["reference", "ours", "ours+gpu70", "from zero", "from zero, queue-sized", "optimal online rule", "clairvoyant", "oracle"],
        );
        // Sizing held requests by their arrival rate (not their count) launches fewer nodes during cold starts, for less.
        assert.ok(
            fromZero.nodeLaunchesPerMonth! < queueSized.nodeLaunchesPerMonth! * 0.8,
            `launches ${fromZero.nodeLaunchesPerMonth} vs ${queueSized.nodeLaunchesPerMonth}`,
        );
        assert.ok(fromZero.usdPerMonth < queueSized.usdPerMonth * 0.85, `$${fromZero.usdPerMonth} vs $${queueSized.usdPerMonth}`);
        assert.ok(oracle.usdPerMonth < clairvoyant.usdPerMonth && clairvoyant.usdPerMonth <= online.usdPerMonth && online.usdPerMonth < ours.usdPerMonth);
        assert.ok(Math.abs(ours.clairvoyantRatio! - ours.usdPerMonth / clairvoyant.usdPerMonth) < 0.02, `${ours.clairvoyantRatio}`);
        assert.ok(ours.usdPerMonth < reference.usdPerMonth, `ours $${ours.usdPerMonth} vs reference $${reference.usdPerMonth}`);
        assert.ok(oracle.usdPerMonth < ours.usdPerMonth);
        // Both run one warm worker through class hours: P95 is the service time's, within 5 %.
        assert.ok(ours.p95LatencySeconds! <= reference.p95LatencySeconds! * 1.05, `P95 ours ${ours.p95LatencySeconds} vs ${reference.p95LatencySeconds}`);
    });
});
