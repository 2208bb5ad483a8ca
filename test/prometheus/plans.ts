/** The plans the Prometheus suite checks: dev, prod, and dev with both optional triggers on. Rendered once per run. */
import { rawStackConfig } from "../../stacks/load";
import { PROJECT } from "../../stacks/schema";
import { parseStackConfig } from "../../stacks/validate";
import type { StackConfig } from "../../stacks/resolved";
import { clone, runStack, StackRun, stackConfig } from "../helpers/program";

export interface PlanCase {
    readonly label: string;
    readonly config: Record<string, unknown>;
    readonly secrets: Record<string, string>;
    /** The optional latency-p95 and gpu-utilization triggers are configured. */
    readonly optionalTriggers?: boolean;
}

const PROD_SECRETS = {
    hfToken: "hf_offlineTestTokenThatMustNeverLeak123",
    gatewayApiKeys: JSON.stringify([{ team: "radiology", key: "radiology-key-that-must-never-leak-0123456789" }]),
};

function withOptionalTriggers(): Record<string, unknown> {
    const c = clone(stackConfig("dev"));
    c.models = c.models.map((m: { scaling?: Record<string, unknown> }) => ({
        ...m,
        scaling: { ...m.scaling, latencyP95Seconds: 20, gpuUtilizationPercent: 70 },
    }));
    return c;
}

export const PLAN_CASES: PlanCase[] = [
    { label: "dev", config: stackConfig("dev"), secrets: {} },
    { label: "prod", config: stackConfig("prod"), secrets: PROD_SECRETS },
    { label: "dev + latency and GPU-utilization triggers", config: withOptionalTriggers(), secrets: {}, optionalTriggers: true },
];

const runs = new Map<string, Promise<StackRun>>();
/** The mock engine holds global state: one program at a time. */
let last: Promise<unknown> = Promise.resolve();

export function render(c: PlanCase): Promise<StackRun> {
    if (!runs.has(c.label)) {
        const run = last.catch(() => undefined).then(() => runStack(c.config, c.secrets));
        last = run;
        runs.set(c.label, run);
    }
    return runs.get(c.label)!;
}

/** The validated config, as the program sees it under runStack (which adds `environment: test`). */
export function parsedConfig(c: PlanCase): StackConfig {
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries({ environment: "test", ...c.config }))
        flat[k.includes(":") ? k : `${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    return parseStackConfig(rawStackConfig(flat).raw);
}
