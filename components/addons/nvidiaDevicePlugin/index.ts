/**
 * NVIDIA device plugin: advertises nvidia.com/gpu on GPU nodes (the AL2023 NVIDIA AMI has
 * the driver, not the plugin). GPU nodes only, tolerates their taint, system-node-critical
 * so it is never evicted before the workers it serves. Time-slicing is opt-in: workers are
 * sized to own a whole GPU.
 */
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { childOf } from "../../deps";
import { chartRelease } from "../release";
import { GPU_TOLERATION } from "../scheduling";
import { GPU_OS_LABEL } from "../../cluster";
import { HelmValues } from "../values";
import { CHARTS } from "../versions";

export interface NvidiaDevicePluginArgs {
    /** Virtual GPUs per physical GPU; 1 disables time-slicing. @default 1 */
    readonly timeSlicingReplicas: number;
    readonly overrides: Record<string, unknown>;
}

/**
 * GPU nodes without a built-in plugin: Bottlerocket's NVIDIA variant runs its own (Bottlerocket README,
 * "NVIDIA GPUs support"), and a second one would fight it for the kubelet's nvidia.com/gpu registration.
 */
const DEVICE_PLUGIN_NODE_AFFINITY: HelmValues = {
    nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
                {
                    matchExpressions: [
                        { key: "nvidia.com/gpu.present", operator: "In", values: ["true"] },
                        { key: GPU_OS_LABEL, operator: "NotIn", values: ["bottlerocket"] },
                    ],
                },
            ],
        },
    },
};

export function devicePluginValues(args: Pick<NvidiaDevicePluginArgs, "timeSlicingReplicas">): HelmValues {
    const values: HelmValues = {
        priorityClassName: "system-node-critical",
        tolerations: [GPU_TOLERATION, { key: "CriticalAddonsOnly", operator: "Exists" }],
        affinity: DEVICE_PLUGIN_NODE_AFFINITY,
    };
    if (args.timeSlicingReplicas > 1) {
        const sharing = { version: "v1", sharing: { timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: args.timeSlicingReplicas }] } } };
        values.config = { map: { default: stringify(sharing) }, default: "default" };
    }
    return values;
}

export class NvidiaDevicePlugin extends pulumi.ComponentResource {
    constructor(name: string, args: NvidiaDevicePluginArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:addons:NvidiaDevicePlugin", name, {}, opts);
        chartRelease(
            `${name}-release`,
            {
                chart: CHARTS.nvidiaDevicePlugin,
                releaseName: "nvidia-device-plugin",
                namespace: "kube-system",
                values: devicePluginValues(args),
                overrides: args.overrides,
            },
            childOf(this, opts),
        );
        this.registerOutputs({});
    }
}
