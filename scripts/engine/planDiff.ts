/**
 * Compares two offline plans (base and head of a pull request) and renders the Markdown
 * the PR comment shows: per stack, the Kubernetes objects and cloud resources added,
 * changed (with the fields that changed) and removed, and the cost delta.
 */
import * as fs from "fs";
import * as path from "path";
import type { PlannedBill } from "../../capacity/bill/sharedMonth";

export interface PlanResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
    readonly options: Record<string, unknown>;
}

/** A team's month in a plan's cost.json (`bill`, capacity/bill/sharedMonth.ts PlannedBill): what the team pays, in parts. */
export type TeamBill = Pick<PlannedBill, "team" | "usdPerMonth" | "ownGpuUsdPerMonth" | "sharedPoolsUsdPerMonth" | "floorShareUsdPerMonth">;

export interface PlanSnapshot {
    readonly resources: PlanResource[];
    readonly cost: { floorUsdPerMonth: number; ceilingUsdPerMonth: number; expected: null | { usdPerMonth?: number }; bill?: TeamBill };
}

/** Cost change per team: every team a plan bills (team stacks' cost.json `bill`), base against head. */
export interface TeamCostDiff {
    readonly team: string;
    readonly base: TeamBill | null;
    readonly head: TeamBill | null;
}

function diffTeamBills(base: ReadonlyMap<string, PlanSnapshot>, head: ReadonlyMap<string, PlanSnapshot>): TeamCostDiff[] {
    const bills = (plans: ReadonlyMap<string, PlanSnapshot>) =>
        new Map([...plans.values()].flatMap((p) => (p.cost.bill ? [[p.cost.bill.team, p.cost.bill] as const] : [])));
    const b = bills(base);
    const h = bills(head);
    return [...new Set([...b.keys(), ...h.keys()])].sort().map((team) => ({ team, base: b.get(team) ?? null, head: h.get(team) ?? null }));
}

export interface Change {
    readonly kind: "added" | "changed" | "removed";
    /** "Deployment serving/worker-x" for Kubernetes objects, "aws:eks/nodeGroup:NodeGroup name" otherwise. */
    readonly label: string;
    readonly fields: string[];
}

export interface StackDiff {
    readonly stack: string;
    readonly changes: Change[];
    readonly cost: { metric: string; base: number | null; head: number | null }[];
    /** Present on one side only. */
    readonly only?: "base" | "head";
}

/** Component resources carry no inputs of their own; their children show the change. */
const isComponent = (r: PlanResource) => r.type.startsWith("gpuserve:") || r.type === "pulumi:pulumi:Stack";

function label(r: PlanResource): string {
    if (r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh/")) {
        const meta = (r.inputs.metadata ?? {}) as { name?: string; namespace?: string };
        const kind = (r.inputs.kind as string | undefined) ?? r.type.split(":").pop();
        return `${kind} ${meta.namespace ? `${meta.namespace}/` : ""}${meta.name ?? r.name}`;
    }
    return `${r.type.split(":").pop()} ${r.name}`;
}

/** Paths whose values differ, e.g. "spec.template.spec.containers[0].args". */
export function changedPaths(a: unknown, b: unknown, prefix = ""): string[] {
    if (JSON.stringify(a) === JSON.stringify(b)) return [];
    const bothObjects = a && b && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b);
    if (!bothObjects) return [prefix || "(value)"];
    if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) return [prefix || "(list)"];
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => {
        const p = Array.isArray(a) ? `${prefix}[${k}]` : prefix ? `${prefix}.${k}` : k;
        return changedPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], p);
    });
}

function diffStack(stack: string, base: PlanSnapshot, head: PlanSnapshot): StackDiff {
    const key = (r: PlanResource) => `${r.type}::${r.name}`;
    const baseByKey = new Map(base.resources.filter((r) => !isComponent(r)).map((r) => [key(r), r]));
    const headByKey = new Map(head.resources.filter((r) => !isComponent(r)).map((r) => [key(r), r]));
    const changes: Change[] = [];
    for (const [k, h] of headByKey) {
        const b = baseByKey.get(k);
        if (!b) changes.push({ kind: "added", label: label(h), fields: [] });
        else {
            const fields = [...changedPaths(b.inputs, h.inputs), ...changedPaths(b.options, h.options, "options").filter((f) => f !== "options")];
            if (fields.length > 0) changes.push({ kind: "changed", label: label(h), fields });
        }
    }
    for (const [k, b] of baseByKey) if (!headByKey.has(k)) changes.push({ kind: "removed", label: label(b), fields: [] });
    const order = { removed: 0, changed: 1, added: 2 };
    changes.sort((x, y) => order[x.kind] - order[y.kind] || x.label.localeCompare(y.label));
    return {
        stack,
        changes,
        cost: [
            { metric: "floor", base: base.cost.floorUsdPerMonth, head: head.cost.floorUsdPerMonth },
            { metric: "expected", base: base.cost.expected?.usdPerMonth ?? null, head: head.cost.expected?.usdPerMonth ?? null },
            { metric: "ceiling", base: base.cost.ceilingUsdPerMonth, head: head.cost.ceilingUsdPerMonth },
        ],
    };
}

const usd = (n: number | null) => (n === null ? "n/a" : `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
function delta(base: number | null, head: number | null): string {
    if (base === null || head === null) return "n/a";
    const d = Math.round((head - base) * 100) / 100;
    if (d === 0) return "0";
    const pct = base === 0 ? "" : ` (${d > 0 ? "+" : ""}${((d / base) * 100).toFixed(1)} %)`;
    return `${d > 0 ? "+" : "-"}${usd(Math.abs(d))}${pct}`;
}

const SYMBOL = { added: "➕ added", changed: "✏️ changed", removed: "➖ removed" };
const COMMENT_MARKER = "<!-- gpuserve-plan-diff -->";
const MAX_FIELDS = 6;

export function renderMarkdown(diffs: StackDiff[], teams: TeamCostDiff[] = []): string {
    const total = diffs.reduce((n, d) => n + d.changes.length, 0);
    const out = [COMMENT_MARKER, `## Offline plan: ${diffs.length} stack${diffs.length === 1 ? "" : "s"}, ${total} change${total === 1 ? "" : "s"}`, ""];
    if (teams.length > 0) {
        out.push(
            "### Cost per team (USD/month)",
            "",
            "| team | base | head | delta | head: own GPU | shared pools | floor share |",
            "|---|---:|---:|---:|---:|---:|---:|",
        );
        for (const t of teams) {
            const h = t.head;
            out.push(
                `| ${t.team} | ${usd(t.base?.usdPerMonth ?? null)} | ${usd(h?.usdPerMonth ?? null)} | ${delta(t.base?.usdPerMonth ?? null, h?.usdPerMonth ?? null)} | ${usd(h?.ownGpuUsdPerMonth ?? null)} | ${usd(h?.sharedPoolsUsdPerMonth ?? null)} | ${usd(h?.floorShareUsdPerMonth ?? null)} |`,
            );
        }
        out.push("");
    }
    for (const d of diffs) {
        if (d.only) {
            out.push(`### ${d.stack}`, "", d.only === "head" ? "New stack in this pull request." : "Stack removed in this pull request.", "");
            continue;
        }
        const count = (k: Change["kind"]) => d.changes.filter((c) => c.kind === k).length;
        out.push(`### ${d.stack}: ${count("added")} added, ${count("changed")} changed, ${count("removed")} removed`, "");
        out.push("| cost (USD/month) | base | head | delta |", "|---|---:|---:|---:|");
        for (const c of d.cost) out.push(`| ${c.metric} | ${usd(c.base)} | ${usd(c.head)} | ${delta(c.base, c.head)} |`);
        out.push("");
        if (d.changes.length === 0) {
            out.push("No resource changes.", "");
            continue;
        }
        out.push("| change | object | fields |", "|---|---|---|");
        for (const c of d.changes) {
            const fields = c.fields.length > MAX_FIELDS ? [...c.fields.slice(0, MAX_FIELDS), `… ${c.fields.length - MAX_FIELDS} more`] : c.fields;
            out.push(`| ${SYMBOL[c.kind]} | \`${c.label}\` | ${fields.map((f) => `\`${f}\``).join(", ")} |`);
        }
        out.push("");
    }
    out.push("_Rendered offline under Pulumi's mock engine (`npm run plan`); no cloud credentials involved._");
    return out.join("\n") + "\n";
}

/** A plan directory: one stack (has resources.json) or one subdirectory per stack. */
function readPlans(dir: string): Map<string, PlanSnapshot> {
    const load = (d: string): PlanSnapshot => ({
        resources: JSON.parse(fs.readFileSync(path.join(d, "resources.json"), "utf8")) as PlanSnapshot["resources"],
        cost: JSON.parse(fs.readFileSync(path.join(d, "cost.json"), "utf8")) as PlanSnapshot["cost"],
    });
    if (fs.existsSync(path.join(dir, "resources.json"))) return new Map([[path.basename(path.resolve(dir)), load(dir)]]);
    const plans = new Map<string, PlanSnapshot>();
    for (const sub of fs.readdirSync(dir).sort()) {
        if (fs.existsSync(path.join(dir, sub, "resources.json"))) plans.set(sub, load(path.join(dir, sub)));
    }
    return plans;
}

export function diffPlanDirs(baseDir: string, headDir: string): { stacks: StackDiff[]; teams: TeamCostDiff[] } {
    const base = readPlans(baseDir);
    const head = readPlans(headDir);
    if (base.size === 0 && head.size === 0) throw new Error(`no plans in ${baseDir} or ${headDir} (expected resources.json and cost.json)`);
    const stacks = [...new Set([...base.keys(), ...head.keys()])].sort();
    return {
        stacks: stacks.map((s) => {
            const b = base.get(s);
            const h = head.get(s);
            if (!b || !h) return { stack: s, changes: [], cost: [], only: b ? "base" : "head" };
            return diffStack(s, b, h);
        }),
        teams: diffTeamBills(base, head),
    };
}
