/**
 * The `expected` block of cost.json: one simulation of the stack's traffic profile,
 * normalized to a month.
 *
 * Monthly normalization: every count and cost measured over the simulated span
 * (`days` x 24 h, plus the few minutes it takes to finish the last requests) is
 * multiplied by 730 h / (days x 24 h). Built-in profiles repeat weekly, so 7 or 28 days
 * normalize exactly; other spans weight weekdays by how often they occur in the span.
 * Latencies and ratios are not normalized.
 */
import { HOURS_PER_MONTH } from "../../stacks/catalog/instances";
import { natGatewayCount, platformUsdPerHour } from "../cost";
import { imageCacheInitUsdPerLaunch } from "../cacheCost";
import type { StackConfig } from "../../stacks/resolved";
import { simulate } from "./engine";
import { SimInput, SimResult } from "./types";
import { OracleCost, oracleCost } from "./oracle";
import { ClairvoyantCost, clairvoyantCost } from "../bounds/clairvoyant";
import { RuleCost, hindsightHoldCost, onlineRuleCost } from "../bounds/online";
import { profileRateFunctions } from "../traffic/rates";
import { loadSessions } from "../traffic/timetable";
import { SetupOptions, buildSimInput } from "./setup";
import { describePolicy } from "./policy";
import { quantileSorted, round, sortedCopy } from "./stats";
import { ColdStartPhase } from "../../stacks/model/coldStartPhases";
import { workerColdStart } from "./coldStartFigures";
import { TimetableEffect, timetableEffect } from "./timetableEffect";

export interface RequestCounts {
    readonly arrived: number;
    readonly answered: number;
    readonly rejected: number;
    readonly rejected429: number;
    readonly rejected503: number;
    /** Sent to a worker that did not start them within the gateway's upstream timeout (504). */
    readonly timedOut: number;
    readonly held: number;
}

export interface WorkerPoolEstimate {
    readonly name: string;
    readonly model: string;
    readonly policy: string;
    /** Per month. */
    readonly requests: RequestCounts;
    readonly p50LatencySeconds: number | null;
    readonly p95LatencySeconds: number | null;
    readonly p99LatencySeconds: number | null;
    /** Per month: times requests waited for a pool with no routable worker. */
    readonly coldStarts: number;
    /** Per month: cold starts whose held requests all gave up (503) before a worker was routable. */
    readonly coldStartsUnanswered: number;
    /** Median and worst seconds from the first held request to the first answer, over answered cold starts. */
    readonly timeToFirstAnswerSeconds: { readonly median: number; readonly max: number } | null;
    /** Modelled expected seconds from a request at zero (no worker, no node) to its first answer: the sum of coldStartPhases' expected figures. */
    readonly coldStartSeconds: number;
    /** The same, every phase at its pessimistic figure: what the gateway's hold bound covers (stacks/model/holdTime.ts). */
    readonly coldStartPessimisticSeconds: number;
    /** What that cold start is made of, each phase with its source (stacks/model/coldStartPhases.ts). */
    readonly coldStartPhases: readonly ColdStartPhase[];
    readonly peakReplicas: number;
    readonly service: {
        readonly imageMedianSeconds: number;
        readonly textMedianSeconds: number;
        readonly concurrency: number;
        readonly sources: readonly string[];
    };
}

export interface PoolEstimate {
    readonly pool: string;
    readonly gpuType: string;
    readonly instanceType: string;
    readonly capacityType: "spot" | "on-demand";
    /** Where the pool's nodes keep their pods' emptyDirs, and why (gpuPools[].podStorage, stacks/podStorage.ts). */
    readonly podStorage: { readonly disk: "instanceStore" | "volume"; readonly reason: string };
    readonly usdPerNodeHour: number;
    readonly nodeHoursPerMonth: number;
    readonly gpuHoursPerMonth: number;
    readonly usdPerMonth: number;
    readonly oracleUsdPerMonth: number;
    /** GPU cost of the clairvoyant bound (capacity/bounds/clairvoyant.ts) for this pool's requests. */
    readonly clairvoyantUsdPerMonth: number;
    /** GPU cost of the optimal online rule (capacity/bounds/online.ts) for this pool's requests. */
    readonly onlineRuleUsdPerMonth: number;
    /** GPU cost of the best constant hold in hindsight (capacity/bounds/online.ts) for this pool's requests. */
    readonly hindsightHoldUsdPerMonth: number;
    readonly peakNodes: number;
    readonly nodeLaunchesPerMonth: number;
    readonly spotInterruptionsPerMonth: number;
    /** The slowest modelled cold start of the pool's worker pools (expected seconds, request at zero to first answer). */
    readonly coldStartSeconds: number;
    /** The slowest pessimistic cold start of the pool's worker pools. */
    readonly coldStartPessimisticSeconds: number;
    readonly workerPools: readonly WorkerPoolEstimate[];
}

export interface ExpectedCost {
    readonly profile: string;
    readonly seed: number;
    /** Simulated days (the month is normalized from them). */
    readonly days: number;
    readonly method: string;
    /** Everything: fixed (control plane, NAT, ALB, system nodes) + simulated GPU nodes. */
    readonly usdPerMonth: number;
    readonly fixedUsdPerMonth: number;
    readonly gpuUsdPerMonth: number;
    /** GPU node launches x the image-cache volume initialization each pays (capacity/cacheCost.ts imageCacheInitUsdPerLaunch). */
    readonly nodeLaunchUsdPerMonth: number;
    readonly gpuHoursPerMonth: number;
    readonly nodeHoursPerMonth: number;
    readonly p50LatencySeconds: number | null;
    readonly p95LatencySeconds: number | null;
    readonly p99LatencySeconds: number | null;
    /** P95 over every request, a rejected one counting as never answered (null: more than 5 % failed). */
    readonly p95AllRequestsSeconds: number | null;
    /** Per month: times requests waited for a pool with no routable worker (user-visible cold starts). */
    readonly coldStarts: number;
    readonly coldStartsUnanswered: number;
    readonly timeToFirstAnswerSeconds: { readonly median: number; readonly max: number } | null;
    /** Total monthly USD per 1000 answered requests (null without answers). */
    readonly usdPer1kRequests: number | null;
    readonly gpuUsdPer1kRequests: number | null;
    /** GPU cost of the oracle lower bound for the same trace. */
    readonly oracleUsdPerMonth: number;
    /** gpuUsdPerMonth / oracleUsdPerMonth (null when the oracle is 0). */
    readonly oracleRatio: number | null;
    /**
     * GPU cost of the clairvoyant bound: knows every arrival, pays real cold starts and the
     * platform's charge on each node release (capacity/bounds/clairvoyant.ts, accounting in
     * capacity/bounds/accounting.ts). Compare it with gpuUsdPerMonth.
     */
    readonly clairvoyantUsdPerMonth: number;
    /** gpuUsdPerMonth / clairvoyantUsdPerMonth (null when the bound is 0). */
    readonly clairvoyantRatio: number | null;
    /** Cold start the bound pays per start, seconds, per worker pool (the simulator's mean phases). */
    readonly clairvoyantColdStartSeconds: Readonly<Record<string, number>>;
    /**
     * Seconds a node release is billed at least, per worker pool: the worker's preStop + the
     * autoscaler's unneeded time (longer within scale-down-delay-after-add of the node's launch).
     */
    readonly releaseChargeSeconds: Readonly<Record<string, number>>;
    /**
     * GPU cost of the optimal online rule for the profile's known rate (capacity/bounds/online.ts):
     * the bounds' accounting, the first worker released by the Poisson stopping rule, extra
     * workers by the best constant hold in hindsight; latency ignored. A reference, not a bound.
     */
    readonly onlineRuleUsdPerMonth: number;
    /** gpuUsdPerMonth / onlineRuleUsdPerMonth (null when it is 0). */
    readonly onlineRuleRatio: number | null;
    /** The rule, per worker pool, in words. */
    readonly onlineRulePolicy: Readonly<Record<string, string>>;
    /** GPU cost of the best constant hold (one cooldown for every idle worker) chosen in hindsight, latency ignored. */
    readonly hindsightHoldUsdPerMonth: number;
    /** gpuUsdPerMonth / hindsightHoldUsdPerMonth (null when it is 0). */
    readonly hindsightHoldRatio: number | null;
    /** The hold, per worker pool, in words. */
    readonly hindsightHoldPolicy: Readonly<Record<string, string>>;
    readonly requests: RequestCounts;
    /** The gateway's bounds behind the 429s (queue depth per pool) and 503s (seconds held). */
    readonly gatewayLimits: { readonly maxQueueDepth: number; readonly maxWaitSeconds: number };
    readonly perPool: readonly PoolEstimate[];
    readonly assumptions: readonly string[];
    /** Batch jobs of traffic.batches (absent without any): not in the latency figures above. */
    readonly batch?: BatchEstimate;
    /** The timetable's cron triggers (gpuserve:timetable) and the month without them (absent without a timetable). */
    readonly timetable?: TimetableEffect;
}

export interface BatchEstimate {
    readonly jobsPerMonth: number;
    readonly linesPerMonth: number;
    /** Seconds from a job's submission to its last answer, over the simulated jobs (null: a job did not finish). */
    readonly completionSeconds: { readonly median: number; readonly max: number } | null;
    /** GPU hours the batch lines used (service time / worker concurrency). */
    readonly workGpuHoursPerMonth: number;
    /** GPU cost attributed to batch: gpuUsdPerMonth x the batch share of the work done. */
    readonly gpuUsdPerMonth: number;
    readonly gpuUsdPerJob: number | null;
}

export type ExpectedCostOptions = SetupOptions;

/** Monthly cost of everything but GPU nodes: the static model's platform share of the floor. */
export function fixedUsdPerMonth(config: StackConfig): number {
    return round(platformUsdPerHour(config, natGatewayCount(config)) * HOURS_PER_MONTH);
}

export interface StackSimulation {
    readonly input: SimInput;
    readonly result: SimResult;
    readonly oracle: OracleCost;
    readonly clairvoyant: ClairvoyantCost;
    readonly onlineRule: RuleCost;
    readonly hindsightHold: RuleCost;
    readonly expected: ExpectedCost;
}

/** Simulates a stack and summarizes it; `expectedCost` keeps only the summary. */
export function simulateStack(config: StackConfig, opts: ExpectedCostOptions = {}): StackSimulation {
    const input = buildSimInput(config, opts);
    const result = simulate(input);
    const oracle = oracleCost(input, input.trace);
    const clairvoyant = clairvoyantCost(input, input.trace);
    const refs = references(config, input);
    // The timetable's effect is the stack's own policy with and without its cron triggers: not for replaced policies.
    const timetable = opts.policies ? undefined : timetableEffect(config, input, opts);
    const expected = summarize(config, input, result, oracle, clairvoyant, refs);
    return { input, result, oracle, clairvoyant, ...refs, expected: timetable ? { ...expected, timetable } : expected };
}

/** The hold-rule references of a stack's simulated trace: the optimal online rule (with the rates its traffic profile expects) and the best hold in hindsight. */
function references(config: StackConfig, input: SimInput): { onlineRule: RuleCost; hindsightHold: RuleCost } {
    const targets = config.models.map((m) => ({ name: m.name, id: m.id }));
    const rates = profileRateFunctions(config.traffic, targets, input.trace, loadSessions(config.traffic, config.timetable, targets));
    return { onlineRule: onlineRuleCost(input, input.trace, rates), hindsightHold: hindsightHoldCost(input, input.trace) };
}

const orNull = (n: number, digits = 2) => (Number.isFinite(n) ? round(n, digits) : null);

function ttfa(values: readonly number[]): { median: number; max: number } | null {
    if (values.length === 0) return null;
    const s = sortedCopy(values);
    return { median: round(quantileSorted(s, 0.5), 1), max: round(s[s.length - 1], 1) };
}

function summarize(
    config: StackConfig,
    input: SimInput,
    result: SimResult,
    oracle: OracleCost,
    clairvoyant: ClairvoyantCost = clairvoyantCost(input, input.trace),
    refs = references(config, input),
): ExpectedCost {
    const days = input.trace.horizonSeconds / 86400;
    const perMonth = (HOURS_PER_MONTH * 3600) / input.trace.horizonSeconds;
    const counts = (
        xs: readonly { arrived: number; answered: number; rejected429: number; rejected503: number; timedOut: number; held: number }[],
    ): RequestCounts => {
        const sum = (f: (x: (typeof xs)[number]) => number) => Math.round(xs.reduce((a, x) => a + f(x), 0) * perMonth);
        return {
            arrived: sum((x) => x.arrived),
            answered: sum((x) => x.answered),
            rejected: sum((x) => x.rejected429 + x.rejected503 + x.timedOut),
            rejected429: sum((x) => x.rejected429),
            rejected503: sum((x) => x.rejected503),
            timedOut: sum((x) => x.timedOut),
            held: sum((x) => x.held),
        };
    };
    const perPool: PoolEstimate[] = result.gpuPools.map((g, gi) => {
        const wps = result.workerPools.filter((_, wi) => input.workerPools[wi].gpuPool === gi);
        const oracleUsd = oracle.perWorkerPool.reduce((a, o, wi) => a + (input.workerPools[wi].gpuPool === gi ? o.usd : 0), 0);
        const clairvoyantUsd = clairvoyant.perWorkerPool.reduce((a, o, wi) => a + (input.workerPools[wi].gpuPool === gi ? o.usd : 0), 0);
        const poolUsd = (c: RuleCost) => c.perWorkerPool.reduce((a, o, wi) => a + (input.workerPools[wi].gpuPool === gi ? o.usd : 0), 0);
        return {
            pool: g.name,
            gpuType: config.gpuPools[gi].gpuType,
            instanceType: g.instanceType,
            capacityType: g.capacityType,
            podStorage: { disk: config.gpuPools[gi].podStorage, reason: config.gpuPools[gi].podStorageReason },
            usdPerNodeHour: round(g.usdPerHour, 4),
            nodeHoursPerMonth: round((g.nodeSeconds / 3600) * perMonth, 1),
            gpuHoursPerMonth: round(((g.nodeSeconds * g.gpusPerNode) / 3600) * perMonth, 1),
            usdPerMonth: round(g.usd * perMonth),
            oracleUsdPerMonth: round(oracleUsd * perMonth),
            clairvoyantUsdPerMonth: round(clairvoyantUsd * perMonth),
            onlineRuleUsdPerMonth: round(poolUsd(refs.onlineRule) * perMonth),
            hindsightHoldUsdPerMonth: round(poolUsd(refs.hindsightHold) * perMonth),
            peakNodes: g.peakNodes,
            nodeLaunchesPerMonth: round(g.nodeLaunches * perMonth, 1),
            spotInterruptionsPerMonth: round(g.interruptions * perMonth, 1),
            coldStartSeconds: Math.max(0, ...wps.map((w) => workerColdStart(config, input, result.workerPools.indexOf(w)).coldStartSeconds)),
            coldStartPessimisticSeconds: Math.max(
                0,
                ...wps.map((w) => workerColdStart(config, input, result.workerPools.indexOf(w)).coldStartPessimisticSeconds),
            ),
            workerPools: wps.map((w) => {
                const wi = result.workerPools.indexOf(w);
                const s = input.workerPools[wi].service;
                return {
                    name: w.name,
                    model: w.model,
                    policy: describePolicy(input.workerPools[wi].policy),
                    requests: counts([w]),
                    p50LatencySeconds: orNull(w.latency.p50),
                    p95LatencySeconds: orNull(w.latency.p95),
                    p99LatencySeconds: orNull(w.latency.p99),
                    coldStarts: round(w.coldStarts * perMonth, 1),
                    coldStartsUnanswered: round(w.coldStartsUnanswered * perMonth, 1),
                    timeToFirstAnswerSeconds: ttfa(w.timeToFirstAnswer),
                    ...workerColdStart(config, input, wi),
                    peakReplicas: w.peakReplicas,
                    service: {
                        imageMedianSeconds: round(s.image.medianSeconds, 3),
                        textMedianSeconds: round(s.text.medianSeconds, 3),
                        concurrency: s.concurrency,
                        sources: s.sources,
                    },
                };
            }),
        };
    });
    const fixed = fixedUsdPerMonth(config);
    const gpuUsd = result.usd * perMonth;
    const launchUsd = result.gpuPools.reduce((a, g, gi) => a + g.nodeLaunches * imageCacheInitUsdPerLaunch(config, config.gpuPools[gi]), 0) * perMonth;
    const nodeSeconds = result.gpuPools.reduce((a, g) => a + g.nodeSeconds, 0);
    const gpuSeconds = result.gpuPools.reduce((a, g) => a + g.nodeSeconds * g.gpusPerNode, 0);
    const requests = counts(result.workerPools);
    const answered = result.workerPools.reduce((a, w) => a + w.answered, 0) * perMonth;
    const oracleUsd = oracle.usd * perMonth;
    const clairvoyantUsd = clairvoyant.usd * perMonth;
    const onlineUsd = refs.onlineRule.usd * perMonth;
    const holdUsd = refs.hindsightHold.usd * perMonth;
    return {
        profile: input.trace.profile,
        seed: input.trace.seed,
        days: round(days, 2),
        method: "discrete-event simulation of gateway, vLLM workers, KEDA, HPA, Cluster Autoscaler and node provisioning (capacity/sim); monthly = simulated x 730 h / simulated hours",
        usdPerMonth: round(fixed + gpuUsd + launchUsd),
        fixedUsdPerMonth: fixed,
        gpuUsdPerMonth: round(gpuUsd),
        nodeLaunchUsdPerMonth: round(launchUsd),
        gpuHoursPerMonth: round((gpuSeconds / 3600) * perMonth, 1),
        nodeHoursPerMonth: round((nodeSeconds / 3600) * perMonth, 1),
        p50LatencySeconds: orNull(result.latency.p50),
        p95LatencySeconds: orNull(result.latency.p95),
        p99LatencySeconds: orNull(result.latency.p99),
        p95AllRequestsSeconds: orNull(result.latencyAllRequests.p95),
        coldStarts: round(result.workerPools.reduce((a, w) => a + w.coldStarts, 0) * perMonth, 1),
        coldStartsUnanswered: round(result.workerPools.reduce((a, w) => a + w.coldStartsUnanswered, 0) * perMonth, 1),
        timeToFirstAnswerSeconds: ttfa(result.workerPools.flatMap((w) => w.timeToFirstAnswer)),
        usdPer1kRequests: answered > 0 ? round(((fixed + gpuUsd + launchUsd) / answered) * 1000, 3) : null,
        gpuUsdPer1kRequests: answered > 0 ? round((gpuUsd / answered) * 1000, 3) : null,
        oracleUsdPerMonth: round(oracleUsd),
        oracleRatio: oracleUsd > 0 ? round(gpuUsd / oracleUsd, 2) : null,
        clairvoyantUsdPerMonth: round(clairvoyantUsd),
        clairvoyantRatio: clairvoyantUsd > 0 ? round(gpuUsd / clairvoyantUsd, 2) : null,
        clairvoyantColdStartSeconds: Object.fromEntries(
            input.workerPools.map((w, wi) => [w.name, round(clairvoyant.perWorkerPool[wi].coldStartEachSeconds, 1)]),
        ),
        releaseChargeSeconds: Object.fromEntries(
            input.workerPools.map((w, wi) => [
                w.name,
                clairvoyant.perWorkerPool[wi].release.preStopSeconds + clairvoyant.perWorkerPool[wi].release.unneededSeconds,
            ]),
        ),
        onlineRuleUsdPerMonth: round(onlineUsd),
        onlineRuleRatio: onlineUsd > 0 ? round(gpuUsd / onlineUsd, 2) : null,
        onlineRulePolicy: Object.fromEntries(input.workerPools.map((w, wi) => [w.name, refs.onlineRule.perWorkerPool[wi].policy])),
        hindsightHoldUsdPerMonth: round(holdUsd),
        hindsightHoldRatio: holdUsd > 0 ? round(gpuUsd / holdUsd, 2) : null,
        hindsightHoldPolicy: Object.fromEntries(input.workerPools.map((w, wi) => [w.name, refs.hindsightHold.perWorkerPool[wi].policy])),
        requests,
        gatewayLimits: { maxQueueDepth: input.gateway.maxQueueDepth, maxWaitSeconds: input.gateway.maxWaitSeconds },
        perPool,
        ...(result.batch ? { batch: batchEstimate(result, perMonth, gpuUsd) } : {}),
        assumptions: [
            "traffic, service times and cold-start figures are documented defaults (capacity/traffic, capacity/sim/service.ts, stacks/model/params.ts) unless overridden in gpuserve:traffic",
            "time is the stack's local time; daylight-saving shifts are ignored",
            "Cluster Autoscaler removes only empty GPU nodes (no bin-packing moves of running workers)",
            "spot interruptions are off unless the simulator option spotInterruptionsPerNodeHour is set",
        ],
    };
}

function batchEstimate(result: SimResult, perMonth: number, gpuUsd: number): BatchEstimate {
    const b = result.batch!;
    const spans = b.jobs.map((j) => j.makespanSeconds);
    const work = b.workSeconds.reduce((a, x) => a + x, 0);
    const allWork = result.workerPools.reduce((a, w) => a + w.workSeconds, 0);
    const usd = allWork > 0 ? gpuUsd * (work / allWork) : 0;
    const jobs = b.jobs.length * perMonth;
    return {
        jobsPerMonth: round(jobs, 1),
        linesPerMonth: Math.round(b.lines * perMonth),
        completionSeconds: spans.length === 0 || spans.some((x) => Number.isNaN(x)) ? null : ttfa(spans),
        workGpuHoursPerMonth: round((work / 3600) * perMonth, 1),
        gpuUsdPerMonth: round(usd),
        gpuUsdPerJob: jobs > 0 ? round(usd / jobs, 2) : null,
    };
}

/**
 * The stack's expected monthly cost and latency for its traffic profile (cost.json
 * `expected`, stack output `costEstimate.expected`). Pure and deterministic for the
 * config (its `traffic.seed`); span.ts's span by default, the one compare uses.
 */
export function expectedCost(config: StackConfig, opts: ExpectedCostOptions = {}): ExpectedCost {
    return simulateStack(config, opts).expected;
}
