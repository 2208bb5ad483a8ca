/**
 * The metric series a simulated run would have left in Prometheus, rebuilt from the run's
 * recording (SimResult.signals.events: every change of what the gateway, vLLM and DCGM export,
 * and every scrape) and its input (teachers' warm-ups, last week's arrivals), never from the
 * simulator's own scrape samples: a signal the simulator's control loops read stale, or never
 * read, then differs from what Prometheus computes here. Written as OpenMetrics text for
 * `promtool tsdb create-blocks-from openmetrics`.
 *
 * Names and labels as exported: the gateway's (gateway/src/metrics.ts, gateway/src/batch/metrics.ts);
 * vLLM's `vllm:num_requests_waiting|running` with the target labels the ServiceMonitor gives
 * them (namespace, pod) and its `pool` relabeling; DCGM_FI_DEV_GPU_UTIL with the pod that holds
 * the GPU (namespace, pod).
 */
import { ANSWER_SECONDS, FAST_BUCKETS, bucketsUpTo } from "../../gateway/src/metrics";
import type { SimInput, SimResult } from "../../capacity/sim";
import { localClock, sessionInProgress, type TimetableConfig } from "../../gateway/src/timetable";

export interface SeriesOptions {
    /** Epoch seconds of simulated time 0 (a multiple of the scrape interval). */
    readonly t0: number;
    /** Kubernetes namespace of the worker pods. */
    readonly namespace: string;
    /** The gateway's hold bound (queue.maxWaitSeconds): its duration buckets reach it. */
    readonly holdSeconds: number;
    /** Worker pool name -> its Deployment's name (pod names start with it). */
    readonly deployments: ReadonlyMap<string, string>;
    /** The gateway exports gateway_batch_backlog (the batch store is on). */
    readonly batchBacklog: boolean;
    /** The gateway config's timetable (the plan's): it exports gateway_timetable_session for the pools it lists, computed by the gateway's own code. */
    readonly timetable?: TimetableConfig;
}

interface Series {
    readonly labels: Record<string, string>;
    readonly samples: [number, number][];
}

/** family -> (label key -> series) */
type Families = Map<string, { type: "gauge" | "counter" | "histogram"; series: Map<string, Series> }>;

function add(f: Families, family: string, type: "gauge" | "counter" | "histogram", name: string, labels: Record<string, string>, t: number, v: number): void {
    let fam = f.get(family);
    if (!fam) f.set(family, (fam = { type, series: new Map() }));
    const key = `${name}${JSON.stringify(labels)}`;
    let s = fam.series.get(key);
    if (!s) fam.series.set(key, (s = { labels: { __name__: name, ...labels }, samples: [] }));
    s.samples.push([t, v]);
}

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const fmt = (v: number) => (v === Infinity ? "+Inf" : String(v));

/** OpenMetrics text of the families, each series' samples in time order, ended by `# EOF`. */
function openMetrics(f: Families): string {
    const out: string[] = [];
    for (const [family, { type, series }] of f) {
        out.push(`# TYPE ${family} ${type}`);
        for (const s of series.values()) {
            const { __name__, ...labels } = s.labels;
            const l = Object.entries(labels)
                .map(([k, v]) => `${k}="${escape(v)}"`)
                .join(",");
            for (const [t, v] of s.samples) out.push(`${__name__}{${l}} ${fmt(v)} ${t}`);
        }
    }
    out.push("# EOF");
    return out.join("\n") + "\n";
}

/** The run's series as OpenMetrics text, and the number of samples. */
export function simulatedSeries(input: SimInput, result: SimResult, o: SeriesOptions): { text: string; samples: number } {
    const rec = result.signals;
    if (!rec) throw new Error("the run has no recording: simulate with params.recordSignals");
    const f: Families = new Map();
    const pools = input.workerPools.map((w) => w.name);
    const bounds = [...bucketsUpTo(FAST_BUCKETS, o.holdSeconds + ANSWER_SECONDS), Infinity];
    const period = input.params.scrapeSeconds;
    const abs = (t: number) => o.t0 + t;

    // Last week's requests (not simulated): handed to a worker when they arrived, scraped from the history's start.
    const h = input.trace.history;
    const upstream = pools.map(() => 0);
    if (h) {
        const times = pools.map((_, wi) => Array.from(h.times).filter((_, i) => h.pools[i] === wi));
        for (let t = -h.seconds; t < 0; t += period) {
            pools.forEach((pool, wi) => {
                while (times[wi].length > 0 && times[wi][0] <= t) {
                    times[wi].shift();
                    upstream[wi]++;
                }
                add(f, "gateway_upstream_requests", "counter", "gateway_upstream_requests_total", { pool }, abs(t), upstream[wi]);
                add(f, "gateway_requests", "counter", "gateway_requests_total", { pool, code: "200" }, abs(t), upstream[wi]);
            });
        }
    }
    // gateway_requests_total by code, last week's requests counted as answered.
    const finishedCodes = pools.map((_, wi) => new Map<string, number>([["200", upstream[wi]]]));

    const held = pools.map(() => 0);
    const inflight = pools.map(() => 0);
    const backlog = pools.map(() => 0);
    // The duration histogram exists from the start: the gateway has answered the pool before (its history).
    const buckets = pools.map(() => bounds.map(() => 0));
    const durationSum = pools.map(() => 0);
    const durationCount = pools.map(() => 0);
    /** pool -> pod -> { waiting, running, up, gpu } */
    const pods = pools.map(() => new Map<number, { waiting: number; running: number; up: boolean; gpu: boolean }>());
    const pod = (wi: number, seq: number) => {
        let p = pods[wi].get(seq);
        if (!p) pods[wi].set(seq, (p = { waiting: 0, running: 0, up: false, gpu: false }));
        return p;
    };
    const podName = (wi: number, seq: number) => `${o.deployments.get(pools[wi]) ?? pools[wi]}-7f9c8d6b5-${seq.toString(36)}`;

    for (const e of rec.events) {
        switch (e.kind) {
            case "held":
                held[e.pool] += e.delta;
                break;
            case "inflight":
                inflight[e.pool] += e.delta;
                break;
            case "backlog":
                backlog[e.pool] += e.delta;
                break;
            case "handoff":
                upstream[e.pool]++;
                break;
            case "finished": {
                const codes = finishedCodes[e.pool];
                codes.set(String(e.code), (codes.get(String(e.code)) ?? 0) + 1);
                const b = buckets[e.pool];
                bounds.forEach((le, i) => {
                    if (e.seconds <= le) b[i]++;
                });
                durationSum[e.pool] += e.seconds;
                durationCount[e.pool]++;
                break;
            }
            case "vllm":
                pod(e.pool, e.pod).up = e.up;
                break;
            case "gpu":
                pod(e.pool, e.pod).gpu = e.bound;
                break;
            case "waiting":
                pod(e.pool, e.pod).waiting += e.delta;
                break;
            case "running":
                pod(e.pool, e.pod).running += e.delta;
                break;
            case "dcgmScrape": {
                const t = abs(e.t);
                pools.forEach((_, wi) => {
                    for (const [seq, p] of pods[wi]) {
                        if (p.gpu)
                            add(
                                f,
                                "DCGM_FI_DEV_GPU_UTIL",
                                "gauge",
                                "DCGM_FI_DEV_GPU_UTIL",
                                { gpu: "0", namespace: o.namespace, pod: podName(wi, seq) },
                                t,
                                p.running > 0 ? 100 : 0,
                            );
                    }
                });
                break;
            }
            case "scrape": {
                const t = abs(e.t);
                pools.forEach((pool, wi) => {
                    add(f, "gateway_queue_depth", "gauge", "gateway_queue_depth", { pool }, t, held[wi]);
                    add(f, "gateway_inflight_requests", "gauge", "gateway_inflight_requests", { pool }, t, inflight[wi]);
                    add(f, "gateway_upstream_requests", "counter", "gateway_upstream_requests_total", { pool }, t, upstream[wi]);
                    for (const [code, n] of finishedCodes[wi]) add(f, "gateway_requests", "counter", "gateway_requests_total", { pool, code }, t, n);
                    let warm = 0;
                    for (const x of input.warmups ?? []) if (x.pool === wi && e.t >= x.from && e.t < x.until) warm += x.replicas;
                    add(f, "gateway_warmup_replicas", "gauge", "gateway_warmup_replicas", { pool }, t, warm);
                    if (o.batchBacklog) add(f, "gateway_batch_backlog", "gauge", "gateway_batch_backlog", { pool }, t, backlog[wi]);
                    const sessions = o.timetable?.pools[pool];
                    if (sessions) {
                        const local = localClock(t * 1000, o.timetable.timezone);
                        add(
                            f,
                            "gateway_timetable_session",
                            "gauge",
                            "gateway_timetable_session",
                            { pool },
                            t,
                            sessionInProgress(sessions, local.day, local.seconds) ? 1 : 0,
                        );
                    }
                    bounds.forEach((le, i) =>
                        add(
                            f,
                            "gateway_request_duration_seconds",
                            "histogram",
                            "gateway_request_duration_seconds_bucket",
                            { pool, le: fmt(le) },
                            t,
                            buckets[wi][i],
                        ),
                    );
                    add(f, "gateway_request_duration_seconds", "histogram", "gateway_request_duration_seconds_sum", { pool }, t, durationSum[wi]);
                    add(f, "gateway_request_duration_seconds", "histogram", "gateway_request_duration_seconds_count", { pool }, t, durationCount[wi]);
                    for (const [seq, p] of pods[wi]) {
                        if (!p.up) continue;
                        const labels = { pool, namespace: o.namespace, pod: podName(wi, seq), model_name: input.workerPools[wi].model };
                        add(f, "vllm:num_requests_waiting", "gauge", "vllm:num_requests_waiting", labels, t, p.waiting);
                        add(f, "vllm:num_requests_running", "gauge", "vllm:num_requests_running", labels, t, p.running);
                    }
                });
                break;
            }
        }
    }
    let samples = 0;
    for (const fam of f.values()) for (const s of fam.series.values()) samples += s.samples.length;
    return { text: openMetrics(f), samples };
}
