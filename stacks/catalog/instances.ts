/**
 * EC2 instance catalog: what each instance type offers and what it costs.
 *
 * Prices are on-demand Linux USD per hour (tenancy Shared, capacitystatus Used).
 *
 * us-east-1 and us-west-2: as listed 2026-01 on AWS's public price list: the EC2 On-Demand
 * pricing page (https://aws.amazon.com/ec2/pricing/on-demand/) and the AWS Price List API offer
 * file (https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/us-east-1/index.json,
 * attributes instanceType, operatingSystem=Linux, tenancy=Shared, capacitystatus=Used).
 * p4d/p4de reflect AWS's June 2025 price reduction for P4 and P5 instances
 * (https://aws.amazon.com/about-aws/whats-new/2025/06/pricing-usage-model-ec2-instances-nvidia-gpus/).
 *
 * eu-west-1, eu-central-1, eu-north-1 and ap-northeast-1: the same AWS Price List API figures as
 * tabulated in SkyPilot's catalog, skypilot-org/skypilot-catalog catalogs/v7/aws/vms.csv at commit
 * 001367d22a0033fac286a8c71aeac7109e431bcb (2026-12-04; column Price, one row per zone, equal
 * across a region's zones). Its us-east-1 rows equal the prices above for every g5, g6, g6e,
 * t3, c6i and m type, which is why it is trusted for the other regions. Left unpriced on purpose
 * (validation then says so and asks for `prices.instances`):
 *  - g6.xlarge and g6e.xlarge in eu-west-1: not offered there (no row);
 *  - p4d.24xlarge outside the US and p4de.24xlarge everywhere but the US: that table still lists
 *    P4 prices from before the June 2025 reduction (p4d us-east-1 32.7726 where AWS now charges
 *    21.96), so its other P4 rows cannot be trusted either; p4de is offered in the US only.
 * GPU counts and memory: https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html.
 * Every price can be overridden per stack with `gpuserve:prices` (config), which is
 * also how a region or type outside this table is supported.
 */

/** GPU models we know how to schedule and price. */
export const GPU_TYPES = ["a10g", "l4", "l40s", "a100-40gb", "a100-80gb"] as const;
export type GpuType = (typeof GPU_TYPES)[number];

export interface InstanceSpec {
    readonly vcpu: number;
    readonly memoryGiB: number;
    /** Absent for CPU-only instances. */
    readonly gpu?: {
        readonly type: GpuType;
        readonly count: number;
        readonly memoryGiB: number;
    };
    /** On-demand USD/hour by region. */
    readonly usdPerHour: Readonly<Record<string, number>>;
    /** Graviton (arm64); absent: x86_64. */
    readonly arm64?: true;
}

export const PRICE_SOURCE = {
    gpu: "AWS EC2 On-Demand pricing (aws.amazon.com/ec2/pricing/on-demand, AWS Price List API), Linux, 2026-01",
    cpu: "AWS EC2 On-Demand pricing (aws.amazon.com/ec2/pricing/on-demand, AWS Price List API), Linux, 2026-01",
    /** Regions outside the US (see the header of stacks/catalog/instances.ts). */
    regional:
        "eu-west-1, eu-central-1, eu-north-1, ap-northeast-1: AWS Price List API figures as tabulated in skypilot-org/skypilot-catalog catalogs/v7/aws/vms.csv (commit 001367d, 2026-12-04)",
} as const;

/** Regions outside the US the catalog prices, in the order of the arguments of `priced()`. */
export const REGIONAL_PRICE_REGIONS = ["eu-west-1", "eu-central-1", "eu-north-1", "ap-northeast-1"] as const;

type Regional = readonly [euWest1: number | null, euCentral1: number | null, euNorth1: number | null, apNortheast1: number | null];

/**
 * One type's prices: the same in us-east-1 and us-west-2, then the regional ones (null: not
 * priced there, see the header).
 */
function priced(us: number, regional: Regional = [null, null, null, null]): Record<string, number> {
    const prices: Record<string, number> = { "us-east-1": us, "us-west-2": us };
    REGIONAL_PRICE_REGIONS.forEach((region, i) => {
        const usd = regional[i];
        if (usd !== null) prices[region] = usd;
    });
    return prices;
}

export const INSTANCE_CATALOG: Readonly<Record<string, InstanceSpec>> = {
    // --- GPU: NVIDIA A10G (24 GB) ---
    "g5.xlarge": { vcpu: 4, memoryGiB: 16, gpu: { type: "a10g", count: 1, memoryGiB: 24 }, usdPerHour: priced(1.006, [1.123, 1.258, 1.067, 1.459]) },
    "g5.2xlarge": { vcpu: 8, memoryGiB: 32, gpu: { type: "a10g", count: 1, memoryGiB: 24 }, usdPerHour: priced(1.212, [1.35296, 1.5156, 1.28549, 1.75776]) },
    "g5.4xlarge": { vcpu: 16, memoryGiB: 64, gpu: { type: "a10g", count: 1, memoryGiB: 24 }, usdPerHour: priced(1.624, [1.81287, 2.03081, 1.72247, 2.35528]) },
    "g5.12xlarge": {
        vcpu: 48,
        memoryGiB: 192,
        gpu: { type: "a10g", count: 4, memoryGiB: 24 },
        usdPerHour: priced(5.672, [6.33167, 7.09282, 6.01593, 8.22609]),
    },
    // --- GPU: NVIDIA L4 (24 GB) ---
    "g6.xlarge": { vcpu: 4, memoryGiB: 16, gpu: { type: "l4", count: 1, memoryGiB: 24 }, usdPerHour: priced(0.8048, [null, 1.0064, 0.8536, 1.1672]) },
    // --- GPU: NVIDIA L40S (48 GB) ---
    "g6e.xlarge": { vcpu: 4, memoryGiB: 32, gpu: { type: "l40s", count: 1, memoryGiB: 48 }, usdPerHour: priced(1.861, [null, 2.327, 1.974, 2.699]) },
    // --- GPU: NVIDIA A100 ---
    "p4d.24xlarge": { vcpu: 96, memoryGiB: 1152, gpu: { type: "a100-40gb", count: 8, memoryGiB: 40 }, usdPerHour: priced(21.96) },
    "p4de.24xlarge": { vcpu: 96, memoryGiB: 1152, gpu: { type: "a100-80gb", count: 8, memoryGiB: 80 }, usdPerHour: priced(27.45) },
    // --- CPU: system node group ---
    // c6i.large, m6i.xlarge and m7g.large: vms.csv rows read at the same commit (their us-east-1 rows equal the US prices here).
    "t3.large": { vcpu: 2, memoryGiB: 8, usdPerHour: priced(0.0832, [0.0912, 0.096, 0.0864, 0.1088]) },
    "c6i.large": { vcpu: 2, memoryGiB: 4, usdPerHour: priced(0.085, [0.0912, 0.097, 0.091, 0.107]) },
    "m6i.xlarge": { vcpu: 4, memoryGiB: 16, usdPerHour: priced(0.192, [0.214, 0.23, 0.204, 0.248]) },
    // Graviton: priced for the floor's options (cost.json floorOptions); the system node group is x86_64 (stacks/systemNodes.ts).
    "m7g.large": { vcpu: 2, memoryGiB: 8, usdPerHour: priced(0.0816, [0.091, 0.0978, 0.0867, 0.1054]), arm64: true },
    "m6i.large": { vcpu: 2, memoryGiB: 8, usdPerHour: priced(0.096, [0.107, 0.115, 0.102, 0.124]) },
    "m7i.large": { vcpu: 2, memoryGiB: 8, usdPerHour: priced(0.1008, [0.11235, 0.12075, 0.1071, 0.1302]) },
    "m7i.xlarge": { vcpu: 4, memoryGiB: 16, usdPerHour: priced(0.2016, [0.2247, 0.2415, 0.2142, 0.2604]) },
    "m7i.2xlarge": { vcpu: 8, memoryGiB: 32, usdPerHour: priced(0.4032, [0.4494, 0.483, 0.4284, 0.5208]) },
};

/** Default instance types per GPU type: the smallest instance with one such GPU (one shape per node group). */
export const DEFAULT_INSTANCE_TYPES: Readonly<Record<GpuType, readonly string[]>> = {
    a10g: ["g5.xlarge"],
    l4: ["g6.xlarge"],
    l40s: ["g6e.xlarge"],
    "a100-40gb": ["p4d.24xlarge"],
    "a100-80gb": ["p4de.24xlarge"],
};

/**
 * Fixed AWS prices (USD, us-east-1 and us-west-2) that are not instances, from AWS's pricing pages:
 * EKS https://aws.amazon.com/eks/pricing/ (standard $0.10, extended support $0.60 per
 * cluster-hour), NAT gateway https://aws.amazon.com/vpc/pricing/, gp3
 * https://aws.amazon.com/ebs/pricing/, ALB https://aws.amazon.com/elasticloadbalancing/pricing/.
 */
export const AWS_PRICES = {
    /** Regions these figures hold for (the same in both); elsewhere they are an approximation the plan states. */
    regions: ["us-east-1", "us-west-2"] as readonly string[],
    /** An interface VPC endpoint per AZ per hour, before data (https://aws.amazon.com/privatelink/pricing/, us-east-1). */
    vpcInterfaceEndpointPerAzHour: 0.01,
    /** EKS control plane per hour, standard support. Extended support is 0.60. */
    eksControlPlanePerHour: 0.1,
    natGatewayPerHour: 0.045,
    natGatewayPerGb: 0.045,
    /** gp3 EBS, USD per GiB-month (us-east-1). */
    gp3PerGbMonth: 0.08,
    /** Application Load Balancer per hour, before LCUs (us-east-1). */
    albPerHour: 0.0225,
} as const;

/** Hours in an average month (730 = 8760 / 12), the convention AWS pricing uses. */
export const HOURS_PER_MONTH = 730;

export function instanceSpec(instanceType: string): InstanceSpec | undefined {
    return Object.prototype.hasOwnProperty.call(INSTANCE_CATALOG, instanceType) ? INSTANCE_CATALOG[instanceType] : undefined;
}

/** Regions for which the catalog has a price for this instance type. */
export function catalogRegions(instanceType: string): string[] {
    const spec = instanceSpec(instanceType);
    return spec ? Object.keys(spec.usdPerHour).sort() : [];
}
