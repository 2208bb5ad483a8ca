/** The iCalendar reader and expansion (stacks/calendar): the example course, RFC 5545 rules, time zones, bad calendars. */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { IcsError, parseIcs } from "../../stacks/calendar/ics";
import { expandCalendar } from "../../stacks/calendar/expand";
import { instantOf, wallTime } from "../../stacks/calendar/zones";

const EXAMPLE = path.join(__dirname, "../../examples/biology-101.ics");

/** A calendar around some VEVENT lines. */
const ics = (...events: string[][]) =>
    ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", ...events.flatMap((e) => ["BEGIN:VEVENT", ...e, "END:VEVENT"]), "END:VCALENDAR"].join("\r\n");
const expand = (text: string, zone = "Europe/Berlin") => expandCalendar(parseIcs(text), zone);
const hhmm = (s: number) => `${String(Math.floor(s / 3600)).padStart(2, "0")}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}`;
const when = (x: { date: string; startSeconds: number; minutes: number }) => `${x.date} ${hhmm(x.startSeconds)} ${x.minutes}`;

describe("parseIcs", () => {
    it("unfolds lines, reads quoted parameters and unescapes text", () => {
        const [e] = parseIcs(
            [
                "BEGIN:VCALENDAR",
                "BEGIN:VEVENT",
                "SUMMARY:Biology\\, cells \\; tis",
                " sues",
                'DTSTART;X-A="a:b;c";TZID=Europe/Berlin:20260907T091500',
                "DTEND;TZID=Europe/Berlin:20260907T104500",
                "END:VEVENT",
                "END:VCALENDAR",
            ].join("\n"),
        );
        assert.strictEqual(e.summary, "Biology, cells ; tissues");
        assert.deepStrictEqual(e.dtstart, { date: "2026-09-07", seconds: 9 * 3600 + 15 * 60, zone: "Europe/Berlin", raw: "20260907T091500" });
    });

    it("reads the example course: a weekly series with two cancelled sessions, a moved one, an all-day event and an alarm", () => {
        const events = parseIcs(fs.readFileSync(EXAMPLE, "utf8"));
        assert.strictEqual(events.length, 3);
        const [series, moved, trip] = events;
        assert.deepStrictEqual(series.rrule, { FREQ: "WEEKLY", BYDAY: "MO,TH", UNTIL: "20261217T235959Z" });
        assert.deepStrictEqual(
            series.exdates.map((x) => x.raw),
            ["20260921T091500", "20260924T091500"],
        );
        assert.strictEqual(moved.recurrenceId?.raw, "20261105T091500");
        assert.strictEqual(trip.dtstart?.seconds, undefined);
    });

    it("rejects a file that is not iCalendar, naming the fix", () => {
        assert.throws(
            () => parseIcs("timestamp,kind\n2026-09-07T09:00:00,image\n"),
            (e: IcsError) => e instanceof IcsError && /no BEGIN:VCALENDAR/.test(e.message) && /export the course calendar as \.ics/.test(e.fix),
        );
    });
});

describe("expandCalendar", () => {
    it("expands the example course to its 28 sessions: Mondays and Thursdays 09:15-10:45 to 17 Dec, without the field-trip week, one moved", () => {
        const c = expand(fs.readFileSync(EXAMPLE, "utf8"));
        assert.strictEqual(c.dated.length, 28);
        assert.strictEqual(c.allDay, 1);
        assert.deepStrictEqual(c.weekly, []);
        const dates = c.dated.map((s) => s.date);
        assert.deepStrictEqual(dates.slice(0, 5), ["2026-09-07", "2026-09-10", "2026-09-14", "2026-09-17", "2026-09-28"]);
        assert.ok(!dates.includes("2026-09-21") && !dates.includes("2026-09-24"), "the cancelled week");
        assert.ok(!dates.includes("2026-11-05"));
        assert.strictEqual(when(c.dated.find((s) => s.date === "2026-11-06")!), "2026-11-06 14:00 90");
        assert.strictEqual(c.dated[c.dated.length - 1].date, "2026-12-17");
        assert.ok(c.dated.every((s) => s.minutes === 90));
    });

    it("moves sessions to the stack's zone date by date: Berlin 09:15 is 03:15 in New York, 04:15 in the week only Europe has left summer time", () => {
        const c = expand(fs.readFileSync(EXAMPLE, "utf8"), "America/New_York");
        const at = (date: string) => when(c.dated.find((s) => s.date === date)!);
        assert.strictEqual(at("2026-10-22"), "2026-10-22 03:15 90");
        // Europe leaves CEST on 25 Oct, New York leaves EDT on 1 Nov.
        assert.strictEqual(at("2026-10-26"), "2026-10-26 04:15 90");
        assert.strictEqual(at("2026-10-29"), "2026-10-29 04:15 90");
        assert.strictEqual(at("2026-11-02"), "2026-11-02 03:15 90");
    });

    it("counts DTSTART as the first of COUNT sessions, even off the rule's days (RFC 5545 3.8.5.3)", () => {
        // DTSTART is a Tuesday, the rule says Mondays: Tue 1 Sep, then Mon 7 and 14 Sep.
        const c = expand(ics(["SUMMARY:Intro", "DTSTART:20260901T100000", "DURATION:PT45M", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3"]));
        assert.deepStrictEqual(c.dated.map(when), ["2026-09-01 10:00 45", "2026-09-07 10:00 45", "2026-09-14 10:00 45"]);
    });

    it("repeats every other week from the week of DTSTART (INTERVAL=2, weeks starting on WKST)", () => {
        const c = expand(
            ics([
                "SUMMARY:Seminar",
                "DTSTART;TZID=Europe/Berlin:20260908T140000",
                "DTEND;TZID=Europe/Berlin:20260908T153000",
                "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,FR;UNTIL=20261002",
            ]),
        );
        assert.deepStrictEqual(
            c.dated.map((s) => s.date),
            ["2026-09-08", "2026-09-11", "2026-09-22", "2026-09-25"],
        );
    });

    it("takes UTC times (a trailing Z) and floating times (no zone: the stack's)", () => {
        const c = expand(
            ics(["SUMMARY:A", "DTSTART:20260907T070000Z", "DTEND:20260907T080000Z"], ["SUMMARY:B", "DTSTART:20260907T090000", "DTEND:20260907T100000"]),
        );
        assert.deepStrictEqual(c.dated.map(when), ["2026-09-07 09:00 60", "2026-09-07 09:00 60"]);
    });

    it("adds RDATE sessions and drops a cancelled instance (STATUS:CANCELLED on a RECURRENCE-ID)", () => {
        const c = expand(
            ics(
                [
                    "UID:x",
                    "SUMMARY:Lab",
                    "DTSTART;TZID=Europe/Berlin:20260907T090000",
                    "DURATION:PT1H",
                    "RRULE:FREQ=DAILY;COUNT=3",
                    "RDATE;TZID=Europe/Berlin:20260912T110000",
                ],
                [
                    "UID:x",
                    "RECURRENCE-ID;TZID=Europe/Berlin:20260908T090000",
                    "DTSTART;TZID=Europe/Berlin:20260908T090000",
                    "DURATION:PT1H",
                    "STATUS:CANCELLED",
                ],
            ),
        );
        assert.deepStrictEqual(c.dated.map(when), ["2026-09-07 09:00 60", "2026-09-09 09:00 60", "2026-09-12 11:00 60"]);
    });

    it("keeps a series without end as a weekly pattern (deployed as a weekly cron)", () => {
        const c = expand(
            ics([
                "SUMMARY:Office hour",
                "DTSTART;TZID=Europe/Berlin:20260907T160000",
                "DTEND;TZID=Europe/Berlin:20260907T170000",
                "RRULE:FREQ=WEEKLY;BYDAY=MO,WE",
            ]),
        );
        assert.deepStrictEqual(c.dated, []);
        assert.deepStrictEqual(c.weekly, [{ days: [1, 3], startSeconds: 16 * 3600, minutes: 60, summary: "Office hour", dtstart: "20260907T160000", line: 4 }]);
    });

    describe("bad calendars: a clear error with the event (SUMMARY, DTSTART) and the fix", () => {
        const rejects = (text: string, message: RegExp, fix: RegExp, zone = "Europe/Berlin") =>
            assert.throws(
                () => expand(text, zone),
                (e: unknown) => {
                    assert.ok(e instanceof IcsError, String(e));
                    assert.match(e.message, message);
                    assert.match(e.fix, fix);
                    return true;
                },
            );
        const lab = ["SUMMARY:Biology 101", "DTSTART;TZID=Europe/Berlin:20260907T091500"];

        it("a monthly rule", () =>
            rejects(
                ics([...lab, "DURATION:PT90M", "RRULE:FREQ=MONTHLY;BYDAY=1MO"]),
                /^event "Biology 101" \(DTSTART 20260907T091500, line 4\): RRULE FREQ=MONTHLY is not supported$/,
                /FREQ=WEEKLY/,
            ));
        it("an ordinal weekday", () =>
            rejects(ics([...lab, "DURATION:PT90M", "RRULE:FREQ=WEEKLY;BYDAY=1MO;COUNT=3"]), /BYDAY=1MO has "1MO", which is not a weekday/, /BYDAY=MO,WE,FR/));
        it("an unsupported rule part", () =>
            rejects(ics([...lab, "DURATION:PT90M", "RRULE:FREQ=WEEKLY;BYMONTH=9;COUNT=3"]), /RRULE part BYMONTH is not supported/, /FREQ=WEEKLY/));
        it("UNTIL and COUNT together", () =>
            rejects(ics([...lab, "DURATION:PT90M", "RRULE:FREQ=WEEKLY;COUNT=3;UNTIL=20261201"]), /both UNTIL and COUNT/, /keep UNTIL/));
        it("no end", () => rejects(ics(lab), /^event "Biology 101" \(DTSTART 20260907T091500, line 4\) has no end: neither DTEND nor DURATION$/, /add DTEND/));
        it("an end before the start", () =>
            rejects(ics([...lab, "DTEND;TZID=Europe/Berlin:20260907T090000"]), /ends before it starts/, /must come after DTSTART/));
        it("a day-long session", () => rejects(ics([...lab, "DURATION:PT13H"]), /lasts 13 h; a session lasts at most 12 h/, /split it/));
        it("a Windows time zone name", () =>
            rejects(
                ics(["SUMMARY:Biology 101", "DTSTART;TZID=W. Europe Standard Time:20260907T091500", "DURATION:PT90M"]),
                /uses TZID "W\. Europe Standard Time", which is not an IANA time zone/,
                /IANA zone names \(e\.g\. TZID=Europe\/Berlin/,
            ));
        it("exceptions to a series without end", () =>
            rejects(
                ics([...lab, "DURATION:PT90M", "RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE;TZID=Europe/Berlin:20260921T091500"]),
                /repeats without end \(no UNTIL or COUNT\) and has exceptions/,
                /UNTIL=/,
            ));
        it("a series without end in another zone than the stack's", () =>
            rejects(
                ics([...lab, "DURATION:PT90M", "RRULE:FREQ=WEEKLY;BYDAY=MO"]),
                /in Europe\/Berlin, but the stack's gpuserve:timezone is America\/New_York/,
                /set gpuserve:timezone to Europe\/Berlin/,
                "America/New_York",
            ));
        it("sessions over more than a year", () =>
            rejects(
                ics([...lab, "DURATION:PT90M", "RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20271231"]),
                /from 2026-09-07 to 2027-12-27, more than a year/,
                /one term or school year at a time/,
            ));
        it("a bad date", () =>
            rejects(
                ics(["SUMMARY:Biology 101", "DTSTART;TZID=Europe/Berlin:20260931T091500", "DURATION:PT90M"]),
                /DTSTART 20260931T091500 is not a calendar date/,
                /check the date/,
            ));
    });
});

describe("zones", () => {
    it("takes a time skipped by the spring change with the offset before it, and the first of a repeated autumn time (RFC 5545 3.3.5)", () => {
        // Europe/Berlin: 29 Mar 2026 02:30 does not exist (02:00 -> 03:00), 25 Oct 2026 02:30 happens twice.
        assert.strictEqual(new Date(instantOf({ date: "2026-03-29", seconds: 2.5 * 3600 }, "Europe/Berlin")).toISOString(), "2026-03-29T01:30:00.000Z");
        assert.strictEqual(new Date(instantOf({ date: "2026-10-25", seconds: 2.5 * 3600 }, "Europe/Berlin")).toISOString(), "2026-10-25T00:30:00.000Z");
        assert.deepStrictEqual(wallTime(Date.UTC(2026, 9, 25, 1, 30), "Europe/Berlin"), { date: "2026-10-25", seconds: 2.5 * 3600 });
    });
});
