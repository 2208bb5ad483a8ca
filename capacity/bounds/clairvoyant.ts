/**
 * The clairvoyant lower bound: the cheapest any scale policy could run a trace if it knew
 * every arrival in advance but still paid real cold starts.
 *
 * - Every request starts at its arrival (no one waits), so at time t a worker pool needs
 *   n(t) = ceil(active(t) / concurrency) workers, `concurrency` being the requests one
 *   worker serves at full speed (the service model, as for the oracle).
 * - Worker "level" k (the k-th worker) is busy while n(t) >= k. Each level pays its busy
 *   time, one cold start before its first busy interval, and for every idle gap between
 *   two busy intervals min(gap, cold start): keeping the worker warm through the gap
 *   costs the gap, stopping it and restarting it just in time costs a cold start.
 * - Nothing after the last busy interval (scale to zero at once), no scaling delays, no
 *   node-level bin packing: each worker is one GPU priced at node price / GPUs per node.
 *
 * No policy can beat it on GPU time for the same trace while answering every request at
 * arrival: a worker must be up (or starting) before it serves, and starting costs the
 * cold start on a GPU that is billed. The oracle (oracle.ts) ignores cold starts and is
 * 8-30x below anything reachable on bursty profiles; this bound is what `compare` ranks
 * policies against.
 */
import { KIND_IMAGE, Trace } from "../traffic/trace";
import { DEFAULT_SIM_PARAMS, SimParams } from "../sim/params";
import { defaultServiceProfile, serviceSeconds } from "../sim/service";
import type { GpuType } from "../../stacks/catalog/instances";
import type { ModelSpec } from "../../stacks/catalog/models";
import { SimInput, WorkerPoolSetup } from "../sim/types";
import { MeasuredPhases, coldStartPhases, firstAnswer, mechanismsFor, totalSeconds } from "../sim/coldStart";
import { poolNodePrice } from "../cost";
import type { ResolvedModel, StackConfig } from "../../stacks/validate";

export interface ClairvoyantPool {
    /** GPU seconds the bound pays (busy + cold starts + bridged gaps). */
    readonly gpuSeconds: number;
    readonly busySeconds: number;
    readonly coldStartSeconds: number;
    /** Cold starts paid (first starts + restarts after a gap longer than the cold start). */
    readonly coldStarts: number;
    readonly peakWorkers: number;
    readonly usd: number;
    /** The cold start used, seconds. */
    readonly coldStartEachSeconds: number;
}

export interface ClairvoyantCost {
    readonly usd: number;
    readonly gpuSeconds: number;
    readonly perWorkerPool: readonly ClairvoyantPool[];
}

/**
 * The cold start the bound pays, from the simulator's phases (capacity/sim/coldStart.ts, the
 * same the cluster draws): node boot to routable. A policy that knows every arrival
 * launches the node itself, so it pays no metric scrape, KEDA poll or autoscaler reaction,
 * and the answer is busy time, not cold start. "Strict": every start pays a new node.
 */
export function coldStartSeconds(p: SimParams, w: Pick<WorkerPoolSetup, "coldStart" | "weightsGiB">, instanceType: string, measured?: MeasuredPhases): number {
    const phases = coldStartPhases(p, { mechanisms: w.coldStart, weightsGiB: w.weightsGiB, instanceType, pollingIntervalSeconds: 0, firstAnswer: { expected: 0, pessimistic: 0 }, measured });
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
 * GPU-seconds one image request takes on a worker of the pool (median / concurrency, the
 * default service model): how the cold-start-aware demand query sizes a pool at zero.
 */
export function workerSecondsPerRequest(m: { readonly spec: ModelSpec }, pool: { readonly gpuType: GpuType }): number {
    const s = defaultServiceProfile(m.spec, pool.gpuType);
    return Math.round((s.image.medianSeconds / s.concurrency) * 1e4) / 1e4;
}

/** A pool's worker levels: busy time, levels used, idle gaps (levelGaps). */
export interface LevelGaps {
    readonly busySeconds: number;
    /** Levels that are ever busy (each pays one first cold start). */
    readonly levels: number;
    /** Idle gaps between two busy intervals of one level: start time, seconds, level (0 = the first worker). */
    readonly gapStarts: readonly number[];
    readonly gapSeconds: readonly number[];
    readonly gapLevels: readonly number[];
}

/**
 * A pool's worker levels from request start/end times (seconds, any order) and the
 * per-worker concurrency: the busy time of all levels, how many levels ever start, and
 * every idle gap between two busy intervals of one level (its start and length). Every
 * bound (this one, online.ts) prices the same decomposition. Pure, for tests.
 */
export function levelGaps(starts: ArrayLike<number>, ends: ArrayLike<number>, concurrency: number): LevelGaps {
    const n = starts.length;
    // Events sorted by time; at equal times ends come first (a finishing request frees its slot).
    const times = new Float64Array(2 * n);
    const deltas = new Int8Array(2 * n);
    for (let i = 0; i < n; i++) {
        times[2 * i] = starts[i];
        deltas[2 * i] = 1;
        times[2 * i + 1] = ends[i];
        deltas[2 * i + 1] = -1;
    }
    const order = Array.from({ length: 2 * n }, (_, k) => k).sort((a, b) => times[a] - times[b] || deltas[a] - deltas[b]);
    const busySince: number[] = [];
    const lastEnd: number[] = [];
    const gapStarts: number[] = [];
    const gapSeconds: number[] = [];
    const gapLevels: number[] = [];
    let active = 0;
    let level = 0;
    let busy = 0;
    let levels = 0;
    for (const k of order) {
        const t = times[k];
        active += deltas[k];
        const next = Math.ceil(active / concurrency);
        while (level < next) {
            // Level `level` (0-based) starts: its first start, or the end of an idle gap.
            if (lastEnd[level] === undefined) levels++;
            else {
                gapStarts.push(lastEnd[level]);
                gapSeconds.push(t - lastEnd[level]);
                gapLevels.push(level);
            }
            busySince[level] = t;
            level++;
        }
        while (level > next) {
            level--;
            busy += t - busySince[level];
            lastEnd[level] = t;
        }
    }
    return { busySeconds: busy, levels, gapStarts, gapSeconds, gapLevels };
}

/**
 * GPU seconds of the bound for one pool, from request start/end times (seconds, any
 * order), the per-worker concurrency and the cold start. Pure, for tests.
 */
export function clairvoyantSeconds(starts: ArrayLike<number>, ends: ArrayLike<number>, concurrency: number, coldStart: number): Omit<ClairvoyantPool, "usd" | "coldStartEachSeconds"> {
    return clairvoyantFromGaps(levelGaps(starts, ends, concurrency), coldStart);
}

/** The bound priced on a level decomposition: each gap costs min(gap, cold start). */
export function clairvoyantFromGaps(g: LevelGaps, coldStart: number): Omit<ClairvoyantPool, "usd" | "coldStartEachSeconds"> {
    let cold = g.levels * coldStart;
    let coldStarts = g.levels;
    for (const gap of g.gapSeconds) {
        if (gap > coldStart) coldStarts++;
        cold += Math.min(gap, coldStart);
    }
    return { gpuSeconds: g.busySeconds + cold, busySeconds: g.busySeconds, coldStartSeconds: cold, coldStarts, peakWorkers: g.levels };
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

/** The bound for the requests of a trace selected by `include` (default: all), priced per GPU like the oracle. */
export function clairvoyantCost(input: Pick<SimInput, "workerPools" | "gpuPools" | "params" | "coldStartMeasured">, trace: Trace, include?: (i: number) => boolean): ClairvoyantCost {
    const { starts, ends } = requestSpans(input, trace, include);
    const perWorkerPool = input.workerPools.map((w, wi) => {
        const cs = coldStartSeconds(input.params, w, input.gpuPools[w.gpuPool].instanceType, input.coldStartMeasured);
        const r = clairvoyantSeconds(starts[wi], ends[wi], w.service.concurrency, cs);
        const g = input.gpuPools[w.gpuPool];
        return { ...r, coldStartEachSeconds: cs, usd: (r.gpuSeconds / 3600) * (g.usdPerHour / g.gpusPerNode) };
    });
    return { usd: perWorkerPool.reduce((a, p) => a + p.usd, 0), gpuSeconds: perWorkerPool.reduce((a, p) => a + p.gpuSeconds, 0), perWorkerPool };
}
