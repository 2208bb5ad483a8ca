/**
 * Wall-clock time in IANA time zones, with the runtime's tz database (Intl): a calendar
 * event written in one zone, moved to the stack's zone date by date, so daylight-saving
 * changes land where they do in each zone.
 */
import { dateMs, dayOfDate, isTimeZone, wallTime, WallTime, zoneFormatter } from "../../gateway/src/wallClock";

export { dayOfDate, isTimeZone, wallTime, zoneFormatter };
export type { WallTime };

/** "YYYY-MM-DD" of a day count since 1970-01-01. */
export function dateOfDay(day: number): string {
    return new Date(day * 86400000).toISOString().slice(0, 10);
}

/** Cron weekday (0 = Sunday) of a "YYYY-MM-DD" date. */
export function weekdayOf(date: string): number {
    return new Date(dateMs(date)).getUTCDay();
}

/**
 * The instant (ms since the epoch) of a wall time in `zone`. A time skipped by a
 * daylight-saving change is taken with the offset before the change (RFC 5545 3.3.5: the
 * "time that is invalid" is interpreted with the UTC offset before the gap).
 */
export function instantOf(t: WallTime, zone: string): number {
    const guess = dateMs(t.date) + t.seconds * 1000;
    const offset = (ms: number) => {
        const w = wallTime(ms, zone);
        return dateMs(w.date) + w.seconds * 1000 - ms;
    };
    // The offsets a day before and a day after: any change of offset near the time lies between them.
    const before = guess - offset(guess - 86400000);
    const after = guess - offset(guess + 86400000);
    const valid = [before, after].filter((ms) => {
        const w = wallTime(ms, zone);
        return w.date === t.date && w.seconds === t.seconds;
    });
    return valid.length > 0 ? Math.min(...valid) : before;
}
