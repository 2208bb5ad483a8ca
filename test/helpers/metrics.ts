/**
 * The metric names each exporter really exports, and a PromQL scanner, so tests can check
 * that dashboards and scale policies only query metrics that exist.
 */
import { BatchMetrics } from "../../gateway/src/batch/metrics";
import { BillingMetrics } from "../../gateway/src/billing/metrics";
import { billingRecordingRules } from "../../components/serving/billingRules";
import { Metrics } from "../../gateway/src/metrics";
import { costRecordingRules } from "../../components/addons/monitoring";

/** vLLM's Prometheus metrics we use (vLLM docs, shared/facts.md "vLLM"). */
const VLLM_METRICS = ["vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc"];

/** DCGM exporter fields (default counters of dcgm-exporter 4.x, shared/facts.md). */
const DCGM_METRICS = [
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_FB_USED",
    "DCGM_FI_DEV_FB_FREE",
    "DCGM_FI_DEV_MEM_COPY_UTIL",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
];

/** Series names the gateway's real registry exposes (histograms as _bucket/_sum/_count). */
export async function gatewayMetricNames(): Promise<string[]> {
    const metrics = new Metrics();
    new BatchMetrics(metrics); // registered when the gateway config has a batch section
    new BillingMetrics(metrics); // registered by every gateway (billing/index.ts)
    const json = await metrics.registry.getMetricsAsJSON();
    return json.flatMap((m) => (m.type === ("histogram" as unknown) ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name]));
}

/** Recording rules the stack defines itself. */
const RECORDING_RULES = [
    ...new Set([
        ...costRecordingRules([{ name: "x", nodeUsdPerHour: 1, gpusPerNode: 1, minNodes: 0, workerPools: ["p"] }], 1).map((r) => r.record),
        ...billingRecordingRules([{ name: "x", nodeUsdPerHour: 1, gpusPerNode: 1, minNodes: 0, floorNodes: 0, workerPools: ["p"] }], 1, "serving").map(
            (r) => r.record,
        ),
    ]),
];

export async function knownMetricNames(): Promise<Set<string>> {
    return new Set([...VLLM_METRICS, ...DCGM_METRICS, ...(await gatewayMetricNames()), ...RECORDING_RULES]);
}

const PROMQL_WORDS = new Set([
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "histogram_quantile",
    "scalar",
    "vector",
    "abs",
    "ceil",
    "floor",
    "round",
    "clamp",
    "clamp_min",
    "clamp_max",
    "label_replace",
    "label_join",
    "time",
    "avg_over_time",
    "max_over_time",
    "min_over_time",
    "sum_over_time",
    "count_over_time",
    "quantile_over_time",
    "last_over_time",
    "absent",
    "absent_over_time",
    "sort",
    "sort_desc",
    "inf",
    "nan",
]);

/** Metric names an expression selects: identifiers that are not functions, keywords, labels or strings. */
export function promqlMetricNames(expr: string): string[] {
    const stripped = expr
        .replace(/"(?:[^"\\]|\\.)*"/g, " ") // strings
        .replace(/\{[^}]*\}/g, " ") // label matchers
        .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ") // label lists
        .replace(/\[[^\]]*\]/g, " ") // range selectors
        .replace(/\boffset\s+-?[0-9][0-9a-z]*/g, " ") // offset modifiers (offset 603925s)
        .replace(/\$\{?\w+\}?/g, " "); // dashboard variables
    const names = stripped.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
    return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n) && !/^\d/.test(n)))];
}
