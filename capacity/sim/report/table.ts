/**
 * The side-by-side comparison of stacks: one column per stack, one row per figure a
 * team lead decides on (what it costs at rest, at most, for its traffic; how fast it
 * answers; how often users wait for a cold start; how far from the physical limit).
 * Rendered as an aligned terminal table and as Markdown for pull requests.
 */
import { StackConfig } from "../../../stacks/validate";
import { StackSimulation } from "../expected";
import { describePolicy } from "../policy";
import { coldStartRows } from "./coldStart";
import { spanLabel } from "../span";

export interface StackColumn {
    readonly stack: string;
    readonly config: StackConfig;
    readonly sim: StackSimulation;
    readonly floorUsdPerMonth: number;
    readonly ceilingUsdPerMonth: number;
}

export interface Row {
    readonly label: string;
    /** One cell per stack; a cell may have several lines. */
    readonly cells: readonly (readonly string[])[];
}

const usd = (n: number | null) => (n === null ? "n/a" : `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
const sec = (n: number | null) => (n === null ? "n/a" : n >= 100 ? `${n.toFixed(0)} s` : `${n.toFixed(2)} s`);
const num = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 1 });

export function comparisonRows(columns: readonly StackColumn[]): Row[] {
    const row = (label: string, f: (c: StackColumn) => string | string[]): Row => ({ label, cells: columns.map((c) => [f(c)].flat()) });
    return [
        row("Traffic profile", (c) => `${c.sim.expected.profile} (${spanLabel(c.sim.expected)})`),
        row("GPU pools", (c) => c.config.gpuPools.map((p) => `${p.name}: ${p.gpuType} ${c.sim.input.gpuPools.find((g) => g.name === p.name)!.instanceType} ${p.capacityType}, ${p.minNodes}-${p.maxNodes} nodes`)),
        row("Scale policies", (c) => c.sim.input.workerPools.map((w) => `${w.name}: ${describePolicy(w.policy)}`)),
        row("Floor USD/month", (c) => usd(c.floorUsdPerMonth)),
        row("Ceiling USD/month", (c) => usd(c.ceilingUsdPerMonth)),
        row("Expected USD/month", (c) => `${usd(c.sim.expected.usdPerMonth)} (GPU ${usd(c.sim.expected.gpuUsdPerMonth)})`),
        row("USD per 1k requests", (c) => `${usd(c.sim.expected.usdPer1kRequests)} (GPU ${usd(c.sim.expected.gpuUsdPer1kRequests)})`),
        row("Requests/month answered / arrived", (c) => `${num(c.sim.expected.requests.answered)} / ${num(c.sim.expected.requests.arrived)}`),
        row("Refused/month: 429 / 503 / 504", (c) => `${num(c.sim.expected.requests.rejected429)} / ${num(c.sim.expected.requests.rejected503)} / ${num(c.sim.expected.requests.timedOut)}`),
        row("Time to answer (queue + service) P50 / P95 / P99", (c) => `${sec(c.sim.expected.p50LatencySeconds)} / ${sec(c.sim.expected.p95LatencySeconds)} / ${sec(c.sim.expected.p99LatencySeconds)}`),
        row("Cold starts/month (all held requests gave up)", (c) => `${num(c.sim.expected.coldStarts)} (${num(c.sim.expected.coldStartsUnanswered)})`),
        row("Time to first answer after cold start, median / max", (c) => {
            const t = c.sim.expected.timeToFirstAnswerSeconds;
            return t ? `${sec(t.median)} / ${sec(t.max)}` : "n/a";
        }),
        ...coldStartRows(columns),
        row("GPU hours/month", (c) => num(c.sim.expected.gpuHoursPerMonth)),
        row("Clairvoyant bound GPU USD/month (ratio)", (c) => `${usd(c.sim.expected.clairvoyantUsdPerMonth)} (${c.sim.expected.clairvoyantRatio === null ? "n/a" : `${c.sim.expected.clairvoyantRatio}x`})`),
        row("Online bound GPU USD/month (ratio)", (c) => `${usd(c.sim.expected.onlineBoundUsdPerMonth)} (${c.sim.expected.onlineBoundRatio === null ? "n/a" : `${c.sim.expected.onlineBoundRatio}x`})`),
        row("Oracle GPU USD/month (ratio)", (c) => `${usd(c.sim.expected.oracleUsdPerMonth)} (${c.sim.expected.oracleRatio === null ? "n/a" : `${c.sim.expected.oracleRatio}x`})`),
        // Batch jobs (traffic.batches), only when a compared stack has any.
        ...(columns.some((c) => c.sim.expected.batch)
            ? [
                  row("Batch jobs: lines/month, done within median / max, GPU USD/month (per job)", (c) => {
                      const b = c.sim.expected.batch;
                      if (!b) return "none";
                      const t = b.completionSeconds;
                      return `${num(b.linesPerMonth)} lines, ${t ? `${sec(t.median)} / ${sec(t.max)}` : "unfinished"}, ${usd(b.gpuUsdPerMonth)} (${usd(b.gpuUsdPerJob)})`;
                  }),
              ]
            : []),
    ];
}

/** Aligned plain-text table; multi-line cells stack vertically. */
export function renderTerminal(headers: readonly string[], rows: readonly Row[]): string {
    const labelW = Math.max(...rows.map((r) => r.label.length), 6);
    const colW = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => Math.max(...r.cells[i].map((l) => l.length)))));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(i === 0 ? labelW : colW[i - 1])).join(" | ").trimEnd();
    const sep = [labelW, ...colW].map((w) => "-".repeat(w)).join("-+-");
    const out = [line(["", ...headers]), sep];
    for (const r of rows) {
        const height = Math.max(...r.cells.map((c) => c.length));
        for (let k = 0; k < height; k++) out.push(line([k === 0 ? r.label : "", ...r.cells.map((c) => c[k] ?? "")]));
    }
    return out.join("\n");
}

const md = (s: string) => s.replace(/\|/g, "\\|");

export function renderMarkdown(headers: readonly string[], rows: readonly Row[]): string {
    const out = [`| | ${headers.map(md).join(" | ")} |`, `|---|${headers.map(() => "---").join("|")}|`];
    for (const r of rows) out.push(`| ${md(r.label)} | ${r.cells.map((c) => c.map(md).join("<br>")).join(" | ")} |`);
    return out.join("\n");
}
