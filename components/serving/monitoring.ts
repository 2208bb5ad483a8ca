/** Objects every scaled serving workload gets: a PDB and (with the Prometheus Operator) a ServiceMonitor. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface ObjectMeta {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Record<string, string>;
}

/** At most one pod of the workload is evicted at a time (node drains, Cluster Autoscaler). */
export function podDisruptionBudget(name: string, meta: ObjectMeta, matchLabels: Record<string, string>, opts: pulumi.CustomResourceOptions) {
    return new k8s.policy.v1.PodDisruptionBudget(name, { metadata: meta, spec: { maxUnavailable: 1, selector: { matchLabels } } }, opts);
}

/** Prometheus scrapes the Service's `http` port at /metrics every 15 s. */
export function serviceMonitor(
    name: string,
    meta: ObjectMeta,
    matchLabels: Record<string, string>,
    opts: pulumi.CustomResourceOptions,
    relabelings?: Record<string, string>[],
) {
    return new k8s.apiextensions.CustomResource(
        name,
        {
            apiVersion: "monitoring.coreos.com/v1",
            kind: "ServiceMonitor",
            metadata: meta,
            spec: { selector: { matchLabels }, endpoints: [{ port: "http", path: "/metrics", interval: "15s", ...(relabelings ? { relabelings } : {}) }] },
        },
        opts,
    );
}
