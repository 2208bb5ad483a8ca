/**
 * The teams' month on one platform (issue 26 point 4): each team pays its own GPU pools whole,
 * its share of the pools it shares with other teams by the gateway's attribution rule (the
 * joint simulation of those pools, billed by simulatedBill.ts), and its share of the floor. The
 * floor here is the platform's floor plus what the shared pools' nodes cost beyond what the rule
 * attributes (node boot before a worker is routable, the autoscaler's scale-down delay, idle
 * time nobody used): the platform's, split like the floor, so the teams' bills add up to the
 * platform's whole cost, exactly.
 */
import { splitFloor, type FloorSplit } from "../../gateway/src/billing/rule";
import { HOURS_PER_MONTH } from "../../stacks/catalog/instances";
import { OUTCOME, type SimInput, type SimResult } from "../sim/types";
import { quantileSorted, sortedCopy } from "../sim/stats";
import { billSimulation } from "./simulatedBill";

/** A team's own pools, simulated alone (they are its own). */
export interface OwnPools {
    readonly team: string;
    /** USD per month of the team's own GPU pools (0 when it has none). */
    readonly gpuUsdPerMonth: number;
    /** Latencies (seconds) of its answered interactive requests on them, over the span. */
    readonly latencies: readonly number[];
}

/** The shared pools, simulated with every team's traffic on them (jointTrace.ts). */
export interface SharedRun {
    readonly input: SimInput;
    readonly result: SimResult;
    /** Per worker pool, the gateway's coldStartSecondsEstimate (the rule's quiet time). @default 600 */
    readonly quietSeconds?: (pool: string) => number;
}

export interface TeamMonth {
    readonly usdPerMonth: number;
    /** Own pools + its share of the shared pools. */
    readonly gpuUsdPerMonth: number;
    readonly ownGpuUsdPerMonth: number;
    readonly sharedPoolsUsdPerMonth: number;
    readonly floorShareUsdPerMonth: number;
    readonly p95LatencySeconds: number | null;
    readonly p99LatencySeconds: number | null;
}

/** A team's month on its platform, as a team plan's cost.json `bill` holds it and the PR comment reads it. */
export interface PlannedBill {
    readonly team: string;
    readonly platform: string;
    readonly usdPerMonth: number;
    /** Its own pools' GPU time and its weights bucket. */
    readonly ownGpuUsdPerMonth: number;
    readonly sharedPoolsUsdPerMonth: number;
    readonly floorShareUsdPerMonth: number;
    /** The floor all the platform's teams share. */
    readonly floorUsdPerMonth: number;
    readonly floorSplit: "equal" | "usage";
    /** The platform's registered teams. */
    readonly teams: readonly string[];
    readonly days: number;
    readonly notes: readonly string[];
}

export interface SharedMonth {
    readonly totalUsdPerMonth: number;
    /** The platform's floor plus the shared pools' unattributed cost: what the floor shares add up to. */
    readonly floorUsdPerMonth: number;
    readonly platformFloorUsdPerMonth: number;
    readonly sharedPools: { readonly nodeUsdPerMonth: number; readonly attributedUsdPerMonth: number; readonly unattributedUsdPerMonth: number };
    readonly teams: Readonly<Record<string, TeamMonth>>;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const cents = (n: number) => Math.round(n * 100);

/** Whole cents per key that add up to round(total) cents (largest remainder), so printed parts sum to the printed total. */
export function centsSummingTo(values: Readonly<Record<string, number>>): Record<string, number> {
    const keys = Object.keys(values);
    const exact = keys.map((k) => values[k] * 100);
    const floors = exact.map(Math.floor);
    let left = Math.round(exact.reduce((a, b) => a + b, 0)) - floors.reduce((a, b) => a + b, 0);
    const order = keys.map((_, i) => i).sort((a, b) => exact[b] - floors[b] - (exact[a] - floors[a]) || a - b);
    for (const i of order) {
        if (left <= 0) break;
        floors[i]++;
        left--;
    }
    return Object.fromEntries(keys.map((k, i) => [k, floors[i]]));
}

function percentiles(latencies: readonly number[]): { p95: number | null; p99: number | null } {
    if (latencies.length === 0) return { p95: null, p99: null };
    const s = sortedCopy(latencies);
    return { p95: Math.round(quantileSorted(s, 0.95) * 100) / 100, p99: Math.round(quantileSorted(s, 0.99) * 100) / 100 };
}

/** Latencies of each team's answered interactive requests in the joint run. */
function sharedLatencies(run: SharedRun): Map<string, number[]> {
    const out = new Map<string, number[]>();
    const { input, result } = run;
    const teams = input.teams!;
    for (let r = 0; r < input.trace.times.length; r++) {
        if (result.outcome[r] !== OUTCOME.answered) continue;
        const team = teams.names[teams.ofRequest[r]];
        let l = out.get(team);
        if (l === undefined) out.set(team, (l = []));
        l.push(result.completion[r] - input.trace.times[r]);
    }
    return out;
}

/**
 * The month of every team registered on the platform. `teams`: the registered teams (who share
 * the floor, in this order); `own`: their own pools; `shared`: the joint run of the shared pools.
 */
export function sharedMonth(args: {
    readonly platformFloorUsdPerMonth: number;
    readonly floorSplit: FloorSplit;
    readonly teams: readonly string[];
    readonly own: readonly OwnPools[];
    readonly shared?: SharedRun;
}): SharedMonth {
    const { teams } = args;
    for (const o of args.own) if (!teams.includes(o.team)) throw new Error(`sharedMonth: '${o.team}' is not registered on the platform (${teams.join(", ")})`);
    let sharedUsd: Record<string, number> = {};
    let shared = { nodeUsdPerMonth: 0, attributedUsdPerMonth: 0, unattributedUsdPerMonth: 0 };
    let latencies = new Map<string, number[]>();
    if (args.shared) {
        const perMonth = (HOURS_PER_MONTH * 3600) / args.shared.input.trace.horizonSeconds;
        const bill = billSimulation(args.shared.input, args.shared.result, args.shared.quietSeconds);
        sharedUsd = Object.fromEntries(Object.entries(bill.teams).map(([t, byPool]) => [t, Object.values(byPool).reduce((s, c) => s + c.usd, 0) * perMonth]));
        for (const t of Object.keys(sharedUsd))
            if (!teams.includes(t)) throw new Error(`sharedMonth: the shared pools' traffic names '${t}', not registered on the platform`);
        const node = bill.nodeUsd * perMonth;
        const attributed = bill.attributedUsd * perMonth;
        shared = { nodeUsdPerMonth: node, attributedUsdPerMonth: attributed, unattributedUsdPerMonth: node - attributed };
        latencies = sharedLatencies(args.shared);
    }
    const floor = args.platformFloorUsdPerMonth + shared.unattributedUsdPerMonth;
    const own = new Map(args.own.map((o) => [o.team, o]));
    const gpu = Object.fromEntries(teams.map((t) => [t, (own.get(t)?.gpuUsdPerMonth ?? 0) + (sharedUsd[t] ?? 0)]));
    // In whole cents, so every printed part adds up: own + shared = GPU, GPU + floor share = the team, the teams = the total.
    const floorCents = centsSummingTo(splitFloor(floor, args.floorSplit, teams, gpu));
    const out: Record<string, TeamMonth> = {};
    let totalCents = 0;
    let floorTotalCents = 0;
    for (const t of teams) {
        const { p95, p99 } = percentiles([...(own.get(t)?.latencies ?? []), ...(latencies.get(t) ?? [])]);
        const ownC = cents(own.get(t)?.gpuUsdPerMonth ?? 0);
        const sharedC = cents(sharedUsd[t] ?? 0);
        const floorC = floorCents[t] ?? 0;
        totalCents += ownC + sharedC + floorC;
        floorTotalCents += floorC;
        out[t] = {
            usdPerMonth: (ownC + sharedC + floorC) / 100,
            gpuUsdPerMonth: (ownC + sharedC) / 100,
            ownGpuUsdPerMonth: ownC / 100,
            sharedPoolsUsdPerMonth: sharedC / 100,
            floorShareUsdPerMonth: floorC / 100,
            p95LatencySeconds: p95,
            p99LatencySeconds: p99,
        };
    }
    return {
        totalUsdPerMonth: totalCents / 100,
        floorUsdPerMonth: floorTotalCents / 100,
        platformFloorUsdPerMonth: round2(args.platformFloorUsdPerMonth),
        // The difference of the rounded parts, so the three printed figures add up (each rounded on its own could be a cent off).
        sharedPools: {
            nodeUsdPerMonth: round2(shared.nodeUsdPerMonth),
            attributedUsdPerMonth: round2(shared.attributedUsdPerMonth),
            unattributedUsdPerMonth: round2(round2(shared.nodeUsdPerMonth) - round2(shared.attributedUsdPerMonth)),
        },
        teams: out,
    };
}
