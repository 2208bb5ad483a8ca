/**
 * How fast a GPU node reaches S3: its network bandwidth, and what the AWS CLI that copies the weights
 * (components/serving/weights/fetch.ts) gets out of it. Read by the pods' disk choice (stacks/podStorage.ts)
 * and the cold-start model (stacks/model/coldStartPhases.ts).
 */

/**
 * Network bandwidth per instance type, Gbit/s: `burst` (what a fresh node can use while it has network credits,
 * "up to" in the instance tables) and `baseline` (what it can sustain) (AWS EC2 User Guide, "Network
 * specifications", accelerated computing: G5, G6, G6e, P4; the baselines are also aws/karpenter-provider-aws
 * pkg/providers/instancetype/zz_generated.bandwidth.go, generated from those tables).
 */
const INSTANCE_NETWORK_GBPS: Readonly<Record<string, { readonly burst: number; readonly baseline: number }>> = {
    "g5.xlarge": { burst: 10, baseline: 2.5 },
    "g5.2xlarge": { burst: 10, baseline: 5 },
    "g5.4xlarge": { burst: 25, baseline: 10 },
    "g5.12xlarge": { burst: 40, baseline: 40 },
    "g6.xlarge": { burst: 10, baseline: 2.5 },
    "g6e.xlarge": { burst: 20, baseline: 2.5 },
    "p4d.24xlarge": { burst: 400, baseline: 400 },
    "p4de.24xlarge": { burst: 400, baseline: 400 },
};
/** An instance type missing above: the smallest G figures (the slowest we know). */
const UNKNOWN_NETWORK = { burst: 10, baseline: 2.5 };

export function instanceNetwork(instanceType: string): { readonly burst: number; readonly baseline: number } {
    return INSTANCE_NETWORK_GBPS[instanceType] ?? UNKNOWN_NETWORK;
}

/**
 * Share of a node's link a native, many-connection S3 reader reaches: the Run:ai Model Streamer's 15 GB from S3 in
 * 4.24 s on g5.12xlarge (3.54 GB/s of its 40 Gbit/s = 5 GB/s; its benchmarks, facts.md). Used for the AWS CLI's CRT
 * client, another native multi-connection client, where the CLI picks it (below): no CRT measurement of our own.
 */
export const NATIVE_S3_LINK_SHARE = 3.54 / 5;

/**
 * The AWS CLI's classic (Python) transfer client downloading one large object from S3 on EC2: 109.2 MiB/s, using
 * ~300 % CPU, i.e. CPU-bound (aws/aws-cli#3910, `aws s3 cp` of a 1 TiB object, the CLI's default 10 concurrent
 * requests). No measurement on a G instance was found: the weights-fetch container can use that much CPU on a fresh
 * GPU node (it asks for the worker's CPU and has no limit; the worker's vLLM has not started), so the figure is taken
 * as is, capped by the link.
 */
export const CLASSIC_CLI_S3_MIBPS = 109.2;

/**
 * Instance types on which the AWS CLI's default transfer client (`preferred_transfer_client = auto`) resolves to
 * CRT: "optimized for Amazon EC2 instances ... p4d.24xlarge, p4de.24xlarge, p5.48xlarge, trn1n.32xlarge,
 * trn1.32xlarge" (aws/aws-cli awscli/topics/s3-config.rst, v2). Elsewhere it uses the classic client.
 */
export const CRT_CLI_INSTANCE_TYPES: readonly string[] = ["p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge", "trn1n.32xlarge", "trn1.32xlarge"];

const MIB_PER_GBIT = 1e9 / 8 / 2 ** 20;

/**
 * MiB/s the weights-fetch container's `aws s3 sync` downloads at on this instance type: the classic client's measured
 * rate, or the CRT client's share of the link, never more than the link (its burst expected: a fresh node has its
 * network credits; its baseline pessimistic).
 */
export function s3DownloadMiBps(instanceType: string, pessimistic = false, linkShare = NATIVE_S3_LINK_SHARE): number {
    const n = instanceNetwork(instanceType);
    const link = (pessimistic ? n.baseline : n.burst) * MIB_PER_GBIT;
    return CRT_CLI_INSTANCE_TYPES.includes(instanceType) ? link * linkShare : Math.min(CLASSIC_CLI_S3_MIBPS, link);
}
