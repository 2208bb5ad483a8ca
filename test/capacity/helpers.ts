/** Builders for simulator tests: small valid stacks, deterministic service times, CSV traces. */
import * as fs from "fs";
import * as path from "path";
import fc from "fast-check";
import { parseStackConfig } from "../../stacks/validate";
import type { StackConfig } from "../../stacks/resolved";
import { tempDir } from "../helpers/tmp";

export interface StackOptions {
    readonly model?: string;
    readonly gpuType?: string;
    readonly capacityType?: "spot" | "on-demand";
    readonly maxNodes?: number;
    readonly minNodes?: number;
    readonly scaling?: Record<string, unknown>;
    readonly traffic?: Record<string, unknown>;
    readonly gateway?: Record<string, unknown>;
    /** gpuserve:coldStart. @default the schema's (snapshot image cache, S3 weights and compile cache) */
    readonly coldStart?: Record<string, unknown>;
    /** The GPU pool's node OS. @default "bottlerocket" */
    readonly ami?: "bottlerocket" | "al2023";
    /** More keys of the GPU pool (e.g. scaleDownUnneededSeconds). */
    readonly pool?: Record<string, unknown>;
    /** The GPU pool's node volume, GiB. @default the schema's */
    readonly diskSizeGiB?: number;
}

/** g5.xlarge's hourly price in cost.json: the instance plus its node volume's provisioned throughput (capacity/cacheCost.ts). */
export const G5_XLARGE_NODE_USD_PER_HOUR = 1.006 + (275 * 0.04) / 730;

/** A stack without any cold-start mechanism: AL2023 nodes pull the image, weights from the Hub, no compile cache. */
export const UNOPTIMIZED: Pick<StackOptions, "coldStart" | "ami"> = {
    ami: "al2023",
    coldStart: { weights: "huggingface", imageCache: "none", compileCache: "none" },
};

/** One GPU pool, one worker pool; everything else at defaults. */
export function oneStack(o: StackOptions = {}): StackConfig {
    return parseStackConfig({
        region: "us-east-1",
        environment: "test",
        tags: { team: "test" },
        serving: { allowInsecureHttp: true, gateway: { ...o.gateway } },
        gpuPools: [
            {
                name: "gpu",
                gpuType: o.gpuType ?? "a10g",
                instanceTypes: o.gpuType ? undefined : ["g5.xlarge"],
                capacityType: o.capacityType ?? "on-demand",
                minNodes: o.minNodes ?? 0,
                maxNodes: o.maxNodes ?? 4,
                ...(o.ami ? { ami: o.ami } : {}),
                ...(o.diskSizeGiB ? { diskSizeGiB: o.diskSizeGiB } : {}),
                ...o.pool,
            },
        ],
        models: [{ id: o.model ?? "Qwen/Qwen3-VL-2B-Instruct", pool: "gpu", name: "wp", scaling: { maxReplicas: 4, ...o.scaling } }],
        traffic: o.traffic ?? { profile: "hourly", hourly: [{ days: "0-6", rates: new Array(24).fill(0) }] },
        ...(o.coldStart ? { coldStart: o.coldStart } : {}),
    });
}

/** A fixed service time (median = P95: no spread), so latencies are exact. */
export function fixedService(seconds: number, concurrency: number): Record<string, unknown> {
    const t = { medianSeconds: seconds, p95Seconds: seconds };
    return { wp: { image: t, text: t, concurrency } };
}

/** Writes a CSV trace to a temp dir; returns { root, file } for traffic.csvFile. */
export function csvTrace(lines: readonly string[]): { root: string; file: string } {
    const root = tempDir("sim-trace-");
    fs.writeFileSync(path.join(root, "trace.csv"), lines.join("\n") + "\n");
    return { root, file: "trace.csv" };
}

/** fast-check: one worker's disjoint busy intervals [start, end), from up to `maxCount` (gap, length) pairs. */
export function busySpans(maxGap: number, maxCount: number): fc.Arbitrary<[number, number][]> {
    return fc
        .array(fc.tuple(fc.double({ min: 0, max: maxGap, noNaN: true }), fc.double({ min: 0.1, max: 60, noNaN: true })), { minLength: 1, maxLength: maxCount })
        .map((pairs) => {
            const spans: [number, number][] = [];
            let t = 0;
            for (const [gap, len] of pairs) {
                t += gap;
                spans.push([t, t + len]);
                t += len;
            }
            return spans;
        });
}

/** fast-check: a node release's charge (capacity/bounds/accounting.ts ReleaseCharge). */
export function releaseCharges(maxUnneeded: number) {
    return fc.record({
        preStopSeconds: fc.integer({ min: 0, max: 30 }),
        unneededSeconds: fc.integer({ min: 0, max: maxUnneeded }),
        delayAfterAddSeconds: fc.integer({ min: 0, max: 600 }),
    });
}
