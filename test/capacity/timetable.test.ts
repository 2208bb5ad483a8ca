/** The "timetable" traffic profile: schema errors per session, weekly repetition with noise, routing, the built-in classroom week. */
import * as assert from "assert";
import { ConfigError } from "../../stacks/errors";
import { trafficSchema } from "../../stacks/schema";
import { buildTrace } from "../../capacity/traffic";
import { ATTENDANCE, CANCEL_PROBABILITY, CLASSROOM_TIMETABLE, timetableOccurrences, weeklyLoad } from "../../capacity/traffic/timetable";
import { oneStack } from "./helpers";

const targets = [
    { name: "qwen3-vl-2b", id: "Qwen/Qwen3-VL-2B-Instruct" },
    { name: "medgemma", id: "google/medgemma-1.5-4b-it" },
];
const session = { days: "1,3", start: "09:00", minutes: 50, students: 20, questionsPerStudent: 6 };

function configError(traffic: Record<string, unknown>): string {
    try {
        oneStack({ traffic });
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
        return e.message;
    }
    assert.fail("config was accepted");
}

describe("timetable schema", () => {
    it("names the session and field of a bad value", () => {
        const bad = [session, session, { ...session, start: "9am" }];
        assert.strictEqual(
            configError({ profile: "timetable", timetable: bad }),
            'Invalid stack config: gpuserve:traffic.timetable[2].start: must be HH:MM (24h), e.g. 09:00 (got "9am"). Fix: set a valid value (see docs/config.md)',
        );
        assert.match(
            configError({ profile: "timetable", timetable: [{ ...session, days: "mon" }] }),
            /gpuserve:traffic\.timetable\[0\]\.days: must be cron day-of-week syntax/,
        );
        assert.match(
            configError({ profile: "timetable", timetable: [{ ...session, student: 20 }] }),
            /gpuserve:traffic\.timetable\[0\]\.student: unknown key 'student'\. Fix: did you mean 'students'\?/,
        );
    });

    it("requires at least one session for profile timetable", () => {
        assert.match(
            configError({ profile: "timetable" }),
            /gpuserve:traffic\.timetable: profile "timetable" needs sessions: in traffic\.timetable, or gpuserve:timetable sessions or calendars\. Fix: add e\.g\. gpuserve:timetable/,
        );
    });

    it("refuses a session whose model is not a model of the stack", () => {
        assert.strictEqual(
            configError({ profile: "timetable", timetable: [session, { ...session, model: "org/nope" }] }),
            'Invalid stack config: gpuserve:traffic.timetable[1].model: session 1 uses model "org/nope", which is not a model of this stack. Fix: use a model id or name from gpuserve:models (Qwen/Qwen3-VL-2B-Instruct), or leave it out for the first model',
        );
    });

    it("accepts the issue's example shape, model optional", () => {
        const t = trafficSchema.parse({ profile: "timetable", timetable: [{ ...session, model: "Qwen/Qwen3-VL-2B-Instruct" }, session] });
        assert.strictEqual(t.timetable[1].model, undefined);
    });
});

describe("timetable generator", () => {
    it("repeats each session every week on its days only, starting within [-2, +5] min of the schedule, length within 10 %", () => {
        const occ = timetableOccurrences(weeklyLoad([session], targets), 28, 1, 7);
        const expected = 8; // Mon and Wed of four weeks
        assert.ok(occ.length <= expected && occ.length >= expected - 3, `${occ.length} classes`);
        for (const c of occ) {
            const weekday = (1 + Math.floor(c.start / 86400)) % 7;
            assert.ok(weekday === 1 || weekday === 3, `weekday ${weekday}`);
            const offset = (c.start - c.scheduled) / 60;
            assert.ok(offset >= -2 && offset <= 5, `start offset ${offset} min`);
            const minutes = (c.end - c.start) / 60;
            assert.ok(minutes >= 45 - 1e-9 && minutes <= 55 + 1e-9, `length ${minutes} min`);
        }
    });

    it("cancels a few classes over many weeks, and keeps a day's classes whatever the span generated", () => {
        const long = timetableOccurrences(weeklyLoad([{ ...session, days: "0-6" }], targets), 700, 1, 3);
        const rate = 1 - long.length / 700;
        assert.ok(Math.abs(rate - CANCEL_PROBABILITY) < 0.03, `cancelled ${rate}`);
        const short = timetableOccurrences(weeklyLoad([{ ...session, days: "0-6" }], targets), 14, 1, 3);
        assert.deepStrictEqual(
            short,
            long.filter((c) => c.start < 14 * 86400),
        );
    });

    it("sends students x questions x attendance requests per class, inside the class, to the session's model", () => {
        const traffic = trafficSchema.parse({ profile: "timetable", seed: 5, timetable: [{ ...session, days: "0-6", model: "medgemma" }] });
        const trace = buildTrace(traffic, targets, { days: 56, timezone: "UTC" });
        const occ = timetableOccurrences(weeklyLoad(traffic.timetable, targets), 56, 1, 5);
        const perClass = trace.times.length / occ.length;
        const expected = 20 * 6 * ATTENDANCE;
        assert.ok(Math.abs(perClass - expected) < expected * 0.08, `${perClass} requests per class, expected ~${expected}`);
        assert.ok(trace.pools.every((p) => p === 1));
        let k = 0;
        for (const t of trace.times) {
            while (k < occ.length && occ[k].end < t) k++;
            assert.ok(k < occ.length && t >= occ[k].start && t <= occ[k].end, `request at ${t} outside classes`);
        }
    });

    it("makes the built-in classroom profile a weekly timetable of 20-student classes", () => {
        const a = buildTrace(trafficSchema.parse({ profile: "classroom" }), targets, { days: 7, timezone: "UTC" });
        const b = buildTrace(trafficSchema.parse({ profile: "timetable", timetable: CLASSROOM_TIMETABLE }), targets, { days: 7, timezone: "UTC" });
        assert.deepStrictEqual(a.times, b.times);
        assert.ok(CLASSROOM_TIMETABLE.every((s) => s.students === 20));
        for (const t of a.times) assert.ok((1 + Math.floor(t / 86400)) % 7 >= 1 && (1 + Math.floor(t / 86400)) % 7 <= 5, "weekdays only");
    });
});
