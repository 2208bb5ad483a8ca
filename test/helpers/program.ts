/** Runs the real program under the mocks with a config object, for resource tests. */
import * as path from "path";
import { COST_KEY, deployStack } from "../../components/stack";
import { CallRecord, ResourceRecord, recorder, runProgram } from "../../scripts/engine/mocks";
import { readStackFile } from "../../scripts/engine/stackFile";
import { loadStackConfig } from "../../stacks/load";
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

/** Runs deployStack with this config (keys without the gpuserve: prefix, except aws:*). */
export async function runStack(config: Record<string, unknown>, secrets: Record<string, string> = {}): Promise<StackRun> {
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries({ environment: "test", ...config })) {
        flat[k.includes(":") ? k : `${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    }
    for (const [k, v] of Object.entries(secrets)) flat[`${PROJECT}:${k}`] = v;
    const { outputs, resources, warnings } = await runProgram({
        project: PROJECT,
        stack: "test",
        config: flat,
        secretKeys: Object.keys(secrets).map((k) => `${PROJECT}:${k}`),
        program: () => deployStack(loadStackConfig()),
    });
    const { [COST_KEY]: _cost, ...stackOutputs } = outputs;
    return {
        resources,
        outputs: stackOutputs,
        warnings,
        get: (type, name) => {
            const r = resources.find((x) => x.type === type && x.name === name);
            if (!r) return recorder.get(type, name); // throws with the names that exist
            return r;
        },
        calls: [...recorder.calls],
        find: (type, name) => resources.filter((x) => x.type === type && (name === undefined || x.name === name)),
    };
}
