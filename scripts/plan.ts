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

const USAGE = `usage: npm run plan -- --stack <name> [--out <dir>] [--dir <folder with Pulumi.<name>.yaml>] [--debug]
  Renders the stack offline under Pulumi's mock engine (no cloud): every Kubernetes object, every
  resource with its inputs, the cost estimate, and a summary.
  --stack, -s <name>  the stack file Pulumi.<name>.yaml (stacks here: ${listStacks(path.resolve(__dirname, "..")).join(", ") || "none"})
  --out, -o <dir>     where to write (default plan/<name>/)
  --dir <folder>      where Pulumi.<name>.yaml is (default: the project root)
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
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--stack" || a === "-s") stack = argv[++i];
        else if (a.startsWith("--stack=")) stack = a.slice(8);
        else if (a === "--out" || a === "-o") out = argv[++i];
        else if (a.startsWith("--out=")) out = a.slice(6);
        else if (a === "--dir") dir = argv[++i];
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
    const outDir = path.resolve(out ?? path.join(root, "plan", stack));
    try {
        readStackFile(stackDir, stack, PROJECT); // a missing or broken file fails before the program loads (seconds)
        const { planStack, summarize, writePlan } = await import("./engine/plan.js");
        const result = await planStack(stackDir, stack);
        writePlan(result, outDir);
        process.stdout.write(summarize(result, path.relative(process.cwd(), outDir) || ".") + "\n");
    } catch (e) {
        const file = stackFilePath(stackDir, stack);
        const stackFile = fs.existsSync(file) ? { file, text: fs.readFileSync(file, "utf8"), project: PROJECT } : undefined;
        process.stderr.write(`${formatCliError(e, { debug, stackFile })}\n`);
        process.exit(1);
    }
}

void main(process.argv.slice(2));
