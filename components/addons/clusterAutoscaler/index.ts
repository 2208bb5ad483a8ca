/**
 * Cluster Autoscaler: adds GPU nodes when workers are pending and removes them when
 * unneeded. Auto-discovers this cluster's node groups (by the tags EKS puts on their
 * ASGs); the node-template tags set by NodePool let it scale a pool up from zero.
 * Expander: priority by price (cheapest pool that fits first), then least-waste.
 */
import * as pulumi from "@pulumi/pulumi";
import { PodIdentityRole } from "../../iam/podIdentityRole";
import { AwsScope } from "../awsScope";
import { childOf } from "../../deps";
import { chartRelease } from "../release";
import { SYSTEM_NODE_SELECTOR } from "../scheduling";
import { HelmValues } from "../values";
import { CHARTS } from "../versions";
import { clusterAutoscalerPolicy } from "./iam";
import { CA_TIMING } from "../../../stacks/clusterAutoscalerTiming";
import { ADDON_REQUESTS, k8sRequests } from "../../../stacks/catalog/systemPods";

const CLUSTER_AUTOSCALER_SA = "cluster-autoscaler";

export interface NodeGroupPrice {
    /** Node pool name as used in node group names (`<cluster>-gpu-<pool>-ng`). */
    readonly nodeGroupPrefix: string;
    readonly usdPerHour: number;
}

export interface ClusterAutoscalerArgs {
    readonly scope: AwsScope;
    readonly scaleDownUnneededTime: string;
    readonly scaleDownUtilizationThreshold: number;
    /** GPU node groups with their hourly price, for the priority expander. */
    readonly nodeGroups: NodeGroupPrice[];
    readonly serviceMonitor: boolean;
    readonly overrides: Record<string, unknown>;
}

/** Priority expander config: cheaper node groups get higher priority; `.*` catches the rest. */
export function expanderPriorities(groups: NodeGroupPrice[]): Record<string, string[]> {
    const sorted = [...groups].sort((a, b) => b.usdPerHour - a.usdPerHour || a.nodeGroupPrefix.localeCompare(b.nodeGroupPrefix));
    const priorities: Record<string, string[]> = { "1": [".*"] };
    sorted.forEach((g, i) => {
        priorities[String(10 * (i + 1) + 1)] = [`.*${g.nodeGroupPrefix.replace(/[.]/g, "\\.")}.*`];
    });
    return priorities;
}

function clusterAutoscalerValues(args: Omit<ClusterAutoscalerArgs, "overrides">): HelmValues {
    return {
        cloudProvider: "aws",
        awsRegion: args.scope.region,
        autoDiscovery: { clusterName: args.scope.clusterName },
        fullnameOverride: "cluster-autoscaler",
        rbac: { serviceAccount: { create: true, name: CLUSTER_AUTOSCALER_SA } },
        nodeSelector: SYSTEM_NODE_SELECTOR,
        priorityClassName: "system-cluster-critical",
        // The chart sets none; its values.yaml example (9.59.0): the system nodes are sized from these (stacks/catalog/systemPods.ts).
        resources: { requests: k8sRequests(ADDON_REQUESTS.clusterAutoscaler) },
        expanderPriorities: expanderPriorities(args.nodeGroups),
        extraArgs: {
            expander: "priority,least-waste",
            "balance-similar-node-groups": true,
            "scale-down-unneeded-time": args.scaleDownUnneededTime,
            "scale-down-utilization-threshold": args.scaleDownUtilizationThreshold,
            "scale-down-delay-after-add": CA_TIMING.scaleDownDelayAfterAdd,
            "scan-interval": CA_TIMING.scanInterval,
            // Registration and Ready only (image pull and model load come after): see flags.ts.
            "max-node-provision-time": CA_TIMING.maxNodeProvisionTime,
            // DaemonSets (device plugin, DCGM, CNI) alone must not keep a GPU node alive.
            "ignore-daemonsets-utilization": true,
            "skip-nodes-with-local-storage": false,
        },
        serviceMonitor: { enabled: args.serviceMonitor, interval: "30s" },
    };
}

export class ClusterAutoscaler extends pulumi.ComponentResource {
    constructor(name: string, args: ClusterAutoscalerArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:addons:ClusterAutoscaler", name, {}, opts);
        const role = new PodIdentityRole(
            `${name}-identity`,
            {
                clusterName: args.scope.clusterNameOutput,
                clusterArn: args.scope.clusterArn,
                namespace: "kube-system",
                serviceAccount: CLUSTER_AUTOSCALER_SA,
                statements: clusterAutoscalerPolicy(args.scope),
            },
            { parent: this },
        );
        chartRelease(
            `${name}-release`,
            {
                chart: CHARTS.clusterAutoscaler,
                releaseName: "cluster-autoscaler",
                namespace: "kube-system",
                values: clusterAutoscalerValues(args),
                overrides: args.overrides,
            },
            childOf(this, opts, [role]),
        );
        this.registerOutputs({});
    }
}
