/**
 * What one worker pool did, step by step (a minute in production), as the attribution rule
 * (rule.ts) reads it: worker time, the worker slots each team's requests held, the requests
 * that waited while the pool had no worker, and who had a warm-up running.
 *
 * Pure and shared: the gateway drives it from its pool (real time, gateway/src/pool.ts) and
 * the capacity simulator from its simulated gateway (capacity/bill/), so the plan's bill and
 * the measured one come from the same code (issue 26 point 5). No clock, no I/O, no imports:
 * every call passes the time in seconds (Unix time in the gateway, simulated seconds in the
 * simulator).
 */

/** One pool over one step: the input of the attribution rule (rule.ts PoolLedger.step). */
export interface PoolStep {
    /** Start of the step (a multiple of the step length), seconds. */
    readonly start: number;
    /** Seconds of the step this meter observed: the step length, or less for a meter started mid-step. */
    readonly seconds: number;
    /** Worker-seconds of workers the gateway could use (ready upstreams). */
    readonly workerSeconds: number;
    /** Seconds of the step in which the pool had no usable worker. */
    readonly zeroSeconds: number;
    /** The pool had no usable worker when the step ended. */
    readonly zeroAtEnd: boolean;
    /**
     * Worker-seconds each team's requests held: the seconds each held a worker slot, divided by
     * the slots of a worker (vLLM --max-num-seqs, the gateway's maxConcurrentPerUpstream), so a
     * request holding one of 8 slots for 8 s is 1 worker-second whatever else runs beside it.
     */
    readonly busy: Readonly<Record<string, number>>;
    /** Per team, the requests that waited in the gateway while the pool had no usable worker (each once per step). */
    readonly heldAtZero: Readonly<Record<string, number>>;
    /** Teams with a warm-up (POST /v1/warmup) on the pool for some time in the step, sorted. */
    readonly warmups: readonly string[];
}

interface Open {
    start: number;
    seconds: number;
    workerSeconds: number;
    zeroSeconds: number;
    busy: Record<string, number>;
    heldAtZero: Record<string, number>;
    warmups: Set<string>;
}

const add = (m: Record<string, number>, k: string, v: number) => (m[k] = (m[k] ?? 0) + v);

/** Integrates one pool's state between events into fixed steps. */
export class PoolMeter {
    private workers = 0;
    /** Worker slots held now, per team. */
    private readonly holding = new Map<string, number>();
    /** Requests waiting in the gateway now, per team. */
    private readonly queued = new Map<string, number>();
    private warm: readonly string[] = [];
    private t: number;
    private open: Open;
    private readonly done: PoolStep[] = [];

    /**
     * @param slotsPerWorker requests one worker takes at once (maxConcurrentPerUpstream); 1 when unbounded
     * @param stepSeconds step length; 60 in production
     * @param now when the meter starts, seconds
     */
    constructor(
        private readonly slotsPerWorker: number,
        private readonly stepSeconds: number,
        now: number,
    ) {
        if (!(slotsPerWorker > 0) || !(stepSeconds > 0))
            throw new Error(`PoolMeter: slotsPerWorker (${slotsPerWorker}) and stepSeconds (${stepSeconds}) must be > 0`);
        this.t = now;
        this.open = this.newStep(now);
    }

    /** Usable workers changed (an upstream became ready, was ejected or removed). */
    setWorkers(n: number, now: number): void {
        this.advance(now);
        if (this.workers > 0 && n === 0) for (const [team, c] of this.queued) add(this.open.heldAtZero, team, c);
        this.workers = n;
    }

    /** A request (or batch line) of `team` took a worker slot. */
    take(team: string, now: number): void {
        this.advance(now);
        this.holding.set(team, (this.holding.get(team) ?? 0) + 1);
    }

    /** It gave the slot back. */
    release(team: string, now: number): void {
        this.advance(now);
        const n = (this.holding.get(team) ?? 0) - 1;
        if (n > 0) this.holding.set(team, n);
        else this.holding.delete(team);
    }

    /** A request of `team` started waiting in the gateway's queue. */
    enqueue(team: string, now: number): void {
        this.advance(now);
        this.queued.set(team, (this.queued.get(team) ?? 0) + 1);
        if (this.workers === 0) add(this.open.heldAtZero, team, 1);
    }

    /** It left the queue (sent to a worker, timed out, or its client went away). */
    dequeue(team: string, now: number): void {
        this.advance(now);
        const n = (this.queued.get(team) ?? 0) - 1;
        if (n > 0) this.queued.set(team, n);
        else this.queued.delete(team);
    }

    /** Teams with an active warm-up on the pool from now on. */
    setWarmups(teams: readonly string[], now: number): void {
        this.advance(now);
        this.warm = [...new Set(teams)].sort();
    }

    /**
     * Steps that ended by `now`, oldest first (each returned once). `last`: also the step still
     * open, as observed so far (a gateway shutting down); the meter is not used after that.
     */
    flush(now: number, last = false): PoolStep[] {
        this.advance(now);
        if (last && this.open.seconds > 0) this.done.push(this.close(this.open));
        return this.done.splice(0);
    }

    private close(o: Open): PoolStep {
        return {
            start: o.start,
            seconds: o.seconds,
            workerSeconds: o.workerSeconds,
            zeroSeconds: o.zeroSeconds,
            zeroAtEnd: this.workers === 0,
            busy: o.busy,
            heldAtZero: o.heldAtZero,
            warmups: [...o.warmups].sort(),
        };
    }

    private newStep(at: number): Open {
        const start = Math.floor(at / this.stepSeconds) * this.stepSeconds;
        const heldAtZero: Record<string, number> = {};
        if (this.workers === 0) for (const [team, c] of this.queued) heldAtZero[team] = c;
        return { start, seconds: 0, workerSeconds: 0, zeroSeconds: 0, busy: {}, heldAtZero, warmups: new Set() };
    }

    private advance(now: number): void {
        while (now > this.t) {
            const o = this.open;
            const end = o.start + this.stepSeconds;
            const to = Math.min(now, end);
            const dt = to - this.t;
            o.seconds += dt;
            o.workerSeconds += this.workers * dt;
            if (this.workers === 0) o.zeroSeconds += dt;
            for (const [team, n] of this.holding) add(o.busy, team, (n * dt) / this.slotsPerWorker);
            for (const team of this.warm) o.warmups.add(team);
            this.t = to;
            if (to < end) return;
            this.done.push(this.close(o));
            this.open = this.newStep(end);
        }
    }
}
