/**
 * Cluster Autoscaler's IAM policy, least privilege: it may read ASGs and instance types
 * anywhere (those APIs have no resource scoping), but change the size of, or terminate
 * instances in, only the ASGs EKS tagged as owned by this cluster.
 * Source: cluster-autoscaler/cloudprovider/aws/README.md ("Full Cluster Autoscaler
 * Features Policy (Recommended)" and the tag-conditioned example).
 */
import * as pulumi from "@pulumi/pulumi";
import { PolicyStatement } from "../../iam/podIdentityRole";
import { AwsScope } from "../awsScope";

export function clusterAutoscalerPolicy(scope: AwsScope): PolicyStatement[] {
    return [
        {
            Sid: "ReadOnlyDiscovery",
            Effect: "Allow",
            Action: [
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:DescribeScalingActivities",
                "autoscaling:DescribeTags",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:GetInstanceTypesFromInstanceRequirements",
            ],
            Resource: "*",
        },
        {
            Sid: "DescribeOwnNodegroups",
            Effect: "Allow",
            Action: ["eks:DescribeNodegroup"],
            Resource: pulumi.interpolate`arn:aws:eks:${scope.region}:${scope.accountId}:nodegroup/${scope.clusterName}/*/*`,
        },
        {
            Sid: "ScaleOwnNodeGroupsOnly",
            Effect: "Allow",
            Action: ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
            Resource: pulumi.interpolate`arn:aws:autoscaling:${scope.region}:${scope.accountId}:autoScalingGroup:*:autoScalingGroupName/*`,
            // EKS tags each managed node group's ASG with both; other clusters' ASGs lack ours.
            Condition: {
                StringEquals: {
                    "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
                    [`aws:ResourceTag/k8s.io/cluster-autoscaler/${scope.clusterName}`]: "owned",
                },
            },
        },
    ];
}
