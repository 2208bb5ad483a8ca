/**
 * Batch metrics, registered on the gateway's registry (metrics.ts stays untouched).
 * Backlog and queued lines are read from Valkey, so every replica exports the same global
 * value: aggregate them with max(), not sum(). Running and finished lines are this replica's.
 */
import { Counter, Gauge } from "prom-client";
import type { Metrics } from "../metrics";

export class BatchMetrics {
    readonly backlog: Gauge;
    readonly queued: Gauge;
    readonly running: Gauge;
    readonly lines: Counter;

    constructor(metrics: Metrics) {
        const registers = [metrics.registry];
        this.backlog = new Gauge({
            name: "gateway_batch_backlog",
            help: "Batch lines waiting in Valkey for a worker of the pool (not yet claimed by any gateway); same value on every replica",
            labelNames: ["pool"],
            registers,
        });
        this.queued = new Gauge({
            name: "gateway_batch_lines_queued",
            help: "Unfinished lines of in-progress batches (waiting or running), per pool and team; same value on every replica",
            labelNames: ["pool", "team"],
            registers,
        });
        this.running = new Gauge({
            name: "gateway_batch_lines_running",
            help: "Batch lines this gateway is running on a worker, per pool and team",
            labelNames: ["pool", "team"],
            registers,
        });
        this.lines = new Counter({
            name: "gateway_batch_lines_total",
            help: "Batch lines finished by this gateway, by outcome (completed: 2xx answer; failed: error file)",
            labelNames: ["pool", "team", "outcome"],
            registers,
        });
    }
}
