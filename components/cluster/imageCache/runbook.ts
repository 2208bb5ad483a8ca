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
const CTR = "apiclient exec admin sheltie ctr -a /run/containerd/containerd.sock -n k8s.io";

/**
 * What the instance runs (snapshot.sh@3370ea0a steps 3-5): stop kubelet so it does not garbage-collect
 * images, remove what the AMI shipped, pull the image for amd64 with the label the CRI plugin gives the
 * images it manages (`io.cri-containerd.image=managed`), so kubelet sees it as present.
 */
export function pullCommands(image: string): string[] {
    return [
        "set -eu",
        "apiclient exec admin sheltie systemctl stop kubelet",
        `${CTR} images rm $(${CTR} images ls -q) || true`,
        `${CTR} images pull --label io.cri-containerd.image=managed --platform amd64 ${image}`,
    ];
}

/**
 * Image references the runbook accepts: no shell metacharacters, since the reference is spliced into the
 * shell command above (SSM parameters' allowedPattern is checked before the execution starts).
 */
export const IMAGE_PATTERN = "^[a-zA-Z0-9][a-zA-Z0-9._/:@-]{0,254}$";

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
            inputs: { DocumentName: "AWS-RunShellScript", InstanceIds: [instance], TimeoutSeconds: 3600, Parameters: { commands: pullCommands("{{ Image }}"), executionTimeout: "3600" } },
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
            Image: { type: "String", description: "Container image to pre-pull (serving.vllmImage).", allowedPattern: IMAGE_PATTERN },
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
