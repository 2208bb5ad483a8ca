/**
 * Cold start, phase by phase: what a request at zero waits for, chosen by what the stack
 * deploys (node OS, image cache, weights from S3, compile cache). The simulator's cluster
 * (cluster.ts) draws each phase from here, the report (cost.json `coldStartSeconds` and
 * `coldStartPhases`) prints the medians with their sources, and the gateway's hold bound
 * (holdBound.ts) takes the worst case. One place, so what is claimed is what is simulated.
 *
 * Phase figures and their sources are in params.ts (the "cold start" section).
 */
import type { GpuAmi, ResolvedGpuPool, ResolvedModel, StackConfig } from "../../stacks/validate";
import { DEFAULT_SIM_PARAMS, Range, SimParams } from "./params";

/** How a worker pool's pods start, as deployed (components/serving/vllm/coldStart.ts and components/cluster). */
export interface ColdStartMechanisms {
    /** GPU node OS: Bottlerocket has the NVIDIA device plugin built in and a data volume. */
    readonly ami: GpuAmi;
    /** The vLLM image is on the node's data volume, restored from an EBS snapshot (Bottlerocket only). */
    readonly imageCache: boolean;
    /** Weights streamed from the stack's S3 bucket by vLLM's Run:ai streamer (else downloaded from the Hub). */
    readonly weightsFromS3: boolean;
    /** Where torch.compile artefacts survive a pod: "s3" (restored by an init container), a shared volume, or nowhere. */
    readonly compileCache: "s3" | "shared-volume" | "none";
}

/** The mechanisms a model's pods get from the stack config (what components/ deploys for it). */
export function mechanismsFor(config: Pick<StackConfig, "coldStart">, pool: Pick<ResolvedGpuPool, "ami">, model: Pick<ResolvedModel, "cacheClaimName">): ColdStartMechanisms {
    const cs = config.coldStart;
    return {
        ami: pool.ami,
        imageCache: cs.imageCache === "snapshot" && pool.ami === "bottlerocket",
        weightsFromS3: cs.weights === "s3",
        compileCache: cs.compileCache === "s3" ? "s3" : model.cacheClaimName ? "shared-volume" : "none",
    };
}

/**
 * Network bandwidth per instance type, Gbit/s ("up to" figures: the burst a fresh node has
 * credits for). Source: AWS EC2 instance type pages (accelerated computing: G5, G6, G6e, P4).
 */
export const INSTANCE_NETWORK_GBPS: Readonly<Record<string, number>> = {
    "g5.xlarge": 10,
    "g5.2xlarge": 10,
    "g5.4xlarge": 25,
    "g5.12xlarge": 40,
    "g6.xlarge": 10,
    "g6e.xlarge": 20,
    "p4d.24xlarge": 400,
    "p4de.24xlarge": 400,
};

const GB_PER_GIB = 1.073741824;

/**
 * Seconds per GiB the Run:ai streamer needs from S3 on an instance type: the instance's
 * network or the streamer's measured peak (params.weightStreamPeakGBps), whichever is lower.
 */
export function streamSecondsPerGiB(p: Pick<SimParams, "weightStreamPeakGBps">, instanceType: string): number {
    const gbps = INSTANCE_NETWORK_GBPS[instanceType] ?? 10;
    return GB_PER_GIB / Math.min(p.weightStreamPeakGBps, gbps / 8);
}

export const median = (r: Range) => (r.min + r.max) / 2;

/** Node launch to kubelet Ready, by OS. */
export function nodeBootRange(p: SimParams, ami: GpuAmi): Range {
    return ami === "bottlerocket" ? p.nodeBootBottlerocketSeconds : p.nodeBootSeconds;
}

/**
 * Node launch to GPUs allocatable, given the boot time. The device plugin is counted once:
 * AL2023 runs the chart's DaemonSet, which k8s-device-plugin#291 measured at ~90 s from
 * node *launch* (so it overlaps the boot), plus its registration after Ready; Bottlerocket's
 * NVIDIA variant runs the plugin as a host service that registers as kubelet starts.
 */
export function allocatableAfterLaunch(p: SimParams, ami: GpuAmi, boot: number): number {
    return ami === "bottlerocket" ? boot + p.devicePluginBuiltInSeconds : Math.max(boot + p.devicePluginAfterReadySeconds, p.devicePluginFromLaunchSeconds);
}

/**
 * Cluster Autoscaler's scale-down-unneeded-time for a GPU node group, seconds: the node's mean launch to
 * GPUs allocatable with the simulator's defaults, rounded up to the 10 s scan. Ski-rental at node level: the
 * worker's KEDA cooldown already waited about a cold start before its pod left, so an empty GPU node is kept
 * only as long as launching a new one takes (what keeping it saves). The stack tags the node group's ASG with
 * it (components/cluster/nodePool.ts) and the simulator's Cluster Autoscaler reads it (setup.ts), one figure.
 */
export function gpuNodeUnneededSeconds(p: SimParams, ami: GpuAmi): number {
    const r = nodeBootRange(p, ami);
    return Math.ceil((allocatableAfterLaunch(p, ami, (r.min + r.max) / 2) * p.coldStartScale) / 10) * 10;
}

/** A GPU pool's scale-down-unneeded time: its gpuPools[].scaleDownUnneededSeconds, else the derived figure above. */
export function poolUnneededSeconds(pool: { readonly ami: GpuAmi; readonly scaleDownUnneededSeconds?: number }, p: SimParams = DEFAULT_SIM_PARAMS): number {
    return pool.scaleDownUnneededSeconds ?? gpuNodeUnneededSeconds(p, pool.ami);
}

/** Seconds from the vLLM container starting to it answering /v1/models (weights, engine, compile). */
export function vllmStartSeconds(p: SimParams, m: ColdStartMechanisms, weightsGiB: number, streamPerGiB: number): { weights: number; engine: number; compile: number } {
    const cacheWarm = m.compileCache !== "none";
    const weights = m.weightsFromS3
        ? weightsGiB * streamPerGiB
        : m.compileCache === "shared-volume"
          ? weightsGiB * p.weightLoadSecondsPerGiB // already on the shared volume
          : weightsGiB * (p.weightDownloadSecondsPerGiB + p.weightLoadSecondsPerGiB);
    const compile = cacheWarm ? p.compileCachedSeconds + (m.compileCache === "s3" ? p.compileCacheRestoreSeconds : 0) : p.compileUncachedSeconds;
    return { weights, engine: p.engineStartSeconds, compile };
}

export interface ColdStartPhase {
    readonly phase: string;
    /** Median seconds. */
    readonly seconds: number;
    readonly source: string;
}

export interface ColdStartInput {
    readonly mechanisms: ColdStartMechanisms;
    readonly weightsGiB: number;
    readonly instanceType: string;
    /** KEDA pollingInterval of the worker pool. */
    readonly pollingIntervalSeconds: number;
    /** Median service seconds of the first (image) answer. */
    readonly firstAnswerSeconds: number;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

/**
 * The median cold start of a worker pool from zero nodes, phase by phase: a request
 * arrives at a pool with no worker and no node, and waits for its first answer. Uniform
 * waits (scrape, poll, scan) count half their period; ranges count their midpoint.
 */
export function coldStartPhases(p: SimParams, c: ColdStartInput): ColdStartPhase[] {
    const m = c.mechanisms;
    const boot = median(nodeBootRange(p, m.ami));
    const gpu = allocatableAfterLaunch(p, m.ami, boot) - boot;
    const stream = streamSecondsPerGiB(p, c.instanceType);
    const v = vllmStartSeconds(p, m, c.weightsGiB, stream);
    const phases: ColdStartPhase[] = [
        { phase: "gateway metric scraped, KEDA polls and wakes the pool", seconds: p.scrapeSeconds / 2 + c.pollingIntervalSeconds / 2, source: `half the ${p.scrapeSeconds} s ServiceMonitor interval (components/serving/monitoring.ts) + half the ${c.pollingIntervalSeconds} s KEDA pollingInterval` },
        { phase: "Cluster Autoscaler scales up", seconds: p.caGpuBufferSeconds + p.caScanSeconds / 2, source: `a pending GPU pod must be ${p.caGpuBufferSeconds} s old (unschedulablePodWithGpuTimeBuffer, kubernetes/autoscaler cluster-autoscaler/core/static_autoscaler.go) + half the ${p.caScanSeconds} s scan interval` },
        {
            phase: `node boot to Ready (${m.ami})`,
            seconds: boot,
            source: m.ami === "bottlerocket" ? "~30-60 s best public figure (amazon-eks-ami #2210, #2733: pre-kubelet 24-30 s; Bottlerocket boots only the host OS and kubelet)" : "90-180 s for an unoptimized AL2023 GPU node (amazon-eks-ami #2210, #2733 measure the pre-kubelet part; the rest is EC2 launch and GPU driver init, an estimate)",
        },
        {
            phase: "GPU advertised by the device plugin",
            seconds: gpu,
            source: m.ami === "bottlerocket" ? `built into Bottlerocket's NVIDIA variant (Bottlerocket README, "NVIDIA GPUs support"): ${p.devicePluginBuiltInSeconds} s to register (assumption)` : `chart DaemonSet: ~${p.devicePluginFromLaunchSeconds} s from node launch (k8s-device-plugin#291), counted once, at least ${p.devicePluginAfterReadySeconds} s after Ready`,
        },
        {
            phase: m.imageCache ? "vLLM image (pre-pulled on the snapshot data volume)" : "vLLM image pull (~10 GB)",
            seconds: m.imageCache ? p.imagePullCachedSeconds : median(p.imagePullUncachedSeconds),
            source: m.imageCache ? "~0 s pull: image in containerd's store on a Bottlerocket data volume restored from an EBS snapshot (AWS containers blog, 'Reduce container startup time on Amazon EKS with Bottlerocket data volume') + container create" : "2-8 min for the ~10 GB image uncached (5m38s measured pulls reported publicly; AWS containers blog on Bottlerocket data volumes)",
        },
        {
            phase: m.weightsFromS3 ? "weights streamed from S3 to the GPU (Run:ai streamer)" : m.compileCache === "shared-volume" ? "weights loaded from the shared volume" : "weights downloaded from Hugging Face and loaded",
            seconds: v.weights,
            source: m.weightsFromS3
                ? `${c.weightsGiB} GiB at ${r1(1 / stream)} GiB/s: min(Run:ai streamer's 15 GB from S3 in 4.24 s on g5.12xlarge, ${c.instanceType}'s ${INSTANCE_NETWORK_GBPS[c.instanceType] ?? 10} Gbit/s)`
                : `${c.weightsGiB} GiB x ${m.compileCache === "shared-volume" ? p.weightLoadSecondsPerGiB : p.weightDownloadSecondsPerGiB + p.weightLoadSecondsPerGiB} s/GiB (public vLLM deployment reports: an 8B model took 61 s to download from the Hub and 33 s to load; estimate)`,
        },
        { phase: "vLLM engine start (imports, CUDA context, KV-cache profiling)", seconds: v.engine, source: "assumption: not separately published; the compile figures below exclude it" },
        {
            phase: m.compileCache === "none" ? "torch.compile + CUDA graphs (uncached)" : `torch.compile (cached${m.compileCache === "s3" ? ", restored from S3" : ""}) + CUDA graph capture`,
            seconds: v.compile,
            source: m.compileCache === "none" ? "~200 s uncached (vLLM #20264: torch.compile + CUDA graph capture without a cache)" : `~5-8 s cached compile + ~17 s graph capture (vLLM #20264, PRs #16848, #33641)${m.compileCache === "s3" ? ` + ${p.compileCacheRestoreSeconds} s to copy the cache from S3 (assumption: a few hundred MB)` : ""}`,
        },
        { phase: "ready to routable", seconds: p.readyToRoutableSeconds, source: "readiness probe period 5 s + gateway DNS refresh 5 s, half each" },
        { phase: "first answer", seconds: c.firstAnswerSeconds, source: "median image answer of the service model (capacity/sim/service.ts)" },
    ];
    return phases.map((x) => ({ ...x, seconds: r1(x.seconds) }));
}

export function totalSeconds(phases: readonly ColdStartPhase[]): number {
    return r1(phases.reduce((a, x) => a + x.seconds, 0));
}

/**
 * The slowest plausible cold start of a worker pool: every range at its maximum, every
 * wait a full period, the compile cache empty (the first start after its key changes).
 */
export function worstColdStartSeconds(p: SimParams, c: Omit<ColdStartInput, "firstAnswerSeconds">): number {
    const m = c.mechanisms;
    const boot = nodeBootRange(p, m.ami).max;
    const gpu = allocatableAfterLaunch(p, m.ami, boot) - boot;
    const image = m.imageCache ? p.imagePullCachedSeconds : p.imagePullUncachedSeconds.max;
    const v = vllmStartSeconds(p, { ...m, compileCache: "none", weightsFromS3: m.weightsFromS3 }, c.weightsGiB, streamSecondsPerGiB(p, c.instanceType));
    return p.scrapeSeconds + c.pollingIntervalSeconds + p.caGpuBufferSeconds + p.caScanSeconds + boot + gpu + image + v.weights + v.engine + v.compile + p.readyToRoutableSeconds * 2;
}
