/**
 * AWS Load Balancer Controller: turns the serving Ingress into an ALB (HTTPS with ACM,
 * HTTP -> HTTPS redirect). Two replicas on the system nodes; IAM through Pod Identity
 * with the scoped policy in iam.ts. The ALB carries the stack's cost-allocation tags.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PodIdentityRole } from "../../iam/podIdentityRole";
import { AwsScope } from "../awsScope";
import { childOf } from "../../deps";
import { chartRelease } from "../release";
import { SYSTEM_NODE_SELECTOR } from "../scheduling";
import { HelmValues } from "../values";
import { CHARTS } from "../versions";
import { loadBalancerControllerPolicy } from "./iam";
import { ADDON_REQUESTS, k8sRequests } from "../../../stacks/catalog/systemPods";

const LBC_SA = "aws-load-balancer-controller";
export const ALB_INGRESS_CLASS = "alb";

export interface LoadBalancerControllerArgs {
    readonly scope: AwsScope;
    readonly vpcId: pulumi.Output<string>;
    readonly clusterSecurityGroupId: pulumi.Input<string>;
    /** Tags put on every AWS resource the controller creates (cost allocation). */
    readonly tags: Record<string, string>;
    readonly serviceMonitor: boolean;
    readonly overrides: Record<string, unknown>;
}

function loadBalancerControllerValues(args: Pick<LoadBalancerControllerArgs, "scope" | "vpcId" | "tags" | "serviceMonitor">): HelmValues {
    return {
        clusterName: args.scope.clusterName,
        region: args.scope.region,
        vpcId: args.vpcId, // set explicitly: the controller cannot read it from IMDS (hop limit 1)
        replicaCount: 2,
        serviceAccount: { create: true, name: LBC_SA },
        nodeSelector: SYSTEM_NODE_SELECTOR,
        priorityClassName: "system-cluster-critical",
        // The chart sets none; its values.yaml example (3.5.0): the system nodes are sized from these (stacks/catalog/systemPods.ts).
        resources: { requests: k8sRequests(ADDON_REQUESTS.loadBalancerController) },
        createIngressClassResource: true,
        ingressClass: ALB_INGRESS_CLASS,
        enableShield: false,
        enableWaf: false,
        enableWafv2: false,
        defaultTags: { ...args.tags },
        // Its Service webhook (defaults for LoadBalancer Services) is not needed here, and while the
        // controller starts it would reject the Services other charts install at the same time.
        enableServiceMutatorWebhook: false,
        serviceMonitor: { enabled: args.serviceMonitor },
    };
}

export class LoadBalancerController extends pulumi.ComponentResource {
    readonly release: k8s.helm.v3.Release;

    constructor(name: string, args: LoadBalancerControllerArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:addons:LoadBalancerController", name, {}, opts);
        const role = new PodIdentityRole(
            `${name}-identity`,
            {
                clusterName: args.scope.clusterNameOutput,
                clusterArn: args.scope.clusterArn,
                namespace: "kube-system",
                serviceAccount: LBC_SA,
                statements: loadBalancerControllerPolicy({ ...args.scope, vpcId: args.vpcId, clusterSecurityGroupId: args.clusterSecurityGroupId }),
            },
            { parent: this },
        );
        this.release = chartRelease(
            `${name}-release`,
            {
                chart: CHARTS.loadBalancerController,
                releaseName: "aws-load-balancer-controller",
                namespace: "kube-system",
                values: loadBalancerControllerValues(args),
                overrides: args.overrides,
            },
            childOf(this, opts, [role]),
        );
        this.registerOutputs({});
    }
}
