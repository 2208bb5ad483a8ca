/**
 * Rate-table profiles: requests per hour for each (weekday, local hour), replayed as a
 * Poisson process that is constant within each hour. Poisson because independent users
 * hitting one endpoint are the textbook case for it; piecewise constant because that is
 * what a team can write down ("~300 requests an hour from 9 to 12").
 */
import { DAY, parseCronDays } from "../../stacks/calendar/clock";
import { Rng } from "../sim/rng";

/** rates[weekday][hour], weekday 0 = Sunday (cron), requests per hour. */
export type WeeklyRates = readonly (readonly number[])[];

export function emptyWeek(): number[][] {
    return Array.from({ length: 7 }, () => new Array<number>(24).fill(0));
}

/** Builds a week from entries of {days (cron), rates[24]}; later entries win on overlapping days. */
export function weekFromEntries(entries: readonly { days: string; rates: readonly number[] }[]): number[][] {
    const week = emptyWeek();
    for (const e of entries) {
        parseCronDays(e.days).forEach((on, d) => {
            if (on) week[d] = [...e.rates];
        });
    }
    return week;
}

/** Poisson arrivals over `days` days starting on `startWeekday`, scaled by `rateScale`. */
export function arrivalsFromWeek(week: WeeklyRates, days: number, startWeekday: number, rateScale: number, rng: Rng): Float64Array {
    const out: number[] = [];
    for (let d = 0; d < days; d++) {
        const rates = week[(startWeekday + d) % 7];
        for (let h = 0; h < 24; h++) {
            const perSecond = (rates[h] * rateScale) / 3600;
            if (perSecond <= 0) continue;
            const t0 = d * DAY + h * 3600;
            let t = t0 + rng.exp(1 / perSecond);
            while (t < t0 + 3600) {
                out.push(t);
                t += rng.exp(1 / perSecond);
            }
        }
    }
    return Float64Array.from(out);
}

/** Expected requests per week of a rate table (for documentation and tests). */
export function weeklyVolume(week: WeeklyRates): number {
    return week.reduce((s, day) => s + day.reduce((a, b) => a + b, 0), 0);
}
