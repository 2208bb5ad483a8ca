/**
 * A course calendar's sessions, in the stack's time zone: every instance of every timed
 * VEVENT (ics.ts), recurring events expanded per RFC 5545 3.3.10 and 3.8.5 for the rules a
 * course calendar uses (FREQ=WEEKLY or DAILY, INTERVAL, BYDAY, WKST, UNTIL, COUNT), minus
 * EXDATE and cancelled instances, plus RDATE and moved instances (RECURRENCE-ID).
 *
 * - A rule with an end (UNTIL or COUNT) gives dated sessions: each is deployed on its date, so
 *   a cancelled week costs nothing.
 * - A rule without an end gives a weekly pattern (deployed as a weekly cron, like
 *   gpuserve:timetable.sessions). Exceptions to it cannot be deployed that way: an
 *   unbounded rule with EXDATE, RDATE or moved instances is an error that says to add UNTIL.
 * - All-day events (holidays, deadlines) are not sessions and are skipped (counted).
 */
import { IcsError, IcsEvent, IcsTime } from "./ics";
import { WallTime, dateOfDay, dayOfDate, instantOf, isTimeZone, wallTime, weekdayOf } from "./zones";

/** One session on a date, in the stack's zone. */
export interface DatedSession {
    /** "YYYY-MM-DD" of its start. */
    readonly date: string;
    /** Seconds after midnight of its start. */
    readonly startSeconds: number;
    readonly minutes: number;
    readonly summary: string;
    /** The event's DTSTART as written, and its line, for messages. */
    readonly dtstart: string;
    readonly line: number;
}

/** A session every week on `days` (cron weekdays, 0 = Sunday), in the stack's zone. */
export interface WeeklyPattern {
    readonly days: readonly number[];
    readonly startSeconds: number;
    readonly minutes: number;
    readonly summary: string;
    readonly dtstart: string;
    readonly line: number;
}

export interface ExpandedCalendar {
    readonly dated: readonly DatedSession[];
    readonly weekly: readonly WeeklyPattern[];
    /** All-day events skipped. */
    readonly allDay: number;
}

/** Sessions one file may give (each dated session becomes part of a cron trigger). */
const MAX_SESSIONS = 1000;
/** Longest session, as for gpuserve:timetable.sessions. */
const MAX_SESSION_MINUTES = 12 * 60;
/** Dated sessions repeat yearly as cron (no year field): they must fit in a year. */
const MAX_SPAN_DAYS = 365;

const WEEKDAYS = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"] as const;
const SUPPORTED_RULE_PARTS = new Set(["FREQ", "INTERVAL", "BYDAY", "WKST", "UNTIL", "COUNT"]);

/** The instances of the calendar's events, moved to `stackZone` (an IANA name). */
export function expandCalendar(events: readonly IcsEvent[], stackZone: string): ExpandedCalendar {
    const dated: DatedSession[] = [];
    const weekly: WeeklyPattern[] = [];
    let allDay = 0;
    const overrides = new Map<string, IcsEvent[]>();
    for (const e of events) {
        if (e.recurrenceId && e.uid !== undefined) overrides.set(e.uid, [...(overrides.get(e.uid) ?? []), e]);
    }
    for (const e of events) {
        if (e.recurrenceId) continue;
        const own = e.uid !== undefined ? (overrides.get(e.uid) ?? []) : [];
        if (e.status === "CANCELLED") continue;
        if (!e.dtstart)
            throw new IcsError(
                `event ${name(e)} (line ${e.line}) has no DTSTART`,
                e.line,
                "give the event a start (DTSTART;TZID=Europe/Berlin:20260907T090000)",
                e,
            );
        if (e.dtstart.seconds === undefined) {
            allDay++;
            continue;
        }
        const zone = eventZone(e, e.dtstart, stackZone);
        const duration = durationOf(e, zone, stackZone);
        const start: WallTime = { date: e.dtstart.date, seconds: e.dtstart.seconds };
        const session = (ms: number, ev: IcsEvent, seconds: number): DatedSession => {
            const w = wallTime(ms, stackZone);
            return {
                date: w.date,
                startSeconds: w.seconds,
                minutes: Math.round(seconds / 60),
                summary: ev.summary ?? "(no SUMMARY)",
                dtstart: ev.dtstart!.raw,
                line: ev.line,
            };
        };
        const rule = e.rrule;
        if (rule && rule.UNTIL === undefined && rule.COUNT === undefined) {
            weekly.push(unbounded(e, rule, start, zone, stackZone, duration, own));
            continue;
        }
        const starts = rule ? expandRule(e, rule, start, zone) : [start];
        const instants = new Set<number>();
        for (const s of starts) instants.add(instantOf(s, zone));
        for (const r of e.rdates)
            instants.add(
                r.seconds === undefined
                    ? instantOf({ date: r.date, seconds: start.seconds }, zone)
                    : instantOf({ date: r.date, seconds: r.seconds }, timeZoneOf(r, zone, e, stackZone)),
            );
        for (const x of e.exdates) {
            for (const ms of [...instants]) {
                const hit =
                    x.seconds === undefined
                        ? wallTime(ms, zone).date === x.date
                        : ms === instantOf({ date: x.date, seconds: x.seconds }, timeZoneOf(x, zone, e, stackZone));
                if (hit) instants.delete(ms);
            }
        }
        const moved: DatedSession[] = [];
        for (const o of own) {
            if (o.recurrenceRange === "THISANDFUTURE")
                throw new IcsError(
                    `event ${name(o)} (line ${o.line}) changes all later sessions (RECURRENCE-ID;RANGE=THISANDFUTURE), which is not supported`,
                    o.line,
                    "export the calendar with each changed session written out, or split the series in two events",
                    o,
                );
            const id = o.recurrenceId!;
            const original =
                id.seconds === undefined
                    ? [...instants].find((ms) => wallTime(ms, zone).date === id.date)
                    : instantOf({ date: id.date, seconds: id.seconds }, timeZoneOf(id, zone, o, stackZone));
            if (original !== undefined) instants.delete(original);
            if (o.status === "CANCELLED") continue;
            if (!o.dtstart || o.dtstart.seconds === undefined) continue;
            const oz = eventZone(o, o.dtstart, stackZone);
            const od = o.dtend || o.durationSeconds !== undefined ? durationOf(o, oz, stackZone) : duration;
            moved.push(session(instantOf({ date: o.dtstart.date, seconds: o.dtstart.seconds }, oz), o, od));
        }
        for (const ms of [...instants].sort((a, b) => a - b)) dated.push(session(ms, e, duration));
        dated.push(...moved);
    }
    dated.sort((a, b) => a.date.localeCompare(b.date) || a.startSeconds - b.startSeconds);
    if (dated.length > MAX_SESSIONS) {
        const last = dated[MAX_SESSIONS];
        throw new IcsError(
            `the calendar has ${dated.length} sessions, more than ${MAX_SESSIONS}`,
            last.line,
            "keep one term's courses in a file (each dated session becomes part of a KEDA cron trigger)",
        );
    }
    if (dated.length > 1) {
        const first = dated[0];
        const last = dated[dated.length - 1];
        if (dayOfDate(last.date) - dayOfDate(first.date) > MAX_SPAN_DAYS) {
            throw new IcsError(
                `the calendar's sessions run from ${first.date} to ${last.date}, more than a year (event ${JSON.stringify(last.summary)}, line ${last.line})`,
                last.line,
                "give the stack one term or school year at a time: date-specific cron triggers have no year and would fire on the same dates every year",
            );
        }
    }
    return { dated, weekly, allDay };
}

function name(e: Pick<IcsEvent, "summary">): string {
    return JSON.stringify(e.summary ?? "(no SUMMARY)");
}

/** The IANA zone a time is written in: its TZID, UTC for a trailing Z, the stack's when floating. */
function timeZoneOf(t: IcsTime, fallback: string, e: IcsEvent, stackZone: string): string {
    if (t.zone === "floating") return fallback === "floating" ? stackZone : fallback;
    if (t.zone === "utc") return "UTC";
    if (!isTimeZone(t.zone)) {
        throw new IcsError(
            `event ${name(e)} (line ${e.line}) uses TZID ${JSON.stringify(t.zone)}, which is not an IANA time zone`,
            e.line,
            'export the calendar with IANA zone names (e.g. TZID=Europe/Berlin; Outlook\'s Windows names such as "W. Europe Standard Time" are not understood), or write times in UTC (20260907T070000Z)',
            e,
        );
    }
    return t.zone;
}

function eventZone(e: IcsEvent, t: IcsTime, stackZone: string): string {
    return timeZoneOf(t, stackZone, e, stackZone);
}

/** Seconds from DTSTART to DTEND (instants), or DURATION; a session must have a positive length of at most 12 h. */
function durationOf(e: IcsEvent, zone: string, stackZone: string): number {
    const s = e.dtstart!;
    let seconds: number;
    if (e.dtend) {
        if (e.dtend.seconds === undefined)
            throw new IcsError(
                `event ${name(e)} (line ${e.line}) starts at a time (DTSTART ${s.raw}) but ends on a date (DTEND ${e.dtend.raw})`,
                e.line,
                "give DTEND a time too, e.g. DTEND;TZID=Europe/Berlin:20260907T095000",
                e,
            );
        seconds =
            (instantOf({ date: e.dtend.date, seconds: e.dtend.seconds }, timeZoneOf(e.dtend, zone, e, stackZone)) -
                instantOf({ date: s.date, seconds: s.seconds! }, zone)) /
            1000;
    } else if (e.durationSeconds !== undefined) seconds = e.durationSeconds;
    else
        throw new IcsError(
            `event ${name(e)} (DTSTART ${s.raw}, line ${e.line}) has no end: neither DTEND nor DURATION`,
            e.line,
            "add DTEND (or DURATION:PT50M) to the event",
            e,
        );
    if (seconds <= 0)
        throw new IcsError(
            `event ${name(e)} (DTSTART ${s.raw}, line ${e.line}) ends before it starts`,
            e.line,
            "check DTEND (or DURATION): it must come after DTSTART",
            e,
        );
    if (seconds > MAX_SESSION_MINUTES * 60)
        throw new IcsError(
            `event ${name(e)} (DTSTART ${s.raw}, line ${e.line}) lasts ${Math.round(seconds / 3600)} h; a session lasts at most ${MAX_SESSION_MINUTES / 60} h`,
            e.line,
            "split it, or leave all-day and multi-day events out of the course calendar",
            e,
        );
    return seconds;
}

interface Rule {
    readonly freq: "WEEKLY" | "DAILY";
    readonly interval: number;
    /** BYDAY as cron weekdays, or undefined. */
    readonly byDay?: readonly number[];
    readonly wkst: number;
}

function parseRule(e: IcsEvent, rule: Readonly<Record<string, string>>): Rule {
    const bad = (what: string, fix: string) => new IcsError(`event ${name(e)} (DTSTART ${e.dtstart!.raw}, line ${e.line}): ${what}`, e.line, fix, e);
    const unsupported = Object.keys(rule).filter((k) => !SUPPORTED_RULE_PARTS.has(k));
    if (unsupported.length > 0)
        throw bad(
            `RRULE part${unsupported.length > 1 ? "s" : ""} ${unsupported.join(", ")} ${unsupported.length > 1 ? "are" : "is"} not supported`,
            "a course session repeats weekly or daily: use FREQ=WEEKLY with BYDAY (and UNTIL or COUNT), or list the dates with RDATE",
        );
    if (rule.FREQ !== "WEEKLY" && rule.FREQ !== "DAILY")
        throw bad(
            `RRULE FREQ=${rule.FREQ ?? "(missing)"} is not supported`,
            "use FREQ=WEEKLY (with BYDAY=MO,WE ...) or FREQ=DAILY, or list the dates with RDATE",
        );
    if (rule.COUNT !== undefined && rule.UNTIL !== undefined)
        throw bad("RRULE has both UNTIL and COUNT (RFC 5545 allows one)", "keep UNTIL (the last day of term)");
    const interval = rule.INTERVAL === undefined ? 1 : Number(rule.INTERVAL);
    if (!Number.isInteger(interval) || interval < 1)
        throw bad(`RRULE INTERVAL=${rule.INTERVAL} is not a whole number >= 1`, "write INTERVAL=2 for every other week");
    if (rule.COUNT !== undefined && !(Number.isInteger(Number(rule.COUNT)) && Number(rule.COUNT) >= 1))
        throw bad(`RRULE COUNT=${rule.COUNT} is not a whole number >= 1`, "write COUNT=15 for fifteen sessions");
    const day = (d: string) => {
        const i = WEEKDAYS.indexOf(d as (typeof WEEKDAYS)[number]);
        if (i < 0)
            throw bad(
                `RRULE BYDAY=${rule.BYDAY} has ${JSON.stringify(d)}, which is not a weekday (an ordinal such as 1MO is not supported)`,
                "list weekdays: BYDAY=MO,WE,FR",
            );
        return i;
    };
    return {
        freq: rule.FREQ,
        interval,
        byDay: rule.BYDAY === undefined ? undefined : rule.BYDAY.split(",").map(day),
        wkst: rule.WKST === undefined ? 1 : day(rule.WKST),
    };
}

/** Instance starts (in the event's zone) of a rule with UNTIL or COUNT; DTSTART always counts as the first (RFC 5545 3.8.5.3). */
function expandRule(e: IcsEvent, raw: Readonly<Record<string, string>>, start: WallTime, zone: string): WallTime[] {
    const rule = parseRule(e, raw);
    const count = raw.COUNT === undefined ? Infinity : Number(raw.COUNT);
    let untilMs = Infinity;
    let untilDate: string | undefined;
    if (raw.UNTIL !== undefined) {
        const u = parseUntil(e, raw.UNTIL);
        if (u.seconds === undefined) untilDate = u.date;
        else untilMs = instantOf({ date: u.date, seconds: u.seconds }, u.zone === "utc" ? "UTC" : zone);
    }
    const first = dayOfDate(start.date);
    const days = rule.byDay ?? [weekdayOf(start.date)];
    const out: WallTime[] = [start];
    const within = (date: string) => (untilDate !== undefined ? date <= untilDate : instantOf({ date, seconds: start.seconds }, zone) <= untilMs);
    // Candidates in date order; the first one past UNTIL or the COUNT-th ends the set.
    const step = rule.freq === "WEEKLY" ? 7 * rule.interval : rule.interval;
    const base = rule.freq === "WEEKLY" ? first - ((weekdayOf(start.date) - rule.wkst + 7) % 7) : first;
    for (let k = 0; out.length < count; k++) {
        const span = rule.freq === "WEEKLY" ? 7 : 1;
        let past = false;
        for (let o = 0; o < span && out.length < count; o++) {
            const d = base + k * step + o;
            if (d <= first) continue;
            const date = dateOfDay(d);
            if (rule.freq === "DAILY" ? rule.byDay !== undefined && !rule.byDay.includes(weekdayOf(date)) : !days.includes(weekdayOf(date))) continue;
            if (!within(date)) {
                past = true;
                break;
            }
            out.push({ date, seconds: start.seconds });
        }
        if (past) break;
        if (out.length > MAX_SESSIONS)
            throw new IcsError(
                `event ${name(e)} (DTSTART ${e.dtstart!.raw}, line ${e.line}) repeats more than ${MAX_SESSIONS} times`,
                e.line,
                "end the series at the end of term (RRULE ...;UNTIL=20261218T235959Z)",
                e,
            );
        if (base + k * step - first > 4 * 366)
            throw new IcsError(
                `event ${name(e)} (DTSTART ${e.dtstart!.raw}, line ${e.line}) repeats for more than four years`,
                e.line,
                "end the series at the end of term (RRULE ...;UNTIL=20261218T235959Z)",
                e,
            );
    }
    return out;
}

function parseUntil(e: IcsEvent, v: string): IcsTime {
    const d = /^(\d{4})(\d{2})(\d{2})$/.exec(v);
    if (d) return { date: `${d[1]}-${d[2]}-${d[3]}`, zone: "floating", raw: v };
    const t = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)$/.exec(v);
    if (t) return { date: `${t[1]}-${t[2]}-${t[3]}`, seconds: Number(t[4]) * 3600 + Number(t[5]) * 60 + Number(t[6]), zone: t[7] ? "utc" : "floating", raw: v };
    throw new IcsError(
        `event ${name(e)} (DTSTART ${e.dtstart!.raw}, line ${e.line}): RRULE UNTIL=${v} is not a date or date-time`,
        e.line,
        "write UNTIL=20261218T235959Z or UNTIL=20261218",
        e,
    );
}

/** A rule without an end: a weekly pattern, when the stack can deploy it as a weekly cron. */
function unbounded(
    e: IcsEvent,
    raw: Readonly<Record<string, string>>,
    start: WallTime,
    zone: string,
    stackZone: string,
    duration: number,
    own: readonly IcsEvent[],
): WeeklyPattern {
    const rule = parseRule(e, raw);
    const fix = "end the series at the end of term (RRULE ...;UNTIL=20261218T235959Z): each session is then deployed on its date";
    const where = `event ${name(e)} (DTSTART ${e.dtstart!.raw}, line ${e.line}) repeats without end (no UNTIL or COUNT)`;
    if (e.exdates.length > 0 || e.rdates.length > 0 || own.length > 0)
        throw new IcsError(`${where} and has exceptions (EXDATE, RDATE or moved sessions), which a weekly cron trigger cannot skip`, e.line, fix, e);
    if (rule.interval > 1)
        throw new IcsError(`${where} every ${rule.interval} ${rule.freq === "WEEKLY" ? "weeks" : "days"}, which a cron trigger cannot express`, e.line, fix, e);
    const same = zone === stackZone || (zone === "UTC" && ["UTC", "Etc/UTC"].includes(stackZone));
    if (!same)
        throw new IcsError(
            `${where} in ${zone}, but the stack's gpuserve:timezone is ${stackZone}: a weekly trigger in another zone drifts an hour when only one of them changes to or from daylight-saving time`,
            e.line,
            `${fix}, or set gpuserve:timezone to ${zone}`,
            e,
        );
    const days = rule.freq === "DAILY" ? (rule.byDay ?? [0, 1, 2, 3, 4, 5, 6]) : (rule.byDay ?? [weekdayOf(start.date)]);
    return {
        days: [...new Set(days)].sort((a, b) => a - b),
        startSeconds: start.seconds,
        minutes: Math.round(duration / 60),
        summary: e.summary ?? "(no SUMMARY)",
        dtstart: e.dtstart!.raw,
        line: e.line,
    };
}
