/**
 * GpuCluster: EKS (API auth mode, STANDARD support, KMS-encrypted secrets, control-plane
 * logs), pinned EKS managed add-ons, a CPU system node group, one scale-from-zero GPU node
 * group per pool, a default encrypted gp3 StorageClass, and a Kubernetes provider.
 */
import * as aws from "@pulumi/aws";
import * as eks from "@pulumi/eks";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { normalizeImageRef } from "../../stacks/imageRef";
import { nodeVolumePerformance } from "../../stacks/catalog/ebs";
import type { ResolvedGpuPool } from "../../stacks/resolved";
import { PodIdentityRole } from "../iam/podIdentityRole";
import { callerRoleArn, explicitAdminPrincipals } from "./accessEntries";
import { ImageCacheBuilder } from "./imageCache/builder";
import { IMAGE_CACHE_TAG } from "./imageCache/runbook";
import { NodePool } from "./nodePool";
import { EksAddonVersions } from "./versions";
import { poolUnneededSeconds } from "../../stacks/model/coldStartPhases";

/** Label and taint every GPU node carries; workloads select and tolerate these. */
export const GPU_TAINT = { key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" } as const;
export const GPU_POOL_LABEL = "gpuserve.io/gpu-pool";
const GPU_TYPE_LABEL = "gpuserve.io/gpu-type";
/** GPU node OS label: the device plugin chart stays off Bottlerocket nodes, whose NVIDIA variant has the plugin built in. */
export const GPU_OS_LABEL = "gpuserve.io/os";
/** EKS AMI types (EKS API Nodegroup.amiType). */
const GPU_AMI_TYPES: Record<ResolvedGpuPool["ami"], string> = { bottlerocket: "BOTTLEROCKET_x86_64_NVIDIA", al2023: "AL2023_x86_64_NVIDIA" };
export const SYSTEM_LABEL = "gpuserve.io/role";
/** Node group tag that states why a GPU pool keeps nodes at zero load (read by the policy pack). */
const MIN_NODES_REASON_TAG = "gpuserve.io/min-nodes-reason";
/** Cluster tag the policy pack reads to apply production rules. */
const PRODUCTION_TAG = "gpuserve.io/production";
/** The default StorageClass the cluster creates (encrypted gp3). */
export const STORAGE_CLASS = "gp3-encrypted";

/** `k8s.amazonaws.com/accelerator` values Cluster Autoscaler uses to wait for the device plugin. */
const ACCELERATOR: Record<ResolvedGpuPool["gpuType"], string> = {
    a10g: "nvidia-a10g",
    l4: "nvidia-l4",
    l40s: "nvidia-l40s",
    "a100-40gb": "nvidia-tesla-a100",
    "a100-80gb": "nvidia-a100-80gb",
};

export function gpuNodeLabels(pool: Pick<ResolvedGpuPool, "name" | "gpuType" | "ami">): Record<string, string> {
    return {
        [GPU_POOL_LABEL]: pool.name,
        [GPU_TYPE_LABEL]: pool.gpuType,
        [GPU_OS_LABEL]: pool.ami,
        "nvidia.com/gpu.present": "true", // the device plugin's node affinity
        "k8s.amazonaws.com/accelerator": ACCELERATOR[pool.gpuType],
    };
}

export interface GpuClusterArgs {
    /** EKS cluster name. */
    readonly clusterName: string;
    readonly kubernetesVersion: string;
    readonly addonVersions: EksAddonVersions;
    readonly vpcId: pulumi.Input<string>;
    readonly publicSubnetIds: pulumi.Input<string>[];
    readonly privateSubnetIds: pulumi.Input<string>[];
    readonly endpointPublicAccessCidrs: string[];
    /** IAM principals given cluster-admin through access entries. */
    readonly adminPrincipalArns: string[];
    /** ARN of the identity running `pulumi up` (sts:GetCallerIdentity); EKS makes it admin already. */
    readonly deployerArn: string;
    readonly accountId: string;
    readonly region: string;
    readonly logTypes: string[];
    readonly logRetentionDays: number;
    /** Production guardrails: deletion protection, and the policy pack's production rules. */
    readonly production: boolean;
    readonly systemNodes: { readonly instanceTypes: string[]; readonly minSize: number; readonly maxSize: number; readonly diskSizeGiB: number };
    readonly gpuPools: ResolvedGpuPool[];
    /** Cost-allocation tags for what EC2 and the EBS CSI driver create outside Pulumi's provider (instances, volumes). */
    readonly costTags: Record<string, string>;
    /**
     * Restore Bottlerocket GPU nodes' data volume from the snapshot holding this vLLM image: `snapshotId`,
     * or the newest own completed snapshot tagged gpuserve.io/image=<image>, which the stack builds
     * (ImageCacheBuilder) when no `snapshotId` is given. Absent: nodes pull the image.
     */
    readonly imageCache?: {
        readonly image: string;
        readonly snapshotId?: string;
        /** coldStart.imageCacheInitRateMiBps (0: lazy). @default 0 */ readonly initRateMiBps?: number;
    };
    /** Live desired sizes of existing node groups by name prefix (gpuNodeGroupPrefixes), read at `pulumi up`. @default {} */
    readonly liveDesiredSizes?: Record<string, number>;
}

/** Name prefixes of the cluster's node groups, the keys of GpuClusterArgs.liveDesiredSizes. */
export function nodeGroupPrefixes(name: string, gpuPools: Pick<ResolvedGpuPool, "name">[]): { system: string; gpu: Record<string, string> } {
    return {
        system: NodePool.namePrefix(`${name}-system`),
        gpu: Object.fromEntries(gpuPools.map((p) => [p.name, NodePool.namePrefix(`${name}-gpu-${p.name}`)])),
    };
}

/**
 * The image-cache snapshot for `image`: the configured id, else the newest completed snapshot this
 * account owns with the tag gpuserve.io/image=<image> (aws.ebs.getSnapshotIds, ids newest first).
 * None found: nodes work without it (they pull the image) and the deploy says so.
 */
function imageCacheSnapshot(cache: { image: string; snapshotId?: string }, opts: pulumi.InvokeOutputOptions): pulumi.Output<string | undefined> {
    if (cache.snapshotId) return pulumi.output(cache.snapshotId);
    // The builder tags the snapshot with the normalized name it pulled (imageCache/builder.ts).
    const image = normalizeImageRef(cache.image);
    const found = aws.ebs.getSnapshotIdsOutput(
        {
            owners: ["self"],
            filters: [
                { name: `tag:${IMAGE_CACHE_TAG}`, values: [image] },
                { name: "status", values: ["completed"] },
            ],
        },
        opts,
    );
    return found.ids.apply((ids) => {
        if (!ids || ids.length === 0) {
            void pulumi.log.warn(
                `no image-cache snapshot tagged ${IMAGE_CACHE_TAG}=${image}: GPU nodes will pull the vLLM image at every scale-up (minutes). The stack builds it (docs/scaling.md, "Cold start")`,
            );
            return undefined;
        }
        return ids[0];
    });
}

export class GpuCluster extends pulumi.ComponentResource {
    readonly clusterName: pulumi.Output<string>;
    readonly clusterArn: pulumi.Output<string>;
    readonly kubeconfig: pulumi.Output<string>;
    /** API server endpoint and CA (base64 PEM): what a team stack builds its own kubeconfig from. */
    readonly endpoint: pulumi.Output<string>;
    readonly certificateAuthority: pulumi.Output<string>;
    readonly kubernetesVersion: string;
    readonly provider: k8s.Provider;
    readonly nodeRoleArn: pulumi.Output<string>;
    readonly clusterSecurityGroupId: pulumi.Output<string>;
    readonly systemNodes: NodePool;
    readonly gpuNodePools: Record<string, NodePool>;
    /** Builds the image-cache snapshot (imageCache without a snapshotId). */
    readonly imageCacheBuilder?: ImageCacheBuilder;
    /** Resources Kubernetes workloads should wait for (nodes and core add-ons). */
    readonly ready: pulumi.Resource[];

    constructor(name: string, args: GpuClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gpuserve:cluster:GpuCluster", name, {}, opts);
        const parent = { parent: this };

        const secretsKey = new aws.kms.Key(
            `${name}-secrets`,
            { description: `EKS secrets envelope encryption for ${args.clusterName}`, enableKeyRotation: true, deletionWindowInDays: 30 },
            parent,
        );
        new aws.kms.Alias(`${name}-secrets`, { name: `alias/${args.clusterName}-eks-secrets`, targetKeyId: secretsKey.keyId }, parent);

        // Created before the cluster so EKS does not create it with unlimited retention.
        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-logs`,
            { name: `/aws/eks/${args.clusterName}/cluster`, retentionInDays: args.logRetentionDays },
            parent,
        );

        const nodeRole = new aws.iam.Role(
            `${name}-node`,
            {
                description: `EKS node role of ${args.clusterName}`,
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
                }),
            },
            parent,
        );
        const nodePolicies = ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"].map(
            (p) => new aws.iam.RolePolicyAttachment(`${name}-node-${p}`, { role: nodeRole.name, policyArn: `arn:aws:iam::aws:policy/${p}` }, parent),
        );

        const accessEntries: Record<string, eks.types.input.AccessEntryArgs> = {};
        const admins = explicitAdminPrincipals(args.adminPrincipalArns, args.deployerArn);
        for (const arn of admins.skipped) {
            void pulumi.log.info(
                `${arn} runs this deployment (as ${callerRoleArn(args.deployerArn)}) and gets cluster-admin from EKS as the cluster creator (pulumi-eks always bootstraps it): no explicit access entry, which would fail with 409`,
                this,
            );
        }
        for (const arn of admins.entries) {
            accessEntries[
                `admin-${arn
                    .split("/")
                    .pop()!
                    .replace(/[^a-zA-Z0-9-]/g, "-")}`
            ] = {
                principalArn: arn,
                accessPolicies: {
                    admin: { policyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", accessScope: { type: "cluster" } },
                },
            };
        }

        const cluster = new eks.Cluster(
            `${name}-eks`,
            {
                name: args.clusterName,
                version: args.kubernetesVersion,
                vpcId: args.vpcId,
                publicSubnetIds: args.publicSubnetIds,
                privateSubnetIds: args.privateSubnetIds,
                nodeAssociatePublicIpAddress: false,
                skipDefaultNodeGroup: true,
                authenticationMode: eks.AuthenticationMode.Api,
                accessEntries,
                upgradePolicy: { supportType: "STANDARD" }, // EXTENDED costs 6x per hour
                encryptionConfigKeyArn: secretsKey.arn,
                enabledClusterLogTypes: args.logTypes,
                endpointPrivateAccess: true,
                endpointPublicAccess: true,
                publicAccessCidrs: args.endpointPublicAccessCidrs,
                createOidcProvider: false, // workloads get AWS access through EKS Pod Identity
                deletionProtection: args.production,
                clusterTags: { [PRODUCTION_TAG]: String(args.production) },
                vpcCniOptions: { addonVersion: args.addonVersions.vpcCni, enableNetworkPolicy: true },
                // CoreDNS needs a node to become ACTIVE: created below, after the system nodes.
                corednsAddonOptions: { enabled: false },
                kubeProxyAddonOptions: { version: args.addonVersions.kubeProxy },
            },
            { parent: this, dependsOn: [logGroup] },
        );
        this.clusterName = cluster.eksCluster.name;
        this.clusterArn = cluster.eksCluster.arn;
        this.kubeconfig = pulumi.secret(cluster.kubeconfigJson);
        this.endpoint = cluster.eksCluster.endpoint;
        this.certificateAuthority = cluster.eksCluster.certificateAuthority.data;
        this.kubernetesVersion = args.kubernetesVersion;
        // The security group EKS creates and attaches to managed nodes (and so to pod ENIs),
        // not pulumi-eks's control-plane group: the ALB's rules must open this one.
        this.clusterSecurityGroupId = cluster.eksCluster.vpcConfig.clusterSecurityGroupId;
        this.nodeRoleArn = nodeRole.arn;

        const nodeDeps = { parent: this, dependsOn: nodePolicies };
        const prefixes = nodeGroupPrefixes(name, args.gpuPools);
        this.systemNodes = new NodePool(
            `${name}-system`,
            {
                clusterName: this.clusterName,
                nodeRoleArn: nodeRole.arn,
                subnetIds: args.privateSubnetIds,
                instanceTypes: args.systemNodes.instanceTypes,
                capacityType: "ON_DEMAND",
                amiType: "AL2023_x86_64_STANDARD",
                minSize: args.systemNodes.minSize,
                maxSize: args.systemNodes.maxSize,
                liveDesiredSize: args.liveDesiredSizes?.[prefixes.system],
                diskSizeGiB: args.systemNodes.diskSizeGiB,
                labels: { [SYSTEM_LABEL]: "system" },
                instanceTags: args.costTags,
            },
            nodeDeps,
        );

        this.gpuNodePools = {};
        const bottlerocket = args.gpuPools.filter((p) => p.ami === "bottlerocket");
        if (args.imageCache && !args.imageCache.snapshotId && bottlerocket.length > 0) {
            this.imageCacheBuilder = new ImageCacheBuilder(
                `${name}-image-cache`,
                {
                    clusterName: args.clusterName,
                    accountId: args.accountId,
                    region: args.region,
                    kubernetesVersion: args.kubernetesVersion,
                    image: args.imageCache.image,
                    vpcId: args.vpcId,
                    subnetId: args.privateSubnetIds[0],
                    // A launch template may not restore a snapshot onto a smaller volume.
                    volumeSizeGiB: Math.min(...bottlerocket.map((p) => p.diskSizeGiB)),
                    costTags: args.costTags,
                },
                parent,
            );
        }
        // The lookup runs after the build, so a new image's snapshot is the one found.
        const snapshotId = args.imageCache
            ? imageCacheSnapshot(args.imageCache, { parent: this, dependsOn: this.imageCacheBuilder ? [this.imageCacheBuilder.association] : [] })
            : undefined;
        for (const pool of args.gpuPools) {
            this.gpuNodePools[pool.name] = new NodePool(
                `${name}-gpu-${pool.name}`,
                {
                    clusterName: this.clusterName,
                    nodeRoleArn: nodeRole.arn,
                    subnetIds: args.privateSubnetIds,
                    instanceTypes: pool.instanceTypes,
                    capacityType: pool.capacityType === "spot" ? "SPOT" : "ON_DEMAND",
                    // Bottlerocket NVIDIA: driver + built-in device plugin; AL2023 NVIDIA: driver and toolkit, plugin from the chart.
                    amiType: GPU_AMI_TYPES[pool.ami],
                    dataVolume: pool.ami === "bottlerocket" ? { snapshotId, initRateMiBps: args.imageCache?.initRateMiBps } : undefined,
                    volumePerformance: nodeVolumePerformance(pool.instanceTypes),
                    kubeletOnInstanceStore: pool.podStorage === "instanceStore",
                    minSize: pool.minNodes,
                    maxSize: pool.maxNodes,
                    liveDesiredSize: args.liveDesiredSizes?.[prefixes.gpu[pool.name]],
                    diskSizeGiB: pool.diskSizeGiB,
                    labels: gpuNodeLabels(pool),
                    taints: [GPU_TAINT],
                    gpusPerNode: pool.gpusPerNode,
                    scaleDownUnneededSeconds: poolUnneededSeconds(pool),
                    tags: pool.minNodesReason ? { [MIN_NODES_REASON_TAG]: pool.minNodesReason } : undefined,
                    instanceTags: args.costTags,
                },
                nodeDeps,
            );
        }

        const addon = (addonName: string, version: string, extra: Partial<aws.eks.AddonArgs> = {}) =>
            new aws.eks.Addon(
                `${name}-${addonName}`,
                {
                    clusterName: this.clusterName,
                    addonName,
                    addonVersion: version,
                    resolveConflictsOnCreate: "OVERWRITE",
                    resolveConflictsOnUpdate: "OVERWRITE",
                    ...extra,
                },
                // Add-on pods need a node to become ACTIVE.
                { parent: this, dependsOn: [this.systemNodes] },
            );
        const podIdentityAgent = addon("eks-pod-identity-agent", args.addonVersions.podIdentityAgent);
        const coredns = addon("coredns", args.addonVersions.coredns);
        const ebsCsiRole = new PodIdentityRole(
            `${name}-ebs-csi`,
            {
                clusterName: this.clusterName,
                clusterArn: this.clusterArn,
                namespace: "kube-system",
                serviceAccount: "ebs-csi-controller-sa",
                managedPolicyArns: ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
                associate: false, // the add-on creates the association below
            },
            parent,
        );
        const ebsCsi = addon("aws-ebs-csi-driver", args.addonVersions.ebsCsiDriver, {
            podIdentityAssociations: [{ roleArn: ebsCsiRole.roleArn, serviceAccount: "ebs-csi-controller-sa" }],
        });

        this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig, enableServerSideApply: true }, parent);

        // Encrypted gp3 as the default class (Prometheus and Grafana volumes, model caches).
        const gp3 = new k8s.storage.v1.StorageClass(
            `${name}-gp3`,
            {
                metadata: { name: STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
                provisioner: "ebs.csi.aws.com",
                volumeBindingMode: "WaitForFirstConsumer",
                allowVolumeExpansion: true,
                reclaimPolicy: "Delete",
                parameters: {
                    type: "gp3",
                    encrypted: "true",
                    "csi.storage.k8s.io/fstype": "ext4",
                    // Volumes the CSI driver creates carry the stack's cost-allocation tags.
                    ...Object.fromEntries(Object.entries(args.costTags).map(([k, v], i) => [`tagSpecification_${i + 1}`, `${k}=${v}`])),
                },
            },
            { parent: this, provider: this.provider, dependsOn: [ebsCsi] },
        );

        this.ready = [this.systemNodes, podIdentityAgent, coredns, ebsCsi, gp3];
        this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig, nodeRoleArn: this.nodeRoleArn });
    }
}
