/**
 * Model catalog: what a model needs from one GPU and how vLLM should start it.
 *
 * Weight sizes are bf16 safetensors as published on the Hugging Face model pages
 * (parameters x 2 bytes, rounded up). The minimum GPU memory leaves room for the
 * KV cache at the default max model length with gpu-memory-utilization 0.90.
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
        defaults: { maxModelLen: 16384, gpuMemoryUtilization: 0.9, maxImagesPerPrompt: 4, maxNumSeqs: 32 },
    },
    "Qwen/Qwen3-VL-8B-Instruct": {
        id: "Qwen/Qwen3-VL-8B-Instruct",
        shortName: "qwen3-vl-8b",
        parametersB: 8.8,
        weightsGiB: 17.5,
        minGpuMemoryGiB: 40,
        gated: false,
        defaults: { maxModelLen: 16384, gpuMemoryUtilization: 0.9, maxImagesPerPrompt: 4, maxNumSeqs: 32 },
    },
    "google/medgemma-4b-it": {
        id: "google/medgemma-4b-it",
        shortName: "medgemma-4b",
        parametersB: 4.3,
        weightsGiB: 8.6,
        minGpuMemoryGiB: 24,
        gated: true,
        defaults: { maxModelLen: 8192, gpuMemoryUtilization: 0.9, maxImagesPerPrompt: 1, maxNumSeqs: 16 },
    },
    "google/medgemma-1.5-4b-it": {
        id: "google/medgemma-1.5-4b-it",
        shortName: "medgemma-1-5-4b",
        parametersB: 4.3,
        weightsGiB: 8.6,
        minGpuMemoryGiB: 24,
        gated: true,
        defaults: { maxModelLen: 8192, gpuMemoryUtilization: 0.9, maxImagesPerPrompt: 1, maxNumSeqs: 16 },
    },
    "google/medgemma-27b-it": {
        id: "google/medgemma-27b-it",
        shortName: "medgemma-27b",
        parametersB: 27.4,
        weightsGiB: 54.8,
        minGpuMemoryGiB: 80,
        gated: true,
        defaults: { maxModelLen: 8192, gpuMemoryUtilization: 0.92, maxImagesPerPrompt: 1, maxNumSeqs: 16 },
    },
};

export function modelSpec(id: string): ModelSpec | undefined {
    return Object.prototype.hasOwnProperty.call(MODEL_CATALOG, id) ? MODEL_CATALOG[id] : undefined;
}
