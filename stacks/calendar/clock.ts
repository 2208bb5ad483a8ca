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
