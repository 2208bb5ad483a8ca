/**
 * The bill of a simulated span: the simulated gateway's metered minutes (SimResult.steps,
 * capacity/sim/teamMeter.ts) through the gateway's own attribution rule (billStep, PoolLedger:
 * gateway/src/billing/rule.ts). What each team would see in GET /v1/usage for that span, and
 * beside it what the simulated nodes really cost, so the difference (node boot before a worker
 * is routable, workers starting beside running ones, the autoscaler's scale-down delay, floor
 * nodes) can be given to the platform instead of vanishing.
 */
import { addCharges, billStep, Charge, PoolLedger, PricedPool, StepInput } from "../../gateway/src/billing/rule";
import type { SimInput, SimResult } from "../sim/types";

export interface SimulatedBill {
    /** Per team, per worker pool: what the rule charges (worker-seconds by reason, USD). */
    readonly teams: Readonly<Record<string, Readonly<Record<string, Charge>>>>;
    /** Per worker pool: idle time nobody used the pool around (worker-seconds, USD). */
    readonly unattributed: Readonly<Record<string, { readonly seconds: number; readonly usd: number }>>;
    /** USD of every team's charges. */
    readonly attributedUsd: number;
    /** USD the simulated GPU nodes cost (SimResult.usd). */
    readonly nodeUsd: number;
}

/** GPU nodes a group keeps at zero load: its minimum, or what its pools' min replicas need (capacity/cost.ts floorNodes). */
function floorNodesOf(input: SimInput, gpuPool: number): number {
    const g = input.gpuPools[gpuPool];
    const minReplicas = input.workerPools.filter((w) => w.gpuPool === gpuPool).reduce((n, w) => n + w.policy.minReplicas, 0);
    return Math.max(g.minNodes, Math.ceil(minReplicas / Math.max(1, g.gpusPerNode)));
}

/**
 * Bills a run made with SimInput.teams. `quietSeconds`: per worker pool, how long a cold start
 * nobody waits for is kept open (the gateway's coldStartSecondsEstimate). @default 600
 */
export function billSimulation(input: SimInput, result: SimResult, quietSeconds: (pool: string) => number = () => 600): SimulatedBill {
    if (!result.steps) throw new Error("billSimulation: the run was made without SimInput.teams (no metered steps)");
    const names = input.workerPools.map((w) => w.name);
    const priced = new Map<string, PricedPool>(
        input.workerPools.map((w) => {
            const g = input.gpuPools[w.gpuPool];
            return [
                w.name,
                {
                    nodePool: g.name,
                    rates: { nodeUsdPerHour: g.usdPerHour, gpusPerNode: g.gpusPerNode, minNodes: g.minNodes, floorNodes: floorNodesOf(input, w.gpuPool) },
                },
            ];
        }),
    );
    const ledgers = new Map(names.map((n) => [n, new PoolLedger({ quietSeconds: quietSeconds(n) })]));
    const byStart = new Map<number, Map<string, StepInput>>();
    result.steps.forEach((steps, i) => {
        for (const st of steps) {
            let m = byStart.get(st.start);
            if (m === undefined) byStart.set(st.start, (m = new Map<string, StepInput>()));
            m.set(names[i], st);
        }
    });
    const teams: Record<string, Record<string, Charge>> = {};
    const unattributed: Record<string, { seconds: number; usd: number }> = Object.fromEntries(names.map((n) => [n, { seconds: 0, usd: 0 }]));
    for (const start of [...byStart.keys()].sort((a, b) => a - b)) {
        for (const [pool, bill] of billStep(byStart.get(start)!, priced, ledgers)) {
            for (const [team, c] of Object.entries(bill.teams)) addCharges((teams[team] ??= {}), { [pool]: c });
            unattributed[pool].seconds += bill.unattributed.seconds;
            unattributed[pool].usd += bill.unattributed.usd;
        }
    }
    const attributedUsd = Object.values(teams).reduce((s, byPool) => s + Object.values(byPool).reduce((t, c) => t + c.usd, 0), 0);
    return { teams, unattributed, attributedUsd, nodeUsd: result.usd };
}
