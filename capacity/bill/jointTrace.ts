/**
 * Several teams' traffic on the pools they share, as one simulation: each team's requests to a
 * shared pool (from its own stack's traffic profile) merged in time order, labelled with the
 * team (SimInput.teams), with its warm-ups. The shared pools' setup (scale policy, GPU node
 * group, gateway bounds) is the platform's.
 *
 * Batch lines are interactive-only here: a team's batch jobs on a shared pool are not merged
 * (they run on spare capacity and are billed as busy time like any request; `skippedBatchLines`
 * says how many were left out so the caller can say so).
 */
import type { BatchTrace } from "../traffic/batch";
import type { Trace } from "../traffic/trace";
import type { SimInput, Warmup } from "../sim/types";

export interface TeamPart {
    readonly team: string;
    /** The team's own simulation input (its stack's traffic on its models). */
    readonly input: SimInput;
    /** Worker pool index in `input` -> index in the joint setup; requests of other pools are not taken. */
    readonly poolMap: ReadonlyMap<number, number>;
}

export interface JointInput {
    readonly input: SimInput;
    readonly skippedBatchLines: number;
}

interface Row {
    t: number;
    kind: number;
    pool: number;
    z: number;
    team: number;
}

function rows(trace: Trace, part: TeamPart, team: number, history: boolean): { rows: Row[]; skipped: number } {
    const out: Row[] = [];
    let skipped = 0;
    const flags = (trace as BatchTrace).batch;
    if (history) {
        const h = trace.history;
        if (h)
            for (let i = 0; i < h.times.length; i++) {
                const p = part.poolMap.get(h.pools[i]);
                if (p !== undefined) out.push({ t: h.times[i], kind: 0, pool: p, z: 0, team });
            }
        return { rows: out, skipped };
    }
    for (let i = 0; i < trace.times.length; i++) {
        const p = part.poolMap.get(trace.pools[i]);
        if (p === undefined) continue;
        if (flags && flags[i] > 0) {
            skipped++;
            continue;
        }
        out.push({ t: trace.times[i], kind: trace.kinds[i], pool: p, z: trace.z[i], team });
    }
    return { rows: out, skipped };
}

/**
 * The joint input: `base` gives the shared pools' setup (workerPools, gpuPools, gateway, params,
 * seed); the trace, warm-ups and teams come from the parts. Every part must cover the same span.
 */
export function jointInput(base: Omit<SimInput, "trace" | "warmups" | "teams" | "batch">, parts: readonly TeamPart[]): JointInput {
    if (parts.length === 0) throw new Error("jointInput: no team uses the shared pools");
    const span = parts[0].input.trace;
    for (const p of parts) {
        if (p.input.trace.horizonSeconds !== span.horizonSeconds || p.input.trace.startWeekday !== span.startWeekday) {
            throw new Error(
                `jointInput: team '${p.team}' simulated a different span (${p.input.trace.horizonSeconds} s from weekday ${p.input.trace.startWeekday}) than '${parts[0].team}'`,
            );
        }
    }
    const all: Row[] = [];
    const past: Row[] = [];
    let skipped = 0;
    parts.forEach((part, team) => {
        const now = rows(part.input.trace, part, team, false);
        all.push(...now.rows);
        skipped += now.skipped;
        past.push(...rows(part.input.trace, part, team, true).rows);
    });
    // Stable: equal times keep the parts' order.
    all.sort((a, b) => a.t - b.t);
    past.sort((a, b) => a.t - b.t);
    const trace: Trace = {
        profile: `shared (${parts.map((p) => p.team).join(", ")})`,
        seed: span.seed,
        horizonSeconds: span.horizonSeconds,
        startWeekday: span.startWeekday,
        times: Float64Array.from(all, (r) => r.t),
        kinds: Uint8Array.from(all, (r) => r.kind),
        pools: Uint16Array.from(all, (r) => r.pool),
        z: Float64Array.from(all, (r) => r.z),
        ...(past.length > 0
            ? {
                  history: {
                      times: Float64Array.from(past, (r) => r.t),
                      pools: Uint16Array.from(past, (r) => r.pool),
                      seconds: Math.max(...parts.map((p) => p.input.trace.history?.seconds ?? 0)),
                  },
              }
            : {}),
    };
    const warmups: Warmup[] = parts.flatMap((part, team) =>
        (part.input.warmups ?? []).flatMap((w) => {
            const pool = part.poolMap.get(w.pool);
            return pool === undefined ? [] : [{ ...w, pool, team }];
        }),
    );
    return {
        input: { ...base, trace, warmups, teams: { names: parts.map((p) => p.team), ofRequest: Uint16Array.from(all, (r) => r.team) } },
        skippedBatchLines: skipped,
    };
}
