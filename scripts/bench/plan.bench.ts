/**
 * `npm run plan` timing, the whole CLI as a user runs it (tsx start-up, the program under the
 * mock engine, the simulated week, writing manifests): dev and prod, best of 3. The budget is
 * 15 s on a 2-core machine; the plan test checks what the plan writes, not how fast.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");
const out = fs.mkdtempSync(path.join(os.tmpdir(), "gpuserve-plan-bench-"));
try {
    for (const stack of ["dev", "prod"]) {
        const runs = [0, 1, 2].map(() => {
            const t0 = process.hrtime.bigint();
            const r = spawnSync(
                process.execPath,
                ["--import", "tsx", path.join(ROOT, "scripts", "plan.ts"), "--stack", stack, "--out", path.join(out, stack)],
                { cwd: ROOT, encoding: "utf8" },
            );
            if (r.status !== 0) throw new Error(`plan --stack ${stack} exited ${r.status}: ${r.stderr}`);
            return Number(process.hrtime.bigint() - t0) / 1e9;
        });
        console.log(
            `npm run plan -- --stack ${stack}: ${Math.min(...runs).toFixed(2)} s (best of 3; ${runs.map((s) => s.toFixed(2)).join(", ")} s; budget 15 s)`,
        );
    }
} finally {
    fs.rmSync(out, { recursive: true, force: true });
}
