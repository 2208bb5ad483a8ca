/**
 * Where a GPU node keeps its pods' emptyDirs (the kubelet's directory, /var/lib/kubelet): on the node's EBS volume
 * (Bottlerocket's data volume, AL2023's root volume) or on the instance's NVMe instance store. The workers' weights
 * copy lands there (components/serving/weights/fetch.ts) and vLLM reads it back from there, so the choice sets the
 * weights phase of every cold start. containerd's image store never moves: it stays on the volume the image-cache
 * snapshot restores.
 *
 * `gpuPools[].podStorage: "auto"` picks the one with the shorter expected copy + read of the weights, from the figures
 * below; the same figures are the simulator's (stacks/model/coldStartPhases.ts weightsFromS3Figure), so what the plan
 * models is what the launch template deploys. With the figures we could source, the instance store wins on p4d/p4de
 * (8 NVMe volumes striped) and loses on every single-GPU G type, whose slice of an NVMe SSD writes at ~90 MiB/s
 * (stacks/catalog/instanceStore.ts) while its EBS volume gets up to the instance's EBS maximum.
 */
import { instanceStore, instanceStoreMiBps } from "./catalog/instanceStore";
import { NATIVE_S3_LINK_SHARE, s3DownloadMiBps } from "./catalog/network";
import { volumeMiBps } from "./catalog/ebs";

export const POD_STORAGE = ["auto", "instanceStore", "volume"] as const;
export type PodStorageSetting = (typeof POD_STORAGE)[number];
export type PodStorage = Exclude<PodStorageSetting, "auto">;

export interface WeightsRates {
    /** The S3 copy: the slower of the AWS CLI's download and the disk's write, MiB/s. */
    readonly copyMiBps: number;
    /** vLLM reading the copy back, MiB/s (the disk's read; no page-cache credit). */
    readonly readMiBps: number;
}

/** The disk's sequential read and write on this instance type, MiB/s (the volume: the same both ways). */
export function diskMiBps(instanceType: string, storage: PodStorage, pessimistic = false): { readonly readMiBps: number; readonly writeMiBps: number } {
    if (storage === "instanceStore") {
        const nvme = instanceStoreMiBps(instanceType, pessimistic);
        if (!nvme) throw new Error(`${instanceType} has no instance store`);
        return nvme;
    }
    const v = volumeMiBps(instanceType, pessimistic);
    return { readMiBps: v, writeMiBps: v };
}

/** The weights copy and read rates on one instance type and disk, expected or pessimistic. */
export function weightsRates(instanceType: string, storage: PodStorage, pessimistic = false, linkShare = NATIVE_S3_LINK_SHARE): WeightsRates {
    const disk = diskMiBps(instanceType, storage, pessimistic);
    return { copyMiBps: Math.min(s3DownloadMiBps(instanceType, pessimistic, linkShare), disk.writeMiBps), readMiBps: disk.readMiBps };
}

/** Seconds per GiB of weights: copy plus read (no vLLM load floor: the disks are compared, not the loader). */
function weightsSecondsPerGiB(r: WeightsRates): number {
    return 1024 / r.copyMiBps + 1024 / r.readMiBps;
}

export interface PodStorageChoice {
    readonly storage: PodStorage;
    /** Why, in a sentence (the plan prints it). */
    readonly reason: string;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

/**
 * The pool's pods' disk: what the config says, or for "auto" the instance store exactly when every instance type of
 * the pool has one and copies and reads the weights faster there (expected figures) than on its volume.
 */
export function choosePodStorage(setting: PodStorageSetting, instanceTypes: readonly string[]): PodStorageChoice {
    if (setting !== "auto") return { storage: setting, reason: "set in gpuPools[].podStorage" };
    const missing = instanceTypes.filter((t) => !instanceStore(t));
    if (missing.length > 0) return { storage: "volume", reason: `${missing.join(", ")} has no instance store` };
    const per = instanceTypes.map((t) => ({
        t,
        nvme: weightsSecondsPerGiB(weightsRates(t, "instanceStore")),
        volume: weightsSecondsPerGiB(weightsRates(t, "volume")),
    }));
    const slower = per.find((x) => x.nvme >= x.volume);
    const show = (x: (typeof per)[number]) => `${x.t}: ${r1(x.nvme)} s/GiB on the instance store, ${r1(x.volume)} s/GiB on the volume`;
    return slower
        ? { storage: "volume", reason: `the weights copy and read are no faster on the instance store (${show(slower)})` }
        : { storage: "instanceStore", reason: `the weights copy and read are faster on the instance store (${per.map(show).join("; ")})` };
}
