/**
 * The per-team cost rules and budget alerts (components/serving/billingRules.ts) under the real
 * `promtool test rules`, on hand-computed series: the expected values are worked out in the
 * comments from the node prices, not taken from the rules. Two gateway replicas export the same
 * billed series (a shared usage store): the rules must not add them up.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { billingRuleGroups, NodeGroupBilling } from "../../components/serving/billingRules";
import { workerUsdPerSecond } from "../../gateway/src/billing/rule";
import { promtool, requirePrometheus, tempDir } from "./server";

const GROUPS: NodeGroupBilling[] = [
    { name: "a10g", nodeUsdPerHour: 1.006, gpusPerNode: 1, minNodes: 0, floorNodes: 0, workerPools: ["qwen", "medgemma"] },
    { name: "a100", nodeUsdPerHour: 27.45, gpusPerNode: 8, minNodes: 0, floorNodes: 0, workerPools: ["medgemma-27b"] },
    // One node kept at zero load: it is the floor's.
    { name: "l4", nodeUsdPerHour: 0.8048, gpusPerNode: 1, minNodes: 1, floorNodes: 1, workerPools: ["warm"] },
];
const FLOOR = 0.5;
const NS = "serving";

const vllm = (pool: string, pod: string, namespace = "serving") => ({
    series: `vllm:num_requests_running{pool="${pool}",namespace="${namespace}",pod="${pod}",engine="0",model_name="${pool}"}`,
    values: "1+0x60",
});
/** The same billed series on both gateway replicas. */
const billed = (team: string, pool: string, kind: string, perMinute: number) =>
    ["gw-a", "gw-b"].map((pod) => ({
        series: `gateway_team_attributed_seconds_total{namespace="serving",team="${team}",pool="${pool}",kind="${kind}",pod="${pod}"}`,
        values: `0+${perMinute}x60`,
    }));
const gauge = (name: string, team: string, value: number) =>
    ["gw-a", "gw-b"].map((pod) => ({ series: `${name}{namespace="serving",team="${team}",pod="${pod}"}`, values: `${value}+0x60` }));
const sample = (expr: string, labels: string, value: number) => ({ expr, eval_time: "10m", exp_samples: [{ labels, value }] });

async function promtoolTest(tests: unknown[]): Promise<{ code: number; out: string }> {
    const dir = tempDir("promtool-billing-");
    fs.writeFileSync(path.join(dir, "rules.json"), JSON.stringify({ groups: billingRuleGroups(GROUPS, FLOOR, NS) }));
    fs.writeFileSync(path.join(dir, "tests.json"), JSON.stringify({ rule_files: ["rules.json"], evaluation_interval: "1m", tests }));
    const r = await promtool(["test", "rules", "tests.json"], dir);
    fs.rmSync(dir, { recursive: true, force: true });
    return r;
}

describe("per-team cost rules and budget alerts (promtool test rules)", function () {
    this.timeout(60_000);
    before(function () {
        requirePrometheus();
    });

    it("prices each team's billed worker-seconds at its pool's node price, adds its floor share, and never adds replicas up", async () => {
        const { code, out } = await promtoolTest([
            {
                name: "workers up",
                interval: "1m",
                input_series: [
                    vllm("qwen", "q-0"),
                    vllm("medgemma", "m-0"),
                    vllm("medgemma-27b", "g-0"),
                    // Radiology: 30 busy + 15 idle worker-seconds a minute on qwen = 0.75 workers.
                    ...billed("radiology", "qwen", "busy", 30),
                    ...billed("radiology", "qwen", "idle", 15),
                    // Cardiology: a whole medgemma-27b worker all the time.
                    ...billed("cardiology", "medgemma-27b", "busy", 60),
                    ...gauge("gateway_team_floor_share", "radiology", 0.5),
                    ...gauge("gateway_team_floor_share", "cardiology", 0.5),
                ],
                promql_expr_test: [
                    // a10g: 2 workers on 2 one-GPU nodes -> $1.006 each. a100: 1 worker keeps a whole 8-GPU node -> $27.45.
                    sample('gpuserve:pool_worker_usd_per_hour{pool="qwen"}', 'gpuserve:pool_worker_usd_per_hour{namespace="serving",pool="qwen"}', 1.006),
                    sample(
                        'gpuserve:pool_worker_usd_per_hour{pool="medgemma-27b"}',
                        'gpuserve:pool_worker_usd_per_hour{namespace="serving",pool="medgemma-27b"}',
                        27.45,
                    ),
                    // 0.75 x 1.006 = 0.7545; 1 x 27.45.
                    sample(
                        'gpuserve:team_gpu_usd_per_hour{team="radiology"}',
                        'gpuserve:team_gpu_usd_per_hour{namespace="serving",team="radiology",pool="qwen"}',
                        0.7545,
                    ),
                    sample(
                        'gpuserve:team_gpu_usd_per_hour{team="cardiology"}',
                        'gpuserve:team_gpu_usd_per_hour{namespace="serving",team="cardiology",pool="medgemma-27b"}',
                        27.45,
                    ),
                    // Floor $0.50/h, half each.
                    sample(
                        'gpuserve:team_floor_usd_per_hour{team="radiology"}',
                        'gpuserve:team_floor_usd_per_hour{namespace="serving",team="radiology"}',
                        0.25,
                    ),
                    sample('gpuserve:team_usd_per_hour{team="radiology"}', 'gpuserve:team_usd_per_hour{namespace="serving",team="radiology"}', 1.0045),
                    sample('gpuserve:team_usd_per_hour{team="cardiology"}', 'gpuserve:team_usd_per_hour{namespace="serving",team="cardiology"}', 27.7),
                ],
            },
            {
                name: "two workers share the 8-GPU node (another namespace's worker of the same name is another stack's)",
                interval: "1m",
                input_series: [
                    vllm("medgemma-27b", "g-0"),
                    vllm("medgemma-27b", "g-1"),
                    vllm("medgemma-27b", "g-0", "team-physics"),
                    ...billed("cardiology", "medgemma-27b", "busy", 120),
                ],
                // 2 workers on one p4de: $13.725 each; cardiology holds both: $27.45.
                promql_expr_test: [
                    sample(
                        'gpuserve:pool_worker_usd_per_hour{pool="medgemma-27b"}',
                        'gpuserve:pool_worker_usd_per_hour{namespace="serving",pool="medgemma-27b"}',
                        13.725,
                    ),
                    sample(
                        'gpuserve:team_gpu_usd_per_hour{team="cardiology"}',
                        'gpuserve:team_gpu_usd_per_hour{namespace="serving",team="cardiology",pool="medgemma-27b"}',
                        27.45,
                    ),
                ],
            },
            {
                name: "workers on the floor's node cost the teams nothing; one more shares the node above it",
                interval: "1m",
                input_series: [vllm("warm", "w-0"), vllm("warm", "w-1")],
                // 2 workers on 2 nodes, 1 of them the floor's: (2 - 1) x 0.8048 / 2 = 0.4024 per worker.
                promql_expr_test: [
                    sample('gpuserve:pool_worker_usd_per_hour{pool="warm"}', 'gpuserve:pool_worker_usd_per_hour{namespace="serving",pool="warm"}', 0.4024),
                ],
            },
            {
                name: "one worker on the floor's node",
                interval: "1m",
                input_series: [vllm("warm", "w-0")],
                promql_expr_test: [
                    sample('gpuserve:pool_worker_usd_per_hour{pool="warm"}', 'gpuserve:pool_worker_usd_per_hour{namespace="serving",pool="warm"}', 0),
                ],
            },
            {
                name: "zero workers: a team's bill is its floor share",
                interval: "1m",
                input_series: [...billed("radiology", "qwen", "busy", 0), ...gauge("gateway_team_floor_share", "radiology", 1)],
                promql_expr_test: [
                    sample("gpuserve:team_usd_per_hour", 'gpuserve:team_usd_per_hour{namespace="serving",team="radiology"}', 0.5),
                    // The price of the worker a cold start would bring up: one node.
                    sample('gpuserve:pool_worker_usd_per_hour{pool="qwen"}', 'gpuserve:pool_worker_usd_per_hour{namespace="serving",pool="qwen"}', 1.006),
                ],
            },
        ]);
        assert.strictEqual(code, 0, out);
    });

    it("prices a worker as the gateway does (workerUsdPerSecond) for 0 to 10 workers on each node group", async () => {
        const tests = [];
        for (const g of GROUPS) {
            for (let w = 0; w <= 10; w++) {
                const pool = g.workerPools[0];
                const expected = workerUsdPerSecond(g, w) * 3600;
                tests.push({
                    name: `${w} workers on ${g.name}`,
                    interval: "1m",
                    input_series: w === 0 ? [{ series: 'up{job="x"}', values: "1+0x20" }] : Array.from({ length: w }, (_, i) => vllm(pool, `${pool}-${i}`)),
                    // promtool 2.42 compares floats exactly: compare micro-dollars, rounded on both sides.
                    promql_expr_test: [
                        sample(
                            `round(gpuserve:pool_worker_usd_per_hour{pool="${pool}"} * 1e6)`,
                            `{namespace="serving",pool="${pool}"}`,
                            Math.round(expected * 1e6),
                        ),
                    ],
                });
            }
        }
        const { code, out } = await promtoolTest(tests);
        assert.strictEqual(code, 0, out);
    });

    it("alerts at 80 % and 100 % of the budget, of the month so far and of the forecast, once they have held", async () => {
        const input = [
            // Radiology: $85 spent of $100, forecast $120.
            ...gauge("gateway_team_month_usd", "radiology", 85),
            ...gauge("gateway_team_month_forecast_usd", "radiology", 120),
            ...gauge("gateway_team_budget_usd", "radiology", 100),
            // Neurology, on the thresholds: exactly $80 of $100 spent, forecast $82 (80 %, not 100 %).
            ...gauge("gateway_team_month_usd", "neurology", 80),
            ...gauge("gateway_team_month_forecast_usd", "neurology", 82),
            ...gauge("gateway_team_budget_usd", "neurology", 100),
            // Cardiology: $10 of $100, forecast $50: nothing.
            ...gauge("gateway_team_month_usd", "cardiology", 10),
            ...gauge("gateway_team_month_forecast_usd", "cardiology", 50),
            ...gauge("gateway_team_budget_usd", "cardiology", 100),
            // The account (every team of a gateway): $120 of $100.
            ...["gw-a", "gw-b"].flatMap((pod) => [
                { series: `gateway_account_month_usd{namespace="serving",account="biology",pod="${pod}"}`, values: "120+0x60" },
                { series: `gateway_account_budget_usd{namespace="serving",account="biology",pod="${pod}"}`, values: "100+0x60" },
            ]),
            // Anatomy: $500 but no budget: nothing.
            ...gauge("gateway_team_month_usd", "anatomy", 500),
            ...gauge("gateway_team_month_forecast_usd", "anatomy", 900),
        ];
        // promtool compares annotations exactly: each firing alert's text, written out.
        const firing = (team: string) => (severity: string, summary: string, description: string) => ({
            exp_labels: { namespace: "serving", team, severity },
            exp_annotations: { summary, description },
        });
        const radiology = firing("radiology");
        const neurology = firing("neurology");
        const alerts = (eval_time: string, alertname: string, exp_alerts: unknown[]) => ({ eval_time, alertname, exp_alerts });
        const cases = [
            // After 40 minutes every condition has held long enough (5 m actual, 30 m forecast).
            alerts("40m", "GpuserveTeamBudget80", [
                radiology(
                    "warning",
                    "Team radiology has used 80 % of its monthly budget",
                    "Team radiology has spent $85.00 this month, 80 % or more of its budget.",
                ),
                neurology(
                    "warning",
                    "Team neurology has used 80 % of its monthly budget",
                    "Team neurology has spent $80.00 this month, 80 % or more of its budget.",
                ),
            ]),
            alerts("40m", "GpuserveTeamBudget100", []),
            alerts("40m", "GpuserveTeamBudgetForecast80", [
                radiology(
                    "info",
                    "Team radiology is forecast to use 80 % of its monthly budget",
                    "At the last 7 days' pace team radiology ends the month at $120.00, 80 % or more of its budget (limits.teams.radiology.budgetUsdPerMonth).",
                ),
                neurology(
                    "info",
                    "Team neurology is forecast to use 80 % of its monthly budget",
                    "At the last 7 days' pace team neurology ends the month at $82.00, 80 % or more of its budget (limits.teams.neurology.budgetUsdPerMonth).",
                ),
            ]),
            alerts("40m", "GpuserveTeamBudgetForecast100", [
                radiology(
                    "warning",
                    "Team radiology is forecast to exceed its monthly budget",
                    "At the last 7 days' pace team radiology ends the month at $120.00, over its budget: past 100 % its warm-ups and new batches will be refused.",
                ),
            ]),
            alerts("40m", "GpuserveAccountBudget100", [
                {
                    exp_labels: { namespace: "serving", account: "biology", severity: "critical" },
                    exp_annotations: {
                        summary: "Account biology has used its monthly budget",
                        description:
                            "Account biology has used its monthly budget: $120.00 (billing.account.budgetUsdPerMonth); past 100 % every team's warm-ups and new batches are refused.",
                    },
                },
            ]),
            // Not yet held long enough: 3 minutes of the actual's 5, 20 of the forecast's 30.
            alerts("3m", "GpuserveTeamBudget80", []),
            alerts("20m", "GpuserveTeamBudgetForecast100", []),
        ];
        const dir = tempDir("promtool-billing-");
        fs.writeFileSync(path.join(dir, "rules.json"), JSON.stringify({ groups: billingRuleGroups(GROUPS, FLOOR, NS) }));
        fs.writeFileSync(
            path.join(dir, "tests.json"),
            JSON.stringify({ rule_files: ["rules.json"], evaluation_interval: "1m", tests: [{ interval: "1m", input_series: input, alert_rule_test: cases }] }),
        );
        const { code, out } = await promtool(["test", "rules", "tests.json"], dir);
        fs.rmSync(dir, { recursive: true, force: true });
        assert.strictEqual(code, 0, out);
    });

    it("promtool test rules fails when an expected value is wrong (the check can fail)", async () => {
        const { code, out } = await promtoolTest([
            {
                name: "wrong",
                interval: "1m",
                input_series: [...billed("radiology", "qwen", "busy", 30)],
                promql_expr_test: [
                    sample(
                        'gpuserve:team_gpu_usd_per_hour{team="radiology"}',
                        'gpuserve:team_gpu_usd_per_hour{namespace="serving",team="radiology",pool="qwen"}',
                        1.006,
                    ),
                ],
            },
        ]);
        assert.notStrictEqual(code, 0, out);
    });
});
