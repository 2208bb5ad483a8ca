/**
 * AWS Load Balancer Controller IAM policy, written from the controller's documented needs
 * (docs/install/iam_policy.json of kubernetes-sigs/aws-load-balancer-controller) and
 * scoped tighter:
 * - read-only Describe/Get/List calls stay on "*" (those APIs take no resource scoping);
 * - every mutating call names this account and region in its resource ARNs, and acts only
 *   on load balancers, target groups and security groups tagged for THIS cluster
 *   (`elbv2.k8s.aws/cluster = <cluster>`), not any cluster's, or creates them with that tag;
 * - security group ingress on the cluster security group (nodes) is allowed by its id;
 * - the actions of features we keep off are left out (LBC_OMITTED_ACTIONS, with the reason each).
 * Compared action by action with upstream's policy at v3.5.0 (the chart 3.5.0's appVersion):
 * test/fixtures/lbc/iam-policy-actions-v3.5.0.json; a test fails when upstream has an action
 * that is neither granted here nor listed as omitted.
 */
import * as pulumi from "@pulumi/pulumi";
import { PolicyStatement } from "../../iam/podIdentityRole";
import { AwsScope } from "../awsScope";

const LBC_CLUSTER_TAG = "elbv2.k8s.aws/cluster";

/** Upstream actions this policy leaves out, and why (docs/install/iam_policy.json at v3.5.0). */
export const LBC_OMITTED_ACTIONS: Readonly<Record<string, string>> = {
    "cognito-idp:DescribeUserPoolClient": "Cognito authentication on listeners is not used (no auth-type annotation)",
    "iam:ListServerCertificates": "certificates come from ACM (serving.certificateArn), not IAM server certificates",
    "iam:GetServerCertificate": "certificates come from ACM, not IAM server certificates",
    "waf-regional:GetWebACL": "WAF Classic is off (chart value enableWaf: false)",
    "waf-regional:GetWebACLForResource": "WAF Classic is off (enableWaf: false)",
    "waf-regional:AssociateWebACL": "WAF Classic is off (enableWaf: false)",
    "waf-regional:DisassociateWebACL": "WAF Classic is off (enableWaf: false)",
    "wafv2:GetWebACL": "WAFv2 is off (chart value enableWafv2: false)",
    "wafv2:GetWebACLForResource": "WAFv2 is off (enableWafv2: false)",
    "wafv2:AssociateWebACL": "WAFv2 is off (enableWafv2: false)",
    "wafv2:DisassociateWebACL": "WAFv2 is off (enableWafv2: false)",
    "elasticloadbalancing:SetWebAcl": "WAF is off (enableWaf/enableWafv2: false)",
    "shield:GetSubscriptionState": "Shield Advanced is off (chart value enableShield: false)",
    "shield:DescribeProtection": "Shield Advanced is off (enableShield: false)",
    "shield:CreateProtection": "Shield Advanced is off (enableShield: false)",
    "shield:DeleteProtection": "Shield Advanced is off (enableShield: false)",
    "elasticloadbalancing:ModifyIpPools":
        "IPAM pools are not used: load_balancer_manager.go calls it only when an IPv4 IPAM pool is set on, or was set on, the load balancer",
};

export function loadBalancerControllerPolicy(
    scope: AwsScope & { vpcId: pulumi.Input<string>; clusterSecurityGroupId: pulumi.Input<string> },
): PolicyStatement[] {
    const ec2 = (resource: pulumi.Input<string>) => pulumi.interpolate`arn:aws:ec2:${scope.region}:${scope.accountId}:${resource}`;
    const elb = (resource: string) => pulumi.interpolate`arn:aws:elasticloadbalancing:${scope.region}:${scope.accountId}:${resource}`;
    const securityGroups = ec2("security-group/*");
    const lbAndTg = [elb("loadbalancer/app/*/*"), elb("loadbalancer/net/*/*"), elb("targetgroup/*/*")];
    const listeners = [elb("listener/app/*/*/*"), elb("listener/net/*/*/*"), elb("listener-rule/app/*/*/*/*"), elb("listener-rule/net/*/*/*/*")];
    const ownedResource = { StringEquals: { [`aws:ResourceTag/${LBC_CLUSTER_TAG}`]: scope.clusterName } };
    return [
        {
            Sid: "ReadOnly",
            Effect: "Allow",
            Action: [
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeTags",
                "ec2:DescribeRouteTables",
                "ec2:DescribeCoipPools",
                "ec2:DescribeIpamPools",
                "ec2:GetCoipPoolUsage",
                "ec2:GetSecurityGroupsForVpc",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeSSLPolicies",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTrustStores",
                "elasticloadbalancing:DescribeCapacityReservation",
                "acm:ListCertificates",
                "acm:DescribeCertificate",
            ],
            Resource: "*",
        },
        {
            Sid: "ServiceLinkedRole",
            Effect: "Allow",
            Action: ["iam:CreateServiceLinkedRole"],
            Resource: pulumi.interpolate`arn:aws:iam::${scope.accountId}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing`,
            Condition: { StringEquals: { "iam:AWSServiceName": "elasticloadbalancing.amazonaws.com" } },
        },
        {
            Sid: "CreateSecurityGroupsInOurVpc",
            Effect: "Allow",
            Action: ["ec2:CreateSecurityGroup"],
            Resource: [securityGroups, ec2(pulumi.interpolate`vpc/${scope.vpcId}`)],
        },
        {
            Sid: "TagNewSecurityGroups",
            Effect: "Allow",
            Action: ["ec2:CreateTags"],
            Resource: securityGroups,
            Condition: { StringEquals: { "ec2:CreateAction": "CreateSecurityGroup", [`aws:RequestTag/${LBC_CLUSTER_TAG}`]: scope.clusterName } },
        },
        {
            Sid: "RetagOwnSecurityGroups",
            Effect: "Allow",
            Action: ["ec2:CreateTags", "ec2:DeleteTags"],
            Resource: securityGroups,
            Condition: { ...ownedResource, Null: { [`aws:RequestTag/${LBC_CLUSTER_TAG}`]: "true" } },
        },
        {
            Sid: "ManageOwnSecurityGroups",
            Effect: "Allow",
            Action: ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"],
            Resource: securityGroups,
            Condition: ownedResource,
        },
        {
            Sid: "OpenNodesToOwnLoadBalancers",
            Effect: "Allow",
            Action: ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            Resource: ec2(pulumi.interpolate`security-group/${scope.clusterSecurityGroupId}`),
        },
        {
            Sid: "CreateTaggedLoadBalancers",
            Effect: "Allow",
            Action: ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
            Resource: lbAndTg,
            Condition: { StringEquals: { [`aws:RequestTag/${LBC_CLUSTER_TAG}`]: scope.clusterName } },
        },
        {
            Sid: "TagOnCreate",
            Effect: "Allow",
            Action: ["elasticloadbalancing:AddTags"],
            Resource: lbAndTg,
            Condition: {
                StringEquals: {
                    "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"],
                    [`aws:RequestTag/${LBC_CLUSTER_TAG}`]: scope.clusterName,
                },
            },
        },
        {
            Sid: "RetagOwnLoadBalancers",
            Effect: "Allow",
            Action: ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            Resource: lbAndTg,
            Condition: { ...ownedResource, Null: { [`aws:RequestTag/${LBC_CLUSTER_TAG}`]: "true" } },
        },
        {
            Sid: "ManageOwnLoadBalancers",
            Effect: "Allow",
            Action: [
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:SetIpAddressType",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyCapacityReservation",
            ],
            Resource: lbAndTg,
            Condition: ownedResource,
        },
        {
            Sid: "RegisterTargetsInOwnTargetGroups",
            Effect: "Allow",
            Action: ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
            Resource: elb("targetgroup/*/*"),
            Condition: ownedResource,
        },
        {
            // The controller tags listeners and rules it creates (and keeps those tags current).
            Sid: "TagListenersAndRules",
            Effect: "Allow",
            Action: ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            Resource: listeners,
        },
        {
            Sid: "ManageListenersAndRules",
            Effect: "Allow",
            Action: [
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:ModifyListenerAttributes",
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:ModifyRule",
                // Re-orders rules when a path is added or moved (pkg/deploy/elbv2/listener_rule_manager.go at v3.5.0).
                "elasticloadbalancing:SetRulePriorities",
            ],
            Resource: [...lbAndTg.slice(0, 2), ...listeners],
        },
    ];
}
