/**
 * kube-prometheus-stack: Prometheus (selects every ServiceMonitor/PodMonitor/rule in the
 * cluster, persistent encrypted gp3 storage), the Prometheus Operator, and Grafana with
 * an admin password from @pulumi/random (a Pulumi secret) and the project's dashboards.
 * Alertmanager is off: the stack ships no receivers (enable it through `values`).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { childOf } from "../../deps";
import { chartRelease } from "../release";
import { SYSTEM_NODE_SELECTOR } from "../scheduling";
import { HelmValues } from "../values";
import { CHARTS } from "../versions";
import { ADDON_REQUESTS, k8sRequests } from "../../../stacks/catalog/systemPods";

/** Fixed object names (fullnameOverride) so KEDA's server address is known up front. */
const KPS_FULLNAME = "kps";
export const GRAFANA_DASHBOARD_LABEL = "grafana_dashboard";
const DASHBOARDS_DIR = path.resolve(__dirname, "..", "..", "..", "dashboards");

function prometheusUrl(namespace: string): string {
    return `http://${KPS_FULLNAME}-prometheus.${namespace}.svc.cluster.local:9090`;
}

export interface MonitoringArgs {
    readonly namespace: string;
    readonly retention: string;
    readonly storageGiB: number;
    readonly storageClassName: string;
    readonly grafana: boolean;
    /** Each GPU node pool's price and the worker pools it runs, for the cost recording rules. */
    readonly gpuPoolCosts: readonly GpuPoolCost[];
    /** USD/hour of everything that runs at zero load (control plane, NAT, system nodes). */
    readonly platformUsdPerHour: number;
    readonly overrides: Record<string, unknown>;
}

const GRAFANA_ADMIN_SECRET = "grafana-admin";

function monitoringValues(args: Pick<MonitoringArgs, "retention" | "storageGiB" | "storageClassName" | "grafana">): HelmValues {
    return {
        fullnameOverride: KPS_FULLNAME,
        crds: { enabled: true },
        alertmanager: { enabled: false },
        // The chart sets no requests for the operator and the config reloader; its values.yaml examples (88.5.3):
        // the system nodes are sized from these (stacks/catalog/systemPods.ts).
        prometheusOperator: {
            nodeSelector: SYSTEM_NODE_SELECTOR,
            resources: { requests: k8sRequests(ADDON_REQUESTS.prometheusOperator) },
            prometheusConfigReloader: { resources: { requests: k8sRequests(ADDON_REQUESTS.prometheusConfigReloader) } },
        },
        prometheus: {
            prometheusSpec: {
                // Select every monitor and rule in every namespace, not only this release's.
                serviceMonitorSelectorNilUsesHelmValues: false,
                podMonitorSelectorNilUsesHelmValues: false,
                ruleSelectorNilUsesHelmValues: false,
                probeSelectorNilUsesHelmValues: false,
                retention: args.retention,
                nodeSelector: SYSTEM_NODE_SELECTOR,
                // = PROMETHEUS_REQUESTS (stacks/catalog/systemPods.ts), written as 1Gi as before.
                resources: { requests: { cpu: "200m", memory: "1Gi" }, limits: { memory: "4Gi" } },
                storageSpec: {
                    volumeClaimTemplate: {
                        spec: {
                            storageClassName: args.storageClassName,
                            accessModes: ["ReadWriteOnce"],
                            resources: { requests: { storage: `${args.storageGiB}Gi` } },
                        },
                    },
                },
            },
        },
        grafana: {
            enabled: args.grafana,
            admin: { existingSecret: GRAFANA_ADMIN_SECRET, userKey: "admin-user", passwordKey: "admin-password" },
            sidecar: { dashboards: { enabled: true, label: GRAFANA_DASHBOARD_LABEL, labelValue: "1", searchNamespace: "ALL" } },
        },
    };
}

/** The dashboards shipped in dashboards/*.json: file name -> JSON text. */
export function readDashboards(dir = DASHBOARDS_DIR): Record<string, string> {
    return Object.fromEntries(
        fs
            .readdirSync(dir)
            .filter((f) => f.endsWith(".json"))
            .sort()
            .map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]),
    );
}

/** A GPU node pool as the cost rules price it. */
export interface GpuPoolCost {
    /** Node pool name (the `gpu_pool` label of the cost series). */
    readonly name: string;
    /** USD/hour of one node (spot-discounted when spot). */
    readonly nodeUsdPerHour: number;
    readonly gpusPerNode: number;
    /** Nodes the pool keeps with no worker (the node group's minimum size). */
    readonly minNodes: number;
    /** Worker pools (the `pool` label) whose one-GPU workers run on these nodes. */
    readonly workerPools: readonly string[];
}

export const COST_RULE_GROUP = "gpuserve-cost";

const regexQuote = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&");

/**
 * Recording rules for the cost panel, from the catalog prices. A worker is priced by what it
 * keeps running: the nodes its pool needs, ceil(workers / GPUs per node) but at least the
 * node group's minimum, at a whole node's price (one MedGemma-27B worker on a p4de keeps all
 * 8 GPUs' worth of node up). `gpuserve:usd_per_hour` always has a value, also at zero workers
 * (then it is the platform floor): `or vector(0)` stands in for pools with no series.
 * Workers are counted by the pods vLLM reports from (one engine, one GPU per pod).
 */
export function costRecordingRules(gpuPools: readonly GpuPoolCost[], platformUsdPerHour: number) {
    const pools = [...gpuPools].sort((a, b) => a.name.localeCompare(b.name));
    return [
        ...pools.map((p) => {
            const workers = p.workerPools.length
                ? `(count(count by (namespace, pod) (vllm:num_requests_running{pool=~"${[...p.workerPools].sort().map(regexQuote).join("|")}"})) or vector(0))`
                : "vector(0)";
            return {
                record: "gpuserve:gpu_pool_nodes",
                expr: `clamp_min(ceil(${workers} / ${Math.max(1, p.gpusPerNode)}), ${p.minNodes})`,
                labels: { gpu_pool: p.name },
            };
        }),
        ...pools.map((p) => ({
            record: "gpuserve:gpu_pool_usd_per_hour",
            expr: `gpuserve:gpu_pool_nodes{gpu_pool="${p.name}"} * ${p.nodeUsdPerHour}`,
            labels: { gpu_pool: p.name },
        })),
        { record: "gpuserve:platform_usd_per_hour", expr: `vector(${platformUsdPerHour})` },
        { record: "gpuserve:usd_per_hour", expr: `(sum(gpuserve:gpu_pool_usd_per_hour) or vector(0)) + ${platformUsdPerHour}` },
    ];
}

export class Monitoring extends pulumi.ComponentResource {
    readonly release: k8s.helm.v3.Release;
    readonly prometheusUrl: string;
    readonly grafanaAdminPassword: pulumi.Output<string>;

    constructor(name: string, args: MonitoringArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:addons:Monitoring", name, {}, opts);
        const parent = childOf(this, opts);
        const password = new random.RandomPassword(`${name}-grafana-admin`, { length: 32, special: false }, parent);
        this.grafanaAdminPassword = pulumi.secret(password.result);
        const adminSecret = new k8s.core.v1.Secret(
            `${name}-grafana-admin`,
            {
                metadata: { name: GRAFANA_ADMIN_SECRET, namespace: args.namespace },
                type: "Opaque",
                stringData: { "admin-user": "admin", "admin-password": this.grafanaAdminPassword },
            },
            parent,
        );

        this.release = chartRelease(
            `${name}-release`,
            {
                chart: CHARTS.kubePrometheusStack,
                releaseName: "kube-prometheus-stack",
                namespace: args.namespace,
                values: monitoringValues(args),
                overrides: args.overrides,
                timeoutSeconds: 900,
            },
            childOf(this, opts, [adminSecret]),
        );
        this.prometheusUrl = prometheusUrl(args.namespace);

        for (const [file, json] of Object.entries(readDashboards())) {
            const base = file.replace(/\.json$/, "");
            new k8s.core.v1.ConfigMap(
                `${name}-dashboard-${base}`,
                {
                    metadata: {
                        name: `gpuserve-dashboard-${base}`,
                        namespace: args.namespace,
                        labels: { [GRAFANA_DASHBOARD_LABEL]: "1" },
                        annotations: { "gpuserve.io/checksum": createHash("sha256").update(json).digest("hex").slice(0, 16) },
                    },
                    data: { [file]: json },
                },
                parent,
            );
        }
        new k8s.apiextensions.CustomResource(
            `${name}-cost-rules`,
            {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: { name: "gpuserve-cost", namespace: args.namespace },
                spec: { groups: [{ name: COST_RULE_GROUP, interval: "1m", rules: costRecordingRules(args.gpuPoolCosts, args.platformUsdPerHour) }] },
            },
            childOf(this, opts, [this.release]),
        );
        this.registerOutputs({ prometheusUrl: this.prometheusUrl });
    }
}
