/**
 * The profile's expected arrival rate per worker pool, per (weekday, local hour): what a
 * policy could know in advance of the traffic without seeing any arrival (the optimal
 * online rule, capacity/bounds/online.ts).
 *
 * - Rate tables (built-ins, "hourly"): the table x rateScale x the pool's share.
 * - Timetables ("timetable", "classroom"): each session's expected questions
 *   (students x ATTENDANCE x questionsPerStudent x rateScale x (1 - CANCEL_PROBABILITY))
 *   spread evenly over its scheduled minutes.
 * - Profiles with no rate model ("csv", "classroom-random"): the trace's own mean count
 *   per weekly hour slot, over the weeks it spans (the one case where the rates come from
 *   the arrivals, averaged; say so when quoting a bound on them).
 */
import { DAY, WEEK_MINUTES, hhmmToMinutes, minuteOfWeek, parseCronDays } from "../../stacks/calendar/clock";
import type { TrafficConfig } from "./config";
import { poolShares } from ".";
import { RATE_TABLE_PROFILES } from "./builtins";
import { ATTENDANCE, CANCEL_PROBABILITY, CLASSROOM_TIMETABLE, LoadSession, TimetableSession, sessionPool } from "./timetable";
import { dayOfDate } from "../../stacks/calendar/zones";
import { Trace, TrafficTarget } from "./trace";
import { WeeklyRates, emptyWeek, weekFromEntries } from "./weekly";

/** rates[pool][weekday][hour], requests per hour. */
export type PoolWeeklyRates = readonly WeeklyRates[];

export function profileRates(traffic: TrafficConfig, targets: readonly TrafficTarget[], trace: Trace): PoolWeeklyRates {
    switch (traffic.profile) {
        case "classroom":
        case "timetable":
            return timetableRates(traffic.profile === "classroom" ? CLASSROOM_TIMETABLE : traffic.timetable, targets, traffic.rateScale);
        case "hourly":
            return splitByShare(weekFromEntries(traffic.hourly), poolShares(traffic, targets), traffic.rateScale);
        case "csv":
        case "classroom-random":
            return empiricalRates(trace, targets.length);
        default:
            return splitByShare(RATE_TABLE_PROFILES[traffic.profile](), poolShares(traffic, targets), traffic.rateScale);
    }
}

function splitByShare(week: WeeklyRates, shares: readonly number[], rateScale: number): PoolWeeklyRates {
    const total = shares.reduce((a, b) => a + b, 0);
    return shares.map((s) => week.map((day) => day.map((r) => (total > 0 ? (r * rateScale * s) / total : 0))));
}

function timetableRates(timetable: readonly TimetableSession[], targets: readonly TrafficTarget[], rateScale: number): PoolWeeklyRates {
    const out = targets.map(() => emptyWeek());
    for (const s of timetable) {
        const pool = sessionPool(s, targets);
        const perMinute = (s.students * ATTENDANCE * s.questionsPerStudent * rateScale * (1 - CANCEL_PROBABILITY)) / s.minutes;
        parseCronDays(s.days).forEach((on, d) => {
            if (!on) return;
            const start = hhmmToMinutes(s.start);
            for (let m = start; m < start + s.minutes; m++) {
                // A session that runs past midnight continues on the next weekday.
                const day = (d + Math.floor(m / 1440)) % 7;
                out[pool][day][Math.floor((m % 1440) / 60)] += perMinute;
            }
        });
    }
    return out;
}

function empiricalRates(trace: Trace, pools: number): PoolWeeklyRates {
    const out = Array.from({ length: pools }, () => emptyWeek());
    const slotHours = Array.from({ length: 7 }, () => new Array<number>(24).fill(0));
    for (let h = 0; h < Math.floor(trace.horizonSeconds / 3600); h++) slotHours[(trace.startWeekday + Math.floor(h / 24)) % 7][h % 24]++;
    for (let i = 0; i < trace.times.length; i++) {
        const t = trace.times[i];
        out[trace.pools[i]][(trace.startWeekday + Math.floor(t / DAY)) % 7][Math.floor((t % DAY) / 3600)]++;
    }
    return out.map((week) => week.map((day, d) => day.map((n, h) => (slotHours[d][h] > 0 ? n / slotHours[d][h] : 0))));
}

/**
 * The expected rate as a function of simulated time, requests per second, per worker
 * pool: timetables per minute (a session's questions spread over its scheduled minutes,
 * so a rule sees where a class ends; a calendar's sessions on their dates), rate tables
 * per hour. `sessions`: the timetabled profile's (capacity/traffic/timetable.ts loadSessions).
 */
export function profileRateFunctions(
    traffic: TrafficConfig,
    targets: readonly TrafficTarget[],
    trace: Trace,
    sessions?: readonly LoadSession[],
): ((t: number) => number)[] {
    if (sessions !== undefined) {
        const weekly = targets.map(() => new Float64Array(WEEK_MINUTES));
        const spanMinutes = Math.ceil(trace.horizonSeconds / 60);
        const dated = targets.map(() => new Float64Array(spanMinutes));
        const day0 = trace.startDate === undefined ? undefined : dayOfDate(trace.startDate);
        for (const s of sessions) {
            const perMinute = (s.students * ATTENDANCE * s.questionsPerStudent * traffic.rateScale * (1 - CANCEL_PROBABILITY)) / s.minutes;
            const start = Math.floor(s.startSeconds / 60);
            if (s.days) {
                s.days.forEach((on, d) => {
                    if (!on) return;
                    for (let m = d * 1440 + start; m < d * 1440 + start + s.minutes; m++) weekly[s.pool][m % WEEK_MINUTES] += perMinute;
                });
            } else if (s.date !== undefined && day0 !== undefined) {
                const from = (dayOfDate(s.date) - day0) * 1440 + start;
                for (let m = Math.max(0, from); m < Math.min(spanMinutes, from + s.minutes); m++) dated[s.pool][m] += perMinute;
            }
        }
        return targets.map(
            (_, p) => (t: number) =>
                (weekly[p][minuteOfWeek(t, trace.startWeekday)] + (t >= 0 && t < spanMinutes * 60 ? dated[p][Math.floor(t / 60)] : 0)) / 60,
        );
    }
    return profileRates(traffic, targets, trace).map((week) => (t: number) => rateAt(week, trace.startWeekday, t));
}

/** Requests per second at `t` seconds of the trace (day 0 is weekday `startWeekday`). */
export function rateAt(week: WeeklyRates, startWeekday: number, t: number): number {
    return week[(startWeekday + Math.floor(t / DAY)) % 7][Math.floor((((t % DAY) + DAY) % DAY) / 3600)] / 3600;
}
