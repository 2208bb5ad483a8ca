/**
 * An optional record of a run (SimParams.recordSignals) for the conformance test
 * (test/prometheus/conformance.test.ts):
 * - `events`: every change of what the gateway, vLLM and DCGM export, at the point where the
 *   simulated gateway and cluster make it (gateway.ts, cluster.ts), plus each scrape. The test
 *   rebuilds the series from these alone, so a signal the control loops never read (or read
 *   stale) shows up as a difference between the simulator's trigger values and Prometheus's.
 * - `evaluations`: every trigger value KEDA (each poll) and the HPA (each sync) acted on, by
 *   trigger name, and KEDA's activation decision per trigger.
 */

export type SignalEvent =
    /** gateway_queue_depth{pool} changes by delta. */
    | { readonly t: number; readonly kind: "held"; readonly pool: number; readonly delta: number }
    /** gateway_inflight_requests{pool} changes by delta. */
    | { readonly t: number; readonly kind: "inflight"; readonly pool: number; readonly delta: number }
    /** gateway_upstream_requests_total{pool} + 1. */
    | { readonly t: number; readonly kind: "handoff"; readonly pool: number }
    /** An interactive request finished: gateway_requests_total{pool,code} + 1, one duration observation. */
    | { readonly t: number; readonly kind: "finished"; readonly pool: number; readonly code: number; readonly seconds: number }
    /** gateway_batch_backlog{pool} changes by delta. */
    | { readonly t: number; readonly kind: "backlog"; readonly pool: number; readonly delta: number }
    /** A vLLM pod's series appear (routable) or go (out of the endpoints). */
    | { readonly t: number; readonly kind: "vllm"; readonly pool: number; readonly pod: number; readonly up: boolean }
    /** vllm:num_requests_waiting / vllm:num_requests_running of one pod change by delta. */
    | { readonly t: number; readonly kind: "waiting" | "running"; readonly pool: number; readonly pod: number; readonly delta: number }
    /** A pod starts or stops holding a GPU (DCGM labels the GPU with it). */
    | { readonly t: number; readonly kind: "gpu"; readonly pool: number; readonly pod: number; readonly bound: boolean }
    /** Prometheus scraped the gateway and vLLM, or the DCGM exporter. */
    | { readonly t: number; readonly kind: "scrape" | "dcgmScrape" };

export interface TriggerReading {
    /** The ScaledObject trigger name (stacks/scalePolicy.ts TRIGGER, warm-<i> for cron windows). */
    readonly trigger: string;
    /** The query's value (NaN where Prometheus returns NaN; a cron window: its desired replicas or 0). */
    readonly value: number;
    /** KEDA polls only: whether the trigger counted as active. */
    readonly active?: boolean;
}

export interface TriggerEvaluation {
    readonly t: number;
    /** Worker pool index. */
    readonly pool: number;
    readonly loop: "keda" | "hpa";
    readonly readings: readonly TriggerReading[];
}

export interface SignalRecording {
    readonly events: SignalEvent[];
    readonly evaluations: TriggerEvaluation[];
}
