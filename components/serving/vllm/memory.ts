/**
 * Memory of one vLLM worker, and the multimodal processor cache that must fit inside it.
 *
 * One cgroup limit covers everything the pod writes to RAM:
 *   limit >= base + 2 x cache + shm
 * - base: the API server process (Python, FastAPI, tokenizer, HF processor: ~2 GiB) and the
 *   engine core (torch, CUDA host allocations, weight-loading buffers: ~4 GiB). Estimates,
 *   to be replaced by a measurement from a real node (container_memory_working_set_bytes).
 * - cache: `--mm-processor-cache-gb` is per process, and both the API server and the engine
 *   core keep one (vLLM docs, conserving_memory.md: "default 4 GiB per API process + 4 GiB
 *   per engine core process"). At the default, 8 GiB of a 9 GiB limit went to caches, so a
 *   class sending many distinct images got the worker OOM-killed.
 * - shm: the /dev/shm emptyDir is tmpfs (medium Memory); pages written there count against
 *   the same limit. One GPU per worker (no tensor parallelism) and the default "lru" cache
 *   type need little shared memory; SHM_GIB bounds it.
 *
 * The limit itself: 75 % of one GPU's share of the node. On g5.xlarge (16 GiB) that is 12 GiB,
 * leaving ~4 GiB for the OS, kubelet's kube-reserved (255 MiB + 11 MiB x 58 pods = 893 MiB on
 * EKS AL2023), the eviction threshold (100 MiB) and the GPU node's daemonsets. Then
 * cache = (12 - 6 - 2) / 2 = 2 GiB per process. Larger nodes get vLLM's default 4 GiB.
 */
import { instanceSpec } from "../../../stacks/catalog/instances";
import { ResolvedGpuPool } from "../../../stacks/validate";

/** API server + engine core without caches, GiB (estimate; see above). */
export const VLLM_BASE_MEMORY_GIB = 6;
/** /dev/shm size limit, GiB. */
export const SHM_GIB = 2;
/** vLLM's default --mm-processor-cache-gb; never more than that. */
export const MM_CACHE_DEFAULT_GIB = 4;
/** Share of one GPU's slice of node memory a worker may use. */
const NODE_SHARE = 0.75;

export interface WorkerMemory {
    readonly limitGiB: number;
    readonly mmProcessorCacheGiB: number;
    readonly shmGiB: number;
    readonly cpu: number;
}

/** Memory (and CPU) of one worker on this pool's instance shape (every type of a pool has one shape). */
export function workerMemory(pool: Pick<ResolvedGpuPool, "instanceTypes" | "gpusPerNode">): WorkerMemory {
    const spec = instanceSpec(pool.instanceTypes[0])!;
    const gpus = Math.max(1, pool.gpusPerNode);
    const limitGiB = Math.floor((spec.memoryGiB / gpus) * NODE_SHARE);
    const room = (limitGiB - VLLM_BASE_MEMORY_GIB - SHM_GIB) / 2;
    const mmProcessorCacheGiB = Math.max(0, Math.min(MM_CACHE_DEFAULT_GIB, Math.floor(room * 2) / 2));
    const cpu = Math.max(1, Math.floor((spec.vcpu / gpus) * 0.6));
    return { limitGiB, mmProcessorCacheGiB, shmGiB: SHM_GIB, cpu };
}
