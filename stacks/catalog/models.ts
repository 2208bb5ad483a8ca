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
    /**
     * The largest single tensor of the checkpoint, GiB: the token embedding, vocab_size x hidden_size x 2 bytes
     * (bf16; config.json text_config). The Run:ai streamer refuses a CPU buffer smaller than its largest chunk, one
     * tensor (run-ai/runai-model-streamer requests_iterator.py with_memory_cap), so this bounds memory_limit from below.
     */
    readonly largestTensorGiB: number;
    /** Smallest single-GPU memory this model serves on with the defaults below. */
    readonly minGpuMemoryGiB: number;
    /** Gated on Hugging Face: needs an accepted licence and a token. */
    readonly gated: boolean;
    /** A quantized or otherwise reduced checkpoint of this catalog model (same answers, smaller GPU). */
    readonly variantOf?: string;
    /** Where the sizes and the fit come from. */
    readonly sources?: readonly string[];
    /** Pinned Hugging Face commit (40 hex). Absent: the stack must set `models[].revision` (validate.ts says so). */
    readonly revision?: string;
    /**
     * The model takes video input (Qwen3-VL does; Gemma 3 / MedGemma take images only). A
     * video-capable model gets `"video": 0` in --limit-mm-per-prompt: nobody sends video here,
     * and vLLM would otherwise reserve memory and accept requests for it.
     */
    readonly acceptsVideo: boolean;
    /**
     * Qwen-VL image processor pixel bounds, passed as `--mm-processor-kwargs
     * '{"size": {"longest_edge": maxPixels, "shortest_edge": minPixels}}'`; absent for models
     * whose encoder sees a fixed size (Gemma 3 / MedGemma: 896x896, 256 tokens).
     * Qwen3-VL: patch 16 x spatial merge 2 = one token per 32x32 pixels, and its
     * preprocessor_config.json allows size.longest_edge 16,777,216 pixels (16,384 tokens: a
     * whole --max-model-len for one image), shortest_edge 65,536. 1024 x 1024 = 1,048,576
     * pixels is what the UI sends at most (ui/models.json maxSide 1024): ~1,024 tokens.
     * `size`, not a bare `max_pixels`: the Qwen2-VL image processor that Qwen3-VL uses resizes
     * by size.longest_edge, and a `max_pixels` kwarg is silently ignored there
     * (huggingface/transformers#41955; vllm-project/vllm#27981); vLLM's own Qwen3-VL test plan
     * passes `size` (vllm-project/vllm PR #34330, which also sizes the profiling dummy inputs from it).
     */
    readonly maxPixels?: number;
    /** Qwen-VL lower pixel bound (size.shortest_edge), the model's own default. */
    readonly minPixels?: number;
    /** Image tokens one image costs at most with the bound above (for the max-model-len check). */
    readonly maxImageTokens: number;
    readonly defaults: {
        readonly maxModelLen: number;
        readonly gpuMemoryUtilization: number;
        readonly maxImagesPerPrompt: number;
        readonly maxNumSeqs: number;
    };
}

/** Qwen-VL pixel bound per image: the UI's largest image, 1024 x 1024 (see maxPixels). */
const QWEN_VL_MAX_PIXELS = 1024 * 1024;
/** Qwen3-VL's own size.shortest_edge (preprocessor_config.json), kept. */
const QWEN3_VL_MIN_PIXELS = 65536;
/** Gemma 3 (MedGemma) encodes every image at 896x896 into 256 soft tokens (Gemma 3 model card). */
const GEMMA3_IMAGE_TOKENS = 256;

export const MODEL_CATALOG: Readonly<Record<string, ModelSpec>> = {
    "Qwen/Qwen3-VL-2B-Instruct": {
        id: "Qwen/Qwen3-VL-2B-Instruct",
        shortName: "qwen3-vl-2b",
        parametersB: 2.1,
        weightsGiB: 4.3,
        largestTensorGiB: 0.58, // embedding 151936 x 2048 x 2 B
        minGpuMemoryGiB: 16,
        gated: false,
        revision: "89644892e4d85e24eaac8bacfd4f463576704203", // commit URL cited in a public course repo
        acceptsVideo: true,
        maxPixels: QWEN_VL_MAX_PIXELS,
        minPixels: QWEN3_VL_MIN_PIXELS,
        maxImageTokens: QWEN_VL_MAX_PIXELS / (32 * 32),
        defaults: { maxModelLen: 16384, gpuMemoryUtilization: 0.9, maxImagesPerPrompt: 4, maxNumSeqs: 32 },
    },
    "Qwen/Qwen3-VL-8B-Instruct": {
        id: "Qwen/Qwen3-VL-8B-Instruct",
        shortName: "qwen3-vl-8b",
        parametersB: 8.8,
        weightsGiB: 17.5,
        largestTensorGiB: 1.16, // embedding 151936 x 4096 x 2 B
        minGpuMemoryGiB: 40,
        gated: false,
        revision: "0c351dd01ed87e9c1b53cbc748cba10e6187ff3b", // "immutable revision" link in a public repo
        acceptsVideo: true,
        maxPixels: QWEN_VL_MAX_PIXELS,
        minPixels: QWEN3_VL_MIN_PIXELS,
        maxImageTokens: QWEN_VL_MAX_PIXELS / (32 * 32),
        defaults: { maxModelLen: 16384, gpuMemoryUtilization: 0.9, maxImagesPerPrompt: 4, maxNumSeqs: 32 },
    },
    "google/medgemma-4b-it": {
        id: "google/medgemma-4b-it",
        shortName: "medgemma-4b",
        parametersB: 4.3,
        weightsGiB: 8.6,
        largestTensorGiB: 1.25, // embedding 262208 x 2560 x 2 B
        minGpuMemoryGiB: 24,
        gated: true,
        revision: "698f7911b8e0569ff4ebac5d5552f02a9553063c", // commit URL in a public model-conversion guide
        acceptsVideo: false,
        maxImageTokens: GEMMA3_IMAGE_TOKENS,
        defaults: { maxModelLen: 8192, gpuMemoryUtilization: 0.9, maxImagesPerPrompt: 1, maxNumSeqs: 16 },
    },
    "google/medgemma-1.5-4b-it": {
        id: "google/medgemma-1.5-4b-it",
        shortName: "medgemma-1-5-4b",
        parametersB: 4.3,
        weightsGiB: 8.6,
        largestTensorGiB: 1.25, // embedding 262208 x 2560 x 2 B
        minGpuMemoryGiB: 24,
        gated: true,
        revision: "91850547d9f0b2fdd21aa7c5f4f3d1a8a52c243b", // commit URL in a public model review
        acceptsVideo: false,
        maxImageTokens: GEMMA3_IMAGE_TOKENS,
        // MedGemma 1.5 reads several images in one prompt (e.g. a current and a prior X-ray).
        defaults: { maxModelLen: 8192, gpuMemoryUtilization: 0.9, maxImagesPerPrompt: 4, maxNumSeqs: 16 },
    },
    "google/medgemma-27b-it": {
        id: "google/medgemma-27b-it",
        shortName: "medgemma-27b",
        parametersB: 27.4,
        weightsGiB: 54.8,
        largestTensorGiB: 2.63, // embedding 262208 x 5376 x 2 B
        minGpuMemoryGiB: 80,
        gated: true,
        revision: "2d3e00ea38b50018bf5dd3aa1009457cd2d5a48f", // tree URL in a public model-conversion guide
        acceptsVideo: false,
        maxImageTokens: GEMMA3_IMAGE_TOKENS,
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
        largestTensorGiB: 2.63, // embedding 262208 x 5376 (bf16, not quantized) x 2 B
        minGpuMemoryGiB: 40,
        gated: true,
        variantOf: "google/medgemma-27b-it",
        acceptsVideo: false,
        maxImageTokens: GEMMA3_IMAGE_TOKENS,
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
