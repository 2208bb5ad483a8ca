/**
 * The simulation's shared state: the clock and event queue, per-request arrays, and the
 * objects the control loops act on (pods, nodes, worker pools, GPU pools). The gateway,
 * the cluster and the control loops (gateway.ts, cluster.ts, control.ts) each own the
 * rules for their part and change this state only through their own methods.
 */
import { KIND_IMAGE, Trace } from "../traffic/trace";
import type { BatchTrace } from "../traffic/batch";
import { BatchSim } from "./batch";
import { CronSpan, CronWindow, compileCron } from "./cron";
import { EventHeap } from "./heap";
import { HpaController } from "./hpa";
import { KedaState } from "./keda";
import { SimParams } from "./params";
import { serviceSeconds } from "./service";
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
    /** When the vLLM image is (or will be) on the node's disk. */
    imageReadyAt = Infinity;
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
    readonly tracksLatency: boolean;
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
    /** Last scrape of the gateway and vLLM metrics. */
    snapDemand: number;
    snapWaiting: number;
    snapWaitingPerPod: number[];
    snapWaitingMissing: number;
    snapLatencyP95: number;
    /** Predictive trigger value (last week's request rate) and explicit warm-up replicas at the last scrape. */
    snapHistory: number;
    snapWarmup: number;
    /** The pool's arrivals, history (negative times) first, ascending: what gateway_requests_total remembers. */
    arrivalsAll: Float64Array;
    /** Held counts at recent scrapes (the cold-start-aware demand's deriv window). */
    heldSamples: { t: number; held: number }[];
    warmups: { from: number; until: number; replicas: number }[];
    /** Scrape samples inside the query lookback window. */
    samples: { t: number; demand: number; waiting: number }[];
    lastArrival: number;
    /** lastArrival as of the last scrape (what a requests counter shows). */
    snapLastArrival: number;
    /** Requests handed to the pool's workers in the recent-requests trigger's look-back, as of the last scrape. */
    snapRecent: number;
    /** Times requests were handed to a worker, ascending (gateway_upstream_requests_total). */
    handoffs: number[];
    recent: { t: number; latency: number }[];
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
    readonly batch: BatchSim | undefined;

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
        // Cron triggers are evaluated from day 0 to the end of the longest possible run (horizon + 14 days of tail).
        const span = { startWeekday: this.trace.startWeekday, startDate: this.trace.startDate, days: Math.ceil(this.trace.horizonSeconds / 86400) + 15 };
        this.wps = input.workerPools.map((setup) => newWorkerPool(setup, span));
        this.wps.forEach((w, wi) => {
            const all: number[] = [];
            const h = this.trace.history;
            if (h) for (let i = 0; i < h.times.length; i++) if (h.pools[i] === wi) all.push(h.times[i]);
            for (let i = 0; i < n; i++) if (this.trace.pools[i] === wi) all.push(this.trace.times[i]);
            w.arrivalsAll = Float64Array.from(all);
            w.warmups = (input.warmups ?? []).filter((x) => x.pool === wi).map((x) => ({ from: x.from, until: x.until, replicas: x.replicas }));
        });
        const bt = this.trace as BatchTrace;
        this.batch = input.batch && bt.batch && bt.batchJobs ? new BatchSim(this, input.batch, bt.batch, bt.batchJobs) : undefined;
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

function newWorkerPool(setup: WorkerPoolSetup, span: CronSpan): WorkerPoolState {
    const pol = setup.policy;
    return {
        setup,
        // KEDA gives its HPA minReplicas = max(minReplicaCount, 1): the HPA never goes to 0.
        hpa: new HpaController(pol.behavior, Math.max(1, pol.minReplicas), pol.maxReplicas),
        keda: { lastActive: -Infinity },
        windows: pol.controller === "keda" ? pol.cron.map((c) => compileCron(c, span)) : [],
        tracksLatency: pol.metrics.some((m) => m.source === "latencyP95"),
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
        snapDemand: 0,
        snapWaiting: 0,
        snapWaitingPerPod: [],
        snapWaitingMissing: 0,
        snapLatencyP95: 0,
        snapHistory: 0,
        snapWarmup: 0,
        arrivalsAll: new Float64Array(0),
        heldSamples: [],
        warmups: [],
        samples: [],
        lastArrival: -Infinity,
        snapLastArrival: -Infinity,
        snapRecent: 0,
        handoffs: [],
        recent: [],
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
