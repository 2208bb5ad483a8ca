/**
 * The side-by-side comparison of stacks: one column per stack, one row per figure a
 * team lead decides on (what it costs at rest, at most, for its traffic; how fast it
 * answers; how often users wait for a cold start; how far from the physical limit).
 * Rendered as an aligned terminal table and as Markdown for pull requests.
 */
import type { Row, StackColumn } from "./rows";
import { describePolicy } from "../policy";
import { coldStartRows } from "./coldStartRows";
import { spanLabel } from "../span";

export type { Row, StackColumn } from "./rows";

const usd = (n: number | null) => (n === null ? "n/a" : `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
const sec = (n: number | null) => (n === null ? "n/a" : n >= 100 ? `${n.toFixed(0)} s` : `${n.toFixed(2)} s`);
const num = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 1 });

export function comparisonRows(columns: readonly StackColumn[]): Row[] {
    const row = (label: string, f: (c: StackColumn) => string | string[]): Row => ({ label, cells: columns.map((c) => [f(c)].flat()) });
    return [
        row("Traffic profile", (c) => `${c.sim.expected.profile} (${spanLabel(c.sim.expected)})`),
        row("GPU pools", (c) =>
            c.config.gpuPools.map(
                (p) =>
                    `${p.name}: ${p.gpuType} ${c.sim.input.gpuPools.find((g) => g.name === p.name)!.instanceType} ${p.capacityType}, ${p.minNodes}-${p.maxNodes} nodes`,
            ),
        ),
        { ...row("Scale policies", (c) => c.sim.input.workerPools.map((w) => `${w.name}: ${describePolicy(w.policy)}`)), terminal: "legend" },
        row("Floor USD/month", (c) => usd(c.floorUsdPerMonth)),
        row("Ceiling USD/month", (c) => usd(c.ceilingUsdPerMonth)),
        row("Expected USD/month", (c) => `${usd(c.sim.expected.usdPerMonth)} (GPU ${usd(c.sim.expected.gpuUsdPerMonth)})`),
        row("USD per 1k requests", (c) => `${usd(c.sim.expected.usdPer1kRequests)} (GPU ${usd(c.sim.expected.gpuUsdPer1kRequests)})`),
        row("Requests/month answered / arrived", (c) => `${num(c.sim.expected.requests.answered)} / ${num(c.sim.expected.requests.arrived)}`),
        row(
            "Refused/month: 429 / 503 / 504",
            (c) => `${num(c.sim.expected.requests.rejected429)} / ${num(c.sim.expected.requests.rejected503)} / ${num(c.sim.expected.requests.timedOut)}`,
        ),
        row(
            "Time to answer (queue + service) P50 / P95 / P99",
            (c) => `${sec(c.sim.expected.p50LatencySeconds)} / ${sec(c.sim.expected.p95LatencySeconds)} / ${sec(c.sim.expected.p99LatencySeconds)}`,
        ),
        row("Cold starts/month (all held requests gave up)", (c) => `${num(c.sim.expected.coldStarts)} (${num(c.sim.expected.coldStartsUnanswered)})`),
        row("Time to first answer after cold start, median / max", (c) => {
            const t = c.sim.expected.timeToFirstAnswerSeconds;
            return t ? `${sec(t.median)} / ${sec(t.max)}` : "n/a";
        }),
        ...coldStartRows(columns),
        row("GPU hours/month", (c) => num(c.sim.expected.gpuHoursPerMonth)),
        row(
            "Clairvoyant bound GPU USD/month (ratio)",
            (c) =>
                `${usd(c.sim.expected.clairvoyantUsdPerMonth)} (${c.sim.expected.clairvoyantRatio === null ? "n/a" : `${c.sim.expected.clairvoyantRatio}x`})`,
        ),
        row(
            "Optimal online rule GPU USD/month (ratio)",
            (c) => `${usd(c.sim.expected.onlineRuleUsdPerMonth)} (${c.sim.expected.onlineRuleRatio === null ? "n/a" : `${c.sim.expected.onlineRuleRatio}x`})`,
        ),
        row(
            "Best hold in hindsight GPU USD/month (ratio)",
            (c) =>
                `${usd(c.sim.expected.hindsightHoldUsdPerMonth)} (${c.sim.expected.hindsightHoldRatio === null ? "n/a" : `${c.sim.expected.hindsightHoldRatio}x`})`,
        ),
        row(
            "Oracle GPU USD/month (ratio)",
            (c) => `${usd(c.sim.expected.oracleUsdPerMonth)} (${c.sim.expected.oracleRatio === null ? "n/a" : `${c.sim.expected.oracleRatio}x`})`,
        ),
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

/** The terminal's width: the table, its legends and notes stay within it. */
export const TERMINAL_WIDTH = 120;
/** Narrowest a column gets before the table is split into blocks of columns. */
const MIN_COLUMN = 12;
/** Widest the label column gets (longer labels wrap). */
const MAX_LABEL = 34;

/**
 * Aligned plain-text table within `width` columns: long cells and labels wrap at word
 * boundaries, too many columns split into blocks (each with the labels), "legend" rows follow
 * the table, "markdown" rows are only named. Multi-line cells stack vertically.
 */
export function renderTerminal(headers: readonly string[], rows: readonly Row[], width = TERMINAL_WIDTH): string {
    const inTable = rows.filter((r) => !r.terminal);
    const natural = headers.map((h, i) => Math.max(h.length, ...inTable.map((r) => Math.max(0, ...r.cells[i].map((l) => l.length)))));
    // Labels take what the columns leave, at least MAX_LABEL wide before they wrap.
    const spare = width - natural.reduce((a, b) => a + b + 3, 0);
    const labelW = Math.min(Math.max(6, ...inTable.map((r) => r.label.length)), Math.max(MAX_LABEL, spare));
    const out: string[] = [];
    for (const block of columnBlocks(natural, width - labelW)) {
        if (out.length > 0) out.push("");
        out.push(...tableBlock(block, headers, inTable, labelW));
    }
    for (const r of rows.filter((x) => x.terminal === "legend")) out.push("", ...legend(r, headers, width));
    const elsewhere = rows.filter((r) => r.terminal === "markdown").map((r) => r.label);
    if (elsewhere.length > 0) out.push("", ...wrap(`In the Markdown report only: ${elsewhere.join(", ")}.`, width));
    return out.join("\n");
}

/** Column indexes and widths per block: each block fits `room` (after the label), columns as wide as they need up to a common cap. */
function columnBlocks(natural: readonly number[], room: number): { index: number; width: number }[][] {
    const fit = (cols: number[]): number[] | null => {
        const avail = room - 3 * cols.length;
        const used = (cap: number) => cols.reduce((sum, i) => sum + Math.min(natural[i], cap), 0);
        if (used(MIN_COLUMN) > avail) return null;
        let cap = MIN_COLUMN;
        while (cap < Math.max(...cols.map((i) => natural[i])) && used(cap + 1) <= avail) cap++;
        return cols.map((i) => Math.min(natural[i], cap));
    };
    let blocks: number[][] = [];
    for (let i = 0; i < natural.length; i++) {
        const last = blocks[blocks.length - 1];
        if (last && fit([...last, i])) last.push(i);
        else blocks.push([i]);
    }
    // As many blocks, of even sizes when they fit (5 + 4 columns rather than 8 + 1).
    const size = Math.ceil(natural.length / blocks.length);
    const even = Array.from({ length: blocks.length }, (_, b) => natural.map((_, i) => i).slice(b * size, (b + 1) * size)).filter((b) => b.length > 0);
    if (even.every((b) => fit(b))) blocks = even;
    return blocks.map((cols) => {
        const widths = fit(cols) ?? cols.map(() => Math.max(MIN_COLUMN, room - 3));
        return cols.map((index, k) => ({ index, width: widths[k] }));
    });
}

function tableBlock(block: readonly { index: number; width: number }[], headers: readonly string[], rows: readonly Row[], labelW: number): string[] {
    const widths = [labelW, ...block.map((b) => b.width)];
    const line = (cells: readonly string[]) =>
        cells
            .map((c, i) => c.padEnd(widths[i]))
            .join(" | ")
            .trimEnd();
    const lines = (cells: readonly (readonly string[])[]) => {
        const wrapped = cells.map((c, i) => c.flatMap((l) => wrap(l, widths[i])));
        const height = Math.max(...wrapped.map((c) => c.length));
        return Array.from({ length: height }, (_, k) => line(wrapped.map((c) => c[k] ?? "")));
    };
    const out = lines([[""], ...block.map((b) => [headers[b.index]])]);
    out.push(widths.map((w) => "-".repeat(w)).join("-+-"));
    for (const r of rows) out.push(...lines([[r.label], ...block.map((b) => r.cells[b.index])]));
    return out;
}

/**
 * A row below the table: per column its text, or what differs from an earlier column when
 * that is short ("as 'ours', plus gpuUtil 70%"; "as 'from zero', but X instead of Y").
 */
function legend(row: Row, headers: readonly string[], width: number): string[] {
    const nameW = Math.min(24, Math.max(...headers.map((h) => h.length)));
    const out = [`${row.label}:`];
    const indent = " ".repeat(nameW + 4);
    headers.forEach((h, i) => {
        const texts = row.cells[i].length === 1 ? [differs(row, headers, i) ?? row.cells[i][0]] : row.cells[i];
        // Each line of the cell wraps under itself, a little further in than where it starts.
        const body = texts.flatMap((t) => wrap(t, width - indent.length - 2).map((l, k) => (k === 0 ? l : `  ${l}`)));
        if (h.length > nameW) out.push(`  ${h}`, ...body.map((l) => indent + l));
        else out.push(`  ${h.padEnd(nameW)}  ${body[0] ?? ""}`, ...body.slice(1).map((l) => indent + l));
    });
    return out;
}

/** The parts of a policy text: range, triggers, scale-down, warm windows. */
const parts = (text: string) => text.split(/, | \+ | on /).filter((x) => x !== "");

function differs(row: Row, headers: readonly string[], i: number): string | undefined {
    const mine = parts(row.cells[i][0]);
    let best: { j: number; added: string[]; removed: string[] } | undefined;
    for (let j = 0; j < i; j++) {
        if (row.cells[j].length !== 1) continue;
        const theirs = parts(row.cells[j][0]);
        const added = mine.filter((x) => !theirs.includes(x));
        const removed = theirs.filter((x) => !mine.includes(x));
        if (!best || added.length + removed.length < best.added.length + best.removed.length) best = { j, added, removed };
    }
    if (!best || best.added.length + best.removed.length > 2) return undefined;
    const { j, added, removed } = best;
    const what =
        added.length === 0 && removed.length === 0
            ? "the same policy (the difference is not in this text)"
            : added.length === 1 && removed.length === 1
              ? `but ${added[0]} instead of ${removed[0]}`
              : [added.length > 0 ? `plus ${added.join(", ")}` : "", removed.length > 0 ? `without ${removed.join(", ")}` : ""].filter(Boolean).join(", ");
    const text = `as '${headers[j]}', ${what}`;
    return text.length < row.cells[i][0].length ? text : undefined;
}

/** `text` in lines of at most `width` characters, broken at spaces (a longer word is cut). */
export function wrap(text: string, width: number): string[] {
    if (text.length <= width) return [text];
    const lines: string[] = [];
    let line = "";
    for (const word of text.split(" ")) {
        let w = word;
        while (w.length > width) {
            if (line) lines.push(line);
            lines.push(w.slice(0, width));
            w = w.slice(width);
            line = "";
        }
        if (!line) line = w;
        else if (line.length + 1 + w.length <= width) line += ` ${w}`;
        else {
            lines.push(line);
            line = w;
        }
    }
    if (line) lines.push(line);
    return lines;
}

const md = (s: string) => s.replace(/\|/g, "\\|");

export function renderMarkdown(headers: readonly string[], rows: readonly Row[]): string {
    const out = [`| | ${headers.map(md).join(" | ")} |`, `|---|${headers.map(() => "---").join("|")}|`];
    for (const r of rows) out.push(`| ${md(r.label)} | ${r.cells.map((c) => c.map(md).join("<br>")).join(" | ")} |`);
    return out.join("\n");
}
