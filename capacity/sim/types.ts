/**
 * The simulator's public input and output shapes (see engine.ts for the loop itself).
 */
import type { PoolStep } from "../../gateway/src/billing/meter";
import { Trace } from "../traffic/trace";
import type { GpuAmi } from "../../stacks/resolved";
import { ColdStartMechanisms, MeasuredPhases, WorkerStart } from "../../stacks/model/coldStartPhases";
import { SimParams } from "../../stacks/model/params";
import { PolicySpec } from "./policy";
import type { SignalRecording } from "./recording";
import { ServiceProfile } from "./service";

/** Final outcome of a request (SimResult.outcome). */
export const OUTCOME = { pending: 0, answered: 1, rejected429: 2, rejected503: 3, timedOut: 4 } as const;

export interface WorkerPoolSetup {
    /** Worker pool (Deployment) name. */
    readonly name: string;
    /** Model id: nodes cache weights and compile artefacts per model. */
    readonly model: string;
    readonly weightsGiB: number;
    /** How its pods start (image cache, weights from S3, compile cache): stacks/model/coldStartPhases.ts. */
    readonly coldStart: ColdStartMechanisms;
    /** Its pods' start after the image, expected figures on the pool's (cheapest) instance type (coldStart.ts workerStart). */
    readonly start: WorkerStart;
    /** Index into SimInput.gpuPools. */
    readonly gpuPool: number;
    readonly policy: PolicySpec;
    readonly service: ServiceProfile;
    /**
     * Requests the gateway sends to one worker before holding the rest: the model's vLLM
     * --max-num-seqs (components/serving/gatewayConfig.ts sets maxConcurrentPerUpstream to it).
     */
    readonly maxConcurrentPerWorker: number;
}

export interface GpuPoolSetup {
    readonly name: string;
    readonly instanceType: string;
    readonly capacityType: "spot" | "on-demand";
    readonly usdPerHour: number;
    readonly gpusPerNode: number;
    readonly minNodes: number;
    readonly maxNodes: number;
    /** Node OS: boot time and how the device plugin runs. */
    readonly ami: GpuAmi;
    /** New nodes have the vLLM image on their data volume (image-cache snapshot). */
    readonly imageCache: boolean;
    /** With the image cache: seconds from launch until the data volume's EBS initialization is done (coldStart.ts imageInitSeconds). */
    readonly imageInitSeconds: number;
    /** Cluster Autoscaler removes an empty node of the pool after this long (the ASG's autoscaling-options tag). */
    readonly scaleDownUnneededSeconds: number;
}

export interface SimInput {
    readonly trace: Trace;
    readonly workerPools: readonly WorkerPoolSetup[];
    readonly gpuPools: readonly GpuPoolSetup[];
    readonly gateway: { readonly maxQueueDepth: number; readonly maxWaitSeconds: number };
    readonly params: SimParams;
    /** Seed of the cluster's random draws (boot, pull, spot). */
    readonly seed: number;
    /** Explicit warm-ups (POST /v1/warmup): worker pool index, [from, until) seconds, replicas. @default [] */
    readonly warmups?: readonly Warmup[];
    /** Batch jobs in the trace (traffic.batches; capacity/sim/batch.ts). */
    readonly batch?: BatchSetup;
    /**
     * Who sent each request: turns on the per-team meters (capacity/sim/teamMeter.ts) and
     * SimResult.steps, the input of the plan's bill (capacity/bill/). Off when absent.
     */
    readonly teams?: { readonly names: readonly string[]; readonly ofRequest: Uint16Array };
    /** The team's measured cold-start phases (gpuserve:coldStart.phases), replacing the modelled ones. @default {} */
    readonly coldStartMeasured?: MeasuredPhases;
}

export interface Warmup {
    readonly pool: number;
    readonly from: number;
    readonly until: number;
    readonly replicas: number;
    /** Index into SimInput.teams.names of the team that asked for it. @default 0 */
    readonly team?: number;
}

export interface WorkerPoolResult {
    readonly name: string;
    readonly model: string;
    readonly gpuPool: string;
    readonly policy: string;
    readonly arrived: number;
    readonly answered: number;
    readonly rejected429: number;
    readonly rejected503: number;
    /** Requests sent to a worker that did not answer within the gateway's upstream timeout (504). */
    readonly timedOut: number;
    /** Requests that waited in the gateway for a worker. */
    readonly held: number;
    /** Requests re-sent after their worker's node was reclaimed (spot). */
    readonly requeued: number;
    readonly latency: { readonly p50: number; readonly p95: number; readonly p99: number; readonly mean: number; readonly max: number };
    /** User-visible cold starts: times requests had to wait for a pool with no routable worker. */
    readonly coldStarts: number;
    /** Cold starts in which every held request gave up (503) before a worker was routable. */
    readonly coldStartsUnanswered: number;
    /** Seconds from the first held request to the first answer to a held request, per answered cold start. */
    readonly timeToFirstAnswer: readonly number[];
    readonly podStarts: number;
    /** Seconds pods held a GPU (bound to a node, any state). */
    readonly podGpuSeconds: number;
    readonly peakReplicas: number;
    /** Answered requests' service seconds / concurrency: the GPU time the oracle needs. */
    readonly workSeconds: number;
}

export interface GpuPoolResult {
    readonly name: string;
    readonly instanceType: string;
    readonly capacityType: "spot" | "on-demand";
    readonly usdPerHour: number;
    readonly gpusPerNode: number;
    readonly nodeSeconds: number;
    readonly usd: number;
    readonly nodeLaunches: number;
    readonly peakNodes: number;
    readonly interruptions: number;
}

export interface Series {
    /** Sample times (seconds), one per minute. */
    readonly t: Float64Array;
    readonly perWorkerPool: readonly {
        readonly held: Float64Array;
        readonly inflight: Float64Array;
        readonly desired: Float64Array;
        readonly ready: Float64Array;
    }[];
    readonly nodes: readonly Float64Array[];
}

export interface SimResult {
    readonly horizonSeconds: number;
    /** When the last request finished (>= horizon). */
    readonly endSeconds: number;
    readonly workerPools: readonly WorkerPoolResult[];
    readonly gpuPools: readonly GpuPoolResult[];
    readonly usd: number;
    /** Quantiles of answered requests' latency (what users who got an answer waited). */
    readonly latency: { readonly p50: number; readonly p95: number; readonly p99: number };
    /** Quantiles over every request, a rejected or timed-out one counting as never answered (Infinity). */
    readonly latencyAllRequests: { readonly p50: number; readonly p95: number; readonly p99: number };
    /** Per request: answer time (NaN if not answered) and OUTCOME code. */
    readonly completion: Float64Array;
    readonly outcome: Uint8Array;
    readonly series?: Series;
    /** Batch jobs (absent without traffic.batches); their lines are not in the latency figures. */
    readonly batch?: BatchResult;
    /** Per worker pool, its metered minutes (with SimInput.teams): what the gateway would bill. */
    readonly steps?: readonly (readonly PoolStep[])[];
    /** Every exported signal change and trigger reading (SimParams.recordSignals). */
    readonly signals?: SignalRecording;
}

/** Batch lines' setup (capacity/sim/batch.ts runs them). */
export interface BatchSetup {
    /** Slots per worker batch never takes (gateway batch.reservedSlotsPerUpstream). @default 2 */
    readonly reservedSlots: number;
    /** Batch lines per worker at most (gateway batch.concurrencyPerUpstream). @default 4 */
    readonly perWorker: number;
}

export interface BatchJobResult {
    readonly pool: string;
    readonly submittedAt: number;
    readonly lines: number;
    readonly answered: number;
    /** Seconds from submission to the last line's answer (NaN while unfinished). */
    readonly makespanSeconds: number;
}

export interface BatchResult {
    readonly jobs: readonly BatchJobResult[];
    readonly lines: number;
    readonly answered: number;
    /** GPU seconds the batch lines used (service time / worker concurrency), per worker pool. */
    readonly workSeconds: readonly number[];
}
