/** The compare CLI and its pieces: stack loading, table rendering, the chart. */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { UsageError, compareColumns, loadStack } from "../../scripts/compare";
import { planStack } from "../../scripts/engine/plan";
import { DEFAULT_SIMULATED_DAYS, simulateStack, spanLabel } from "../../capacity/sim";
import { expectedSummary } from "../../capacity/sim/report/summary";
import { comparisonRows } from "../../capacity/sim/report/table";
import { representativeDay, stackChart } from "../../capacity/sim/report/chart";
import { renderMarkdown, renderTerminal } from "../../capacity/sim/report/table";
import { listStacks } from "../../scripts/engine/stackFile";
import { oneStack } from "./helpers";
import { tempDir } from "../helpers/tmp";

const ROOT = path.resolve(__dirname, "../..");

describe("compare", function () {
    this.timeout(60000);

    it("gives the plan's figures for dev: the same span and seed by default, printed by both", async () => {
        const plan = await planStack(ROOT, "dev");
        const [column] = compareColumns(ROOT, ["dev"]);
        const expected = plan.cost.expected!;
        assert.deepStrictEqual(column.sim.expected, expected);
        assert.strictEqual(expected.days, DEFAULT_SIMULATED_DAYS);
        assert.strictEqual(expected.seed, column.config.traffic.seed);
        // What each prints: the span, and the same monthly cost.
        const summary = expectedSummary(expected).join("\n");
        const table = comparisonRows([column]);
        const cell = (label: string) => table.find((r) => r.label === label)!.cells[0].join(" ");
        assert.ok(summary.includes(`(${spanLabel(expected)},`), summary);
        assert.strictEqual(cell("Traffic profile"), `classroom (${spanLabel(expected)})`);
        const usd = `$${expected.usdPerMonth.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
        assert.ok(summary.includes(`cost per month:`) && summary.includes(usd), `plan summary lacks ${usd}`);
        assert.ok(cell("Expected USD/month").startsWith(usd), cell("Expected USD/month"));
    });

    it("loads a stack file offline by name", () => {
        const dev = loadStack(ROOT, "dev");
        assert.strictEqual(dev.environment, "dev");
        assert.ok(dev.gpuPools.length > 0);
    });

    it("names an unknown stack and lists the known ones", () => {
        assert.throws(
            () => loadStack(ROOT, "nope"),
            (e: unknown) =>
                e instanceof UsageError &&
                /unknown stack 'nope'/.test(e.message) &&
                new RegExp(`Known stacks: ${listStacks(ROOT).join(", ")}$`).test(e.message),
        );
    });

    it("picks up any Pulumi.<team>.yaml by name", () => {
        const root = tempDir("stacks-");
        fs.copyFileSync(path.join(ROOT, "Pulumi.dev.yaml"), path.join(root, "Pulumi.radiology.yaml"));
        assert.strictEqual(loadStack(root, "radiology").environment, "radiology");
    });

    it("renders aligned terminal rows and a Markdown table with one column per stack", () => {
        const rows = [
            { label: "Cost", cells: [["$1.00"], ["$22.00"]] },
            { label: "Pools", cells: [["a", "b"], ["c"]] },
        ];
        const text = renderTerminal(["dev", "prod"], rows).split("\n");
        const bars = text.filter((_, k) => k !== 1).map((l) => [...l].flatMap((c, i) => (c === "|" ? [i] : [])));
        assert.deepStrictEqual(
            [...text[1]].flatMap((c, i) => (c === "+" ? [i] : [])),
            bars[0],
        );
        bars.forEach((b) => assert.deepStrictEqual(b, bars[0]));
        assert.strictEqual(text.length, 2 + 1 + 2);
        const md = renderMarkdown(["dev", "prod"], rows).split("\n");
        assert.deepStrictEqual(md.slice(0, 2), ["| | dev | prod |", "|---|---|---|"]);
        assert.strictEqual(md[3], "| Pools | a<br>b | c |");
    });

    it("charts the day with the median load", () => {
        const sim = simulateStack(oneStack({ traffic: { profile: "classroom" } }), { days: 7, params: { timeseries: true } });
        const counts = new Array(7).fill(0);
        for (const t of sim.input.trace.times) counts[Math.floor(t / 86400)]++;
        const busy = counts.filter((c) => c > 0).sort((a, b) => a - b);
        assert.strictEqual(counts[representativeDay(sim.input)], busy[Math.floor((busy.length - 1) / 2)]);
        const svg = stackChart("t", sim.input, sim.result);
        assert.ok(svg.startsWith("<svg") && svg.endsWith("</svg>"));
        for (const title of ["Load", "Queue", "Replicas", "Latency"]) assert.ok(svg.includes(title), title);
    });

    it("runs end to end: table on stdout, compare.md and one SVG per stack, the reference comparison in its own file; exit 1 naming an unknown stack", function () {
        this.timeout(180000); // four CLI runs
        const out = tempDir("compare-");
        const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
        const ok = spawnSync(tsx, ["scripts/compare.ts", "dev", "prod", "--days", "2", "--out", out], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(ok.status, 0, ok.stderr);
        assert.match(ok.stdout, /Expected USD\/month/);
        assert.deepStrictEqual(fs.readdirSync(out).sort(), ["compare.md", "dev.svg", "prod.svg"]);
        assert.match(fs.readFileSync(path.join(out, "compare.md"), "utf8"), /\| \| dev \| prod \|/);
        // The reference comparison goes to its own file: compare.md and the charts stay as they were.
        const before = fs.readFileSync(path.join(out, "compare.md"), "utf8");
        const ref = spawnSync(tsx, ["scripts/compare.ts", "--reference-classroom", "--days", "1", "--out", out], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(ref.status, 0, ref.stderr);
        assert.deepStrictEqual(fs.readdirSync(out).sort(), ["compare.md", "dev.svg", "prod.svg", "reference-classroom.md"]);
        assert.strictEqual(fs.readFileSync(path.join(out, "compare.md"), "utf8"), before);
        assert.match(fs.readFileSync(path.join(out, "reference-classroom.md"), "utf8"), /^# Classroom profile, one A10G on-demand pool/);
        assert.match(ref.stdout, /wrote .*reference-classroom\.md\n$/);
        // Readable in a terminal: 120 columns at most, the per-pool cold-start phases left to compare.md,
        // policies below the table, each saying what differs from a similar one.
        for (const text of [ok.stdout, ref.stdout]) for (const l of text.split("\n")) assert.ok(l.length <= 120, `${l.length} columns: ${l}`);
        assert.doesNotMatch(ok.stdout, /vLLM process start/);
        assert.match(ok.stdout, /\nIn the Markdown report only: Cold start phases, expected \/ pessimistic\.\n/);
        assert.match(before, /vLLM process start/);
        assert.match(ok.stdout, /\nScale policies:\n {2}dev {3}qwen3-vl-2b: 0-2 on demand/);
        assert.match(ref.stdout, /\n {2}ours\+gpu70 +as 'ours', plus gpuUtil 70%\n/);
        assert.match(ref.stdout, /\n {2}from zero, queue-sized +as 'from zero', but demand 4 \(each held request counts\) instead of demand 4\n/);
        // A later comparison of other stacks removes the charts the earlier report linked, and nothing else.
        fs.writeFileSync(path.join(out, "mine.svg"), "<svg/>");
        const devOnly = spawnSync(tsx, ["scripts/compare.ts", "dev", "--days", "1", "--out", out], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(devOnly.status, 0, devOnly.stderr);
        assert.deepStrictEqual(fs.readdirSync(out).sort(), ["compare.md", "dev.svg", "mine.svg", "reference-classroom.md"]);
        assert.match(devOnly.stdout, /; removed .*prod\.svg \(charts of an earlier comparison\)\n$/);
        const bad = spawnSync(tsx, ["scripts/compare.ts", "dev", "nope", "--out", out], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(bad.status, 1);
        assert.match(bad.stderr, new RegExp(`unknown stack 'nope'.*Known stacks: ${listStacks(ROOT).join(", ")}\\n`));
    });
});
