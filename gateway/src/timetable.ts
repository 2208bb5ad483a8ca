/**
 * The stack's class timetable as the gateway sees it (gateway config `timetable`): for each
 * pool, the sessions the timetable schedules, in the timetable's local time. The gauge
 * gateway_timetable_session{pool} is 1 while one of them is in progress, else 0; the pool's
 * recent-requests trigger (components/serving/scaling.ts) reads it: during a session it keeps
 * the pool through a long lull, after it releases the pool once the class has gone quiet.
 *
 * The simulator (capacity/sim) computes the same gauge with sessionInProgress on its clock, so
 * the plan's figures come from this code.
 */
import { z } from "zod";
import { dayOfDate, timeZoneSchema, wallTime } from "./wallClock";

/** A session: weekly on `days` (0 = Sunday) or once on `date`, from `start` (seconds after local midnight) for `minutes`. */
export const sessionWindowSchema = z
    .strictObject({
        days: z.array(z.int().min(0).max(6)).min(1).optional(),
        date: z
            .string()
            .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD")
            .optional(),
        start: z.number().min(0).lt(86400),
        minutes: z.number().positive().max(1440),
    })
    .refine((w) => (w.days === undefined) !== (w.date === undefined), { message: "a session has either days (weekly) or a date, not both" });

export type SessionWindow = z.output<typeof sessionWindowSchema>;

const DAY_SECONDS = 86400;

/** Weekday (0 = Sunday) of a day number: 1970-01-01 was a Thursday. */
const weekdayOfDay = (day: number) => (((day + 4) % 7) + 7) % 7;

/** Day numbers of dated sessions, parsed once (the simulator asks at every scrape of a month). */
const dateDays = new Map<string, number>();

function onDay(w: SessionWindow, day: number): boolean {
    if (w.days !== undefined) return w.days.includes(weekdayOfDay(day));
    let d = dateDays.get(w.date!);
    if (d === undefined) dateDays.set(w.date!, (d = dayOfDate(w.date!)));
    return d === day;
}

/**
 * Whether a session is in progress at local day `day` (days since 1970-01-01) and `seconds` after its
 * midnight: started at or before it, ending after it. A session that runs past midnight is in progress
 * on the next day too.
 */
export function sessionInProgress(windows: readonly SessionWindow[], day: number, seconds: number): boolean {
    for (const w of windows) {
        for (const d of [day, day - 1]) {
            const since = seconds + (day - d) * DAY_SECONDS - w.start;
            if (since >= 0 && since < w.minutes * 60 && onDay(w, d)) return true;
        }
    }
    return false;
}

/** Local day (days since 1970-01-01) and seconds after local midnight of an instant in an IANA time zone. */
export function localClock(ms: number, timeZone: string): { day: number; seconds: number } {
    const w = wallTime(ms, timeZone);
    return { day: dayOfDate(w.date), seconds: w.seconds };
}

export const timetableConfigSchema = z.strictObject({
    /** IANA time zone of the sessions' times, e.g. "Europe/Berlin". */
    timezone: timeZoneSchema,
    /** Per pool (its name), the sessions the timetable schedules. */
    pools: z.record(z.string(), z.array(sessionWindowSchema)),
});

export type TimetableConfig = z.output<typeof timetableConfigSchema>;

/** Sets gateway_timetable_session{pool} of every pool the timetable lists, at each scrape. */
export function exportTimetableSession(
    gauge: { set(labels: { pool: string }, value: number): void },
    timetable: TimetableConfig,
    now: () => number = Date.now,
): () => void {
    return () => {
        const { day, seconds } = localClock(now(), timetable.timezone);
        for (const [pool, windows] of Object.entries(timetable.pools)) gauge.set({ pool }, sessionInProgress(windows, day, seconds) ? 1 : 0);
    };
}
