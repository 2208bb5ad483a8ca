/**
 * One-shot copy of a model's pinned revision from Hugging Face into the weights bucket:
 * a Kubernetes Job per model and revision on the system (CPU) nodes. Idempotent: the
 * first container looks for the completion marker and, when the copy is already there,
 * the others do nothing. The marker is written last, so a Job killed mid-copy runs again.
 *
 *   check    (aws-cli)  head-object <prefix>/.gpuserve-complete -> /work/done
 *   download (python, standard library only: hubDownload.ts) the pinned revision -> /work/model
 *   upload   (aws-cli)  aws s3 sync /work/model -> s3://<bucket>/<prefix>/, then the marker
 *
 * The download runs in a small official `python` image (~50 MB compressed) instead of the vLLM image
 * it used to borrow huggingface_hub from: that ~10 GB image (~35 GB unpacked) pulled onto a 50 GiB
 * system node put it under disk pressure (kubelet's image GC and eviction start at 85 %), for a Job
 * that runs once per model revision. No pip install at run time.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { normalizeImageRef } from "../../../stacks/imageRef";
import { SYSTEM_NODE_SELECTOR } from "../../addons/scheduling";
import { RESTRICTED_CONTAINER_SECURITY, RESTRICTED_POD_SECURITY, componentLabels } from "../security";
import { HUB_DOWNLOAD_SCRIPT } from "./hubDownload";
import { COMPLETE_MARKER, modelPrefix } from "./paths";
import { SYNC_JOB_DOWNLOAD_REQUESTS, SYNC_JOB_REQUESTS, k8sRequests } from "../../../stacks/catalog/systemPods";

/** AWS CLI v2 image (Pod Identity credentials need CLI >= 2.14), pinned, as the kubelet asks containerd for it. */
export const AWS_CLI_IMAGE = normalizeImageRef("amazon/aws-cli:2.32.8");
export const WEIGHTS_SYNC_SA = "weights-sync";
export const WEIGHTS_SYNC_COMPONENT = "weights-sync";

/**
 * Python for the download step: the official image (docker-library/python, Debian trixie slim), as the
 * kubelet asks containerd for it. Runs as the pod's non-root uid with HOME=/work; needs no writable root.
 */
export const PYTHON_IMAGE = normalizeImageRef("python:3.13.9-slim");

export interface SyncJobModel {
    readonly id: string;
    readonly name: string;
    readonly revision: string;
    readonly weightsGiB: number;
}

export interface WeightsSyncJobArgs {
    readonly namespace: string;
    readonly model: SyncJobModel;
    readonly bucket: pulumi.Input<string>;
    readonly region: string;
    /** Secret with the Hugging Face token (key `token`), for gated models. */
    readonly hfTokenSecret?: string;
}

/** Job name: per model and revision, so a new revision is a new Job (Job specs are immutable). */
function syncJobName(model: Pick<SyncJobModel, "name" | "revision">): string {
    return `weights-sync-${model.name}-${model.revision.slice(0, 8)}`.slice(0, 63);
}

const SCRIPT_CHECK = `set -eu
if aws s3api head-object --bucket "$BUCKET" --key "$PREFIX/${COMPLETE_MARKER}" >/dev/null 2>&1; then
  echo "s3://$BUCKET/$PREFIX is complete: nothing to do"; touch /work/done
fi`;

const SCRIPT_UPLOAD = `set -eu
[ -e /work/done ] && exit 0
rm -rf /work/model/.cache
aws s3 sync /work/model "s3://$BUCKET/$PREFIX/" --only-show-errors
echo "$REVISION" > /work/marker
aws s3 cp /work/marker "s3://$BUCKET/$PREFIX/${COMPLETE_MARKER}" --only-show-errors
echo "copied $MODEL_ID@$REVISION to s3://$BUCKET/$PREFIX"`;

export function syncJobSpec(args: Omit<WeightsSyncJobArgs, "namespace">): k8s.types.input.batch.v1.JobSpec {
    const m = args.model;
    const env = [
        { name: "BUCKET", value: args.bucket },
        { name: "PREFIX", value: modelPrefix(m) },
        { name: "MODEL_ID", value: m.id },
        { name: "REVISION", value: m.revision },
        { name: "AWS_REGION", value: args.region },
        { name: "HOME", value: "/work" },
    ];
    const hfEnv = [
        { name: "PYTHONDONTWRITEBYTECODE", value: "1" },
        ...(args.hfTokenSecret ? [{ name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: args.hfTokenSecret, key: "token" } } }] : []),
    ];
    const mounts = [
        { name: "work", mountPath: "/work" },
        { name: "tmp", mountPath: "/tmp" },
    ];
    const small = { requests: k8sRequests(SYNC_JOB_REQUESTS), limits: { memory: "512Mi" } };
    const container = (name: string, image: string, command: string[], extraEnv: typeof hfEnv = [], resources = small) => ({
        name,
        image,
        command,
        env: [...env, ...extraEnv],
        resources,
        securityContext: RESTRICTED_CONTAINER_SECURITY,
        volumeMounts: mounts,
    });
    return {
        backoffLimit: 4,
        template: {
            metadata: { labels: componentLabels(WEIGHTS_SYNC_COMPONENT, { "gpuserve.io/model": m.name }) },
            spec: {
                restartPolicy: "OnFailure",
                serviceAccountName: WEIGHTS_SYNC_SA,
                securityContext: RESTRICTED_POD_SECURITY,
                nodeSelector: SYSTEM_NODE_SELECTOR as Record<string, string>,
                enableServiceLinks: false,
                initContainers: [
                    container("check", AWS_CLI_IMAGE, ["/bin/sh", "-c", SCRIPT_CHECK]),
                    container("download", PYTHON_IMAGE, ["python3", "-c", HUB_DOWNLOAD_SCRIPT], hfEnv, {
                        requests: k8sRequests(SYNC_JOB_DOWNLOAD_REQUESTS),
                        limits: { memory: "512Mi" },
                    }),
                ],
                containers: [container("upload", AWS_CLI_IMAGE, ["/bin/sh", "-c", SCRIPT_UPLOAD])],
                volumes: [
                    // The model passes through a disk of its own (the system nodes' root volume is small).
                    {
                        name: "work",
                        ephemeral: {
                            volumeClaimTemplate: {
                                spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: `${Math.ceil(m.weightsGiB * 1.2 + 5)}Gi` } } },
                            },
                        },
                    },
                    { name: "tmp", emptyDir: { sizeLimit: "1Gi" } },
                ],
            },
        },
    };
}

export function weightsSyncJob(name: string, args: WeightsSyncJobArgs, opts: pulumi.CustomResourceOptions): k8s.batch.v1.Job {
    return new k8s.batch.v1.Job(
        name,
        {
            metadata: {
                name: syncJobName(args.model),
                namespace: args.namespace,
                labels: componentLabels(WEIGHTS_SYNC_COMPONENT, { "gpuserve.io/model": args.model.name }),
            },
            spec: syncJobSpec(args),
        },
        // A large model takes minutes to copy; Pulumi waits for the Job so workers roll out only once the weights exist.
        { ...opts, customTimeouts: { create: "60m", update: "60m" } },
    );
}
