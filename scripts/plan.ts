/**
 * npm run plan -- --stack <name> [--out <dir>]
 * Renders the stack offline (see scripts/engine/plan.ts). Exit 1 on bad config, nothing written;
 * errors name file:line:col and a fix, with no stack trace unless --debug.
 */
import * as path from "path";
import * as fs from "fs";
import { PROJECT } from "../stacks/schema";
import { formatCliError } from "./engine/cliErrors";
import { listStacks, readStackFile, stackFilePath } from "./engine/stackFile";
import { ensurePlatformPlan } from "./engine/platformPlan";
import type { PlannedBill } from "../capacity/bill/sharedMonth";

const USAGE = `usage: npm run plan -- --stack <name> [--out <dir>] [--dir <folder with Pulumi.<name>.yaml>] [--plans <dir>] [--debug]
  Renders the stack offline under Pulumi's mock engine (no cloud): every Kubernetes object, every
  resource with its inputs, the cost estimate, and a summary.
  --stack, -s <name>  the stack file Pulumi.<name>.yaml (stacks here: ${listStacks(path.resolve(__dirname, "..")).join(", ") || "none"})
  --out, -o <dir>     where to write (default plan/<name>/)
  --dir <folder>      where Pulumi.<name>.yaml is (default: the project root)
  --plans <dir>       where a team stack finds its platform's plan, <dir>/<platform>/outputs.json (default plan/;
                      the platform is planned there first when missing)
  --debug             stack traces on errors
  --help, -h          this text`;

function usage(message: string): never {
    process.stderr.write(`${message}\n${USAGE}\n`);
    process.exit(2);
}

async function main(argv: string[]): Promise<void> {
    let stack: string | undefined;
    let out: string | undefined;
    let dir: string | undefined;
    let debug = false;
    let plansArg: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--stack" || a === "-s") stack = argv[++i];
        else if (a.startsWith("--stack=")) stack = a.slice(8);
        else if (a === "--out" || a === "-o") out = argv[++i];
        else if (a.startsWith("--out=")) out = a.slice(6);
        else if (a === "--dir") dir = argv[++i];
        else if (a === "--plans") plansArg = argv[++i];
        else if (a === "--debug") debug = true;
        else if (a === "--help" || a === "-h") {
            process.stdout.write(`${USAGE}\n`);
            process.exit(0);
        } else if (!a.startsWith("-") && stack === undefined) usage(`unknown argument '${a}': did you mean --stack ${a}?`);
        else usage(`unknown argument '${a}'`);
    }
    if (!stack) usage("--stack is required");
    const root = path.resolve(__dirname, "..");
    const stackDir = path.resolve(dir ?? root);
    /** Where plans live: a team's platform plan is <plans>/<platform>/. */
    const plans = path.resolve(plansArg ?? path.join(root, "plan"));
    const outDir = path.resolve(out ?? path.join(plans, stack));
    try {
        readStackFile(stackDir, stack, PROJECT); // a missing or broken file fails before the program loads (seconds)
        // A team stack reads its platform's plan: plan the platform first when its plan is missing.
        const platform = ensurePlatformPlan(stackDir, stack, plans, (line) => process.stdout.write(`${line}\n`));
        const { planStack, summarize, writePlan } = await import("./engine/plan.js");
        const result = await planStack(stackDir, stack, platform ? { platform } : {});
        // A team on a platform: its month as its platform's gateways will bill it (scripts/engine/sharedCompare.ts).
        const bill = platform ? await teamBill(stackDir, stack, plans) : undefined;
        writePlan(bill ? { ...result, cost: { ...result.cost, bill } } : result, outDir);
        process.stdout.write(summarize(result, path.relative(process.cwd(), outDir) || ".") + "\n" + (bill ? billSummary(bill) + "\n" : ""));
    } catch (e) {
        const file = stackFilePath(stackDir, stack);
        const stackFile = fs.existsSync(file) ? { file, text: fs.readFileSync(file, "utf8"), project: PROJECT } : undefined;
        process.stderr.write(`${formatCliError(e, { debug, stackFile })}\n`);
        process.exit(1);
    }
}

async function teamBill(stackDir: string, stack: string, plans: string) {
    const { DEFAULT_SIMULATED_DAYS } = await import("../capacity/sim/index.js");
    const { loadStack } = await import("./compare.js");
    const { plannedBill } = await import("./engine/sharedCompare.js");
    const { listStacks } = await import("./engine/stackFile.js");
    const load = (s: string) => loadStack(stackDir, s, plans);
    return plannedBill(stack, load(stack), { days: DEFAULT_SIMULATED_DAYS, root: stackDir, load, stacksHere: listStacks(stackDir) });
}

function billSummary(b: PlannedBill): string {
    const usd = (n: number) => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
    return [
        `  bill on platform '${b.platform}' (${b.days} simulated days, the gateway's attribution rule, docs/billing.md): ${usd(b.usdPerMonth)}/month`,
        `    own GPU time (and its weights bucket) ${usd(b.ownGpuUsdPerMonth)} + share of shared pools ${usd(b.sharedPoolsUsdPerMonth)} + share of the floor ${usd(b.floorShareUsdPerMonth)} (of ${usd(b.floorUsdPerMonth)}, ${b.floorSplit === "equal" ? "equal parts" : "by GPU spend"} among ${b.teams.join(", ")})`,
        ...b.notes.map((n) => `    note: ${n}`),
        `    all the teams side by side, alone and together: npm run compare -- --shared ${b.platform} ${b.teams.join(" ")}`,
    ].join("\n");
}

void main(process.argv.slice(2));
