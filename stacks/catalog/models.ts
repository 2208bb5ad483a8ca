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
    /** A quantized or otherwise reduced checkpoint of this catalog model (same answers, smaller GPU). */
    readonly variantOf?: string;
    /** Where the sizes and the fit come from. */
    readonly sources?: readonly string[];
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
    /**
     * MedGemma 27B multimodal with FP8 weights (compressed-tensors FP8-Dynamic, made with
     * llm-compressor): about half the bytes of bf16, so one 48 GB L40S (g6e.xlarge,
     * $1.861/h) serves it instead of one GPU of an 8-GPU p4de.24xlarge ($27.45/h).
     */
    "ig1/medgemma-27b-it-FP8-Dynamic": {
        id: "ig1/medgemma-27b-it-FP8-Dynamic",
        shortName: "medgemma-27b-fp8",
        parametersB: 27.4,
        weightsGiB: 29,
        minGpuMemoryGiB: 40,
        gated: true,
        variantOf: "google/medgemma-27b-it",
        defaults: { maxModelLen: 8192, gpuMemoryUtilization: 0.92, maxImagesPerPrompt: 1, maxNumSeqs: 16 },
        sources: [
            "checkpoint: huggingface.co/ig1/medgemma-27b-it-FP8-Dynamic (FP8-Dynamic of google/medgemma-27b-it, vision tower kept; served with vLLM in public configs)",
            "weights ~29 GiB: the 25.6 B linear-layer weights in FP8 (1 byte) + the 1.4 B embedding and 0.4 B SigLIP vision parameters in bf16 (2 bytes); an estimate, check the repository's file sizes",
            "vLLM runs FP8 W8A8 natively on Ada (L40S, compute capability 8.9) and as weight-only W8A16 (Marlin) on Ampere (A10G, A100): docs.vllm.ai/en/v0.32.0/features/quantization/llm_compressor/fp8/",
            "fit: 0.92 x 44 GiB usable on an L40S (AWS EC2 accelerated-computing specifications list 44 GiB per L40S) = 40.5 GiB: 29 GiB weights + ~11 GiB for KV cache and activations at max-model-len 8192",
        ],
    },
};

export function modelSpec(id: string): ModelSpec | undefined {
    return Object.prototype.hasOwnProperty.call(MODEL_CATALOG, id) ? MODEL_CATALOG[id] : undefined;
}
