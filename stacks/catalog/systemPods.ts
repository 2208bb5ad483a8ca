/**
 * What runs on the system node group and what each pod requests: the numbers the system nodes
 * are sized from (stacks/systemNodes.ts) and the numbers the components emit, so the two agree
 * (components import these constants; test/stacks/systemNodes.test.ts compares them with the plan).
 *
 * Sources, per pod:
 *  - this program's own pods: the requests it sets (gateway, UI, Valkey, the weights sync Job);
 *  - chart pods: the pinned chart's default (KEDA 2.20.2 values.yaml `resources.*.requests`), or, where
 *    the chart leaves `resources: {}`, the example in its values.yaml comment, which this program now sets
 *    (cluster-autoscaler 9.59.0 values.yaml "requests: cpu 100m, memory 300Mi"; aws-load-balancer-controller
 *    3.5.0 values.yaml "requests: cpu 100m, memory 128Mi"; kube-prometheus-stack 88.5.3 values.yaml
 *    prometheusOperator "requests: cpu 100m, memory 100Mi", prometheusConfigReloader "cpu 200m, memory 50Mi");
 *  - EKS managed add-ons, as EKS deploys them: CoreDNS 100m / 70Mi per replica (kubernetes cluster/addons/dns
 *    coredns.yaml.base, which the EKS add-on keeps), kube-proxy 100m (EKS kube-proxy add-on), aws-node 25m
 *    (aws/amazon-vpc-cni-k8s charts/aws-vpc-cni values.yaml), EBS CSI 10m / 40Mi per container
 *    (kubernetes-sigs/aws-ebs-csi-driver charts values.yaml `controller.resources`, which its sidecars default to: controller 6 containers, node 3).
 * Pods that request nothing (Grafana, kube-state-metrics, node-exporter, the pod identity agent: their charts
 * set no requests and give no example) are not in the sum; the headroom (SYSTEM_HEADROOM) is for them and for
 * memory limits above requests. Estimates to replace with measurements from a running cluster
 * (kube_pod_container_resource_requests, container_memory_working_set_bytes).
 */

export interface PodRequests {
    /** CPU cores. */
    readonly cpu: number;
    readonly memoryMiB: number;
}

/** The gateway container (components/serving/gatewayDeployment.ts). */
export const GATEWAY_REQUESTS: PodRequests = { cpu: 0.25, memoryMiB: 256 };
/** The UI's nginx (components/serving/ui.ts). */
export const UI_REQUESTS: PodRequests = { cpu: 0.05, memoryMiB: 32 };
/** The in-cluster Valkey's CPU; its memory is serving.batch.memoryMiB (components/serving/batchStore.ts). */
export const VALKEY_CPU = 0.1;
/** The weights sync Job's check and upload containers (components/serving/weights/syncJob.ts). */
export const SYNC_JOB_REQUESTS: PodRequests = { cpu: 0.1, memoryMiB: 256 };
/** Its download container (the Hugging Face Hub download in Python). */
export const SYNC_JOB_DOWNLOAD_REQUESTS: PodRequests = { cpu: 0.25, memoryMiB: 256 };
/**
 * What the Job's pod requests: its containers run one after another (two init containers, then the
 * upload), so the largest counts (Kubernetes "Init Containers", resource sharing). One Job runs at a time per stack.
 */
export const SYNC_JOB_POD_REQUESTS: PodRequests = {
    cpu: Math.max(SYNC_JOB_REQUESTS.cpu, SYNC_JOB_DOWNLOAD_REQUESTS.cpu),
    memoryMiB: Math.max(SYNC_JOB_REQUESTS.memoryMiB, SYNC_JOB_DOWNLOAD_REQUESTS.memoryMiB),
};
/** Requests this program sets where the chart sets none (values from each chart's own commented example, above). */
export const ADDON_REQUESTS = {
    clusterAutoscaler: { cpu: 0.1, memoryMiB: 300 },
    loadBalancerController: { cpu: 0.1, memoryMiB: 128 },
    prometheusOperator: { cpu: 0.1, memoryMiB: 100 },
    prometheusConfigReloader: { cpu: 0.2, memoryMiB: 50 },
} as const satisfies Record<string, PodRequests>;
/** Prometheus itself (components/addons/monitoring). */
const PROMETHEUS_REQUESTS: PodRequests = { cpu: 0.2, memoryMiB: 1024 };

export interface SystemPod extends PodRequests {
    readonly name: string;
    /** Pods of this kind (replicas). */
    readonly count: number;
}

/** Add-on pods of the cluster half (every standalone and platform stack), with the add-ons it enables. */
export function addonPods(addons: { keda: boolean; prometheus: boolean; clusterAutoscaler: boolean; loadBalancerController: boolean }): SystemPod[] {
    const pods: SystemPod[] = [
        { name: "CoreDNS (EKS add-on)", count: 2, cpu: 0.1, memoryMiB: 70 },
        { name: "EBS CSI controller (EKS add-on, 6 containers)", count: 2, cpu: 0.06, memoryMiB: 240 },
    ];
    if (addons.keda) pods.push({ name: "KEDA operator, metrics API server, admission webhooks", count: 3, cpu: 0.1, memoryMiB: 100 });
    if (addons.prometheus) {
        pods.push({
            name: "Prometheus + config reloader",
            count: 1,
            cpu: PROMETHEUS_REQUESTS.cpu + ADDON_REQUESTS.prometheusConfigReloader.cpu,
            memoryMiB: PROMETHEUS_REQUESTS.memoryMiB + ADDON_REQUESTS.prometheusConfigReloader.memoryMiB,
        });
        pods.push({ name: "Prometheus Operator", count: 1, ...ADDON_REQUESTS.prometheusOperator });
    }
    if (addons.clusterAutoscaler) pods.push({ name: "Cluster Autoscaler", count: 1, ...ADDON_REQUESTS.clusterAutoscaler });
    if (addons.loadBalancerController) pods.push({ name: "AWS Load Balancer Controller", count: 2, ...ADDON_REQUESTS.loadBalancerController });
    return pods;
}

/** DaemonSet pods on every system node (the EKS add-ons'). */
export const PER_NODE_PODS: readonly SystemPod[] = [
    { name: "kube-proxy", count: 1, cpu: 0.1, memoryMiB: 0 },
    { name: "aws-node (VPC CNI)", count: 1, cpu: 0.025, memoryMiB: 0 },
    { name: "EBS CSI node (3 containers)", count: 1, cpu: 0.03, memoryMiB: 120 },
    { name: "EKS Pod Identity agent", count: 1, cpu: 0, memoryMiB: 0 },
    { name: "node-exporter", count: 1, cpu: 0, memoryMiB: 0 },
];

/** One serving stack's pods on the system nodes: its gateways (at their minimum), UI, batch store and a sync Job. */
export function servingPods(label: string, s: { gatewayReplicas: number; uiReplicas: number; valkeyMiB?: number; syncJob: boolean }): SystemPod[] {
    const pods: SystemPod[] = [
        { name: `${label} gateway`, count: s.gatewayReplicas, ...GATEWAY_REQUESTS },
        { name: `${label} UI`, count: s.uiReplicas, ...UI_REQUESTS },
    ];
    if (s.valkeyMiB !== undefined) pods.push({ name: `${label} batch store (Valkey)`, count: 1, cpu: VALKEY_CPU, memoryMiB: s.valkeyMiB });
    if (s.syncJob) pods.push({ name: `${label} weights sync Job`, count: 1, ...SYNC_JOB_POD_REQUESTS });
    return pods;
}

/** As a container's `resources.requests`: "250m", "256Mi". */
export function k8sRequests(r: PodRequests): { cpu: string; memory: string } {
    return { cpu: `${Math.round(r.cpu * 1000)}m`, memory: `${r.memoryMiB}Mi` };
}
