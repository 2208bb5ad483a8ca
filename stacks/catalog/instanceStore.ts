/**
 * The NVMe instance store of each GPU instance type: its size and how fast it reads and writes, for the pods'
 * disk choice (stacks/podStorage.ts), the disk validation (stacks/workerDisk.ts) and the cold-start model.
 *
 * Sizes: AWS EC2 User Guide, "Instance store volumes" (awsdocs/amazon-ec2-user-guide @e3707c4,
 * doc_source/InstanceStorage.md: g5.xlarge 1 x 250 GB ... p4d/p4de.24xlarge 8 x 1000 GB, NVMe SSD, no
 * initialization needed, TRIM), and for G6/G6e, which that edition predates, EC2 DescribeInstanceTypes'
 * InstanceStorageInfo.TotalSizeInGB as aws/karpenter-provider-aws tabulates it (@1d927085,
 * website/content/en/docs/reference/instance-types.md, label karpenter.k8s.aws/instance-local-nvme: 250 GB each).
 *
 * Speed: AWS publishes only random IOPS at 4,096-byte blocks "at queue depth saturation", for all of an
 * instance's instance store volumes together (same guide, doc_source/accelerated-computing-instances.md,
 * "SSD-based instance store volume I/O performance": g5.xlarge 40,625 read / 20,313 write; p4d/p4de 2,000,000 /
 * 1,600,000). An instance's slice of a Nitro SSD is throttled: sequential bandwidth measured with iotune on the
 * same generation of Nitro instance store (scylladb/scylla-machine-image common/aws_io_params.yaml; AWS's IOPS for
 * those types in the same guide) is only a little above IOPS x 4 KiB:
 *
 *   type         AWS read/write IOPS   measured seq. read / write   ratio to IOPS x 4 KiB (read / write)
 *   c5d.large       20,000 /  9,000      104.8 / 42.0 MB/s           1.279 / 1.139
 *   c5d.xlarge      40,000 / 18,000      212.6 / 84.2 MB/s           1.298 / 1.142
 *   m5d.large       30,000 / 15,000      158.5 / 70.2 MB/s           1.290 / 1.143
 *   m5d.xlarge      59,000 / 29,000      260.7 / 135.9 MB/s          1.079 / 1.144
 *
 * So the model reads a type's sequential throughput as IOPS x 4 KiB x the smallest ratio above (expected) or
 * x 1 (pessimistic: the published figure itself). Newer Nitro SSDs measure ~2x (i4i, i7i in the same file);
 * G5 is of the c5d/m5d era, and nothing faster is assumed for the others.
 */

export interface InstanceStore {
    /** NVMe instance store volumes (Bottlerocket and AL2023 stripe several with RAID0). */
    readonly disks: number;
    /** Size of each, GB (10^9 bytes). */
    readonly diskGB: number;
    /** Random read and write IOPS at 4,096-byte blocks, all volumes together. */
    readonly readIops: number;
    readonly writeIops: number;
    /** Where the IOPS come from: AWS's table, or an assumption (no published figure found). */
    readonly iopsSource: "aws" | "assumed";
}

/** G6 and G6e IOPS: not in any source we could read; taken as g5.xlarge's (the slowest published GPU instance store). */
const G5_XLARGE_IOPS = { readIops: 40_625, writeIops: 20_313 } as const;

export const INSTANCE_STORE: Readonly<Record<string, InstanceStore>> = {
    "g5.xlarge": { disks: 1, diskGB: 250, ...G5_XLARGE_IOPS, iopsSource: "aws" },
    "g5.2xlarge": { disks: 1, diskGB: 450, ...G5_XLARGE_IOPS, iopsSource: "aws" },
    "g5.4xlarge": { disks: 1, diskGB: 600, readIops: 125_000, writeIops: 62_500, iopsSource: "aws" },
    "g5.12xlarge": { disks: 1, diskGB: 3800, readIops: 312_500, writeIops: 156_250, iopsSource: "aws" },
    "g6.xlarge": { disks: 1, diskGB: 250, ...G5_XLARGE_IOPS, iopsSource: "assumed" },
    "g6e.xlarge": { disks: 1, diskGB: 250, ...G5_XLARGE_IOPS, iopsSource: "assumed" },
    "p4d.24xlarge": { disks: 8, diskGB: 1000, readIops: 2_000_000, writeIops: 1_600_000, iopsSource: "aws" },
    "p4de.24xlarge": { disks: 8, diskGB: 1000, readIops: 2_000_000, writeIops: 1_600_000, iopsSource: "aws" },
};

/** Measured sequential bandwidth over IOPS x 4 KiB on c5d/m5d instance store (header): the smallest of each. */
const SEQUENTIAL_OVER_4K = { read: 1.079, write: 1.139 } as const;

export function instanceStore(instanceType: string): InstanceStore | undefined {
    return Object.prototype.hasOwnProperty.call(INSTANCE_STORE, instanceType) ? INSTANCE_STORE[instanceType] : undefined;
}

/** The instance store's usable size in GiB (all volumes striped), 0 without one. */
export function instanceStoreGiB(instanceType: string): number {
    const s = instanceStore(instanceType);
    return s ? (s.disks * s.diskGB * 1e9) / 2 ** 30 : 0;
}

/** Sequential read and write MiB/s of the instance store (undefined without one): expected or pessimistic (header). */
export function instanceStoreMiBps(instanceType: string, pessimistic = false): { readonly readMiBps: number; readonly writeMiBps: number } | undefined {
    const s = instanceStore(instanceType);
    if (!s) return undefined;
    const at = (iops: number, ratio: number) => (iops * 4096 * (pessimistic ? 1 : ratio)) / 2 ** 20;
    return { readMiBps: at(s.readIops, SEQUENTIAL_OVER_4K.read), writeMiBps: at(s.writeIops, SEQUENTIAL_OVER_4K.write) };
}
