/**
 * Service model: how long one worker (one vLLM pod on one GPU) takes to answer, and how
 * many requests it serves at once before extra ones wait in vLLM's queue.
 *
 * A worker is modelled as `concurrency` parallel slots (continuous batching up to its
 * useful batch size: latency roughly flat, throughput growing) plus a FIFO of waiting
 * requests (vllm:num_requests_waiting). Service times are log-normal, fitted to a median
 * and a P95. Capacity of a worker = concurrency / mean service time.
 *
 * Defaults, per model, are anchored on one measured GPU and scaled to other GPUs by
 * memory bandwidth (decode is bandwidth-bound). Overridable per worker pool with
 * `traffic.service.<name>`.
 */
import { GpuType } from "../../stacks/catalog/instances";
import { ModelSpec } from "../../stacks/catalog/models";

export interface ServiceTime {
    readonly medianSeconds: number;
    readonly p95Seconds: number;
}

export interface ServiceProfile {
    readonly image: ServiceTime;
    readonly text: ServiceTime;
    /** Max useful concurrency per worker. */
    readonly concurrency: number;
    /** Where each number comes from. */
    readonly sources: readonly string[];
}

/**
 * GPU memory bandwidth, GB/s (NVIDIA datasheets: A10G 600, L4 300, L40S 864, A100 40GB
 * SXM 1555, A100 80GB SXM 2039). Used only to carry a measured time
 * from one GPU to another.
 */
const GPU_BANDWIDTH_GBPS: Readonly<Record<GpuType, number>> = { a10g: 600, l4: 300, l40s: 864, "a100-40gb": 1555, "a100-80gb": 2039 };

interface Anchor {
    readonly gpu: GpuType;
    readonly image: ServiceTime;
    readonly text: ServiceTime;
    readonly concurrency: number;
    readonly sources: readonly string[];
}

const QWEN_2B: Anchor = {
    gpu: "a10g",
    image: { medianSeconds: 0.75, p95Seconds: 0.98 },
    text: { medianSeconds: 0.32, p95Seconds: 0.41 },
    concurrency: 7,
    sources: [
        "P95 0.98 s image+question, 0.41 s text-only on a 24 GB GPU (published Qwen3-VL-2B-Instruct deployment benchmark on one 24 GB GPU with vLLM)",
        "median = P95 / 1.3 (assumption: moderate spread of answer lengths)",
        "concurrency 7 = ~9 QPS max per GPU (same benchmark) x ~0.76 s mean; text gives ~21 QPS at 7, close to the published ~18",
    ],
};

const MEDGEMMA_4B: Anchor = {
    gpu: "a10g",
    image: { medianSeconds: 1.8, p95Seconds: 2.2 },
    text: { medianSeconds: 0.76, p95Seconds: 0.92 },
    concurrency: 4,
    sources: [
        "median 1.8 s per image+question answer (published MedGemma Medical Vision Lab deployment on Kubernetes, www.mynw.cn/news/927327.html)",
        "P95 2.2 s (same deployment: P95 2.1-2.3 s)",
        "text-only = image x 0.42, Qwen3-VL's text/image ratio (assumption)",
        "concurrency 4 (assumption: 8.6 GiB of weights leave ~13 GiB of KV cache on 24 GB, about half of Qwen3-VL-2B's room at twice the cost per token)",
    ],
};

/** Derived anchor: `base` on the same GPU with every time multiplied by `factor`. */
function scaled(base: Anchor, factor: number, concurrency: number, why: string): Anchor {
    const s = (t: ServiceTime) => ({ medianSeconds: t.medianSeconds * factor, p95Seconds: t.p95Seconds * factor });
    return { gpu: base.gpu, image: s(base.image), text: s(base.text), concurrency, sources: [...base.sources, why] };
}

/** Anchors per model id of the catalog. */
const SERVICE_ANCHORS: Readonly<Record<string, Anchor>> = {
    "Qwen/Qwen3-VL-2B-Instruct": QWEN_2B,
    "Qwen/Qwen3-VL-8B-Instruct": scaled(
        QWEN_2B,
        17.5 / 4.3,
        7,
        "Qwen3-VL-8B = Qwen3-VL-2B x 4.07 (weights ratio, bandwidth-bound decode; assumption), concurrency kept at 7",
    ),
    "google/medgemma-4b-it": MEDGEMMA_4B,
    "google/medgemma-1.5-4b-it": MEDGEMMA_4B,
    "google/medgemma-27b-it": scaled(MEDGEMMA_4B, 54.8 / 8.6, 4, "MedGemma-27B = MedGemma-4B x 6.37 (weights ratio; assumption), concurrency 4"),
    "ig1/medgemma-27b-it-FP8-Dynamic": scaled(
        MEDGEMMA_4B,
        29 / 8.6,
        4,
        "MedGemma-27B FP8 = MedGemma-4B x 3.37 (weights ratio: decode reads the FP8 weights, half of bf16; assumption), concurrency 4",
    ),
};

/** The default profile of a model on a GPU type, before config overrides. */
export function defaultServiceProfile(spec: ModelSpec, gpu: GpuType): ServiceProfile {
    const anchor =
        SERVICE_ANCHORS[spec.id] ?? scaled(QWEN_2B, spec.weightsGiB / 4.3, 7, `${spec.id}: Qwen3-VL-2B x weights ratio (no published figure; assumption)`);
    const factor = GPU_BANDWIDTH_GBPS[anchor.gpu] / GPU_BANDWIDTH_GBPS[gpu];
    const s = (t: ServiceTime) => ({ medianSeconds: t.medianSeconds * factor, p95Seconds: t.p95Seconds * factor });
    const sources =
        gpu === anchor.gpu
            ? anchor.sources
            : [
                  ...anchor.sources,
                  `${anchor.gpu} -> ${gpu}: times x ${factor.toFixed(2)} (memory bandwidth ${GPU_BANDWIDTH_GBPS[anchor.gpu]} vs ${GPU_BANDWIDTH_GBPS[gpu]} GB/s)`,
              ];
    return { image: s(anchor.image), text: s(anchor.text), concurrency: anchor.concurrency, sources };
}

export interface ServiceOverride {
    readonly image?: ServiceTime;
    readonly text?: ServiceTime;
    readonly concurrency?: number;
}

export function withOverride(base: ServiceProfile, o: ServiceOverride | undefined): ServiceProfile {
    if (!o) return base;
    return {
        image: o.image ?? base.image,
        text: o.text ?? base.text,
        concurrency: o.concurrency ?? base.concurrency,
        sources: [...base.sources, `overridden in traffic.service: ${Object.keys(o).join(", ")}`],
    };
}

/** Log-normal parameters (mu, sigma of ln S) from a median and a P95. */
export function logNormal(t: ServiceTime): { mu: number; sigma: number } {
    return { mu: Math.log(t.medianSeconds), sigma: Math.log(t.p95Seconds / t.medianSeconds) / 1.6448536269514722 };
}

/** Service seconds of one request from its normal draw. */
export function serviceSeconds(t: ServiceTime, z: number): number {
    const { mu, sigma } = logNormal(t);
    return Math.exp(mu + sigma * z);
}
