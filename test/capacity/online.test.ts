/**
 * The hold-rule references (capacity/bounds/online.ts): the optimal online rule for a
 * known-rate Poisson profile and the best constant hold in hindsight. Hand-computed cases,
 * optimality against other rules on Poisson traces, and the stack figures.
 */
import * as assert from "assert";
import fc from "fast-check";
import { Level, ReleaseCharge, cheapestLevel, priceRule, workerLevels } from "../../capacity/bounds/accounting";
import { bestConstantHold, constantHoldCost, onlineRuleSeconds, poissonStopRegion, releaseTime } from "../../capacity/bounds/online";
import { profileRateFunctions, profileRates, rateAt } from "../../capacity/traffic/rates";
import { loadSessions } from "../../capacity/traffic/timetable";
import { expectedCost } from "../../capacity/sim";
import { buildSimInput } from "../../capacity/sim/setup";
import { Rng } from "../../capacity/sim/rng";
import { busySpans, oneStack, releaseCharges } from "./helpers";

const R65: ReleaseCharge = { preStopSeconds: 15, unneededSeconds: 50, delayAfterAddSeconds: 0 };
/** Where the rule releases a worker idle since t (C = 100 s, W = 65 s). */
const releaseAt = (rate: (t: number) => number, spanEnd: number, t: number) => releaseTime(poissonStopRegion(rate, 100, 65, spanEnd), spanEnd, t);

describe("the optimal online rule (Poisson stopping rule)", () => {
    it("holds at a constant rate while the expected requests within a cold start are >= 1, and releases at once below", () => {
        // C = 100 s: 0.0105/s expects 1.05 requests within a cold start, 0.0095/s 0.95.
        assert.ok(releaseAt(() => 0.0105, 20000, 5000) > 19000, "held to the span's end");
        assert.strictEqual(
            releaseAt(() => 0.0095, 20000, 5000),
            5000,
        );
        assert.ok(releaseAt(() => 0.05, 20000, 100) > 19000);
        assert.strictEqual(
            releaseAt(() => 0.001, 20000, 100),
            100,
        );
    });

    it("looks ahead: releases one reuse window (P + U = 65 s) before the rate drops to zero, where a rule reading the current rate holds to the drop", () => {
        // 0.02/s (2 requests per cold start) for an hour, then nothing. Released at 3535, the node stays to 3600 and
        // serves a late request; held to 3600 instead, the worker would cost ~36 s more on average, then the release.
        const rate = (t: number) => (t < 3600 ? 0.02 : 0);
        assert.strictEqual(releaseAt(rate, 7200, 1000), 3535);
        assert.strictEqual(releaseAt(rate, 7200, 3550), 3550);
    });

    it("looks ahead across a quiet hour: holds through it when the next hour is busy enough", () => {
        // 0.02/s, a minute of nothing, then 0.02/s again: a 60 s pause is cheaper to hold (< 1/lambda + C) than to release.
        const rate = (t: number) => (t >= 3600 && t < 3660 ? 0 : 0.02);
        assert.ok(releaseAt(rate, 10000, 3600) > 9000);
        // A quiet 20 minutes is not: released at once.
        const long = (t: number) => (t >= 3600 && t < 4800 ? 0 : 0.02);
        assert.strictEqual(releaseAt(long, 10000, 3600), 3600);
    });

    it("prices a trace with the accounting: busy, a cold start per run, held gaps, release tails (worked example)", () => {
        // Requests of 10 s at 0, 200, 400; C = 100, P + U = 65; the span ends at the last request.
        const starts = [0, 200, 400];
        const ends = starts.map((s) => s + 10);
        // 2 requests per cold start: every 190 s gap held.
        const busy = onlineRuleSeconds(starts, ends, 1, 100, R65, 410, () => 0.02);
        assert.deepStrictEqual([busy.gpuSeconds, busy.runs, busy.heldSeconds], [30 + 100 + 380, 1, 380]);
        // 0.5 per cold start: released at once, 65 + 100 per gap (the clairvoyant bound pays the same: 165 < 190).
        const quiet = onlineRuleSeconds(starts, ends, 1, 100, R65, 410, () => 0.005);
        assert.deepStrictEqual([quiet.gpuSeconds, quiet.runs, quiet.releaseSeconds], [30 + 3 * 100 + 2 * 65, 3, 130]);
    });

    it("holds only the first worker by the rate: an extra worker's gaps take the best constant hold in hindsight", () => {
        // Two overlapping requests twice, 2000 s apart, at 2 requests per cold start all day: the first worker is held
        // (2000 s); the second, needed only while requests overlap, is released (65 + 100 < 2000), as the best constant hold does.
        const r = onlineRuleSeconds([0, 0, 2010, 2010], [10, 10, 2020, 2020], 1, 100, R65, 2020, () => 0.02);
        assert.deepStrictEqual([r.gpuSeconds, r.runs, r.heldSeconds, r.releaseSeconds], [100 + 20 + 2000 + (2 * 100 + 20 + 65), 3, 2000, 65]);
        assert.match(r.policy, /extra workers held 0 s \(best in hindsight\)/);
    });

    it("costs less on Poisson traffic of its rate than constant holds and than a rule reading only the current rate (mean of 400 traces)", () => {
        // A day: busy morning (0.03/s), a lull (0.004/s), a short busy hour (0.02/s), evening trickle (0.008/s).
        const rate = (t: number) => (t < 4 * 3600 ? 0.03 : t < 6 * 3600 ? 0.004 : t < 7 * 3600 ? 0.02 : t < 9 * 3600 ? 0.008 : 0);
        const span = 10 * 3600;
        const region = poissonStopRegion(rate, 100, 65, span);
        const rules: Record<string, (t: number) => number> = {
            optimal: (t) => releaseTime(region, span, t) - t,
            "reads the current rate": (t) => (rate(t) * 100 >= 1 ? nextDrop(rate, t) - t : 0),
            ...Object.fromEntries([0, 30, 60, 100, 200, 400].map((T) => [`hold ${T} s`, () => T])),
        };
        const totals = Object.fromEntries(Object.keys(rules).map((k) => [k, 0]));
        const rng = new Rng(7, "online-rule-test");
        for (let n = 0; n < 400; n++) {
            const times: number[] = [];
            // Thinning: candidates at the peak rate, kept with probability rate(t) / peak.
            for (let t = rng.exp(1 / 0.03); t < span; t += rng.exp(1 / 0.03)) if (rng.next() < rate(t) / 0.03) times.push(t);
            if (times.length === 0) continue;
            const l = workerLevels(
                times,
                times.map((t) => t + 2),
                100,
            ).levels[0];
            for (const [k, rule] of Object.entries(rules)) totals[k] += priceRule(l, 100, R65, span, rule).gpuSeconds;
        }
        for (const [k, v] of Object.entries(totals))
            if (k !== "optimal") assert.ok(totals.optimal < v, `optimal ${totals.optimal.toFixed(0)} vs ${k} ${v.toFixed(0)}`);
    });

    it("never beats the clairvoyant bound on the same trace, whatever the rate (property)", () => {
        fc.assert(
            fc.property(
                fc.array(fc.tuple(fc.double({ min: 0, max: 2e4, noNaN: true }), fc.double({ min: 0.1, max: 60, noNaN: true })), {
                    minLength: 1,
                    maxLength: 60,
                }),
                fc.integer({ min: 1, max: 4 }),
                fc.double({ min: 1, max: 600, noNaN: true }),
                fc.array(fc.double({ min: 0, max: 0.1, noNaN: true }), { minLength: 24, maxLength: 24 }),
                releaseCharges(300),
                (reqs, concurrency, C, hourly, r) => {
                    const starts = reqs.map((x) => x[0]);
                    const ends = reqs.map((x) => x[0] + x[1]);
                    const span = 2.2e4;
                    const rule = onlineRuleSeconds(starts, ends, concurrency, C, r, span, (t) => hourly[Math.floor(t / 1000) % 24]).gpuSeconds;
                    const bound = workerLevels(starts, ends, concurrency).levels.reduce((a, l) => a + cheapestLevel(l, C, r, span).gpuSeconds, 0);
                    return bound <= rule + 1e-6;
                },
            ),
        );
    });
});

/** The first time after t the rate changes (whole seconds), for the rule that reads only the current rate. */
function nextDrop(rate: (t: number) => number, t: number): number {
    const now = rate(t);
    let u = Math.floor(t) + 1;
    while (rate(u) === now && u < 1e6) u++;
    return u;
}

describe("the best constant hold in hindsight", () => {
    const level = (spans: [number, number][]): Level => ({ starts: spans.map((s) => s[0]), ends: spans.map((s) => s[1]) });

    it("picks 0 s when every gap is longer than release + cold start, and a hold covering the short gaps otherwise (worked example)", () => {
        // C = 100, W = 65: gaps 500, 500 -> release at once (2 x 165). Gaps 80, 80, 80, 500 -> hold 15 s (80 - 65): the node is
        // still there when the next request comes; 3 x 80 + (15 + 165).
        assert.strictEqual(
            bestConstantHold(
                [
                    level([
                        [0, 10],
                        [510, 520],
                        [1020, 1030],
                    ]),
                ],
                100,
                R65,
                1030,
            ).holdSeconds,
            0,
        );
        const b = bestConstantHold(
            [
                level([
                    [0, 10],
                    [90, 100],
                    [180, 190],
                    [270, 280],
                    [780, 790],
                ]),
            ],
            100,
            R65,
            790,
        );
        assert.strictEqual(b.holdSeconds, 15);
        assert.strictEqual(b.cost.gpuSeconds, 50 + 100 + 3 * 80 + 15 + 65 + 100);
    });

    it("is no more expensive than any other constant hold (property, no delay after add)", () => {
        fc.assert(
            fc.property(
                busySpans(3000, 20),
                fc.double({ min: 1, max: 600, noNaN: true }),
                fc.array(fc.double({ min: 0, max: 4000, noNaN: true }), { minLength: 1, maxLength: 10 }),
                (l, C, holds) => {
                    const t = l[l.length - 1][1];
                    const best = bestConstantHold([level(l)], C, R65, t).cost.gpuSeconds;
                    return holds.every((T) => best <= constantHoldCost([level(l)], T, C, R65, t).gpuSeconds + 1e-6);
                },
            ),
        );
    });
});

describe("profileRates and profileRateFunctions", () => {
    const targets = [{ name: "m", id: "org/m" }];
    const trace = (profile: string) => buildSimInput(oneStack({ traffic: { profile } }), { days: 7, historyDays: 0 }).trace;

    it("reads a rate table: office-hours is 600 requests/hour on Monday 10:00, 18 on Saturday 10:00, 0 at night", () => {
        const r = profileRates(oneStack({ traffic: { profile: "office-hours" } }).traffic, targets, trace("office-hours"))[0];
        assert.deepStrictEqual([r[1][10], r[6][10], r[1][3]], [600, 18, 0]);
        const f = profileRateFunctions(oneStack({ traffic: { profile: "office-hours" } }).traffic, targets, trace("office-hours"))[0];
        // Day 0 is a Monday.
        assert.strictEqual(f(10.5 * 3600), 600 / 3600);
        assert.strictEqual(f(10.5 * 3600), rateAt(r, 1, 10.5 * 3600));
    });

    it("spreads a timetable session's expected questions over its scheduled minutes (Monday 09:00, 50 min, 20 students x 6)", () => {
        const config = oneStack({ traffic: { profile: "classroom" } });
        const r = profileRates(config.traffic, targets, trace("classroom"))[0];
        // 20 x 0.9 attend x 6 questions x 0.95 not cancelled, all within hour 9.
        assert.ok(Math.abs(r[1][9] - 20 * 0.9 * 6 * 0.95) < 1e-9, `${r[1][9]}`);
        assert.strictEqual(r[1][8], 0);
        // Per minute: the class's rate from 09:00 to 09:50, nothing from 09:50 (the hourly table would say the hour's mean).
        const f = profileRateFunctions(config.traffic, targets, trace("classroom"), loadSessions(config.traffic, undefined, targets))[0];
        assert.ok(Math.abs(f(9 * 3600 + 60) - (20 * 0.9 * 6 * 0.95) / 50 / 60) < 1e-12);
        assert.strictEqual(f(9 * 3600 + 51 * 60), 0);
    });
});

describe("expected: the references", () => {
    it("reports the optimal online rule and the best hold in hindsight above the clairvoyant bound and below the policy, with ratios", function () {
        this.timeout(20000);
        const e = expectedCost(oneStack({ traffic: { profile: "office-hours" } }), { days: 7 });
        assert.ok(
            e.clairvoyantUsdPerMonth <= e.onlineRuleUsdPerMonth && e.onlineRuleUsdPerMonth < e.gpuUsdPerMonth,
            `${e.clairvoyantUsdPerMonth} / ${e.onlineRuleUsdPerMonth} / ${e.gpuUsdPerMonth}`,
        );
        assert.ok(e.clairvoyantUsdPerMonth <= e.hindsightHoldUsdPerMonth && e.hindsightHoldUsdPerMonth < e.gpuUsdPerMonth);
        assert.ok(Math.abs(e.onlineRuleRatio! / (e.gpuUsdPerMonth / e.onlineRuleUsdPerMonth) - 1) < 0.01);
        assert.ok(Math.abs(e.hindsightHoldRatio! / (e.gpuUsdPerMonth / e.hindsightHoldUsdPerMonth) - 1) < 0.01);
        assert.match(e.onlineRulePolicy.wp, /^first worker held while the profile expects >= 1 request within a cold start/);
        assert.match(e.hindsightHoldPolicy.wp, /^every idle worker held \d+ s/);
        assert.strictEqual(e.perPool[0].onlineRuleUsdPerMonth, e.onlineRuleUsdPerMonth);
        assert.strictEqual(e.perPool[0].hindsightHoldUsdPerMonth, e.hindsightHoldUsdPerMonth);
        assert.deepStrictEqual(e.releaseChargeSeconds, { wp: 125 });
        assert.ok(!("onlineBoundUsdPerMonth" in e), "the old name is gone");
    });
});
