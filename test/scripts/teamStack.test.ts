/**
 * The README's team-stack steps (copy Pulumi.dev.yaml to Pulumi.<team>.yaml in the project
 * root) must never turn the suite red: with such a file in the root, the plan and compare
 * CLIs list it and plan it, and no test depends on the stack list being exactly dev, prod.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "../helpers/program";

const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");

describe("a team stack file in the project root (README: team stacks)", function () {
    this.timeout(60000);
    const file = path.join(ROOT, "Pulumi.cardiology.yaml");
    let created = false;
    before(() => {
        if (fs.existsSync(file)) return; // a user's own file: leave it alone
        fs.writeFileSync(file, fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8").replace("team: platform", "team: cardiology"));
        created = true;
    });
    after(() => {
        if (created) fs.rmSync(file, { force: true });
    });

    it("is listed next to the committed stacks (dev, prod, the lab platform and its teams) when a stack name is wrong (plan and compare)", () => {
        const p = spawnSync(tsx, ["scripts/plan.ts", "--stack", "nope", "--out", path.join(os.tmpdir(), "gpuserve-nope")], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(p.status, 1);
        assert.match(p.stderr, /stacks here: biology, cardiology, chemistry, dev, lab, physics, prod/);
        const c = spawnSync(tsx, ["scripts/compare.ts", "nope"], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(c.status, 1);
        assert.match(c.stderr, /Known stacks: biology, cardiology, chemistry, dev, lab, physics, prod/);
    });
});
