/**
 * A worker pool's cron triggers as deployed (components/serving/workers.ts) and simulated
 * (capacity/sim/setup.ts): its warm windows and its timetable sessions, each session warmed
 * one pessimistic warm-up (a cold start as a cron trigger starts it) ahead (stacks/cronTriggers.ts says how sessions become triggers).
 */
import { CronTrigger, timetableTriggers, warmWindowTriggers } from "../stacks/cronTriggers";
import { cooldownSecondsFor } from "../stacks/scalePolicy";
import type { ResolvedModel, StackConfig } from "../stacks/validate";
import { estimatedColdStartSeconds } from "./bounds/clairvoyant";
import { allocatableAfterLaunch, mechanismsFor, nodeBootRange, streamSecondsPerGiB, vllmStartSeconds } from "./sim/coldStart";
import { DEFAULT_SIM_PARAMS, SimParams } from "./sim/params";

type WarmConfig = Pick<StackConfig, "coldStart" | "prices" | "region" | "gpuPools" | "timezone" | "timetable">;

/**
 * A pool's pessimistic warm-up, from a cron trigger's start to a routable worker: a full
 * KEDA poll (the cron trigger is read at polls; no metric scrape), the autoscaler's GPU
 * buffer and a full scan, the slowest node boot, the pod start with the mechanisms the stack
 * deploys (the compile cache restored, when it is on), a full readiness period and DNS
 * refresh, on the slowest network of the pool's instance types. What a session's lead
 * covers so its first question finds a worker.
 */
export function pessimisticWarmupSeconds(config: Pick<StackConfig, "coldStart" | "gpuPools">, m: ResolvedModel, p: SimParams = DEFAULT_SIM_PARAMS): number {
    const pool = config.gpuPools.find((g) => g.name === m.pool);
    if (!pool) throw new Error(`model ${m.name}: GPU pool '${m.pool}' not found`);
    const mech = mechanismsFor(config, pool, m);
    const instanceType = [...pool.instanceTypes].sort((a, b) => streamSecondsPerGiB(p, b) - streamSecondsPerGiB(p, a))[0];
    const boot = nodeBootRange(p, mech.ami).max;
    const image = mech.imageCache ? p.imagePullCachedSeconds : p.imagePullUncachedSeconds.max;
    const v = vllmStartSeconds(p, mech, m.spec.weightsGiB, streamSecondsPerGiB(p, instanceType));
    const waits = m.scaling.pollingIntervalSeconds + p.caGpuBufferSeconds + p.caScanSeconds;
    return Math.ceil((waits + allocatableAfterLaunch(p, mech.ami, boot) + image + v.weights + v.engine + v.compile + p.readyToRoutableSeconds * 2) * p.coldStartScale);
}

/** Seconds before a session's start its pool is asked for: gpuserve:timetable.leadSeconds, or the pool's pessimistic warm-up. */
export function timetableLeadSeconds(config: Pick<StackConfig, "coldStart" | "gpuPools" | "timetable">, m: ResolvedModel): number {
    return config.timetable.leadSeconds ?? pessimisticWarmupSeconds(config, m);
}

/** Every cron trigger of a worker pool's ScaledObject: warm windows, then timetable sessions. */
export function cronTriggersFor(config: WarmConfig, m: ResolvedModel): CronTrigger[] {
    const cooldownSeconds = cooldownSecondsFor(m.scaling, estimatedColdStartSeconds(config, m));
    return [...warmWindowTriggers(m.scaling.warmWindows, config.timezone), ...timetableTriggers(config.timetable, m.name, config.timezone, { leadSeconds: timetableLeadSeconds(config, m), cooldownSeconds })];
}
