/**
 * Teams on one platform, planned (capacity/bill/jointTrace.ts, sharedMonth.ts): the teams'
 * traffic on a shared pool simulated together, billed by the gateway's rule, plus own pools and
 * floor shares. The per-team figures add up to the totals exactly (in cents), whatever the split.
 */
import * as assert from "assert";
import { jointInput } from "../../capacity/bill/jointTrace";
import { centsSummingTo, sharedMonth } from "../../capacity/bill/sharedMonth";
import { buildSimInput, simulate } from "../../capacity/sim";
import { OUTCOME } from "../../capacity/sim/types";
import { oneStack } from "./helpers";

/** A team's own input: the shared model's pool with its own timetable. */
function teamInput(start: string, students: number, warmupMinutesBefore = 0) {
    const config = oneStack({
        traffic: { profile: "timetable", timetable: [{ days: "1-5", start, minutes: 50, students, questionsPerStudent: 5 }], warmupMinutesBefore },
    });
    return buildSimInput(config, { days: 7, historyDays: 0 });
}

describe("teams on one platform: the shared pools' joint run and the month's split", function () {
    this.timeout(120_000);

    it("merges the teams' requests to the shared pool in time order, labelled, with each team's warm-ups", () => {
        const a = teamInput("09:00", 20, 5);
        const b = teamInput("13:00", 10);
        const { input, skippedBatchLines } = jointInput(a, [
            { team: "biology", input: a, poolMap: new Map([[0, 0]]) },
            { team: "physics", input: b, poolMap: new Map([[0, 0]]) },
        ]);
        assert.strictEqual(skippedBatchLines, 0);
        assert.strictEqual(input.trace.times.length, a.trace.times.length + b.trace.times.length);
        for (let i = 1; i < input.trace.times.length; i++) assert.ok(input.trace.times[i] >= input.trace.times[i - 1], "time order");
        const count = (team: number) => input.teams!.ofRequest.filter((t) => t === team).length;
        assert.deepStrictEqual([count(0), count(1)], [a.trace.times.length, b.trace.times.length]);
        assert.ok((input.warmups ?? []).length > 0 && input.warmups!.every((w) => w.team === 0), "biology's warm-ups, labelled biology's");
        assert.throws(
            () =>
                jointInput(a, [
                    { team: "x", input: a, poolMap: new Map([[0, 0]]) },
                    { team: "y", input: buildSimInput(oneStack(), { days: 1, historyDays: 0 }), poolMap: new Map([[0, 0]]) },
                ]),
            /simulated a different span/,
        );
    });

    it("bills each team its share of the shared pool, its own pools and its floor share; the parts add up to the totals", () => {
        const a = teamInput("09:00", 20, 5);
        const b = teamInput("13:00", 10);
        const joint = jointInput(a, [
            { team: "biology", input: a, poolMap: new Map([[0, 0]]) },
            { team: "physics", input: b, poolMap: new Map([[0, 0]]) },
        ]).input;
        const result = simulate(joint);
        const own = [{ team: "chemistry", gpuUsdPerMonth: 123.456, latencies: [1, 2, 3] }];
        for (const split of ["equal", "usage"] as const) {
            const m = sharedMonth({
                platformFloorUsdPerMonth: 200,
                floorSplit: split,
                teams: ["biology", "chemistry", "physics"],
                own,
                shared: { input: joint, result },
            });
            const teams = Object.values(m.teams);
            const sum = (f: (t: (typeof teams)[number]) => number) => Math.round(teams.reduce((s, t) => s + f(t), 0) * 100) / 100;
            assert.strictEqual(
                sum((t) => t.usdPerMonth),
                m.totalUsdPerMonth,
                `${split}: the teams add up to the total`,
            );
            assert.strictEqual(
                sum((t) => t.floorShareUsdPerMonth),
                m.floorUsdPerMonth,
                `${split}: the floor shares add up to the floor`,
            );
            for (const t of teams) {
                assert.strictEqual(Math.round((t.ownGpuUsdPerMonth + t.sharedPoolsUsdPerMonth) * 100), Math.round(t.gpuUsdPerMonth * 100));
                assert.strictEqual(Math.round((t.gpuUsdPerMonth + t.floorShareUsdPerMonth) * 100), Math.round(t.usdPerMonth * 100));
            }
            // The total is the platform's whole cost: floor + the shared pool's nodes + own pools (to a cent per part).
            assert.ok(Math.abs(m.totalUsdPerMonth - (200 + m.sharedPools.nodeUsdPerMonth + 123.456)) <= 0.03, `${split}: total ${m.totalUsdPerMonth}`);
            // The difference between the shared pool's nodes and what the rule attributes goes to the floor, either
            // way (the rule counts a cold start from the first waiting request, the node bills from its launch).
            assert.ok(Math.abs(m.floorUsdPerMonth - (200 + m.sharedPools.unattributedUsdPerMonth)) <= 0.02, `${split}: floor ${m.floorUsdPerMonth}`);
            assert.ok(
                Math.abs(m.sharedPools.nodeUsdPerMonth - m.sharedPools.attributedUsdPerMonth - m.sharedPools.unattributedUsdPerMonth) <= 0.01,
                JSON.stringify(m.sharedPools),
            );
            assert.ok(m.sharedPools.attributedUsdPerMonth > 0.9 * m.sharedPools.nodeUsdPerMonth, "the rule attributes most of the pool's cost");
            assert.ok(m.teams.biology.sharedPoolsUsdPerMonth > m.teams.physics.sharedPoolsUsdPerMonth, "20 students pay more than 10");
            assert.strictEqual(m.teams.chemistry.sharedPoolsUsdPerMonth, 0);
            assert.strictEqual(m.teams.chemistry.ownGpuUsdPerMonth, 123.46);
            if (split === "equal") {
                const shares = teams.map((t) => Math.round(t.floorShareUsdPerMonth * 100));
                assert.ok(Math.max(...shares) - Math.min(...shares) <= 1, `equal floor shares ${shares} (cents)`);
            } else {
                const f = (t: string) => m.teams[t].floorShareUsdPerMonth / m.floorUsdPerMonth;
                const g = (t: string) =>
                    m.teams[t].gpuUsdPerMonth / (m.teams.biology.gpuUsdPerMonth + m.teams.chemistry.gpuUsdPerMonth + m.teams.physics.gpuUsdPerMonth);
                for (const t of ["biology", "chemistry", "physics"]) assert.ok(Math.abs(f(t) - g(t)) < 0.001, `${t}: floor share ${f(t)} vs GPU share ${g(t)}`);
            }
        }
        // Latency per team: its answered requests on the shared pool (biology) and its own (chemistry).
        const m = sharedMonth({
            platformFloorUsdPerMonth: 200,
            floorSplit: "equal",
            teams: ["biology", "chemistry", "physics"],
            own,
            shared: { input: joint, result },
        });
        assert.strictEqual(m.teams.chemistry.p99LatencySeconds, 2.98);
        const answered = Array.from(result.outcome).filter((o, r) => o === OUTCOME.answered && joint.teams!.ofRequest[r] === 1).length;
        assert.ok(answered > 0 && m.teams.physics.p95LatencySeconds !== null);
    });

    it("refuses a team that is not registered on the platform", () => {
        assert.throws(
            () => sharedMonth({ platformFloorUsdPerMonth: 1, floorSplit: "equal", teams: ["a"], own: [{ team: "b", gpuUsdPerMonth: 1, latencies: [] }] }),
            /'b' is not registered/,
        );
    });

    it("rounds parts to whole cents that add up to the rounded whole", () => {
        assert.deepStrictEqual(centsSummingTo({ a: 1 / 3, b: 1 / 3, c: 1 / 3 }), { a: 34, b: 33, c: 33 });
        const c = centsSummingTo({ a: 10.004, b: 20.004, c: 0.004 });
        assert.strictEqual(c.a + c.b + c.c, 3001);
    });
});
