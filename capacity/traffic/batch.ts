/**
 * Batch jobs in the trace: each `traffic.batches` entry submits `lines` image requests at
 * once (OpenAI Batch API: one JSONL file, one batch), on its days at its time. They are
 * merged into the interactive trace and flagged, so the simulator runs them as the gateway
 * does (capacity/sim/batch.ts): from a backlog, on spare capacity only, never in the
 * interactive latency figures.
 */
import { z } from "zod";
import { ConfigError } from "../../stacks/errors";
import { PROJECT, batchJobSchema } from "../../stacks/schema";
import { DAY, hhmmToMinutes, parseCronDays, weekdayAt } from "../../stacks/calendar/clock";
import { Rng } from "../sim/rng";
import { KIND_IMAGE, Trace, TrafficTarget } from "./trace";

export type BatchJob = z.output<typeof batchJobSchema>;

/** The trace with batch lines merged in; `batch[i]` is 1 + the job number for batch lines, 0 otherwise. */
export interface BatchTrace extends Trace {
    readonly batch?: Uint32Array;
    /** Submission time of each job (job number - 1). */
    readonly batchJobs?: Float64Array;
}

export function withBatchJobs(trace: Trace, jobs: readonly BatchJob[], targets: readonly TrafficTarget[]): BatchTrace {
    if (jobs.length === 0) return trace;
    const submissions: { t: number; lines: number; pool: number }[] = [];
    jobs.forEach((job, j) => {
        const pool = job.model === undefined ? 0 : targets.findIndex((t) => t.name === job.model || t.id === job.model);
        if (pool < 0) {
            throw new ConfigError([
                {
                    key: `${PROJECT}:traffic.batches[${j}].model`,
                    message: `'${job.model}' is not a worker pool of this stack`,
                    fix: `use a model name or id from gpuserve:models (${targets.map((t) => t.name).join(", ")})`,
                },
            ]);
        }
        const days = parseCronDays(job.days);
        const offset = hhmmToMinutes(job.at) * 60;
        for (let d = 0; d * DAY < trace.horizonSeconds; d++) {
            const t = d * DAY + offset;
            if (days[weekdayAt(t, trace.startWeekday)] && t < trace.horizonSeconds) submissions.push({ t, lines: job.lines, pool });
        }
    });
    submissions.sort((a, b) => a.t - b.t);
    const extra = submissions.reduce((n, s) => n + s.lines, 0);
    const n = trace.times.length + extra;
    const times = new Float64Array(n);
    const kinds = new Uint8Array(n);
    const pools = new Uint16Array(n);
    const z = new Float64Array(n);
    const batch = new Uint32Array(n);
    const rng = new Rng(trace.seed, "traffic:batch");
    let i = 0;
    let k = 0;
    let out = 0;
    submissions.forEach((s, job) => {
        // Interactive arrivals up to the submission keep their place (ties: interactive first).
        while (i < trace.times.length && trace.times[i] <= s.t) {
            times[out] = trace.times[i];
            kinds[out] = trace.kinds[i];
            pools[out] = trace.pools[i];
            z[out] = trace.z[i];
            out++;
            i++;
        }
        for (let l = 0; l < s.lines; l++, k++) {
            times[out] = s.t;
            kinds[out] = KIND_IMAGE;
            pools[out] = s.pool;
            z[out] = rng.normal();
            batch[out] = job + 1;
            out++;
        }
    });
    for (; i < trace.times.length; i++, out++) {
        times[out] = trace.times[i];
        kinds[out] = trace.kinds[i];
        pools[out] = trace.pools[i];
        z[out] = trace.z[i];
    }
    return { ...trace, times, kinds, pools, z, batch, batchJobs: Float64Array.from(submissions.map((s) => s.t)) };
}
