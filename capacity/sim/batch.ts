/**
 * Batch lines in the simulation, run the way the gateway runs them (gateway/src/batch/runner.ts,
 * gateway/src/pool.ts takeSpare): from a per-pool backlog (Valkey's stream), only while no
 * interactive request is held, on a worker with fewer than maxConcurrentPerWorker -
 * reservedSlots outstanding and fewer than perWorker batch lines; never held (no 503), no
 * latency sample in the interactive figures. The pool's batch-backlog KEDA trigger
 * (components/serving/scaling.ts batchTrigger) reads the waiting lines (gateway_batch_backlog,
 * `waiting`, scraped by control.ts): it activates the pool at zero and asks the HPA for
 * backlog / batchBacklogPerReplica replicas.
 */
import type { Trace } from "../traffic/trace";
import type { BatchResult, BatchSetup, SimInput } from "./types";

/** The gateway's defaults (gateway/src/batch/config.ts). */
export const BATCH_DEFAULTS = { reservedSlots: 2, perWorker: 4 } as const;

/** What the batch lines read of the simulation's state (state.ts SimState): its pools and which pool each request goes to. */
export interface BatchWorld {
    readonly input: Pick<SimInput, "workerPools">;
    readonly trace: Pick<Trace, "pools">;
}

/** The batch lines of a simulation; `P` is the state's worker pod (state.ts Pod), a key here only. */
export class BatchSim<P extends object> {
    readonly lines: number;
    private readonly queue: number[][];
    private readonly head: number[];
    private readonly onPod = new Map<P, number>();
    private readonly jobLast: Float64Array;
    private readonly jobLines: Uint32Array;
    private readonly jobAnswered: Uint32Array;
    private readonly jobPool: Int32Array;
    private readonly work: number[];

    constructor(
        private readonly s: BatchWorld,
        readonly setup: BatchSetup,
        private readonly flags: Uint32Array,
        private readonly submitted: Float64Array,
    ) {
        const pools = s.input.workerPools.length;
        this.queue = Array.from({ length: pools }, () => []);
        this.head = new Array<number>(pools).fill(0);
        this.work = new Array<number>(pools).fill(0);
        this.jobLast = new Float64Array(submitted.length).fill(NaN);
        this.jobLines = new Uint32Array(submitted.length);
        this.jobAnswered = new Uint32Array(submitted.length);
        this.jobPool = new Int32Array(submitted.length).fill(-1);
        let n = 0;
        for (let r = 0; r < flags.length; r++) {
            if (flags[r] === 0) continue;
            n++;
            this.jobLines[flags[r] - 1]++;
            this.jobPool[flags[r] - 1] = s.trace.pools[r];
        }
        this.lines = n;
    }

    isBatch(r: number): boolean {
        return this.flags[r] > 0;
    }

    arrive(wi: number, r: number): void {
        this.queue[wi].push(r);
    }

    waiting(wi: number): number {
        return this.queue[wi].length - this.head[wi];
    }

    next(wi: number): number | undefined {
        if (this.waiting(wi) === 0) return undefined;
        const r = this.queue[wi][this.head[wi]++];
        if (this.head[wi] > 4096 && this.head[wi] * 2 > this.queue[wi].length) {
            this.queue[wi] = this.queue[wi].slice(this.head[wi]);
            this.head[wi] = 0;
        }
        return r;
    }

    /** Batch lines the worker may still take. */
    room(pod: P): number {
        return this.setup.perWorker - (this.onPod.get(pod) ?? 0);
    }

    started(pod: P): void {
        this.onPod.set(pod, (this.onPod.get(pod) ?? 0) + 1);
    }

    /** A line left its worker (answered, timed out or evicted). */
    left(pod: P): void {
        const n = (this.onPod.get(pod) ?? 1) - 1;
        if (n <= 0) this.onPod.delete(pod);
        else this.onPod.set(pod, n);
    }

    /** Evicted with its worker (spot reclaim): back to the front of the backlog, as a lease expiry would do. */
    requeue(pod: P, wi: number, r: number): void {
        this.left(pod);
        if (this.head[wi] > 0) this.queue[wi][--this.head[wi]] = r;
        else this.queue[wi].unshift(r);
    }

    answered(pod: P, wi: number, r: number, now: number, workSeconds: number): void {
        this.left(pod);
        const job = this.flags[r] - 1;
        this.jobAnswered[job]++;
        this.jobLast[job] = Number.isNaN(this.jobLast[job]) ? now : Math.max(this.jobLast[job], now);
        this.work[wi] += workSeconds;
    }

    result(): BatchResult {
        const names = this.s.input.workerPools.map((w) => w.name);
        const jobs = Array.from(this.submitted, (t, j) => ({
            pool: names[Math.max(0, this.jobPool[j])],
            submittedAt: t,
            lines: this.jobLines[j],
            answered: this.jobAnswered[j],
            makespanSeconds: this.jobAnswered[j] === this.jobLines[j] ? this.jobLast[j] - t : NaN,
        }));
        return { jobs, lines: this.lines, answered: jobs.reduce((a, j) => a + j.answered, 0), workSeconds: [...this.work] };
    }
}
