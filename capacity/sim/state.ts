/**
 * The simulation's shared state: the clock and event queue, per-request arrays, and the
 * objects the control loops act on (pods, nodes, worker pools, GPU pools). The gateway,
 * the cluster and the control loops (gateway.ts, cluster.ts, control.ts) each own the
 * rules for their part and change this state only through their own methods.
 */
import { ARRIVAL_RATE_RANGE_SECONDS, LATENCY_RANGE_SECONDS } from "../../stacks/scalePolicy";
import { KIND_IMAGE, Trace } from "../traffic/trace";
import type { BatchTrace } from "../traffic/batch";
import { BatchSim } from "./batch";
import { CronSpan, CronWindow, compileCron, sessionClock } from "./cron";
import { EventHeap } from "./heap";
import { durationBucketBounds, PoolSeries } from "./exported";
import { HpaController } from "./hpa";
import { KedaState } from "./keda";
import { SimParams } from "../../stacks/model/params";
import type { SignalRecording } from "./recording";
import { serviceSeconds } from "./service";
import { TeamMeters } from "./teamMeter";
import { GpuPoolSetup, OUTCOME, SimInput, WorkerPoolSetup } from "./types";

export enum PodState {
    /** Created, waiting for a GPU (the Cluster Autoscaler's trigger). */
    Pending,
    /** Bound to a node: image pull, model load. */
    Starting,
    /** Routable by the gateway. */
    Ready,
    /** Deleted: out of rotation, finishing its requests. */
    Draining,
    Gone,
}

export enum NodeState {
    Booting,
    Ready,
    /** Spot reclaim notice received. */
    Interrupted,
    Gone,
}

export enum Ev {
    Complete,
    PodReady,
    PodRelease,
    NodeAllocatable,
    HoldTimeout,
    UpstreamTimeout,
    Scrape,
    DcgmScrape,
    HpaSync,
    KedaPoll,
    CaScan,
    SpotNotice,
    SpotTerminate,
    Sample,
}

export interface SimEvent {
    t: number;
    seq: number;
    type: Ev;
    pod?: Pod;
    node?: Node;
    /** Request or worker pool index. */
    i: number;
    /** Request generation the event was scheduled for (stale events are ignored). */
    g: number;
}

/** One vLLM worker pod. */
export class Pod {
    state = PodState.Pending;
    node: Node | undefined;
    /** When the Deployment created it (Cluster Autoscaler's GPU buffer counts from here). */
    createdAt = 0;
    boundAt = 0;
    /** Requests being served (at most the worker's concurrency). */
    readonly running = new Set<number>();
    /** vLLM's waiting queue; entries whose request left (timed out) are skipped lazily. */
    waiting: number[] = [];
    waitHead = 0;
    waitingLive = 0;
    busySince = 0;
    busyAccum = 0;
    utilMark = 0;
    utilMarkAt = 0;
    /** Last DCGM GPU utilization sample, percent. */
    util = 0;
    drainUntil = 0;
    constructor(
        readonly wp: number,
        readonly seq: number,
    ) {}
    get outstanding(): number {
        return this.running.size + this.waitingLive;
    }
}

/** One GPU node of a node group. */
export class Node {
    state = NodeState.Booting;
    allocatableAt = Infinity;
    goneAt = Infinity;
    slotsUsed = 0;
    pods: Pod[] = [];
    /** When the vLLM image is (or will be) on the node's disk (with a snapshot volume: when EBS has initialized it). */
    imageReadyAt = Infinity;
    /** The image comes on the image-cache snapshot's data volume. */
    imageFromSnapshot = false;
    emptySince = Infinity;
    constructor(
        readonly gp: number,
        readonly seq: number,
        readonly launchedAt: number,
    ) {}
}

export interface WorkerPoolState {
    readonly setup: WorkerPoolSetup;
    readonly hpa: HpaController;
    readonly keda: KedaState;
    /** The ScaledObject's cron triggers on the simulated clock. */
    readonly windows: readonly CronWindow[];
    /** gateway_timetable_session{pool} at simulated second t (cron.ts sessionClock); undefined: the gateway does not export it. */
    readonly inSession?: (t: number) => boolean;
    /** What Prometheus holds about the pool: all the triggers read. */
    readonly series: PoolSeries;
    pods: Pod[];
    ready: Pod[];
    /** Deployment spec.replicas. */
    desired: number;
    podSeq: number;
    rotation: number;
    heldQ: number[];
    heldHead: number;
    urgentQ: number[];
    heldCount: number;
    inflight: number;
    waitingTotal: number;
    /** vLLM waiting requests per pod at the last scrape, and pods without metrics yet (the reference policy's per-pod metric). */
    snapWaitingPerPod: number[];
    snapWaitingMissing: number;
    warmups: { from: number; until: number; replicas: number }[];
    failedSyncs: number;
    /** Start of the current cold start (NaN when none). */
    episodeStart: number;
    // results
    arrived: number;
    answered: number;
    rejected429: number;
    rejected503: number;
    timedOut: number;
    held: number;
    requeued: number;
    coldStarts: number;
    coldStartsUnanswered: number;
    ttfa: number[];
    podStarts: number;
    podGpuSeconds: number;
    peakReplicas: number;
    workSeconds: number;
    latencies: number[];
}

export interface GpuPoolState {
    readonly setup: GpuPoolSetup;
    /** Nodes not yet removed. */
    nodes: Node[];
    /** Removed nodes, kept for billing. */
    retired: Node[];
    pending: Pod[];
    nodeSeq: number;
    nodeLaunches: number;
    peakNodes: number;
    interruptions: number;
}

export class SimState {
    readonly p: SimParams;
    readonly trace: Trace;
    readonly heap = new EventHeap<SimEvent>();
    readonly wps: WorkerPoolState[];
    readonly gps: GpuPoolState[];
    now = 0;
    lastScaleUp = -Infinity;
    unresolved: number;
    lastCompletion = 0;
    // per request
    readonly service: Float64Array;
    readonly outcome: Uint8Array;
    readonly completion: Float64Array;
    readonly gen: Uint32Array;
    /** 1: held at the gateway, 2: waiting in a worker's vLLM queue, 0: neither. */
    readonly inQueue: Uint8Array;
    readonly heldAt: Float64Array;
    readonly reqPod: (Pod | undefined)[];
    /** Batch lines of the trace (capacity/sim/batch.ts), when it has any. */
    readonly batch: BatchSim<Pod> | undefined;
    /** Per-team meters (capacity/sim/teamMeter.ts), when the input names the teams. */
    readonly meters: TeamMeters | undefined;
    /** The run's signals and trigger readings (SimParams.recordSignals). */
    readonly rec: SignalRecording | undefined;

    constructor(readonly input: SimInput) {
        this.p = input.params;
        this.trace = input.trace;
        const n = this.trace.times.length;
        this.unresolved = n;
        this.service = new Float64Array(n);
        this.outcome = new Uint8Array(n);
        this.completion = new Float64Array(n).fill(NaN);
        this.gen = new Uint32Array(n);
        this.inQueue = new Uint8Array(n);
        this.heldAt = new Float64Array(n).fill(NaN);
        this.reqPod = new Array<Pod | undefined>(n);
        for (let i = 0; i < n; i++) {
            const s = input.workerPools[this.trace.pools[i]].service;
            this.service[i] = serviceSeconds(this.trace.kinds[i] === KIND_IMAGE ? s.image : s.text, this.trace.z[i]);
        }
        this.gps = input.gpuPools.map((setup) => ({ setup, nodes: [], retired: [], pending: [], nodeSeq: 0, nodeLaunches: 0, peakNodes: 0, interruptions: 0 }));
        const h = this.trace.history;
        // The gateway has been up since before the history Prometheus keeps: scrapes from its start.
        const clock = { period: this.p.scrapeSeconds, start: -(h?.seconds ?? 0), outages: this.p.metricOutages };
        // Gauge scrapes kept: the longest range a gauge query reads (2 min), plus two.
        const keep = Math.ceil(Math.max(ARRIVAL_RATE_RANGE_SECONDS, LATENCY_RANGE_SECONDS) / this.p.scrapeSeconds) + 2;
        // Cron triggers are evaluated from day 0 to the end of the longest possible run (horizon + 14 days of tail).
        const span: CronSpan = {
            startWeekday: this.trace.startWeekday,
            startDate: this.trace.startDate,
            days: Math.ceil(this.trace.horizonSeconds / 86400) + 15,
        };
        this.wps = input.workerPools.map((setup, wi) => {
            const history: number[] = [];
            if (h) for (let i = 0; i < h.times.length; i++) if (h.pools[i] === wi) history.push(h.times[i]);
            const bounds = setup.policy.metrics.some((m) => m.source === "latencyP95") ? durationBucketBounds(input.gateway.maxWaitSeconds) : undefined;
            const w = newWorkerPool(setup, new PoolSeries(clock, keep, history, bounds), span);
            w.warmups = (input.warmups ?? []).filter((x) => x.pool === wi).map((x) => ({ from: x.from, until: x.until, replicas: x.replicas }));
            return w;
        });
        this.rec = this.p.recordSignals ? { events: [], evaluations: [] } : undefined;
        const bt = this.trace as BatchTrace;
        this.batch = input.batch && bt.batch && bt.batchJobs ? new BatchSim<Pod>(this, input.batch, bt.batch, bt.batchJobs) : undefined;
        this.meters = input.teams ? new TeamMeters({ ...input, teams: input.teams }) : undefined;
    }

    at(t: number, type: Ev, extra: { pod?: Pod; node?: Node; i?: number; g?: number } = {}): void {
        this.heap.push({ t, seq: 0, type, pod: extra.pod, node: extra.node, i: extra.i ?? 0, g: extra.g ?? 0 });
    }

    resolve(r: number, outcome: number): void {
        this.outcome[r] = outcome;
        this.unresolved--;
    }

    isPending(r: number): boolean {
        return this.outcome[r] === OUTCOME.pending;
    }
}

function newWorkerPool(setup: WorkerPoolSetup, series: PoolSeries, span: CronSpan): WorkerPoolState {
    const pol = setup.policy;
    return {
        setup,
        // KEDA gives its HPA minReplicas = max(minReplicaCount, 1): the HPA never goes to 0.
        hpa: new HpaController(pol.behavior, Math.max(1, pol.minReplicas), pol.maxReplicas),
        keda: { lastActive: -Infinity },
        windows: pol.controller === "keda" ? pol.cron.map((c) => compileCron(c, span)) : [],
        inSession: pol.sessionGate && sessionClock(pol.sessionGate.windows, span),
        series,
        pods: [],
        ready: [],
        desired: 0,
        podSeq: 0,
        rotation: 0,
        heldQ: [],
        heldHead: 0,
        urgentQ: [],
        heldCount: 0,
        inflight: 0,
        waitingTotal: 0,
        snapWaitingPerPod: [],
        snapWaitingMissing: 0,
        warmups: [],
        failedSyncs: 0,
        episodeStart: NaN,
        arrived: 0,
        answered: 0,
        rejected429: 0,
        rejected503: 0,
        timedOut: 0,
        held: 0,
        requeued: 0,
        coldStarts: 0,
        coldStartsUnanswered: 0,
        ttfa: [],
        podStarts: 0,
        podGpuSeconds: 0,
        peakReplicas: 0,
        workSeconds: 0,
        latencies: [],
    };
}
