/**
 * A worker pool's cron triggers as deployed (components/serving/workers.ts) and simulated
 * (capacity/sim/setup.ts): its warm windows and its timetable sessions, each session warmed
 * one pessimistic warm-up (a cold start as a cron trigger starts it) ahead (stacks/cronTriggers.ts says how sessions become triggers).
 */
import { CronTrigger, SessionGate, timetableTriggers, warmWindowTriggers } from "../stacks/cronTriggers";
import { cooldownSecondsFor } from "../stacks/scalePolicy";
import type { ResolvedModel, StackConfig } from "../stacks/resolved";
import { estimatedColdStartSeconds } from "./bounds/clairvoyant";
import { coldStartPhases, mechanismsFor } from "../stacks/model/coldStartPhases";
import { DEFAULT_SIM_PARAMS, SimParams } from "../stacks/model/params";
import type { SessionWindow } from "../gateway/src/timetable";

type WarmConfig = Pick<StackConfig, "coldStart" | "prices" | "region" | "gpuPools" | "timezone" | "timetable">;

/**
 * A pool's pessimistic warm-up, from a cron trigger's start to a routable worker: the pool's
 * pessimistic cold start (stacks/model/coldStartPhases.ts: full waits, range maxima, network credits
 * spent, the slowest EBS initialization; a team's measured phases replace the model) on the
 * slowest of the pool's instance types, without the metric scrape (KEDA reads a cron
 * trigger at its poll) and without the answer. The compile cache counts as deployed: a hit
 * (pessimistic restore) when the stack keeps one, as every start but the first after a change of
 * image, model or vLLM arguments finds it; that first start may be ~3 min late. What a session's
 * lead covers so its first question finds a worker.
 */
export function pessimisticWarmupSeconds(config: Pick<StackConfig, "coldStart" | "gpuPools">, m: ResolvedModel, p: SimParams = DEFAULT_SIM_PARAMS): number {
    const pool = config.gpuPools.find((g) => g.name === m.pool);
    if (!pool) throw new Error(`model ${m.name}: GPU pool '${m.pool}' not found`);
    const mechanisms = mechanismsFor(config, pool, m);
    const measured = config.coldStart.phases;
    const cacheHit = mechanisms.compileCache !== "none" && measured?.engineInit === undefined;
    const hit = p.engineProfileSeconds + p.compileCachedSeconds + (mechanisms.compileCache === "s3" ? p.compileCacheRestoreSeconds.max : 0);
    // The slowest of the pool's instance types (network for the weights download, EBS for their copy).
    const seconds = Math.max(
        ...pool.instanceTypes.map((instanceType) => {
            const phases = coldStartPhases(p, {
                mechanisms,
                weightsGiB: m.spec.weightsGiB,
                instanceType,
                pollingIntervalSeconds: m.scaling.pollingIntervalSeconds,
                firstAnswer: { expected: 0, pessimistic: 0 },
                measured,
            });
            return phases.reduce((a, x) => a + (x.key === "engineInit" && cacheHit ? hit : x.pessimisticSeconds), 0) - p.scrapeSeconds;
        }),
    );
    return Math.ceil(seconds * p.coldStartScale);
}

/** Seconds before a session's start its pool is asked for: gpuserve:timetable.leadSeconds, or the pool's pessimistic warm-up. */
export function timetableLeadSeconds(config: Pick<StackConfig, "coldStart" | "gpuPools" | "timetable">, m: ResolvedModel): number {
    return config.timetable.leadSeconds ?? pessimisticWarmupSeconds(config, m);
}

/** Every cron trigger of a worker pool's ScaledObject: warm windows, then timetable sessions. */
export function cronTriggersFor(config: WarmConfig, m: ResolvedModel): CronTrigger[] {
    const cooldownSeconds = cooldownSecondsFor(m.scaling, estimatedColdStartSeconds(config, m));
    return [
        ...warmWindowTriggers(m.scaling.warmWindows, config.timezone),
        ...timetableTriggers(config.timetable, m.name, config.timezone, { leadSeconds: timetableLeadSeconds(config, m), cooldownSeconds }),
    ];
}

/**
 * The pool's session gate, or undefined: the timetable does not warm the pool (warm false, no session of it, a
 * shared pool the platform scales), the recent-requests trigger is off, or the two windows are the same.
 */
export function sessionGateFor(config: Pick<StackConfig, "timetable">, m: ResolvedModel): SessionGate | undefined {
    const t = config.timetable;
    const after = t.afterSessionLookbackSeconds;
    const during = m.scaling.activityLookbackSeconds;
    if (!t.warm || m.shared || after === 0 || during === 0 || after === during) return undefined;
    // A calendar event shorter than half a minute is 0 minutes long (stacks/calendar/expand.ts): never in progress.
    const windows = t.slots
        .filter((s) => s.pool === m.name && s.minutes > 0)
        .map((s): SessionWindow => ({ ...(s.days ? { days: [...s.days] } : { date: s.date! }), start: s.startSeconds, minutes: s.minutes }));
    return windows.length > 0 ? { windows, afterSessionLookbackSeconds: after } : undefined;
}

/**
 * What would make the plan's timetable figures mislead (printed by the plan as warnings): a simulated load that
 * is not the timetable's sessions, and a cooldown that outlasts the window after a session.
 */
export function timetableWarnings(config: Pick<StackConfig, "timetable" | "traffic" | "models">): string[] {
    const t = config.timetable;
    if (t.slots.length === 0) return [];
    const out: string[] = [];
    if (config.traffic.profile !== "timetable")
        out.push(
            `gpuserve:traffic.profile is '${config.traffic.profile}': the plan's expected month simulates that load, not the sessions of gpuserve:timetable, so its timetable figures say nothing about your classes. Fix: set traffic.profile to timetable (the sessions' students and questionsPerStudent are the load)`,
        );
    config.models.forEach((m, i) => {
        const gate = sessionGateFor(config, m);
        const cooldown = m.scaling.cooldownSeconds;
        if (gate && cooldown !== undefined && cooldown > gate.afterSessionLookbackSeconds)
            out.push(
                `gpuserve:models[${i}].scaling.cooldownSeconds (${cooldown}) keeps pool '${m.name}' ${cooldown} s longer after each session's last question than timetable.afterSessionLookbackSeconds (${gate.afterSessionLookbackSeconds}) alone: KEDA's cooldown starts once the recent-requests window is empty. Fix: remove cooldownSeconds (60 s with the recent-requests trigger) unless you want that`,
            );
    });
    return out;
}
