/**
 * The policy targets' report (`npm run compare -- --reference`): per scenario, one row per
 * seed, then each target with the worst seed's figure and whether it is met.
 */
import { ScenarioResult, TARGET_DAYS } from "../targets";
import { Row, TERMINAL_WIDTH, renderMarkdown, renderTerminal, wrap } from "./table";

const HEADERS = ["GPU USD/month", "clairvoyant USD/month", "x clairvoyant", "x optimal online rule", "P95", "P99", "refused/month", "cold starts/month"];
const sec = (n: number | null) => (n === null ? "n/a" : `${n.toFixed(2)} s`);
const ratio = (n: number) => `${n.toFixed(3)}x`;

function rows(r: ScenarioResult): Row[] {
    return r.seeds.map((f) => ({
        label: `${r.name}, seed ${f.seed}`,
        cells: [
            [`$${f.gpuUsdPerMonth.toFixed(2)}`],
            [`$${f.clairvoyantUsdPerMonth.toFixed(2)}`],
            [ratio(f.clairvoyantRatio)],
            [ratio(f.onlineRuleRatio)],
            [sec(f.p95LatencySeconds)],
            [sec(f.p99LatencySeconds)],
            [String(f.refusedPerMonth)],
            [String(f.coldStartsPerMonth)],
        ],
    }));
}

/** One line per target: met or missed, with the worst seed's figure. */
export function targetLines(results: readonly ScenarioResult[]): string[] {
    return results.flatMap((r) =>
        r.targets.map((t) => {
            const worst = t.worst === null ? "n/a" : t.unit === "x" ? ratio(t.worst) : t.unit === "s" ? sec(t.worst) : String(t.worst);
            return `${t.met ? "met   " : "MISSED"}  ${r.name}: ${t.label} <= ${t.limit}${t.unit === "s" ? " s" : t.unit} (worst seed: ${worst})`;
        }),
    );
}

/** The report for the terminal (at most TERMINAL_WIDTH columns, continuation lines indented) and for reference.md. */
export function targetsReport(results: readonly ScenarioResult[], markdown: boolean): { text: string; markdown: string } {
    const title = `Policy targets: ${TARGET_DAYS} days simulated, seeds ${results[0]?.seeds.map((s) => s.seed).join(", ")}; one A10G on-demand pool from zero (MedGemma 1.5 4B) unless said; the clairvoyant bound charges every node release (capacity/bounds/accounting.ts)`;
    const all = results.flatMap(rows);
    const scenarios = results.map((r) => `- ${r.name}: ${r.description}`);
    const missed = results.some((r) => r.targets.some((t) => !t.met));
    const lines = [
        ...targetLines(results),
        ...(missed ? ["Why a target is missed, and what the timetable's settings trade: docs/capacity.md#policy-targets"] : []),
    ];
    const md = [`# ${title}`, "", ...scenarios, "", renderMarkdown(HEADERS, all), "", ...lines.map((l) => `- ${l}`), ""].join("\n");
    const fold = (line: string) => wrap(line, TERMINAL_WIDTH - 2).map((l, i) => (i === 0 ? l : `  ${l}`));
    const text = markdown
        ? [title, ...scenarios, renderMarkdown(HEADERS, all), "", ...lines].join("\n")
        : [...[title, ...scenarios].flatMap(fold), renderTerminal(HEADERS, all), "", ...lines.flatMap(fold)].join("\n");
    return { text, markdown: md };
}
