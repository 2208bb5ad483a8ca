/**
 * A worker pool's KEDA cron triggers: its warm windows and its timetable's sessions. One
 * builder for what components/serving/scaling.ts deploys and what the simulator runs
 * (capacity/sim/cron.ts evaluates exactly these), so the plan's figures are the deployed
 * policy's.
 *
 * KEDA's cron scaler (kedacore/keda pkg/scalers/cron_scaler.go at v2.20.2) reads `start`,
 * `end` (five-field cron, robfig/cron v3.0.1's parser: minute hour day-of-month month
 * day-of-week), `timezone` (IANA) and `desiredReplicas`; it is active, asking for
 * desiredReplicas, while the next `end` comes no later than the next `start`.
 *
 * A session warms its pool from one (pessimistic) cold start before it starts, so its first
 * question finds a worker, to `cooldown` before it ends: KEDA then scales the pool to zero
 * at the session's end, unless requests keep it active (the recent-requests trigger), i.e.
 * once the session is over and the pool idle.
 *
 * How sessions become triggers:
 * - weekly sessions (gpuserve:timetable.sessions, calendar series without end): one trigger
 *   per window time, its days listed (`10 9 * * 1,4`), like a warm window;
 * - dated sessions (calendar series with UNTIL or COUNT, single events): one trigger per
 *   window time and month, its dates listed (`10 9 7,14,28 9 *`; robfig/cron matches the
 *   listed days of month when day-of-week is `*`). A cancelled week has no date, so costs
 *   nothing; a term of two sessions a week is ~5 triggers, not one per session. Cron has no
 *   year: the same dates fire again a year later, so a calendar is replaced each term.
 */
import type { ResolvedTimetable, TimetableSlot } from "./timetable";
import { dateOfDay, dayOfDate } from "./calendar/zones";
import { PREDICTIVE_CONFIRM_SECONDS, warmWindowTrigger } from "./scalePolicy";
import type { SessionWindow } from "../gateway/src/timetable";

/** One cron trigger's metadata, as KEDA reads it (plus the trigger name). */
export interface CronTrigger {
    readonly name: string;
    readonly start: string;
    readonly end: string;
    readonly timezone: string;
    readonly desiredReplicas: number;
}

/**
 * How the timetable shapes a pool's recent-requests trigger: the pool's sessions, which the stack's gateway
 * exports as gateway_timetable_session{pool} (gateway/src/timetable.ts), and the trigger's window outside them
 * (gpuserve:timetable.afterSessionLookbackSeconds); inside them it keeps scaling.activityLookbackSeconds. Built by
 * capacity/timetableWarm.ts sessionGateFor.
 */
export interface SessionGate {
    readonly windows: readonly SessionWindow[];
    readonly afterSessionLookbackSeconds: number;
}

/** "08:00" + "1-5" -> "0 8 * * 1-5" */
function cronAt(hhmm: string, days: string): string {
    const [h, m] = hhmm.split(":").map(Number);
    return `${m} ${h} * * ${days}`;
}

/** The trigger name of the i-th timetable trigger of a pool. */
function timetableTrigger(i: number): string {
    return `class-${i}`;
}

/** Warm windows (models[].scaling.warmWindows) as cron triggers. */
export function warmWindowTriggers(
    windows: readonly { readonly days: string; readonly start: string; readonly end: string; readonly replicas: number }[],
    timezone: string,
): CronTrigger[] {
    return windows.map((w, i) => ({
        name: warmWindowTrigger(i),
        start: cronAt(w.start, w.days),
        end: cronAt(w.end, w.days),
        timezone,
        desiredReplicas: w.replicas,
    }));
}

export interface SessionWindowOptions {
    /** Seconds before a session's start the pool is asked for. */
    readonly leadSeconds: number;
    /** The pool's KEDA cooldownPeriod: a "session" window closes that long before the session ends. */
    readonly cooldownSeconds: number;
    /**
     * "start": the window covers the session's first `confirmSeconds`, then the pool stays while the class asks
     * questions (the recent-requests trigger) and is released once it is idle; "session": the window covers the
     * whole session. @default the timetable's (gpuserve:timetable.hold) in timetableTriggers, "start" in sessionWindow
     */
    readonly hold?: "start" | "session";
    /** "start" windows: seconds after the session's start they stay open. @default PREDICTIVE_CONFIRM_SECONDS (600) */
    readonly confirmSeconds?: number;
}

/** A session's window in whole minutes from the midnight of its (start) day: [from, to). */
export function sessionWindow(slot: Pick<TimetableSlot, "startSeconds" | "minutes">, o: SessionWindowOptions): { from: number; to: number } {
    const from = Math.floor((slot.startSeconds - o.leadSeconds) / 60);
    const end = slot.startSeconds + slot.minutes * 60;
    // "session": ending where KEDA's cooldown from it ends the session; "start": after the confirmation, or at that same end if sooner. At least a minute.
    const close =
        o.hold === "session"
            ? end - o.cooldownSeconds
            : Math.min(slot.startSeconds + (o.confirmSeconds ?? PREDICTIVE_CONFIRM_SECONDS), end - o.cooldownSeconds);
    return { from, to: Math.max(from + 1, Math.ceil(close / 60)) };
}

const mod = (a: number, n: number) => ((a % n) + n) % n;
const minuteField = (m: number) => `${mod(m, 1440) % 60} ${Math.floor(mod(m, 1440) / 60)}`;
/** Cron day-of-week list of days shifted by `by` days. */
const shiftedDays = (days: readonly number[], by: number) => [...new Set(days.map((d) => mod(d + by, 7)))].sort((a, b) => a - b).join(",");

/** The timetable's cron triggers for one worker pool, weekly ones first, then dated ones by date. */
export function timetableTriggers(t: ResolvedTimetable, pool: string, timezone: string, o: SessionWindowOptions): CronTrigger[] {
    if (!t.warm) return [];
    const weekly = new Map<string, { from: number; to: number; startDays: Set<number>; replicas: number }>();
    const dated = new Map<
        string,
        { first: number; startMonth: number; endMonth: number; startDays: number[]; endDays: number[]; from: number; to: number; replicas: number }
    >();
    for (const slot of t.slots) {
        if (slot.pool !== pool) continue;
        const w = sessionWindow(slot, { ...o, hold: o.hold ?? t.hold });
        const fromDay = Math.floor(w.from / 1440);
        if (slot.days) {
            // One trigger per window time; the days of sessions with the same times are merged.
            const k = `${w.from}|${w.to}|${slot.replicas}`;
            const g = weekly.get(k) ?? { from: w.from, to: w.to, startDays: new Set<number>(), replicas: slot.replicas };
            for (const d of slot.days) g.startDays.add(mod(d + fromDay, 7));
            weekly.set(k, g);
        } else {
            const toDay = Math.floor(w.to / 1440);
            const day = dayOfDate(slot.date!);
            const startDate = dateOfDay(day + fromDay);
            const endDate = dateOfDay(day + toDay);
            const startMonth = Number(startDate.slice(5, 7));
            const endMonth = Number(endDate.slice(5, 7));
            // One trigger per window time and month (and month of its end, when the window crosses into the next).
            const k = `${mod(w.from, 1440)}|${mod(w.from, 1440) + (w.to - w.from)}|${startMonth}|${endMonth}|${slot.replicas}`;
            const g = dated.get(k) ?? {
                first: day + fromDay,
                startMonth,
                endMonth,
                startDays: [],
                endDays: [],
                from: w.from,
                to: w.to,
                replicas: slot.replicas,
            };
            g.startDays.push(Number(startDate.slice(8, 10)));
            g.endDays.push(Number(endDate.slice(8, 10)));
            g.first = Math.min(g.first, day + fromDay);
            dated.set(k, g);
        }
    }
    const list = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b).join(",");
    const out: Omit<CronTrigger, "name">[] = [...weekly.values()].map((w) => {
        const days = [...w.startDays];
        const shift = Math.floor(w.to / 1440) - Math.floor(w.from / 1440);
        return {
            start: `${minuteField(w.from)} * * ${shiftedDays(days, 0)}`,
            end: `${minuteField(w.to)} * * ${shiftedDays(days, shift)}`,
            timezone,
            desiredReplicas: w.replicas,
        };
    });
    const byDate = [...dated.values()].sort((a, b) => a.first - b.first || mod(a.from, 1440) - mod(b.from, 1440));
    for (const g of byDate)
        out.push({
            start: `${minuteField(g.from)} ${list(g.startDays)} ${g.startMonth} *`,
            end: `${minuteField(g.to)} ${list(g.endDays)} ${g.endMonth} *`,
            timezone,
            desiredReplicas: g.replicas,
        });
    return out.map((x, i) => ({ name: timetableTrigger(i), ...x }));
}
