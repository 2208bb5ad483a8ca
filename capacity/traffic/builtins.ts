/**
 * The built-in profiles as rate tables (requests per hour, local time, whole stack).
 * They are assumptions about how our users work, not measurements; a team with data
 * uses the "hourly" or "csv" profile instead, or `traffic.rateScale` to resize these.
 *
 * - steady: 120 requests/hour around the clock (an API used by a background service).
 * - office-hours: weekdays, ramp from 07:00, peak 600/h 10:00-12:00, lunch dip, tail to
 *   22:00; weekends 3 % of the peak in the daytime; nothing at night.
 * - batch-night: a nightly job, 3000 requests/hour 01:00-03:00, every day.
 * - classroom: sessions, see classroom.ts (not a rate table).
 */
import { WeeklyRates, emptyWeek } from "./weekly";

const PEAK_OFFICE = 600;
/** Office-hours weekday shape, fraction of the peak per local hour 0..23. */
const OFFICE_WEEKDAY = [0, 0, 0, 0, 0, 0, 0.02, 0.1, 0.5, 0.9, 1, 1, 0.6, 0.95, 0.95, 0.95, 0.7, 0.4, 0.15, 0.05, 0.05, 0.05, 0, 0];
const OFFICE_WEEKEND = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0, 0, 0, 0, 0, 0];

function steady(): WeeklyRates {
    return Array.from({ length: 7 }, () => new Array<number>(24).fill(120));
}

function officeHours(): WeeklyRates {
    return Array.from({ length: 7 }, (_, d) => (d === 0 || d === 6 ? OFFICE_WEEKEND : OFFICE_WEEKDAY).map((f) => f * PEAK_OFFICE));
}

function batchNight(): WeeklyRates {
    const week = emptyWeek();
    for (const day of week) day[1] = day[2] = 3000;
    return week;
}

export const RATE_TABLE_PROFILES = {
    steady,
    "office-hours": officeHours,
    "batch-night": batchNight,
} as const;
