/**
 * The offline plan: runs the real program under the mock engine with a stack's config
 * file and renders what `pulumi up` would create: Kubernetes manifests, every resource
 * with its inputs and options, and the cost estimate.
 */
import { coldStartSummaryLines } from "../../capacity/sim/report/coldStartRows";
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { COST_KEY, deployStack } from "../../components/stack";
import type { CostEstimate } from "../../capacity/costEstimate";
import { expectedSummary } from "../../capacity/sim/report/summary";
import { loadStack } from "../../stacks/load";
import { PLATFORM_OUTPUT } from "../../stacks/platformOutputs";
import { PROJECT } from "../../stacks/schema";
import { ResourceRecord, runProgram } from "./mocks";
import { readStackFile } from "./stackFile";

export interface PlanResult {
    readonly stack: string;
    readonly resources: ResourceRecord[];
    readonly manifests: Record<string, unknown>[];
    readonly cost: CostEstimate;
    readonly outputs: Record<string, unknown>;
    readonly placeholders: string[];
    /** pulumi.log.warn messages of the program run. */
    readonly warnings: string[];
    /** A team stack's platform: the stack it names and the plan its outputs came from. */
    readonly platform?: { readonly stack: string; readonly file: string };
}

export interface PlanOptions {
    /** A team stack's platform and its planned outputs (scripts/engine/platformPlan.ts). */
    readonly platform?: { readonly stack: string; readonly reference: string; readonly file: string; readonly outputs: Record<string, unknown> };
}

/** Kubernetes object types, as opposed to providers and Helm releases (which are not objects). */
export function isKubernetesObject(r: ResourceRecord): boolean {
    return r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh/") && !r.type.startsWith("pulumi:providers:");
}

export function manifestOf(r: ResourceRecord): Record<string, unknown> {
    const { apiVersion, kind, metadata, ...rest } = r.inputs;
    return { apiVersion, kind, metadata, ...rest };
}

function manifestFileName(m: Record<string, unknown>): string {
    const meta = (m.metadata ?? {}) as { name?: string; namespace?: string };
    const safe = (s: string) => s.replace(/[^a-zA-Z0-9._-]/g, "_");
    return `${safe(String(m.kind).toLowerCase())}-${safe(meta.namespace ?? "_cluster")}-${safe(meta.name ?? "unnamed")}.yaml`;
}

export async function planStack(root: string, stack: string, opts: PlanOptions = {}): Promise<PlanResult> {
    const file = readStackFile(root, stack, PROJECT);
    const { outputs, resources, warnings } = await runProgram({
        project: PROJECT,
        stack,
        config: file.config,
        secretKeys: file.secretKeys,
        stackReferences: opts.platform ? { [opts.platform.reference]: opts.platform.outputs } : {},
        program: async () => deployStack(await loadStack({ root })),
    });
    const { [COST_KEY]: cost, ...stackOutputs } = outputs;
    return {
        stack,
        resources,
        manifests: resources.filter(isKubernetesObject).map(manifestOf),
        cost: cost as CostEstimate,
        outputs: stackOutputs,
        placeholders: file.placeholders,
        warnings,
        ...(opts.platform ? { platform: { stack: opts.platform.stack, file: opts.platform.file } } : {}),
    };
}

/** Writes manifests/, resources.json and cost.json; replaces what a previous plan left. */
export function writePlan(result: PlanResult, outDir: string): void {
    const manifestsDir = path.join(outDir, "manifests");
    fs.rmSync(manifestsDir, { recursive: true, force: true });
    fs.mkdirSync(manifestsDir, { recursive: true });
    for (const m of result.manifests) {
        fs.writeFileSync(path.join(manifestsDir, manifestFileName(m)), stringify(m, { sortMapEntries: true }));
    }
    const resources = result.resources.map(({ type, name, parent, inputs, options }) => ({ type, name, parent: parent ?? null, inputs, options }));
    fs.writeFileSync(path.join(outDir, "resources.json"), JSON.stringify(resources, null, 2) + "\n");
    fs.writeFileSync(path.join(outDir, "cost.json"), JSON.stringify(result.cost, null, 2) + "\n");
    // A platform's outputs, for its team stacks' plans (the `platform` output; nothing secret is in it).
    const outputsFile = path.join(outDir, "outputs.json");
    if (result.outputs[PLATFORM_OUTPUT] !== undefined)
        fs.writeFileSync(outputsFile, JSON.stringify({ [PLATFORM_OUTPUT]: result.outputs[PLATFORM_OUTPUT] }, null, 2) + "\n");
    else fs.rmSync(outputsFile, { force: true });
}

export function summarize(result: PlanResult, outDir: string): string {
    const byProvider = new Map<string, number>();
    for (const r of result.resources) {
        const provider = r.type.split(":")[0];
        byProvider.set(provider, (byProvider.get(provider) ?? 0) + 1);
    }
    const usd = (n: number) => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
    const types = new Set(result.resources.map((r) => r.type)).size;
    const lines = [
        `Offline plan of stack '${result.stack}' (mock engine; nothing was deployed)`,
        ...(result.platform
            ? [`  platform: '${result.platform.stack}', outputs from ${path.relative(process.cwd(), result.platform.file) || result.platform.file}`]
            : []),
        `  resources: ${result.resources.length} of ${types} types (${[...byProvider]
            .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
            .map(([p, n]) => `${p} ${n}`)
            .join(", ")}); Kubernetes objects: ${result.manifests.length}`,
        `  cost per month: floor ${usd(result.cost.floorUsdPerMonth)} (at zero load), ceiling ${usd(result.cost.ceilingUsdPerMonth)} (every pool at its maximum)`,
        ...wrapList("    floor = ", floorParts(result.cost, usd)),
        ...floorChoiceLines(result.cost, usd),
        ...(result.cost.expected ? expectedSummary(result.cost.expected) : []),
    ];
    const limits = result.cost.expected?.gatewayLimits;
    if (limits) {
        lines.push(
            `  gateway: holds a request up to ${limits.maxWaitSeconds} s for a worker to start (serving.gateway.maxWaitSeconds), at most ${limits.maxQueueDepth} at a time, then answers 503 or 429`,
        );
    }
    if (result.cost.expected) lines.push(...coldStartSummaryLines(result.cost.expected));
    const expects = result.outputs.expectsOnCluster;
    if (Array.isArray(expects)) lines.push(`  expects on the existing cluster (it creates none of these):`, ...expects.map((e) => `    - ${e}`));
    for (const w of result.warnings) lines.push(`  warning: ${w}`);
    if (result.placeholders.length > 0) {
        lines.push(
            `  note: ${result.placeholders.join(", ")} ${result.placeholders.length === 1 ? "is" : "are"} encrypted (secure:) and cannot be decrypted offline; a placeholder was used (kept secret: "[secret]" in the output)`,
        );
    }
    lines.push(
        `  written to ${outDir}/ (manifests/, resources.json, cost.json${result.outputs[PLATFORM_OUTPUT] !== undefined ? ", outputs.json: what its team stacks read" : ""})`,
    );
    return lines.join("\n");
}

/** The floor's lines, largest first, as "system nodes m7i.large x2 $147.17" (the item's parenthetical left to cost.json). */
function floorParts(cost: CostEstimate, usd: (n: number) => string): string[] {
    return [...cost.floor]
        .sort((a, b) => b.usdPerMonth - a.usdPerMonth)
        .map((l) => `${l.item.replace(/ \([^)]*\)$/, "")}${l.quantity === 1 ? "" : ` x${l.quantity}`} ${usd(l.usdPerMonth)}`);
}

/**
 * How the floor's system nodes were chosen (sized from their pods' requests, cost.json systemNodes) and
 * the cheaper floors considered but not taken, each with its price (cost.json floorOptions says why).
 */
function floorChoiceLines(cost: CostEstimate, usd: (n: number) => string): string[] {
    const lines: string[] = [];
    const sized = cost.systemNodes;
    if (sized) {
        const r = sized.requests;
        lines.push(
            `    system nodes: ${sized.nodes} x ${sized.instanceType}, the cheapest that holds what runs on them (${r.cpu} CPU, ${r.memoryMiB} MiB in ${r.pods} pods requested; cost.json systemNodes)`,
        );
    }
    const notTaken = (cost.floorOptions ?? []).filter((o) => !o.taken);
    if (notTaken.length > 0)
        lines.push(
            "    cheaper floors not taken (cost.json floorOptions says why):",
            ...notTaken.map((o) => `      ${o.option}: ${usd(o.usdPerMonth)} instead of ${usd(o.insteadUsdPerMonth)}`),
        );
    return lines;
}

/** `parts` joined with " + " after `head`, wrapped to `width` columns with continuation lines aligned under the first part. */
function wrapList(head: string, parts: readonly string[], width = 120): string[] {
    const lines: string[] = [];
    let line = head;
    for (const [i, part] of parts.entries()) {
        const piece = i === 0 ? part : ` + ${part}`;
        if (i > 0 && line.length + piece.length > width) {
            lines.push(line);
            line = `${" ".repeat(head.length - 2)}+ ${part}`;
        } else line += piece;
    }
    if (parts.length > 0) lines.push(line);
    return lines;
}
