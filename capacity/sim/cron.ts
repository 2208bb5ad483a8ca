/**
 * KEDA cron triggers on the simulated clock, as KEDA v2.20.2 evaluates them
 * (pkg/scalers/cron_scaler.go GetMetricsAndActivity): at time t it takes the next `start`
 * and the next `end` strictly after t (robfig/cron v3.0.1 SpecSchedule.Next) and is active,
 * with metric desiredReplicas, unless the next start comes before the next end. Day
 * matching is robfig's dayMatches: when day-of-month or day-of-week is `*`, both must match,
 * else either. The triggers are the ones the stack deploys (stacks/cronTriggers.ts).
 *
 * Simulated time is the stack's local wall clock (stacks/calendar/clock.ts) and every trigger's timezone
 * is the stack's, so a cron's wall-clock fields compare with simulated time directly.
 * Weekly crons need only the weekday of day 0; date-specific ones (day of month, month) the
 * trace's startDate.
 */
import type { CronTrigger } from "../../stacks/cronTriggers";
import { dateOfDay, dayOfDate } from "../../stacks/calendar/zones";
import { DAY } from "../../stacks/calendar/clock";
import { SessionWindow, sessionInProgress } from "../../gateway/src/timetable";

/** A five-field cron expression's sets (robfig/cron v3.0.1 parser with Minute | Hour | Dom | Month | Dow). */
export interface CronSpec {
    readonly minutes: readonly number[];
    readonly hours: readonly number[];
    readonly dom: ReadonlySet<number>;
    readonly months: ReadonlySet<number>;
    readonly dow: ReadonlySet<number>;
    readonly domStar: boolean;
    readonly dowStar: boolean;
}

const FIELDS = [
    { name: "minute", min: 0, max: 59 },
    { name: "hour", min: 0, max: 23 },
    { name: "day of month", min: 1, max: 31 },
    { name: "month", min: 1, max: 12 },
    { name: "day of week", min: 0, max: 6 },
] as const;

/** `*`, `a`, `a-b`, `*\/n`, `a-b/n` and comma lists (the syntax the stack emits and warm windows allow). */
function parseField(text: string, f: (typeof FIELDS)[number]): { values: number[]; star: boolean } {
    const values = new Set<number>();
    let star = false;
    for (const part of text.split(",")) {
        const [range, stepText] = part.split("/");
        const step = stepText === undefined ? 1 : Number(stepText);
        let lo: number;
        let hi: number;
        if (range === "*" || range === "?") {
            [lo, hi] = [f.min, f.max];
            if (stepText === undefined) star = true;
        } else {
            const [a, b] = range.split("-").map(Number);
            lo = a;
            hi = b ?? (stepText === undefined ? a : f.max);
        }
        if (![lo, hi, step].every(Number.isInteger) || lo < f.min || hi > f.max || lo > hi || step < 1)
            throw new Error(`cron ${f.name} '${text}' is out of range ${f.min}-${f.max}`);
        for (let v = lo; v <= hi; v += step) values.add(v);
    }
    return { values: [...values].sort((a, b) => a - b), star };
}

export function parseCron(expr: string): CronSpec {
    const parts = expr.trim().split(/\s+/);
    if (parts.length !== 5) throw new Error(`cron '${expr}' must have five fields (minute hour day-of-month month day-of-week)`);
    const [mi, h, dom, mo, dow] = parts.map((p, i) => parseField(p, FIELDS[i]));
    return {
        minutes: mi.values,
        hours: h.values,
        dom: new Set(dom.values),
        months: new Set(mo.values),
        dow: new Set(dow.values),
        domStar: dom.star,
        dowStar: dow.star,
    };
}

/** Whether the cron may fire on a day (robfig dayMatches plus the month). */
function dayMatches(c: CronSpec, date: string, weekday: number): boolean {
    if (!c.months.has(Number(date.slice(5, 7)))) return false;
    const dom = c.dom.has(Number(date.slice(8, 10)));
    const dow = c.dow.has(weekday);
    return c.domStar || c.dowStar ? dom && dow : dom || dow;
}

const isWeekly = (c: CronSpec) => c.domStar && c.months.size === 12;

/** A deployed cron trigger on the simulated clock. */
export interface CronWindow {
    readonly name: string;
    readonly replicas: number;
    /** Whether KEDA sees the trigger active at simulated second t. */
    activeAt(t: number): boolean;
}

export interface CronSpan {
    /** Cron weekday of day 0. */
    readonly startWeekday: number;
    /** Date of day 0; required by date-specific crons. */
    readonly startDate?: string;
    /** Days of simulated time the trigger is evaluated on, [0, days). */
    readonly days: number;
}

/**
 * A trigger compiled on the span: the start and end firings from day 0 to the span's end
 * plus the lookahead a "next firing" needs (a week for weekly crons, a year and a day for
 * dated ones), then the active stretches between them, found backwards.
 */
export function compileCron(t: CronTrigger, span: CronSpan): CronWindow {
    const start = parseCron(t.start);
    const end = parseCron(t.end);
    const weekly = isWeekly(start) && isWeekly(end);
    if (!weekly && span.startDate === undefined)
        throw new Error(`cron trigger ${t.name} ('${t.start}' to '${t.end}') fires on dates, but the simulated span has no start date`);
    const lookahead = weekly ? 8 : 367;
    // A date for every simulated day; weekly crons only read its weekday.
    const base = span.startDate === undefined ? dayOfDate("2024-01-07") + span.startWeekday : dayOfDate(span.startDate);
    const events: { t: number; start: boolean }[] = [];
    for (let d = 0; d < span.days + lookahead; d++) {
        const date = dateOfDay(base + d);
        const weekday = (span.startWeekday + d) % 7;
        for (const [c, isStart] of [
            [start, true],
            [end, false],
        ] as const) {
            if (!dayMatches(c, date, weekday)) continue;
            for (const h of c.hours) for (const m of c.minutes) events.push({ t: d * DAY + (h * 60 + m) * 60, start: isStart });
        }
    }
    events.sort((a, b) => a.t - b.t);
    // Stretch [events[i].t, events[i + 1].t) is active iff the first end at index > i comes no later than the first start.
    const active: number[] = [];
    let nextStart = Infinity;
    let nextEnd = Infinity;
    for (let i = events.length - 1; i >= -1; i--) {
        const from = i >= 0 ? events[i].t : -Infinity;
        const to = i + 1 < events.length ? events[i + 1].t : Infinity;
        // Past the last firing nothing is known: inactive.
        if (to !== Infinity && from < to && nextEnd <= nextStart) active.push(from, to);
        if (i >= 0) {
            // All firings at this instant are "next" for times just before it.
            if (events[i].start) nextStart = events[i].t;
            else nextEnd = events[i].t;
        }
    }
    active.reverse(); // [to, from, to, from, ...] -> pairs in time order
    const froms: number[] = [];
    const tos: number[] = [];
    for (let i = 0; i < active.length; i += 2) {
        froms.push(active[i + 1]);
        tos.push(active[i]);
    }
    return {
        name: t.name,
        replicas: t.desiredReplicas,
        activeAt: (x: number) => {
            // Last stretch starting at or before x.
            let lo = 0;
            let hi = froms.length;
            while (lo < hi) {
                const mid = (lo + hi) >>> 1;
                if (froms[mid] <= x) lo = mid + 1;
                else hi = mid;
            }
            return lo > 0 && x < tos[lo - 1];
        },
    };
}

/** The KEDA cron trigger's metric at t: desiredReplicas inside the window, 0 outside (cron_scaler.go: `metricValue := float64(0); if isWithinInterval { metricValue = DesiredReplicas }`). */
export function cronMetricValue(w: CronWindow, t: number): number {
    return w.activeAt(t) ? w.replicas : 0;
}

/**
 * The gateway's gateway_timetable_session gauge on the simulated clock: whether one of `windows` is in
 * progress at simulated second t (gateway/src/timetable.ts sessionInProgress, the gateway's own code, on the
 * local day and second of t). Day 0 is the span's startDate, or a day of weekday startWeekday.
 */
export function sessionClock(windows: readonly SessionWindow[], span: Pick<CronSpan, "startWeekday" | "startDate">): (t: number) => boolean {
    const base = span.startDate === undefined ? dayOfDate("2024-01-07") + span.startWeekday : dayOfDate(span.startDate);
    return (t) => {
        const d = Math.floor(t / DAY);
        return sessionInProgress(windows, base + d, t - d * DAY);
    };
}
