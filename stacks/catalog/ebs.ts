/**
 * How fast a GPU node's volume may be, and what that costs: the gp3 throughput and IOPS the node pools' launch
 * templates ask for on the volume that holds containerd's images and the pods' emptyDirs (Bottlerocket's data
 * volume /dev/xvdb, AL2023's root volume), read by components/cluster/nodePool.ts and capacity/cacheCost.ts.
 *
 * Why: gp3 gives 125 MiB/s unless more is provisioned, and a new node reads the vLLM image's libraries (GBs)
 * and then writes and reads the model's weights copy (weights/fetch.ts) on that volume: at 125 MiB/s MedGemma
 * 4B's 8.6 GiB alone is ~70 s each way. More than the instance's own EBS bandwidth buys nothing, so the volume
 * gets the instance's maximum EBS throughput (rounded down to 25 MiB/s), at most gp3's 1,000 MiB/s.
 */

/**
 * EBS-optimized throughput of an instance type, MB/s (128 KiB I/O): baseline and maximum. "Up to" types reach the
 * maximum "for 30 minutes at least once every 24 hours" (AWS, "Amazon EC2 Instance Types" guide, 2024 edition,
 * "Amazon EBS specifications", accelerated computing; the same table as `aws ec2 describe-instance-types`
 * EbsOptimizedInfo). Types absent here keep gp3's default.
 *
 * g6e.xlarge, which that edition predates: maximum 5,000 Mbps = 625 MB/s, DescribeInstanceTypes'
 * EbsOptimizedInfo.MaximumBandwidthInMbps as aws/karpenter-provider-aws tabulates it (@1d927085,
 * website/content/en/docs/reference/instance-types.md, label karpenter.k8s.aws/instance-ebs-bandwidth; the label is
 * that field: pkg/providers/instancetype/types.go). Its baseline is in no source we could read: taken as 20 % of the
 * maximum, the ratio of the two other single-GPU "up to" types above (g5.xlarge 700 / 3,500 Mbps, g6.xlarge
 * 1,000 / 5,000 Mbps): 125 MB/s (assumption).
 */
export const INSTANCE_EBS_MBPS: Readonly<Record<string, { readonly baseline: number; readonly maximum: number }>> = {
    "g5.xlarge": { baseline: 87.5, maximum: 437.5 },
    "g5.2xlarge": { baseline: 106.25, maximum: 437.5 },
    "g5.4xlarge": { baseline: 593.75, maximum: 593.75 },
    "g5.12xlarge": { baseline: 2000, maximum: 2000 },
    "g6.xlarge": { baseline: 125, maximum: 625 },
    "g6e.xlarge": { baseline: 125, maximum: 625 },
    "p4d.24xlarge": { baseline: 2375, maximum: 2375 },
    "p4de.24xlarge": { baseline: 2375, maximum: 2375 },
};

/**
 * gp3 (EBS user guide, "General Purpose SSD volumes"): 3,000 IOPS and 125 MiB/s included; throughput up to 1,000 MiB/s
 * at most 0.25 MiB/s per provisioned IOPS. Prices, us-east-1 (aws.amazon.com/ebs/pricing): $0.040 per provisioned
 * MB/s-month over 125 and $0.005 per provisioned IOPS-month over 3,000, billed while the volume exists (the node's life).
 */
const GP3 = {
    baselineMiBps: 125,
    baselineIops: 3000,
    maxMiBps: 1000,
    miBpsPerIops: 0.25,
    usdPerMiBpsMonth: 0.04,
    usdPerIopsMonth: 0.005,
} as const;

export interface VolumePerformance {
    /** gp3 throughput, MiB/s. */
    readonly throughputMiBps: number;
    readonly iops: number;
}

const MIB_PER_MB = 1e6 / 2 ** 20;

/**
 * MiB/s a GPU node reads and writes its volume at: the volume's provisioned gp3 throughput (nodeVolumePerformance,
 * what the launch template asks for) within the instance's EBS bandwidth: its maximum expected (a new node; "up to"
 * types hold it "for 30 minutes at least once every 24 hours"), its baseline pessimistic. A type without figures:
 * the volume's own throughput both ways.
 */
export function volumeMiBps(instanceType: string, pessimistic = false): number {
    const volume = nodeVolumePerformance([instanceType]).throughputMiBps;
    const ebs = INSTANCE_EBS_MBPS[instanceType];
    return Math.min(volume, ebs ? (pessimistic ? ebs.baseline : ebs.maximum) * MIB_PER_MB : volume);
}

/** The node volume's gp3 throughput and IOPS for a pool of these instance types (one shape per pool: the first). */
export function nodeVolumePerformance(instanceTypes: readonly string[]): VolumePerformance {
    const ebs = INSTANCE_EBS_MBPS[instanceTypes[0]];
    if (!ebs) return { throughputMiBps: GP3.baselineMiBps, iops: GP3.baselineIops };
    const throughputMiBps = Math.max(GP3.baselineMiBps, Math.min(GP3.maxMiBps, Math.floor((ebs.maximum * MIB_PER_MB) / 25) * 25));
    return { throughputMiBps, iops: Math.max(GP3.baselineIops, Math.ceil(throughputMiBps / GP3.miBpsPerIops)) };
}

/** What the throughput and IOPS above gp3's included ones cost per month, per volume (per node). */
export function volumePerformanceUsdPerMonth(v: VolumePerformance): number {
    return Math.max(0, v.throughputMiBps - GP3.baselineMiBps) * GP3.usdPerMiBpsMonth + Math.max(0, v.iops - GP3.baselineIops) * GP3.usdPerIopsMonth;
}
