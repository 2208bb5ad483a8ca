/**
 * Timing parameters of the simulated cluster: every default with its source.
 *
 * "facts.md" is shared/facts.md ("Time figures for cold start and service", "HPA and
 * KEDA semantics"); chart values are the pinned charts' values.yaml in
 * shared/reference/charts. Where no published figure exists the value says
 * "assumption" and why. Everything is overridable through `expectedCost(cfg, { params })`.
 */

/** A duration drawn uniformly from [min, max] seconds, once per node or pod. */
export interface Range {
    readonly min: number;
    readonly max: number;
}

export interface SimParams {
    // --- cold start (capacity/sim/coldStart.ts picks the phases the stack's config deploys) ---
    /**
     * A pending GPU pod must be this old before Cluster Autoscaler scales up for it (it waits for more pods to
     * make one informed decision). Hard-coded, not a flag.
     * @default 30 s (unschedulablePodWithGpuTimeBuffer, kubernetes/autoscaler cluster-autoscaler/core/static_autoscaler.go)
     */
    readonly caGpuBufferSeconds: number;
    /** AL2023 GPU node launch to kubelet Ready. @default 90-180 s (facts.md: "node boot to Ready: 90-180 s" unoptimized) */
    readonly nodeBootSeconds: Range;
    /**
     * Bottlerocket GPU node launch to kubelet Ready.
     * @default 30-60 s (facts.md best public figure "~30-60 s", amazon-eks-ami #2210, #2733: pre-kubelet 24-30 s)
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
    /** Bottlerocket NVIDIA variant: the built-in plugin registers this long after Ready. @default 5 s (assumption: host service, no image pull) */
    readonly devicePluginBuiltInSeconds: number;
    /** vLLM image pull on a node without it. @default 120-480 s (facts.md: "2-8 min uncached") */
    readonly imagePullUncachedSeconds: Range;
    /**
     * vLLM image already in the node's containerd store (pulled earlier, or on a data volume restored from the
     * image-cache snapshot): container create only.
     * @default 5 s (facts.md: "~0 pre-pulled on a Bottlerocket data-volume EBS snapshot", AWS containers blog; 5 s allowance
     * for container create and first reads from a snapshot-restored volume: assumption)
     */
    readonly imagePullCachedSeconds: number;
    /**
     * vLLM weight download from Hugging Face per GiB (weights: "huggingface"). The worker's cache is an emptyDir
     * that dies with the pod, so every start downloads again.
     * @default 3.7 s/GiB (facts.md: 8B model, 61 s download for ~16.4 GiB of bf16 weights, tensorfuse)
     */
    readonly weightDownloadSecondsPerGiB: number;
    /** vLLM weight load from local disk into GPU memory per GiB. @default 2.0 s/GiB (facts.md: 33 s load for the 8B model) */
    readonly weightLoadSecondsPerGiB: number;
    /**
     * Run:ai Model Streamer's peak from S3 straight into GPU memory, GB/s; the node's network caps it
     * (coldStart.ts INSTANCE_NETWORK_GBPS). @default 3.54 GB/s (facts.md: 15 GB from S3 in 4.24 s on g5.12xlarge, its benchmarks)
     */
    readonly weightStreamPeakGBps: number;
    /** vLLM process start to model load: imports, CUDA context, KV-cache profiling. @default 15 s (assumption: not published separately) */
    readonly engineStartSeconds: number;
    /** torch.compile + CUDA graphs without a compile cache. @default 200 s (facts.md: "compile+graphs ~200 s uncached") */
    readonly compileUncachedSeconds: number;
    /** Compile from a warm cache + CUDA graph capture. @default 25 s (facts.md: ~5-8 s cached compile + ~17 s graph capture, vLLM #20264, PRs #16848, #33641) */
    readonly compileCachedSeconds: number;
    /** Copying the compile cache from S3 before vLLM starts (init container). @default 3 s (assumption: a few hundred MB at >= 100 MB/s) */
    readonly compileCacheRestoreSeconds: number;
    /**
     * vLLM serving to the gateway routing to it: readiness probe period 5 s
     * (components/serving/workers.ts, ~2.5 s on average) plus the gateway's DNS refresh of the
     * headless Service (gateway config dnsRefreshSeconds 5, ~2.5 s on average). @default 5 s
     */
    readonly readyToRoutableSeconds: number;
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
    nodeBootBottlerocketSeconds: { min: 30, max: 60 },
    devicePluginFromLaunchSeconds: 90,
    devicePluginAfterReadySeconds: 10,
    devicePluginBuiltInSeconds: 5,
    imagePullUncachedSeconds: { min: 120, max: 480 },
    imagePullCachedSeconds: 5,
    weightDownloadSecondsPerGiB: 3.7,
    weightLoadSecondsPerGiB: 2.0,
    weightStreamPeakGBps: 3.54,
    engineStartSeconds: 15,
    compileUncachedSeconds: 200,
    compileCachedSeconds: 25,
    compileCacheRestoreSeconds: 3,
    readyToRoutableSeconds: 5,
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
    for (const k of ["scrapeSeconds", "dcgmScrapeSeconds", "caScanSeconds", "weightStreamPeakGBps"] as const) {
        if (p[k] <= 0) throw new Error(`simulator parameter '${k}' must be > 0 (got ${p[k]})`);
    }
    return p;
}
