/**
 * Model weights in S3: the stack's private bucket, the sync Job per model (copies the pinned
 * revision from Hugging Face once), its write role, and the network policies these pods need
 * (HTTPS out for the sync Job; the EKS Pod Identity agent at 169.254.170.23:80 for every pod
 * that gets AWS credentials). Workers get their own read-only role (vllm/coldStartPod.ts).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PodIdentityRole } from "../../iam/podIdentityRole";
import { childOf } from "../../deps";
import { NON_PUBLIC_RANGES } from "../namespace";
import { WeightsBucket } from "./bucket";
import { syncS3Statements } from "./readRole";
import { SyncJobModel, WEIGHTS_SYNC_COMPONENT, WEIGHTS_SYNC_SA, weightsSyncJob } from "./syncJob";

/** The EKS Pod Identity agent's link-local address (EKS user guide, pod-id-agent-setup). */
const POD_IDENTITY_AGENT = { cidr: "169.254.170.23/32", port: 80 } as const;

export interface ModelWeightsArgs {
    readonly namespace: string;
    readonly namePrefix: string;
    readonly clusterName: pulumi.Input<string>;
    readonly clusterArn: pulumi.Input<string>;
    readonly region: string;
    /** Models to copy into the bucket (weights: "s3"); [] when only compile caches use it. */
    readonly models: readonly SyncJobModel[];
    readonly hfTokenSecret?: string;
    readonly retain: boolean;
    /** Permissions boundary of the sync role (a team's). @default none */
    readonly permissionsBoundary?: string;
}

/** Egress the serving namespace's default-deny must open for S3 access through Pod Identity. */
function weightsNetworkPolicySpecs(): Record<string, k8s.types.input.networking.v1.NetworkPolicySpec> {
    return {
        "allow-pod-identity-agent": {
            podSelector: { matchExpressions: [{ key: "app.kubernetes.io/component", operator: "In", values: ["worker", WEIGHTS_SYNC_COMPONENT] }] },
            policyTypes: ["Egress"],
            egress: [{ to: [{ ipBlock: { cidr: POD_IDENTITY_AGENT.cidr } }], ports: [{ protocol: "TCP", port: POD_IDENTITY_AGENT.port }] }],
        },
        // The Hub (and its CDN) and S3 are public addresses (S3 through the VPC gateway endpoint keeps S3's public
        // prefixes): nothing private, not the Kubernetes API nor other pods, as for the workers.
        "allow-weights-sync-https-egress": {
            podSelector: { matchLabels: { "app.kubernetes.io/component": WEIGHTS_SYNC_COMPONENT } },
            policyTypes: ["Egress"],
            egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: [...NON_PUBLIC_RANGES] } }], ports: [{ protocol: "TCP", port: 443 }] }],
        },
    };
}

export class ModelWeights extends pulumi.ComponentResource {
    readonly bucketName: pulumi.Output<string>;
    readonly bucketArn: pulumi.Output<string>;
    /** Sync Jobs by worker pool name: workers roll out after their weights exist. */
    readonly syncJobs: Record<string, k8s.batch.v1.Job> = {};

    constructor(name: string, args: ModelWeightsArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:serving:ModelWeights", name, {}, opts);
        const bucket = new WeightsBucket(`${name}-store`, { namePrefix: args.namePrefix, retain: args.retain }, { parent: this });
        this.bucketName = bucket.bucketName;
        this.bucketArn = bucket.bucketArn;
        const writer = new PodIdentityRole(
            `${name}-sync`,
            {
                clusterName: args.clusterName,
                clusterArn: args.clusterArn,
                namespace: args.namespace,
                serviceAccount: WEIGHTS_SYNC_SA,
                statements: syncS3Statements(this.bucketArn),
                permissionsBoundary: args.permissionsBoundary,
            },
            { parent: this },
        );
        bucket.restrictWrites(writer.roleArn);
        for (const [policy, spec] of Object.entries(weightsNetworkPolicySpecs())) {
            new k8s.networking.v1.NetworkPolicy(`${name}-${policy}`, { metadata: { name: policy, namespace: args.namespace }, spec }, childOf(this, opts));
        }
        if (args.models.length > 0) {
            const sa = new k8s.core.v1.ServiceAccount(
                `${name}-sa`,
                { metadata: { name: WEIGHTS_SYNC_SA, namespace: args.namespace }, automountServiceAccountToken: false },
                childOf(this, opts),
            );
            for (const model of args.models) {
                this.syncJobs[model.name] = weightsSyncJob(
                    `${name}-sync-${model.name}`,
                    { namespace: args.namespace, model, bucket: this.bucketName, region: args.region, hfTokenSecret: args.hfTokenSecret },
                    childOf(this, opts, [sa, writer]),
                );
            }
        }
        this.registerOutputs({ bucketName: this.bucketName });
    }
}
