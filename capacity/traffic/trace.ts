/**
 * An arrival trace: what the simulator replays. Arrays (not objects per request) keep a
 * month of prod traffic small and fast. Every request carries its own standard-normal
 * draw for its service time, so every policy and the oracle serve the same work.
 */
import { Rng } from "../sim/rng";
import { dateOfDay, dayOfDate } from "../../stacks/calendar/zones";

export const KIND_IMAGE = 0;
export const KIND_TEXT = 1;

export interface Trace {
    /** Profile name, for reports. */
    readonly profile: string;
    readonly seed: number;
    /** Simulated span in seconds, from local midnight of day 0. */
    readonly horizonSeconds: number;
    /** Cron weekday of day 0 (0 = Sunday). Built-in profiles start on a Monday. */
    readonly startWeekday: number;
    /** Date of day 0 ("YYYY-MM-DD") when the trace follows a calendar; undefined for weekly profiles. */
    readonly startDate?: string;
    /** Arrival times, seconds, ascending. */
    readonly times: Float64Array;
    /** KIND_IMAGE (image + question) or KIND_TEXT (text only). */
    readonly kinds: Uint8Array;
    /** Index of the worker pool (the stack's models[] entry) the request goes to. */
    readonly pools: Uint16Array;
    /** Standard normal draw of the request's service time. */
    readonly z: Float64Array;
    /**
     * Arrivals before the simulated span (negative seconds, ascending) and their worker
     * pools: what Prometheus remembers of last week, read by the predictive warm-up. Not
     * simulated, not reported.
     */
    readonly history?: { readonly times: Float64Array; readonly pools: Uint16Array; /** Length of the history before time 0. */ readonly seconds: number };
}

/** Splits a trace generated from `historySeconds` before the span into history (shifted negative) and the span. */
export function splitHistory(trace: Trace, historySeconds: number): Trace {
    if (historySeconds <= 0) return trace;
    let k = 0;
    while (k < trace.times.length && trace.times[k] < historySeconds) k++;
    const shift = (a: Float64Array) => a.map((t) => t - historySeconds);
    return {
        ...trace,
        horizonSeconds: trace.horizonSeconds - historySeconds,
        startWeekday: (trace.startWeekday + Math.round(historySeconds / 86400)) % 7,
        startDate: trace.startDate === undefined ? undefined : dateOfDay(dayOfDate(trace.startDate) + Math.round(historySeconds / 86400)),
        times: shift(trace.times.slice(k)),
        kinds: trace.kinds.slice(k),
        pools: trace.pools.slice(k),
        z: trace.z.slice(k),
        history: { times: shift(trace.times.slice(0, k)), pools: trace.pools.slice(0, k), seconds: historySeconds },
    };
}

/** Worker pools as the traffic layer sees them. */
export interface TrafficTarget {
    readonly name: string;
    readonly id: string;
}

/**
 * Completes a list of arrival times into a trace: request kind from `imageShare`, worker
 * pool from `shares`, service draw. Kinds or pools given per request (CSV) are kept.
 */
export function finishTrace(args: {
    profile: string;
    seed: number;
    horizonSeconds: number;
    startWeekday: number;
    startDate?: string;
    times: Float64Array;
    imageShare: number;
    shares: readonly number[];
    kinds?: Uint8Array;
    pools?: Uint16Array;
}): Trace {
    const n = args.times.length;
    const mix = new Rng(args.seed, "traffic:mix");
    const route = new Rng(args.seed, "traffic:route");
    const service = new Rng(args.seed, "traffic:service");
    const total = args.shares.reduce((a, b) => a + b, 0);
    const cumulative: number[] = [];
    let sum = 0;
    for (const w of args.shares) cumulative.push((sum += w / total));
    let lastPositive = 0;
    args.shares.forEach((w, i) => {
        if (w > 0) lastPositive = i;
    });
    const kinds = args.kinds ?? new Uint8Array(n);
    const pools = args.pools ?? new Uint16Array(n);
    const z = new Float64Array(n);
    for (let i = 0; i < n; i++) {
        // Draw every stream for every request, used or not, so a trace's draws do not shift.
        const k = mix.next();
        const r = route.next();
        z[i] = service.normal();
        if (!args.kinds) kinds[i] = k < args.imageShare ? KIND_IMAGE : KIND_TEXT;
        if (!args.pools) {
            let p = 0;
            while (p < lastPositive && (r >= cumulative[p] || args.shares[p] === 0)) p++;
            pools[i] = p;
        }
    }
    return {
        profile: args.profile,
        seed: args.seed,
        horizonSeconds: args.horizonSeconds,
        startWeekday: args.startWeekday,
        ...(args.startDate !== undefined ? { startDate: args.startDate } : {}),
        times: args.times,
        kinds,
        pools,
        z,
    };
}

/** Number of requests per worker pool. */
export function countByPool(trace: Trace, poolCount: number): number[] {
    const counts = new Array<number>(poolCount).fill(0);
    for (let i = 0; i < trace.pools.length; i++) counts[trace.pools[i]]++;
    return counts;
}
