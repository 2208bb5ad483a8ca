/**
 * KEDA: operator and metrics API server. ScaledObjects (one per worker pool) query
 * Prometheus in-cluster; KEDA does 0 <-> 1 and hands 1 <-> N to the HPA it creates.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { childOf } from "../../deps";
import { chartRelease } from "../release";
import { SYSTEM_NODE_SELECTOR } from "../scheduling";
import { HelmValues } from "../values";
import { CHARTS } from "../versions";

export interface KedaArgs {
    readonly namespace: pulumi.Input<string>;
    /** Scrape KEDA's own metrics (needs the Prometheus Operator CRDs). */
    readonly serviceMonitors: boolean;
    readonly overrides: Record<string, unknown>;
}

function kedaValues(args: Pick<KedaArgs, "serviceMonitors">): HelmValues {
    const monitor = { enabled: args.serviceMonitors };
    return {
        nodeSelector: SYSTEM_NODE_SELECTOR,
        prometheus: {
            operator: { enabled: true, serviceMonitor: monitor },
            metricServer: { enabled: true, serviceMonitor: monitor },
        },
    };
}

export class Keda extends pulumi.ComponentResource {
    /** The release: ScaledObjects depend on it (the CRDs come with the chart). */
    readonly release: k8s.helm.v3.Release;

    constructor(name: string, args: KedaArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:addons:Keda", name, {}, opts);
        this.release = chartRelease(
            `${name}-release`,
            { chart: CHARTS.keda, releaseName: "keda", namespace: args.namespace, values: kedaValues(args), overrides: args.overrides },
            childOf(this, opts),
        );
        this.registerOutputs({});
    }
}
