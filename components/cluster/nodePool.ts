/**
 * One EKS managed node group with its launch template (IMDSv2 only, hop limit 1,
 * encrypted gp3 root volume) and the Cluster Autoscaler node-template tags on its ASG.
 *
 * Why the ASG tags: to scale a group up from zero, Cluster Autoscaler must know the
 * labels, taints and GPUs a new node would have without seeing one. It reads them from
 * `k8s.io/cluster-autoscaler/node-template/...` tags on the ASG, and EKS does not copy
 * node group labels or tags to the ASG (aws/containers-roadmap#608, pulumi-eks#658).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { VolumePerformance } from "../../stacks/catalog/ebs";
import { desiredSizeFor } from "./nodeGroupSize";
import { nodeUserData } from "./userData";

export interface NodeTaint {
    readonly key: string;
    readonly value: string;
    readonly effect: "NO_SCHEDULE" | "NO_EXECUTE" | "PREFER_NO_SCHEDULE";
}

export interface NodePoolArgs {
    readonly clusterName: pulumi.Input<string>;
    readonly nodeRoleArn: pulumi.Input<string>;
    readonly subnetIds: pulumi.Input<string>[];
    readonly instanceTypes: string[];
    readonly capacityType: "SPOT" | "ON_DEMAND";
    /** EKS AMI type, e.g. "AL2023_x86_64_STANDARD" or "AL2023_x86_64_NVIDIA". */
    readonly amiType: string;
    readonly minSize: number;
    readonly maxSize: number;
    /** Desired size the group has now (read at `pulumi up`), if it exists. @default minSize */
    readonly liveDesiredSize?: number;
    readonly diskSizeGiB: number;
    readonly labels: Record<string, string>;
    /** @default [] */
    readonly taints?: NodeTaint[];
    /** GPUs per node, advertised to Cluster Autoscaler for scale from zero. @default 0 */
    readonly gpusPerNode?: number;
    /**
     * Cluster Autoscaler removes an empty node of this group after this many seconds, overriding the global
     * --scale-down-unneeded-time (ASG tag .../autoscaling-options/scaledownunneededtime). @default the global flag
     */
    readonly scaleDownUnneededSeconds?: number;
    /** Tags on the node group (e.g. why a GPU pool keeps nodes at zero load). @default {} */
    readonly tags?: Record<string, string>;
    /** Tags on the instances, root volumes and network interfaces (node groups do not pass theirs on). @default {} */
    readonly instanceTags?: Record<string, string>;
    /**
     * Bottlerocket's separate data volume (/dev/xvdb: containerd's images, pod storage), optionally restored
     * from the image-cache snapshot; the OS volume (/dev/xvda) stays small. Absent: one root volume (AL2023).
     */
    readonly dataVolume?: {
        readonly snapshotId?: pulumi.Input<string | undefined>;
        /**
         * EBS Provisioned Rate for Volume Initialization (MiB/s, 100-300) of a volume restored from the snapshot:
         * its blocks are downloaded from S3 at this rate from creation instead of lazily on first read. 0 or absent:
         * lazy (EBS user guide, "Initialize Amazon EBS volumes"). @default lazy
         */
        readonly initRateMiBps?: number;
    };
    /**
     * gp3 throughput and IOPS of the volume that holds images and pod storage (the data volume, else the root volume):
     * GPU nodes read the vLLM image and write and read their weights copy there (stacks/catalog/ebs.ts).
     * @default gp3's included 125 MiB/s and 3,000 IOPS
     */
    readonly volumePerformance?: VolumePerformance;
    /**
     * Put the kubelet's directory (every pod's emptyDir) on the instance's NVMe instance store, through the launch
     * template's user data (userData.ts); containerd's images stay on the volume. @default false
     */
    readonly kubeletOnInstanceStore?: boolean;
}

/** Bottlerocket's OS volume, GiB: larger than the AMI's own (a launch template may not shrink it). */
export const BOTTLEROCKET_OS_VOLUME_GIB = 8;

/**
 * Block devices of a node: AL2023 has one root volume; Bottlerocket an OS volume and a data volume
 * (Bottlerocket README, "Storage"; AWS containers blog, "Reduce container startup time on Amazon EKS with
 * Bottlerocket data volume"). A volume restored from a snapshot takes the snapshot's encryption: EC2 rejects
 * an explicit `encrypted` beside `snapshotId` (launch template EBS block device), so the snapshot must be
 * encrypted (docs/scaling.md, "Cold start": build it encrypted).
 */
function blockDevices(args: Pick<NodePoolArgs, "diskSizeGiB" | "dataVolume" | "volumePerformance">) {
    const ebs = (volumeSize: number) => ({ volumeSize, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" });
    // @pulumi/aws 7.48.0 LaunchTemplateBlockDeviceMappingEbs.throughput (MiB/s, gp3 only) and .iops; also with a snapshot.
    const perf = args.volumePerformance ? { throughput: args.volumePerformance.throughputMiBps, iops: args.volumePerformance.iops } : {};
    if (!args.dataVolume) return [{ deviceName: "/dev/xvda", ebs: { ...ebs(args.diskSizeGiB), ...perf } }];
    const snapshotId = args.dataVolume.snapshotId;
    const data = snapshotId
        ? pulumi.output(snapshotId).apply((id) =>
              id
                  ? {
                        volumeSize: args.diskSizeGiB,
                        volumeType: "gp3",
                        snapshotId: id,
                        deleteOnTermination: "true",
                        ...perf,
                        // @pulumi/aws 7.48.0 LaunchTemplateBlockDeviceMappingEbs.volumeInitializationRate (100-300 MiB/s); only with a snapshot.
                        ...(args.dataVolume?.initRateMiBps ? { volumeInitializationRate: args.dataVolume.initRateMiBps } : {}),
                    }
                  : { ...ebs(args.diskSizeGiB), ...perf },
          )
        : { ...ebs(args.diskSizeGiB), ...perf };
    return [
        { deviceName: "/dev/xvda", ebs: ebs(BOTTLEROCKET_OS_VOLUME_GIB) },
        { deviceName: "/dev/xvdb", ebs: data },
    ];
}

const TAINT_EFFECT: Record<NodeTaint["effect"], string> = { NO_SCHEDULE: "NoSchedule", NO_EXECUTE: "NoExecute", PREFER_NO_SCHEDULE: "PreferNoSchedule" };
const TEMPLATE_PREFIX = "k8s.io/cluster-autoscaler/node-template";

/** The ASG tags Cluster Autoscaler reads to build a node template for scale from zero. */
function autoscalerTemplateTags(args: Pick<NodePoolArgs, "labels" | "taints" | "gpusPerNode" | "scaleDownUnneededSeconds">): Record<string, string> {
    const tags: Record<string, string> = {};
    for (const [k, v] of Object.entries(args.labels)) tags[`${TEMPLATE_PREFIX}/label/${k}`] = v;
    for (const t of args.taints ?? []) tags[`${TEMPLATE_PREFIX}/taint/${t.key}`] = `${t.value}:${TAINT_EFFECT[t.effect]}`;
    if (args.gpusPerNode) tags[`${TEMPLATE_PREFIX}/resources/nvidia.com/gpu`] = String(args.gpusPerNode);
    // Per-ASG override of --scale-down-unneeded-time, a Go duration (time.ParseDuration): kubernetes/autoscaler
    // cluster-autoscaler/cloudprovider/aws/README.md and aws_manager.go (config.DefaultScaleDownUnneededTimeKey)
    // at cluster-autoscaler-1.35.0. scale-down-delay-after-add has no per-group option there: it stays global.
    if (args.scaleDownUnneededSeconds !== undefined) tags[`${TEMPLATE_PREFIX}/autoscaling-options/scaledownunneededtime`] = `${args.scaleDownUnneededSeconds}s`;
    return tags;
}

export class NodePool extends pulumi.ComponentResource {
    /** Prefix of the node group's physical name (Pulumi appends a random suffix). */
    static namePrefix(name: string): string {
        return `${name}-ng`;
    }
    readonly nodeGroup: aws.eks.NodeGroup;
    readonly asgName: pulumi.Output<string>;

    constructor(name: string, args: NodePoolArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gpuserve:cluster:NodePool", name, {}, opts);
        const parent = { parent: this };

        const launchTemplate = new aws.ec2.LaunchTemplate(
            `${name}-lt`,
            {
                description: `Launch template of node group ${name}`,
                updateDefaultVersion: true,
                metadataOptions: {
                    httpEndpoint: "enabled",
                    httpTokens: "required", // IMDSv2 only
                    httpPutResponseHopLimit: 1, // pods cannot reach the node's credentials
                    instanceMetadataTags: "disabled",
                },
                blockDeviceMappings: blockDevices(args),
                userData: nodeUserData(args.amiType, args.kubeletOnInstanceStore ?? false),
                tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({
                    resourceType,
                    tags: { ...args.instanceTags, Name: name },
                })),
            },
            parent,
        );

        this.nodeGroup = new aws.eks.NodeGroup(
            NodePool.namePrefix(name),
            {
                clusterName: args.clusterName,
                nodeRoleArn: args.nodeRoleArn,
                subnetIds: args.subnetIds,
                amiType: args.amiType,
                instanceTypes: args.instanceTypes,
                capacityType: args.capacityType,
                scalingConfig: { minSize: args.minSize, maxSize: args.maxSize, desiredSize: desiredSizeFor(args.minSize, args.maxSize, args.liveDesiredSize) },
                labels: args.labels,
                taints: args.taints,
                launchTemplate: { id: launchTemplate.id, version: pulumi.interpolate`${launchTemplate.latestVersion}` },
                updateConfig: { maxUnavailable: 1 },
                nodeRepairConfig: { enabled: true },
                tags: args.tags,
            },
            // Cluster Autoscaler owns the desired size: Pulumi sends the live one, kept >= minSize (nodeGroupSize.ts).
            { parent: this },
        );

        this.asgName = this.nodeGroup.resources.apply((r) => r[0]?.autoscalingGroups?.[0]?.name ?? "");
        for (const [key, value] of Object.entries(autoscalerTemplateTags(args))) {
            const short = key.slice(TEMPLATE_PREFIX.length + 1).replace(/[^a-zA-Z0-9]+/g, "-");
            new aws.autoscaling.Tag(`${name}-${short}`, { autoscalingGroupName: this.asgName, tag: { key, value, propagateAtLaunch: false } }, parent);
        }
        this.registerOutputs({ nodeGroupName: this.nodeGroup.nodeGroupName, asgName: this.asgName });
    }
}
