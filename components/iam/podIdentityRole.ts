/**
 * An IAM role for one Kubernetes service account through EKS Pod Identity: the trust
 * policy admits only the EKS Pod Identity service acting for this account, this cluster,
 * and this namespace and service account; permissions come from managed policy ARNs and/or
 * one inline policy document, and the association binds the role to the service account.
 *
 * Trust conditions per the EKS user guide (pod-id-role, "Setting Conditions"; session tags
 * in pod-id-abac): EKS Pod Identity calls sts:AssumeRole + sts:TagSession with the session
 * tags eks-cluster-arn, kubernetes-namespace and kubernetes-service-account, which the
 * trust policy matches as aws:RequestTag/<tag>. aws:SourceArn is NOT the cluster ARN in
 * those calls (public configs that use it match association ARNs), so a condition on it
 * never matched and the controllers got no credentials.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface PolicyStatement {
    readonly Sid?: string;
    readonly Effect: "Allow" | "Deny";
    readonly Action: string | string[];
    readonly Resource: pulumi.Input<string> | pulumi.Input<string>[];
    readonly Condition?: Record<string, Record<string, pulumi.Input<string> | pulumi.Input<string>[]>>;
}

export interface PodIdentityRoleArgs {
    readonly clusterName: pulumi.Input<string>;
    readonly clusterArn: pulumi.Input<string>;
    readonly namespace: string;
    readonly serviceAccount: string;
    /** AWS managed policies to attach. @default [] */
    readonly managedPolicyArns?: string[];
    /** Inline policy statements (least privilege: prefer these over managed policies). */
    readonly statements?: PolicyStatement[];
    /** Create the Pod Identity association. False when an EKS add-on creates it. @default true */
    readonly associate?: boolean;
    /** Permissions boundary of the role (a team stack's roles carry its platform's boundary). @default none */
    readonly permissionsBoundary?: pulumi.Input<string>;
}

export class PodIdentityRole extends pulumi.ComponentResource {
    readonly role: aws.iam.Role;
    readonly roleArn: pulumi.Output<string>;

    constructor(name: string, args: PodIdentityRoleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gpuserve:iam:PodIdentityRole", name, {}, opts);
        const parent = { parent: this };
        const account = aws.getCallerIdentityOutput({}, parent).accountId;

        this.role = new aws.iam.Role(
            `${name}-role`,
            {
                description: `EKS Pod Identity role for ${args.namespace}/${args.serviceAccount}`,
                ...(args.permissionsBoundary ? { permissionsBoundary: args.permissionsBoundary } : {}),
                assumeRolePolicy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Principal: { Service: "pods.eks.amazonaws.com" },
                            Action: ["sts:AssumeRole", "sts:TagSession"],
                            Condition: {
                                StringEquals: {
                                    "aws:SourceAccount": account,
                                    "aws:RequestTag/eks-cluster-arn": args.clusterArn,
                                    "aws:RequestTag/kubernetes-namespace": args.namespace,
                                    "aws:RequestTag/kubernetes-service-account": args.serviceAccount,
                                },
                            },
                        },
                    ],
                }),
            },
            parent,
        );
        (args.managedPolicyArns ?? []).forEach((arn) => {
            const policyName = arn.split("/").pop()!;
            new aws.iam.RolePolicyAttachment(`${name}-${policyName}`, { role: this.role.name, policyArn: arn }, parent);
        });
        if (args.statements && args.statements.length > 0) {
            new aws.iam.RolePolicy(
                `${name}-inline`,
                { role: this.role.id, policy: pulumi.jsonStringify({ Version: "2012-10-17", Statement: args.statements }) },
                parent,
            );
        }
        if (args.associate ?? true) {
            new aws.eks.PodIdentityAssociation(
                `${name}-association`,
                { clusterName: args.clusterName, namespace: args.namespace, serviceAccount: args.serviceAccount, roleArn: this.role.arn },
                parent,
            );
        }
        this.roleArn = this.role.arn;
        this.registerOutputs({ roleArn: this.roleArn });
    }
}
