/**
 * Cold start, phase by phase: what a request at zero waits for, chosen by what the stack
 * deploys (node OS, image cache and its EBS initialization rate, weights from S3, compile
 * cache). Each phase has an expected figure (a typical start: what the simulator uses) and a
 * pessimistic one (a slow start that still happens: what the gateway's hold bound covers),
 * each from a measurement for this instance and model where one is published (sources in
 * params.ts and in each phase's `source`). A team that measured its own cluster enters its
 * figures in `gpuserve:coldStart.phases`; they replace the defaults.
 *
 * One place: the simulator's cluster (cluster.ts) draws from these figures, cost.json
 * (`coldStartSeconds`, `coldStartPessimisticSeconds`, `coldStartPhases`) prints them, and the
 * gateway's hold bound (holdTime.ts) sums the pessimistic ones.
 */
import { IMAGE_CACHE_SNAPSHOT_GB } from "../imageCache";
import { INSTANCE_EBS_MBPS } from "../catalog/ebs";
import { CLASSIC_CLI_S3_MIBPS, CRT_CLI_INSTANCE_TYPES, instanceNetwork } from "../catalog/network";
import { instanceStore } from "../catalog/instanceStore";
import { PodStorage, weightsRates } from "../podStorage";
import { COLD_START_PHASES } from "../schema";
import type { GpuAmi, ResolvedGpuPool, ResolvedModel, StackConfig } from "../resolved";
import { DEFAULT_SIM_PARAMS, Range, SimParams } from "./params";

/** How a worker pool's pods start, as deployed (components/serving/vllm/coldStartPod.ts and components/cluster). */
export interface ColdStartMechanisms {
    /** GPU node OS: Bottlerocket has the NVIDIA device plugin built in and a data volume. */
    readonly ami: GpuAmi;
    /** The vLLM image is on the node's data volume, restored from an EBS snapshot (Bottlerocket only). */
    readonly imageCache: boolean;
    /**
     * EBS Provisioned Rate for Volume Initialization of that data volume, MiB/s; 0: EBS's default
     * lazy initialization (gpuserve:coldStart.imageCacheInitRateMiBps, components/cluster).
     */
    readonly imageInitRateMiBps: number;
    /**
     * Weights from the stack's S3 bucket: copied onto the node's disk by the worker's init container, then loaded by
     * vLLM's Run:ai streamer (components/serving/weights/fetch.ts); else downloaded from the Hub.
     */
    readonly weightsFromS3: boolean;
    /** The disk the pods' emptyDirs, and so the weights copy, live on: the node's volume or its instance store (stacks/podStorage.ts). */
    readonly podStorage: PodStorage;
    /** Where torch.compile artefacts survive a pod: "s3" (restored by an init container), a shared volume, or nowhere. */
    readonly compileCache: "s3" | "shared-volume" | "none";
}

/** The mechanisms a model's pods get from the stack config (what components/ deploys for it). */
export function mechanismsFor(
    config: Pick<StackConfig, "coldStart">,
    pool: Pick<ResolvedGpuPool, "ami" | "podStorage">,
    model: Pick<ResolvedModel, "cacheClaimName">,
): ColdStartMechanisms {
    const cs = config.coldStart;
    const imageCache = cs.imageCache === "snapshot" && pool.ami === "bottlerocket";
    return {
        ami: pool.ami,
        imageCache,
        // The launch template sets the data volume's volumeInitializationRate from it (components/cluster).
        imageInitRateMiBps: imageCache ? cs.imageCacheInitRateMiBps : 0,
        weightsFromS3: cs.weights === "s3",
        // The launch template binds the kubelet's directory to the instance store exactly then (components/cluster/userData.ts).
        podStorage: pool.podStorage,
        compileCache: cs.compileCache === "s3" ? "s3" : model.cacheClaimName ? "shared-volume" : "none",
    };
}

/**
 * Seconds per GiB of the weights from S3 (components/serving/weights/fetch.ts): the init container's `aws s3 sync`
 * writes them onto the pods' disk at the slower of its S3 download and the disk's write (stacks/podStorage.ts
 * weightsRates, the figures `gpuPools[].podStorage: auto` chooses by), then vLLM's streamer reads them back at the
 * disk's read (no page cache credited: the worker's memory limit leaves little of the file cached while vLLM loads),
 * at least at the measured local load rate (params.weightLoadSecondsPerGiB). Expected: a fresh node (EBS and network
 * at their maximum); pessimistic: their baselines and the instance store's published 4 KiB figure.
 */
export function weightsSecondsPerGiB(
    p: Pick<SimParams, "weightStreamLinkShare" | "weightLoadSecondsPerGiB">,
    instanceType: string,
    storage: PodStorage,
    pessimistic = false,
): number {
    const r = weightsRates(instanceType, storage, pessimistic, p.weightStreamLinkShare);
    return 1024 / r.copyMiBps + Math.max(1024 / r.readMiBps, p.weightLoadSecondsPerGiB);
}

/** The weights-from-S3 phase, expected and pessimistic (weightsSecondsPerGiB). */
function weightsFromS3Figure(
    p: Pick<SimParams, "weightStreamLinkShare" | "weightLoadSecondsPerGiB">,
    weightsGiB: number,
    instanceType: string,
    storage: PodStorage,
): PhaseFigure {
    return {
        expected: weightsGiB * weightsSecondsPerGiB(p, instanceType, storage),
        pessimistic: weightsGiB * weightsSecondsPerGiB(p, instanceType, storage, true),
    };
}

/** What the weights phase's source says about its copy and read rates. */
function weightsSource(p: SimParams, c: ColdStartInput): string {
    const t = c.instanceType;
    const storage = c.mechanisms.podStorage;
    const rates = (pessimistic: boolean) => weightsRates(t, storage, pessimistic, p.weightStreamLinkShare);
    const [e, w] = [rates(false), rates(true)];
    const net = instanceNetwork(t);
    const cli = CRT_CLI_INSTANCE_TYPES.includes(t)
        ? `the AWS CLI's CRT client on ${t} (its default there, awscli topics/s3-config.rst) at ${Math.round(p.weightStreamLinkShare * 100)} % of the ${net.burst} Gbit/s burst or ${net.baseline} Gbit/s baseline link (the Run:ai streamer's share on S3, its g5.12xlarge benchmark)`
        : `the AWS CLI's classic client at ${CLASSIC_CLI_S3_MIBPS} MiB/s (measured CPU-bound, aws/aws-cli#3910), within the ${net.burst} Gbit/s burst or ${net.baseline} Gbit/s baseline link`;
    const disk =
        storage === "instanceStore"
            ? `the NVMe instance store bound over /var/lib/kubelet (${instanceStore(t)?.iopsSource === "assumed" ? "IOPS assumed equal to g5.xlarge's" : "AWS's published 4 KiB IOPS"} x 4 KiB, x the sequential/4 KiB ratio measured on c5d/m5d expected: stacks/catalog/instanceStore.ts)`
            : `the node's gp3 volume at its provisioned throughput within ${t}'s maximum or baseline EBS bandwidth (stacks/catalog/ebs.ts${INSTANCE_EBS_MBPS[t] ? "" : ": no EBS figures, gp3's default"})`;
    return `${c.weightsGiB} GiB copied at ${r1(e.copyMiBps)} MiB/s expected, ${r1(w.copyMiBps)} pessimistic (the slower of ${cli} and the disk's write) and read back at ${r1(e.readMiBps)} / ${r1(w.readMiBps)} MiB/s, no faster than ${p.weightLoadSecondsPerGiB} s/GiB (a measured local load); the disk: ${disk}`;
}

/** A phase's figures: expected (typical) and pessimistic (slow) seconds. */
export interface PhaseFigure {
    readonly expected: number;
    readonly pessimistic: number;
}

/** A phase a team can measure on its cluster and enter in gpuserve:coldStart.phases (stacks/schema.ts COLD_START_PHASES). */
export type MeasurablePhase = (typeof COLD_START_PHASES)[number];
export type MeasuredPhases = Partial<Record<MeasurablePhase, PhaseFigure>>;

export type PhaseKey = "trigger" | "autoscaler" | MeasurablePhase | "firstAnswer";

export interface ColdStartPhase {
    readonly key: PhaseKey;
    readonly phase: string;
    /** Expected seconds (what the simulator uses). */
    readonly seconds: number;
    /** Pessimistic seconds (what the hold bound covers). */
    readonly pessimisticSeconds: number;
    readonly source: string;
}

const midpoint = (r: Range) => (r.min + r.max) / 2;
const fig = (r: Range): PhaseFigure => ({ expected: midpoint(r), pessimistic: r.max });
const measuredSource = (key: MeasurablePhase) => `measured by the team (gpuserve:coldStart.phases.${key})`;

/**
 * A phase as the simulator draws it per node or pod: uniform on [2 x expected - pessimistic,
 * pessimistic], whose mean is the expected figure and whose maximum the pessimistic one.
 */
export function drawRange(f: PhaseFigure): Range {
    return { min: Math.max(0, 2 * f.expected - f.pessimistic), max: f.pessimistic };
}

/** Node launch to kubelet Ready, by OS, or the team's figure. */
export function nodeBoot(p: SimParams, ami: GpuAmi, measured?: MeasuredPhases): PhaseFigure {
    return measured?.nodeBoot ?? fig(ami === "bottlerocket" ? p.nodeBootBottlerocketSeconds : p.nodeBootSeconds);
}

/**
 * Node Ready to its GPUs allocatable, given the boot time. The device plugin is counted once:
 * AL2023 runs the chart's DaemonSet, which k8s-device-plugin#291 measured at ~90 s from node
 * *launch* (so it overlaps the boot), plus its registration after Ready; Bottlerocket's NVIDIA
 * variant runs the plugin as a host service that registers as kubelet starts.
 */
function gpuAfterReady(p: SimParams, ami: GpuAmi, boot: number, pessimistic = false, measured?: MeasuredPhases): number {
    if (measured?.gpuAdvertised) return pessimistic ? measured.gpuAdvertised.pessimistic : measured.gpuAdvertised.expected;
    if (ami === "bottlerocket") return pessimistic ? p.devicePluginBuiltInSeconds.max : midpoint(p.devicePluginBuiltInSeconds);
    return Math.max(p.devicePluginAfterReadySeconds, p.devicePluginFromLaunchSeconds - boot);
}

/** Node launch to GPUs allocatable (AL2023: the device plugin's ~90 s from launch overlaps the boot). */
export function allocatableAfterLaunch(p: SimParams, ami: GpuAmi, boot: number, measured?: MeasuredPhases): number {
    return boot + gpuAfterReady(p, ami, boot, false, measured);
}

/**
 * Cluster Autoscaler's scale-down-unneeded-time for a GPU node group, seconds: the node's expected
 * launch to GPUs allocatable, rounded up to the 10 s scan. Ski-rental at node level: the worker's
 * KEDA cooldown already waited about a cold start before its pod left, so an empty GPU node is kept
 * only as long as launching a new one takes (what keeping it saves). The stack tags the node group's
 * ASG with it (components/cluster/nodePool.ts) and the simulator's Cluster Autoscaler reads it
 * (setup.ts), one figure.
 */
export function gpuNodeUnneededSeconds(p: SimParams, ami: GpuAmi): number {
    const boot = nodeBoot(p, ami).expected;
    return Math.ceil((allocatableAfterLaunch(p, ami, boot) * p.coldStartScale) / 10) * 10;
}

/** A GPU pool's scale-down-unneeded time: its gpuPools[].scaleDownUnneededSeconds, else the derived figure above. */
export function poolUnneededSeconds(pool: { readonly ami: GpuAmi; readonly scaleDownUnneededSeconds?: number }, p: SimParams = DEFAULT_SIM_PARAMS): number {
    return pool.scaleDownUnneededSeconds ?? gpuNodeUnneededSeconds(p, pool.ami);
}

/**
 * Seconds from launch until the image-cache volume holds every block of the snapshot: its data
 * at the EBS initialization rate ("blocks are downloaded from Amazon S3 to the volume at the rate
 * you specify", EBS user guide "Initialize Amazon EBS volumes"; its example: 10 GiB at 300 MiB/s
 * in 34.1 s). Pessimistic: 10 % below the rate ("within 10 percent of the volume initialization
 * rate ... 99 percent of the time"). Lazy initialization has no published rate ("fluctuates"):
 * taken as the slowest rate one can provision, params.imageInitLazyRateMiBps.
 */
export function imageInitSeconds(p: SimParams, rateMiBps: number, pessimistic = false): number {
    const rate = (rateMiBps > 0 ? rateMiBps : p.imageInitLazyRateMiBps) * (pessimistic ? 1 - p.imageInitRateShortfall : 1);
    return (IMAGE_CACHE_SNAPSHOT_GB * 1e9) / (rate * 1048576);
}

/** vLLM's start after its image is on the node: weights, engine start, engine init (compile cache, CUDA graphs). */
function vllmPhases(
    p: SimParams,
    m: ColdStartMechanisms,
    weightsGiB: number,
    instanceType: string,
    measured?: MeasuredPhases,
): { weights: PhaseFigure; engineStart: PhaseFigure; engineInit: PhaseFigure } {
    const disk = p.weightLoadSecondsPerGiB;
    const weights: PhaseFigure =
        measured?.weights ??
        (m.weightsFromS3
            ? weightsFromS3Figure(p, weightsGiB, instanceType, m.podStorage)
            : m.compileCache === "shared-volume"
              ? { expected: weightsGiB * disk, pessimistic: weightsGiB * disk }
              : { expected: weightsGiB * (p.weightDownloadSecondsPerGiB + disk), pessimistic: weightsGiB * (p.weightDownloadSecondsPerGiB + disk) });
    const engineStart = measured?.engineStart ?? fig(p.engineStartSeconds);
    // Engine init: KV-cache profiling plus torch.compile and CUDA graph capture; with a compile cache the
    // compile is a cache hit, except on the first start after its key changes (new image, model, args):
    // the pessimistic figure, which the hold bound must cover.
    const restore = m.compileCache === "s3" ? p.compileCacheRestoreSeconds : { min: 0, max: 0 };
    const uncached = p.engineProfileSeconds + p.compileUncachedSeconds;
    const engineInit: PhaseFigure =
        measured?.engineInit ??
        (m.compileCache === "none"
            ? { expected: uncached, pessimistic: uncached }
            : { expected: p.engineProfileSeconds + p.compileCachedSeconds + midpoint(restore), pessimistic: uncached + restore.max });
    return { weights, engineStart, engineInit };
}

/**
 * vLLM answering /v1/models to the gateway routing to it: the startup probe notices within its
 * period, kubelet then runs the readiness probe at once (pkg/kubelet/prober/prober_manager.go
 * UpdatePodStatus: "Trigger an immediate run of the readinessProbe"), the pod's IP reaches the
 * headless Service's DNS answer (CoreDNS `kubernetes` plugin TTL) and the gateway re-resolves it
 * (gateway health.dnsRefreshSeconds). Expected: half of each period; pessimistic: all of it.
 */
function routable(p: SimParams, measured?: MeasuredPhases): PhaseFigure {
    if (measured?.routable) return measured.routable;
    const periods = p.startupProbePeriodSeconds + p.dnsTtlSeconds + p.gatewayDnsRefreshSeconds;
    return { expected: periods / 2 + p.readinessAfterStartupSeconds, pessimistic: periods + p.readinessAfterStartupSeconds };
}

export interface ColdStartInput {
    readonly mechanisms: ColdStartMechanisms;
    readonly weightsGiB: number;
    readonly instanceType: string;
    /** KEDA pollingInterval of the worker pool. */
    readonly pollingIntervalSeconds: number;
    /** The first (image) answer: median and P95 of the service model. */
    readonly firstAnswer: PhaseFigure;
    /** The team's own figures (gpuserve:coldStart.phases). */
    readonly measured?: MeasuredPhases;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

/**
 * The cold start of a worker pool from zero nodes, phase by phase: a request arrives at a pool
 * with no worker and no node and waits for its first answer. Expected: uniform waits count half
 * their period, ranges their midpoint; pessimistic: full periods, range maxima, the compile cache
 * missed, the node's network credits spent, the slowest EBS initialization.
 */
export function coldStartPhases(p: SimParams, c: ColdStartInput): ColdStartPhase[] {
    const m = c.mechanisms;
    const x = c.measured;
    const boot = nodeBoot(p, m.ami, x);
    const gpu = { expected: gpuAfterReady(p, m.ami, boot.expected, false, x), pessimistic: gpuAfterReady(p, m.ami, boot.pessimistic, true, x) };
    const v = vllmPhases(p, m, c.weightsGiB, c.instanceType, x);
    const route = routable(p, x);
    const image = x?.image ?? imagePhase(p, m, boot, gpu);
    const measured = (key: MeasurablePhase, source: string) => (x?.[key] ? measuredSource(key) : source);
    const phases: ColdStartPhase[] = [
        {
            key: "trigger",
            phase: "gateway metric scraped, KEDA polls and wakes the pool",
            seconds: p.scrapeSeconds / 2 + c.pollingIntervalSeconds / 2,
            pessimisticSeconds: p.scrapeSeconds + c.pollingIntervalSeconds,
            source: `the ${p.scrapeSeconds} s ServiceMonitor interval (components/serving/monitoring.ts) + the ${c.pollingIntervalSeconds} s KEDA pollingInterval: half each expected, all of each pessimistic`,
        },
        {
            key: "autoscaler",
            phase: "Cluster Autoscaler scales up",
            seconds: p.caGpuBufferSeconds + p.caScanSeconds / 2,
            pessimisticSeconds: p.caGpuBufferSeconds + p.caScanSeconds,
            source: `a pending GPU pod must be ${p.caGpuBufferSeconds} s old (unschedulablePodWithGpuTimeBuffer, kubernetes/autoscaler cluster-autoscaler/core/static_autoscaler.go) + the ${p.caScanSeconds} s scan interval (half expected)`,
        },
        {
            key: "nodeBoot",
            phase: `GPU node provisioned and booted to Ready (${m.ami})`,
            seconds: boot.expected,
            pessimisticSeconds: boot.pessimistic,
            source: measured(
                "nodeBoot",
                m.ami === "bottlerocket"
                    ? `${p.nodeBootBottlerocketSeconds.min}-${p.nodeBootBottlerocketSeconds.max} s: a GPU cloud vendor's published 80-120 s to provision and boot new GPU instances, against 30-40 s for typical nodes (karpenter-provider-aws #6165); "GPU instance types often take much longer to boot within EC2" (amazon-eks-ami #1099)`
                    : `${p.nodeBootSeconds.min}-${p.nodeBootSeconds.max} s for an AL2023 NVIDIA node (published unoptimized GPU node boots; the NVIDIA kernel module load is part of it, amazon-eks-ami #2733; the GPU types boot slower than the 39 s c5.xlarge of amazon-eks-ami #1099)`,
            ),
        },
        {
            key: "gpuAdvertised",
            phase: "GPU advertised by the device plugin",
            seconds: gpu.expected,
            pessimisticSeconds: gpu.pessimistic,
            source: measured(
                "gpuAdvertised",
                m.ami === "bottlerocket"
                    ? `built into Bottlerocket's NVIDIA variant (bottlerocket PR #1799): ${p.devicePluginBuiltInSeconds.min}-${p.devicePluginBuiltInSeconds.max} s to register after kubelet (assumption)`
                    : `chart DaemonSet: ~${p.devicePluginFromLaunchSeconds} s from node launch (k8s-device-plugin#291), counted once, at least ${p.devicePluginAfterReadySeconds} s after Ready`,
            ),
        },
        {
            key: "image",
            phase: m.imageCache ? "vLLM image read from the snapshot data volume" : "vLLM image pull (~10 GB)",
            seconds: image.expected,
            pessimisticSeconds: image.pessimistic,
            source: measured(
                "image",
                m.imageCache
                    ? `container create (${p.imagePullCachedSeconds} s, assumption) + the wait for the data volume's EBS initialization, conservatively the whole ${IMAGE_CACHE_SNAPSHOT_GB} GB of snapshot data (capacity/cacheCost.ts) from launch, less the node's boot: ${m.imageInitRateMiBps > 0 ? `${m.imageInitRateMiBps} MiB/s provisioned (gpuserve:coldStart.imageCacheInitRateMiBps), 10 % slower pessimistic (EBS user guide, "Initialize Amazon EBS volumes")` : `EBS's lazy initialization, which has no published rate ("fluctuates", EBS user guide) and is reported to negate an image cache (KubeFM, "Faster EKS Node and Pod Startup", 2026): taken as ${p.imageInitLazyRateMiBps} MiB/s, the slowest one can provision`}`
                    : `${p.imagePullUncachedSeconds.min / 60}-${p.imagePullUncachedSeconds.max / 60} min for the ~10 GB image uncached (5m38s measured pulls reported publicly; AWS containers blog on Bottlerocket data volumes)`,
            ),
        },
        {
            key: "weights",
            phase: m.weightsFromS3
                ? `weights copied from S3 to the node's ${m.podStorage === "instanceStore" ? "instance store" : "volume"}, then loaded (Run:ai streamer)`
                : m.compileCache === "shared-volume"
                  ? "weights loaded from the shared volume"
                  : "weights downloaded from Hugging Face and loaded",
            seconds: v.weights.expected,
            pessimisticSeconds: v.weights.pessimistic,
            source: measured(
                "weights",
                m.weightsFromS3
                    ? weightsSource(p, c)
                    : `${c.weightsGiB} GiB x ${m.compileCache === "shared-volume" ? p.weightLoadSecondsPerGiB : p.weightDownloadSecondsPerGiB + p.weightLoadSecondsPerGiB} s/GiB (public vLLM deployment reports: an 8B model took 61 s to download from the Hub and 33 s to load; one measurement, no pessimistic figure)`,
            ),
        },
        {
            key: "engineStart",
            phase: "vLLM process start (imports, CUDA context, API server)",
            seconds: v.engineStart.expected,
            pessimisticSeconds: v.engineStart.pessimistic,
            source: measured(
                "engineStart",
                `vLLM #20264: first answer 59 s after start, of which weights 0.9 s and engine init 34.1 s logged, ~24 s not ("a loss of ~30 s, which isn't logged"): ${p.engineStartSeconds.min}-${p.engineStartSeconds.max} s`,
            ),
        },
        {
            key: "engineInit",
            phase:
                m.compileCache === "none"
                    ? "vLLM engine init: profiling, torch.compile + CUDA graphs (uncached)"
                    : `vLLM engine init: profiling, torch.compile (cached${m.compileCache === "s3" ? ", restored from S3" : ""}) + CUDA graph capture`,
            seconds: v.engineInit.expected,
            pessimisticSeconds: v.engineInit.pessimistic,
            source: measured(
                "engineInit",
                `vLLM #20264: "init engine (profile, create kv cache, warmup model) took 34.11 seconds" with a compile-cache hit (7.51 s compile, 17 s graph capture), a 3.4 GiB model; ` +
                    (m.compileCache === "none"
                        ? `uncached: ${p.engineProfileSeconds} s profiling + ~${p.compileUncachedSeconds} s torch.compile and CUDA graph capture without a cache (vLLM #20264, PRs #16848, #33641)`
                        : `pessimistic: the first start after the cache key changes compiles (~${p.compileUncachedSeconds} s without a cache, vLLM #20264, PRs #16848, #33641)${m.compileCache === "s3" ? `; + ${p.compileCacheRestoreSeconds.min}-${p.compileCacheRestoreSeconds.max} s to copy the cache from S3 (assumption: ~0.5 GB)` : ""}`),
            ),
        },
        {
            key: "routable",
            phase: "ready to routable",
            seconds: route.expected,
            pessimisticSeconds: route.pessimistic,
            source: measured(
                "routable",
                `startup probe period ${p.startupProbePeriodSeconds} s (components/serving/workers.ts), readiness run at once after it (~${p.readinessAfterStartupSeconds} s, kubelet prober_manager.go), CoreDNS TTL ${p.dnsTtlSeconds} s, gateway DNS refresh ${p.gatewayDnsRefreshSeconds} s: half of each period expected, all pessimistic`,
            ),
        },
        {
            key: "firstAnswer",
            phase: "first answer",
            seconds: c.firstAnswer.expected,
            pessimisticSeconds: c.firstAnswer.pessimistic,
            source: "median (expected) and P95 (pessimistic) image answer of the service model (capacity/sim/service.ts)",
        },
    ];
    return phases.map((ph) => ({ ...ph, seconds: r1(ph.seconds), pessimisticSeconds: r1(ph.pessimisticSeconds) }));
}

/**
 * The image phase: pulled (uncached), or read from the snapshot volume: container create plus
 * whatever of the volume's initialization is still running when the node can start the pod
 * (launch + boot + GPU advertised). Pessimistic: the slowest initialization on a node that booted
 * in its expected time (a slow boot would hide more of it, so summed with the slow boot the
 * total errs long, never short).
 */
function imagePhase(p: SimParams, m: ColdStartMechanisms, boot: PhaseFigure, gpu: PhaseFigure): PhaseFigure {
    if (!m.imageCache) return fig(p.imagePullUncachedSeconds);
    const create = p.imagePullCachedSeconds;
    const startedAfter = boot.expected + gpu.expected;
    const rest = (pessimistic: boolean) => Math.max(0, imageInitSeconds(p, m.imageInitRateMiBps, pessimistic) - startedAfter);
    return { expected: create + rest(false), pessimistic: create + rest(true) };
}

/** The first answer's figures from a service time: its median (expected) and P95 (pessimistic). */
export function firstAnswer(t: { readonly medianSeconds: number; readonly p95Seconds: number }): PhaseFigure {
    return { expected: t.medianSeconds, pessimistic: t.p95Seconds };
}

export function totalSeconds(phases: readonly ColdStartPhase[]): number {
    return r1(phases.reduce((a, x) => a + x.seconds, 0));
}

export function pessimisticTotalSeconds(phases: readonly ColdStartPhase[]): number {
    return r1(phases.reduce((a, x) => a + x.pessimisticSeconds, 0));
}

/** The pessimistic cold start from a request at zero to a routable worker (the hold bound's base; no answer time). */
export function worstColdStartSeconds(p: SimParams, c: Omit<ColdStartInput, "firstAnswer">): number {
    return pessimisticTotalSeconds(coldStartPhases(p, { ...c, firstAnswer: { expected: 0, pessimistic: 0 } }));
}

/** What the simulator's cluster needs of a worker pool's start, expected figures (setup.ts resolves it once). */
export interface WorkerStart {
    /** Weights, vLLM process start and engine init, seconds. */
    readonly vllmSeconds: number;
    /** vLLM serving to routable by the gateway, seconds. */
    readonly routableSeconds: number;
}

export function workerStart(p: SimParams, m: ColdStartMechanisms, weightsGiB: number, instanceType: string, measured?: MeasuredPhases): WorkerStart {
    const v = vllmPhases(p, m, weightsGiB, instanceType, measured);
    return { vllmSeconds: v.weights.expected + v.engineStart.expected + v.engineInit.expected, routableSeconds: routable(p, measured).expected };
}
