/**
 * A worker pool's AWS identity, only when its cold start uses S3: a service account and an
 * EKS Pod Identity role that reads only the model's pinned-revision prefix and reads and
 * writes only the pool's own compile cache (weights/readRole.ts).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PodIdentityRole } from "../../iam/podIdentityRole";
import { workerS3Statements } from "../weights/readRole";
import { WorkerColdStart } from "./coldStartPod";

export interface WorkerIdentityArgs {
    readonly namespace: string;
    readonly clusterName: pulumi.Input<string>;
    readonly clusterArn: pulumi.Input<string>;
    readonly bucketArn: pulumi.Input<string>;
    readonly coldStart: WorkerColdStart;
    readonly labels: Record<string, string>;
    /** Permissions boundary of the role (a team's). @default none */
    readonly permissionsBoundary?: string;
}

/** Resources pods must wait for (the service account), or [] when the pool needs no AWS access. */
export function workerIdentity(name: string, args: WorkerIdentityArgs, opts: pulumi.CustomResourceOptions): pulumi.Resource[] {
    const c = args.coldStart;
    if (!c.serviceAccountName) return [];
    const sa = new k8s.core.v1.ServiceAccount(
        `${name}-sa`,
        { metadata: { name: c.serviceAccountName, namespace: args.namespace, labels: args.labels }, automountServiceAccountToken: false },
        opts,
    );
    const role = new PodIdentityRole(
        `${name}-s3`,
        {
            clusterName: args.clusterName,
            clusterArn: args.clusterArn,
            permissionsBoundary: args.permissionsBoundary,
            namespace: args.namespace,
            serviceAccount: c.serviceAccountName,
            statements: workerS3Statements(args.bucketArn, c.weightsPrefix, c.compileCachePrefix),
        },
        { parent: opts.parent },
    );
    return [sa, role];
}
