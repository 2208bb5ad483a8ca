/**
 * A team stack on an EKS cluster this program did not create (gpuserve:existingCluster, e.g. a
 * university's central platform): the same platform outputs a gpuserve platform would export, from
 * the team's config. The cluster's admins own the namespace (with its quota) and the add-ons; the
 * team stack states what it expects there (expectedAddons) and the plan prints it. Pure.
 */
import { DEFAULT_INSTANCE_TYPES, instanceSpec } from "./catalog/instances";
import { PLATFORM_OUTPUTS_VERSION, PlatformOutputs } from "./platformOutputs";
import { ExistingCluster, pricesSchema, servingSchema } from "./schema";

/** What a team stack needs on an existing cluster, in the order it is used (docs/teams.md). */
export function expectedAddons(ec: ExistingCluster): string[] {
    return [
        `the namespace '${ec.namespace}', with a ResourceQuota on requests.nvidia.com/gpu (the cluster's admins create it; this stack creates nothing outside it)`,
        "KEDA >= 2.15 (keda.sh/v1alpha1 ScaledObject: every worker pool's scale policy; fallback behavior currentReplicasIfHigher)",
        `the Prometheus Operator CRDs (ServiceMonitor) and a Prometheus at ${ec.prometheusUrl} that selects ServiceMonitors in '${ec.namespace}' (namespace '${ec.prometheusNamespace}'), keeping ${ec.prometheusRetention}`,
        `the AWS Load Balancer Controller with the IngressClass '${ec.ingressClassName}' (the team's Ingress and its ALB), pods reachable from ${ec.loadBalancerSourceCidrs.join(", ")}`,
        "the EKS Pod Identity Agent add-on (the workers' and the weights sync Job's AWS credentials)",
        "a network policy engine (the VPC CNI with enableNetworkPolicy, or Calico/Cilium): the stack's NetworkPolicies are only enforced with one",
        `GPU nodes labelled ${ec.gpuPools
            .map(
                (p) =>
                    `${Object.entries(p.nodeSelector)
                        .map(([k, v]) => `${k}=${v}`)
                        .join(",")} (${p.gpuType})`,
            )
            .join("; ")}, with the NVIDIA device plugin advertising nvidia.com/gpu, and a node autoscaler that scales them from zero`,
    ];
}

/** The platform outputs of an existing cluster, from the team's raw config (validated by the schema later). */
export function existingClusterOutputs(raw: Record<string, unknown>, ec: ExistingCluster): PlatformOutputs {
    const serving = servingSchema.safeParse(raw.serving ?? {});
    const vllmImage = serving.success ? serving.data.vllmImage : servingSchema.parse({}).vllmImage;
    const tls = serving.success && serving.data.certificateArn !== undefined;
    const prices = pricesSchema.safeParse(raw.prices ?? {});
    const team = typeof raw.environment === "string" ? raw.environment : ec.namespace;
    const pools = ec.gpuPools.map((p) => {
        const instanceTypes = p.instanceTypes ?? [...DEFAULT_INSTANCE_TYPES[p.gpuType]];
        const gpu = instanceSpec(instanceTypes[0])?.gpu;
        return {
            name: p.name,
            gpuType: p.gpuType,
            instanceTypes,
            capacityType: p.capacityType,
            minNodes: p.minNodes,
            maxNodes: p.maxNodes,
            ami: p.ami,
            diskSizeGiB: 200,
            // Not our launch templates: nothing binds the instance store, so EKS's default (the kubelet on the node's volume).
            podStorage: "volume" as const,
            gpusPerNode: gpu?.count ?? 1,
            gpuMemoryGiB: gpu?.memoryGiB ?? 1,
            nodeSelector: p.nodeSelector,
        };
    });
    const gpus: Record<string, number> = {};
    for (const p of ec.gpuPools) gpus[p.gpuType] = (gpus[p.gpuType] ?? 0) + (p.quota ?? p.maxNodes * (pools.find((x) => x.name === p.name)?.gpusPerNode ?? 1));
    const host = serving.success ? serving.data.domain : undefined;
    return {
        version: PLATFORM_OUTPUTS_VERSION,
        stack: `existing cluster ${ec.name}`,
        environment: ec.name,
        region: ec.region,
        // Endpoint, CA and ARN are looked up by name when the team stack runs (components/team/clusterAccess.ts).
        cluster: { name: ec.name, arn: `arn:aws:eks:${ec.region}::cluster/${ec.name}`, version: "unknown" },
        vpcCidr: ec.vpcCidr,
        loadBalancerSourceCidrs: ec.loadBalancerSourceCidrs,
        ingress: { className: ec.ingressClassName, tls, idleTimeoutSeconds: 4000 },
        prometheus: { url: ec.prometheusUrl, namespace: ec.prometheusNamespace, retention: ec.prometheusRetention },
        addons: { keda: true, dcgmExporter: false, nvidiaDevicePlugin: true, clusterAutoscaler: true },
        coldStart: { imageCache: "none", vllmImage },
        prices: prices.success ? prices.data : pricesSchema.parse({}),
        gpuPools: pools,
        teams: {
            [team]: {
                namespace: ec.namespace,
                host: host ?? "",
                gpus,
                quota: { gpus: Object.values(gpus).reduce((a, b) => a + b, 0), cpu: 1, memoryGiB: 1 },
                sharedPools: [],
            },
        },
        sharedPools: [],
        floorUsdPerMonth: 0,
    };
}
