/**
 * A worker's copy of its model from the stack's bucket onto the node's disk, before vLLM starts:
 * an init container (AWS CLI) syncs models/<id>/<revision>/ into an emptyDir, and vLLM loads that
 * local directory with the Run:ai streamer (`--load-format runai_streamer`, vllm/coldStartPod.ts).
 *
 * Why not `s3://` straight into vLLM (what this stack did until issue 22's review): vLLM's object-storage
 * path has broken on minor upgrades before (vllm-project/vllm#23236 in 0.10, #26600 "RunAI model streamer
 * breaks in 0.11": `vllm serve s3://...` fell through to the Hub with "Repo id must be in the form ..."),
 * and a 2026 copy of the loader (cyyever/vllm @f12927df, runai_streamer_loader.py `_prepare_weights`) treats
 * every non-local path as a Hub id and has no `is_runai_obj_uri`, while other 2026 copies still stream from
 * S3 (vllm v0.24.0 API docs: "local FS, S3, GCS, or Azure Blob Storage"). The pinned v0.33.0 could not be
 * read here. A local directory is loaded the same way in every version we read: `os.path.isdir(path)` ->
 * the streamer lists its *.safetensors (runai_streamer_loader.py @04883019 and @f12927df), and config,
 * tokenizer and processor files are read from the same directory.
 *
 * The copy is idempotent within a pod (a restarted init container finds its own marker) and refuses a
 * revision the sync Job has not finished (no completion marker in S3: the pod waits in Init and retries).
 */
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RESTRICTED_CONTAINER_SECURITY } from "../security";
import { COMPLETE_MARKER } from "./paths";
import { AWS_CLI_IMAGE } from "./syncJob";

/** Where the weights volume is mounted in the init container and in vLLM. */
export const WEIGHTS_MOUNT = "/weights";
/** The model directory vLLM is given (its positional model argument). */
export const LOCAL_MODEL_DIR = `${WEIGHTS_MOUNT}/model`;
/** Written last by the init container: the directory is complete. */
export const FETCHED_MARKER = ".gpuserve-fetched";

/**
 * POSIX sh, with BUCKET, PREFIX, WEIGHTS_DIR (LOCAL_MODEL_DIR) and AWS_REGION from the container's env; the same
 * script runs in test/components/weightsFetch.test.ts with Debian's AWS CLI v2 against an S3 server on loopback.
 * `aws s3 sync` lists the prefix (ListObjectsV2) and GETs each object (AWS CLI v2
 * awscli/customizations/s3/subcommands.py; the worker role allows exactly s3:ListBucket on the prefix and
 * s3:GetObject under it: weights/readRole.ts). The transfer client is the CLI's default `auto` (the CRT
 * client on p4d/p4de, which the CLI is optimized for; the classic one elsewhere: awscli/topics/s3-config.rst).
 */
export const WEIGHTS_FETCH_SCRIPT = `set -eu
dest="$WEIGHTS_DIR"
if [ -e "$dest/${FETCHED_MARKER}" ]; then echo "weights already in $dest"; exit 0; fi
if ! aws s3api head-object --bucket "$BUCKET" --key "$PREFIX/${COMPLETE_MARKER}" >/dev/null 2>&1; then
  echo "s3://$BUCKET/$PREFIX has no ${COMPLETE_MARKER}: the weights-sync Job has not finished copying this revision (kubectl get jobs -l app.kubernetes.io/component=weights-sync)" >&2
  exit 1
fi
start=$(date +%s)
mkdir -p "$dest"
aws s3 sync "s3://$BUCKET/$PREFIX/" "$dest" --only-show-errors --exclude "${COMPLETE_MARKER}"
set -- "$dest"/*.safetensors
[ -e "$1" ] || { echo "s3://$BUCKET/$PREFIX holds no *.safetensors: the Run:ai streamer loads only those" >&2; exit 1; }
: > "$dest/${FETCHED_MARKER}"
echo "copied s3://$BUCKET/$PREFIX to $dest ($(du -sm "$dest" | cut -f1) MiB) in $(($(date +%s) - start)) s"
`;

export interface WeightsFetchArgs {
    readonly bucket: pulumi.Input<string>;
    /** models/<id>/<revision> (weights/paths.ts modelPrefix). */
    readonly prefix: string;
    readonly region: string;
    /** CPU the worker requests: the copy runs before vLLM, so asking as much costs the pod nothing more. */
    readonly cpu: number;
}

/** The init container; it mounts the `weights` volume (weightsVolume) and `tmp` (HOME for the CLI). */
export function weightsFetchContainer(a: WeightsFetchArgs): k8s.types.input.core.v1.Container {
    return {
        name: "weights-fetch",
        image: AWS_CLI_IMAGE,
        command: ["/bin/sh", "-c", WEIGHTS_FETCH_SCRIPT],
        env: [
            { name: "BUCKET", value: a.bucket },
            { name: "PREFIX", value: a.prefix },
            { name: "WEIGHTS_DIR", value: LOCAL_MODEL_DIR },
            { name: "AWS_REGION", value: a.region },
            { name: "HOME", value: "/tmp" },
        ],
        // The CLI itself needs little memory; the page cache of what it writes is reclaimable.
        resources: { requests: { cpu: String(a.cpu), memory: "256Mi" }, limits: { memory: "1Gi" } },
        securityContext: RESTRICTED_CONTAINER_SECURITY,
        volumeMounts: [
            { name: "weights", mountPath: WEIGHTS_MOUNT },
            { name: "tmp", mountPath: "/tmp" },
        ],
    };
}

/** The node-disk volume the weights land on (emptyDir: the kubelet's filesystem, Bottlerocket's data volume). */
export function weightsVolume(sizeGiB: number): k8s.types.input.core.v1.Volume {
    return { name: "weights", emptyDir: { sizeLimit: `${sizeGiB}Gi` } };
}
