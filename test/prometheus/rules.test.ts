/**
 * The plans' PrometheusRules under the real `promtool`: every rule file passes
 * `promtool check rules`, and the cost recording rules pass `promtool test rules` unit
 * tests whose expected values come from the cost model (capacity/cost.ts), not the rules.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { natGatewayCount, poolNodePrice, staticCost } from "../../capacity/cost";
import { COST_RULE_GROUP, costRecordingRules } from "../../components/addons/monitoring";
import type { StackConfig } from "../../stacks/resolved";
import { parsedConfig, PLAN_CASES, render } from "./plans";
import { ruleSpecs } from "./plan";
import { promtool, requirePrometheus, tempDir } from "./server";

/** USD/hour of what runs at zero load, from the static cost model. */
const floorPerHour = (cfg: StackConfig) => staticCost(cfg, natGatewayCount(cfg)).floor.reduce((s, l) => s + l.usdPerHour * l.quantity, 0);

const series = (pool: string, pods: number) =>
    Array.from({ length: pods }, (_, i) => ({
        series: `vllm:num_requests_running{pool="${pool}",namespace="serving",pod="worker-${pool}-abc-${i}",engine="0",model_name="${pool}"}`,
        values: "0+1x5",
    }));

interface UnitCase {
    name: string;
    input: Array<{ series: string; values: string }>;
    expect: Array<{ expr: string; labels: string; value: number }>;
}

async function promtoolTest(rulesFile: string, cases: UnitCase[]): Promise<{ code: number; out: string }> {
    const dir = path.dirname(rulesFile);
    const tests = {
        rule_files: [path.basename(rulesFile)],
        evaluation_interval: "1m",
        tests: cases.map((c) => ({
            name: c.name,
            interval: "1m",
            // promtool needs at least one series; a harmless one when the case has none.
            input_series: c.input.length ? c.input : [{ series: 'up{job="gateway"}', values: "1+0x5" }],
            promql_expr_test: c.expect.map((e) => ({ expr: e.expr, eval_time: "3m", exp_samples: [{ labels: e.labels, value: e.value }] })),
        })),
    };
    const file = path.join(dir, "tests.json");
    fs.writeFileSync(file, JSON.stringify(tests));
    return promtool(["test", "rules", file], dir);
}

describe("PrometheusRules under promtool", function () {
    this.timeout(60_000);
    before(function () {
        requirePrometheus();
    });

    for (const plan of PLAN_CASES) {
        it(`${plan.label}: every PrometheusRule passes promtool check rules`, async () => {
            const specs = ruleSpecs((await render(plan)).resources);
            assert.ok(specs.length > 0, "the plan emits no PrometheusRule");
            for (const spec of specs) {
                const dir = tempDir("promtool-check-");
                const file = path.join(dir, "rules.json");
                fs.writeFileSync(file, JSON.stringify({ groups: spec.groups }));
                const { code, out } = await promtool(["check", "rules", file]);
                fs.rmSync(dir, { recursive: true, force: true });
                assert.strictEqual(code, 0, `${spec.name}: ${out}`);
                const n = spec.groups.reduce((s: number, g: { rules: unknown[] }) => s + g.rules.length, 0);
                assert.match(out, new RegExp(`SUCCESS: ${n} rules found`), out);
            }
        });
    }

    it("promtool check rules fails on a broken rule (the check can fail)", async () => {
        const dir = tempDir("promtool-check-");
        const file = path.join(dir, "rules.json");
        fs.writeFileSync(file, JSON.stringify({ groups: [{ name: "g", rules: [{ record: "x:y", expr: "sum(vllm:num_requests_running" }] }] }));
        const { code, out } = await promtool(["check", "rules", file]);
        fs.rmSync(dir, { recursive: true, force: true });
        assert.notStrictEqual(code, 0, out);
    });

    for (const plan of PLAN_CASES.filter((p) => p.label === "dev" || p.label === "prod")) {
        it(`${plan.label}: the cost rules give the platform floor at zero workers and a whole node per worker that keeps one up (promtool test rules)`, async () => {
            const cfg = parsedConfig(plan);
            const spec = ruleSpecs((await render(plan)).resources).find((s) => s.groups.some((g: { name: string }) => g.name === COST_RULE_GROUP));
            assert.ok(spec, "no cost PrometheusRule");
            const dir = tempDir("promtool-test-");
            const rulesFile = path.join(dir, "rules.json");
            fs.writeFileSync(rulesFile, JSON.stringify({ groups: spec.groups }));

            const floor = floorPerHour(cfg);
            const cases: UnitCase[] = [
                { name: "zero workers", input: [], expect: [{ expr: "gpuserve:usd_per_hour", labels: "gpuserve:usd_per_hour", value: floor }] },
            ];
            // One worker of each model alone: its whole node (all its GPUs) is billed.
            for (const m of cfg.models) {
                const pool = cfg.gpuPools.find((p) => p.name === m.pool)!;
                const node = poolNodePrice(cfg, pool).usdPerHour;
                cases.push({
                    name: `one ${m.name} worker`,
                    input: series(m.name, 1),
                    expect: [
                        { expr: `gpuserve:gpu_pool_nodes{gpu_pool="${pool.name}"}`, labels: `gpuserve:gpu_pool_nodes{gpu_pool="${pool.name}"}`, value: 1 },
                        {
                            expr: `gpuserve:gpu_pool_usd_per_hour{gpu_pool="${pool.name}"}`,
                            labels: `gpuserve:gpu_pool_usd_per_hour{gpu_pool="${pool.name}"}`,
                            value: node,
                        },
                        { expr: "gpuserve:usd_per_hour", labels: "gpuserve:usd_per_hour", value: node + floor },
                    ],
                });
            }
            // Workers of several models sharing a node pool: ceil(workers / GPUs per node) nodes.
            for (const pool of cfg.gpuPools) {
                const models = cfg.models.filter((m) => m.pool === pool.name);
                const workers = models.map((m, i) => ({ m, n: i + 2 }));
                const total = workers.reduce((s, w) => s + w.n, 0);
                cases.push({
                    name: `${total} workers in pool ${pool.name}`,
                    input: workers.flatMap((w) => series(w.m.name, w.n)),
                    expect: [
                        {
                            expr: `gpuserve:gpu_pool_nodes{gpu_pool="${pool.name}"}`,
                            labels: `gpuserve:gpu_pool_nodes{gpu_pool="${pool.name}"}`,
                            value: Math.max(pool.minNodes, Math.ceil(total / pool.gpusPerNode)),
                        },
                    ],
                });
            }
            const { code, out } = await promtoolTest(rulesFile, cases);
            fs.rmSync(dir, { recursive: true, force: true });
            assert.strictEqual(code, 0, out);
        });
    }

    it("the cost rules round workers up to whole nodes and keep a node group's minimum (promtool test rules)", async () => {
        const dir = tempDir("promtool-test-");
        const rulesFile = path.join(dir, "rules.json");
        const pool = { name: "p4de", nodeUsdPerHour: 40, gpusPerNode: 8, minNodes: 1, workerPools: ["medgemma-27b", "qwen-72b"] };
        fs.writeFileSync(rulesFile, JSON.stringify({ groups: [{ name: COST_RULE_GROUP, rules: costRecordingRules([pool], 2) }] }));
        const nodes = (labels: string, value: number) => ({ expr: "gpuserve:gpu_pool_nodes", labels, value });
        const { code, out } = await promtoolTest(rulesFile, [
            {
                name: "min nodes at zero workers",
                input: [],
                expect: [nodes('gpuserve:gpu_pool_nodes{gpu_pool="p4de"}', 1), { expr: "gpuserve:usd_per_hour", labels: "gpuserve:usd_per_hour", value: 42 }],
            },
            {
                name: "9 workers need 2 nodes",
                input: [...series("medgemma-27b", 5), ...series("qwen-72b", 4)],
                expect: [nodes('gpuserve:gpu_pool_nodes{gpu_pool="p4de"}', 2), { expr: "gpuserve:usd_per_hour", labels: "gpuserve:usd_per_hour", value: 82 }],
            },
            { name: "other pools' workers do not count", input: series("qwen3-vl-2b", 3), expect: [nodes('gpuserve:gpu_pool_nodes{gpu_pool="p4de"}', 1)] },
        ]);
        fs.rmSync(dir, { recursive: true, force: true });
        assert.strictEqual(code, 0, out);
    });
});
