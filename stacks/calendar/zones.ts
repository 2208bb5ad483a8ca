/**
 * Wall-clock time in IANA time zones, with the runtime's tz database (Intl): a calendar
 * event written in one zone, moved to the stack's zone date by date, so daylight-saving
 * changes land where they do in each zone.
 */

/** A local date and time: "YYYY-MM-DD" and seconds after midnight. */
export interface WallTime {
    readonly date: string;
    readonly seconds: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** A formatter of an instant's wall-clock parts in `zone` (year to second, and the weekday); throws on an unknown zone. */
export function zoneFormatter(zone: string): Intl.DateTimeFormat {
    let f = formatters.get(zone);
    if (!f) {
        f = new Intl.DateTimeFormat("en-US", {
            timeZone: zone,
            hourCycle: "h23",
            year: "numeric",
            month: "2-digit",
            day: "2-digit",
            hour: "2-digit",
            minute: "2-digit",
            second: "2-digit",
            weekday: "short",
        });
        formatters.set(zone, f);
    }
    return f;
}

/** Whether the runtime knows `zone` as an IANA time zone ("UTC" included). */
export function isTimeZone(zone: string): boolean {
    try {
        zoneFormatter(zone);
        return true;
    } catch {
        return false;
    }
}

/** The wall time in `zone` of an instant (ms since the epoch). */
export function wallTime(ms: number, zone: string): WallTime {
    const parts: Record<string, string> = {};
    for (const p of zoneFormatter(zone).formatToParts(new Date(ms))) parts[p.type] = p.value;
    return { date: `${parts.year}-${parts.month}-${parts.day}`, seconds: Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second) };
}

/** ms since the epoch of midnight UTC of a "YYYY-MM-DD" date. */
function dateMs(date: string): number {
    return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)));
}

/** "YYYY-MM-DD" of a day count since 1970-01-01. */
export function dateOfDay(day: number): string {
    return new Date(day * 86400000).toISOString().slice(0, 10);
}

/** Days since 1970-01-01 of a "YYYY-MM-DD" date. */
export function dayOfDate(date: string): number {
    return Math.round(dateMs(date) / 86400000);
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
