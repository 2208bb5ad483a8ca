/**
 * npm run docs:config [-- --check]
 * Rewrites the generated block of docs/config.md (the key table and the catalogs) from
 * stacks/schema.ts and stacks/catalog/ (scripts/engine/configReference.ts). --check writes
 * nothing and exits 1 when the file is out of date (CI; test/scripts/docsConfig.test.ts).
 */
import * as fs from "fs";
import * as path from "path";
import { CONFIG_DOC, ConfigReferenceError, REGENERATE, generatedBlock, withGeneratedBlock } from "./engine/configReference";

const USAGE = `usage: ${REGENERATE} [-- --check]
  writes the generated block of docs/config.md from stacks/schema.ts (JSDoc comments, zod defaults) and stacks/catalog/
  --check   write nothing; exit 1 if docs/config.md is out of date`;

function main(argv: string[]): number {
    if (argv.includes("--help") || argv.includes("-h")) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    const unknown = argv.filter((a) => a !== "--check");
    if (unknown.length) {
        process.stderr.write(`unknown argument '${unknown[0]}'\n${USAGE}\n`);
        return 2;
    }
    const check = argv.includes("--check");
    const rel = path.relative(process.cwd(), CONFIG_DOC) || CONFIG_DOC;
    let block: string;
    try {
        block = generatedBlock();
    } catch (e) {
        if (e instanceof ConfigReferenceError) {
            process.stderr.write(`error: ${e.message}\n`);
            return 1;
        }
        throw e;
    }
    const before = fs.readFileSync(CONFIG_DOC, "utf8");
    const after = withGeneratedBlock(before, block);
    if (check) {
        if (before === after) return 0;
        process.stderr.write(`${rel} is out of date with stacks/schema.ts or stacks/catalog/. Fix: run ${REGENERATE} and commit the result\n`);
        return 1;
    }
    if (before !== after) fs.writeFileSync(CONFIG_DOC, after);
    process.stdout.write(`${rel}: ${before === after ? "already up to date" : "written"}\n`);
    return 0;
}

process.exitCode = main(process.argv.slice(2));
