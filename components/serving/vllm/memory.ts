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
 *
 * Loading peak (`--load-format runai_streamer`, on the node-disk copy of the weights): the Run:ai streamer reads
 * ahead into a CPU buffer of RUNAI_STREAMER_MEMORY_LIMIT bytes, unlimited (the whole model) or 40 GB by
 * default depending on its version (run-ai/runai-model-streamer requests_iterator.py, FilesRequestsIterator
 * with_memory_mode), and at least its largest chunk, one tensor (with_memory_cap raises below that). vLLM
 * sets that variable only from `--model-loader-extra-config '{"memory_limit": <int bytes>}'`
 * (vllm/model_executor/model_loader/runai_streamer_loader.py, RunaiModelStreamerLoader.__init__). So:
 *   limit >= base + streamer buffer + shm        (while loading: the processor caches are still empty)
 * buffer = what is left, at most STREAMER_MAX_GIB, never below the model's largest tensor (else the
 * model cannot stream on this node: an error). On g5.xlarge: 12 - 6 - 2 = 4 GiB for MedGemma 4B, whose
 * largest tensor (the embedding) is 1.25 GiB; the default buffer would have been 8.6 GiB or 37 GiB.
 */
import { instanceSpec } from "../../../stacks/catalog/instances";
import type { ResolvedGpuPool, ResolvedModel } from "../../../stacks/resolved";

/** API server + engine core without caches, GiB (estimate; see above). */
export const VLLM_BASE_MEMORY_GIB = 6;
/** /dev/shm size limit, GiB. */
const SHM_GIB = 2;
/** vLLM's default --mm-processor-cache-gb; never more than that. */
const MM_CACHE_DEFAULT_GIB = 4;
/** Share of one GPU's slice of node memory a worker may use. */
const NODE_SHARE = 0.75;
/** The streamer's own default buffer in newer releases (40 GB): never more than that. */
export const STREAMER_MAX_GIB = 37;

export interface WorkerMemory {
    readonly limitGiB: number;
    readonly mmProcessorCacheGiB: number;
    readonly shmGiB: number;
    readonly cpu: number;
    /** The Run:ai streamer's CPU buffer while weights stream from S3 (memory_limit), GiB. */
    readonly streamerBufferGiB: number;
    /** What the pod holds at its peaks: loading (base + streamer buffer + shm) and serving (base + 2 caches + shm). */
    readonly peakGiB: { readonly loading: number; readonly serving: number };
}

/**
 * Memory (and CPU) of one worker of `model` on this pool's instance shape (every type of a pool has one shape).
 * Throws when the model's largest tensor cannot be streamed within the limit.
 */
export function workerMemory(pool: Pick<ResolvedGpuPool, "name" | "instanceTypes" | "gpusPerNode">, model: Pick<ResolvedModel, "id" | "spec">): WorkerMemory {
    const spec = instanceSpec(pool.instanceTypes[0])!;
    const gpus = Math.max(1, pool.gpusPerNode);
    const limitGiB = Math.floor((spec.memoryGiB / gpus) * NODE_SHARE);
    const room = (limitGiB - VLLM_BASE_MEMORY_GIB - SHM_GIB) / 2;
    const mmProcessorCacheGiB = Math.max(0, Math.min(MM_CACHE_DEFAULT_GIB, Math.floor(room * 2) / 2));
    const streamerBufferGiB = Math.min(STREAMER_MAX_GIB, Math.floor((limitGiB - VLLM_BASE_MEMORY_GIB - SHM_GIB) * 2) / 2);
    if (streamerBufferGiB < model.spec.largestTensorGiB) {
        throw new Error(
            `${model.id} on pool '${pool.name}' (${pool.instanceTypes[0]}): the Run:ai streamer needs a ${model.spec.largestTensorGiB} GiB buffer for its largest tensor, and a ${limitGiB} GiB worker has ${streamerBufferGiB} GiB left after vLLM (${VLLM_BASE_MEMORY_GIB} GiB) and /dev/shm (${SHM_GIB} GiB); use an instance type with more memory per GPU or coldStart.weights: huggingface`,
        );
    }
    const cpu = Math.max(1, Math.floor((spec.vcpu / gpus) * 0.6));
    return {
        limitGiB,
        mmProcessorCacheGiB,
        shmGiB: SHM_GIB,
        cpu,
        streamerBufferGiB,
        peakGiB: { loading: VLLM_BASE_MEMORY_GIB + streamerBufferGiB + SHM_GIB, serving: VLLM_BASE_MEMORY_GIB + 2 * mmProcessorCacheGiB + SHM_GIB },
    };
}

/** vLLM's `--model-loader-extra-config` for the Run:ai streamer: its buffer in whole bytes (the loader takes only an int). */
export function streamerLoaderConfig(memory: Pick<WorkerMemory, "streamerBufferGiB">): { memory_limit: number } {
    return { memory_limit: Math.floor(memory.streamerBufferGiB * 2 ** 30) };
}
