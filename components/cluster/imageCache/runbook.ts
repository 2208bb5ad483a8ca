/**
 * The SSM Automation runbook that builds the image-cache snapshot: the steps of
 * aws-samples/bottlerocket-images-cache `snapshot.sh` (commit 3370ea0a, 2025-04-15) as one
 * declarative document, so `pulumi up` builds it (State Manager association, builder.ts):
 *   launch a Bottlerocket instance from the builder's launch template -> wait until SSM sees it
 *   -> stop kubelet, clear containerd's images, pull the vLLM image into its `k8s.io` namespace
 *   -> stop the instance -> snapshot the data volume (/dev/xvdb), tagged gpuserve.io/image=<image>
 *   -> wait until the snapshot is completed -> terminate the instance.
 * Every step after the launch goes to `terminateOnFailure` when it fails, so no builder outlives a
 * failed build; steps stay critical (default isCritical: true), so the execution still reports
 * Failed and the association does not reach Success (AWS Systems Manager user guide,
 * "Automation actions", common properties onFailure / isCritical).
 *
 * Actions (AWS Systems Manager user guide): aws:executeAwsApi (inputs Service, Api, the API's own
 * parameters; outputs Name/Selector/Type, JSONPath; at most 25 s per call), aws:waitForAwsResourceProperty
 * (PropertySelector, DesiredValues; default timeout 3600 s), aws:runCommand (SendCommand parameters).
 */

/** Tag of an image-cache snapshot: the vLLM image it holds (docs/scaling.md, "Cold start"). */
export const IMAGE_CACHE_TAG = "gpuserve.io/image";
/** Tag of the builder instance and its volumes: the cluster it builds for (scopes the automation role). */
export const BUILDER_TAG = "gpuserve.io/image-cache-builder";
/** The builder's instance type (the sample's default is m5.large; m6i.large is the same size at the same price). */
export const BUILDER_INSTANCE_TYPE = "m6i.large";
/** Upper bound of one build (launch, ~10 GB pull, stop, first full snapshot); the association waits this long. */
export const BUILD_TIMEOUT_SECONDS = 5400;
/** The data volume Bottlerocket keeps containerd's store on (Bottlerocket README, "Storage"). */
export const DATA_DEVICE = "/dev/xvdb";

/**
 * containerd's client inside Bottlerocket, reached through the admin container: the sample's CTR_CMD
 * (snapshot.sh@3370ea0a: `apiclient exec admin sheltie ctr -a /run/containerd/containerd.sock -n k8s.io`).
 */
export const CTR = "apiclient exec admin sheltie ctr -a /run/containerd/containerd.sock -n k8s.io";

/** The SSM parameter reference the pull step's script is written with; Automation substitutes it before sending. */
export const IMAGE_PARAMETER = "{{ Image }}";

/**
 * The pull-and-tag step (snapshot.sh@3370ea0a steps 3-5), as the shell lines of AWS-RunShellScript's
 * `commands` (amazon-ssm-agent agent/plugins/runscript: the lines go to _script.sh, run with `sh -c`):
 * - stop kubelet so it does not garbage-collect images; remove what the AMI shipped;
 * - pull the image for amd64 under its normalized name (stacks/imageRef.ts: `ctr` does not normalize,
 *   and the kubelet asks containerd's CRI for `docker.io/<ns>/<repo>:<tag>`), labelled as CRI pulls label
 *   theirs (`io.cri-containerd.image=managed`);
 * - tag it with its repository digest too, the second name CRI's PullImage records (containerd v1.6.20
 *   pkg/cri/server/image_pull.go: imageID, repoTag, repoDigest; the same in v2.1
 *   internal/cri/server/images/image_pull.go), so a node finds it by tag or by digest and reports the
 *   digest as the pod's imageID; a digest reference is already that name.
 * `image` is a normalized reference (the runbook's parameter admits only those, IMAGE_PATTERN); the
 * runbook passes IMAGE_PARAMETER. Plain POSIX sh and ctr: the same lines run in test/cluster/imageCache.test.ts
 * against Debian's containerd.
 */
export function pullCommands(image: string = IMAGE_PARAMETER): string[] {
    return [
        "set -eu",
        `CTR="${CTR}"`,
        `image='${image}'`,
        "apiclient exec admin sheltie systemctl stop kubelet",
        "$CTR images rm $($CTR images ls -q) || true",
        '$CTR images pull --label io.cri-containerd.image=managed --platform amd64 "$image"',
        'case "$image" in',
        "  *@*) ;;",
        '  *) digest=$($CTR images ls "name==$image" | while read -r ref type dgst rest; do [ "$ref" = "$image" ] && echo "$dgst"; done)',
        '     [ -n "$digest" ] || { echo "pulled $image but containerd lists no digest for it" >&2; exit 1; }',
        '     $CTR images tag "$image" "${image%:*}@$digest" ;;',
        "esac",
        "$CTR images ls",
    ];
}

/**
 * Image references the runbook accepts: normalized ones only (a registry host with a "." or ":" or
 * `localhost` first, stacks/imageRef.ts), so a short name such as `vllm/vllm-openai:v0.33.0`, which `ctr`
 * would dial as the host `vllm`, is refused before the execution starts (SSM checks allowedPattern on
 * the parameters first); and no shell metacharacters, since the reference is spliced into the script
 * above between single quotes.
 */
export const IMAGE_PATTERN = "^(localhost(:[0-9]+)?|[a-zA-Z0-9-]+(\\.[a-zA-Z0-9-]+)+(:[0-9]+)?|[a-zA-Z0-9-]+:[0-9]+)/[a-z0-9._/-]+(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}|@sha(256|384|512):[a-f0-9]{64,128})$";

type Step = { name: string; action: string; inputs: Record<string, unknown>; [k: string]: unknown };

const instance = "{{ launch.InstanceId }}";
const cleanup = "step:terminateOnFailure";

/** The runbook (documentType Automation, schemaVersion 0.3), as the JSON object SSM stores. */
export function imageCacheRunbook() {
    const steps: Step[] = [
        {
            name: "launch",
            action: "aws:executeAwsApi",
            // A just-created instance profile can be rejected for a few seconds (IAM is eventually consistent).
            maxAttempts: 5,
            // Everything else (AMI, subnet, security group, profile, IMDSv2, encrypted volumes, tags) comes from the template.
            inputs: { Service: "ec2", Api: "RunInstances", MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateId: "{{ LaunchTemplateId }}", Version: "$Latest" } },
            outputs: [{ Name: "InstanceId", Selector: "$.Instances[0].InstanceId", Type: "String" }],
        },
        {
            name: "waitForSsm",
            action: "aws:waitForAwsResourceProperty",
            timeoutSeconds: 600,
            onFailure: cleanup,
            inputs: { Service: "ssm", Api: "DescribeInstanceInformation", Filters: [{ Key: "InstanceIds", Values: [instance] }], PropertySelector: "$.InstanceInformationList[0].PingStatus", DesiredValues: ["Online"] },
        },
        {
            name: "pullImage",
            action: "aws:runCommand",
            timeoutSeconds: 3600,
            onFailure: cleanup,
            inputs: { DocumentName: "AWS-RunShellScript", InstanceIds: [instance], TimeoutSeconds: 3600, Parameters: { commands: pullCommands(), executionTimeout: "3600" } },
        },
        { name: "stop", action: "aws:executeAwsApi", onFailure: cleanup, inputs: { Service: "ec2", Api: "StopInstances", InstanceIds: [instance] } },
        {
            name: "waitStopped",
            action: "aws:waitForAwsResourceProperty",
            timeoutSeconds: 900,
            onFailure: cleanup,
            inputs: { Service: "ec2", Api: "DescribeInstances", InstanceIds: [instance], PropertySelector: "$.Reservations[0].Instances[0].State.Name", DesiredValues: ["stopped"] },
        },
        {
            name: "findDataVolume",
            action: "aws:executeAwsApi",
            onFailure: cleanup,
            inputs: { Service: "ec2", Api: "DescribeVolumes", Filters: [{ Name: "attachment.instance-id", Values: [instance] }, { Name: "attachment.device", Values: [DATA_DEVICE] }] },
            outputs: [{ Name: "VolumeId", Selector: "$.Volumes[0].VolumeId", Type: "String" }],
        },
        {
            name: "snapshot",
            action: "aws:executeAwsApi",
            onFailure: cleanup,
            inputs: {
                Service: "ec2",
                Api: "CreateSnapshot",
                VolumeId: "{{ findDataVolume.VolumeId }}",
                Description: "gpuserve image cache: {{ Image }}",
                TagSpecifications: [
                    {
                        ResourceType: "snapshot",
                        Tags: [
                            { Key: IMAGE_CACHE_TAG, Value: "{{ Image }}" },
                            { Key: BUILDER_TAG, Value: "{{ ClusterName }}" },
                        ],
                    },
                ],
            },
            outputs: [{ Name: "SnapshotId", Selector: "$.SnapshotId", Type: "String" }],
        },
        {
            name: "waitSnapshot",
            action: "aws:waitForAwsResourceProperty",
            timeoutSeconds: 3600,
            onFailure: cleanup,
            inputs: { Service: "ec2", Api: "DescribeSnapshots", SnapshotIds: ["{{ snapshot.SnapshotId }}"], PropertySelector: "$.Snapshots[0].State", DesiredValues: ["completed"] },
        },
        { name: "terminate", action: "aws:executeAwsApi", isEnd: true, inputs: { Service: "ec2", Api: "TerminateInstances", InstanceIds: [instance] } },
        { name: "terminateOnFailure", action: "aws:executeAwsApi", isEnd: true, inputs: { Service: "ec2", Api: "TerminateInstances", InstanceIds: [instance] } },
    ];
    return {
        schemaVersion: "0.3",
        description: "Builds the gpuserve image-cache snapshot: a Bottlerocket data volume with the vLLM image pre-pulled (aws-samples/bottlerocket-images-cache).",
        assumeRole: "{{ AutomationAssumeRole }}",
        parameters: {
            Image: { type: "String", description: "Container image to pre-pull, normalized as the kubelet asks for it (serving.vllmImage through stacks/imageRef.ts).", allowedPattern: IMAGE_PATTERN },
            LaunchTemplateId: { type: "String", description: "The builder's launch template.", allowedPattern: "^lt-[0-9a-f]{8,17}$" },
            ClusterName: { type: "String", description: "Cluster the snapshot is built for (tag).", allowedPattern: "^[a-zA-Z0-9][a-zA-Z0-9_-]{0,99}$" },
            AutomationAssumeRole: { type: "String", description: "Role the automation runs as.", allowedPattern: "^arn:aws[a-z-]*:iam::\\d{12}:role/[\\w+=,.@/-]+$" },
        },
        outputs: ["snapshot.SnapshotId"],
        mainSteps: steps,
    };
}

/** `service:Api` of every AWS API the runbook calls itself (the runCommand step calls SendCommand and reads invocations). */
export function runbookApiCalls(doc: ReturnType<typeof imageCacheRunbook> = imageCacheRunbook()): string[] {
    const calls = doc.mainSteps.flatMap((s) =>
        s.action === "aws:runCommand" ? ["ssm:SendCommand", "ssm:ListCommands", "ssm:ListCommandInvocations"] : [`${s.inputs.Service}:${s.inputs.Api}`],
    );
    return [...new Set(calls)].sort();
}
