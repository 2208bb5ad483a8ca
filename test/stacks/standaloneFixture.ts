/**
 * The standalone fixtures (test/fixtures/standalone/<stack>.json): each resource of a plan as
 * `type::name <- parent`. Run as a script to regenerate them after a deliberate change:
 *   npx tsx test/stacks/standaloneFixture.ts
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface PlannedResource {
    readonly type: string;
    readonly name: string;
    readonly parent?: string | null;
}

export function urnsOf(resources: readonly PlannedResource[]): string[] {
    return resources.map((r) => `${r.type}::${r.name}${r.parent ? ` <- ${r.parent}` : ""}`).sort();
}

/** Runs the plan CLI in its own process (resource names carry the stack name, as in a real `pulumi up`). */
export function planResources(root: string, stack: string, out: string): PlannedResource[] {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "scripts", "plan.ts"), "--stack", stack, "--out", out], {
        cwd: root,
        encoding: "utf8",
        timeout: 90_000,
    });
    if (r.status !== 0) throw new Error(`npm run plan -- --stack ${stack} failed:\n${r.stderr}`);
    return JSON.parse(fs.readFileSync(path.join(out, "resources.json"), "utf8"));
}

if (require.main === module) {
    const root = path.resolve(__dirname, "..", "..");
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gpuserve-fixture-"));
    for (const stack of ["dev", "prod"]) {
        const urns = urnsOf(planResources(root, stack, path.join(tmp, stack)));
        fs.writeFileSync(path.join(root, "test", "fixtures", "standalone", `${stack}.json`), JSON.stringify(urns, null, 1) + "\n");
    }
    fs.rmSync(tmp, { recursive: true, force: true });
}
