/**
 * npm run compare -- <stack> <stack> ... [--out <dir>] [--plans <dir>] [--markdown] [--days <n>] [--reference-classroom] [--reference]
 * npm run compare -- --shared <platform> <team> <team> ...: the platform's teams each alone and all on the
 * platform, per-team and total cost and latency, written to <out>/compare.md and <out>/compare.json
 * (scripts/engine/sharedCompare.ts).
 *
 * Side-by-side cost and latency of team stacks, before anyone spends money: reads each
 * `Pulumi.<stack>.yaml` offline (no Pulumi engine), simulates its traffic profile, prints
 * a table (Markdown with --markdown), and writes <out>/compare.md and <out>/<stack>.svg
 * (default out: plan/compare/). --reference-classroom adds the classroom comparison of
 * the published reference policy, our default policy and the oracle (no stack needed),
 * written to <out>/reference-classroom.md (it never replaces compare.md). --reference prints the
 * policy targets (capacity/sim/targets.ts: 28 days, seeds 1-5, each scenario's figures per seed
 * and every target met or missed, worst seed) and writes <out>/reference.md.
 */
import * as fs from "fs";
import * as path from "path";
import { staticCost } from "../capacity/cost";
import { PROJECT } from "../stacks/schema";
import { DEFAULT_SIMULATED_DAYS, natGatewayCount, simulateStack } from "../capacity/sim";
import { ClassroomComparison, classroomComparison } from "../capacity/sim/reference";
import { measureTargets } from "../capacity/sim/targets";
import { targetsReport } from "../capacity/sim/report/targets";
import { stackChart } from "../capacity/sim/report/chart";
import { Row, StackColumn, comparisonRows, renderMarkdown, renderTerminal } from "../capacity/sim/report/table";
import type { StackConfig } from "../stacks/resolved";
import { formatCliError } from "./engine/cliErrors";
import { compareJson, compareShared, renderShared } from "./engine/sharedCompare";
import { listStacks, stackConfigFromFile, stackFilePath, stackHint } from "./engine/stackFile";
import { ensurePlatformPlan } from "./engine/platformPlan";
import { PLATFORM_OUTPUT, parsePlatformOutputs } from "../stacks/platformOutputs";
import { existingClusterSchema } from "../stacks/schema";
import { existingClusterOutputs } from "../stacks/existingCluster";

const ROOT = path.resolve(__dirname, "..");
/** The stack comparison's report (with one <stack>.svg per stack) and the reference comparison's. */
export const COMPARE_FILE = "compare.md";
export const REFERENCE_FILE = "reference-classroom.md";
export const TARGETS_FILE = "reference.md";

/** --shared: the two arrangements as JSON (shared/design.md "Per-team cost"). */
export const COMPARE_JSON = "compare.json";

export class UsageError extends Error {}

const USAGE = `usage: npm run compare -- <stack> <stack> ... [--out <dir>] [--plans <dir>] [--markdown] [--days <n>] [--reference] [--reference-classroom] [--debug]
       npm run compare -- --shared <platform> <team> <team> ... [--out <dir>] [--plans <dir>] [--markdown] [--days <n>]
  Simulates each stack's traffic profile offline and prints cost and latency side by side
  (details and charts in <out>/compare.md and <out>/<stack>.svg).
  --shared <platform>      the platform's teams each alone and all on the platform: per-team and total
                           cost and P95/P99 (<out>/compare.md and <out>/compare.json)
  --out, -o <dir>          where to write (default plan/compare/)
  --plans <dir>            where a team stack finds its platform's plan (default plan/; planned there when missing)
  --markdown               print the table as Markdown
  --days <n>               days to simulate (default ${DEFAULT_SIMULATED_DAYS})
  --reference              the default policy's targets (28 days, seeds 1-5), met or MISSED; writes <out>/reference.md
  --reference-classroom    also compare the published reference policy on the classroom profile
  --debug                  stack traces on errors
  --help, -h               this text`;

/**
 * A stack's validated config from its Pulumi.<stack>.yaml, without the Pulumi engine. A team stack is
 * read with its platform's planned outputs (<plans>/<platform>/outputs.json; planned first when missing),
 * or its existingCluster.
 */
export function loadStack(root: string, stack: string, plans = path.join(root, "plan")): StackConfig {
    const known = listStacks(root);
    if (!known.includes(stack)) {
        const hint = stackHint(stack, known);
        throw new UsageError(
            `unknown stack '${stack}'${hint ? `: did you mean '${hint}'?` : "."} There is no Pulumi.${stack}.yaml in ${root}. Known stacks: ${known.join(", ") || "none"}`,
        );
    }
    try {
        const planned = ensurePlatformPlan(root, stack, plans, (line) => process.stderr.write(`${line}\n`));
        const config = stackConfigFromFile(root, stack, PROJECT, (raw) => {
            if (planned) return parsePlatformOutputs(planned.outputs[PLATFORM_OUTPUT], `platform '${planned.stack}'`);
            const existing = raw.role === "team" && raw.existingCluster !== undefined ? existingClusterSchema.safeParse(raw.existingCluster) : undefined;
            return existing?.success ? existingClusterOutputs(raw, existing.data) : undefined;
        });
        if (config.models.length === 0)
            throw new UsageError(`stack '${stack}' has no worker pool to simulate (a platform without shared pools): compare its teams instead`);
        return config;
    } catch (e) {
        if (e instanceof UsageError) throw e;
        throw new StackConfigError(stack, e);
    }
}

/** A stack's file or config is wrong: carries the stack, so the CLI can point into its file. */
export class StackConfigError extends Error {
    constructor(
        readonly stackName: string,
        override readonly cause: unknown,
    ) {
        super(cause instanceof Error ? cause.message : String(cause));
        this.name = "StackConfigError";
    }
}

interface Args {
    stacks: string[];
    /** --shared <platform>: the stacks are its teams, compared alone and on the platform. */
    shared?: string;
    out: string;
    /** Where a team finds its platform's plan (<plans>/<platform>/outputs.json). */
    plans: string;
    markdown: boolean;
    days: number;
    reference: boolean;
    targets: boolean;
}

function parseArgs(argv: string[]): Args {
    const args: Args = {
        stacks: [],
        out: path.join(ROOT, "plan", "compare"),
        plans: path.join(ROOT, "plan"),
        markdown: false,
        days: DEFAULT_SIMULATED_DAYS,
        reference: false,
        targets: false,
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
            if (v === undefined) throw new UsageError(`${a} needs a value`);
            return v;
        };
        if (a === "--help" || a === "-h") {
            process.stdout.write(`${USAGE}\n`);
            process.exit(0);
        } else if (a === "--out" || a === "-o" || a.startsWith("--out=")) args.out = path.resolve(value());
        else if (a === "--plans" || a.startsWith("--plans=")) args.plans = path.resolve(value());
        else if (a === "--markdown" || a === "--md") args.markdown = true;
        else if (a === "--days" || a.startsWith("--days=")) {
            args.days = Number(value());
            if (!Number.isInteger(args.days) || args.days < 1 || args.days > 366) throw new UsageError("--days must be a whole number from 1 to 366");
        } else if (a === "--reference-classroom") args.reference = true;
        else if (a === "--reference") args.targets = true;
        else if (a === "--shared" || a.startsWith("--shared=")) args.shared = value();
        else if (a.startsWith("-")) throw new UsageError(`unknown option '${a}'`);
        else args.stacks.push(a);
    }
    if (args.stacks.length === 0 && !args.reference && !args.targets) throw new UsageError("name at least one stack (or --reference, --reference-classroom)");
    if (args.shared !== undefined && args.stacks.length === 0)
        throw new UsageError(`name the teams of platform '${args.shared}': npm run compare -- --shared ${args.shared} <team> <team> ...`);
    return args;
}

function classroomTable(c: ClassroomComparison): { headers: string[]; rows: Row[] } {
    const usd = (n: number) => `$${n.toFixed(2)}`;
    const headers = c.rows.map((r) => r.name);
    const cell = (f: (r: ClassroomComparison["rows"][number]) => string) => c.rows.map((r) => [f(r)]);
    return {
        headers,
        rows: [
            { label: "Policy", cells: cell((r) => r.policy), terminal: "legend" },
            { label: "GPU USD/month (A10G pool)", cells: cell((r) => usd(r.usdPerMonth)) },
            { label: "Ratio to clairvoyant bound", cells: cell((r) => (r.clairvoyantRatio === null ? "n/a" : `${r.clairvoyantRatio.toFixed(2)}x`)) },
            { label: "Ratio to optimal online rule", cells: cell((r) => (r.onlineRuleRatio === null ? "n/a" : `${r.onlineRuleRatio.toFixed(2)}x`)) },
            { label: "Node hours/month", cells: cell((r) => (r.nodeHoursPerMonth === null ? "n/a" : r.nodeHoursPerMonth.toFixed(1))) },
            { label: "P95 latency", cells: cell((r) => (r.p95LatencySeconds === null ? "n/a (service time only)" : `${r.p95LatencySeconds.toFixed(2)} s`)) },
            { label: "P99 latency", cells: cell((r) => (r.p99LatencySeconds === null ? "n/a" : `${r.p99LatencySeconds.toFixed(2)} s`)) },
            { label: "Node launches/month", cells: cell((r) => (r.nodeLaunchesPerMonth === null ? "n/a" : String(r.nodeLaunchesPerMonth))) },
            { label: "Cold starts/month", cells: cell((r) => (r.coldStarts === null ? "n/a" : String(r.coldStarts))) },
            { label: "Rejected/month", cells: cell((r) => (r.rejectedPerMonth === null ? "n/a" : String(r.rejectedPerMonth))) },
        ],
    };
}

/**
 * One column per stack: its config, its simulation (with the chart's series) and its static floor and ceiling.
 * Team stacks read their platform's plan from `plans` (see loadStack).
 */
export function compareColumns(root: string, stacks: readonly string[], days = DEFAULT_SIMULATED_DAYS, plans = path.join(root, "plan")): StackColumn[] {
    return stacks.map((stack) => {
        const config = loadStack(root, stack, plans);
        const sim = simulateStack(config, { days, root, params: { timeseries: true } });
        const cost = staticCost(config, natGatewayCount(config));
        return { stack, config, sim, floorUsdPerMonth: cost.floorUsdPerMonth, ceilingUsdPerMonth: cost.ceilingUsdPerMonth };
    });
}

/** --shared: the platform's teams alone and together; writes compare.md and compare.json. */
function mainShared(args: Args & { shared: string }): void {
    const c = compareShared(args.shared, args.stacks, { days: args.days, root: ROOT, load: (s) => loadStack(ROOT, s, args.plans) });
    fs.mkdirSync(args.out, { recursive: true });
    fs.writeFileSync(path.join(args.out, COMPARE_JSON), JSON.stringify(compareJson(c), null, 2) + "\n");
    fs.writeFileSync(
        path.join(args.out, COMPARE_FILE),
        `# Teams of platform '${c.platform}'\n\n${renderShared(c, true)}\n\nThe rule that splits the shared pools and the floor: docs/billing.md.\n`,
    );
    const dir = path.relative(process.cwd(), args.out) || ".";
    process.stdout.write(`${renderShared(c, args.markdown)}\n\nwrote ${path.join(dir, COMPARE_FILE)}, ${path.join(dir, COMPARE_JSON)}\n`);
}

function main(argv: string[]): void {
    const args = parseArgs(argv);
    if (args.shared !== undefined) return mainShared({ ...args, shared: args.shared });
    const columns = compareColumns(ROOT, args.stacks, args.days, args.plans);
    fs.mkdirSync(args.out, { recursive: true });
    const print: string[] = [];
    const written: string[] = [];
    const removed: string[] = [];
    const footer =
        "Expected figures come from a discrete-event simulation of the gateway, vLLM workers, KEDA, the HPA, the Cluster Autoscaler and node provisioning (capacity/sim), normalized to a 730-hour month. Floor and ceiling are the static bounds (capacity/cost.ts). Every default and its source: stacks/model/params.ts, capacity/sim/service.ts, capacity/traffic/.";
    // Each report has its own file: the stack comparison (compare.md and its charts) and the
    // reference comparison (reference-classroom.md) never overwrite each other.
    if (columns.length > 0) {
        // Charts an earlier comparison wrote (its compare.md names them) of stacks not compared now.
        for (const f of staleCharts(
            args.out,
            columns.map((c) => `${c.stack}.svg`),
        )) {
            fs.rmSync(path.join(args.out, f));
            removed.push(f);
        }
        const md: string[] = ["# Stack comparison", ""];
        const headers = columns.map((c) => c.stack);
        const rows = comparisonRows(columns);
        print.push(args.markdown ? renderMarkdown(headers, rows) : renderTerminal(headers, rows));
        md.push(renderMarkdown(headers, rows), "");
        for (const c of columns) {
            fs.writeFileSync(path.join(args.out, `${c.stack}.svg`), stackChart(`${c.stack}: load, queue, replicas and latency`, c.sim.input, c.sim.result));
            md.push(`![${c.stack}](${c.stack}.svg)`, "");
            written.push(`${c.stack}.svg`);
        }
        md.push(footer, "");
        fs.writeFileSync(path.join(args.out, COMPARE_FILE), md.join("\n"));
        written.unshift(COMPARE_FILE);
    }
    if (args.reference) {
        const c = classroomComparison({ days: args.days });
        const t = classroomTable(c);
        const title = `Classroom profile, one A10G on-demand pool (g5.xlarge, max 8), MedGemma 1.5 4B, ${c.days} days simulated, ${c.requestsPerMonth.toLocaleString("en-US")} requests/month`;
        print.push(...(print.length > 0 ? [""] : []), title, args.markdown ? renderMarkdown(t.headers, t.rows) : renderTerminal(t.headers, t.rows));
        fs.writeFileSync(path.join(args.out, REFERENCE_FILE), [`# ${title}`, "", renderMarkdown(t.headers, t.rows), "", footer, ""].join("\n"));
        written.push(REFERENCE_FILE);
    }
    if (args.targets) {
        const results = measureTargets(loadStack(ROOT, "dev"));
        const report = targetsReport(results, args.markdown);
        print.push(...(print.length > 0 ? [""] : []), report.text);
        fs.writeFileSync(path.join(args.out, TARGETS_FILE), report.markdown);
        written.push(TARGETS_FILE);
    }
    const dir = path.relative(process.cwd(), args.out) || ".";
    const gone = removed.length > 0 ? `; removed ${removed.map((f) => path.join(dir, f)).join(", ")} (charts of an earlier comparison)` : "";
    process.stdout.write(print.join("\n") + `\n\nwrote ${written.map((f) => path.join(dir, f)).join(", ")}${gone}\n`);
}

/** The charts the previous compare.md in `out` links to, other than `keep`, that still exist (only files compare wrote). */
export function staleCharts(out: string, keep: readonly string[]): string[] {
    const report = path.join(out, COMPARE_FILE);
    if (!fs.existsSync(report)) return [];
    const linked = [...fs.readFileSync(report, "utf8").matchAll(/\]\(([^()/\\]+\.svg)\)/g)].map((m) => m[1]);
    return [...new Set(linked)].filter((f) => !keep.includes(f) && fs.existsSync(path.join(out, f)));
}

if (require.main === module) {
    try {
        main(process.argv.slice(2));
    } catch (e) {
        if (e instanceof UsageError) {
            process.stderr.write(`error: ${e.message}\n${USAGE}\n`);
            process.exit(1);
        }
        const argv = process.argv.slice(2);
        const stack = e instanceof StackConfigError ? e.stackName : undefined;
        const file = stack ? stackFilePath(ROOT, stack) : undefined;
        const stackFile = file && fs.existsSync(file) ? { file, text: fs.readFileSync(file, "utf8"), project: PROJECT } : undefined;
        process.stderr.write(`${formatCliError(e instanceof StackConfigError ? e.cause : e, { debug: argv.includes("--debug"), stackFile })}\n`);
        process.exit(1);
    }
}
