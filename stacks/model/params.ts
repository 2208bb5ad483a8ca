/**
 * Timing parameters of the simulated cluster: every default with its source.
 *
 * "facts.md" is shared/facts.md ("Time figures for cold start and service", "HPA and
 * KEDA semantics"); chart values are the pinned charts' values.yaml in
 * shared/reference/charts. Where no published figure exists the value says
 * "assumption" and why. Everything is overridable through `expectedCost(cfg, { params })`.
 */
import { NATIVE_S3_LINK_SHARE } from "../catalog/network";

/** A duration drawn uniformly from [min, max] seconds, once per node or pod. */
export interface Range {
    readonly min: number;
    readonly max: number;
}

export interface SimParams {
    // --- cold start (stacks/model/coldStartPhases.ts picks the phases the stack's config deploys) ---
    /**
     * A pending GPU pod must be this old before Cluster Autoscaler scales up for it (it waits for more pods to
     * make one informed decision). Hard-coded, not a flag.
     * @default 30 s (unschedulablePodWithGpuTimeBuffer, kubernetes/autoscaler cluster-autoscaler/core/static_autoscaler.go)
     */
    readonly caGpuBufferSeconds: number;
    /**
     * AL2023 NVIDIA GPU node: ASG launch to kubelet Ready; the simulator draws uniformly from it, expected = midpoint,
     * pessimistic = max. @default 90-180 s (facts.md: "node boot to Ready: 90-180 s" unoptimized; the NVIDIA kernel
     * module load is part of it, amazon-eks-ami #2733)
     */
    readonly nodeBootSeconds: Range;
    /**
     * Bottlerocket NVIDIA GPU node: ASG launch to kubelet Ready.
     * @default 80-120 s (GPU instances "80-120 s to provision and boot", facts.md "Cold start, published"; typical non-GPU
     * nodes 30-40 s, karpenter-provider-aws #6165; "GPU instance types often take much longer", amazon-eks-ami #1099)
     */
    readonly nodeBootBottlerocketSeconds: Range;
    /**
     * AL2023 + device plugin chart: GPUs are allocatable no earlier than this after node *launch* (the
     * DaemonSet's pod is scheduled, pulled and registered while the node finishes booting).
     * @default 90 s (facts.md, k8s-device-plugin#291: ~90 s measured from node launch; counted once, not after Ready)
     */
    readonly devicePluginFromLaunchSeconds: number;
    /** AL2023: the chart's plugin registers at least this long after Ready. @default 10 s (assumption: DaemonSet pod start on a Ready node) */
    readonly devicePluginAfterReadySeconds: number;
    /** Bottlerocket NVIDIA variant: the built-in plugin registers this long after Ready. @default 0-10 s (assumption: a host service, no image pull) */
    readonly devicePluginBuiltInSeconds: Range;
    /** vLLM image pull on a node without it. @default 120-480 s (facts.md: "2-8 min uncached") */
    readonly imagePullUncachedSeconds: Range;
    /**
     * vLLM image already in the node's containerd store (pulled earlier, or on a data volume restored from the
     * image-cache snapshot): container create. The snapshot volume's initialization comes on top (coldStart.ts).
     * @default 5 s (facts.md: "~0 pre-pulled on a Bottlerocket data-volume EBS snapshot", AWS containers blog; 5 s for
     * container create: assumption)
     */
    readonly imagePullCachedSeconds: number;
    /**
     * EBS lazy initialization (no provisioned rate): AWS publishes no rate ("The default volume initialization rate
     * fluctuates", EBS user guide, "Initialize Amazon EBS volumes"); taken as the slowest rate one can provision.
     * @default 100 MiB/s (the provisioned rate's range is 100-300 MiB/s, same page)
     */
    readonly imageInitLazyRateMiBps: number;
    /**
     * How far below the provisioned initialization rate a pessimistic start runs. @default 0.1 (EBS user guide: "an
     * average rate that is within 10 percent of the volume initialization rate that you specify for 99 percent of the time")
     */
    readonly imageInitRateShortfall: number;
    /**
     * vLLM weight download from Hugging Face per GiB (weights: "huggingface"). The worker's cache is an emptyDir
     * that dies with the pod, so every start downloads again.
     * @default 3.7 s/GiB (facts.md: 8B model, 61 s download for ~16.4 GiB of bf16 weights, tensorfuse)
     */
    readonly weightDownloadSecondsPerGiB: number;
    /** vLLM weight load from local disk into GPU memory per GiB. @default 2.0 s/GiB (facts.md: 33 s load for the 8B model) */
    readonly weightLoadSecondsPerGiB: number;
    /**
     * Share of the node's network a native S3 client reaches: the AWS CLI's CRT client, which copies the weights on
     * p4d/p4de (stacks/catalog/network.ts; of the burst bandwidth expected, of the baseline pessimistic).
     * @default 0.708 (facts.md: the Run:ai Model Streamer's 15 GB from S3 in 4.24 s = 3.54 GB/s on g5.12xlarge, whose
     * 40 Gbit/s is 5 GB/s; its benchmarks)
     */
    readonly weightStreamLinkShare: number;
    /**
     * vLLM process start to model load: imports, CUDA context, API server, not in vLLM's logged phases.
     * @default 18-30 s (vLLM #20264: first answer 59 s after start; 0.9 s weights and 34.1 s engine init logged;
     * "a loss of ~30 s, which isn't logged": 24 s expected, 30 s pessimistic)
     */
    readonly engineStartSeconds: Range;
    /** Engine init without compile and graphs: KV-cache profiling and allocation. @default 9.6 s (vLLM #20264: 34.11 s init - 7.51 s compile - 17 s graphs) */
    readonly engineProfileSeconds: number;
    /** torch.compile + CUDA graphs without a compile cache. @default 200 s (facts.md: "compile+graphs ~200 s uncached") */
    readonly compileUncachedSeconds: number;
    /** Compile from a warm cache + CUDA graph capture. @default 24.5 s (vLLM #20264: "torch.compile takes 7.51 s in total", "Graph capturing finished in 17 secs") */
    readonly compileCachedSeconds: number;
    /** Copying the compile cache from S3 before vLLM starts (init container). @default 1-5 s (assumption: ~0.5 GB, capacity/cacheCost.ts COMPILE_CACHE_GB, at 0.3-1.25 GB/s) */
    readonly compileCacheRestoreSeconds: Range;
    /** The vLLM container's startup probe period (components/serving/workers.ts: periodSeconds 10; test/capacity/coldStartPhases.test.ts checks it). @default 10 s */
    readonly startupProbePeriodSeconds: number;
    /** Kubelet runs the readiness probe right after the startup probe succeeds (prober_manager.go UpdatePodStatus). @default 1 s (assumption: one pod status sync) */
    readonly readinessAfterStartupSeconds: number;
    /** TTL of a headless Service's DNS records. @default 5 s (CoreDNS `kubernetes` plugin default ttl; EKS's Corefile sets none) */
    readonly dnsTtlSeconds: number;
    /** The gateway re-resolves a pool's headless Service this often. @default 5 s (gateway/src/config.ts health.dnsRefreshSeconds) */
    readonly gatewayDnsRefreshSeconds: number;
    /**
     * A deleted worker keeps its GPU at least this long (preStop sleep before SIGTERM, so it
     * leaves the endpoints first), then until its requests finish.
     * @default 15 s (components/serving/workers.ts lifecycle.preStop)
     */
    readonly preStopSeconds: number;
    /** Multiplies every provisioning duration above (1 = as published; < 1 = faster cold start). @default 1 */
    readonly coldStartScale: number;

    /** Prometheus scrape interval of gateway and vLLM metrics. @default 15 s (the ServiceMonitors' endpoint interval, components/serving/monitoring.ts) */
    readonly scrapeSeconds: number;
    /** DCGM exporter scrape interval (GPU utilization). @default 15 s (dcgm-exporter values.yaml serviceMonitor.interval) */
    readonly dcgmScrapeSeconds: number;
    /** KEDA fallback.failureThreshold: failed polls before fallback replicas apply. @default 3 (KEDA docs example) */
    readonly fallbackFailureThreshold: number;
    /** Prometheus outages [start, end) in simulated seconds, to exercise KEDA fallback. @default [] */
    readonly metricOutages: readonly Range[];

    /** Cluster Autoscaler loop. @default 10 s (cluster-autoscaler values.yaml: scan-interval 10s) */
    readonly caScanSeconds: number;
    /**
     * Empty node kept this long before removal, the global flag (addons.clusterAutoscaler.scaleDownUnneededTime,
     * default "5m"; setup.ts reads the stack's). GPU node groups override it with their ASG tag
     * (coldStart.ts gpuNodeUnneededSeconds); set explicitly, it replaces that too. @default 300 s
     */
    readonly caUnneededSeconds: number;
    /** No scale-down this long after any scale-up. @default 300 s (as deployed: scale-down-delay-after-add, components/addons/clusterAutoscaler) */
    readonly caDelayAfterAddSeconds: number;

    /**
     * A request sent to a worker gives up (504) if vLLM has not started it within this long
     * (gateway config upstream.headersTimeoutSeconds, "Time to response headers"). Bounds
     * vLLM's queue when a pool is overloaded. @default 600 s
     */
    readonly upstreamTimeoutSeconds: number;
    /**
     * Requests the gateway sends to one worker before holding the rest, for every pool;
     * 0 = each model's vLLM --max-num-seqs, as components/serving/gatewayConfig.ts sets
     * the gateway's maxConcurrentPerUpstream. @default 0
     */
    readonly maxConcurrentPerWorker: number;

    /** Spot reclaims per node-hour on spot pools; 0 turns interruptions off. @default 0 (an option, not a forecast) */
    readonly spotInterruptionsPerNodeHour: number;
    /** Notice before a spot node is reclaimed. @default 120 s (EC2 spot interruption notice) */
    readonly spotNoticeSeconds: number;

    /** Record per-minute series for charts (slower). @default false */
    readonly timeseries: boolean;
    /** Record every exported signal change and trigger reading (SimResult.signals; capacity/sim/recording.ts), for the conformance test. @default false */
    readonly recordSignals: boolean;
}

export const DEFAULT_SIM_PARAMS: SimParams = {
    caGpuBufferSeconds: 30,
    nodeBootSeconds: { min: 90, max: 180 },
    nodeBootBottlerocketSeconds: { min: 80, max: 120 },
    devicePluginFromLaunchSeconds: 90,
    devicePluginAfterReadySeconds: 10,
    devicePluginBuiltInSeconds: { min: 0, max: 10 },
    imagePullUncachedSeconds: { min: 120, max: 480 },
    imagePullCachedSeconds: 5,
    weightDownloadSecondsPerGiB: 3.7,
    weightLoadSecondsPerGiB: 2.0,
    imageInitLazyRateMiBps: 100,
    imageInitRateShortfall: 0.1,
    weightStreamLinkShare: NATIVE_S3_LINK_SHARE,
    engineStartSeconds: { min: 18, max: 30 },
    engineProfileSeconds: 9.6,
    compileUncachedSeconds: 200,
    compileCachedSeconds: 24.5,
    compileCacheRestoreSeconds: { min: 1, max: 5 },
    startupProbePeriodSeconds: 10,
    readinessAfterStartupSeconds: 1,
    dnsTtlSeconds: 5,
    gatewayDnsRefreshSeconds: 5,
    preStopSeconds: 15,
    coldStartScale: 1,
    scrapeSeconds: 15,
    dcgmScrapeSeconds: 15,
    fallbackFailureThreshold: 3,
    metricOutages: [],
    caScanSeconds: 10,
    caUnneededSeconds: 300,
    caDelayAfterAddSeconds: 300,
    upstreamTimeoutSeconds: 600,
    maxConcurrentPerWorker: 0,
    spotInterruptionsPerNodeHour: 0,
    spotNoticeSeconds: 120,
    timeseries: false,
    recordSignals: false,
};

export function resolveParams(overrides: Partial<SimParams> = {}): SimParams {
    const p = { ...DEFAULT_SIM_PARAMS, ...overrides };
    for (const [k, v] of Object.entries(p)) {
        if (typeof v === "number" && (!Number.isFinite(v) || v < 0)) throw new Error(`simulator parameter '${k}' must be a finite number >= 0 (got ${v})`);
    }
    for (const k of ["scrapeSeconds", "dcgmScrapeSeconds", "caScanSeconds", "weightStreamLinkShare", "imageInitLazyRateMiBps"] as const) {
        if (p[k] <= 0) throw new Error(`simulator parameter '${k}' must be > 0 (got ${p[k]})`);
    }
    return p;
}
