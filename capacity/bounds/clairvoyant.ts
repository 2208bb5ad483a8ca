/**
 * The clairvoyant lower bound: the cheapest any scale policy could run a trace if it knew
 * every arrival in advance but still paid real cold starts and what the platform charges
 * on each node release. The accounting (worker levels, runs, cold starts, release tails)
 * is capacity/bounds/accounting.ts; this bound takes, for every idle gap of every level,
 * the cheaper of holding through it and releasing at once to launch again one cold start
 * before the next request (accounting.ts cheapestLevel).
 *
 * No policy on this platform can beat it on GPU time for the same trace while answering
 * every request at arrival: a worker must be up (or starting) before it serves, starting
 * costs the cold start on a GPU that is billed, and a release keeps the node billed for
 * the preStop and the autoscaler's wait. The oracle (oracle.ts) ignores cold starts and is
 * 8-30x below anything reachable on bursty profiles; this bound is what `compare` ranks
 * policies against.
 */
import { KIND_IMAGE, Trace } from "../traffic/trace";
import { DEFAULT_SIM_PARAMS, SimParams } from "../../stacks/model/params";
import { defaultServiceProfile, serviceSeconds } from "../sim/service";
import type { GpuType } from "../../stacks/catalog/instances";
import type { ModelSpec } from "../../stacks/catalog/models";
import { GpuPoolSetup, SimInput, WorkerPoolSetup } from "../sim/types";
import { LevelCost, NO_RELEASE_CHARGE, ReleaseCharge, ZERO_COST, addCosts, cheapestLevel, releaseCharge, workerLevels } from "./accounting";
import { MeasuredPhases, coldStartPhases, firstAnswer, mechanismsFor, totalSeconds } from "../../stacks/model/coldStartPhases";
import { poolNodePrice } from "../cost";
import type { ResolvedModel, StackConfig } from "../../stacks/resolved";

export interface ClairvoyantPool extends LevelCost {
    /** Workers ever busy at once (levels used). */
    readonly peakWorkers: number;
    readonly usd: number;
    /** The cold start used, seconds. */
    readonly coldStartEachSeconds: number;
    /** What each node release was charged (accounting.ts). */
    readonly release: ReleaseCharge;
}

export interface ClairvoyantCost {
    readonly usd: number;
    readonly gpuSeconds: number;
    readonly perWorkerPool: readonly ClairvoyantPool[];
}

/**
 * The cold start the bound pays, from the simulator's phases (stacks/model/coldStartPhases.ts, the
 * same the cluster draws): node boot to routable. A policy that knows every arrival
 * launches the node itself, so it pays no metric scrape, KEDA poll or autoscaler reaction,
 * and the answer is busy time, not cold start. "Strict": every start pays a new node.
 */
export function coldStartSeconds(p: SimParams, w: Pick<WorkerPoolSetup, "coldStart" | "weightsGiB">, instanceType: string, measured?: MeasuredPhases): number {
    const phases = coldStartPhases(p, {
        mechanisms: w.coldStart,
        weightsGiB: w.weightsGiB,
        instanceType,
        pollingIntervalSeconds: 0,
        firstAnswer: { expected: 0, pessimistic: 0 },
        measured,
    });
    return totalSeconds(phases.filter((x) => x.key !== "trigger" && x.key !== "autoscaler")) * p.coldStartScale;
}

/**
 * A model's modelled cold start as deployed (request at zero to first answer, the median
 * cost.json reports as `coldStartSeconds`), with the simulator's default parameters: the
 * predictive warm-up's lead and the estimate POST /v1/warmup returns.
 */
export function estimatedColdStartSeconds(config: Pick<StackConfig, "coldStart" | "prices" | "region" | "gpuPools">, m: ResolvedModel): number {
    const pool = config.gpuPools.find((g) => g.name === m.pool);
    if (!pool) throw new Error(`model ${m.name}: GPU pool '${m.pool}' not found`);
    const phases = coldStartPhases(DEFAULT_SIM_PARAMS, {
        mechanisms: mechanismsFor(config, pool, m),
        weightsGiB: m.spec.weightsGiB,
        instanceType: poolNodePrice(config, pool).instanceType,
        pollingIntervalSeconds: m.scaling.pollingIntervalSeconds,
        firstAnswer: firstAnswer(defaultServiceProfile(m.spec, pool.gpuType).image),
        measured: config.coldStart.phases,
    });
    return totalSeconds(phases);
}

/**
 * GPU seconds a worker pool's restart costs, node launch to routable with the simulator's default parameters
 * (coldStartSeconds above, what the bound pays per run): the recent-requests trigger's activation
 * (stacks/scalePolicy.ts recentRequestsActivation) and the simulator's copy of it.
 */
export function restartSeconds(config: Pick<StackConfig, "coldStart" | "prices" | "region" | "gpuPools">, m: ResolvedModel): number {
    const pool = config.gpuPools.find((g) => g.name === m.pool);
    if (!pool) throw new Error(`model ${m.name}: GPU pool '${m.pool}' not found`);
    return (
        Math.round(
            coldStartSeconds(
                DEFAULT_SIM_PARAMS,
                { coldStart: mechanismsFor(config, pool, m), weightsGiB: m.spec.weightsGiB },
                poolNodePrice(config, pool).instanceType,
                config.coldStart.phases,
            ) * 10,
        ) / 10
    );
}

/**
 * GPU-seconds one image request takes on a worker of the pool (median / concurrency, the
 * default service model): how the cold-start-aware demand query sizes a pool at zero.
 */
export function workerSecondsPerRequest(m: { readonly spec: ModelSpec }, pool: { readonly gpuType: GpuType }): number {
    const s = defaultServiceProfile(m.spec, pool.gpuType);
    return Math.round((s.image.medianSeconds / s.concurrency) * 1e4) / 1e4;
}

/**
 * GPU seconds of the bound for one pool, from request start/end times (seconds, any
 * order), the per-worker concurrency, the cold start, the release charge and the end of
 * the span (a last release is billed up to it). Pure, for tests.
 */
export function clairvoyantSeconds(
    starts: ArrayLike<number>,
    ends: ArrayLike<number>,
    concurrency: number,
    coldStart: number,
    release: ReleaseCharge = NO_RELEASE_CHARGE,
    spanEnd = Infinity,
): LevelCost & { readonly peakWorkers: number } {
    const { levels } = workerLevels(starts, ends, concurrency);
    const cost = levels.reduce((sum, level) => addCosts(sum, cheapestLevel(level, coldStart, release, spanEnd)), ZERO_COST);
    return { ...cost, peakWorkers: levels.length };
}

/** Request start and end times per worker pool of the requests `include` selects (default: all). */
export function requestSpans(input: Pick<SimInput, "workerPools">, trace: Trace, include?: (i: number) => boolean): { starts: number[][]; ends: number[][] } {
    const starts = input.workerPools.map(() => [] as number[]);
    const ends = input.workerPools.map(() => [] as number[]);
    for (let i = 0; i < trace.times.length; i++) {
        if (include && !include(i)) continue;
        const wi = trace.pools[i];
        const w = input.workerPools[wi];
        const s = serviceSeconds(trace.kinds[i] === KIND_IMAGE ? w.service.image : w.service.text, trace.z[i]);
        starts[wi].push(trace.times[i]);
        ends[wi].push(trace.times[i] + s);
    }
    return { starts, ends };
}

/** USD per GPU-second of a GPU pool (node price / GPUs per node). */
export function usdPerGpuSecond(g: Pick<GpuPoolSetup, "usdPerHour" | "gpusPerNode">): number {
    return g.usdPerHour / g.gpusPerNode / 3600;
}

/** The bound for the requests of a trace selected by `include` (default: all), priced per GPU like the oracle. */
export function clairvoyantCost(
    input: Pick<SimInput, "workerPools" | "gpuPools" | "params" | "coldStartMeasured">,
    trace: Trace,
    include?: (i: number) => boolean,
): ClairvoyantCost {
    const { starts, ends } = requestSpans(input, trace, include);
    const perWorkerPool = input.workerPools.map((w, wi) => {
        const g = input.gpuPools[w.gpuPool];
        const cs = coldStartSeconds(input.params, w, g.instanceType, input.coldStartMeasured);
        const release = releaseCharge(input.params, g);
        const r = clairvoyantSeconds(starts[wi], ends[wi], w.service.concurrency, cs, release, trace.horizonSeconds);
        return { ...r, coldStartEachSeconds: cs, release, usd: r.gpuSeconds * usdPerGpuSecond(g) };
    });
    return { usd: perWorkerPool.reduce((a, p) => a + p.usd, 0), gpuSeconds: perWorkerPool.reduce((a, p) => a + p.gpuSeconds, 0), perWorkerPool };
}
