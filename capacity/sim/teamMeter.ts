/**
 * The simulated gateway's per-team meters: the gateway's own PoolMeter (gateway/src/billing/
 * meter.ts), driven by the simulator's events instead of real ones, so the plan's bill and the
 * gateway's come from the same code. On only when the input names the teams (SimInput.teams).
 *
 * The simulated gateway calls take/release when a request gets or gives back a worker slot,
 * enqueue/dequeue when it is held or leaves the hold queue, and the cluster calls workers when
 * a pool's routable workers change. Warm-ups are known ahead (SimInput.warmups): their starts
 * and ends are applied as time passes.
 */
import { PoolMeter, PoolStep } from "../../gateway/src/billing/meter";
import type { SimInput } from "./types";

/** Metering step: a minute, as the gateway bills. */
const BILL_STEP_SECONDS = 60;

export class TeamMeters {
    private readonly meters: PoolMeter[];
    private readonly names: readonly string[];
    private readonly ofRequest: Uint16Array;
    /** Warm-up starts and ends, by time: the teams warming each pool from then on. */
    private readonly warmEvents: Array<{ t: number; pool: number; teams: string[] }>;
    private nextWarm = 0;

    constructor(input: SimInput & { readonly teams: NonNullable<SimInput["teams"]> }) {
        this.names = input.teams.names;
        this.ofRequest = input.teams.ofRequest;
        this.meters = input.workerPools.map((w) => new PoolMeter(Math.max(1, w.maxConcurrentPerWorker), BILL_STEP_SECONDS, 0));
        const warmups = input.warmups ?? [];
        const times = [...new Set(warmups.flatMap((w) => [w.from, w.until]))].sort((a, b) => a - b);
        this.warmEvents = [];
        for (const t of times) {
            for (let pool = 0; pool < input.workerPools.length; pool++) {
                const teams = warmups.filter((w) => w.pool === pool && w.from <= t && t < w.until).map((w) => this.names[w.team ?? 0] ?? this.names[0]);
                this.warmEvents.push({ t, pool, teams });
            }
        }
    }

    private teamOf(r: number): string {
        return this.names[this.ofRequest[r]] ?? this.names[0];
    }

    /** Applies the warm-up changes due by t. */
    private at(t: number): number {
        while (this.nextWarm < this.warmEvents.length && this.warmEvents[this.nextWarm].t <= t) {
            const e = this.warmEvents[this.nextWarm++];
            this.meters[e.pool].setWarmups(e.teams, e.t);
        }
        return t;
    }

    take(pool: number, r: number, t: number): void {
        this.meters[pool].take(this.teamOf(r), this.at(t));
    }

    release(pool: number, r: number, t: number): void {
        this.meters[pool].release(this.teamOf(r), this.at(t));
    }

    enqueue(pool: number, r: number, t: number): void {
        this.meters[pool].enqueue(this.teamOf(r), this.at(t));
    }

    dequeue(pool: number, r: number, t: number): void {
        this.meters[pool].dequeue(this.teamOf(r), this.at(t));
    }

    workers(pool: number, n: number, t: number): void {
        this.meters[pool].setWorkers(n, this.at(t));
    }

    /** Every pool's steps up to `end` (the last one partial). */
    steps(end: number): PoolStep[][] {
        this.at(end);
        return this.meters.map((m) => m.flush(end, true));
    }
}
