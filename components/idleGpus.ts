/**
 * A plan-time warning for GPU pools whose nodes carry more GPUs than their one-GPU workers
 * can ever use (prod's a100 pool: 8 GPUs per p4de.24xlarge, at most 2 workers), with what
 * the pool costs in the expected month and the cheaper shape (stacks/catalog/fit.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { onDemandPrice } from "../capacity/cost";
import { ExpectedCost } from "../capacity/sim/expected";
import { idleGpuPools, idleGpuWarning } from "../stacks/catalog/fit";
import type { StackConfig } from "../stacks/resolved";

export function warnIdleGpus(config: StackConfig, expected: ExpectedCost): void {
    const price = (t: string) => {
        try {
            return onDemandPrice(config, t);
        } catch {
            return undefined; // not priced in this region: not a candidate
        }
    };
    for (const idle of idleGpuPools(config.gpuPools, config.models)) {
        const month = expected.perPool.find((p) => p.pool === idle.pool);
        const specs = config.models.filter((m) => m.pool === idle.pool).map((m) => m.spec);
        void pulumi.log.warn(
            idleGpuWarning(
                idle,
                specs,
                price,
                month && {
                    usdPerMonth: month.usdPerMonth,
                    totalUsdPerMonth: expected.usdPerMonth,
                    peakWorkers: month.workerPools.reduce((n, w) => n + w.peakReplicas, 0),
                },
            ),
        );
    }
}
