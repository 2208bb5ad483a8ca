import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { changedPaths } from "../../scripts/engine/planDiff";
import { planStack, writePlan } from "../../scripts/engine/plan";
import { ROOT } from "../helpers/program";
import { tempDir } from "../helpers/tmp";

describe("npm run plan:diff", () => {
    const tmp = tempDir("gpuserve-diff-");
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    /** Plans Pulumi.dev.yaml as given (base) or edited (head), as a stack named dev. */
    async function planDev(side: string, edit: (yaml: string) => string): Promise<string> {
        const dir = path.join(tmp, `${side}-src`);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), edit(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")));
        const out = path.join(tmp, side, "dev");
        writePlan(await planStack(dir, "dev"), out);
        return path.join(tmp, side);
    }

    it("names the changed objects and the cost delta between two real plans", async () => {
        const base = await planDev("base", (y) => y);
        // Head: a bigger GPU pool (ceiling up), a longer context (worker args), more replicas (ScaledObject).
        const head = await planDev("head", (y) =>
            y
                .replace("maxNodes: 2", "maxNodes: 4")
                .replace("maxReplicas: 2", "maxReplicas: 4")
                .replace("      scaling:", "      maxModelLen: 8192\n      scaling:"),
        );
        const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "planDiff.ts"), base, head], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(r.status, 0, r.stderr);
        const md = r.stdout;
        assert.match(md, /^<!-- gpuserve-plan-diff -->\n## Offline plan: 1 stack, \d+ changes/);
        assert.match(md, /### dev: 0 added, \d+ changed, 0 removed/);
        assert.match(
            md,
            /\| ✏️ changed \| `Deployment serving\/worker-qwen3-vl-2b` \| `spec\.template\.spec\.containers\[0\]\.args\[\d+\]`(, `spec\.template\.spec\.initContainers\[\d\]\.env\[\d\]\.value`)* \|/,
        ); // the compile-cache key follows the vLLM arguments
        assert.match(md, /\| ✏️ changed \| `ScaledObject serving\/worker-qwen3-vl-2b` \| `spec\.maxReplicaCount` \|/);
        assert.match(md, /\| ✏️ changed \| `NodeGroup gpuserve-test-gpu-a10g-ng` \| `scalingConfig\.maxSize` \|/);
        // Ceiling grows by two g5.xlarge spot nodes (2 x 1.006 x 0.4 x 730 = 587.50) and their 400 MiB/s volumes
        // (2 x 275 MiB/s x $0.04 = 22.00), each side rounded to cents.
        // Plus the cold-start caches at rest (capacity/cacheCost.ts): S3 weights + compile cache, the image snapshot.
        const caches = (4.3 * 1.073741824 + 0.5) * 0.023 + 35 * 0.05;
        // System nodes: two c6i.large at the floor, four (the derived maxSize) at the ceiling (test/scripts/plan.test.ts).
        const ceiling = (gpuNodes: number) =>
            Math.round((730 * (0.1 + 0.045 + 0.0225 + 4 * 0.085 + gpuNodes * 1.006 * 0.4) + gpuNodes * 275 * 0.04 + caches) * 100) / 100;
        const floor = Math.round((730 * (0.1 + 0.045 + 0.0225 + 2 * 0.085) + caches) * 100) / 100;
        const money = (n: number) => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2 })}`;
        const pct = (((ceiling(4) - ceiling(2)) / ceiling(2)) * 100).toFixed(1);
        const line = `| ceiling | ${money(ceiling(2))} | ${money(ceiling(4))} | +${money(Math.round((ceiling(4) - ceiling(2)) * 100) / 100)} (+${pct} %) |`;
        assert.ok(md.includes(line), `missing ${line}`);
        assert.ok(md.includes(`| floor | ${money(floor)} | ${money(floor)} | 0 |`), `missing floor ${money(floor)}`);
        // (The gateway's config follows maxReplicas: a warm-up may ask for up to the pool's max, pools[].maxWarmupReplicas.)
        assert.ok(!md.includes("Deployment serving/ui"), "unchanged objects must not be listed");
    });

    it("reports added and removed stacks, and no changes for identical plans", () => {
        const base = path.join(tmp, "base");
        const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "planDiff.ts"), base, base], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stdout, /### dev: 0 added, 0 changed, 0 removed/);
        assert.match(r.stdout, /No resource changes\./);
        const empty = fs.mkdtempSync(path.join(tmp, "empty-"));
        const r2 = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "planDiff.ts"), empty, base], { cwd: ROOT, encoding: "utf8" });
        assert.match(r2.stdout, /### dev\n\nNew stack in this pull request\./);
    });

    it("shows the cost change per team, with the head's parts, for every team a plan bills", () => {
        const plan = (side: string, stack: string, bill: Record<string, unknown> | undefined) => {
            const dir = path.join(tmp, `teams-${side}`, stack);
            fs.mkdirSync(dir, { recursive: true });
            fs.writeFileSync(path.join(dir, "resources.json"), "[]");
            fs.writeFileSync(
                path.join(dir, "cost.json"),
                JSON.stringify({ floorUsdPerMonth: 10, ceilingUsdPerMonth: 20, expected: { usdPerMonth: 15 }, ...(bill ? { bill } : {}) }),
            );
        };
        const bill = (team: string, usd: number, own: number, shared: number, floor: number) => ({
            team,
            usdPerMonth: usd,
            ownGpuUsdPerMonth: own,
            sharedPoolsUsdPerMonth: shared,
            floorShareUsdPerMonth: floor,
        });
        plan("base", "lab", undefined);
        plan("base", "biology", bill("biology", 120, 40, 0, 80));
        plan("base", "physics", bill("physics", 100, 0, 20, 80));
        plan("head", "lab", undefined);
        plan("head", "biology", bill("biology", 100, 40, 0, 60));
        plan("head", "physics", bill("physics", 95.5, 0, 35.5, 60));
        plan("head", "chemistry", bill("chemistry", 150, 90, 0, 60));
        const r = spawnSync(
            process.execPath,
            ["--import", "tsx", path.join(ROOT, "scripts", "planDiff.ts"), path.join(tmp, "teams-base"), path.join(tmp, "teams-head")],
            { cwd: ROOT, encoding: "utf8" },
        );
        assert.strictEqual(r.status, 0, r.stderr);
        const rows = r.stdout.split("\n").filter((l) => /^\| (biology|chemistry|physics) \|/.test(l));
        assert.deepStrictEqual(rows, [
            "| biology | $120.00 | $100.00 | -$20.00 (-16.7 %) | $40.00 | $0.00 | $60.00 |",
            "| chemistry | n/a | $150.00 | n/a | $90.00 | $0.00 | $60.00 |",
            "| physics | $100.00 | $95.50 | -$4.50 (-4.5 %) | $0.00 | $35.50 | $60.00 |",
        ]);
        assert.ok(r.stdout.indexOf("### Cost per team (USD/month)") < r.stdout.indexOf("### biology"), "the team table comes first");
    });

    it("changedPaths lists the leaf paths that differ", () => {
        assert.deepStrictEqual(changedPaths({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { b: 2, c: [1, 3] }, d: 1 }), ["a.b", "a.c[1]"]);
        assert.deepStrictEqual(changedPaths({ a: [1] }, { a: [1, 2] }), ["a"]);
        assert.deepStrictEqual(changedPaths({ a: 1 }, { a: 1 }), []);
    });
});
