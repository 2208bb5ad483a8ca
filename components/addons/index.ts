/**
 * PlatformAddons: the community charts the serving stack stands on, installed in order:
 * namespaces -> kube-prometheus-stack (its CRDs back every ServiceMonitor) -> the rest,
 * which ship ServiceMonitors. Each add-on can be turned off per stack; config validation
 * refuses that where another part of the stack needs it.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AddonsConfig } from "../../stacks/schema";
import { AwsScope } from "./awsScope";
import { ClusterAutoscaler, NodeGroupPrice } from "./clusterAutoscaler";
import { DcgmExporter } from "./dcgmExporter";
import { Keda } from "./keda";
import { LoadBalancerController } from "./loadBalancerController";
import { GpuPoolCost, Monitoring } from "./monitoring";
import { NvidiaDevicePlugin } from "./nvidiaDevicePlugin";

export const MONITORING_NAMESPACE = "monitoring";
const KEDA_NAMESPACE = "keda";

export interface PlatformAddonsArgs {
    readonly config: AddonsConfig;
    readonly scope: AwsScope;
    readonly vpcId: pulumi.Output<string>;
    readonly clusterSecurityGroupId: pulumi.Input<string>;
    readonly storageClassName: string;
    readonly tags: Record<string, string>;
    readonly gpuNodeGroups: NodeGroupPrice[];
    readonly gpuPoolCosts: readonly GpuPoolCost[];
    /** Some GPU pool needs the device plugin chart (AL2023); Bottlerocket pools have it built in. @default true */
    readonly devicePluginChart?: boolean;
    readonly platformUsdPerHour: number;
    /** Cluster resources the charts wait for (nodes, EKS add-ons, storage class). */
    readonly clusterReady: pulumi.Input<pulumi.Resource>[];
}

/** Pod Security Standards labels for a namespace. */
export function podSecurityLabels(enforce: "privileged" | "baseline" | "restricted"): Record<string, string> {
    return {
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    };
}

export class PlatformAddons extends pulumi.ComponentResource {
    /** Prometheus URL for KEDA's triggers (in-cluster or the configured existing one). */
    readonly prometheusUrl: string;
    readonly keda?: Keda;
    readonly loadBalancerController?: LoadBalancerController;
    readonly monitoring?: Monitoring;
    /** What serving objects must wait for: KEDA CRDs, the LBC webhook, monitoring CRDs. */
    readonly ready: pulumi.Resource[];

    constructor(name: string, args: PlatformAddonsArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:addons:PlatformAddons", name, {}, opts);
        const c = args.config;
        const after = (deps: pulumi.Input<pulumi.Resource>[]) => ({ parent: this, dependsOn: [...args.clusterReady, ...deps] });

        // node-exporter and the DCGM exporter read host devices and metrics: privileged.
        const monitoringNs = new k8s.core.v1.Namespace(
            `${name}-monitoring`,
            { metadata: { name: MONITORING_NAMESPACE, labels: podSecurityLabels("privileged") } },
            after([]),
        );
        const kedaNs = new k8s.core.v1.Namespace(`${name}-keda`, { metadata: { name: KEDA_NAMESPACE, labels: podSecurityLabels("baseline") } }, after([]));

        const serviceMonitors = c.prometheus.enabled || c.prometheus.url !== undefined;
        const monitorDeps: pulumi.Resource[] = [];
        if (c.prometheus.enabled) {
            this.monitoring = new Monitoring(
                `${name}-monitoring`,
                {
                    namespace: MONITORING_NAMESPACE,
                    retention: c.prometheus.retention,
                    storageGiB: c.prometheus.storageGiB,
                    storageClassName: args.storageClassName,
                    grafana: c.prometheus.grafana,
                    gpuPoolCosts: args.gpuPoolCosts,
                    platformUsdPerHour: args.platformUsdPerHour,
                    overrides: c.prometheus.values,
                },
                after([monitoringNs]),
            );
            monitorDeps.push(this.monitoring);
        }
        this.prometheusUrl = c.prometheus.url ?? (this.monitoring?.prometheusUrl as string);

        if (c.nvidiaDevicePlugin.enabled && (args.devicePluginChart ?? true)) {
            new NvidiaDevicePlugin(
                `${name}-nvidia-device-plugin`,
                { timeSlicingReplicas: c.nvidiaDevicePlugin.timeSlicingReplicas, overrides: c.nvidiaDevicePlugin.values },
                after([]),
            );
        }
        if (c.dcgmExporter.enabled) {
            new DcgmExporter(
                `${name}-dcgm-exporter`,
                { namespace: MONITORING_NAMESPACE, overrides: c.dcgmExporter.values },
                after([monitoringNs, ...monitorDeps]),
            );
        }
        if (c.keda.enabled) {
            this.keda = new Keda(`${name}-keda`, { namespace: KEDA_NAMESPACE, serviceMonitors, overrides: c.keda.values }, after([kedaNs, ...monitorDeps]));
        }
        if (c.clusterAutoscaler.enabled) {
            new ClusterAutoscaler(
                `${name}-cluster-autoscaler`,
                {
                    scope: args.scope,
                    scaleDownUnneededTime: c.clusterAutoscaler.scaleDownUnneededTime,
                    scaleDownUtilizationThreshold: c.clusterAutoscaler.scaleDownUtilizationThreshold,
                    nodeGroups: args.gpuNodeGroups,
                    serviceMonitor: serviceMonitors,
                    overrides: c.clusterAutoscaler.values,
                },
                after(monitorDeps),
            );
        }
        if (c.loadBalancerController.enabled) {
            this.loadBalancerController = new LoadBalancerController(
                `${name}-lbc`,
                {
                    scope: args.scope,
                    vpcId: args.vpcId,
                    clusterSecurityGroupId: args.clusterSecurityGroupId,
                    tags: args.tags,
                    serviceMonitor: serviceMonitors,
                    overrides: c.loadBalancerController.values,
                },
                after(monitorDeps),
            );
        }
        this.ready = [this.keda, this.loadBalancerController, this.monitoring].filter((r): r is NonNullable<typeof r> => r !== undefined);
        this.registerOutputs({ prometheusUrl: this.prometheusUrl });
    }
}
