/**
 * The gateway's default hold bound (serving.gateway.maxWaitSeconds, and through it the ALB
 * idle timeout and the gateway's drain time): the pessimistic cold start (stacks/model/coldStartPhases.ts,
 * every phase at its slow figure, the team's measured phases where given) of the stack's slowest
 * worker pool plus margin, instead of a flat 1200 s. A request held longer than that is waiting
 * for something that is not coming (a failed node, no capacity), and the user is better served
 * by a 503 with Retry-After.
 */
import type { ResolvedGpuPool, ResolvedModel, StackConfig } from "../resolved";
import { mechanismsFor, weightsSecondsPerGiB, worstColdStartSeconds } from "./coldStartPhases";
import { DEFAULT_SIM_PARAMS, SimParams } from "./params";

/** Worst case x 1.25 + 60 s, rounded up to 30 s: room for a slow EC2 launch or a retried pull. */
const HOLD_MARGIN = { factor: 1.25, seconds: 60 } as const;

type HoldInput = Pick<StackConfig, "coldStart"> & { readonly gpuPools: readonly ResolvedGpuPool[]; readonly models: readonly ResolvedModel[] };

export function holdBoundSeconds(cfg: HoldInput, p: SimParams = DEFAULT_SIM_PARAMS): number {
    let worst = 0;
    for (const m of cfg.models) {
        const pool = cfg.gpuPools.find((g) => g.name === m.pool);
        if (!pool) continue;
        // The slowest weights copy and read among the pool's instance types (pessimistic: no burst credits left).
        const slow = (t: string) => weightsSecondsPerGiB(p, t, pool.podStorage, true);
        const instanceType = [...pool.instanceTypes].sort((a, b) => slow(b) - slow(a))[0];
        if (!instanceType) continue;
        const s = worstColdStartSeconds(p, {
            mechanisms: mechanismsFor(cfg, pool, m),
            weightsGiB: m.spec.weightsGiB,
            instanceType,
            pollingIntervalSeconds: m.scaling.pollingIntervalSeconds,
            measured: cfg.coldStart.phases,
        });
        worst = Math.max(worst, s);
    }
    if (worst === 0) return 1200;
    return Math.min(3600, Math.ceil((worst * HOLD_MARGIN.factor + HOLD_MARGIN.seconds) / 30) * 30);
}
