/**
 * The resolved stack config: what stacks/validate.ts's parseStackConfig returns (the schema's parsed shape with
 * the catalog, the platform, the pods' storage, the system nodes and the hold bound resolved). Types only, so the
 * cold-start model (stacks/model/) and the checks validate.ts runs can read them without importing validate.ts.
 */
import type { ModelSpec } from "./catalog/models";
import type { PlatformOutputs } from "./platformOutputs";
import type { PodStorage } from "./podStorage";
import type { GPU_AMIS, GpuPoolConfig, ModelConfig, ParsedStackConfig } from "./schema";
import type { SystemSizing } from "./systemNodes";
import type { ResolvedTimetable } from "./timetable";

export type GpuAmi = (typeof GPU_AMIS)[number];

export interface ResolvedGpuPool extends Omit<GpuPoolConfig, "podStorage"> {
    /** Where the pods' emptyDirs live, resolved from gpuPools[].podStorage ("auto": stacks/podStorage.ts). */
    readonly podStorage: PodStorage;
    /** Why (the plan prints it). */
    readonly podStorageReason: string;
    readonly instanceTypes: string[];
    /** Memory of one GPU (all instance types of a pool carry the same GPU). */
    readonly gpuMemoryGiB: number;
    /** GPUs per node, the smallest over the pool's instance types (a conservative capacity). */
    readonly gpusPerNode: number;
}

export interface ResolvedModel extends ModelConfig {
    readonly name: string;
    /** A team's use of a pool its platform shares: no workers of its own, its gateway forwards to the shared gateway. */
    readonly shared?: { readonly gateway: string; readonly namespace: string };
    /** Pinned Hugging Face commit: models[].revision or the catalog's. */
    readonly revision: string;
    readonly spec: ModelSpec;
    readonly maxModelLen: number;
    readonly gpuMemoryUtilization: number;
    readonly maxImagesPerPrompt: number;
    readonly maxNumSeqs: number;
    /** scaling, with predictiveWarmup.enabled resolved (off by default for a pool the timetable warms). */
    readonly scaling: ModelConfig["scaling"] & { readonly predictiveWarmup: ModelConfig["scaling"]["predictiveWarmup"] & { readonly enabled: boolean } };
}

type ParsedServing = ParsedStackConfig["serving"];

/** The system node group, resolved: as configured, or sized from its pods' requests (stacks/systemNodes.ts). */
export interface ResolvedSystemNodes {
    readonly instanceTypes: string[];
    readonly minSize: number;
    readonly maxSize: number;
    readonly diskSizeGiB: number;
    /** The sizing, when the type or the size was derived. */
    readonly sizing?: SystemSizing;
}

export interface StackConfig extends Omit<ParsedStackConfig, "gpuPools" | "models" | "serving" | "systemNodes" | "timetable"> {
    readonly systemNodes: ResolvedSystemNodes;
    readonly gpuPools: ResolvedGpuPool[];
    /** The stack's worker pools; a team's include the shared pools it uses (each with `shared`), last. */
    readonly models: ResolvedModel[];
    /** gpuserve:timetable with its calendars read and expanded (stacks/timetable.ts). */
    readonly timetable: ResolvedTimetable;
    /** A team stack's platform (from its StackReference, an outputs.json, or its existingCluster). */
    readonly platform?: PlatformOutputs;
    /** serving, with the gateway's hold bound resolved (set, or derived from the modelled cold start). */
    readonly serving: Omit<ParsedServing, "gateway"> & { readonly gateway: ParsedServing["gateway"] & { readonly maxWaitSeconds: number } };
}
