/**
 * A registered team's ResourceQuota: GPUs as the platform registered them, CPU and memory as
 * registered or, by default, what its GPU workers and its serving pods request at most:
 *   per GPU worker: the worker's requests on the largest node shape of that GPU type among the
 *     platform's pools (vllm/memory.ts) + its compile-cache sidecars (vllm/coldStartPod.ts: 2 x 50m / 128Mi);
 *   serving footprint: the gateway at its default maxReplicas (4 x 250m / 256Mi, gateway.ts), the UI
 *     in production (2 x 50m / 32Mi, ui.ts), the in-cluster batch store at its defaults (100m / 2048Mi,
 *     batchStore.ts) and one weights sync Job at a time (250m / 256Mi: its download container, weights/syncJob.ts).
 * A team that needs more (more gateway replicas, a larger batch store) asks for cpu / memoryGiB.
 */
import type { ResolvedGpuPool } from "../../stacks/resolved";
import { TeamRegistration } from "../../stacks/schema";
import { workerMemory } from "../serving/vllm/memory";
import type { ModelSpec } from "../../stacks/catalog/models";
import { GATEWAY_REQUESTS, SYNC_JOB_POD_REQUESTS, UI_REQUESTS, VALKEY_CPU } from "../../stacks/catalog/systemPods";
import { batchSchema } from "../../stacks/schema";

/** serving.batch.memoryMiB's default. */
const DEFAULT_VALKEY_MIB = batchSchema.parse({}).memoryMiB;

/** Sidecars of a worker with the S3 compile cache (vllm/coldStartPod.ts). */
const WORKER_SIDECARS = { cpu: 2 * 0.05, memoryGiB: (2 * 128) / 1024 };

/** What a team's non-GPU pods request at most with the defaults (see above). */
const SERVING_FOOTPRINT = {
    cpu: 4 * GATEWAY_REQUESTS.cpu + 2 * UI_REQUESTS.cpu + VALKEY_CPU + SYNC_JOB_POD_REQUESTS.cpu,
    memoryGiB: (4 * GATEWAY_REQUESTS.memoryMiB + 2 * UI_REQUESTS.memoryMiB + DEFAULT_VALKEY_MIB + SYNC_JOB_POD_REQUESTS.memoryMiB) / 1024,
} as const;

export interface TeamQuota {
    readonly gpus: number;
    readonly cpu: number;
    readonly memoryGiB: number;
}

/** A model whose tensors fit any worker: sizes a worker without one (workerMemory throws for a tensor its buffer cannot hold). */
const ANY_MODEL = { id: "any", spec: { largestTensorGiB: 0 } as ModelSpec };

/** The largest worker (CPU, memory) a pool of this GPU type runs. */
function workerOf(pools: readonly ResolvedGpuPool[], gpuType: string): { cpu: number; memoryGiB: number } {
    let cpu = 0;
    let memoryGiB = 0;
    for (const p of pools.filter((x) => x.gpuType === gpuType)) {
        // A worker's CPU and memory follow the node shape; the model only decides whether it fits (checked by the team).
        const w = workerMemory(p, ANY_MODEL);
        cpu = Math.max(cpu, w.cpu);
        memoryGiB = Math.max(memoryGiB, w.limitGiB);
    }
    return { cpu: cpu + WORKER_SIDECARS.cpu, memoryGiB: memoryGiB + WORKER_SIDECARS.memoryGiB };
}

const round2 = (x: number) => Math.ceil(x * 100) / 100;

export function teamQuota(team: TeamRegistration, pools: readonly ResolvedGpuPool[]): TeamQuota {
    let gpus = 0;
    let cpu = SERVING_FOOTPRINT.cpu;
    let memoryGiB = SERVING_FOOTPRINT.memoryGiB;
    for (const [gpuType, n] of Object.entries(team.gpus)) {
        if (!n) continue;
        const w = workerOf(pools, gpuType);
        gpus += n;
        cpu += n * w.cpu;
        memoryGiB += n * w.memoryGiB;
    }
    return { gpus, cpu: team.cpu ?? round2(cpu), memoryGiB: team.memoryGiB ?? round2(memoryGiB) };
}
