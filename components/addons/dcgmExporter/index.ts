/**
 * DCGM exporter: per-GPU metrics (utilization, memory, engine activity) from every GPU
 * node, scraped through its ServiceMonitor. GPU nodes only.
 */
import * as pulumi from "@pulumi/pulumi";
import { childOf } from "../../deps";
import { chartRelease } from "../release";
import { GPU_NODE_AFFINITY, GPU_TOLERATION } from "../scheduling";
import { HelmValues } from "../values";
import { CHARTS } from "../versions";

export interface DcgmExporterArgs {
    readonly namespace: pulumi.Input<string>;
    readonly overrides: Record<string, unknown>;
}

export function dcgmExporterValues(): HelmValues {
    return {
        tolerations: [GPU_TOLERATION],
        affinity: GPU_NODE_AFFINITY,
        // honorLabels: keep DCGM's own pod/namespace/container labels (the GPU's workload), not the exporter pod's.
        serviceMonitor: { enabled: true, interval: "15s", honorLabels: true },
        priorityClassName: "system-node-critical",
    };
}

export class DcgmExporter extends pulumi.ComponentResource {
    constructor(name: string, args: DcgmExporterArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:addons:DcgmExporter", name, {}, opts);
        chartRelease(
            `${name}-release`,
            { chart: CHARTS.dcgmExporter, releaseName: "dcgm-exporter", namespace: args.namespace, values: dcgmExporterValues(), overrides: args.overrides },
            childOf(this, opts),
        );
        this.registerOutputs({});
    }
}
