/**
 * The SSM Automation runbook that builds the image-cache snapshot: the steps of
 * aws-samples/bottlerocket-images-cache `snapshot.sh` (commit 3370ea0a, 2025-04-15) as one
 * declarative document, so `pulumi up` builds it (State Manager association, builder.ts):
 *   launch a Bottlerocket instance from the builder's launch template -> wait until SSM sees it
 *   -> stop kubelet, clear containerd's images, pull the vLLM image into its `k8s.io` namespace
 *   -> stop the instance -> snapshot the data volume (/dev/xvdb), tagged gpuserve.io/image=<image>
 *   -> wait until the snapshot is completed -> terminate the instance.
 * Every step after the launch goes to `terminateOnFailure` when it fails, so no builder outlives a
 * failed build, and says `isCritical: true` outright: the user guide's common properties
 * (awsdocs/aws-systems-manager-user-guide doc_source/automation-actions.md, isCritical) say the
 * property "is only evaluated if you explicitly define it in your step", so a step that jumps to
 * cleanup without it could let the execution end in the clean-up step's Success, and the
 * association would report a build that made no snapshot as done.
 *
 * Time: the steps' own bounds (STEP_TIMEOUTS, plus every aws:executeAwsApi call at its 25 s and
 * the launch's retries) add up to at most BUILD_TIMEOUT_SECONDS, the association's wait, so the
 * execution ends (Success, or Failed with the builder terminated) before `pulumi up` stops waiting;
 * test/components/coldStartDeployed.test.ts adds them up. A build that does time out (a slow registry, a
 * snapshot EBS took long to complete) fails the `pulumi up` that created the association; run the
 * build again with `pulumi up --replace <the association's URN>` (docs/deploy.md, "First deploy").
 *
 * Actions (AWS Systems Manager user guide): aws:executeAwsApi (inputs Service, Api, the API's own
 * parameters; outputs Name/Selector/Type, JSONPath; at most 25 s per call), aws:waitForAwsResourceProperty
 * (PropertySelector, DesiredValues; default timeout 3600 s), aws:runCommand (SendCommand parameters).
 */

/** Tag of an image-cache snapshot: the vLLM image it holds (docs/scaling.md, "Cold start"). */
export const IMAGE_CACHE_TAG = "gpuserve.io/image";
/** Tag of the builder instance and its volumes: the cluster it builds for (scopes the automation role). */
export const BUILDER_TAG = "gpuserve.io/image-cache-builder";
/** Upper bound of one build (launch, ~10 GB pull, stop, first full snapshot); the association waits this long. */
export const BUILD_TIMEOUT_SECONDS = 5400;

/**
 * Each waiting step's bound, seconds; with the API calls' bounds (API_CALL_SECONDS) they add up to at most
 * BUILD_TIMEOUT_SECONDS. SSM Online: Bottlerocket boots and its control container starts in ~1-2 min (600 s
 * is the bound the sample lacks). The pull: ~10 GB in 2-8 min measured (facts.md), 25 min allowed. Stop:
 * minutes at most. The snapshot: EBS does not bound a first full snapshot of ~35 GB; what is left, 40 min.
 */
const STEP_TIMEOUTS = { waitForSsm: 600, pullImage: 1500, waitStopped: 600, waitSnapshot: 2400 } as const;
/** An aws:executeAwsApi call runs at most this long (user guide, "aws:executeAwsApi": "up to 25 seconds"). */
export const API_CALL_SECONDS = 25;
/** Attempts of the launch (a just-created instance profile can be rejected for a few seconds). */
const LAUNCH_ATTEMPTS = 5;
/** How long the pull step waits for Bottlerocket's admin container (tries x 5 s). */
const ADMIN_WAIT_TRIES = 60;
/** The data volume Bottlerocket keeps containerd's store on (Bottlerocket README, "Storage"). */
export const DATA_DEVICE = "/dev/xvdb";

/**
 * containerd's client inside Bottlerocket, reached through the admin container: the sample's CTR_CMD
 * (snapshot.sh@3370ea0a: `apiclient exec admin sheltie ctr -a /run/containerd/containerd.sock -n k8s.io`).
 */
const CTR = "apiclient exec admin sheltie ctr -a /run/containerd/containerd.sock -n k8s.io";

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
function pullCommands(image: string = IMAGE_PARAMETER): string[] {
    return [
        "set -eu",
        `CTR="${CTR}"`,
        `image='${image}'`,
        // SSM reports Online once the control container's agent runs; the admin container (which `sheltie` needs) may
        // still be pulling from ECR then. Wait for it, bounded (the sample sends its commands at once: the same race).
        "n=0",
        "until apiclient exec admin sheltie true >/dev/null 2>&1; do",
        `  n=$((n + 1)); [ "$n" -lt ${ADMIN_WAIT_TRIES} ] || { echo "the admin container did not answer in ${ADMIN_WAIT_TRIES * 5} s" >&2; exit 1; }`,
        "  sleep 5",
        "done",
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
export const IMAGE_PATTERN =
    "^(localhost(:[0-9]+)?|[a-zA-Z0-9-]+(\\.[a-zA-Z0-9-]+)+(:[0-9]+)?|[a-zA-Z0-9-]+:[0-9]+)/[a-z0-9._/-]+(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}|@sha(256|384|512):[a-f0-9]{64,128})$";

type Step = { name: string; action: string; inputs: Record<string, unknown>; [k: string]: unknown };

const instance = "{{ launch.InstanceId }}";
/** On failure: terminate the builder, and report the execution Failed (isCritical must be explicit to count). */
const cleanup = { onFailure: "step:terminateOnFailure", isCritical: true } as const;

/** The runbook (documentType Automation, schemaVersion 0.3), as the JSON object SSM stores. */
export function imageCacheRunbook() {
    const steps: Step[] = [
        {
            name: "launch",
            action: "aws:executeAwsApi",
            // A just-created instance profile can be rejected for a few seconds (IAM is eventually consistent).
            maxAttempts: LAUNCH_ATTEMPTS,
            // Everything else (AMI, subnet, security group, profile, IMDSv2, encrypted volumes, tags) comes from the template.
            inputs: {
                Service: "ec2",
                Api: "RunInstances",
                MinCount: 1,
                MaxCount: 1,
                LaunchTemplate: { LaunchTemplateId: "{{ LaunchTemplateId }}", Version: "$Latest" },
            },
            outputs: [{ Name: "InstanceId", Selector: "$.Instances[0].InstanceId", Type: "String" }],
        },
        {
            name: "waitForSsm",
            action: "aws:waitForAwsResourceProperty",
            timeoutSeconds: STEP_TIMEOUTS.waitForSsm,
            ...cleanup,
            inputs: {
                Service: "ssm",
                Api: "DescribeInstanceInformation",
                Filters: [{ Key: "InstanceIds", Values: [instance] }],
                PropertySelector: "$.InstanceInformationList[0].PingStatus",
                DesiredValues: ["Online"],
            },
        },
        {
            name: "pullImage",
            action: "aws:runCommand",
            timeoutSeconds: STEP_TIMEOUTS.pullImage,
            ...cleanup,
            inputs: {
                DocumentName: "AWS-RunShellScript",
                InstanceIds: [instance],
                TimeoutSeconds: STEP_TIMEOUTS.pullImage,
                Parameters: { commands: pullCommands(), executionTimeout: String(STEP_TIMEOUTS.pullImage) },
            },
        },
        { name: "stop", action: "aws:executeAwsApi", ...cleanup, inputs: { Service: "ec2", Api: "StopInstances", InstanceIds: [instance] } },
        {
            name: "waitStopped",
            action: "aws:waitForAwsResourceProperty",
            timeoutSeconds: STEP_TIMEOUTS.waitStopped,
            ...cleanup,
            inputs: {
                Service: "ec2",
                Api: "DescribeInstances",
                InstanceIds: [instance],
                PropertySelector: "$.Reservations[0].Instances[0].State.Name",
                DesiredValues: ["stopped"],
            },
        },
        {
            name: "findDataVolume",
            action: "aws:executeAwsApi",
            ...cleanup,
            inputs: {
                Service: "ec2",
                Api: "DescribeVolumes",
                Filters: [
                    { Name: "attachment.instance-id", Values: [instance] },
                    { Name: "attachment.device", Values: [DATA_DEVICE] },
                ],
            },
            outputs: [{ Name: "VolumeId", Selector: "$.Volumes[0].VolumeId", Type: "String" }],
        },
        {
            name: "snapshot",
            action: "aws:executeAwsApi",
            ...cleanup,
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
            timeoutSeconds: STEP_TIMEOUTS.waitSnapshot,
            ...cleanup,
            inputs: {
                Service: "ec2",
                Api: "DescribeSnapshots",
                SnapshotIds: ["{{ snapshot.SnapshotId }}"],
                PropertySelector: "$.Snapshots[0].State",
                DesiredValues: ["completed"],
            },
        },
        { name: "terminate", action: "aws:executeAwsApi", isEnd: true, inputs: { Service: "ec2", Api: "TerminateInstances", InstanceIds: [instance] } },
        {
            name: "terminateOnFailure",
            action: "aws:executeAwsApi",
            isEnd: true,
            inputs: { Service: "ec2", Api: "TerminateInstances", InstanceIds: [instance] },
        },
    ];
    return {
        schemaVersion: "0.3",
        description:
            "Builds the gpuserve image-cache snapshot: a Bottlerocket data volume with the vLLM image pre-pulled (aws-samples/bottlerocket-images-cache).",
        assumeRole: "{{ AutomationAssumeRole }}",
        parameters: {
            Image: {
                type: "String",
                description: "Container image to pre-pull, normalized as the kubelet asks for it (serving.vllmImage through stacks/imageRef.ts).",
                allowedPattern: IMAGE_PATTERN,
            },
            LaunchTemplateId: { type: "String", description: "The builder's launch template.", allowedPattern: "^lt-[0-9a-f]{8,17}$" },
            ClusterName: { type: "String", description: "Cluster the snapshot is built for (tag).", allowedPattern: "^[a-zA-Z0-9][a-zA-Z0-9_-]{0,99}$" },
            AutomationAssumeRole: {
                type: "String",
                description: "Role the automation runs as.",
                allowedPattern: "^arn:aws[a-z-]*:iam::\\d{12}:role/[\\w+=,.@/-]+$",
            },
        },
        outputs: ["snapshot.SnapshotId"],
        mainSteps: steps,
    };
}

/**
 * What aws:runCommand calls as the automation role: it sends the command, polls its invocations, and cancels
 * the command when the step times out. AWS documents no list for the action; AWS's own AmazonSSMAutomationRole
 * grants ssm:* for it. These are the Run Command APIs a send-wait-cancel cycle uses (SSM API reference:
 * SendCommand, ListCommands, ListCommandInvocations, GetCommandInvocation, CancelCommand); the first manual
 * run on a new account (docs/deploy.md, "First deploy") is what shows whether one is missing.
 */
const RUN_COMMAND_CALLS = ["ssm:SendCommand", "ssm:ListCommands", "ssm:ListCommandInvocations", "ssm:GetCommandInvocation", "ssm:CancelCommand"] as const;

/** `service:Api` of every AWS API the runbook calls itself (the runCommand step: RUN_COMMAND_CALLS). */
export function runbookApiCalls(doc: ReturnType<typeof imageCacheRunbook> = imageCacheRunbook()): string[] {
    const calls = doc.mainSteps.flatMap((s) =>
        s.action === "aws:runCommand" ? [...RUN_COMMAND_CALLS] : [`${String(s.inputs.Service)}:${String(s.inputs.Api)}`],
    );
    return [...new Set(calls)].sort();
}
