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
    /** GPU node launch to kubelet Ready. @default 90-180 s (facts.md: "GPU node boot to Ready: 1.5-3 min") */
    readonly nodeBootSeconds: Range;
    /**
     * Node Ready to GPUs allocatable (device plugin pod pulled, started, registered).
     * @default 90 s (facts.md: "device plugin advertises GPUs ~90 s after node start", k8s-device-plugin#291; read as after the node is Ready)
     */
    readonly devicePluginSeconds: number;
    /** vLLM image pull on a node that never pulled it. @default 120-480 s (facts.md: "2-8 min uncached") */
    readonly imagePullUncachedSeconds: Range;
    /** vLLM image already on the node. @default 20 s (facts.md: "< 30 s cached on node") */
    readonly imagePullCachedSeconds: number;
    /**
     * vLLM weight download per GiB of weights. Paid by every pod start unless the model has a
     * shared cache volume (`cacheClaimName`): the worker's cache is an emptyDir otherwise,
     * which dies with the pod, so even a restart on the same node downloads and compiles again.
     * @default 3.7 s/GiB (facts.md: 8B model, 61 s download for ~16.4 GiB of bf16 weights, tensorfuse)
     */
    readonly weightDownloadSecondsPerGiB: number;
    /** vLLM weight load into GPU memory per GiB. @default 2.0 s/GiB (facts.md: 33 s load for the 8B model) */
    readonly weightLoadSecondsPerGiB: number;
    /** torch.compile + CUDA graphs without a compile cache. @default 200 s (facts.md: "compile+graphs ~200 s") */
    readonly compileUncachedSeconds: number;
    /**
     * Compile + graphs with the node's compile cache warm.
     * @default 49 s (facts.md: ~82 s warm start minus the 33 s load)
     */
    readonly compileCachedSeconds: number;
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

    /** Prometheus scrape interval of gateway and vLLM metrics. @default 30 s (kube-prometheus-stack values.yaml: scrapeInterval "Defaults to 30s") */
    readonly scrapeSeconds: number;
    /** DCGM exporter scrape interval (GPU utilization). @default 15 s (dcgm-exporter values.yaml serviceMonitor.interval) */
    readonly dcgmScrapeSeconds: number;
    /**
     * Lookback of the demand and waiting queries: 0 reads the gauges as scraped (what a
     * plain `sum(gateway_queue_depth) + sum(gateway_inflight_requests)` query returns);
     * w > 0 models `max_over_time(...[w])`, which keeps a pool with sparse short requests
     * active between them. @default 0 (the query scalePolicy.ts describes)
     */
    readonly queryLookbackSeconds: number;
    /**
     * Also count the pool active for KEDA when a request arrived in the last w seconds
     * (a query OR-ing `increase(gateway_upstream_requests_total[w]) > 0`: requests a worker served). The gauges alone are 0 at
     * most scrapes when requests are short and sparse, so a pool in use can cool down to
     * zero between two scrapes that happened to see nothing. @default 0 (off: scalePolicy.ts)
     */
    readonly activityLookbackSeconds: number;
    /** Window of the gateway P95 latency trigger (rate() range). @default 120 s (assumption: 4 scrapes at 30 s) */
    readonly latencyWindowSeconds: number;
    /** KEDA fallback.failureThreshold: failed polls before fallback replicas apply. @default 3 (KEDA docs example) */
    readonly fallbackFailureThreshold: number;
    /** Prometheus outages [start, end) in simulated seconds, to exercise KEDA fallback. @default [] */
    readonly metricOutages: readonly Range[];

    /** Cluster Autoscaler loop. @default 10 s (cluster-autoscaler values.yaml: scan-interval 10s) */
    readonly caScanSeconds: number;
    /** Empty node kept this long before removal. @default 600 s (cluster-autoscaler values.yaml: scale-down-unneeded-time 10m) */
    readonly caUnneededSeconds: number;
    /** No scale-down this long after any scale-up. @default 600 s (cluster-autoscaler values.yaml: scale-down-delay-after-add 10m) */
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
}

export const DEFAULT_SIM_PARAMS: SimParams = {
    nodeBootSeconds: { min: 90, max: 180 },
    devicePluginSeconds: 90,
    imagePullUncachedSeconds: { min: 120, max: 480 },
    imagePullCachedSeconds: 20,
    weightDownloadSecondsPerGiB: 3.7,
    weightLoadSecondsPerGiB: 2.0,
    compileUncachedSeconds: 200,
    compileCachedSeconds: 49,
    readyToRoutableSeconds: 5,
    preStopSeconds: 15,
    coldStartScale: 1,
    scrapeSeconds: 30,
    queryLookbackSeconds: 0,
    activityLookbackSeconds: 0,
    dcgmScrapeSeconds: 15,
    latencyWindowSeconds: 120,
    fallbackFailureThreshold: 3,
    metricOutages: [],
    caScanSeconds: 10,
    caUnneededSeconds: 600,
    caDelayAfterAddSeconds: 600,
    upstreamTimeoutSeconds: 600,
    maxConcurrentPerWorker: 0,
    spotInterruptionsPerNodeHour: 0,
    spotNoticeSeconds: 120,
    timeseries: false,
};

export function resolveParams(overrides: Partial<SimParams> = {}): SimParams {
    const p = { ...DEFAULT_SIM_PARAMS, ...overrides };
    for (const [k, v] of Object.entries(p)) {
        if (typeof v === "number" && (!Number.isFinite(v) || v < 0)) throw new Error(`simulator parameter '${k}' must be a finite number >= 0 (got ${v})`);
    }
    for (const k of ["scrapeSeconds", "dcgmScrapeSeconds", "caScanSeconds"] as const) {
        if (p[k] <= 0) throw new Error(`simulator parameter '${k}' must be > 0 (got ${p[k]})`);
    }
    return p;
}
