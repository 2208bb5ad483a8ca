/**
 * The oracle lower bound: the cost of exactly enough GPU time to serve the trace, each
 * worker running `concurrency` requests at once, with no cold start, no idle GPU and no
 * scaling delay. GPU time = sum over requests of service seconds / concurrency, priced
 * at the pool's node price divided by its GPUs per node. No real policy can go below
 * it: a worker that serves requests at most `concurrency` at a time must be up at least
 * that long, and it holds its GPU while up.
 */
import { KIND_IMAGE, Trace } from "../traffic/trace";
import { SimInput } from "./types";
import { serviceSeconds } from "./service";

export interface OracleCost {
    readonly usd: number;
    readonly gpuSeconds: number;
    readonly perWorkerPool: readonly { readonly gpuSeconds: number; readonly usd: number }[];
}

/** Oracle cost of serving the requests selected by `include` (default: every request of the trace). */
export function oracleCost(input: Pick<SimInput, "workerPools" | "gpuPools">, trace: Trace, include?: (i: number) => boolean): OracleCost {
    const per = input.workerPools.map(() => ({ gpuSeconds: 0, usd: 0 }));
    for (let i = 0; i < trace.times.length; i++) {
        if (include && !include(i)) continue;
        const w = input.workerPools[trace.pools[i]];
        const s = serviceSeconds(trace.kinds[i] === KIND_IMAGE ? w.service.image : w.service.text, trace.z[i]);
        per[trace.pools[i]].gpuSeconds += s / w.service.concurrency;
    }
    per.forEach((p, wi) => {
        const g = input.gpuPools[input.workerPools[wi].gpuPool];
        p.usd = (p.gpuSeconds / 3600) * (g.usdPerHour / g.gpusPerNode);
    });
    return { usd: per.reduce((a, p) => a + p.usd, 0), gpuSeconds: per.reduce((a, p) => a + p.gpuSeconds, 0), perWorkerPool: per };
}
