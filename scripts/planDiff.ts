/**
 * npm run plan:diff -- <base plan dir> <head plan dir> [--out <file.md>]
 * Prints (or writes) the Markdown diff of two offline plans; used by the PR comment.
 */
import * as fs from "fs";
import { diffPlanDirs, renderMarkdown } from "./engine/planDiff";

const args = process.argv.slice(2);
const outIndex = args.indexOf("--out");
const out = outIndex >= 0 ? args.splice(outIndex, 2)[1] : undefined;
if (args.length !== 2) {
    process.stderr.write("usage: npm run plan:diff -- <base plan dir> <head plan dir> [--out <file.md>]\n");
    process.exit(2);
}
try {
    const { stacks, teams } = diffPlanDirs(args[0], args[1]);
    const markdown = renderMarkdown(stacks, teams);
    if (out) fs.writeFileSync(out, markdown);
    else process.stdout.write(markdown);
} catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(1);
}
