/**
 * Which GPU a model fits, and what a pool's node shape wastes: the cheapest catalogued
 * GPU type with enough memory for a model (the hint when a model is too big for its
 * pool), and the GPUs per node that a pool's models can never use (one-GPU workers).
 */
import { DEFAULT_INSTANCE_TYPES, GPU_TYPES, GpuType, INSTANCE_CATALOG, instanceSpec } from "./instances";
import { MODEL_CATALOG, ModelSpec } from "./models";

export interface GpuChoice {
    readonly gpuType: GpuType;
    readonly instanceType: string;
    readonly gpuMemoryGiB: number;
    readonly gpusPerNode: number;
    /** On-demand USD/hour of one node in the region (config overrides first). */
    readonly usdPerHour: number;
}

/**
 * The catalogued GPU types whose GPU has at least `minGiB`, cheapest first by the price of
 * their cheapest node in the region (a one-GPU worker pays for a whole node). Types
 * without a price in the region are left out.
 */
export function fittingGpuTypes(minGiB: number, price: (instanceType: string) => number | undefined): GpuChoice[] {
    const choices: GpuChoice[] = [];
    for (const gpuType of GPU_TYPES) {
        const nodes = DEFAULT_INSTANCE_TYPES[gpuType]
            .map((t) => ({ t, spec: instanceSpec(t)!, usd: price(t) }))
            .filter(
                (n): n is { t: string; spec: (typeof INSTANCE_CATALOG)[string]; usd: number } => n.usd !== undefined && (n.spec.gpu?.memoryGiB ?? 0) >= minGiB,
            )
            .sort((a, b) => a.usd - b.usd);
        const [cheapest] = nodes;
        if (cheapest)
            choices.push({
                gpuType,
                instanceType: cheapest.t,
                gpuMemoryGiB: cheapest.spec.gpu!.memoryGiB,
                gpusPerNode: cheapest.spec.gpu!.count,
                usdPerHour: cheapest.usd,
            });
    }
    return choices.sort((a, b) => a.usdPerHour - b.usdPerHour);
}

/** Catalog variants of a model (and the model it is a variant of) that need less GPU memory. */
export function smallerVariants(spec: ModelSpec): ModelSpec[] {
    const base = spec.variantOf ?? spec.id;
    return Object.values(MODEL_CATALOG)
        .filter((m) => m.id !== spec.id && (m.variantOf === base || m.id === base) && m.minGpuMemoryGiB < spec.minGpuMemoryGiB)
        .sort((a, b) => a.minGpuMemoryGiB - b.minGpuMemoryGiB);
}

/** What a recommended variant still needs before a stack can serve it: its commit, when the catalog pins none. */
export function variantNeeds(v: ModelSpec): string {
    return v.revision ? "" : ", with models[].revision set to the Hugging Face commit you checked (the catalog pins none for it)";
}

export interface IdleGpus {
    readonly pool: string;
    readonly instanceType: string;
    readonly gpusPerNode: number;
    /** The most one-GPU workers the pool's models can run at once (sum of maxReplicas). */
    readonly usable: number;
}

/**
 * Pools whose node has more GPUs than all their models' workers together can ever use:
 * workers take one GPU each, so a node with more GPUs than the pool's summed maxReplicas
 * always leaves some idle (and paid for).
 */
export function idleGpuPools(
    pools: readonly { readonly name: string; readonly gpusPerNode: number; readonly instanceTypes: readonly string[] }[],
    models: readonly { readonly pool: string; readonly scaling: { readonly maxReplicas: number } }[],
): IdleGpus[] {
    return pools
        .map((p) => ({
            pool: p.name,
            instanceType: p.instanceTypes[0],
            gpusPerNode: p.gpusPerNode,
            usable: models.filter((m) => m.pool === p.name).reduce((n, m) => n + m.scaling.maxReplicas, 0),
        }))
        .filter((p) => p.usable > 0 && p.gpusPerNode > p.usable);
}

/** Figures of the simulated month for the warning (capacity/sim expected), when there is one. */
export interface PoolMonth {
    readonly usdPerMonth: number;
    readonly totalUsdPerMonth: number;
    readonly peakWorkers: number;
}

/**
 * The warning for a pool with GPUs no worker can use, with the cheaper shape to move to:
 * the cheapest GPU type whose node has no more GPUs than the pool can use and that fits
 * its models, or a smaller variant of the models when none does.
 */
export function idleGpuWarning(idle: IdleGpus, models: readonly ModelSpec[], price: (instanceType: string) => number | undefined, month?: PoolMonth): string {
    const usd = (n: number) => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
    const needGiB = Math.max(...models.map((m) => m.minGpuMemoryGiB));
    const shape = fittingGpuTypes(needGiB, price).find((c) => c.gpusPerNode <= idle.usable);
    const variants = models.flatMap((m) =>
        smallerVariants(m)
            .map((v) => ({ v, fit: fittingGpuTypes(v.minGpuMemoryGiB, price).find((c) => c.gpusPerNode <= idle.usable) }))
            .filter((x) => x.fit),
    );
    const fix = shape
        ? `use gpuType ${shape.gpuType} (${shape.instanceType}, ${shape.gpusPerNode} GPU per node, $${shape.usdPerHour}/hour on demand)`
        : variants.length > 0
          ? `serve ${variants.map((x) => `'${x.v.id}' on gpuType ${x.fit!.gpuType} (${x.fit!.instanceType}, $${x.fit!.usdPerHour}/hour on demand)${variantNeeds(x.v)}`).join(" or ")}`
          : `raise the models' maxReplicas to ${idle.gpusPerNode} if the load needs it`;
    const cost = month
        ? ` In the expected month the pool costs ${usd(month.usdPerMonth)} of the stack's ${usd(month.totalUsdPerMonth)} and runs at most ${month.peakWorkers} worker${month.peakWorkers === 1 ? "" : "s"}.`
        : "";
    return (
        `GPU pool '${idle.pool}' runs ${idle.instanceType} nodes with ${idle.gpusPerNode} GPUs each, but its models can use at most ${idle.usable} (one GPU per worker, the sum of their maxReplicas): ` +
        `${idle.gpusPerNode - idle.usable} of ${idle.gpusPerNode} GPUs per node are always idle and paid for.${cost} Fix: ${fix}.`
    );
}
