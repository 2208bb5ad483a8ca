/**
 * npm run bench: runs every scripts/bench/*.bench.ts in turn and prints their numbers.
 * Benchmarks print measurements; they assert nothing (tests do that).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const dir = __dirname;
const only = process.argv.slice(2);
const benches = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".bench.ts"))
    .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
    .sort();
if (benches.length === 0) {
    console.error(`no benchmarks${only.length ? ` matching ${only.join(", ")}` : ""} in ${dir}`);
    process.exit(1);
}
let failed = 0;
for (const b of benches) {
    console.log(`\n=== ${b}`);
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(dir, b)], { stdio: "inherit" });
    if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
