/** The online bound (capacity/bounds/online.ts): hand-computed traces, invariants, the stack figures. */
import * as assert from "assert";
import fc from "fast-check";
import { clairvoyantFromGaps, levelGaps } from "../../capacity/bounds/clairvoyant";
import { bestConstantHold, constantHoldIdleSeconds, onlineSeconds, rateAwareIdleSeconds } from "../../capacity/bounds/online";
import { profileRates, rateAt } from "../../capacity/traffic/rates";
import { emptyWeek } from "../../capacity/traffic/weekly";
import { expectedCost } from "../../capacity/sim";
import { buildSimInput } from "../../capacity/sim/setup";
import { oneStack } from "./helpers";

/** Requests of 10 s each on one worker (concurrency 1), starting at `starts`. */
const tenSeconds = (starts: number[]) => levelGaps(starts, starts.map((s) => s + 10), 1);

describe("online bound", () => {
    it("prices every gap of 2C at C for the best constant hold (release at once), the same as the clairvoyant bound", () => {
        // C = 100; gaps of 200 s: holding costs 200, any hold T in (0, 200) costs T + 100, releasing costs 100.
        const g = tenSeconds([0, 210, 420, 630, 840]);
        assert.deepStrictEqual(g.gapSeconds, [200, 200, 200, 200]);
        assert.deepStrictEqual(bestConstantHold(g.gapSeconds, 100), { holdSeconds: 0, idleSeconds: 400 });
        const r = onlineSeconds(g, 100, () => 0);
        // busy 50 + first cold start 100 + 4 x 100.
        assert.strictEqual(r.gpuSeconds, 550);
        assert.strictEqual(clairvoyantFromGaps(g, 100).gpuSeconds, 550);
    });

    it("picks the rate-aware rule when the rate tells short gaps from long ones (worked example)", () => {
        // C = 100. Hour 0: no expected traffic, gaps 50 and 200, then 3320 s to the next hour.
        // Hour 1: 72 requests/hour (lambda x C = 2), three gaps of 80 s.
        const g = tenSeconds([0, 60, 270, 3600, 3690, 3780, 3870]);
        assert.deepStrictEqual(g.gapSeconds, [50, 200, 3320, 80, 80, 80]);
        const week = emptyWeek();
        for (let h = 1; h < 24; h++) week[1][h] = 72;
        const rate = (t: number) => rateAt(week, 1, t);
        // Clairvoyant idle: 50 + 100 + 100 + 3 x 80 = 490.
        // Constant hold: T = 0 costs 6 x 100 = 600; T = 80 costs 50 + 240 + 2 x 180 = 650; T = 200 costs 790: best 600.
        assert.deepStrictEqual(bestConstantHold(g.gapSeconds, 100), { holdSeconds: 0, idleSeconds: 600 });
        assert.strictEqual(constantHoldIdleSeconds(g.gapSeconds, 80, 100), 650);
        // Rate-aware: releases the three hour-0 gaps at once (3 x 100), holds the hour-1 gaps (240).
        assert.strictEqual(rateAwareIdleSeconds(g.gapStarts, g.gapSeconds, 100, rate), 540);
        const r = onlineSeconds(g, 100, rate);
        // busy 70 + first cold start 100.
        assert.deepStrictEqual([r.constantHold.gpuSeconds, r.rateAware.gpuSeconds, r.gpuSeconds], [770, 710, 710]);
        assert.match(r.policy, /^rate-aware/);
        assert.strictEqual(clairvoyantFromGaps(g, 100).gpuSeconds, 660);
    });

    it("releases a held worker where the rate drops, not at the gap's end", () => {
        // Gap from 3000 s to 9000 s: the rate is high in hour 0 only, so the worker is held to 3600 s, then restarted: 600 + C.
        const week = emptyWeek();
        week[1][0] = 3600;
        assert.strictEqual(rateAwareIdleSeconds([3000], [6000], 100, (t) => rateAt(week, 1, t)), 700);
    });

    it("holds only the first worker by the rate: an extra worker's gaps take the best constant hold", () => {
        // Two overlapping requests twice, 2000 s apart, at a high rate all day: level 1 is held (2000 s), level 2 is released (C).
        const g = levelGaps([0, 0, 2010, 2010], [10, 10, 2020, 2020], 1);
        assert.deepStrictEqual(g.gapLevels, [0, 1]);
        const r = onlineSeconds(g, 100, () => 1);
        assert.strictEqual(r.rateAware.gpuSeconds, 40 + 2 * 100 + 2000 + 100);
    });

    it("sits between the clairvoyant bound and every constant-hold policy (property)", () => {
        fc.assert(
            fc.property(
                fc.array(fc.tuple(fc.double({ min: 0, max: 2e5, noNaN: true }), fc.double({ min: 0.1, max: 60, noNaN: true })), { minLength: 1, maxLength: 80 }),
                fc.integer({ min: 1, max: 4 }),
                fc.double({ min: 1, max: 2000, noNaN: true }),
                fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 7 * 24, maxLength: 7 * 24 }),
                fc.double({ min: 0, max: 5000, noNaN: true }),
                (reqs, concurrency, cs, hourly, T) => {
                    const g = levelGaps(
                        reqs.map((r) => r[0]),
                        reqs.map((r) => r[0] + r[1]),
                        concurrency,
                    );
                    const week = Array.from({ length: 7 }, (_, d) => hourly.slice(d * 24, d * 24 + 24));
                    const online = onlineSeconds(g, cs, (t) => rateAt(week, 1, t)).gpuSeconds;
                    const clairvoyant = clairvoyantFromGaps(g, cs).gpuSeconds;
                    const holdT = g.busySeconds + g.levels * cs + constantHoldIdleSeconds(g.gapSeconds, T, cs);
                    return clairvoyant <= online + 1e-6 && online <= holdT + 1e-6;
                },
            ),
        );
    });
});

describe("profileRates", () => {
    const targets = [{ name: "m", id: "org/m" }];
    const trace = (profile: string) => buildSimInput(oneStack({ traffic: { profile } }), { days: 7, historyDays: 0 }).trace;

    it("reads a rate table: office-hours is 600 requests/hour on Monday 10:00, 18 on Saturday 10:00, 0 at night", () => {
        const r = profileRates(oneStack({ traffic: { profile: "office-hours" } }).traffic, targets, trace("office-hours"))[0];
        assert.deepStrictEqual([r[1][10], r[6][10], r[1][3]], [600, 18, 0]);
    });

    it("spreads a timetable session's expected questions over its minutes (Monday 09:00, 50 min, 20 students x 6)", () => {
        const r = profileRates(oneStack({ traffic: { profile: "classroom" } }).traffic, targets, trace("classroom"))[0];
        // 20 x 0.9 attend x 6 questions x 0.95 not cancelled, all within hour 9.
        assert.ok(Math.abs(r[1][9] - 20 * 0.9 * 6 * 0.95) < 1e-9, `${r[1][9]}`);
        assert.strictEqual(r[1][8], 0);
    });
});

describe("expected: online bound", () => {
    it("reports the online bound between the clairvoyant bound and the policy's GPU cost, with the ratio to it", () => {
        const e = expectedCost(oneStack({ traffic: { profile: "office-hours" } }), { days: 7 });
        assert.ok(e.clairvoyantUsdPerMonth <= e.onlineBoundUsdPerMonth && e.onlineBoundUsdPerMonth < e.gpuUsdPerMonth, `${e.clairvoyantUsdPerMonth} / ${e.onlineBoundUsdPerMonth} / ${e.gpuUsdPerMonth}`);
        assert.ok(Math.abs(e.onlineBoundRatio! / (e.gpuUsdPerMonth / e.onlineBoundUsdPerMonth) - 1) < 0.01);
        assert.match(Object.values(e.onlineBoundPolicy)[0], /^(constant hold \d+ s|rate-aware)/);
        assert.strictEqual(e.perPool[0].onlineBoundUsdPerMonth, e.onlineBoundUsdPerMonth);
    });
});
