/**
 * The "timetable" profile: classes that repeat every week, or happen on the dates of the
 * stack's course calendar. The user lists sessions (`traffic.timetable`: days, start,
 * minutes, students, questionsPerStudent, model), or gives the stack its timetable
 * (gpuserve:timetable, stacks/timetable.ts: weekly sessions and .ics calendars) with students;
 * the generator replays them with the noise real classes have. The built-in "classroom"
 * profile is such a timetable (CLASSROOM_TIMETABLE).
 *
 * Noise per occurrence (assumptions, not measurements: a teaching lab's usual drift):
 * - cancelled with probability CANCEL_PROBABILITY (holiday, teacher ill);
 * - actual start = scheduled start + uniform[-2, +5] min (classes start a little late);
 * - length x uniform[0.9, 1.1];
 * - each student attends with probability ATTENDANCE and opens the app exp(mean 2 min)
 *   after the start (late arrivals), then asks Poisson(questionsPerStudent) questions at
 *   uniform times between arriving and the end of the session.
 * Draws are keyed by (seed, session entry, day), so day d's classes do not depend on
 * how many days are generated (a week of history before the span stays the same).
 * A calendar's own exceptions (EXDATE) are not sessions at all; the random cancellations
 * above come on top (a teacher falls ill whatever the calendar says).
 */
import { z } from "zod";
import { timetableSessionSchema } from "../../stacks/schema";
import { DAY, hhmmToMinutes, parseCronDays } from "../../stacks/calendar/clock";
import { Rng } from "../sim/rng";
import { TrafficTarget } from "./trace";
import type { TrafficConfig } from "./config";
import type { ResolvedTimetable, TimetableSlot } from "../../stacks/timetable";
import { dayOfDate } from "../../stacks/calendar/zones";

export type TimetableSession = z.output<typeof timetableSessionSchema>;

export const CANCEL_PROBABILITY = 0.05;
export const ATTENDANCE = 0.9;
const START_JITTER_MINUTES = [-2, 5] as const;
const LENGTH_FACTOR = [0.9, 1.1] as const;
const LATE_MEAN_SECONDS = 120;

/**
 * The built-in "classroom" week: four courses of 20 students (about 12 sessions a week), Monday to Friday.
 * An assumption about a typical teaching lab, like the other built-ins.
 */
export const CLASSROOM_TIMETABLE: readonly TimetableSession[] = [
    { days: "1,3", start: "09:00", minutes: 50, students: 20, questionsPerStudent: 6 },
    { days: "2,4", start: "14:00", minutes: 75, students: 20, questionsPerStudent: 8 },
    { days: "1-5", start: "11:00", minutes: 50, students: 20, questionsPerStudent: 6 },
    { days: "3,5", start: "15:30", minutes: 90, students: 20, questionsPerStudent: 10 },
];

/**
 * A session of the simulated load, in the stack's local time: weekly (`days`) or on a date
 * (`date`, from a calendar; the trace then knows the date of its day 0).
 */
export interface LoadSession {
    /** Worker pool index. */
    readonly pool: number;
    /** Seconds after local midnight. */
    readonly startSeconds: number;
    readonly minutes: number;
    /** Weekly: 7 entries, index 0 = Sunday. */
    readonly days?: readonly boolean[];
    /** Dated: "YYYY-MM-DD". */
    readonly date?: string;
    readonly students: number;
    readonly questionsPerStudent: number;
}

/** Weekly sessions of traffic.timetable (or the built-in classroom week). */
export function weeklyLoad(timetable: readonly TimetableSession[], targets: readonly TrafficTarget[]): LoadSession[] {
    return timetable.map((s) => ({
        pool: sessionPool(s, targets),
        startSeconds: hhmmToMinutes(s.start) * 60,
        minutes: s.minutes,
        days: parseCronDays(s.days),
        students: s.students,
        questionsPerStudent: s.questionsPerStudent,
    }));
}

/** The stack timetable's sessions as the simulated load. */
function stackLoad(slots: readonly TimetableSlot[], targets: readonly TrafficTarget[]): LoadSession[] {
    return slots.map((s) => {
        const days = s.days ? Array.from({ length: 7 }, (_, d) => s.days!.includes(d)) : undefined;
        return {
            pool: Math.max(
                0,
                targets.findIndex((t) => t.name === s.pool),
            ),
            startSeconds: s.startSeconds,
            minutes: s.minutes,
            days,
            date: s.date,
            students: s.students,
            questionsPerStudent: s.questionsPerStudent,
        };
    });
}

/**
 * The sessions a timetabled profile simulates: "classroom" its built-in week, "timetable"
 * traffic.timetable or, when that is empty, the stack's gpuserve:timetable; undefined for other profiles.
 */
export function loadSessions(
    traffic: Pick<TrafficConfig, "profile" | "timetable">,
    timetable: Pick<ResolvedTimetable, "slots"> | undefined,
    targets: readonly TrafficTarget[],
): LoadSession[] | undefined {
    if (traffic.profile === "classroom") return weeklyLoad(CLASSROOM_TIMETABLE, targets);
    if (traffic.profile !== "timetable") return undefined;
    return traffic.timetable.length > 0 ? weeklyLoad(traffic.timetable, targets) : stackLoad(timetable?.slots ?? [], targets);
}

/** One class as it happened. */
export interface ClassOccurrence {
    /** Index into the sessions. */
    readonly entry: number;
    /** Scheduled start (seconds of the simulated span). */
    readonly scheduled: number;
    readonly start: number;
    readonly end: number;
    readonly students: number;
    /** Worker pool index. */
    readonly pool: number;
}

/** Worker pool of a session: its `model` by worker pool name, then by model id; the first model when absent. */
export function sessionPool(s: Pick<TimetableSession, "model">, targets: readonly TrafficTarget[]): number {
    if (s.model === undefined) return 0;
    const byName = targets.findIndex((t) => t.name === s.model);
    const i = byName >= 0 ? byName : targets.findIndex((t) => t.id === s.model);
    if (i < 0) throw new Error(`timetable model '${s.model}' is not a worker pool of this stack (${targets.map((t) => t.name).join(", ")})`);
    return i;
}

function poisson(rng: Rng, mean: number): number {
    if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * rng.normal()));
    const limit = Math.exp(-mean);
    let k = 0;
    for (let p = rng.next(); p > limit; p *= rng.next()) k++;
    return k;
}

/** Whether session `s` is scheduled on day d of a span whose day 0 is weekday `startWeekday` and date `startDate`. */
function onDay(s: LoadSession, d: number, startWeekday: number, startDay: number | undefined): boolean {
    if (s.days) return s.days[(startWeekday + d) % 7];
    return startDay !== undefined && s.date !== undefined && dayOfDate(s.date) === startDay + d;
}

/**
 * The classes of `days` days from day 0 (weekday `startWeekday`, cron numbering; date
 * `startDate`, needed by dated sessions).
 */
export function timetableOccurrences(
    sessions: readonly LoadSession[],
    days: number,
    startWeekday: number,
    seed: number,
    startDate?: string,
): ClassOccurrence[] {
    const out: ClassOccurrence[] = [];
    const startDay = startDate === undefined ? undefined : dayOfDate(startDate);
    sessions.forEach((s, k) => {
        for (let d = 0; d < days; d++) {
            if (!onDay(s, d, startWeekday, startDay)) continue;
            const rng = new Rng(seed, `timetable:${k}:${d}`);
            const cancelled = rng.next() < CANCEL_PROBABILITY;
            const scheduled = d * DAY + s.startSeconds;
            const start = Math.max(d * DAY, scheduled + rng.uniform(START_JITTER_MINUTES[0], START_JITTER_MINUTES[1]) * 60);
            const end = start + s.minutes * 60 * rng.uniform(LENGTH_FACTOR[0], LENGTH_FACTOR[1]);
            if (cancelled) continue;
            out.push({ entry: k, scheduled, start, end, students: s.students, pool: s.pool });
        }
    });
    return out.sort((a, b) => a.start - b.start);
}

/** Arrivals (sorted) and the worker pool of each, for `days` days of the sessions. */
export function timetableArrivals(
    sessions: readonly LoadSession[],
    days: number,
    startWeekday: number,
    rateScale: number,
    seed: number,
    startDate?: string,
): { times: Float64Array; pools: Uint16Array } {
    const reqs: { t: number; pool: number }[] = [];
    for (const c of timetableOccurrences(sessions, days, startWeekday, seed, startDate)) {
        const rng = new Rng(seed, `timetable:students:${c.entry}:${Math.floor(c.scheduled / DAY)}`);
        const q = sessions[c.entry].questionsPerStudent * rateScale;
        for (let st = 0; st < c.students; st++) {
            const attends = rng.next() < ATTENDANCE;
            const arrive = c.start + rng.exp(LATE_MEAN_SECONDS);
            const n = poisson(rng, q);
            if (!attends || arrive >= c.end) continue;
            for (let k = 0; k < n; k++) reqs.push({ t: rng.uniform(arrive, c.end), pool: c.pool });
        }
    }
    reqs.sort((a, b) => a.t - b.t);
    return { times: Float64Array.from(reqs.map((r) => r.t)), pools: Uint16Array.from(reqs.map((r) => r.pool)) };
}
