/**
 * Node disk a vLLM worker uses, and whether a GPU pool's volume holds its workers: one leaf that the
 * worker pod spec (components/serving/vllm/coldStartPod.ts: emptyDir sizes, ephemeral-storage request),
 * config validation (validate.ts: gpuPools[].diskSizeGiB) and the cost model (capacity/cacheCost.ts: the
 * image-cache snapshot) all read.
 *
 * Everything a worker writes lands on the kubelet's filesystem: Bottlerocket's data volume (/dev/xvdb, which
 * also holds containerd's images; Bottlerocket README, "Storage"), AL2023's root volume, or, with
 * gpuPools[].podStorage "instanceStore" (stacks/podStorage.ts), the instance store bound over /var/lib/kubelet while
 * the images stay on the volume. Per worker:
 *   weights  (coldStart.weights "s3") the pinned revision copied from S3 before vLLM starts (weights/fetch.ts)
 *   cache    vLLM's cache root: config and tokenizer files, torch.compile, Inductor and Triton caches; with
 *            weights from the Hub also the Hub download itself (twice its size, as before, for .incomplete files)
 * and once per node the vLLM image (compressed layers plus the unpacked snapshot).
 */

/** The vLLM image on a node's disk, GB: ~10 GB compressed (facts.md) plus the unpacked copy; assumption: ~25 GB unpacked. */
export const VLLM_IMAGE_DISK_GB = 35;
/** Config, tokenizer, processor and index files beside the safetensors, GiB (headroom over ModelSpec.weightsGiB). */
const MODEL_FILES_HEADROOM_GIB = 1;
/** vLLM's cache root when the weights are elsewhere: compile caches and small model files, GiB. */
const CACHE_WITHOUT_WEIGHTS_GIB = 20;
/**
 * Share of the filesystem pods may fill: the kubelet evicts pods below 10 % free (Kubernetes docs, "Node-pressure
 * eviction", default hard threshold nodefs.available<10%; EKS AMIs keep it).
 */
const KUBELET_USABLE_SHARE = 0.9;
/**
 * Share of the image filesystem images may fill once it is not the kubelet's: the kubelet then evicts below 15 % free
 * on it (same page, default hard threshold imagefs.available<15%; imagefs is "an optional filesystem that container
 * runtimes use to store container images and container writable layers").
 */
const IMAGEFS_USABLE_SHARE = 0.85;

const GB_PER_GIB = 1.073741824;

export interface WorkerDisk {
    /** The emptyDir the S3 copy lands in (0: no copy, weights from the Hub). */
    readonly weightsGiB: number;
    /** The emptyDir of vLLM's cache root. */
    readonly cacheGiB: number;
    /** What the pod asks the scheduler for (ephemeral-storage request): both volumes full. */
    readonly requestGiB: number;
}

export function workerDisk(model: { readonly spec: { readonly weightsGiB: number } }, weights: "s3" | "huggingface"): WorkerDisk {
    const w = model.spec.weightsGiB;
    const weightsGiB = weights === "s3" ? Math.ceil(w + MODEL_FILES_HEADROOM_GIB) : 0;
    const cacheGiB = weights === "s3" ? CACHE_WITHOUT_WEIGHTS_GIB : Math.ceil(w * 2 + CACHE_WITHOUT_WEIGHTS_GIB);
    return { weightsGiB, cacheGiB, requestGiB: weightsGiB + cacheGiB };
}

/**
 * The smallest volume (GiB) that holds the image and `workers` workers of the largest disk need, with the
 * kubelet's eviction headroom; with the workers on the instance store, the image alone within the image
 * filesystem's headroom.
 */
export function diskNeededGiB(workers: number, perWorkerGiB: number, podsOnInstanceStore = false): number {
    const image = VLLM_IMAGE_DISK_GB / GB_PER_GIB;
    return Math.ceil(podsOnInstanceStore ? image / IMAGEFS_USABLE_SHARE : (image + workers * perWorkerGiB) / KUBELET_USABLE_SHARE);
}

/** The instance store (GiB) `workers` workers need when it is the kubelet's filesystem (nodefs), with its eviction headroom. */
export function instanceStoreNeededGiB(workers: number, perWorkerGiB: number): number {
    return Math.ceil((workers * perWorkerGiB) / KUBELET_USABLE_SHARE);
}
