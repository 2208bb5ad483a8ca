/**
 * EC2 instance catalog: what each instance type offers and what it costs.
 *
 * Prices are on-demand Linux USD per hour, us-east-1 and us-west-2, as listed 2026-01 on
 * AWS's public price list: the EC2 On-Demand pricing page
 * (https://aws.amazon.com/ec2/pricing/on-demand/) and the AWS Price List API offer file
 * (https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/us-east-1/index.json,
 * attributes instanceType, operatingSystem=Linux, tenancy=Shared, capacitystatus=Used).
 * p4d/p4de reflect AWS's June 2025 price reduction for P4 and P5 instances
 * (https://aws.amazon.com/about-aws/whats-new/2025/06/pricing-usage-model-ec2-instances-nvidia-gpus/).
 * GPU counts and memory: https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html.
 * Every price can be overridden per stack with `gpuserve:prices` (config), which is
 * also how a region outside this table is supported.
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
} as const;

/** Same price in both regions we catalog. */
const usEast1AndWest2 = (usd: number) => ({ "us-east-1": usd, "us-west-2": usd });

export const INSTANCE_CATALOG: Readonly<Record<string, InstanceSpec>> = {
    // --- GPU: NVIDIA A10G (24 GB) ---
    "g5.xlarge": { vcpu: 4, memoryGiB: 16, gpu: { type: "a10g", count: 1, memoryGiB: 24 }, usdPerHour: usEast1AndWest2(1.006) },
    "g5.2xlarge": { vcpu: 8, memoryGiB: 32, gpu: { type: "a10g", count: 1, memoryGiB: 24 }, usdPerHour: usEast1AndWest2(1.212) },
    "g5.4xlarge": { vcpu: 16, memoryGiB: 64, gpu: { type: "a10g", count: 1, memoryGiB: 24 }, usdPerHour: usEast1AndWest2(1.624) },
    "g5.12xlarge": { vcpu: 48, memoryGiB: 192, gpu: { type: "a10g", count: 4, memoryGiB: 24 }, usdPerHour: usEast1AndWest2(5.672) },
    // --- GPU: NVIDIA L4 (24 GB) ---
    "g6.xlarge": { vcpu: 4, memoryGiB: 16, gpu: { type: "l4", count: 1, memoryGiB: 24 }, usdPerHour: usEast1AndWest2(0.8048) },
    // --- GPU: NVIDIA L40S (48 GB) ---
    "g6e.xlarge": { vcpu: 4, memoryGiB: 32, gpu: { type: "l40s", count: 1, memoryGiB: 48 }, usdPerHour: usEast1AndWest2(1.861) },
    // --- GPU: NVIDIA A100 ---
    "p4d.24xlarge": { vcpu: 96, memoryGiB: 1152, gpu: { type: "a100-40gb", count: 8, memoryGiB: 40 }, usdPerHour: usEast1AndWest2(21.96) },
    "p4de.24xlarge": { vcpu: 96, memoryGiB: 1152, gpu: { type: "a100-80gb", count: 8, memoryGiB: 80 }, usdPerHour: usEast1AndWest2(27.45) },
    // --- CPU: system node group ---
    "t3.large": { vcpu: 2, memoryGiB: 8, usdPerHour: usEast1AndWest2(0.0832) },
    "c6i.large": { vcpu: 2, memoryGiB: 4, usdPerHour: usEast1AndWest2(0.085) },
    "r6i.large": { vcpu: 2, memoryGiB: 16, usdPerHour: usEast1AndWest2(0.126) },
    "m6i.xlarge": { vcpu: 4, memoryGiB: 16, usdPerHour: usEast1AndWest2(0.192) },
    // Graviton: priced for the floor's options (cost.json floorOptions); the system node group is x86_64 (stacks/systemNodes.ts).
    "m7g.large": { vcpu: 2, memoryGiB: 8, usdPerHour: usEast1AndWest2(0.0816), arm64: true },
    "m6i.large": { vcpu: 2, memoryGiB: 8, usdPerHour: usEast1AndWest2(0.096) },
    "m7i.large": { vcpu: 2, memoryGiB: 8, usdPerHour: usEast1AndWest2(0.1008) },
    "m7i.xlarge": { vcpu: 4, memoryGiB: 16, usdPerHour: usEast1AndWest2(0.2016) },
    "m7i.2xlarge": { vcpu: 8, memoryGiB: 32, usdPerHour: usEast1AndWest2(0.4032) },
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
 * Fixed AWS prices (USD, us-east-1) that are not instances, from AWS's pricing pages:
 * EKS https://aws.amazon.com/eks/pricing/ (standard $0.10, extended support $0.60 per
 * cluster-hour), NAT gateway https://aws.amazon.com/vpc/pricing/, gp3
 * https://aws.amazon.com/ebs/pricing/, ALB https://aws.amazon.com/elasticloadbalancing/pricing/.
 */
export const AWS_PRICES = {
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
