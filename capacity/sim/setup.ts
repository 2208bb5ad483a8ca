/**
 * From a validated StackConfig to the simulator's input: the trace of the stack's traffic
 * profile, one worker pool per model entry with its scale policy and service model, one
 * GPU pool per node group priced like the static cost model (cheapest instance type,
 * spot discount).
 */
import { poolNodePrice } from "../cost";
import { ConfigError } from "../../stacks/errors";
import { PROJECT } from "../../stacks/schema";
import { TrafficConfig, buildTrace } from "../traffic";
import { splitHistory } from "../traffic/trace";
import { LoadSession, loadSessions, timetableOccurrences } from "../traffic/timetable";
import { firstDate, mondayOf } from "../../stacks/timetable";
import { dateOfDay, dayOfDate, weekdayOf } from "../../stacks/calendar/zones";
import { cronTriggersFor, sessionGateFor } from "../timetableWarm";
import { estimatedColdStartSeconds, restartSeconds, workerSecondsPerRequest } from "../bounds/clairvoyant";
import { MAX_WARMUP_MINUTES } from "../../stacks/scalePolicy";
import { withBatchJobs } from "../traffic/batch";
import { BATCH_DEFAULTS } from "./batch";
import type { StackConfig } from "../../stacks/resolved";
import { GpuPoolSetup, SimInput, Warmup, WorkerPoolSetup } from "./types";
import { SimParams, resolveParams } from "../../stacks/model/params";
import { PolicySpec, policyFromScaling } from "./policy";
import { defaultServiceProfile, withOverride } from "./service";
import { imageInitSeconds, mechanismsFor, poolUnneededSeconds, workerStart } from "../../stacks/model/coldStartPhases";
import { durationSeconds } from "./duration";
import { DEFAULT_SIMULATED_DAYS } from "./span";
import { CA_TIMING } from "../../stacks/clusterAutoscalerTiming";

export interface SetupOptions {
    /** Days to simulate (the "csv" profile uses its own span). @default DEFAULT_SIMULATED_DAYS (span.ts: 28, as compare) */
    readonly days?: number;
    readonly params?: Partial<SimParams>;
    /** Directory a CSV trace path is relative to. @default process.cwd() */
    readonly root?: string;
    /** Replace the policy of worker pools (e.g. the reference policy), by worker pool name or for all ("*"). */
    readonly policies?: Readonly<Record<string, PolicySpec>>;
    /**
     * Days of traffic generated before the simulated span, not simulated or reported: what
     * Prometheus remembers for the predictive warm-up, so it runs as in steady state.
     * @default the longest predictive look-back of the stack's pools (0 without predictive warm-up or for "csv")
     */
    readonly historyDays?: number;
}

/** Parameters that follow what the stack deploys (Cluster Autoscaler scale-down time), before explicit overrides. */
function stackParams(config: StackConfig): Partial<SimParams> {
    return {
        caUnneededSeconds: durationSeconds(config.addons.clusterAutoscaler.scaleDownUnneededTime),
        caDelayAfterAddSeconds: durationSeconds(CA_TIMING.scaleDownDelayAfterAdd),
        caScanSeconds: durationSeconds(CA_TIMING.scanInterval),
    };
}

export function buildSimInput(config: StackConfig, opts: SetupOptions = {}): SimInput {
    const params = resolveParams({ ...stackParams(config), ...opts.params });
    const traffic = config.traffic;
    const targets = config.models.map((m) => ({ name: m.name, id: m.id }));
    for (const key of Object.keys(traffic.service)) {
        if (!targets.some((t) => t.name === key || t.id === key)) {
            throw new ConfigError([
                {
                    key: `${PROJECT}:traffic.service.${key}`,
                    message: `'${key}' is not a worker pool of this stack`,
                    fix: `use a model name or id from gpuserve:models (${targets.map((t) => t.name).join(", ")})`,
                },
            ]);
        }
    }
    const days = opts.days ?? DEFAULT_SIMULATED_DAYS;
    const lookbacks = config.models.filter((m) => m.scaling.predictiveWarmup.enabled).map((m) => m.scaling.predictiveWarmup.lookbackDays);
    const historyDays = traffic.profile === "csv" ? 0 : (opts.historyDays ?? Math.max(0, ...lookbacks));
    // A span with calendar sessions has dates (traffic.startDate, or the Monday before the first session); generation starts the history before it.
    const startDate = spanStartDate(config);
    const generatedFrom = startDate === undefined ? undefined : dateOfDay(dayOfDate(startDate) - historyDays);
    // History first (unreported), then the batch jobs of the reported span (traffic/batch.ts).
    const trace = withBatchJobs(
        splitHistory(
            buildTrace(traffic, targets, {
                days: days + historyDays,
                timezone: config.timezone,
                root: opts.root,
                startDate: generatedFrom,
                timetable: config.timetable,
            }),
            historyDays * 86400,
        ),
        traffic.batches,
        targets,
    );
    const warmups = teacherWarmups(traffic, loadSessions(traffic, config.timetable, targets), days, historyDays, generatedFrom);
    const gpuPools: GpuPoolSetup[] = config.gpuPools.map((pool) => {
        const price = poolNodePrice(config, pool);
        return {
            name: pool.name,
            instanceType: price.instanceType,
            capacityType: pool.capacityType,
            usdPerHour: price.usdPerHour,
            gpusPerNode: Math.max(1, pool.gpusPerNode),
            minNodes: pool.minNodes,
            maxNodes: pool.maxNodes,
            ami: pool.ami,
            imageCache: config.coldStart.imageCache === "snapshot" && pool.ami === "bottlerocket",
            imageInitSeconds: imageInitSeconds(params, mechanismsFor(config, pool, { cacheClaimName: undefined }).imageInitRateMiBps),
            // The node group's ASG tag (components/cluster/index.ts): the pool's override or the derived figure; an explicit caUnneededSeconds parameter overrides both.
            scaleDownUnneededSeconds: opts.params?.caUnneededSeconds ?? poolUnneededSeconds(pool),
        };
    });
    const workerPools: WorkerPoolSetup[] = config.models.map((m) => {
        const gpuPool = config.gpuPools.findIndex((p) => p.name === m.pool);
        const pool = config.gpuPools[gpuPool];
        const override = traffic.service[m.name] ?? traffic.service[m.id];
        const mechanisms = mechanismsFor(config, pool, m);
        return {
            name: m.name,
            model: m.id,
            weightsGiB: m.spec.weightsGiB,
            coldStart: mechanisms,
            start: workerStart(params, mechanisms, m.spec.weightsGiB, poolNodePrice(config, pool).instanceType, config.coldStart.phases),
            gpuPool,
            policy:
                opts.policies?.[m.name] ??
                opts.policies?.["*"] ??
                policyFromScaling(
                    m.scaling,
                    "ours",
                    estimatedColdStartSeconds(config, m),
                    workerSecondsPerRequest(m, pool),
                    config.serving.batch.enabled,
                    cronTriggersFor(config, m),
                    restartSeconds(config, m),
                    sessionGateFor(config, m),
                ),
            service: withOverride(defaultServiceProfile(m.spec, pool.gpuType), override),
            maxConcurrentPerWorker: params.maxConcurrentPerWorker > 0 ? params.maxConcurrentPerWorker : m.maxNumSeqs,
        };
    });
    const batch = traffic.batches.length > 0 ? { ...BATCH_DEFAULTS } : undefined;
    return {
        trace,
        workerPools,
        gpuPools,
        gateway: config.serving.gateway,
        params,
        seed: traffic.seed,
        warmups,
        batch,
        coldStartMeasured: config.coldStart.phases,
    };
}

/** The date of the simulated span's day 0: traffic.startDate, else the Monday on or before the timetable's first dated session, else none. */
function spanStartDate(config: Pick<StackConfig, "traffic" | "timetable">): string | undefined {
    if (config.traffic.startDate !== undefined) return config.traffic.startDate;
    const first = firstDate(config.timetable);
    return first === undefined ? undefined : mondayOf(first);
}

/**
 * The teacher of every timetabled class presses "Get GPUs ready for class" (POST
 * /v1/warmup, one replica for the class's length) `warmupMinutesBefore` minutes before
 * it starts; nothing for other profiles or when set to 0. `generatedFrom`: the date of the
 * trace's first generated day (history included), when sessions have dates.
 */
function teacherWarmups(
    traffic: TrafficConfig,
    sessions: readonly LoadSession[] | undefined,
    days: number,
    historyDays: number,
    generatedFrom?: string,
): Warmup[] {
    if (traffic.warmupMinutesBefore === 0 || sessions === undefined) return [];
    const shift = historyDays * 86400;
    const startWeekday = generatedFrom === undefined ? 1 : weekdayOf(generatedFrom);
    return timetableOccurrences(sessions, days + historyDays, startWeekday, traffic.seed, generatedFrom)
        .filter((c) => c.start >= shift)
        .map((c) => {
            const from = c.start - shift - traffic.warmupMinutesBefore * 60;
            return {
                pool: c.pool,
                from,
                until: from + Math.min(MAX_WARMUP_MINUTES, traffic.warmupMinutesBefore + sessions[c.entry].minutes) * 60,
                replicas: 1,
            };
        });
}
