/** A pool's KEDA cron triggers from warm windows and the timetable (stacks/cronTriggers.ts), and the timetable in the config. */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { compileCron } from "../../capacity/sim/cron";
import { sessionWindow, timetableTriggers, warmWindowTriggers } from "../../stacks/cronTriggers";
import { ConfigError } from "../../stacks/errors";
import { ResolvedTimetable } from "../../stacks/timetable";
import { parseStackConfig } from "../../stacks/validate";
import { tempDir } from "../helpers/tmp";

const EXAMPLES = path.join(__dirname, "../../examples");
/** A lead of 197 s and a cooldown of 158 s (a Qwen3-VL-2B pool's pessimistic and estimated cold start). */
const WINDOW = { leadSeconds: 197, cooldownSeconds: 158 };

const stack = (timetable: Record<string, unknown>, extra: Record<string, unknown> = {}, root = EXAMPLES) =>
    parseStackConfig(
        {
            region: "us-east-1",
            environment: "test",
            timezone: "Europe/Berlin",
            tags: { team: "biology" },
            serving: { allowInsecureHttp: true },
            gpuPools: [{ name: "a10g", gpuType: "a10g", instanceTypes: ["g5.xlarge"], maxNodes: 2 }],
            models: [{ id: "Qwen/Qwen3-VL-2B-Instruct", pool: "a10g", scaling: { maxReplicas: 2 } }],
            timetable,
            ...extra,
        },
        undefined,
        { root },
    );

function configError(f: () => unknown): string {
    try {
        f();
    } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.message;
    }
    assert.fail("config was accepted");
}

describe("sessionWindow", () => {
    it("hold session: opens a lead before the start (whole minutes, earlier) and closes a cooldown before the end (later), so KEDA releases the pool at the end", () => {
        // 09:15, 50 min: 09:15 - 197 s = 09:11:43 -> 09:11; 10:05 - 158 s = 10:02:22 -> 10:03.
        assert.deepStrictEqual(sessionWindow({ startSeconds: 9.25 * 3600, minutes: 50 }, { ...WINDOW, hold: "session" }), {
            from: 9 * 60 + 11,
            to: 10 * 60 + 3,
        });
        // A session shorter than the cooldown still gets a minute.
        assert.deepStrictEqual(sessionWindow({ startSeconds: 3600, minutes: 2 }, { leadSeconds: 60, cooldownSeconds: 600, hold: "session" }), {
            from: 59,
            to: 60,
        });
    });

    it("hold start (the default): closes 10 minutes after the start, when the recent-requests trigger has taken over, or at the end of a shorter session", () => {
        assert.deepStrictEqual(sessionWindow({ startSeconds: 9.25 * 3600, minutes: 50 }, WINDOW), { from: 9 * 60 + 11, to: 9 * 60 + 25 });
        assert.deepStrictEqual(sessionWindow({ startSeconds: 9.25 * 3600, minutes: 8 }, WINDOW), { from: 9 * 60 + 11, to: 9 * 60 + 21 });
    });
});

describe("timetableTriggers", () => {
    const weekly = (slots: Partial<ResolvedTimetable["slots"][number]>[]): ResolvedTimetable => ({
        warm: true,
        calendars: [],
        hold: "session",
        afterSessionLookbackSeconds: 120,
        predictiveOff: [],
        slots: slots.map((s) => ({
            pool: "wp",
            replicas: 1,
            startSeconds: 9.25 * 3600,
            minutes: 50,
            students: 20,
            questionsPerStudent: 6,
            source: "sessions[0]",
            ...s,
        })),
    });

    it("merges weekly sessions at the same times into one trigger with their days", () => {
        const t = timetableTriggers(
            weekly([{ days: [1] }, { days: [4] }, { days: [2], startSeconds: 14 * 3600, minutes: 75, replicas: 2 }]),
            "wp",
            "Europe/Berlin",
            WINDOW,
        );
        assert.deepStrictEqual(t, [
            { name: "class-0", start: "11 9 * * 1,4", end: "3 10 * * 1,4", timezone: "Europe/Berlin", desiredReplicas: 1 },
            { name: "class-1", start: "56 13 * * 2", end: "13 15 * * 2", timezone: "Europe/Berlin", desiredReplicas: 2 },
        ]);
    });

    it("moves a window that starts before midnight to the day before", () => {
        // Monday 00:02 with a 5-minute lead: Sunday 23:57 to Monday 00:50 - 158 s.
        const [c] = timetableTriggers(weekly([{ days: [1], startSeconds: 120, minutes: 50 }]), "wp", "UTC", { leadSeconds: 300, cooldownSeconds: 158 });
        assert.deepStrictEqual([c.start, c.end], ["57 23 * * 0", "50 0 * * 1"]);
    });

    it("deploys the example course as five dated triggers, one per window time and month, without the cancelled week", () => {
        const cfg = stack({ calendars: [{ file: "biology-101.ics" }] });
        const t = timetableTriggers(cfg.timetable, cfg.models[0].name, cfg.timezone, WINDOW);
        // 09:15-10:45: 09:11 to 09:25 (its first 10 minutes; the class's questions hold the pool after that).
        assert.deepStrictEqual(
            t.map((c) => [c.start, c.end]),
            [
                ["11 9 7,10,14,17,28 9 *", "25 9 7,10,14,17,28 9 *"],
                ["11 9 1,5,8,12,15,19,22,26,29 10 *", "25 9 1,5,8,12,15,19,22,26,29 10 *"],
                ["11 9 2,9,12,16,19,23,26,30 11 *", "25 9 2,9,12,16,19,23,26,30 11 *"],
                ["56 13 6 11 *", "10 14 6 11 *"],
                ["11 9 3,7,10,14,17 12 *", "25 9 3,7,10,14,17 12 *"],
            ],
        );
        // hold: session holds to 10:43 (10:45 - 158 s = 10:42:22, up to the minute).
        const held = timetableTriggers(
            stack({ hold: "session", calendars: [{ file: "biology-101.ics" }] }).timetable,
            cfg.models[0].name,
            cfg.timezone,
            WINDOW,
        );
        assert.deepStrictEqual([held[0].end, held[3].end], ["43 10 7,10,14,17,28 9 *", "28 15 6 11 *"]);
        assert.ok(t.every((c) => c.timezone === "Europe/Berlin" && c.desiredReplicas === 1));
        assert.deepStrictEqual(
            t.map((c) => c.name),
            ["class-0", "class-1", "class-2", "class-3", "class-4"],
        );
        // On the simulated clock (day 0 = Monday 7 Sep): warm on 7 Sep at 09:20, not in the cancelled week (21 Sep), warm for the moved session (6 Nov 14:05).
        const windows = t.map((c) => compileCron(c, { startWeekday: 1, startDate: "2026-09-07", days: 120 }));
        const warm = (day: number, hours: number) => windows.some((w) => w.activeAt(day * 86400 + hours * 3600));
        assert.deepStrictEqual(
            [warm(0, 9 + 20 / 60), warm(14, 9 + 20 / 60), warm(17, 9 + 20 / 60), warm(60, 14 + 5 / 60), warm(59, 9 + 20 / 60), warm(0, 9.5)],
            [true, false, false, true, false, false],
        );
    });

    it("deploys nothing with warm: false (the timetable is then only the simulated load)", () => {
        const cfg = stack({ warm: false, calendars: [{ file: "biology-101.ics" }] });
        assert.deepStrictEqual(timetableTriggers(cfg.timetable, cfg.models[0].name, cfg.timezone, WINDOW), []);
    });

    it("names warm windows warm-<i>, as before", () => {
        assert.deepStrictEqual(warmWindowTriggers([{ days: "1-5", start: "07:30", end: "18:00", replicas: 1 }], "UTC"), [
            { name: "warm-0", start: "30 7 * * 1-5", end: "0 18 * * 1-5", timezone: "UTC", desiredReplicas: 1 },
        ]);
    });
});

describe("gpuserve:timetable in the config", () => {
    it("reads the calendar relative to the project root, and simulates it by default (traffic.profile timetable; 20 students x 6 questions unless given)", () => {
        const cfg = stack({ calendars: [{ file: "biology-101.ics", students: 24, questionsPerStudent: 8 }] });
        assert.strictEqual(cfg.timetable.slots.length, 28);
        assert.strictEqual(cfg.traffic.profile, "timetable");
        assert.deepStrictEqual(cfg.timetable.calendars, [
            { file: "biology-101.ics", sessions: 28, weeklySeries: 0, allDayEvents: 1, first: "2026-09-07", last: "2026-12-17" },
        ]);
        assert.deepStrictEqual([cfg.timetable.slots[0].students, cfg.timetable.slots[0].questionsPerStudent], [24, 8]);
        assert.deepStrictEqual(
            [
                stack({ sessions: [{ days: "1", start: "09:00", minutes: 50 }] }).timetable.slots[0].students,
                stack({ sessions: [{ days: "1", start: "09:00", minutes: 50 }] }).timetable.slots[0].questionsPerStudent,
            ],
            [20, 6],
        );
        // An explicit profile is kept.
        assert.strictEqual(stack({ calendars: [{ file: "biology-101.ics" }] }, { traffic: { profile: "office-hours" } }).traffic.profile, "office-hours");
    });

    it("names the calendar key, the event and the fix for a bad calendar, before any resource", () => {
        const dir = tempDir("calendar-");
        fs.writeFileSync(
            path.join(dir, "bad.ics"),
            [
                "BEGIN:VCALENDAR",
                "BEGIN:VEVENT",
                "SUMMARY:Biology 101",
                "DTSTART;TZID=Europe/Berlin:20260907T091500",
                "DURATION:PT90M",
                "RRULE:FREQ=MONTHLY;BYDAY=1MO;COUNT=4",
                "END:VEVENT",
                "END:VCALENDAR",
            ].join("\r\n"),
        );
        assert.strictEqual(
            configError(() => stack({ calendars: [{ file: "bad.ics" }] }, { traffic: { profile: "classroom" } }, dir)),
            'Invalid stack config: gpuserve:timetable.calendars[0].file: bad.ics, line 2: event "Biology 101" (DTSTART 20260907T091500, line 2): RRULE FREQ=MONTHLY is not supported. Fix: use FREQ=WEEKLY (with BYDAY=MO,WE ...) or FREQ=DAILY, or list the dates with RDATE',
        );
        assert.match(
            configError(() => stack({ calendars: [{ file: "missing.ics" }] }, { traffic: { profile: "classroom" } }, dir)),
            /gpuserve:timetable\.calendars\[0\]\.file: file "missing\.ics" does not exist/,
        );
    });

    it("checks the model and the replicas against maxReplicas", () => {
        assert.match(
            configError(() => stack({ sessions: [{ days: "1", start: "09:00", minutes: 50, model: "nope" }] }, { traffic: { profile: "classroom" } })),
            /gpuserve:timetable\.sessions\[0\]\.model: "nope" is not a model of this stack/,
        );
        assert.match(
            configError(() => stack({ sessions: [{ days: "1", start: "09:00", minutes: 50, replicas: 3 }] }, { traffic: { profile: "classroom" } })),
            /gpuserve:timetable\.sessions\[0\]\.replicas: warms 3 replicas, more than worker pool 'qwen3-vl-2b' may run \(maxReplicas 2\)/,
        );
    });
});
