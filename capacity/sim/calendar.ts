/**
 * Simulated time is local wall-clock time of the stack's `timezone`, in seconds from
 * midnight of day 0. Traffic profiles and warm windows are both written in that zone
 * (schema: "IANA time zone for warm windows and the traffic profile"), so the simulator
 * never needs UTC; daylight-saving shifts (one hour, twice a year) are ignored.
 */

export const DAY = 86400;
export const WEEK_MINUTES = 7 * 1440;

/** Cron day-of-week syntax ("1-5", "0,6", "1-3,5") to a 7-entry mask, index 0 = Sunday. */
export function parseCronDays(days: string): boolean[] {
    const mask = new Array<boolean>(7).fill(false);
    for (const part of days.split(",")) {
        const [a, b] = part.split("-").map((x) => Number(x));
        if (!Number.isInteger(a) || a < 0 || a > 6 || (b !== undefined && (!Number.isInteger(b) || b < 0 || b > 6))) {
            throw new Error(`bad cron day-of-week '${days}'`);
        }
        const end = b ?? a;
        // Cron ranges do not wrap: "5-1" is invalid in cron; treat it as wrapping for robustness.
        for (let d = a; ; d = (d + 1) % 7) {
            mask[d] = true;
            if (d === end) break;
        }
    }
    return mask;
}

/** "HH:MM" to minutes after midnight. */
export function hhmmToMinutes(hhmm: string): number {
    const [h, m] = hhmm.split(":").map(Number);
    return h * 60 + m;
}

/** Cron weekday (0 = Sunday) of simulated second t. */
export function weekdayAt(t: number, startWeekday: number): number {
    return (startWeekday + Math.floor(t / DAY)) % 7;
}

/** Minute of the cron week (0 = Sunday 00:00) of simulated second t. */
export function minuteOfWeek(t: number, startWeekday: number): number {
    return weekdayAt(t, startWeekday) * 1440 + Math.floor((t % DAY) / 60);
}

export interface WarmWindow {
    readonly days: string;
    readonly start: string;
    readonly end: string;
    readonly replicas: number;
}

/**
 * KEDA cron trigger semantics, precomputed per minute of the week: the trigger is active
 * when the next `end` occurrence comes before the next `start` occurrence (KEDA cron
 * scaler, GetMetricsAndActivity). Start and end crons share the window's days, so a
 * window that crosses midnight on Friday stays active until Monday's end time, as KEDA
 * would do with the same two cron expressions.
 */
export function warmWindowTable(w: WarmWindow): Uint8Array {
    const days = parseCronDays(w.days);
    const start = hhmmToMinutes(w.start);
    const end = hhmmToMinutes(w.end);
    const table = new Uint8Array(WEEK_MINUTES);
    // Walk two weeks backwards; for minute m, nextStart/nextEnd hold occurrences at minutes > m,
    // which is what KEDA sees at any second inside minute m (cron Next() is strictly after now).
    // So the window is active from its start minute (inclusive) to its end minute (exclusive).
    let nextStart = Infinity;
    let nextEnd = Infinity;
    for (let m = 2 * WEEK_MINUTES - 1; m >= 0; m--) {
        const dow = Math.floor(m / 1440) % 7;
        const minute = m % 1440;
        if (m < WEEK_MINUTES) table[m] = nextEnd < nextStart ? 1 : 0;
        if (days[dow] && minute === start) nextStart = m;
        if (days[dow] && minute === end) nextEnd = m;
    }
    return table;
}

/**
 * The KEDA cron trigger's metric at a minute of the week: `desiredReplicas` inside the
 * window, 0 outside (pkg/scalers/cron_scaler.go GetMetricsAndActivity at v2.20.2:
 * `metricValue := float64(0); if isWithinInterval { metricValue = DesiredReplicas }`).
 */
export function cronMetricValue(window: { readonly table: Uint8Array; readonly replicas: number }, minuteOfWeek: number): number {
    return window.table[minuteOfWeek] === 1 ? window.replicas : 0;
}
