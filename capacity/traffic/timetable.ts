/**
 * The "timetable" profile: classes that repeat every week. The user lists sessions
 * (`traffic.timetable`: days, start, minutes, students, questionsPerStudent, model); the
 * generator replays them every week with the noise real classes have. The built-in
 * "classroom" profile is such a timetable (CLASSROOM_TIMETABLE).
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
 */
import { z } from "zod";
import { timetableSessionSchema } from "../../stacks/schema";
import { DAY, hhmmToMinutes, parseCronDays } from "../sim/calendar";
import { Rng } from "../sim/rng";
import { TrafficTarget } from "./trace";

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

/** One class as it happened. */
export interface ClassOccurrence {
    /** Index into the timetable. */
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
export function sessionPool(s: TimetableSession, targets: readonly TrafficTarget[]): number {
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

/** The classes of `days` days from day 0 (weekday `startWeekday`, cron numbering). */
export function timetableOccurrences(timetable: readonly TimetableSession[], targets: readonly TrafficTarget[], days: number, startWeekday: number, seed: number): ClassOccurrence[] {
    const out: ClassOccurrence[] = [];
    timetable.forEach((s, k) => {
        const on = parseCronDays(s.days);
        const pool = sessionPool(s, targets);
        for (let d = 0; d < days; d++) {
            if (!on[(startWeekday + d) % 7]) continue;
            const rng = new Rng(seed, `timetable:${k}:${d}`);
            const cancelled = rng.next() < CANCEL_PROBABILITY;
            const scheduled = d * DAY + hhmmToMinutes(s.start) * 60;
            const start = Math.max(d * DAY, scheduled + rng.uniform(START_JITTER_MINUTES[0], START_JITTER_MINUTES[1]) * 60);
            const end = start + s.minutes * 60 * rng.uniform(LENGTH_FACTOR[0], LENGTH_FACTOR[1]);
            if (cancelled) continue;
            out.push({ entry: k, scheduled, start, end, students: s.students, pool });
        }
    });
    return out.sort((a, b) => a.start - b.start);
}

/** Arrivals (sorted) and the worker pool of each, for `days` days of the timetable. */
export function timetableArrivals(timetable: readonly TimetableSession[], targets: readonly TrafficTarget[], days: number, startWeekday: number, rateScale: number, seed: number): { times: Float64Array; pools: Uint16Array } {
    const reqs: { t: number; pool: number }[] = [];
    for (const c of timetableOccurrences(timetable, targets, days, startWeekday, seed)) {
        const rng = new Rng(seed, `timetable:students:${c.entry}:${Math.floor(c.scheduled / DAY)}`);
        const q = timetable[c.entry].questionsPerStudent * rateScale;
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
