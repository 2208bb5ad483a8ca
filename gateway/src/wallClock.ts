/**
 * Wall-clock time in IANA time zones, with the runtime's tz database (Intl). Shared by the gateway
 * (gateway_timetable_session, timetable.ts) and the stack's calendars (stacks/calendar/zones.ts
 * re-exports it): the gateway image bundles gateway/src only, so the code lives here.
 */
import { z } from "zod";

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

/**
 * Why `zone` is not a time zone every consumer of the stack reads the same, or undefined. Intl takes names in any
 * case ("europe/berlin"); KEDA's cron scaler calls Go's time.LoadLocation(Timezone) at every poll
 * (kedacore/keda pkg/scalers/cron_scaler.go GetMetricsAndActivity, in every version of the file in the code index,
 * the newest with pre-parsed schedules), which looks the name up as a tz database file name (or in Go's embedded
 * zip), case-sensitively: so the name must be spelled as the database spells it.
 */
function timeZoneProblem(zone: string): string | undefined {
    if (!isTimeZone(zone)) return "must be an IANA time zone such as Europe/Berlin";
    const canonical = zoneFormatter(zone).resolvedOptions().timeZone;
    if (canonical !== zone && canonical.toLowerCase() === zone.toLowerCase()) return `must be spelled as the tz database spells it: '${canonical}'`;
    return undefined;
}

/** A time zone name as zod checks it: timeZoneProblem's message when it has one. */
export const timeZoneSchema = z.string().superRefine((zone, ctx) => {
    const problem = timeZoneProblem(zone);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** The wall time in `zone` of an instant (ms since the epoch). */
export function wallTime(ms: number, zone: string): WallTime {
    const parts: Record<string, string> = {};
    for (const p of zoneFormatter(zone).formatToParts(new Date(ms))) parts[p.type] = p.value;
    return { date: `${parts.year}-${parts.month}-${parts.day}`, seconds: Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second) };
}

/** ms since the epoch of midnight UTC of a "YYYY-MM-DD" date. */
export function dateMs(date: string): number {
    return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)));
}

/** Days since 1970-01-01 of a "YYYY-MM-DD" date. */
export function dayOfDate(date: string): number {
    return Math.round(dateMs(date) / 86400000);
}
