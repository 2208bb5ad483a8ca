/**
 * The stack's timetable (gpuserve:timetable), resolved: weekly sessions from the config and
 * every session of its iCalendar files (stacks/calendar), each with the worker pool it warms
 * and, when given, the students it brings (the simulated load). Read while the config is
 * validated, so a bad calendar stops the deploy before any resource, naming the event.
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigIssue, configKey, showValue } from "./errors";
import { IcsError, parseIcs } from "./calendar/ics";
import { expandCalendar } from "./calendar/expand";
import { dayOfDate, dateOfDay, weekdayOf } from "./calendar/zones";
import { PROJECT, ParsedStackConfig } from "./schema";
import { hhmmToMinutes, parseCronDays } from "./calendar/clock";

/** One session slot: weekly (days) or on a date. Times are the stack's local wall clock. */
export interface TimetableSlot {
    /** Worker pool (model name) it warms and loads. */
    readonly pool: string;
    readonly replicas: number;
    /** Seconds after local midnight it starts. */
    readonly startSeconds: number;
    readonly minutes: number;
    /** Weekly: cron weekdays (0 = Sunday). */
    readonly days?: readonly number[];
    /** Dated: "YYYY-MM-DD". */
    readonly date?: string;
    /** The simulated load of the session (profile "timetable"). */
    readonly students: number;
    readonly questionsPerStudent: number;
    /** Where it comes from, for the plan: "sessions[0]" or 'biology-101.ics "Biology 101"'. */
    readonly source: string;
}

export interface CalendarSummary {
    readonly file: string;
    readonly sessions: number;
    readonly weeklySeries: number;
    readonly allDayEvents: number;
    readonly first?: string;
    readonly last?: string;
}

export interface ResolvedTimetable {
    /** Deploy the cron triggers (gpuserve:timetable.warm). */
    readonly warm: boolean;
    readonly leadSeconds?: number;
    /** gpuserve:timetable.hold: "start" (the first minutes of a session) or "session" (all of it). */
    readonly hold: "start" | "session";
    /** gpuserve:timetable.afterSessionLookbackSeconds: the recent-requests window outside sessions (0: off). */
    readonly afterSessionLookbackSeconds: number;
    /** Worker pools whose predictive warm-up is off only because the timetable warms them (stacks/validate.ts). */
    readonly predictiveOff: readonly string[];
    readonly slots: readonly TimetableSlot[];
    readonly calendars: readonly CalendarSummary[];
}

type ParsedTimetable = ParsedStackConfig["timetable"];

const key = (...p: PropertyKey[]) => configKey(PROJECT, p);

/** The first date of the dated slots, or undefined. */
export function firstDate(t: ResolvedTimetable): string | undefined {
    return t.slots.reduce<string | undefined>((a, s) => (s.date !== undefined && (a === undefined || s.date < a) ? s.date : a), undefined);
}

/** The Monday on or before a date (a simulated span with dated sessions starts there). */
export function mondayOf(date: string): string {
    return dateOfDay(dayOfDate(date) - ((weekdayOf(date) + 6) % 7));
}

/**
 * Resolves gpuserve:timetable: model references to worker pool names, calendar files read
 * (relative to `root`) and expanded in the stack's time zone. Problems go to `issues`.
 */
export function resolveTimetable(
    t: ParsedTimetable,
    models: readonly { readonly name: string; readonly id: string }[],
    timezone: string,
    root: string,
    issues: ConfigIssue[],
): ResolvedTimetable {
    const poolOf = (model: string | undefined, at: PropertyKey[]): string | undefined => {
        if (model === undefined) return models[0]?.name;
        const m = models.find((x) => x.name === model) ?? models.find((x) => x.id === model);
        if (!m)
            issues.push({
                key: key(...at, "model"),
                message: `${showValue(model)} is not a model of this stack`,
                fix: `use a model id or name from gpuserve:models (${models.map((x) => x.name).join(", ")}), or leave it out for the first model`,
            });
        return m?.name;
    };
    const slots: TimetableSlot[] = [];
    t.sessions.forEach((s, i) => {
        const pool = poolOf(s.model, ["timetable", "sessions", i]);
        if (pool === undefined) return;
        const on = parseCronDays(s.days);
        slots.push({
            pool,
            replicas: s.replicas,
            startSeconds: hhmmToMinutes(s.start) * 60,
            minutes: s.minutes,
            days: on.flatMap((x, d) => (x ? [d] : [])),
            students: s.students,
            questionsPerStudent: s.questionsPerStudent,
            source: `sessions[${i}]`,
        });
    });
    const calendars: CalendarSummary[] = [];
    t.calendars.forEach((c, i) => {
        const at = ["timetable", "calendars", i];
        const pool = poolOf(c.model, at);
        const file = path.resolve(root, c.file);
        if (!fs.existsSync(file)) {
            issues.push({
                key: key(...at, "file"),
                message: `file ${showValue(c.file)} does not exist (looked in ${file})`,
                fix: "give the path of the .ics file relative to the project root (the directory of Pulumi.yaml)",
            });
            return;
        }
        let expanded;
        try {
            expanded = expandCalendar(parseIcs(fs.readFileSync(file, "utf8")), timezone);
        } catch (e) {
            if (!(e instanceof IcsError)) throw e;
            issues.push({ key: key(...at, "file"), message: `${c.file}, line ${e.line}: ${e.message}`, fix: e.fix });
            return;
        }
        if (expanded.dated.length === 0 && expanded.weekly.length === 0) {
            issues.push({
                key: key(...at, "file"),
                message: `${c.file} has no timed event${expanded.allDay > 0 ? ` (only ${expanded.allDay} all-day event${expanded.allDay > 1 ? "s" : ""})` : ""}`,
                fix: "export the calendar that holds the course's sessions (events with a start and end time)",
            });
            return;
        }
        if (pool === undefined) return;
        const name = path.basename(c.file);
        const use = { pool, replicas: c.replicas, students: c.students, questionsPerStudent: c.questionsPerStudent };
        for (const s of expanded.dated)
            slots.push({ ...use, startSeconds: s.startSeconds, minutes: s.minutes, date: s.date, source: `${name} ${JSON.stringify(s.summary)}` });
        for (const w of expanded.weekly)
            slots.push({ ...use, startSeconds: w.startSeconds, minutes: w.minutes, days: w.days, source: `${name} ${JSON.stringify(w.summary)}` });
        calendars.push({
            file: c.file,
            sessions: expanded.dated.length,
            weeklySeries: expanded.weekly.length,
            allDayEvents: expanded.allDay,
            first: expanded.dated[0]?.date,
            last: expanded.dated[expanded.dated.length - 1]?.date,
        });
    });
    // Dated slots of all calendars together: cron has no year, so they must fit in one year too.
    const dates = slots.flatMap((s) => (s.date ? [s.date] : [])).sort();
    if (dates.length > 1 && dayOfDate(dates[dates.length - 1]) - dayOfDate(dates[0]) > 365) {
        issues.push({
            key: key("timetable", "calendars"),
            message: `the calendars' sessions run from ${dates[0]} to ${dates[dates.length - 1]}, more than a year`,
            fix: "give the stack one term or school year at a time: date-specific cron triggers have no year and would fire on the same dates every year",
        });
    }
    return {
        warm: t.warm,
        leadSeconds: t.leadSeconds,
        hold: t.hold,
        afterSessionLookbackSeconds: t.afterSessionLookbackSeconds,
        predictiveOff: [],
        slots,
        calendars,
    };
}
