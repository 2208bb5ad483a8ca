/**
 * What the timetable's cron triggers do to a stack's month (cost.json `expected.timetable`,
 * the plan's summary): the same trace simulated again without them, so the plan shows the
 * warm-ups' cost and the cold starts they save.
 */
import { HOURS_PER_MONTH } from "../../stacks/catalog/instances";
import { dayOfDate } from "../../stacks/calendar/zones";
import type { StackConfig } from "../../stacks/resolved";
import type { CalendarSummary } from "../../stacks/timetable";
import { timetableLeadSeconds } from "../timetableWarm";
import { simulate } from "./engine";
import { SetupOptions, buildSimInput } from "./setup";
import { round } from "./stats";
import { SimInput } from "./types";

export interface TimetableEffect {
    /** The calendars read (file, sessions, weekly series, all-day events skipped, first and last date). */
    readonly calendars: readonly CalendarSummary[];
    /** Weekly sessions of gpuserve:timetable.sessions and calendar series without end. */
    readonly weeklySessions: number;
    /** Sessions of gpuserve:timetable scheduled in the simulated span, per month. */
    readonly sessionsPerMonth: number;
    /** The timetable's cron triggers per worker pool. */
    readonly triggers: Readonly<Record<string, number>>;
    /** Seconds before a session each pool is asked for. */
    readonly leadSeconds: Readonly<Record<string, number>>;
    /** Per pool whose recent-requests trigger the sessions gate: its window after a session (capacity/timetableWarm.ts sessionGateFor). */
    readonly afterSessionLookbackSeconds: Readonly<Record<string, number>>;
    /**
     * The same trace with timetable.warm false: no cron triggers for sessions, one recent-requests window, and the
     * predictive warm-up on where only the timetable turned it off (it learns from the simulated weeks, as a new
     * stack would from its first).
     */
    readonly without: {
        readonly gpuUsdPerMonth: number;
        readonly p95LatencySeconds: number | null;
        readonly p99LatencySeconds: number | null;
        /** Per month: times requests waited for a pool with no routable worker. */
        readonly coldStarts: number;
    };
}

const isTimetableTrigger = (name: string) => name.startsWith("class-");

/** The effect of the timetable's triggers on this simulation's input, or undefined when it has none. */
export function timetableEffect(config: StackConfig, input: SimInput, opts: SetupOptions = {}): TimetableEffect | undefined {
    const triggers = Object.fromEntries(input.workerPools.map((w) => [w.name, w.policy.cron.filter((c) => isTimetableTrigger(c.name)).length]));
    if (Object.values(triggers).every((n) => n === 0)) return undefined;
    const unwarmed: StackConfig = {
        ...config,
        timetable: { ...config.timetable, warm: false, predictiveOff: [] },
        models: config.models.map((m) =>
            config.timetable.predictiveOff.includes(m.name)
                ? { ...m, scaling: { ...m.scaling, predictiveWarmup: { ...m.scaling.predictiveWarmup, enabled: true } } }
                : m,
        ),
    };
    // The same trace: as many days of history as the stack's own run had.
    const without = simulate(buildSimInput(unwarmed, { ...opts, historyDays: (input.trace.history?.seconds ?? 0) / 86400 }));
    const perMonth = (HOURS_PER_MONTH * 3600) / input.trace.horizonSeconds;
    const days = Math.round(input.trace.horizonSeconds / 86400);
    const day0 = input.trace.startDate === undefined ? undefined : dayOfDate(input.trace.startDate);
    let sessions = 0;
    for (const s of config.timetable.slots) {
        if (s.days) for (let d = 0; d < days; d++) sessions += s.days.includes((input.trace.startWeekday + d) % 7) ? 1 : 0;
        else if (s.date !== undefined && day0 !== undefined) sessions += dayOfDate(s.date) >= day0 && dayOfDate(s.date) < day0 + days ? 1 : 0;
    }
    const orNull = (n: number) => (Number.isFinite(n) ? round(n, 2) : null);
    return {
        calendars: config.timetable.calendars,
        weeklySessions: config.timetable.slots.filter((s) => s.days).length,
        sessionsPerMonth: round(sessions * perMonth, 1),
        triggers,
        leadSeconds: Object.fromEntries(config.models.filter((m) => triggers[m.name] > 0).map((m) => [m.name, timetableLeadSeconds(config, m)])),
        afterSessionLookbackSeconds: Object.fromEntries(
            input.workerPools.flatMap((w) => (w.policy.sessionGate ? [[w.name, w.policy.sessionGate.afterSessionLookbackSeconds] as const] : [])),
        ),
        without: {
            gpuUsdPerMonth: round(without.usd * perMonth),
            p95LatencySeconds: orNull(without.latency.p95),
            p99LatencySeconds: orNull(without.latency.p99),
            coldStarts: round(without.workerPools.reduce((a, w) => a + w.coldStarts, 0) * perMonth, 1),
        },
    };
}
