/**
 * ImageCacheBuilder: builds the image-cache EBS snapshot during `pulumi up`, and again whenever the
 * pinned vLLM image changes. An SSM Automation runbook (runbook.ts) launches a throwaway Bottlerocket
 * instance from a launch template made here (private subnet, no public IP, egress 443 only, IMDSv2,
 * encrypted volumes), pulls the image into containerd and snapshots the data volume; a State Manager
 * association with no targets runs the runbook once with the image as a parameter.
 *
 * When it runs (AWS SSM API reference, CreateAssociation / UpdateAssociation ApplyOnlyAtCronInterval):
 * "By default, when you create a new association, the system runs it immediately after it is created",
 * and with no schedule only then. `waitForSuccessTimeoutSeconds` (@pulumi/aws 7.48 ssm.Association: "If Success
 * status is not reached within the given time, create operation will fail") holds the deploy until the
 * snapshot exists, so the node groups' lookup, which depends on the association, finds it. The provider
 * waits on create only (terraform-provider-aws internal/service/ssm/association.go: resourceAssociationCreate
 * calls waitAssociationSuccess, resourceAssociationUpdate does not), hence replaceOnChanges: a new image is a
 * new association, which runs and is waited for.
 *
 * Compared line by line with aws-samples/bottlerocket-images-cache at 3370ea0a (ebs-snapshot-instance.yaml,
 * snapshot.sh); docs/scaling.md "Image cache" has the same table for readers:
 * - instance role: the sample attaches AmazonEC2ContainerRegistryReadOnly, AmazonSSMManagedInstanceCore and
 *   AmazonEKSWorkerNodePolicy. Here: SSMManagedInstanceCore (the SSM agent), AmazonEC2ContainerRegistryPullOnly
 *   (Bottlerocket pulls its control container, which runs the SSM agent, and its admin container from ECR:
 *   without it the agent never comes online and waitForSsm times out; pull-only is the read-only policy
 *   less the list/describe calls), and instead of the node policy only ec2:DescribeInstances, the one AWS
 *   call Bottlerocket's boot makes on a host with no cluster name (bottlerocket-core-kit
 *   sources/api/pluto/src/main.rs: EKS DescribeCluster only with settings.kubernetes.cluster-name set; ec2.rs
 *   DescribeInstances for a private-dns-name hostname override, retried for 5 min before pluto fails).
 * - instance profile: the same (one role).
 * - launch template: AMI from the same SSM parameter path (the cluster's Kubernetes version, not 1.27);
 *   m6i.large instead of m5.large (same size and price); user data identical (admin container on); OS volume
 *   8 GiB gp3 (sample: 10); data volume /dev/xvdb gp3 with the sample's 1000 MiB/s and 4000 IOPS, sized to the
 *   smallest GPU data volume (sample: 50 GiB) and always encrypted (sample: optional), since EC2 restores
 *   only an encrypted snapshot onto our encrypted node volumes; private subnet without public IP and our own
 *   security group with HTTPS egress only (sample: public IP, default VPC group); IMDSv2 with hop limit 1
 *   (sample: EC2 defaults); tags for the automation role's conditions.
 * - steps: the sample's CloudFormation stack + CLI loop becomes one Automation runbook (runbook.ts) with the
 *   same order: wait for SSM Online (bounded: 600 s; the sample loops for ever), stop kubelet, remove the
 *   AMI's images, pull with the CRI label for amd64, stop, snapshot /dev/xvdb, wait for `completed`, delete
 *   the instance (sample: delete the stack). We add: the normalized image name (the sample's caller must
 *   pass one), a repo-digest tag (CRI's own second name), termination on any failure, snapshot tags.
 *   Not carried over: ECR credentials for private ECR images (`--u AWS:<token>`) and several images or
 *   platforms per snapshot: the builder pulls one public image, amd64.
 * - automation role (no counterpart: the sample runs as the caller): exactly the calls of the steps
 *   (automationStatements below). aws:runCommand is granted SendCommand (document and tagged instance),
 *   and ListCommands, ListCommandInvocations, GetCommandInvocation and CancelCommand (runbook.ts
 *   RUN_COMMAND_CALLS); AWS documents no fuller list for the action (its AmazonSSMAutomationRole grants
 *   ssm:*). CloudTrail cannot settle it: State Manager does not log the API calls of an automation it runs
 *   (SSM user guide, scheduling-automations-state-manager-associations.md). So the first deploy starts the
 *   runbook once by hand (`aws ssm start-automation-execution`, docs/deploy.md "First deploy"), whose
 *   execution shows each step's API error, if any.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { normalizeImageRef } from "../../../stacks/imageRef";
import { PolicyStatement } from "../../iam/podIdentityRole";
import { BOTTLEROCKET_OS_VOLUME_GIB } from "../nodePool";
import { BUILDER_INSTANCE_TYPE } from "../../../stacks/imageCache";
import { BUILDER_TAG, BUILD_TIMEOUT_SECONDS, DATA_DEVICE, imageCacheRunbook } from "./runbook";

export interface ImageCacheBuilderArgs {
    readonly clusterName: string;
    readonly accountId: string;
    readonly region: string;
    readonly kubernetesVersion: string;
    /** Image to pre-pull (serving.vllmImage); built under its normalized name (stacks/imageRef.ts). */
    readonly image: string;
    readonly vpcId: pulumi.Input<string>;
    readonly subnetId: pulumi.Input<string>;
    /** Data volume size, GiB: at most the smallest GPU data volume the snapshot is restored onto. */
    readonly volumeSizeGiB: number;
    readonly costTags: Record<string, string>;
}

const statement = (s: PolicyStatement) => s;

/**
 * Managed policies of the builder instance: the SSM agent (AmazonSSMManagedInstanceCore), and ECR pulls of
 * Bottlerocket's control and admin host containers (bottlerocket-os/bottlerocket README, "Control container",
 * "Admin container": pulled from Amazon ECR with the instance's credentials). AmazonEC2ContainerRegistryPullOnly:
 * ecr:GetAuthorizationToken, BatchGetImage, GetDownloadUrlForLayer, BatchImportUpstreamImage (AWS managed
 * policy reference, v1 of 2024-10-04).
 */
const INSTANCE_POLICY_ARNS = ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"] as const;

/** pluto's private-dns-name lookup (bottlerocket-core-kit sources/api/pluto/src/ec2.rs); Describe* has no resource-level permissions. */
const PLUTO_STATEMENT = { Sid: "BottlerocketPlutoHostname", Effect: "Allow", Action: "ec2:DescribeInstances", Resource: "*" } as const;

export class ImageCacheBuilder extends pulumi.ComponentResource {
    readonly association: aws.ssm.Association;
    readonly automationRole: aws.iam.Role;
    readonly document: aws.ssm.Document;

    constructor(name: string, args: ImageCacheBuilderArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gpuserve:cluster:ImageCacheBuilder", name, {}, opts);
        const parent = { parent: this };
        const { region, accountId: account } = args;

        // The name the kubelet asks containerd for, which the pull stores and the snapshot tag carries.
        const image = normalizeImageRef(args.image);

        // SSM agent, Bottlerocket's own host containers from ECR, and pluto's one EC2 call (see the header);
        // the vLLM image comes from a public registry over the NAT without credentials.
        const instanceRole = new aws.iam.Role(
            `${name}-instance`,
            {
                description: `Image-cache builder instance of ${args.clusterName} (SSM agent, Bottlerocket host containers)`,
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
                }),
            },
            parent,
        );
        const instancePolicies = INSTANCE_POLICY_ARNS.map(
            (policyArn) => new aws.iam.RolePolicyAttachment(`${name}-instance-${policyArn.split("/").pop()}`, { role: instanceRole.name, policyArn }, parent),
        );
        const pluto = new aws.iam.RolePolicy(
            `${name}-instance-pluto`,
            { role: instanceRole.id, policy: JSON.stringify({ Version: "2012-10-17", Statement: [PLUTO_STATEMENT] }) },
            parent,
        );
        const profile = new aws.iam.InstanceProfile(`${name}-instance`, { role: instanceRole.name }, parent);

        // No ingress; egress HTTPS only (SSM endpoints, the registry). The VPC resolver, IMDS and time sync are not filtered by security groups.
        const sg = new aws.ec2.SecurityGroup(
            `${name}-sg`,
            {
                vpcId: args.vpcId,
                description: `Image-cache builder of ${args.clusterName}: egress HTTPS only`,
                egress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"], description: "SSM and the container registry" }],
                tags: { ...args.costTags, Name: `${name}-image-cache-builder` },
            },
            parent,
        );

        const tags = { ...args.costTags, [BUILDER_TAG]: args.clusterName, Name: `${args.clusterName}-image-cache-builder` };
        const launchTemplate = new aws.ec2.LaunchTemplate(
            `${name}-lt`,
            {
                description: `Image-cache builder of ${args.clusterName}`,
                // Resolved by EC2 at launch (EC2 user guide, "Use a Systems Manager parameter instead of an AMI ID"); the
                // sample's AMI parameter (ebs-snapshot-instance.yaml@3370ea0a), at the cluster's Kubernetes version.
                imageId: `resolve:ssm:/aws/service/bottlerocket/aws-k8s-${args.kubernetesVersion}/x86_64/latest/image_id`,
                instanceType: BUILDER_INSTANCE_TYPE,
                iamInstanceProfile: { arn: profile.arn },
                updateDefaultVersion: true,
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
                networkInterfaces: [
                    { deviceIndex: 0, subnetId: args.subnetId, securityGroups: [sg.id], associatePublicIpAddress: "false", deleteOnTermination: "true" },
                ],
                // The admin host container runs `sheltie` for the pull (ebs-snapshot-instance.yaml@3370ea0a UserData).
                userData: Buffer.from("[settings.host-containers.admin]\nenabled = true\n").toString("base64"),
                blockDeviceMappings: [
                    {
                        deviceName: "/dev/xvda",
                        ebs: { volumeSize: BOTTLEROCKET_OS_VOLUME_GIB, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" },
                    },
                    // Encrypted, so the snapshot and every node volume restored from it are (nodePool.ts blockDevices); the
                    // sample's throughput and IOPS for a fast pull.
                    {
                        deviceName: DATA_DEVICE,
                        ebs: {
                            volumeSize: args.volumeSizeGiB,
                            volumeType: "gp3",
                            encrypted: "true",
                            throughput: 1000,
                            iops: 4000,
                            deleteOnTermination: "true",
                        },
                    },
                ],
                tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({ resourceType, tags })),
            },
            parent,
        );

        this.automationRole = new aws.iam.Role(
            `${name}-automation`,
            {
                description: `Runs the image-cache build of ${args.clusterName} (SSM Automation)`,
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Principal: { Service: "ssm.amazonaws.com" },
                            Action: "sts:AssumeRole",
                            Condition: { StringEquals: { "aws:SourceAccount": account } },
                        },
                    ],
                }),
            },
            parent,
        );
        const arn = (service: string, resource: pulumi.Input<string>, withAccount = true) =>
            pulumi.interpolate`arn:aws:${service}:${region}:${withAccount ? account : ""}:${resource}`;
        const builderOnly = { StringEquals: { [`aws:ResourceTag/${BUILDER_TAG}`]: args.clusterName } };
        const automationPolicy = new aws.iam.RolePolicy(
            `${name}-automation`,
            {
                role: this.automationRole.id,
                policy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: automationStatements({
                        arn,
                        builderOnly,
                        clusterName: args.clusterName,
                        launchTemplateArn: launchTemplate.arn,
                        instanceRoleArn: instanceRole.arn,
                        subnetId: args.subnetId,
                        securityGroupId: sg.id,
                    }),
                }),
            },
            parent,
        );

        this.document = new aws.ssm.Document(
            `${name}-runbook`,
            { documentType: "Automation", documentFormat: "JSON", content: JSON.stringify(imageCacheRunbook()), tags: args.costTags },
            parent,
        );

        this.association = new aws.ssm.Association(
            `${name}-build`,
            {
                name: this.document.name,
                associationName: `${args.clusterName}-image-cache`,
                parameters: { Image: image, LaunchTemplateId: launchTemplate.id, ClusterName: args.clusterName, AutomationAssumeRole: this.automationRole.arn },
                waitForSuccessTimeoutSeconds: BUILD_TIMEOUT_SECONDS,
            },
            // A new image (or template) is a new association, which runs on creation; the old one goes.
            { parent: this, replaceOnChanges: ["parameters"], deleteBeforeReplace: true, dependsOn: [...instancePolicies, pluto, automationPolicy] },
        );
        this.registerOutputs({ association: this.association.associationId });
    }
}

/**
 * The automation role's permissions: exactly the API calls of the runbook (runbookApiCalls), scoped to the
 * builder; nothing mutating on "*". Actions, resource types and condition keys: Service Authorization Reference,
 * "Actions, resources, and condition keys for Amazon EC2" (RunInstances on instance with ec2:LaunchTemplate; CreateTags with ec2:CreateAction;
 * Stop/TerminateInstances and CreateSnapshot with aws:ResourceTag; Describe* support no resource-level
 * permissions), "... for AWS Systems Manager" (SendCommand on document and instance; DescribeInstanceInformation,
 * ListCommands, ListCommandInvocations, GetCommandInvocation and CancelCommand have no resource types: *), "... for IAM" (PassRole with iam:PassedToService). Launching
 * from an AMI named by an SSM parameter needs ssm:GetParameters on it (EC2 user guide, "Use a Systems Manager
 * parameter instead of an AMI ID").
 */
function automationStatements(a: {
    arn: (service: string, resource: pulumi.Input<string>, withAccount?: boolean) => pulumi.Output<string>;
    builderOnly: Record<string, Record<string, string>>;
    clusterName: string;
    launchTemplateArn: pulumi.Input<string>;
    instanceRoleArn: pulumi.Input<string>;
    subnetId: pulumi.Input<string>;
    securityGroupId: pulumi.Input<string>;
}): PolicyStatement[] {
    return [
        // Every resource of a RunInstances call must be allowed: the instance only from the builder's template
        // (EC2 user guide, IAM policy examples, "Require a launch template"), in the builder's subnet and group.
        statement({
            Sid: "LaunchOnlyFromTheBuilderTemplate",
            Effect: "Allow",
            Action: "ec2:RunInstances",
            Resource: a.arn("ec2", "instance/*"),
            Condition: { ArnEquals: { "ec2:LaunchTemplate": a.launchTemplateArn } },
        }),
        statement({
            Sid: "LaunchWithTheBuilderResources",
            Effect: "Allow",
            Action: "ec2:RunInstances",
            Resource: [
                a.arn("ec2", "volume/*"),
                a.arn("ec2", "network-interface/*"),
                a.arn("ec2", "image/*", false),
                a.launchTemplateArn,
                a.arn("ec2", pulumi.interpolate`subnet/${a.subnetId}`),
                a.arn("ec2", pulumi.interpolate`security-group/${a.securityGroupId}`),
            ],
        }),
        statement({
            Sid: "ResolveBottlerocketAmi",
            Effect: "Allow",
            Action: "ssm:GetParameters",
            Resource: a.arn("ssm", "parameter/aws/service/bottlerocket/*", false),
        }),
        statement({
            Sid: "PassOnlyTheBuilderRole",
            Effect: "Allow",
            Action: "iam:PassRole",
            Resource: a.instanceRoleArn,
            Condition: { StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } },
        }),
        statement({
            Sid: "TagAtLaunch",
            Effect: "Allow",
            Action: "ec2:CreateTags",
            Resource: [a.arn("ec2", "instance/*"), a.arn("ec2", "volume/*"), a.arn("ec2", "network-interface/*")],
            Condition: { StringEquals: { "ec2:CreateAction": "RunInstances" } },
        }),
        statement({
            Sid: "TagTheSnapshot",
            Effect: "Allow",
            Action: "ec2:CreateTags",
            Resource: a.arn("ec2", "snapshot/*", false),
            Condition: { StringEquals: { "ec2:CreateAction": "CreateSnapshot" } },
        }),
        statement({
            Sid: "StopAndTerminateTheBuilder",
            Effect: "Allow",
            Action: ["ec2:StopInstances", "ec2:TerminateInstances"],
            Resource: a.arn("ec2", "instance/*"),
            Condition: a.builderOnly,
        }),
        statement({
            Sid: "SnapshotTheBuilderVolume",
            Effect: "Allow",
            Action: "ec2:CreateSnapshot",
            Resource: a.arn("ec2", "volume/*"),
            Condition: a.builderOnly,
        }),
        statement({
            Sid: "CreateTheTaggedSnapshot",
            Effect: "Allow",
            Action: "ec2:CreateSnapshot",
            Resource: a.arn("ec2", "snapshot/*", false),
            Condition: { StringEquals: { [`aws:RequestTag/${BUILDER_TAG}`]: a.clusterName } },
        }),
        statement({ Sid: "RunShellScriptDocument", Effect: "Allow", Action: "ssm:SendCommand", Resource: a.arn("ssm", "document/AWS-RunShellScript", false) }),
        statement({
            Sid: "RunOnTheBuilderOnly",
            Effect: "Allow",
            Action: "ssm:SendCommand",
            Resource: a.arn("ec2", "instance/*"),
            Condition: { StringEquals: { [`ssm:resourceTag/${BUILDER_TAG}`]: a.clusterName } },
        }),
        statement({
            Sid: "ReadState",
            Effect: "Allow",
            Action: [
                "ec2:DescribeInstances",
                "ec2:DescribeSnapshots",
                "ec2:DescribeVolumes",
                "ssm:DescribeInstanceInformation",
                "ssm:GetCommandInvocation",
                "ssm:ListCommandInvocations",
                "ssm:ListCommands",
            ],
            Resource: "*",
        }),
        // aws:runCommand cancels its command when the step times out. CancelCommand has no resource types or condition
        // keys in the Service Authorization Reference ("Actions ... for AWS Systems Manager"): only "*" can grant it.
        // What it can do is stop a Run Command in this account; the role is assumable by SSM of this account only.
        statement({ Sid: "CancelTheTimedOutPull", Effect: "Allow", Action: "ssm:CancelCommand", Resource: "*" }),
    ];
}
