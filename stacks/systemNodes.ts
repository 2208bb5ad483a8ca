/**
 * The system node group sized from what runs on it (issue 25 point 6), instead of a fixed two
 * m7i.large: the pods' summed requests (stacks/catalog/systemPods.ts) plus SYSTEM_HEADROOM, over at
 * least two nodes (CoreDNS and the Load Balancer Controller run two replicas; PDBs allow one node
 * down), on the cheapest catalogued non-GPU instance type whose allocatable CPU, memory and pod slots
 * hold it. Allocatable on EKS AL2023 (awslabs/amazon-eks-ami nodeadm, kubelet config): memory minus
 * kube-reserved 255 MiB + 11 MiB per max pod and the 100 MiB hard eviction threshold; CPU minus 6 % of
 * the first core, 1 % of the second, 0.5 % of cores 3-4, 0.25 % beyond; max pods from the instance's
 * ENIs (amazon-eks-ami eni-max-pods.txt: (ENIs x (IPv4 per ENI - 1)) + 2).
 *
 * Burstable types (t3) are candidates only when the summed CPU requests stay under their baseline
 * (t3.large: 30 % of each vCPU), because EKS launches them in unlimited credit mode and CPU above the
 * baseline is billed as surplus credits ($0.05 per vCPU-hour, EC2 "Burstable performance instances").
 * Graviton (arm64) types are not candidates: the gateway image the stack builds is linux/amd64 only
 * (docs/teams.md, "A cheaper floor"). Pure.
 */
import { HOURS_PER_MONTH, INSTANCE_CATALOG, instanceSpec } from "./catalog/instances";
import { PER_NODE_PODS, SystemPod, addonPods, servingPods } from "./catalog/systemPods";
import type { ParsedStackConfig } from "./schema";

/** Room above the summed requests: pods that request nothing (Grafana, kube-state-metrics, node-exporter) and limits above requests. */
const SYSTEM_HEADROOM = 0.25;
/** At least two system nodes (two CoreDNS and Load Balancer Controller replicas on separate nodes). */
export const MIN_SYSTEM_NODES = 2;

/** Max pods per instance (amazon-eks-ami eni-max-pods.txt) and the burstable baseline (share of each vCPU), for the candidates. */
const NODE_FACTS: Readonly<Record<string, { maxPods: number; baseline?: number }>> = {
    "t3.large": { maxPods: 35, baseline: 0.3 },
    "c6i.large": { maxPods: 29 },
    "m6i.large": { maxPods: 29 },
    "m7i.large": { maxPods: 29 },
    "m6i.xlarge": { maxPods: 58 },
    "m7i.xlarge": { maxPods: 58 },
    "m7i.2xlarge": { maxPods: 58 },
};

export interface NodeAllocatable {
    readonly cpu: number;
    readonly memoryMiB: number;
    readonly pods: number;
}

/** Whether the sizing knows these instance types (their max pods). */
export function sizableTypes(types: readonly string[]): boolean {
    return types.every((t) => NODE_FACTS[t] !== undefined && instanceSpec(t) !== undefined);
}

/** What the kubelet of an EKS AL2023 node of this type offers to pods (see above). */
export function allocatable(instanceType: string): NodeAllocatable {
    const spec = instanceSpec(instanceType);
    const facts = NODE_FACTS[instanceType];
    if (!spec || !facts) throw new Error(`no node facts for ${instanceType} (stacks/systemNodes.ts NODE_FACTS)`);
    const v = spec.vcpu;
    const reservedCpu = 0.06 * Math.min(v, 1) + 0.01 * Math.min(Math.max(v - 1, 0), 1) + 0.005 * Math.min(Math.max(v - 2, 0), 2) + 0.0025 * Math.max(v - 4, 0);
    const reservedMiB = 255 + 11 * facts.maxPods + 100;
    return { cpu: v - reservedCpu, memoryMiB: spec.memoryGiB * 1024 - reservedMiB, pods: facts.maxPods };
}

export interface SystemSizing {
    /** Pods on the system nodes besides the per-node DaemonSets. */
    readonly pods: readonly SystemPod[];
    readonly perNode: readonly SystemPod[];
    readonly requests: { readonly cpu: number; readonly memoryMiB: number; readonly pods: number };
    readonly instanceType: string;
    readonly nodes: number;
    /** Every candidate, cheapest first: whether it fits, and why not. */
    readonly candidates: readonly {
        readonly instanceType: string;
        readonly nodes: number;
        readonly usdPerMonth: number;
        readonly fits: boolean;
        readonly why?: string;
    }[];
    /** The arithmetic, in words (cost.json, the plan summary, docs). */
    readonly arithmetic: readonly string[];
}

type SizingInput = Pick<ParsedStackConfig, "role" | "addons" | "serving" | "teams" | "models" | "coldStart" | "production" | "prices" | "region">;

/** The pods a standalone or platform stack runs on its system nodes. */
function systemPods(cfg: SizingInput): SystemPod[] {
    const a = cfg.addons;
    const pods = addonPods({
        keda: a.keda.enabled,
        prometheus: a.prometheus.enabled,
        clusterAutoscaler: a.clusterAutoscaler.enabled,
        loadBalancerController: a.loadBalancerController.enabled,
    });
    const sync = cfg.coldStart.weights === "s3";
    const batch = cfg.serving.batch;
    if (cfg.role === "platform") {
        if (cfg.models.length > 0) pods.push(...servingPods("shared pools'", { gatewayReplicas: cfg.serving.gateway.replicas, uiReplicas: 0, syncJob: sync }));
        // Each team's serving pods at its defaults (the footprint its quota also allows, components/platform/teamQuota.ts).
        for (const team of Object.keys(cfg.teams))
            pods.push(...servingPods(`team ${team}:`, { gatewayReplicas: 1, uiReplicas: 1, valkeyMiB: batch.memoryMiB, syncJob: sync }));
    } else {
        pods.push(
            ...servingPods("serving", {
                gatewayReplicas: cfg.serving.gateway.replicas,
                uiReplicas: cfg.production ? 2 : 1,
                valkeyMiB: batch.enabled && batch.store === "inCluster" ? batch.memoryMiB : undefined,
                syncJob: sync,
            }),
        );
    }
    return pods;
}

const r2 = (x: number) => Math.round(x * 100) / 100;
/** CPU sums to the millicore (no float noise in cost.json). */
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The cheapest system node group that holds the stack's system pods: the instance type and node count.
 * `minNodes` raises the count (a production stack spread over three AZs).
 */
export function sizeSystemNodes(cfg: SizingInput, minNodes = MIN_SYSTEM_NODES, types?: readonly string[]): SystemSizing | undefined {
    const pods = systemPods(cfg);
    const sum = (ps: readonly SystemPod[], f: (p: SystemPod) => number) => ps.reduce((s, p) => s + p.count * f(p), 0);
    const requests = { cpu: r3(sum(pods, (p) => p.cpu)), memoryMiB: sum(pods, (p) => p.memoryMiB), pods: sum(pods, () => 1) };
    const perNode = { cpu: r3(sum(PER_NODE_PODS, (p) => p.cpu)), memoryMiB: sum(PER_NODE_PODS, (p) => p.memoryMiB), pods: PER_NODE_PODS.length };
    const largest = Math.max(...pods.map((p) => p.memoryMiB));
    const h = 1 + SYSTEM_HEADROOM;
    const price = (t: string) => cfg.prices.instances[t] ?? instanceSpec(t)?.usdPerHour[cfg.region];
    const candidates = (types ? [...types] : Object.keys(NODE_FACTS))
        .filter((t) => price(t) !== undefined && !INSTANCE_CATALOG[t].gpu)
        .map((t) => {
            const a = allocatable(t);
            const perNodeRoom = { cpu: a.cpu - perNode.cpu, memoryMiB: a.memoryMiB - perNode.memoryMiB, pods: a.pods - perNode.pods };
            const need = (room: number, want: number) => Math.ceil(want / room);
            const nodes = Math.max(
                minNodes,
                need(perNodeRoom.cpu, requests.cpu * h),
                need(perNodeRoom.memoryMiB, requests.memoryMiB * h),
                need(perNodeRoom.pods, requests.pods),
            );
            const baseline = NODE_FACTS[t].baseline;
            const why =
                largest > perNodeRoom.memoryMiB
                    ? `its largest pod (${largest} MiB) does not fit one node`
                    : baseline !== undefined && requests.cpu + nodes * perNode.cpu > baseline * instanceSpec(t)!.vcpu * nodes
                      ? `burstable: ${r2(requests.cpu + nodes * perNode.cpu)} CPU requested > its ${Math.round(baseline * 100)} % baseline x ${instanceSpec(t)!.vcpu} vCPU x ${nodes} nodes (surplus credits)`
                      : undefined;
            return { instanceType: t, nodes, usdPerMonth: r2(nodes * price(t) * HOURS_PER_MONTH), fits: why === undefined, ...(why ? { why } : {}) };
        })
        .sort((a, b) => a.usdPerMonth - b.usdPerMonth || a.instanceType.localeCompare(b.instanceType));
    // A configured type that does not "fit" (burstable over its baseline) is still the user's choice.
    const choice = candidates.find((c) => c.fits) ?? (types ? candidates[0] : undefined);
    if (!choice) return undefined; // nothing priced in the region (or nothing holds it): validation reports the type
    const a = allocatable(choice.instanceType);
    const arithmetic = [
        `system pods request ${r2(requests.cpu)} CPU and ${Math.round(requests.memoryMiB)} MiB in ${requests.pods} pods, plus per node ${r3(perNode.cpu)} CPU, ${perNode.memoryMiB} MiB and ${perNode.pods} DaemonSet pods`,
        `with ${Math.round(SYSTEM_HEADROOM * 100)} % headroom (pods without requests, limits above requests): ${r2(requests.cpu * h)} CPU, ${Math.round(requests.memoryMiB * h)} MiB`,
        `${choice.instanceType} offers ${r2(a.cpu)} CPU, ${Math.round(a.memoryMiB)} MiB and ${a.pods} pods to pods (EKS AL2023 kube-reserved and eviction threshold deducted): ${choice.nodes} nodes hold it, at least ${minNodes}`,
        `cheapest that fits: ${choice.nodes} x ${choice.instanceType} = $${choice.usdPerMonth.toFixed(2)}/month (${candidates
            .filter((c) => c !== choice)
            .slice(0, 4)
            .map((c) => `${c.nodes} x ${c.instanceType} $${c.usdPerMonth.toFixed(2)}${c.why ? `: ${c.why}` : ""}`)
            .join("; ")})`,
    ];
    return { pods, perNode: PER_NODE_PODS, requests, instanceType: choice.instanceType, nodes: choice.nodes, candidates, arithmetic };
}
