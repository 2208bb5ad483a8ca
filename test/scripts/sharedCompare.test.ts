/**
 * `npm run compare -- --shared lab biology chemistry physics` (scripts/engine/sharedCompare.ts) on
 * the example platform and its three teams: both arrangements printed and written as compare.json in
 * design.md's shape, the team figures adding up to the totals, and a team's plan billing it exactly
 * as compare does.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../helpers/program";
import { tempDir } from "../helpers/tmp";

const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
const TEAMS = ["biology", "chemistry", "physics"];
const cents = (n: number) => Math.round(n * 100);

describe("npm run compare -- --shared (the lab platform and its three teams)", function () {
    this.timeout(180_000);
    const out = tempDir("gpuserve-shared-");
    // The platform's plan (outputs.json) the teams read: planned once, here, by the first command.
    const plans = tempDir("gpuserve-shared-plans-");
    let stdout = "";

    let json: any;

    before(() => {
        const r = spawnSync(tsx, ["scripts/compare.ts", "--shared", "lab", ...TEAMS, "--out", out, "--plans", plans], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(r.status, 0, r.stderr);
        stdout = r.stdout;
        json = JSON.parse(fs.readFileSync(path.join(out, "compare.json"), "utf8"));
    });
    after(() => {
        fs.rmSync(out, { recursive: true, force: true });
        fs.rmSync(plans, { recursive: true, force: true });
    });

    it("writes compare.json in design.md's shape, exactly", () => {
        assert.deepStrictEqual(Object.keys(json), ["standalone", "shared"]);
        assert.deepStrictEqual(Object.keys(json.standalone), ["totalUsdPerMonth", "teams"]);
        assert.deepStrictEqual(Object.keys(json.shared), ["totalUsdPerMonth", "floorUsdPerMonth", "teams"]);
        assert.deepStrictEqual(Object.keys(json.standalone.teams), TEAMS);
        assert.deepStrictEqual(Object.keys(json.shared.teams), TEAMS);
        for (const t of TEAMS) {
            assert.deepStrictEqual(Object.keys(json.standalone.teams[t]), ["usdPerMonth", "p95LatencySeconds", "p99LatencySeconds"]);
            assert.deepStrictEqual(Object.keys(json.shared.teams[t]), [
                "usdPerMonth",
                "gpuUsdPerMonth",
                "floorShareUsdPerMonth",
                "p95LatencySeconds",
                "p99LatencySeconds",
            ]);
            assert.ok(json.standalone.teams[t].p95LatencySeconds > 0 && json.shared.teams[t].p99LatencySeconds >= json.shared.teams[t].p95LatencySeconds, t);
        }
    });

    it("the teams add up to the totals, in both arrangements, to the cent", () => {
        const sum = (teams: Record<string, { usdPerMonth: number }>) => Object.values(teams).reduce((s, t) => s + cents(t.usdPerMonth), 0);
        assert.strictEqual(sum(json.standalone.teams), cents(json.standalone.totalUsdPerMonth));
        assert.strictEqual(sum(json.shared.teams), cents(json.shared.totalUsdPerMonth));
        const floors = TEAMS.reduce((s, t) => s + cents(json.shared.teams[t].floorShareUsdPerMonth), 0);
        assert.strictEqual(floors, cents(json.shared.floorUsdPerMonth));
        for (const t of TEAMS)
            assert.strictEqual(
                cents(json.shared.teams[t].gpuUsdPerMonth) + cents(json.shared.teams[t].floorShareUsdPerMonth),
                cents(json.shared.teams[t].usdPerMonth),
                t,
            );
        // One platform instead of three clusters: the floor is paid once.
        assert.ok(json.shared.totalUsdPerMonth < json.standalone.totalUsdPerMonth, `${json.shared.totalUsdPerMonth} vs ${json.standalone.totalUsdPerMonth}`);
        // Physics runs no GPU of its own: its GPU time is its share of the shared Qwen pool.
        assert.ok(json.shared.teams.physics.gpuUsdPerMonth > 0);
    });

    it("prints both arrangements side by side, with the parts of each team's shared bill", () => {
        assert.match(stdout, /Teams of platform 'lab': each alone \(a stack of its own\) and all on the platform \(28 simulated days, floor split equal\)/);
        assert.match(stdout, /team\s+alone: USD\/month\s+P95\s+P99\s+on the platform: USD\/month\s+own GPU\s+shared pools\s+floor share\s+P95\s+P99/);
        for (const t of TEAMS) assert.match(stdout, new RegExp(`^${t}\\s+\\$[\\d,.]+\\s+[\\d.]+ s`, "m"));
        assert.match(
            stdout,
            new RegExp(`^total\\s+\\$${json.standalone.totalUsdPerMonth.toLocaleString("en-US", { minimumFractionDigits: 2 }).replace(/[.$]/g, "\\$&")}`, "m"),
        );
        assert.match(fs.readFileSync(path.join(out, "compare.md"), "utf8"), /\| physics \| \$[\d,.]+ \|/);
    });

    it("a team's plan prints and writes its bill, equal to compare's", () => {
        const r = spawnSync(tsx, ["scripts/plan.ts", "--stack", "physics", "--plans", plans], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(r.status, 0, r.stderr);
        const bill = JSON.parse(fs.readFileSync(path.join(plans, "physics", "cost.json"), "utf8")).bill;
        const s = json.shared.teams.physics;
        assert.deepStrictEqual(
            {
                team: bill.team,
                usd: bill.usdPerMonth,
                gpu: cents(bill.ownGpuUsdPerMonth + bill.sharedPoolsUsdPerMonth) / 100,
                floor: bill.floorShareUsdPerMonth,
            },
            { team: "physics", usd: s.usdPerMonth, gpu: s.gpuUsdPerMonth, floor: s.floorShareUsdPerMonth },
        );
        assert.match(r.stdout, /bill on platform 'lab' \(28 simulated days, the gateway's attribution rule, docs\/billing\.md\): \$[\d,.]+\/month/);
        assert.match(
            r.stdout,
            /own GPU time \(and its weights bucket\) \$0\.00 \+ share of shared pools \$[\d,.]+ \+ share of the floor \$[\d,.]+ \(of \$[\d,.]+, equal parts among biology, chemistry, physics\)/,
        );
    });

    it("refuses a comparison without every registered team (the floor is shared by all) and a stack that is not the platform's team", () => {
        const r = spawnSync(tsx, ["scripts/compare.ts", "--shared", "lab", "biology", "physics", "--out", out, "--plans", plans], {
            cwd: ROOT,
            encoding: "utf8",
        });
        assert.strictEqual(r.status, 1);
        assert.match(
            r.stderr,
            /platform 'lab' registers biology, chemistry, physics; the floor is shared by all of them, so the bills add up only with every one: chemistry missing/,
        );
        assert.match(r.stderr, /npm run compare -- --shared lab biology chemistry physics/);
        const r2 = spawnSync(tsx, ["scripts/compare.ts", "--shared", "lab", "dev", "--out", out, "--plans", plans], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(r2.status, 1);
        assert.match(r2.stderr, /stack 'dev' is not a team of platform 'lab'/);
    });
});
