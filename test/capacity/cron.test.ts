/**
 * KEDA cron triggers on the simulated clock (capacity/sim/cron.ts) against a direct
 * implementation of what KEDA v2.20.2 does at one instant: robfig/cron v3.0.1's Next for start
 * and end (first matching minute strictly after now; day-of-month OR day-of-week unless one is
 * `*`), active unless the next start comes before the next end.
 */
import * as assert from "assert";
import fc from "fast-check";
import { compileCron, parseCron } from "../../capacity/sim/cron";
import { dateOfDay, dayOfDate } from "../../stacks/calendar/zones";

/** The first firing strictly after t (seconds of a span whose day 0 is `date0`), scanning day by day as robfig's Next does. */
function next(expr: string, t: number, date0: string): number {
    const c = parseCron(expr);
    for (let d = Math.floor(t / 86400); d < Math.floor(t / 86400) + 800; d++) {
        const date = dateOfDay(dayOfDate(date0) + d);
        const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
        const dom = c.dom.has(Number(date.slice(8, 10)));
        const dow = c.dow.has(weekday);
        if (!c.months.has(Number(date.slice(5, 7))) || !(c.domStar || c.dowStar ? dom && dow : dom || dow)) continue;
        for (const h of c.hours) for (const m of c.minutes) if (d * 86400 + (h * 60 + m) * 60 > t) return d * 86400 + (h * 60 + m) * 60;
    }
    return Infinity;
}

/** KEDA's GetMetricsAndActivity at t: isWithinInterval. */
const kedaActive = (start: string, end: string, t: number, date0: string) => next(end, t, date0) <= next(start, t, date0);

describe("compileCron (KEDA cron triggers on the simulated clock)", () => {
    const trigger = (start: string, end: string) => ({ name: "t", start, end, timezone: "UTC", desiredReplicas: 2 });

    it("is active on a date-specific trigger's dates only, and not again until the same dates next year", () => {
        // 2026-09-07 is a Monday; sessions on 7 and 10 Sep, 09:11 to 10:03.
        const w = compileCron(trigger("11 9 7,10 9 *", "3 10 7,10 9 *"), { startWeekday: 1, startDate: "2026-09-07", days: 30 });
        const at = (day: number, h: number, m: number) => w.activeAt(day * 86400 + (h * 60 + m) * 60);
        assert.deepStrictEqual(
            [at(0, 9, 10), at(0, 9, 11), at(0, 10, 2), at(0, 10, 3), at(3, 9, 30), at(7, 9, 30), at(1, 9, 30)],
            [false, true, true, false, true, false, false],
        );
    });

    it("needs the span's date for a date-specific trigger", () => {
        assert.throws(
            () => compileCron(trigger("11 9 7 9 *", "3 10 7 9 *"), { startWeekday: 1, days: 7 }),
            /fires on dates, but the simulated span has no start date/,
        );
    });

    it("matches robfig's rule: day of month OR day of week when neither is *", () => {
        // Fires on the 1st of the month and on Sundays; 2026-09-01 is a Tuesday.
        assert.strictEqual(next("0 8 1 * 0", 0, "2026-09-01"), 8 * 3600);
        assert.strictEqual(next("0 8 1 * 0", 9 * 3600, "2026-09-01"), 5 * 86400 + 8 * 3600); // Sunday 6 Sep
        const w = compileCron(trigger("0 8 1 * 0", "0 9 1 * 0"), { startWeekday: 2, startDate: "2026-09-01", days: 14 });
        assert.deepStrictEqual([w.activeAt(8.5 * 3600), w.activeAt(5 * 86400 + 8.5 * 3600), w.activeAt(2 * 86400 + 8.5 * 3600)], [true, true, false]);
    });

    it("counts a next start and a next end in the same minute as active, as KEDA does (not nextStart.Before(nextEnd))", () => {
        // Monday 08:59 (day 0 is a Monday): the next start and the next end are both Monday 09:00.
        const w = compileCron(trigger("0 9 * * 1", "0 9 * * 1-5"), { startWeekday: 1, days: 7 });
        assert.strictEqual(kedaActive("0 9 * * 1", "0 9 * * 1-5", 8 * 3600 + 59 * 60 + 30, "2026-09-07"), true);
        assert.strictEqual(w.activeAt(8 * 3600 + 59 * 60 + 30), true);
    });

    it("agrees with KEDA's evaluation at every instant, for weekly and dated triggers (property)", () => {
        const minute = fc.integer({ min: 0, max: 1439 });
        const weekly = fc.tuple(minute, minute, fc.uniqueArray(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 7 })).map(([a, b, days]) => {
            const d = days.sort().join(",");
            return { start: `${a % 60} ${Math.floor(a / 60)} * * ${d}`, end: `${b % 60} ${Math.floor(b / 60)} * * ${d}` };
        });
        const dated = fc
            .tuple(
                minute,
                fc.integer({ min: 1, max: 600 }),
                fc.uniqueArray(fc.integer({ min: 1, max: 28 }), { minLength: 1, maxLength: 6 }),
                fc.integer({ min: 9, max: 10 }),
            )
            .map(([a, len, doms, month]) => {
                const b = (a + len) % 1440;
                const next = a + len >= 1440 ? doms.map((x) => x + 1) : doms;
                return {
                    start: `${a % 60} ${Math.floor(a / 60)} ${doms.sort((x, y) => x - y).join(",")} ${month} *`,
                    end: `${b % 60} ${Math.floor(b / 60)} ${next.sort((x, y) => x - y).join(",")} ${month} *`,
                };
            });
        fc.assert(
            fc.property(fc.oneof(weekly, dated), fc.array(fc.double({ min: 0, max: 60 * 86400, noNaN: true }), { minLength: 20, maxLength: 20 }), (c, ts) => {
                fc.pre(c.start !== c.end);
                const w = compileCron(trigger(c.start, c.end), { startWeekday: 2, startDate: "2026-09-01", days: 61 });
                return ts.every((t) => w.activeAt(t) === kedaActive(c.start, c.end, t, "2026-09-01"));
            }),
            { numRuns: 60 },
        );
    });
});
