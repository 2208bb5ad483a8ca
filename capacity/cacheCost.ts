/**
 * What the cold-start caches cost at rest, every month, whether or not a GPU runs: the
 * weights (and compile caches) in the stack's S3 bucket, and the EBS snapshot that holds
 * the pre-pulled vLLM image. Part of the floor (capacity/cost.ts).
 */
import { BUILDER_INSTANCE_TYPE, IMAGE_CACHE_SNAPSHOT_GB } from "../stacks/imageCache";
import { AWS_PRICES, HOURS_PER_MONTH, instanceSpec } from "../stacks/catalog/instances";
import type { StackConfig } from "../stacks/resolved";
import { nodeVolumePerformance, volumePerformanceUsdPerMonth } from "../stacks/catalog/ebs";

const CACHE_PRICES = {
    /** S3 Standard, first 50 TB, us-east-1 (aws.amazon.com/s3/pricing, 2026-11). */
    s3PerGbMonth: 0.023,
    /** EBS snapshot, standard tier (aws.amazon.com/ebs/pricing, 2026-11). */
    snapshotPerGbMonth: 0.05,
    /**
     * EBS Provisioned Rate for Volume Initialization, us-east-1: USD per GiB of snapshot data per MiB/s, billed once when
     * a volume created with a rate becomes active ("rate for Region x snapshot data size x volume initialization
     * rate", EBS user guide "Initialize Amazon EBS volumes", Billing). Figure: aws.amazon.com/ebs/pricing Example 12
     * as quoted in github-aws-runners/terraform-aws-github-runner PR #5165 (2026-06: "~$0.0036 per GiB of snapshot
     * data per volume" at 300 MiB/s); not read on the pricing page itself. Other Regions differ; used for all.
     */
    volumeInitPerGibPerMibps: 0.000012,
} as const;

/** torch.compile cache per worker pool in S3. Assumption: a few hundred MB of Inductor/Triton artefacts. */
const COMPILE_CACHE_GB = 0.5;

const GB_PER_GIB = 1.073741824;

export interface CacheCostLine {
    readonly item: string;
    readonly usdPerMonth: number;
}

export function cacheCostLines(cfg: Pick<StackConfig, "coldStart" | "models">): CacheCostLine[] {
    const lines: CacheCostLine[] = [];
    const cs = cfg.coldStart;
    const s3Gb =
        (cs.weights === "s3"
            ? [...new Map(cfg.models.map((m) => [`${m.id}@${m.revision}`, m.spec.weightsGiB])).values()].reduce((a, g) => a + g * GB_PER_GIB, 0)
            : 0) + (cs.compileCache === "s3" ? cfg.models.length * COMPILE_CACHE_GB : 0);
    if (s3Gb > 0) lines.push({ item: `S3 weights and compile cache (${s3Gb.toFixed(1)} GB)`, usdPerMonth: s3Gb * CACHE_PRICES.s3PerGbMonth });
    if (cs.imageCache === "snapshot")
        lines.push({
            item: `EBS snapshot with the vLLM image (~${IMAGE_CACHE_SNAPSHOT_GB} GB)`,
            usdPerMonth: IMAGE_CACHE_SNAPSHOT_GB * CACHE_PRICES.snapshotPerGbMonth,
        });
    return lines;
}

/**
 * One image-cache build (components/cluster/imageCache): runs when serving.vllmImage changes, not every month,
 * so it is not in the floor. Assumptions: ~30 min of builder instance (boot + SSM ~2 min, the ~10 GB pull
 * 2-8 min (facts.md), stop, and a first full snapshot of ~35 GB, which EBS does not time-bound); the pull
 * goes through the NAT gateway ($/GB processed). The builder's 50 GiB gp3 volume for 30 min and its extra
 * throughput cost under a cent. Each build leaves a new full snapshot; delete the previous image's one.
 */
export const IMAGE_CACHE_BUILD = { minutes: 30, pullGb: 10 } as const;

export function imageCacheBuildUsd(region: string): { instanceUsd: number; natUsd: number; totalUsd: number } {
    const perHour = instanceSpec(BUILDER_INSTANCE_TYPE)?.usdPerHour[region];
    if (perHour === undefined) throw new Error(`no price for the image-cache builder ${BUILDER_INSTANCE_TYPE} in ${region} (stacks/catalog/instances.ts)`);
    const instanceUsd = (perHour * IMAGE_CACHE_BUILD.minutes) / 60;
    const natUsd = IMAGE_CACHE_BUILD.pullGb * AWS_PRICES.natGatewayPerGb;
    return { instanceUsd, natUsd, totalUsd: instanceUsd + natUsd };
}

const GIB_PER_GB = 1 / GB_PER_GIB;

/**
 * What one GPU node launch pays to initialize its image-cache data volume at coldStart.imageCacheInitRateMiBps
 * (components/cluster/nodePool.ts): snapshot data (IMAGE_CACHE_SNAPSHOT_GB, in GiB) x rate x the price. 0 without
 * the cache on that pool (AL2023, imageCache none) or with lazy restore (rate 0). About $0.12 at 300 MiB/s.
 */
export function imageCacheInitUsdPerLaunch(cfg: Pick<StackConfig, "coldStart">, pool: { readonly ami: string }): number {
    const rate = cfg.coldStart.imageCacheInitRateMiBps;
    if (cfg.coldStart.imageCache !== "snapshot" || pool.ami !== "bottlerocket" || rate === 0) return 0;
    return IMAGE_CACHE_SNAPSHOT_GB * GIB_PER_GB * rate * CACHE_PRICES.volumeInitPerGibPerMibps;
}

/** As hourly figures, so they sit in the cost lines beside the hourly resources. */
export function cacheUsdPerHour(line: CacheCostLine): number {
    return line.usdPerMonth / HOURS_PER_MONTH;
}

/**
 * What a GPU node's faster volume costs per hour while the node exists (stacks/catalog/ebs.ts: gp3 throughput and IOPS
 * above the included ones, per volume-month): g5.xlarge ~$0.015/h (400 MiB/s), g6.xlarge ~$0.025/h, p4d/p4de ~$0.055/h.
 */
export function nodeVolumeUsdPerHour(instanceType: string): number {
    return volumePerformanceUsdPerMonth(nodeVolumePerformance([instanceType])) / HOURS_PER_MONTH;
}
