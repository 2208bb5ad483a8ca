/**
 * Static cost bounds of a stack: the floor (what runs at zero load) and the ceiling
 * (every pool at its maximum). The expected cost for the stack's traffic profile comes
 * from the simulator (capacity/sim) and is filled in by the stack.
 */
import { AWS_PRICES, HOURS_PER_MONTH, instanceSpec } from "../stacks/catalog/instances";
import type { PlannedBill } from "./bill/sharedMonth";
import { cacheCostLines, cacheUsdPerHour, nodeVolumeUsdPerHour } from "./cacheCost";
import type { ResolvedGpuPool, StackConfig } from "../stacks/resolved";

export interface CostLine {
    readonly item: string;
    readonly usdPerHour: number;
    readonly quantity: number;
    readonly usdPerMonth: number;
}

/** The static part of cost.json's estimate; capacity/costEstimate.ts adds the simulated month (so this file needs no simulator). */
export interface StaticCost {
    readonly currency: "USD";
    readonly hoursPerMonth: number;
    readonly floorUsdPerMonth: number;
    readonly ceilingUsdPerMonth: number;
    readonly floor: CostLine[];
    readonly ceiling: CostLine[];
    /** The simulated month: none here (CostEstimate in capacity/costEstimate.ts has it). */
    readonly expected: null;
    /** A team stack's month on its platform, split by the gateway's rule (npm run plan adds it: scripts/engine/sharedCompare.ts). */
    readonly bill?: PlannedBill;
    readonly assumptions: string[];
    /** How the system node group was sized from its pods' requests (stacks/systemNodes.ts), when it was. */
    readonly systemNodes?: {
        readonly instanceType: string;
        readonly nodes: number;
        readonly requests: { readonly cpu: number; readonly memoryMiB: number; readonly pods: number };
        readonly arithmetic: readonly string[];
    };
    /** The floor's cheaper options, each priced, taken or not and why (issue 25 point 6). */
    readonly floorOptions?: readonly FloorOption[];
}

export interface FloorOption {
    readonly option: string;
    /** USD/month of the part of the floor the option replaces, with the option. */
    readonly usdPerMonth: number;
    /** The same part of the floor without it. */
    readonly insteadUsdPerMonth: number;
    readonly taken: boolean;
    readonly why: string;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Prices to 6 decimals: 1.006 x 0.4 is 0.4024 in cost.json, not 0.40240000000000004. */
const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

function line(item: string, usdPerHour: number, quantity: number): CostLine {
    return { item, usdPerHour: round6(usdPerHour), quantity, usdPerMonth: round2(usdPerHour * quantity * HOURS_PER_MONTH) };
}

/** On-demand USD/hour of an instance type in the stack's region, config overrides first. */
export function onDemandPrice(cfg: Pick<StackConfig, "prices" | "region">, instanceType: string): number {
    const price = cfg.prices.instances[instanceType] ?? instanceSpec(instanceType)?.usdPerHour[cfg.region];
    if (price === undefined) throw new Error(`no price for ${instanceType} in ${cfg.region}`);
    return price;
}

/**
 * USD/hour of one node of a pool: its cheapest instance type, spot-discounted when spot, plus its volume's provisioned
 * throughput (capacity/cacheCost.ts nodeVolumeUsdPerHour: billed per node while it exists, never discounted).
 */
export function poolNodePrice(cfg: Pick<StackConfig, "prices" | "region">, pool: ResolvedGpuPool): { instanceType: string; usdPerHour: number } {
    const discount = pool.capacityType === "spot" ? 1 - cfg.prices.spotDiscount : 1;
    const [cheapest] = pool.instanceTypes
        .map((t) => ({ instanceType: t, usdPerHour: onDemandPrice(cfg, t) * discount + nodeVolumeUsdPerHour(t) }))
        .sort((a, b) => a.usdPerHour - b.usdPerHour);
    return cheapest;
}

/** GPU nodes a pool keeps at zero load: its min nodes, or what its models' min replicas need. */
export function floorNodes(cfg: StackConfig, pool: ResolvedGpuPool): number {
    const minReplicas = cfg.models.filter((m) => m.pool === pool.name).reduce((n, m) => n + m.scaling.minReplicas, 0);
    return Math.max(pool.minNodes, Math.ceil(minReplicas / Math.max(1, pool.gpusPerNode)));
}

/** NAT gateways a stack's network has (0 for an existing VPC): one, or one per AZ. */
export function natGatewayCount(cfg: Pick<StackConfig, "network">): number {
    return natGatewaysFor(cfg.network);
}

export function natGatewaysFor(network: { existing?: unknown; natGateways: "single" | "perAz"; availabilityZoneCount: number }): number {
    if (network.existing) return 0;
    return network.natGateways === "perAz" ? network.availabilityZoneCount : 1;
}

/** USD/hour of what runs regardless of load: control plane, NAT, ALB, the minimum system nodes. */
export function platformUsdPerHour(cfg: StackConfig, natGatewayCount: number): number {
    return staticCost(cfg, natGatewayCount)
        .floor.filter((l) => !l.item.startsWith("GPU pool"))
        .reduce((s, l) => s + l.usdPerHour * l.quantity, 0);
}

export function staticCost(cfg: StackConfig, natGatewayCount: number): StaticCost {
    if (cfg.role === "team") return teamStaticCost(cfg);
    const system = cfg.systemNodes;
    const systemType = system.instanceTypes[0];
    const shared = [
        line("EKS control plane (standard support)", AWS_PRICES.eksControlPlanePerHour, 1),
        line(`NAT gateway (hourly, before data)`, AWS_PRICES.natGatewayPerHour, natGatewayCount),
        line("Application Load Balancer (hourly, before LCUs)", AWS_PRICES.albPerHour, 1),
        // Cold-start caches at rest (capacity/cacheCost.ts): paid at zero load too.
        ...cacheCostLines(cfg).map((c) => line(c.item, cacheUsdPerHour(c), 1)),
    ];
    const floor = [...shared, line(`system nodes ${systemType}`, onDemandPrice(cfg, systemType), system.minSize)];
    const ceiling = [...shared, line(`system nodes ${systemType}`, onDemandPrice(cfg, systemType), system.maxSize)];
    for (const pool of cfg.gpuPools) {
        const node = poolNodePrice(cfg, pool);
        const label = `GPU pool ${pool.name}: ${node.instanceType} ${pool.capacityType}`;
        const warm = floorNodes(cfg, pool);
        if (warm > 0) floor.push(line(label, node.usdPerHour, warm));
        ceiling.push(line(label, node.usdPerHour, pool.maxNodes));
    }
    const sizing = system.sizing;
    return {
        ...estimate(floor, ceiling, [
            `${HOURS_PER_MONTH} hours per month; on-demand prices from stacks/catalog/instances.ts unless overridden in gpuserve:prices`,
            `spot priced at ${Math.round(cfg.prices.spotDiscount * 100)} % off on-demand`,
            "warm windows are not in the floor (they depend on the schedule); NAT data, EBS volumes and LCUs are not included",
            ...(AWS_PRICES.regions.includes(cfg.region)
                ? []
                : [
                      `EKS, NAT gateway, load balancer and EBS lines use ${AWS_PRICES.regions.join("/")} prices (stacks/catalog/instances.ts has no ${cfg.region} figures for them)`,
                  ]),
        ]),
        ...(sizing
            ? { systemNodes: { instanceType: sizing.instanceType, nodes: sizing.nodes, requests: sizing.requests, arithmetic: sizing.arithmetic } }
            : {}),
        floorOptions: floorOptions(cfg, natGatewayCount),
    };
}

/** The system node type every stack had by default before they were sized from their pods' requests. */
const PREVIOUS_SYSTEM_TYPE = "m7i.large";

/** Interface endpoints the nodes and controllers would need without a NAT gateway (ECR api and dkr, STS, EKS auth, EKS, EC2, ELB, Auto Scaling). */
const NAT_REPLACING_ENDPOINTS = ["ecr.api", "ecr.dkr", "sts", "eks-auth", "eks", "ec2", "elasticloadbalancing", "autoscaling"] as const;

/**
 * The floor's cheaper options, priced against what the stack has: the system nodes sized from their
 * requests (taken by default), on spot, on Graviton; VPC interface endpoints instead of the NAT gateway.
 */
export function floorOptions(cfg: StackConfig, natGatewayCount: number): FloorOption[] {
    const month = (usdPerHour: number, n: number) => round2(usdPerHour * n * HOURS_PER_MONTH);
    const s = cfg.systemNodes;
    const type = s.instanceTypes[0];
    const now = month(onDemandPrice(cfg, type), s.minSize);
    const out: FloorOption[] = [];
    out.push({
        option: `system nodes sized from their pods' requests: ${s.minSize} x ${type} (the default was ${PREVIOUS_SYSTEM_TYPE})`,
        usdPerMonth: now,
        insteadUsdPerMonth: month(onDemandPrice(cfg, PREVIOUS_SYSTEM_TYPE), s.minSize),
        taken: s.sizing !== undefined,
        why: s.sizing ? s.sizing.arithmetic.join("; ") : "gpuserve:systemNodes sets the type and size",
    });
    out.push({
        option: `system nodes on spot (${s.minSize} x ${type} at ${Math.round(cfg.prices.spotDiscount * 100)} % off)`,
        usdPerMonth: month(onDemandPrice(cfg, type) * (1 - cfg.prices.spotDiscount), s.minSize),
        insteadUsdPerMonth: now,
        taken: false,
        why: "not taken: an interruption (2 minutes' notice) restarts Prometheus, KEDA and the Cluster Autoscaler and ends the requests held by the gateway on that node; the GPU pools are where spot pays (their capacityType)",
    });
    const graviton = "m7g.large";
    if (instanceSpec(graviton)?.usdPerHour[cfg.region] !== undefined) {
        out.push({
            option: `Graviton system nodes (${s.minSize} x ${graviton})`,
            usdPerMonth: month(onDemandPrice(cfg, graviton), s.minSize),
            insteadUsdPerMonth: now,
            taken: false,
            why: "not taken: every system-node image must be multi-arch; the add-on, UI, Valkey, AWS CLI and vLLM images are (docs/teams.md lists the sources), but the gateway image the stack builds is linux/amd64 only",
        });
    }
    if (natGatewayCount > 0) {
        const azs = cfg.network.availabilityZoneCount;
        out.push({
            option: `${NAT_REPLACING_ENDPOINTS.length} interface VPC endpoints in ${azs} AZs instead of ${natGatewayCount} NAT gateway${natGatewayCount > 1 ? "s" : ""}`,
            usdPerMonth: month(AWS_PRICES.vpcInterfaceEndpointPerAzHour, NAT_REPLACING_ENDPOINTS.length * azs),
            insteadUsdPerMonth: month(AWS_PRICES.natGatewayPerHour, natGatewayCount),
            taken: false,
            why: `not taken: dearer before any data, and Docker Hub, quay.io, registry.k8s.io, ghcr.io and the Hugging Face Hub (images, weights) have no endpoint, so the NAT stays; S3 already goes through the free gateway endpoint (${NAT_REPLACING_ENDPOINTS.join(", ")})`,
        });
    }
    return out;
}

/** A static estimate from its floor and ceiling lines: exact amounts summed, rounded once (per-line rounding would drift by cents). */
function estimate(floor: CostLine[], ceiling: CostLine[], assumptions: string[]): StaticCost {
    const sum = (lines: CostLine[]) => round2(lines.reduce((s, l) => s + l.usdPerHour * l.quantity * HOURS_PER_MONTH, 0));
    return {
        currency: "USD",
        hoursPerMonth: HOURS_PER_MONTH,
        floorUsdPerMonth: sum(floor),
        ceilingUsdPerMonth: sum(ceiling),
        floor,
        ceiling,
        expected: null,
        assumptions,
    };
}

/**
 * A team stack on a platform pays for its own worker pools and its weights bucket; the control plane,
 * NAT, ALB, system nodes, the image-cache snapshot and the shared pools are the platform's (its
 * cost.json; the split between teams: npm run compare -- --shared). Floor: the GPU nodes its models'
 * minReplicas keep; ceiling: the nodes its models' maxReplicas take.
 */
function teamStaticCost(cfg: StackConfig): StaticCost {
    const own = cfg.models.filter((m) => !m.shared);
    const caches = cacheCostLines({ coldStart: { ...cfg.coldStart, imageCache: "none" }, models: own }).map((c) => line(c.item, cacheUsdPerHour(c), 1));
    const floor = [...caches];
    const ceiling = [...caches];
    for (const pool of cfg.gpuPools) {
        const mine = own.filter((m) => m.pool === pool.name);
        if (mine.length === 0) continue;
        const node = poolNodePrice(cfg, pool);
        const label = `GPU pool ${pool.name} (platform '${cfg.platform?.stack}'): ${node.instanceType} ${pool.capacityType}`;
        const nodes = (replicas: number) => Math.ceil(replicas / Math.max(1, pool.gpusPerNode));
        const warm = nodes(mine.reduce((n, m) => n + m.scaling.minReplicas, 0));
        if (warm > 0) floor.push(line(label, node.usdPerHour, warm));
        ceiling.push(line(label, node.usdPerHour, nodes(mine.reduce((n, m) => n + m.scaling.maxReplicas, 0))));
    }
    const p = cfg.platform;
    return estimate(floor, ceiling, [
        `${HOURS_PER_MONTH} hours per month; node prices from platform '${p?.stack}' (its catalog and gpuserve:prices)`,
        `the platform's floor ($${p?.floorUsdPerMonth.toFixed(2)}/month: control plane, NAT, ALB, system nodes${p && p.sharedPools.length > 0 ? ", shared pools at zero load" : ""}) is in platform '${p?.stack}''s cost.json, shared by its ${Object.keys(p?.teams ?? {}).length} teams`,
        ...(own.length < cfg.models.length
            ? [
                  `shared pools (${cfg.models
                      .filter((m) => m.shared)
                      .map((m) => m.name)
                      .join(", ")}) run on the platform: expected simulates them as if this team were alone on them`,
              ]
            : []),
    ]);
}
