/**
 * What a worker pod adds to start fast (gpuserve:coldStart), kept apart from the vLLM flag
 * list (args.ts) so each can change alone:
 *
 *   weights "s3"         the model argument becomes s3://<bucket>/models/<id>/<revision> with
 *                        `--load-format runai_streamer`: vLLM pulls config and tokenizer files
 *                        (*.json, *.model, *.py) into <VLLM_CACHE_ROOT>/assets/model_streamer/<hash>
 *                        and streams the safetensors from S3 into GPU memory (vllm
 *                        config/model.py maybe_pull_model_tokenizer_for_runai, transformers_utils/
 *                        runai_utils.py ObjectStorageModel, model_executor/model_loader/
 *                        runai_streamer_loader.py; vLLM docs "Loading models with Run:ai Model
 *                        Streamer"). AWS credentials come from EKS Pod Identity through a
 *                        per-pool service account whose role reads only that prefix.
 *   weights "huggingface" `--revision` and `--tokenizer-revision` pin the Hub download instead.
 *   compileCache "s3"    an init container restores vLLM's torch.compile cache
 *                        (<VLLM_CACHE_ROOT>/torch_compile_cache/<hash>, vllm/compilation/backends.py),
 *                        the Inductor and Triton caches from compile-cache/<pool>/<key>; a sidecar
 *                        saves them once vLLM answers, if that key has no saved cache yet.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ColdStartConfig } from "../../../stacks/schema";
import type { ResolvedGpuPool, ResolvedModel } from "../../../stacks/validate";
import { RESTRICTED_CONTAINER_SECURITY } from "../security";
import { compileCachePrefix, modelPrefix } from "../weights/paths";
import { AWS_CLI_IMAGE } from "../weights/syncJob";
import { VLLM_FLAGS } from "./args";
import { WorkerMemory, streamerLoaderConfig } from "./memory";

type EnvVar = k8s.types.input.core.v1.EnvVar;
type Container = k8s.types.input.core.v1.Container;

/** Cache directories (under the worker's /cache volume) that hold compile artefacts; workers.ts points the env vars here. */
export const COMPILE_CACHE_DIRS = ["vllm/torch_compile_cache", "torchinductor", "triton"] as const;

export interface WorkerColdStartArgs {
    readonly model: ResolvedModel;
    readonly gpuPool: ResolvedGpuPool;
    readonly coldStart: ColdStartConfig;
    readonly image: string;
    /** vLLM's arguments without the cold-start additions (args.ts / workers.ts vllmArgs). */
    readonly vllmArgs: readonly string[];
    readonly region: string;
    /** The weights bucket, when weights or compile caches live in S3. */
    readonly bucket?: pulumi.Input<string>;
    /** The worker's memory: sizes the Run:ai streamer's buffer (vllm/memory.ts). */
    readonly memory: Pick<WorkerMemory, "streamerBufferGiB">;
}

export interface WorkerColdStart {
    /** vLLM's arguments with the model source and load format of this cold-start setup. */
    readonly args: pulumi.Input<string>[];
    readonly env: EnvVar[];
    readonly initContainers: Container[];
    /** Service account with the pool's S3 role (undefined: no AWS access). */
    readonly serviceAccountName?: string;
    /** Prefixes the pool's role may use. */
    readonly weightsPrefix?: string;
    readonly compileCachePrefix?: string;
    /** Size of the worker's /cache emptyDir. */
    readonly cacheSizeGiB: number;
}

export function workerServiceAccount(model: Pick<ResolvedModel, "name">): string {
    return `worker-${model.name}`;
}

/**
 * Puts `source` where vLLM's arguments name the model: the first argument equal to the
 * model id (the positional model of `vllm serve`, or the value of the older --model).
 * --served-model-name keeps the id, so clients never see the S3 path.
 */
export function withModelSource(base: readonly string[], modelId: string, source: pulumi.Input<string>): pulumi.Input<string>[] {
    const i = base.indexOf(modelId);
    if (i < 0) throw new Error(`vLLM arguments do not name the model '${modelId}': cannot point them at ${modelId}'s S3 copy`);
    return [...base.slice(0, i), source, ...base.slice(i + 1)];
}

const RESTORE = `set -u
for d in ${COMPILE_CACHE_DIRS.join(" ")}; do
  aws s3 sync "s3://$BUCKET/$PREFIX/$d" "/cache/$d" --only-show-errors || echo "compile cache: could not restore $d; vLLM compiles it"
done`;

const SAVE = `set -u
keep() { while true; do sleep 3600; done; }
marker="s3://$BUCKET/$PREFIX/.complete"
if aws s3 ls "$marker" >/dev/null 2>&1; then echo "compile cache $PREFIX is saved"; keep; fi
ready() {
  exec 3<>/dev/tcp/127.0.0.1/8000 || return 1
  printf 'GET /v1/models HTTP/1.0\\r\\n\\r\\n' >&3
  status=""; read -t 5 -r status <&3 || true
  exec 3<&- 3>&-
  case "$status" in *" 200"*) return 0;; esac
  return 1
}
until ready 2>/dev/null; do sleep 5; done
for d in ${COMPILE_CACHE_DIRS.join(" ")}; do
  [ -d "/cache/$d" ] && aws s3 sync "/cache/$d" "s3://$BUCKET/$PREFIX/$d" --only-show-errors
done
echo saved > /tmp/compile-cache-marker && aws s3 cp /tmp/compile-cache-marker "$marker" --only-show-errors && echo "compile cache saved to s3://$BUCKET/$PREFIX"
keep`;

export function workerColdStart(a: WorkerColdStartArgs): WorkerColdStart {
    const m = a.model;
    const s3Weights = a.coldStart.weights === "s3";
    const s3Compile = a.coldStart.compileCache === "s3";
    if ((s3Weights || s3Compile) && a.bucket === undefined) throw new Error(`worker pool '${m.name}': coldStart uses S3 but no weights bucket was given`);
    const weightsPrefix = s3Weights ? modelPrefix(m) : undefined;
    const env: EnvVar[] = [];
    const initContainers: Container[] = [];
    let compilePrefix: string | undefined;
    if (s3Weights || s3Compile) {
        // The Run:ai streamer's S3 client and the AWS CLI need the region; credentials come from Pod Identity.
        env.push({ name: "AWS_REGION", value: a.region }, { name: "AWS_DEFAULT_REGION", value: a.region });
    }
    // vLLM flags (args.ts VLLM_FLAGS): the S3 copy with the streamer and its buffer bounded to the worker's memory
    // (vllm/memory.ts: unbounded it buffers up to 40 GB or the whole model in the pod's RAM), or the pinned Hub revision.
    const args: pulumi.Input<string>[] = s3Weights
        ? [
              ...withModelSource(a.vllmArgs, m.id, pulumi.interpolate`s3://${a.bucket!}/${weightsPrefix!}`),
              VLLM_FLAGS.loadFormat,
              "runai_streamer",
              VLLM_FLAGS.modelLoaderExtraConfig,
              JSON.stringify(streamerLoaderConfig(a.memory)),
          ]
        : [...a.vllmArgs, VLLM_FLAGS.revision, m.revision, VLLM_FLAGS.tokenizerRevision, m.revision];
    if (s3Compile) {
        compilePrefix = compileCachePrefix(m.name, { image: a.image, revision: m.revision, gpuType: a.gpuPool.gpuType, args: [...a.vllmArgs, a.coldStart.weights] });
        const cacheEnv: EnvVar[] = [
            { name: "BUCKET", value: a.bucket! },
            { name: "PREFIX", value: compilePrefix },
            { name: "AWS_REGION", value: a.region },
            { name: "HOME", value: "/tmp" },
        ];
        const mounts = [
            { name: "cache", mountPath: "/cache" },
            { name: "tmp", mountPath: "/tmp" },
        ];
        const resources = { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } };
        initContainers.push(
            { name: "compile-cache-restore", image: AWS_CLI_IMAGE, command: ["/bin/sh", "-c", RESTORE], env: cacheEnv, resources, securityContext: RESTRICTED_CONTAINER_SECURITY, volumeMounts: mounts },
            // A native sidecar (restartPolicy Always): runs beside vLLM and saves the cache once it answers.
            { name: "compile-cache-save", image: AWS_CLI_IMAGE, restartPolicy: "Always", command: ["/bin/bash", "-c", SAVE], env: cacheEnv, resources, securityContext: RESTRICTED_CONTAINER_SECURITY, volumeMounts: mounts },
        );
    }
    return {
        args,
        env,
        initContainers,
        serviceAccountName: s3Weights || s3Compile ? workerServiceAccount(m) : undefined,
        weightsPrefix,
        compileCachePrefix: compilePrefix,
        // Streamed weights never touch the disk: /cache holds config, tokenizer and compile caches only.
        cacheSizeGiB: s3Weights ? 20 : Math.ceil(m.spec.weightsGiB * 2 + 20),
    };
}
