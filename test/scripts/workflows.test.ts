import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { ROOT } from "../helpers/program";

const DIR = path.join(ROOT, ".github", "workflows");
const VALIDATOR = path.join(ROOT, "node_modules", "@action-validator", "cli", "cli.mjs");
const load = (f: string) => parse(fs.readFileSync(path.join(DIR, f), "utf8"));

describe("GitHub workflows", () => {
    const files = fs.readdirSync(DIR).filter((f) => f.endsWith(".yml"));

    it("all pass the workflow schema validator", () => {
        assert.deepStrictEqual(files.sort(), ["ci.yml", "deploy.yml", "plan-comment.yml", "plan.yml", "preview.yml"]);
        for (const f of files) {
            const r = spawnSync(process.execPath, [VALIDATOR, path.join(DIR, f)], { encoding: "utf8" });
            assert.strictEqual(r.status, 0, `${f}: ${r.stdout}${r.stderr}`);
        }
    });

    it("the validator rejects a broken workflow (the check can fail)", () => {
        const bad = path.join(fs.mkdtempSync(path.join(require("os").tmpdir(), "wf-")), "bad.yml");
        fs.writeFileSync(bad, "name: bad\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n");
        assert.notStrictEqual(spawnSync(process.execPath, [VALIDATOR, bad], { encoding: "utf8" }).status, 0);
    });

    it("runs the README's test command on every push and pull request", () => {
        const ci = load("ci.yml");
        assert.ok("push" in ci.on && "pull_request" in ci.on);
        assert.ok(ci.jobs.test.steps.some((s: any) => s.run === "bash .ci/run"));
        assert.match(fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8"), /npm test/);
    });

    it("plans base and head without secrets, and comments from a separate workflow that never runs PR code", () => {
        const plan = load("plan.yml");
        assert.deepStrictEqual(plan.permissions, { contents: "read" });
        assert.ok(!JSON.stringify(plan).includes("secrets."));
        const runs = plan.jobs.plan.steps.map((s: any) => s.run ?? "").join("\n");
        assert.match(runs, /npm run --silent plan -- --stack/);
        assert.match(runs, /npm run --silent plan:diff --/);
        const comment = load("plan-comment.yml");
        assert.deepStrictEqual(comment.on.workflow_run.workflows, ["plan"]);
        assert.ok(!comment.jobs.comment.steps.some((s: any) => String(s.uses ?? "").startsWith("actions/checkout")), "the commenting workflow must not check out PR code");
    });

    it("previews with pulumi/actions v7 through OIDC, only for same-repo PRs, skipping cleanly without secrets", () => {
        const p = load("preview.yml");
        assert.strictEqual(p.permissions["id-token"], "write");
        assert.match(p.jobs.preview.if, /head\.repo\.full_name == github\.repository/);
        const steps = p.jobs.preview.steps;
        const pulumiStep = steps.find((s: any) => String(s.uses).startsWith("pulumi/actions@"));
        assert.strictEqual(pulumiStep.uses, "pulumi/actions@v7");
        assert.strictEqual(pulumiStep.with["comment-on-pr"], true);
        assert.strictEqual(pulumiStep.with.policyPacks, "policy");
        assert.ok(steps.some((s: any) => String(s.uses).startsWith("aws-actions/configure-aws-credentials") && s.with["role-to-assume"]));
        assert.ok(!JSON.stringify(p).match(/aws-access-key-id|AWS_SECRET_ACCESS_KEY/), "no long-lived AWS keys");
        assert.ok(steps.some((s: any) => /::notice::/.test(s.run ?? "")));
    });

    it("deploys dev on main and prod on a tag behind the production environment, opt-in per repository", () => {
        const d = load("deploy.yml");
        assert.strictEqual(d.jobs.prod.environment, "production");
        assert.match(d.jobs.prod.if, /refs\/tags\/v/);
        assert.match(d.jobs.dev.if, /refs\/heads\/main/);
        for (const job of ["dev", "prod"]) assert.match(d.jobs[job].if, /vars\.GPUSERVE_DEPLOY == 'true'/);
    });
});
