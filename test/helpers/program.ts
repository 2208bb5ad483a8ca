/** Runs the real program under the mocks with a config object, for resource tests. */
import * as path from "path";
import { COST_KEY, deployStack } from "../../components/stack";
import { CallRecord, ResourceRecord, callOverrides, recorder, runProgram } from "../../scripts/engine/mocks";
import { readStackFile } from "../../scripts/engine/stackFile";
import { loadStack } from "../../stacks/load";
import { PROJECT } from "../../stacks/schema";

export const ROOT = path.resolve(__dirname, "..", "..");

/** A stack file's config as an object: { "gpuPools": [...], "aws:region": "us-east-1", ... }. */
export function stackConfig(stack: string): Record<string, any> {
    const { config } = readStackFile(ROOT, stack, PROJECT);
    const out: Record<string, any> = {};
    for (const [k, v] of Object.entries(config)) {
        const short = k.startsWith(`${PROJECT}:`) ? k.slice(PROJECT.length + 1) : k;
        try {
            out[short] = JSON.parse(v);
        } catch {
            out[short] = v;
        }
    }
    return out;
}

/**
 * The prod stack with an 8-GPU A100 pool added (MedGemma 27B on one p4de.24xlarge): the
 * multi-GPU node shape the committed stacks no longer use, for the tests of what it renders.
 */
export function prodWithA100(): Record<string, any> {
    const cfg = clone(stackConfig("prod"));
    // 250 GiB: two MedGemma 27B workers per node, each with its ~56 GiB weights copied from S3 (stacks/workerDisk.ts).
    cfg.gpuPools.push({
        name: "a100",
        gpuType: "a100-80gb",
        instanceTypes: ["p4de.24xlarge"],
        capacityType: "on-demand",
        minNodes: 0,
        maxNodes: 1,
        diskSizeGiB: 250,
    });
    cfg.models.push({ id: "google/medgemma-27b-it", pool: "a100", scaling: { minReplicas: 0, maxReplicas: 2 } });
    return cfg;
}

/** Deep clone, so a test can change one field of a stack file's config. */
export function clone<T>(v: T): T {
    return JSON.parse(JSON.stringify(v));
}

export interface StackRun {
    resources: ResourceRecord[];
    outputs: Record<string, unknown>;
    /** pulumi.log.warn messages of the run (collected, not printed). */
    warnings: string[];
    get(type: string, name: string): ResourceRecord;
    find(type: string, name?: string): ResourceRecord[];
    /** Invokes of the run, in order. */
    calls: CallRecord[];
}

interface Rendered {
    resources: ResourceRecord[];
    outputs: Record<string, unknown>;
    warnings: string[];
    calls: CallRecord[];
}

/**
 * Renders shared within one mocha worker process: several files render the same config and
 * secrets (dev and prod above all), at 1-2 s of CPU each. Every caller gets its own deep copy, so
 * a test that edits what it got cannot change what another sees. Not shared: failed runs, and runs
 * while a test overrides an invoke (callOverrides), which the key cannot capture.
 */
const renders = new Map<string, Promise<Rendered>>();

async function render(flat: Record<string, string>, secretKeys: string[], stackReferences: Record<string, Record<string, unknown>>): Promise<Rendered> {
    const { outputs, resources, warnings } = await runProgram({
        project: PROJECT,
        stack: "test",
        config: flat,
        secretKeys,
        stackReferences,
        program: async () => deployStack(await loadStack()),
    });
    const { [COST_KEY]: _cost, ...stackOutputs } = outputs;
    return { resources, outputs: stackOutputs, warnings, calls: [...recorder.calls] };
}

/**
 * Runs deployStack with this config (keys without the gpuserve: prefix, except aws:*). A team stack's
 * platform outputs come in `stackReferences` (stack reference name -> the platform's stack outputs).
 */
export async function runStack(
    config: Record<string, unknown>,
    secrets: Record<string, string> = {},
    stackReferences: Record<string, Record<string, unknown>> = {},
): Promise<StackRun> {
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries({ environment: "test", ...config })) {
        flat[k.includes(":") ? k : `${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    }
    for (const [k, v] of Object.entries(secrets)) flat[`${PROJECT}:${k}`] = v;
    const secretKeys = Object.keys(secrets).map((k) => `${PROJECT}:${k}`);
    let rendered: Promise<Rendered>;
    if (callOverrides.size > 0) {
        rendered = render(flat, secretKeys, stackReferences);
    } else {
        const key = JSON.stringify([flat, secretKeys, stackReferences]);
        if (!renders.has(key)) {
            const r = render(flat, secretKeys, stackReferences);
            renders.set(key, r);
            r.catch(() => renders.delete(key));
        }
        rendered = renders.get(key)!;
    }
    const { resources, outputs, warnings, calls } = structuredClone(await rendered);
    return {
        resources,
        outputs,
        warnings,
        get: (type, name) => {
            const r = resources.find((x) => x.type === type && x.name === name);
            if (!r)
                throw new Error(
                    `no ${type} named '${name}' was registered; have: ${
                        resources
                            .filter((x) => x.type === type)
                            .map((x) => x.name)
                            .join(", ") || "none of that type"
                    }`,
                );
            return r;
        },
        calls,
        find: (type, name) => resources.filter((x) => x.type === type && (name === undefined || x.name === name)),
    };
}
