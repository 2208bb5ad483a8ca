/**
 * The image cache's sizes, read by the cold-start model (stacks/model/coldStartPhases.ts), its cost
 * (capacity/cacheCost.ts) and the builder that makes it (components/cluster/imageCache/).
 */
import { VLLM_IMAGE_DISK_GB } from "./workerDisk";

/**
 * Size of the image-cache snapshot: the vLLM image as it sits on a node's disk (stacks/workerDisk.ts
 * VLLM_IMAGE_DISK_GB: compressed layers plus the unpacked copy); snapshots store used blocks only.
 */
export const IMAGE_CACHE_SNAPSHOT_GB = VLLM_IMAGE_DISK_GB;

/** The builder's instance type (the sample's default is m5.large; m6i.large is the same size at the same price). */
export const BUILDER_INSTANCE_TYPE = "m6i.large";
