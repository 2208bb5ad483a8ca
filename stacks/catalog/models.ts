/**
 * Model catalog: what a model needs from one GPU and how vLLM should start it.
 *
 * Weight sizes are bf16 safetensors as published on the Hugging Face model pages
 * (parameters x 2 bytes, rounded up). The minimum GPU memory leaves room for the
 * KV cache at the default max model length with gpu-memory-utilization 0.90.
 *
 * Revisions: every model is pinned to one Hugging Face commit so every pod (and the S3 copy
 * the weights sync Job makes) loads the same bytes. The SHAs below were found as commit URLs
 * (huggingface.co/<id>/commit/<sha> or /tree/<sha>) in public repositories that pin these
 * models; this machine cannot reach the Hub to re-check them, so a wrong or withdrawn SHA
 * shows up as a failing sync Job (404), never as silently different weights. Override
 * per model with `models[].revision`.
 */

export interface ModelSpec {
    /** Hugging Face repository id, also vLLM's `--model`. */
    readonly id: string;
    /** Short DNS-safe name used for Kubernetes objects and metrics labels. */
    readonly shortName: string;
    readonly parametersB: number;
    readonly weightsGiB: number;
    /** Smallest single-GPU memory this model serves on with the defaults below. */
    readonly minGpuMemoryGiB: number;
    /** Gated on Hugging Face: needs an accepted licence and a token. */
    readonly gated: boolean;
    /** Pinned Hugging Face commit (40 hex). */
    readonly revision: string;
    readonly defaults: {
        readonly maxModelLen: number;
        readonly gpuMemoryUtilization: number;
        readonly maxImagesPerPrompt: number;
        readonly maxNumSeqs: number;
    };
}

export const MODEL_CATALOG: Readonly<Record<string, ModelSpec>> = {
    "Qwen/Qwen3-VL-2B-Instruct": {
        id: "Qwen/Qwen3-VL-2B-Instruct",
        shortName: "qwen3-vl-2b",
        parametersB: 2.1,
        weightsGiB: 4.3,
        minGpuMemoryGiB: 16,
        gated: false,
        revision: "89644892e4d85e24eaac8bacfd4f463576704203", // commit URL cited in a public course repo
        defaults: { maxModelLen: 16384, gpuMemoryUtilization: 0.9, maxImagesPerPrompt: 4, maxNumSeqs: 32 },
    },
    "Qwen/Qwen3-VL-8B-Instruct": {
        id: "Qwen/Qwen3-VL-8B-Instruct",
        shortName: "qwen3-vl-8b",
        parametersB: 8.8,
        weightsGiB: 17.5,
        minGpuMemoryGiB: 40,
        gated: false,
        revision: "0c351dd01ed87e9c1b53cbc748cba10e6187ff3b", // "immutable revision" link in a public repo
        defaults: { maxModelLen: 16384, gpuMemoryUtilization: 0.9, maxImagesPerPrompt: 4, maxNumSeqs: 32 },
    },
    "google/medgemma-4b-it": {
        id: "google/medgemma-4b-it",
        shortName: "medgemma-4b",
        parametersB: 4.3,
        weightsGiB: 8.6,
        minGpuMemoryGiB: 24,
        gated: true,
        revision: "698f7911b8e0569ff4ebac5d5552f02a9553063c", // commit URL in a public model-conversion guide
        defaults: { maxModelLen: 8192, gpuMemoryUtilization: 0.9, maxImagesPerPrompt: 1, maxNumSeqs: 16 },
    },
    "google/medgemma-1.5-4b-it": {
        id: "google/medgemma-1.5-4b-it",
        shortName: "medgemma-1-5-4b",
        parametersB: 4.3,
        weightsGiB: 8.6,
        minGpuMemoryGiB: 24,
        gated: true,
        revision: "91850547d9f0b2fdd21aa7c5f4f3d1a8a52c243b", // commit URL in a public model review
        defaults: { maxModelLen: 8192, gpuMemoryUtilization: 0.9, maxImagesPerPrompt: 1, maxNumSeqs: 16 },
    },
    "google/medgemma-27b-it": {
        id: "google/medgemma-27b-it",
        shortName: "medgemma-27b",
        parametersB: 27.4,
        weightsGiB: 54.8,
        minGpuMemoryGiB: 80,
        gated: true,
        revision: "2d3e00ea38b50018bf5dd3aa1009457cd2d5a48f", // tree URL in a public model-conversion guide
        defaults: { maxModelLen: 8192, gpuMemoryUtilization: 0.92, maxImagesPerPrompt: 1, maxNumSeqs: 16 },
    },
};

export function modelSpec(id: string): ModelSpec | undefined {
    return Object.prototype.hasOwnProperty.call(MODEL_CATALOG, id) ? MODEL_CATALOG[id] : undefined;
}
