/**
 * The attribution rule: who pays for a pool's GPU time (issue 26). One rule, here only: the
 * gateway bills with it (gateway/src/billing/books.ts), the plan splits its simulated month
 * with it (capacity/bill/), and docs/billing.md states it in words. Pure: no clock, no I/O,
 * no imports beyond the meter's step type.
 *
 * Per step of a pool (PoolStep, meter.ts), in worker-seconds:
 * 1. **Busy.** A team pays the worker-seconds its requests held (a request holding one of a
 *    worker's N slots for t seconds holds t/N). If the teams' busy time adds up to more than
 *    the pool's worker time (a pool without a per-worker slot bound), it is scaled down to it:
 *    a worker-second is never paid twice.
 * 2. **Warm-up.** Idle worker time, up to one worker per running warm-up, is paid by the teams
 *    whose warm-ups run (a warm-up keeps one replica), in equal parts.
 * 3. **Other idle.** The rest of the idle time is split among the teams that used the pool in
 *    the trailing hour (this step included), by their busy worker-seconds there. Nobody in
 *    that hour: it is unattributed (the platform's, split like the floor).
 * 4. **Cold start.** From the first request or warm-up that finds the pool without a usable
 *    worker until a worker is usable, one starting worker is paid by whoever woke the pool: the
 *    warm-up's team(s) if a warm-up was running when the wait began (a team arriving during
 *    another team's warm-up pays none of it); otherwise the teams whose requests waited, by the
 *    number of their waiting requests (each counted once per step it waited). It is charged when
 *    it ends: when a worker is usable, or after `quietSeconds` in which nobody waited. A gap
 *    between steps (nothing metered: the pool at zero with nobody waiting, steps the gateway does
 *    not store) is time at zero: a running cold start goes on through it.
 * Dollars: each worker-second at the step's price (workerUsdPerSecond): the node pool's cost
 * above the platform floor, shared by the workers on it. The floor itself (control plane, NAT,
 * system nodes, GPU nodes kept at zero load) is split by splitFloor.
 */
import type { PoolStep } from "./meter";

/** What a team pays for one pool: worker-seconds by reason, and their USD. */
export interface Charge {
    busy: number;
    warmup: number;
    idle: number;
    coldStart: number;
    usd: number;
}

export interface StepBill {
    readonly start: number;
    /** Charged in this step, per team (a cold start is charged in the step it ends). */
    readonly teams: Readonly<Record<string, Charge>>;
    /** Idle time nobody used the pool around: the platform's. */
    readonly unattributed: { readonly seconds: number; readonly usd: number };
}

/** A pool's step, as the meter records it (meter.ts). */
export type StepInput = PoolStep;

function emptyCharge(): Charge {
    return { busy: 0, warmup: 0, idle: 0, coldStart: 0, usd: 0 };
}

/** Adds b into a (per team), creating entries as needed. */
export function addCharges(into: Record<string, Charge>, from: Readonly<Record<string, Charge>>): void {
    for (const [team, c] of Object.entries(from)) {
        const t = (into[team] ??= emptyCharge());
        t.busy += c.busy;
        t.warmup += c.warmup;
        t.idle += c.idle;
        t.coldStart += c.coldStart;
        t.usd += c.usd;
    }
}

/** Worker-seconds of a charge, all reasons. */
export function chargedSeconds(c: Charge): number {
    return c.busy + c.warmup + c.idle + c.coldStart;
}

export interface LedgerOptions {
    /** A cold start nobody waits for any more is charged after this long (the pool's cold-start estimate). */
    readonly quietSeconds: number;
    /** Window of "the teams that used the pool" for idle time. @default 3600 */
    readonly trailSeconds?: number;
}

interface Wake {
    /** Weights of the teams that pay it. */
    readonly causes: Record<string, number>;
    readonly byWarmup: boolean;
    seconds: number;
    usd: number;
    /** End of the last step in which someone waited (a request, or a warm-up). */
    lastDemand: number;
}

/** Splits `amount` by weights; {} when the weights sum to zero. */
function byWeight(amount: number, weights: Readonly<Record<string, number>>): Record<string, number> {
    const total = Object.values(weights).reduce((a, b) => a + b, 0);
    if (!(total > 0)) return {};
    const out: Record<string, number> = {};
    for (const [k, w] of Object.entries(weights)) if (w > 0) out[k] = amount * (w / total); // share first: amount x a subnormal weight would lose precision
    return out;
}

/** One pool's books under the rule: feed it the pool's steps in time order. */
export class PoolLedger {
    private readonly trail: Array<{ start: number; busy: Record<string, number> }> = [];
    private wake: Wake | undefined;
    private readonly trailSeconds: number;
    /** End of the last step and its price: a gap before the next step is time at zero nobody asked for. */
    private lastEnd: number | undefined;
    private lastPrice = 0;

    constructor(private readonly opts: LedgerOptions) {
        this.trailSeconds = opts.trailSeconds ?? 3600;
    }

    /** A cold start is running (charged when it ends). */
    get waking(): boolean {
        return this.wake !== undefined;
    }

    /** Charges one step; `usdPerWorkerSecond` is the step's price (workerUsdPerSecond). */
    step(s: StepInput, usdPerWorkerSecond: number): StepBill {
        const teams: Record<string, Charge> = {};
        const charge = (team: string) => (teams[team] ??= emptyCharge());
        const price = usdPerWorkerSecond;

        // A gap since the last step (nothing metered: no worker, nobody waiting): a running cold
        // start goes on through it until it has been quiet for quietSeconds.
        if (this.wake && this.lastEnd !== undefined && s.start > this.lastEnd) {
            const quietAt = this.wake.lastDemand + this.opts.quietSeconds;
            const until = Math.min(s.start, quietAt);
            if (until > this.lastEnd) {
                this.wake.seconds += until - this.lastEnd;
                this.wake.usd += (until - this.lastEnd) * this.lastPrice;
            }
            if (s.start >= quietAt) this.chargeWake(charge);
        }
        this.lastEnd = s.start + s.seconds;
        this.lastPrice = price;

        // 1. Busy, never more than the pool's worker time (unless no worker counted as usable: then as measured).
        const measured = Object.values(s.busy).reduce((a, b) => a + b, 0);
        const scale = measured > s.workerSeconds && s.workerSeconds > 0 ? s.workerSeconds / measured : 1;
        const busy: Record<string, number> = {};
        for (const [team, b] of Object.entries(s.busy)) {
            if (!(b > 0)) continue;
            busy[team] = b * scale;
            charge(team).busy += b * scale;
        }
        this.trail.push({ start: s.start, busy });
        while (this.trail.length > 0 && this.trail[0].start <= s.start - this.trailSeconds) this.trail.shift();

        // 2. Warm-ups: up to one idle worker each.
        let idle = Math.max(0, s.workerSeconds - measured * scale);
        const warm = [...new Set(s.warmups)].sort();
        if (warm.length > 0 && idle > 0) {
            const held = Math.min(idle, warm.length * s.seconds);
            for (const team of warm) charge(team).warmup += held / warm.length;
            idle -= held;
        }

        // 3. Other idle: the trailing hour's users, by busy worker-seconds.
        let unattributed = 0;
        if (idle > 0) {
            const used: Record<string, number> = {};
            for (const t of this.trail) for (const [team, b] of Object.entries(t.busy)) used[team] = (used[team] ?? 0) + b;
            const split = byWeight(idle, used);
            if (Object.keys(split).length === 0) unattributed = idle;
            for (const [team, v] of Object.entries(split)) charge(team).idle += v;
        }

        // 4. Cold start.
        const waiting = Object.values(s.heldAtZero).some((n) => n > 0);
        const end = s.start + s.seconds;
        if (s.zeroSeconds > 0) {
            if (this.wake === undefined && (waiting || warm.length > 0)) {
                const byWarmup = warm.length > 0;
                this.wake = { causes: byWarmup ? Object.fromEntries(warm.map((t) => [t, 1])) : {}, byWarmup, seconds: 0, usd: 0, lastDemand: end };
            }
            if (this.wake) {
                this.wake.seconds += s.zeroSeconds;
                this.wake.usd += s.zeroSeconds * price;
            }
        }
        if (this.wake) {
            if (!this.wake.byWarmup)
                for (const [team, n] of Object.entries(s.heldAtZero)) if (n > 0) this.wake.causes[team] = (this.wake.causes[team] ?? 0) + n;
            if (waiting || warm.length > 0) this.wake.lastDemand = end;
            const up = s.workerSeconds > 0 && !s.zeroAtEnd;
            if (up || end - this.wake.lastDemand >= this.opts.quietSeconds) this.chargeWake(charge);
        }

        for (const c of Object.values(teams)) c.usd += (c.busy + c.warmup + c.idle) * price;
        return { start: s.start, teams, unattributed: { seconds: unattributed, usd: unattributed * price } };
    }

    /** Ends the running cold start: its waiters pay it. */
    private chargeWake(charge: (team: string) => Charge): void {
        const w = this.wake!;
        this.wake = undefined;
        const seconds = byWeight(w.seconds, w.causes);
        const usd = byWeight(w.usd, w.causes);
        for (const team of Object.keys(seconds)) {
            charge(team).coldStart += seconds[team];
            charge(team).usd += usd[team];
        }
    }
}

/** A GPU node group's price, as the bill reads it. */
export interface NodePoolRates {
    /** USD/hour of one node (spot-discounted when spot). */
    readonly nodeUsdPerHour: number;
    readonly gpusPerNode: number;
    /** The node group's minimum size. */
    readonly minNodes: number;
    /** Its nodes in the platform floor: minNodes, or more when the pools' minReplicas need more (capacity/cost.ts floorNodes). */
    readonly floorNodes: number;
}

/**
 * Nodes `workers` one-GPU workers keep up on the node group: ceil(workers / GPUs per node),
 * at least its minimum. A fractional count (a step's average) interpolates between the two
 * whole counts around it, so a worker up half a step on an empty group costs half a node-step.
 */
export function nodesFor(r: NodePoolRates, workers: number): number {
    const g = Math.max(1, r.gpusPerNode);
    const lo = Math.floor(workers);
    const nodes = Math.ceil(lo / g) + (workers - lo) * (Math.ceil((lo + 1) / g) - Math.ceil(lo / g));
    return Math.max(r.minNodes, nodes);
}

/**
 * USD per second of one worker when `workers` workers run on the node group: the cost of the
 * nodes they keep up beyond the floor's, shared equally. Workers on floor nodes cost nothing
 * here (the floor pays them). With no worker running (a cold start on an empty group) the
 * price is one worker's: the node it brings up.
 */
export function workerUsdPerSecond(r: NodePoolRates, workers: number): number {
    const w = workers > 0 ? workers : 1;
    const above = Math.max(0, nodesFor(r, w) - r.floorNodes);
    return (above * r.nodeUsdPerHour) / 3600 / w;
}

/** A pool as billStep prices it: the node group its workers run on, and the group's rates (none: $0). */
export interface PricedPool {
    readonly nodePool: string;
    readonly rates: NodePoolRates | undefined;
}

/**
 * Bills one step of every pool that has one: each node group's price from the average workers
 * of all its pools in the step (workerUsdPerSecond), then each pool's ledger. The gateway's
 * books and the plan's bill (capacity/bill/) both bill through this.
 */
export function billStep(
    steps: ReadonlyMap<string, StepInput>,
    pools: ReadonlyMap<string, PricedPool>,
    ledgers: ReadonlyMap<string, PoolLedger>,
): Map<string, StepBill> {
    const workers = new Map<string, number>();
    for (const [name, st] of steps) {
        const p = pools.get(name);
        if (p && st.seconds > 0) workers.set(p.nodePool, (workers.get(p.nodePool) ?? 0) + st.workerSeconds / st.seconds);
    }
    const out = new Map<string, StepBill>();
    for (const [name, st] of steps) {
        const p = pools.get(name);
        const ledger = ledgers.get(name);
        if (!p || !ledger) continue;
        const price = p.rates ? workerUsdPerSecond(p.rates, workers.get(p.nodePool) ?? 0) : 0;
        out.set(name, ledger.step(st, price));
    }
    return out;
}

/** How the platform floor is shared: in equal parts, or by each team's GPU spend. */
export type FloorSplit = "equal" | "usage";

/**
 * Each team's part of `usd` of floor. "equal": the same for every team listed; "usage": in
 * proportion to the GPU USD each listed team spent (equal while nobody spent any).
 */
export function splitFloor(usd: number, split: FloorSplit, teams: readonly string[], gpuUsd: Readonly<Record<string, number>>): Record<string, number> {
    const listed = [...new Set(teams)].sort();
    if (listed.length === 0) return {};
    if (split === "usage") {
        const shares = byWeight(usd, Object.fromEntries(listed.map((t) => [t, gpuUsd[t] ?? 0])));
        if (Object.keys(shares).length > 0) return Object.fromEntries(listed.map((t) => [t, shares[t] ?? 0]));
    }
    return Object.fromEntries(listed.map((t) => [t, usd / listed.length]));
}
