/**
 * What a worker pod adds to start fast (gpuserve:coldStart), kept apart from the vLLM flag
 * list (args.ts) so each can change alone:
 *
 *   weights "s3"         an init container copies models/<id>/<revision> from the stack's bucket onto
 *                        the node's disk (weights/fetch.ts: why not `s3://` into vLLM), and the model
 *                        argument becomes that local directory with `--load-format runai_streamer`,
 *                        which streams its safetensors into GPU memory with a bounded CPU buffer
 *                        (model_executor/model_loader/runai_streamer_loader.py: a local directory is
 *                        read in place in every copy we read). AWS credentials come from EKS Pod
 *                        Identity through a per-pool service account whose role reads only that prefix.
 *   weights "huggingface" `--revision` and `--tokenizer-revision` pin the Hub download instead.
 *   compileCache "s3"    an init container restores vLLM's torch.compile cache
 *                        (<VLLM_CACHE_ROOT>/torch_compile_cache/<hash>, vllm/compilation/backends.py,
 *                        Inductor's cache inside it) and Triton's cache from compile-cache/<pool>/<key>; a sidecar
 *                        saves them once vLLM answers, if that key has no saved cache yet.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ColdStartConfig } from "../../../stacks/schema";
import type { ResolvedGpuPool, ResolvedModel } from "../../../stacks/resolved";
import { RESTRICTED_CONTAINER_SECURITY } from "../security";
import { WorkerDisk, workerDisk } from "../../../stacks/workerDisk";
import { LOCAL_MODEL_DIR, WEIGHTS_MOUNT, weightsFetchContainer, weightsVolume } from "../weights/fetch";
import { compileCachePrefix, modelPrefix } from "../weights/paths";
import { AWS_CLI_IMAGE } from "../weights/syncJob";
import { VLLM_FLAGS } from "./args";
import { WorkerMemory, streamerLoaderConfig } from "./memory";

type EnvVar = k8s.types.input.core.v1.EnvVar;
type Container = k8s.types.input.core.v1.Container;
type Volume = k8s.types.input.core.v1.Volume;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;

/**
 * Cache directories (under the worker's /cache volume) that hold compile artefacts, restored from and saved to S3:
 * - vLLM's own, <VLLM_CACHE_ROOT>/torch_compile_cache (args.ts vllmEnv: VLLM_CACHE_ROOT=/cache/vllm). Inductor's cache
 *   lands inside it too: vLLM overrides TORCHINDUCTOR_CACHE_DIR on both compile paths, to
 *   torch_compile_cache/torch_aot_compile/<hash>/inductor_cache on the AOT path (vllm/compilation/decorators.py; the
 *   default with torch >= 2.10: vllm/envs.py use_aot_compile, 2026 copy) and to <cache dir>/inductor_cache in
 *   InductorAdaptor.initialize_cache (vllm/compilation/compiler_interface.py @193d8f3a), so /cache/torchinductor stays
 *   empty and is not synced.
 * - Triton's, TRITON_CACHE_DIR=/cache/triton: the AOT path leaves it as we set it (only InductorAdaptor overrides it).
 */
export const COMPILE_CACHE_DIRS = ["vllm/torch_compile_cache", "triton"] as const;

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
    /** The worker's memory and CPU: sizes the Run:ai streamer's buffer (vllm/memory.ts) and the copy's CPU. */
    readonly memory: Pick<WorkerMemory, "streamerBufferGiB" | "cpu">;
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
    /** Node disk of the worker: its emptyDirs and ephemeral-storage request (stacks/workerDisk.ts). */
    readonly disk: WorkerDisk;
    /** Volumes the pod adds (the weights copy) and where vLLM mounts them. */
    readonly volumes: Volume[];
    readonly volumeMounts: VolumeMount[];
}

function workerServiceAccount(model: Pick<ResolvedModel, "name">): string {
    return `worker-${model.name}`;
}

/**
 * Puts `source` where vLLM's arguments name the model: the first argument equal to the
 * model id (the positional model of `vllm serve`, or the value of the older --model).
 * --served-model-name keeps the id, so clients never see the local path.
 */
function withModelSource(base: readonly string[], modelId: string, source: pulumi.Input<string>): pulumi.Input<string>[] {
    const i = base.indexOf(modelId);
    if (i < 0) throw new Error(`vLLM arguments do not name the model '${modelId}': cannot point them at ${modelId}'s local copy`);
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
    // vLLM flags (args.ts VLLM_FLAGS): the local copy with the streamer and its buffer bounded to the worker's memory
    // (vllm/memory.ts: unbounded it buffers up to 40 GB or the whole model in the pod's RAM), or the pinned Hub revision.
    const disk = workerDisk(m, a.coldStart.weights);
    const volumes: Volume[] = [];
    const volumeMounts: VolumeMount[] = [];
    if (s3Weights) {
        initContainers.push(weightsFetchContainer({ bucket: a.bucket!, prefix: weightsPrefix!, region: a.region, cpu: a.memory.cpu }));
        volumes.push(weightsVolume(disk.weightsGiB));
        volumeMounts.push({ name: "weights", mountPath: WEIGHTS_MOUNT, readOnly: true });
    }
    const args: pulumi.Input<string>[] = s3Weights
        ? [
              ...withModelSource(a.vllmArgs, m.id, LOCAL_MODEL_DIR),
              VLLM_FLAGS.loadFormat,
              "runai_streamer",
              VLLM_FLAGS.modelLoaderExtraConfig,
              JSON.stringify(streamerLoaderConfig(a.memory)),
          ]
        : [...a.vllmArgs, VLLM_FLAGS.revision, m.revision, VLLM_FLAGS.tokenizerRevision, m.revision];
    if (s3Compile) {
        compilePrefix = compileCachePrefix(m.name, {
            image: a.image,
            revision: m.revision,
            gpuType: a.gpuPool.gpuType,
            args: [...a.vllmArgs, a.coldStart.weights],
        });
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
            {
                name: "compile-cache-restore",
                image: AWS_CLI_IMAGE,
                command: ["/bin/sh", "-c", RESTORE],
                env: cacheEnv,
                resources,
                securityContext: RESTRICTED_CONTAINER_SECURITY,
                volumeMounts: mounts,
            },
            // A native sidecar (restartPolicy Always): runs beside vLLM and saves the cache once it answers.
            {
                name: "compile-cache-save",
                image: AWS_CLI_IMAGE,
                restartPolicy: "Always",
                command: ["/bin/bash", "-c", SAVE],
                env: cacheEnv,
                resources,
                securityContext: RESTRICTED_CONTAINER_SECURITY,
                volumeMounts: mounts,
            },
        );
    }
    return {
        args,
        env,
        initContainers,
        serviceAccountName: s3Weights || s3Compile ? workerServiceAccount(m) : undefined,
        weightsPrefix,
        compileCachePrefix: compilePrefix,
        disk,
        volumes,
        volumeMounts,
    };
}
