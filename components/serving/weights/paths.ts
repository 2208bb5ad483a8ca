/**
 * Where a model's files live in the stack's weights bucket. One prefix per model and pinned
 * revision, so a new revision is a new prefix (the old one stays until removed) and a pod
 * can never mix files of two revisions.
 */
import { createHash } from "crypto";

/** `models/<hf id>/<revision>`: the sync Job writes it, workers read it. */
export function modelPrefix(model: { readonly id: string; readonly revision: string }): string {
    return `models/${model.id}/${model.revision}`;
}

/** Object the sync Job writes last; its presence means the copy is complete (the Job is then a no-op). */
export const COMPLETE_MARKER = ".gpuserve-complete";

/**
 * `compile-cache/<worker pool>/<key>`: the key hashes everything torch.compile's artefacts depend on
 * (vLLM image, model revision, GPU type, vLLM arguments), so a change starts a fresh cache instead of
 * loading artefacts built for something else (vLLM re-checks its own hash on top: vllm/compilation/backends.py).
 */
export function compileCachePrefix(
    pool: string,
    key: { readonly image: string; readonly revision: string; readonly gpuType: string; readonly args: readonly string[] },
): string {
    const hash = createHash("sha256")
        .update(JSON.stringify([key.image, key.revision, key.gpuType, key.args]))
        .digest("hex")
        .slice(0, 16);
    return `compile-cache/${pool}/${hash}`;
}
