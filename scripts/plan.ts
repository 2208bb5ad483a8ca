/**
 * npm run plan -- --stack <name> [--out <dir>]
 * Renders the stack offline (see scripts/engine/plan.ts). Exit 1 on bad config, nothing written.
 */
import * as path from "path";
import { ConfigError } from "../stacks/errors";
import { planStack, summarize, writePlan } from "./engine/plan";

function usage(message: string): never {
    process.stderr.write(`${message}\nusage: npm run plan -- --stack <name> [--out <dir>] [--dir <folder with Pulumi.<name>.yaml>]\n`);
    process.exit(2);
}

async function main(argv: string[]): Promise<void> {
    let stack: string | undefined;
    let out: string | undefined;
    let dir: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--stack" || a === "-s") stack = argv[++i];
        else if (a.startsWith("--stack=")) stack = a.slice(8);
        else if (a === "--out" || a === "-o") out = argv[++i];
        else if (a.startsWith("--out=")) out = a.slice(6);
        else if (a === "--dir") dir = argv[++i];
        else usage(`unknown argument '${a}'`);
    }
    if (!stack) usage("--stack is required");
    const root = path.resolve(__dirname, "..");
    const stackDir = path.resolve(dir ?? root);
    const outDir = path.resolve(out ?? path.join(root, "plan", stack));
    try {
        const result = await planStack(stackDir, stack);
        writePlan(result, outDir);
        process.stdout.write(summarize(result, path.relative(process.cwd(), outDir) || ".") + "\n");
    } catch (e) {
        const err = e instanceof ConfigError ? e : (e as Error);
        process.stderr.write(`error: ${err instanceof ConfigError ? err.message : err.stack ?? err.message}\n`);
        process.exit(1);
    }
}

void main(process.argv.slice(2));
