/**
 * Every Helm chart the stack installs, pinned in one place. Bump a version only after
 * reading that version's values.yaml, then refresh the recorded keys the tests check
 * (`npx tsx scripts/chart-keys.ts`). Source: shared/facts.md, shared/reference/charts.
 */
export interface ChartRef {
    /** Helm repository URL. */
    readonly repo: string;
    readonly chart: string;
    /** Exact chart version; never a range. */
    readonly version: string;
}

export const CHARTS = {
    nvidiaDevicePlugin: { repo: "https://nvidia.github.io/k8s-device-plugin", chart: "nvidia-device-plugin", version: "0.20.0" },
    dcgmExporter: { repo: "https://nvidia.github.io/dcgm-exporter/helm-charts", chart: "dcgm-exporter", version: "4.8.2" },
    keda: { repo: "https://kedacore.github.io/charts", chart: "keda", version: "2.20.2" },
    clusterAutoscaler: { repo: "https://kubernetes.github.io/autoscaler", chart: "cluster-autoscaler", version: "9.59.0" },
    kubePrometheusStack: { repo: "https://prometheus-community.github.io/helm-charts", chart: "kube-prometheus-stack", version: "88.5.3" },
    loadBalancerController: { repo: "https://aws.github.io/eks-charts", chart: "aws-load-balancer-controller", version: "3.5.0" },
} as const satisfies Record<string, ChartRef>;
