/**
 * gateway_timetable_session{pool}: 1 while a session of the class timetable (gateway config `timetable`) is in
 * progress, in the timetable's time zone; the recent-requests trigger of a pool the timetable warms reads it
 * (components/serving/scaling.ts sessionRecentRequestsQuery), and the simulator computes it with the same code.
 */
import * as assert from "assert";
import { parseConfig } from "../../gateway/src/config";
import { localClock, sessionInProgress, SessionWindow } from "../../gateway/src/timetable";
import { dayOfDate } from "../../gateway/src/wallClock";
import { config, gateway, metric, metrics } from "./helpers";

const H = 3600;
/** 2026-12-07 is a Monday. */
const MONDAY = dayOfDate("2026-12-07");

describe("sessionInProgress", () => {
    const weekly: SessionWindow[] = [{ days: [1, 3], start: 9 * H, minutes: 50 }];

    it("is true from a weekly session's start to just before its end, on its days only", () => {
        assert.strictEqual(sessionInProgress(weekly, MONDAY, 9 * H - 1), false);
        assert.strictEqual(sessionInProgress(weekly, MONDAY, 9 * H), true);
        assert.strictEqual(sessionInProgress(weekly, MONDAY, 9 * H + 50 * 60 - 1), true);
        assert.strictEqual(sessionInProgress(weekly, MONDAY, 9 * H + 50 * 60), false);
        assert.strictEqual(sessionInProgress(weekly, MONDAY + 1, 9.5 * H), false, "Tuesday has no session");
        assert.strictEqual(sessionInProgress(weekly, MONDAY + 2, 9.5 * H), true, "Wednesday has one");
        assert.strictEqual(sessionInProgress(weekly, MONDAY + 7, 9.5 * H), true, "every week");
    });

    it("keeps a session that runs past midnight in progress the next morning, and only then", () => {
        const late: SessionWindow[] = [{ days: [5], start: 23 * H, minutes: 120 }]; // Friday 23:00-01:00
        assert.strictEqual(sessionInProgress(late, MONDAY + 4, 23.5 * H), true);
        assert.strictEqual(sessionInProgress(late, MONDAY + 5, 0.5 * H), true, "Saturday 00:30");
        assert.strictEqual(sessionInProgress(late, MONDAY + 5, 1 * H), false, "Saturday 01:00: over");
        assert.strictEqual(sessionInProgress(late, MONDAY, 0.5 * H), false, "Monday 00:30: Sunday had no session");
    });

    it("matches a dated session on its date only", () => {
        const dated: SessionWindow[] = [{ date: "2026-12-09", start: 14 * H, minutes: 75 }];
        assert.strictEqual(sessionInProgress(dated, dayOfDate("2026-12-09"), 14.5 * H), true);
        assert.strictEqual(sessionInProgress(dated, dayOfDate("2026-12-16"), 14.5 * H), false, "a week later: not weekly");
    });
});

describe("localClock", () => {
    it("gives the day and second in the timetable's zone, across a daylight-saving change", () => {
        // 2026-03-29 01:00 UTC: Berlin goes from 02:00 CET to 03:00 CEST.
        assert.deepStrictEqual(localClock(Date.UTC(2026, 2, 29, 0, 30), "Europe/Berlin"), { day: dayOfDate("2026-03-29"), seconds: 1.5 * H });
        assert.deepStrictEqual(localClock(Date.UTC(2026, 2, 29, 1, 30), "Europe/Berlin"), { day: dayOfDate("2026-03-29"), seconds: 3.5 * H });
        // New York is a day behind at 03:00 UTC.
        assert.deepStrictEqual(localClock(Date.UTC(2026, 11, 8, 3, 0, 7), "America/New_York"), { day: dayOfDate("2026-12-07"), seconds: 22 * H + 7 });
    });
});

describe("the gateway's timetable config", () => {
    const base = config(["http://127.0.0.1:1"]);

    it("refuses an unknown time zone, a pool it does not have, and a session with both days and a date, naming the field", () => {
        const bad = (timetable: unknown) => () => parseConfig({ ...base, timetable });
        assert.throws(bad({ timezone: "Mars/Olympus", pools: {} }), /timetable\.timezone.*IANA time zone/s);
        assert.throws(bad({ timezone: "europe/berlin", pools: {} }), /timetable\.timezone.*spelled as the tz database spells it: 'Europe\/Berlin'/s);
        assert.throws(bad({ timezone: "UTC", pools: { nope: [] } }), /timetable\.pools\.nope.*not a pool of this gateway/s);
        assert.throws(bad({ timezone: "UTC", pools: { a10g: [{ days: [1], date: "2026-12-09", start: 0, minutes: 5 }] } }), /either days \(weekly\) or a date/);
    });

    it("exports gateway_timetable_session per listed pool, 1 during a session and 0 outside, in the zone's local time", async () => {
        let now = Date.UTC(2026, 11, 7, 8, 30); // Monday 09:30 in Berlin (CET, UTC+1)
        const gw = await gateway(
            config(["http://127.0.0.1:1"], { timetable: { timezone: "Europe/Berlin", pools: { a10g: [{ days: [1], start: 9 * H, minutes: 50 }] } } }),
            { now: () => now },
        );
        assert.strictEqual(metric(await metrics(gw.url), "gateway_timetable_session", { pool: "a10g" }), 1);
        now = Date.UTC(2026, 11, 7, 9, 0); // 10:00 Berlin: the 09:00-09:50 session is over
        assert.strictEqual(metric(await metrics(gw.url), "gateway_timetable_session", { pool: "a10g" }), 0);
    });

    it("exports no such gauge without a timetable", async () => {
        const gw = await gateway(config(["http://127.0.0.1:1"]));
        assert.ok(!(await metrics(gw.url)).includes("gateway_timetable_session{"));
    });
});
