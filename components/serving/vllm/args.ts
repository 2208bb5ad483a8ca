/**
 * Every interface we use of vLLM's command line, in one place: the command, each flag and
 * each environment variable, with where it is defined upstream. Bump the image tag only
 * after checking this list against that tag (test/fixtures/vllm/ holds the flag list the
 * tests check it against, with its source; VLLM_INTERFACE_CHECKS below says where each flag
 * was last re-checked, since the tag itself could not be read here).
 *
 * Sources (vllm-project/vllm, image tag in stacks/schema.ts `serving.vllmImage`, v0.33.0):
 * - flags: `vllm/engine/arg_utils.py` (EngineArgs.add_cli_args: model, cache, scheduler,
 *   multimodal groups; AsyncEngineArgs: --enable-log-requests) and
 *   `vllm/entrypoints/openai/cli_args.py` (FrontendArgs: --host, --port);
 * - the positional model: `vllm/entrypoints/cli/serve.py` (`model_tag`; `--model` with
 *   `vllm serve` is deprecated there and warns);
 * - env vars: `vllm/envs.py` (VLLM_CACHE_ROOT, VLLM_NO_USAGE_STATS).
 * Qwen-VL pixel bounds go in `--mm-processor-kwargs` as the image processor's `size`
 * (see stacks/catalog/models.ts maxPixels for why not `max_pixels`).
 * Removed: `--disable-log-requests` (deprecated in PR #21739, removed in PR #29402 for
 * v0.12; argparse then exits with "unrecognized arguments"). Request logging is off by
 * default (`--enable-log-requests` turns it on), which is what we want: no prompts in logs.
 */
import * as k8s from "@pulumi/kubernetes";
import type { ResolvedModel } from "../../../stacks/resolved";

export const VLLM_PORT = 8000;

/** The container command, explicit instead of the image's entrypoint (which is `vllm serve` today). */
export const VLLM_COMMAND = ["vllm", "serve"] as const;

/**
 * The flags we pass, each defined at the pinned tag (file in the comment). The test checks
 * this list against test/fixtures/vllm/serve-flags.json and every emitted flag against it.
 */
export const VLLM_FLAGS = {
    /** The first name is the `model_name` label on vLLM's metrics. arg_utils.py, ModelConfig group. */
    servedModelName: "--served-model-name",
    /** cli_args.py, FrontendArgs. */
    host: "--host",
    /** cli_args.py, FrontendArgs (default 8000). */
    port: "--port",
    /** arg_utils.py, ModelConfig group. */
    maxModelLen: "--max-model-len",
    /** arg_utils.py, CacheConfig group. */
    gpuMemoryUtilization: "--gpu-memory-utilization",
    /** arg_utils.py, SchedulerConfig group. */
    maxNumSeqs: "--max-num-seqs",
    /** arg_utils.py, MultiModalConfig group: JSON `{"image": N, "video": 0}` (the old `image=N` form is gone). */
    limitMmPerPrompt: "--limit-mm-per-prompt",
    /** arg_utils.py, MultiModalConfig group: JSON passed to the HF processor (`size` bounds for Qwen-VL). */
    mmProcessorKwargs: "--mm-processor-kwargs",
    /** arg_utils.py, MultiModalConfig group: GiB per process (API server and engine core each), default 4. */
    mmProcessorCacheGb: "--mm-processor-cache-gb",
    /**
     * arg_utils.py, ModelConfig group (field ModelConfig.allowed_media_domains); enforced in
     * vllm/multimodal/media/connector.py MediaConnector._assert_url_in_allowed_media_domains: exact
     * host match on every redirect hop, and an empty list allows every domain.
     */
    allowedMediaDomains: "--allowed-media-domains",
    /** arg_utils.py, LoadConfig group: `runai_streamer` on the local copy of the model (vllm/coldStartPod.ts, weights/fetch.ts). */
    loadFormat: "--load-format",
    /** arg_utils.py, LoadConfig group: JSON for the loader; the Run:ai loader reads `memory_limit` (int bytes). */
    modelLoaderExtraConfig: "--model-loader-extra-config",
    /** arg_utils.py, ModelConfig group: the pinned Hub commit (weights from the Hub). */
    revision: "--revision",
    /** arg_utils.py, ModelConfig group. */
    tokenizerRevision: "--tokenizer-revision",
} as const;

/**
 * Where each flag and environment variable the workers get was last checked against vLLM's own
 * sources (issue 22 point 8). The pinned tag v0.33.0 could not be read here (the repository is
 * over the fetch limit and the index does not address files by tag), so the newest copies the
 * tools could read stand in: CHECKED_IN says which, per entry. docs/deploy.md lists what is only
 * checked in an older copy.
 */
const CHECKED_IN = {
    /**
     * A 2026 copy of vllm/engine/arg_utils.py EngineArgs.add_cli_args (annotated fork; newer than v0.20: it
     * registers --renderer-num-workers, --enable-trace-replay, --mm-processor-device), search index id 66183572322.
     */
    argUtils2026: "vllm/engine/arg_utils.py, 2026 copy (newer than v0.20)",
    /** A 2026 copy of vllm/envs.py (environment_variables), search index id 66428353334. */
    envs2026: "vllm/envs.py, 2026 copy",
    /** vllm/entrypoints/openai/cli_args.py FrontendArgs (host: str | None, port: int = 8000), a v0.11-era copy; newer trees move FrontendArgs to vllm/entrypoints/launchers/cli_args.py. */
    frontendV011: "vllm/entrypoints/openai/cli_args.py FrontendArgs, v0.11-era copy",
    /**
     * vllm/model_executor/model_loader/runai_streamer_loader.py, stored copies at commit 04883019 (memory_limit must be an
     * int) and a 2026 copy, cyyever/vllm @f12927df (memory_limit an int >= -1; extra config keys limited to distributed,
     * concurrency, memory_limit). Both read a local directory in place (`os.path.isdir`); the 2026 copy has no S3 path,
     * which is why the workers copy the weights to disk first (weights/fetch.ts).
     */
    runaiLoader: "vllm/model_executor/model_loader/runai_streamer_loader.py @04883019 and cyyever/vllm @f12927df (2026)",
} as const;

/** Flag or env var -> where it was checked (CHECKED_IN) and in which group or table. */
export const VLLM_INTERFACE_CHECKS: Readonly<Record<string, string>> = {
    "--served-model-name": `${CHECKED_IN.argUtils2026}, ModelConfig group`,
    "--max-model-len": `${CHECKED_IN.argUtils2026}, ModelConfig group`,
    "--allowed-media-domains": `${CHECKED_IN.argUtils2026}, ModelConfig group`,
    "--revision": `${CHECKED_IN.argUtils2026}, ModelConfig group`,
    "--tokenizer-revision": `${CHECKED_IN.argUtils2026}, ModelConfig group`,
    "--load-format": `${CHECKED_IN.argUtils2026}, LoadConfig group`,
    "--model-loader-extra-config": `${CHECKED_IN.argUtils2026}, LoadConfig group; memory_limit: ${CHECKED_IN.runaiLoader}`,
    "--gpu-memory-utilization": `${CHECKED_IN.argUtils2026}, CacheConfig group`,
    "--max-num-seqs": `${CHECKED_IN.argUtils2026}, SchedulerConfig group`,
    "--limit-mm-per-prompt": `${CHECKED_IN.argUtils2026}, MultiModalConfig group (field limit_per_prompt)`,
    "--mm-processor-kwargs": `${CHECKED_IN.argUtils2026}, MultiModalConfig group`,
    "--mm-processor-cache-gb": `${CHECKED_IN.argUtils2026}, MultiModalConfig group`,
    "--host": CHECKED_IN.frontendV011,
    "--port": CHECKED_IN.frontendV011,
    VLLM_CACHE_ROOT: CHECKED_IN.envs2026,
    VLLM_NO_USAGE_STATS: CHECKED_IN.envs2026,
};

/** Checked only in a copy older than 2026: named in docs/deploy.md ("vLLM interface"). */
export const VLLM_CHECKED_ONLY_IN_OLDER_COPIES = ["--host", "--port"] as const;

/**
 * The only "allowed" remote media host: a name that cannot exist (RFC 6761 `.invalid`), so vLLM
 * fetches no media URL. The gateway refuses http(s) media URLs too (its allowedMediaDomains is
 * empty): a worker must not be made to fetch 169.254.169.254 or anything else (issue 13).
 */
const NO_MEDIA_DOMAIN = "media.invalid";

/** Flags that must never be passed again (removed upstream, or deprecated for `vllm serve`). */
export const VLLM_FORBIDDEN_FLAGS: Readonly<Record<string, string>> = {
    "--disable-log-requests": "removed in vLLM PR #29402 (v0.12): argparse exits with 'unrecognized arguments'",
    "--model": "deprecated with `vllm serve` (vllm/entrypoints/cli/serve.py): pass the model positionally",
};

export interface VllmArgsOptions {
    /** --mm-processor-cache-gb, sized from the worker's memory (vllm/memory.ts). */
    readonly mmProcessorCacheGiB: number;
}

type Json = number | { readonly [k: string]: Json };
/** Deterministic JSON (sorted keys at every level), so a preview never shows a reordering as a change. */
function sortedJson(value: Json): string {
    const sort = (v: Json): Json =>
        typeof v === "number"
            ? v
            : Object.fromEntries(
                  Object.keys(v)
                      .sort()
                      .map((k) => [k, sort(v[k])]),
              );
    return JSON.stringify(sort(value));
}

/** HF processor kwargs: the Qwen-VL pixel bounds as the image processor's `size` (see ModelSpec.maxPixels). */
function mmProcessorKwargs(model: Pick<ResolvedModel, "spec">): Record<string, Json> | undefined {
    const { maxPixels, minPixels } = model.spec;
    if (maxPixels === undefined) return undefined;
    return { size: { longest_edge: maxPixels, ...(minPixels !== undefined ? { shortest_edge: minPixels } : {}) } };
}

/** Per-prompt multimodal limits: the model's image count, and video off where the model could take it. */
function limitMmPerPrompt(model: Pick<ResolvedModel, "maxImagesPerPrompt" | "spec">): Record<string, number> {
    return { image: model.maxImagesPerPrompt, ...(model.spec.acceptsVideo ? { video: 0 } : {}) };
}

/** `vllm serve` arguments after the command: the model positionally, then the flags, then the stack's extras. */
export function vllmArgs(model: ResolvedModel, opts: VllmArgsOptions): string[] {
    const f = VLLM_FLAGS;
    const args = [
        model.id,
        f.servedModelName,
        model.id,
        model.name,
        f.host,
        "0.0.0.0",
        f.port,
        String(VLLM_PORT),
        f.maxModelLen,
        String(model.maxModelLen),
        f.gpuMemoryUtilization,
        String(model.gpuMemoryUtilization),
        f.maxNumSeqs,
        String(model.maxNumSeqs),
        f.limitMmPerPrompt,
        sortedJson(limitMmPerPrompt(model)),
        f.mmProcessorCacheGb,
        String(opts.mmProcessorCacheGiB),
        f.allowedMediaDomains,
        NO_MEDIA_DOMAIN,
    ];
    const kwargs = mmProcessorKwargs(model);
    if (kwargs) args.push(f.mmProcessorKwargs, sortedJson(kwargs));
    return [...args, ...model.extraArgs];
}

/** Every `--flag` in an argument list (values that are JSON or numbers are skipped; `--a=b` counts as `--a`). */
export function flagsIn(args: readonly string[]): string[] {
    return args.filter((a) => a.startsWith("--")).map((a) => a.split("=")[0]);
}

/**
 * Environment of the vLLM container. Only the VLLM_* names are vLLM's (vllm/envs.py);
 * the others belong to the libraries vLLM runs (cited beside each).
 */
export function vllmEnv(hfTokenSecret?: string): k8s.types.input.core.v1.EnvVar[] {
    const env: k8s.types.input.core.v1.EnvVar[] = [
        // Writable caches on the /cache volume: the root filesystem is read-only.
        { name: "HOME", value: "/cache" },
        { name: "HF_HOME", value: "/cache/huggingface" }, // huggingface_hub constants.py
        { name: "XDG_CACHE_HOME", value: "/cache" },
        { name: "VLLM_CACHE_ROOT", value: "/cache/vllm" }, // vllm/envs.py (compile cache, assets)
        // torch._inductor config; vLLM overrides it with a directory inside its torch_compile_cache once it compiles (coldStart.ts COMPILE_CACHE_DIRS).
        { name: "TORCHINDUCTOR_CACHE_DIR", value: "/cache/torchinductor" },
        { name: "TRITON_CACHE_DIR", value: "/cache/triton" }, // triton knobs
        // The non-root uid has no passwd entry; getpass.getuser() (torch) reads these first.
        { name: "USER", value: "vllm" },
        { name: "LOGNAME", value: "vllm" },
        { name: "HF_HUB_DISABLE_TELEMETRY", value: "1" }, // huggingface_hub constants.py
        { name: "VLLM_NO_USAGE_STATS", value: "1" }, // vllm/envs.py: no usage reports to stats.vllm.ai
    ];
    if (hfTokenSecret) env.push({ name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: hfTokenSecret, key: "token" } } }); // huggingface_hub constants.py
    return env;
}

/** The vLLM env var names we set (checked against the fixture of vllm/envs.py names). */
export const VLLM_ENV_NAMES = ["VLLM_CACHE_ROOT", "VLLM_NO_USAGE_STATS"] as const;
