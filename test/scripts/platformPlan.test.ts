/**
 * Platform and team stacks through the CLIs, offline (issue 25 point 2): a team's plan reads its
 * platform's plan (planning it first when it is missing) and says which; an unknown platform, a
 * quota the platform cannot hold and a stale platform plan exit 1 with the fix; compare takes teams.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../helpers/program";
import { tempDir } from "../helpers/tmp";

const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
const cli = (script: string, args: string[]) =>
    spawnSync(tsx, [path.join(ROOT, "scripts", script), ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });

describe("platform and team stacks, offline (npm run plan, npm run compare)", function () {
    this.timeout(240_000);
    const tmp = tempDir("gpuserve-teams-");
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));
    /** A folder of stack files: the lab platform and its teams, optionally edited. */
    const stacks = (edit: (name: string, text: string) => string = (_n, t) => t) => {
        const dir = fs.mkdtempSync(path.join(tmp, "stacks-"));
        for (const s of ["lab", "biology", "chemistry", "physics"])
            fs.writeFileSync(path.join(dir, `Pulumi.${s}.yaml`), edit(s, fs.readFileSync(path.join(ROOT, `Pulumi.${s}.yaml`), "utf8")));
        return dir;
    };

    it("plans a team's platform first when its plan is missing, then the team against it, and says which platform it used", () => {
        const dir = stacks();
        const plans = path.join(dir, "plan");
        const r = cli("plan.ts", ["--stack", "biology", "--dir", dir, "--plans", plans]);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stdout, /platform 'lab' has no plan yet \(.*lab\/outputs\.json\): planning it first/);
        assert.match(r.stdout, /Offline plan of stack 'lab'/);
        assert.match(r.stdout, /Offline plan of stack 'biology'.*\n {2}platform: 'lab', outputs from .*lab\/outputs\.json/);
        const outputs = JSON.parse(fs.readFileSync(path.join(plans, "lab", "outputs.json"), "utf8"));
        assert.deepStrictEqual(Object.keys(outputs.platform.teams), ["biology", "chemistry", "physics"]);
        assert.ok(!fs.existsSync(path.join(plans, "biology", "outputs.json")), "a team's plan writes no platform outputs");
        // The second team finds the platform's plan and does not plan it again.
        const again = cli("plan.ts", ["--stack", "physics", "--dir", dir, "--plans", plans]);
        assert.strictEqual(again.status, 0, again.stderr);
        assert.doesNotMatch(again.stdout, /planning it first/);
    });

    it("exits 1 naming an unknown platform and the stacks there", () => {
        const dir = stacks((n, t) => (n === "biology" ? t.replace("acme/gpuserve/lab", "acme/gpuserve/labs") : t));
        const r = cli("plan.ts", ["--stack", "biology", "--dir", dir, "--plans", path.join(dir, "plan")]);
        assert.strictEqual(r.status, 1);
        assert.match(
            r.stderr,
            /gpuserve:platformStack: unknown platform 'labs' \(acme\/gpuserve\/labs\): there is no Pulumi\.labs\.yaml here \(stacks: biology, chemistry, lab, physics\)/,
        );
        assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    });

    it("exits 1 when the teams' quotas do not fit the platform's node groups, and a team planned against it cannot start", () => {
        const dir = stacks((n, t) => (n === "lab" ? t.replace("gpus: { l40s: 1 }", "gpus: { l40s: 1, a10g: 1 }") : t));
        const plans = path.join(dir, "plan");
        const r = cli("plan.ts", ["--stack", "lab", "--dir", dir, "--plans", plans]);
        assert.strictEqual(r.status, 1);
        assert.match(
            r.stderr,
            /Pulumi\.lab\.yaml:\d+:\d+: gpuserve:teams: the teams' a10g quotas and shared pools \(biology 2, chemistry 1\) add up to 3 GPUs, but the platform's a10g node groups hold 2/,
        );
        assert.ok(!fs.existsSync(path.join(plans, "lab", "outputs.json")), "nothing written");
        const team = cli("plan.ts", ["--stack", "chemistry", "--dir", dir, "--plans", plans]);
        assert.strictEqual(team.status, 1);
        assert.match(team.stderr, /the platform 'lab' did not plan/);
    });

    it("exits 1 on a platform plan of another outputs version, saying to plan the platform again", () => {
        const dir = stacks();
        const plans = path.join(dir, "plan");
        fs.mkdirSync(path.join(plans, "lab"), { recursive: true });
        fs.writeFileSync(path.join(plans, "lab", "outputs.json"), JSON.stringify({ platform: { version: 0 } }));
        const r = cli("plan.ts", ["--stack", "biology", "--dir", dir, "--plans", plans]);
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /gpuserve:platformStack: platform 'lab' \(.*outputs\.json\): its outputs are version 0, this program reads version 1/);
    });

    it("compares team stacks, read against their platform's plan (planned first)", () => {
        const out = path.join(tmp, "compare");
        const plans = path.join(tmp, "compare-plans");
        const r = cli("compare.ts", ["biology", "physics", "--days", "2", "--out", out, "--plans", plans]);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stderr, /platform 'lab' has no plan yet .*: planning it first/);
        assert.match(r.stdout, /\| biology +\| physics/);
        assert.match(r.stdout, /GPU pools +\| a10g: a10g g5\.xlarge spot, 0-2 nodes +\| l4: l4 g6\.xlarge spot, 0-2 nodes/);
        assert.ok(fs.existsSync(path.join(out, "biology.svg")) && fs.existsSync(path.join(plans, "lab", "outputs.json")));
    });
});
