/**
 * The "classroom-random" profile (the "classroom" profile before classes became a weekly
 * timetable, timetable.ts): a teaching lab. On class days, a few sessions start at random
 * times in the day; each has 10-30 students for 45-90 minutes, each student asking a
 * question every ~60 s on average. Nothing at night or on weekends. This is the load
 * that scale-from-zero GPU pools are for: long idle gaps, then a burst that must be
 * answered within seconds.
 */
import { z } from "zod";
import { classroomSchema } from "../../stacks/schema";
import { DAY, hhmmToMinutes, parseCronDays } from "../../stacks/calendar/clock";
import { Rng } from "../sim/rng";

export type ClassroomShape = z.output<typeof classroomSchema>;

export interface ClassSession {
    readonly start: number;
    readonly end: number;
    readonly users: number;
}

/** The sessions of `days` days (deterministic for the seed). */
export function classroomSessions(shape: ClassroomShape, days: number, startWeekday: number, rng: Rng): ClassSession[] {
    const classDays = parseCronDays(shape.days);
    const earliest = hhmmToMinutes(shape.startBetween[0]) * 60;
    const latest = hhmmToMinutes(shape.startBetween[1]) * 60;
    const sessions: ClassSession[] = [];
    for (let d = 0; d < days; d++) {
        // Draw for every day, class day or not, so the sessions of day d do not depend on the weekday of day 0.
        const count = rng.int(shape.sessionsPerDay[0], shape.sessionsPerDay[1]);
        const draws = Array.from({ length: count }, () => ({
            start: rng.uniform(earliest, latest),
            users: rng.int(shape.usersPerSession[0], shape.usersPerSession[1]),
            minutes: rng.uniform(shape.sessionMinutes[0], shape.sessionMinutes[1]),
        }));
        if (!classDays[(startWeekday + d) % 7]) continue;
        for (const s of draws) {
            const start = d * DAY + s.start;
            sessions.push({ start, end: start + s.minutes * 60, users: s.users });
        }
    }
    return sessions;
}

/** Arrivals of all sessions: the students' questions form a Poisson process of rate users/thinkSeconds. */
export function classroomArrivals(shape: ClassroomShape, days: number, startWeekday: number, rateScale: number, rng: Rng): Float64Array {
    const out: number[] = [];
    for (const s of classroomSessions(shape, days, startWeekday, rng)) {
        const mean = shape.thinkSeconds / (s.users * rateScale);
        if (s.users === 0) continue;
        for (let t = s.start + rng.exp(mean); t < s.end; t += rng.exp(mean)) out.push(t);
    }
    return Float64Array.from(out).sort();
}
