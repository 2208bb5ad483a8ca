/**
 * Static cost bounds of a stack: the floor (what runs at zero load) and the ceiling
 * (every pool at its maximum). The expected cost for the stack's traffic profile comes
 * from the simulator (capacity/sim) and is filled in by the stack.
 */
import { AWS_PRICES, HOURS_PER_MONTH, instanceSpec } from "../stacks/catalog/instances";
import type { ExpectedCost } from "./sim/expected";
import { cacheCostLines, cacheUsdPerHour, nodeVolumeUsdPerHour } from "./cacheCost";
import { ResolvedGpuPool, StackConfig } from "../stacks/validate";

export interface CostLine {
    readonly item: string;
    readonly usdPerHour: number;
    readonly quantity: number;
    readonly usdPerMonth: number;
}

export interface CostEstimate {
    readonly currency: "USD";
    readonly hoursPerMonth: number;
    readonly floorUsdPerMonth: number;
    readonly ceilingUsdPerMonth: number;
    readonly floor: CostLine[];
    readonly ceiling: CostLine[];
    /** The simulated month for the stack's traffic profile (capacity/sim); null in the static estimate alone. */
    readonly expected: ExpectedCost | null;
    readonly assumptions: string[];
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

/** USD/hour of one worker (one GPU) of a pool: a node's price shared by its GPUs. */
export function workerPrice(cfg: Pick<StackConfig, "prices" | "region">, pool: ResolvedGpuPool): number {
    return poolNodePrice(cfg, pool).usdPerHour / Math.max(1, pool.gpusPerNode);
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

export function staticCost(cfg: StackConfig, natGatewayCount: number): CostEstimate {
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
    // Sum exact amounts, round once (per-line rounding would drift by cents).
    const sum = (lines: CostLine[]) => round2(lines.reduce((s, l) => s + l.usdPerHour * l.quantity * HOURS_PER_MONTH, 0));
    return {
        currency: "USD",
        hoursPerMonth: HOURS_PER_MONTH,
        floorUsdPerMonth: sum(floor),
        ceilingUsdPerMonth: sum(ceiling),
        floor,
        ceiling,
        expected: null,
        assumptions: [
            `${HOURS_PER_MONTH} hours per month; on-demand prices from stacks/catalog/instances.ts unless overridden in gpuserve:prices`,
            `spot priced at ${Math.round(cfg.prices.spotDiscount * 100)} % off on-demand`,
            "warm windows are not in the floor (they depend on the schedule); NAT data, EBS volumes and LCUs are not included",
            ...(AWS_PRICES.regions.includes(cfg.region)
                ? []
                : [`EKS, NAT gateway, load balancer and EBS lines use ${AWS_PRICES.regions.join("/")} prices (stacks/catalog/instances.ts has no ${cfg.region} figures for them)`]),
        ],
    };
}
