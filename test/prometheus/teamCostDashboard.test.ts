/**
 * The "Cost per team" dashboard (dashboards/team-cost.json) on a real Prometheus holding two
 * backfilled days: the gateway's billing series (`promtool tsdb create-blocks-from openmetrics`)
 * and the per-team recording rules evaluated over them (`promtool tsdb create-blocks-from rules`,
 * one pass per level of rules, as promtool cannot feed one rule's backfill to another). Every
 * panel's query is run as Grafana would send it over those two days, and the values are checked
 * against figures worked out by hand from the series.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { readDashboards } from "../../components/addons/monitoring";
import { billingRecordingRules, NodeGroupBilling } from "../../components/serving/billingRules";
import { PrometheusServer, promtool, requirePrometheus, startPrometheus, tempDir } from "./server";

const GROUPS: NodeGroupBilling[] = [{ name: "a10g", nodeUsdPerHour: 1.006, gpusPerNode: 1, minNodes: 0, floorNodes: 0, workerPools: ["qwen"] }];
const FLOOR = 0.4;
const HOURS = 48;
const STEP = 60;

describe("Cost per team dashboard on backfilled days (real Prometheus)", function () {
    this.timeout(180_000);
    const end = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3600;
    const start = end - HOURS * 3600;
    let prom: PrometheusServer | undefined;
    let dir: string;

    before(async function () {
        requirePrometheus();
        dir = tempDir("team-cost-");
        const lines: string[] = [];
        const counter = (name: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
        const gauge = (name: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
        const at = (fn: (t: number, i: number) => string[]) => {
            for (let t = start, i = 0; t <= end; t += STEP, i++) lines.push(...fn(t, i));
        };
        // One qwen worker all along.
        gauge("vllm:num_requests_running", "running");
        at((t) => [`vllm:num_requests_running{pool="qwen",namespace="serving",pod="q-0"} 1 ${t}`]);
        // Billed worker-seconds per minute on two gateway replicas (the same books): radiology 20 busy + 10 idle, cardiology 15 + 15.
        counter("gateway_team_attributed_seconds", "billed");
        const perMinute: Array<[string, string, number]> = [
            ["radiology", "busy", 20],
            ["radiology", "idle", 10],
            ["cardiology", "busy", 15],
            ["cardiology", "idle", 15],
        ];
        at((t, i) =>
            perMinute.flatMap(([team, kind, n]) =>
                ["gw-a", "gw-b"].map(
                    (pod) => `gateway_team_attributed_seconds_total{namespace="serving",team="${team}",pool="qwen",kind="${kind}",pod="${pod}"} ${n * i} ${t}`,
                ),
            ),
        );
        counter("gateway_pool_unattributed_seconds", "unattributed");
        at((t) => [`gateway_pool_unattributed_seconds_total{namespace="serving",pool="qwen",pod="gw-a"} 0 ${t}`]);
        counter("gateway_team_tokens", "tokens");
        at((t, i) => [`gateway_team_tokens_total{namespace="serving",team="radiology",pool="qwen",kind="completion",pod="gw-a"} ${120 * i} ${t}`]);
        // Namespace "quiet": a stack whose pool stayed at zero, nobody billed GPU time; its one team pays the floor.
        const gauges: Array<[string, string, number, string?]> = [
            ["gateway_team_floor_share", "anatomy", 1, "quiet"],
            ["gateway_team_month_usd", "anatomy", 12, "quiet"],
            ["gateway_team_floor_share", "radiology", 0.5],
            ["gateway_team_floor_share", "cardiology", 0.5],
            ["gateway_team_month_usd", "radiology", 31],
            ["gateway_team_month_usd", "cardiology", 9],
            ["gateway_team_month_forecast_usd", "radiology", 52],
            ["gateway_team_month_forecast_usd", "cardiology", 20],
            ["gateway_team_budget_usd", "radiology", 40],
        ];
        for (const name of [...new Set(gauges.map((g) => g[0]))]) {
            gauge(name, name);
            at((t) =>
                gauges
                    .filter((g) => g[0] === name)
                    .flatMap(([, team, v, ns]) =>
                        ["gw-a", "gw-b"].map((pod) => `${name}{namespace="${ns ?? "serving"}",team="${team}",pod="${pod}"} ${v} ${t}`),
                    ),
            );
        }
        lines.push("# EOF");
        fs.writeFileSync(path.join(dir, "series.om"), lines.join("\n") + "\n");
        const made = await promtool(["tsdb", "create-blocks-from", "openmetrics", "--quiet", path.join(dir, "series.om"), path.join(dir, "data")]);
        assert.strictEqual(made.code, 0, made.out);

        // Rules in dependency order: prices and the floor, then the per-team series, then the totals.
        const rules = [...billingRecordingRules(GROUPS, FLOOR, "serving"), ...billingRecordingRules(GROUPS, FLOOR, "quiet")];
        const levels = [
            ["gpuserve:pool_worker_usd_per_hour", "gpuserve:floor_usd_per_hour"],
            ["gpuserve:team_gpu_usd_per_hour", "gpuserve:team_floor_usd_per_hour"],
            ["gpuserve:team_usd_per_hour"],
        ];
        assert.deepStrictEqual(levels.flat().sort(), [...new Set(rules.map((r) => r.record))].sort(), "every recording rule is backfilled");
        // A Prometheus on a copy of the data (stop() deletes its directory), then the pass's blocks join the data.
        const onCopy = async () => {
            const run = tempDir("team-cost-run-");
            fs.cpSync(path.join(dir, "data"), path.join(run, "data"), { recursive: true });
            // Prometheus's default look-back: rule groups evaluate at an offset of their own, so minute samples of
            // one pass fall between the evaluation instants of the next.
            return startPrometheus({ global: {} }, run, { lookbackDelta: "5m" });
        };
        for (const [n, level] of levels.entries()) {
            prom = await onCopy();
            const file = path.join(dir, `rules-${n}.json`);
            fs.writeFileSync(file, JSON.stringify({ groups: [{ name: `level-${n}`, interval: "1m", rules: rules.filter((r) => level.includes(r.record)) }] }));
            const out = path.join(dir, `rules-blocks-${n}`);
            const r = await promtool([
                "tsdb",
                "create-blocks-from",
                "rules",
                `--start=${start}`,
                `--end=${end}`,
                `--output-dir=${out}`,
                "--eval-interval=60s",
                `--url=${prom.url}`,
                file,
            ]);
            assert.strictEqual(r.code, 0, r.out);
            await prom.stop();
            for (const block of fs.readdirSync(out)) fs.renameSync(path.join(out, block), path.join(dir, "data", block));
        }
        prom = await onCopy();
    });

    after(async () => {
        await prom?.stop();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** A panel query as Grafana sends it for the two days, every team selected, evaluated at their end. */
    async function panel(title: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
        const d = JSON.parse(readDashboards()["team-cost.json"]);
        const p = (d.panels as Array<{ title: string; targets: Array<{ expr: string }> }>).find((x) => x.title === title);
        assert.ok(p, `no panel '${title}'`);
        const out: Array<{ metric: Record<string, string>; value: number }> = [];
        for (const t of p.targets) {
            const expr = t.expr
                .replace(/\$__range/g, `${HOURS}h`)
                .replace(/\$__rate_interval/g, "5m")
                .replace(/\$team/g, ".*");
            const res = await fetch(`${prom!.url}/api/v1/query?query=${encodeURIComponent(expr)}&time=${end}`);
            const body = (await res.json()) as {
                status: string;
                error?: string;
                data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
            };
            assert.strictEqual(body.status, "success", `${title}: ${body.error}`);
            assert.ok(body.data.result.length > 0, `${title}: no data for ${expr}`);
            out.push(...body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) })));
        }
        return out;
    }
    const of = (rows: Array<{ metric: Record<string, string>; value: number }>, labels: Record<string, string>) => {
        const hit = rows.filter((r) => Object.entries(labels).every(([k, v]) => r.metric[k] === v));
        assert.strictEqual(hit.length, 1, `one series with ${JSON.stringify(labels)} in ${JSON.stringify(rows)}`);
        return hit[0].value;
    };
    const near = (actual: number, expected: number, eps: number, what: string) =>
        assert.ok(Math.abs(actual - expected) <= eps, `${what}: ${actual} vs ${expected} (±${eps})`);

    it("every panel has data, and the month, forecast and budget panels show the gateway's figures", async () => {
        const d = JSON.parse(readDashboards()["team-cost.json"]);
        for (const p of d.panels as Array<{ title: string }>) await panel(p.title);
        const spent = await panel("Spent this month (GPU time + floor share)");
        assert.deepStrictEqual([of(spent, { team: "radiology" }), of(spent, { team: "cardiology" })], [31, 9], "not added up across the two replicas");
        assert.strictEqual(of(await panel("Forecast to month end"), { team: "radiology" }), 52);
        const used = await panel("Budget used this month");
        assert.strictEqual(of(used, { team: "radiology" }), 31 / 40);
        assert.strictEqual(used.length, 1, "a team without a budget shows no budget bar");
    });

    it("cost per hour: each team's worker share at the node price, plus its floor share", async () => {
        const rows = await panel("Cost per hour by team: GPU by pool, and floor share");
        // Radiology: 30 s a minute = 0.5 workers x $1.006; cardiology the same. Floor $0.40 / 2.
        near(of(rows, { team: "radiology", pool: "qwen" }), 0.503, 1e-9, "radiology GPU $/h");
        near(of(rows, { team: "cardiology", pool: "qwen" }), 0.503, 1e-9, "cardiology GPU $/h");
        const floor = rows.filter((r) => r.metric.pool === undefined);
        near(of(floor, { team: "radiology" }), 0.2, 1e-9, "radiology floor $/h");
    });

    it("at zero workers (a stack whose pool never woke): its team's cost per hour is its floor share alone, and its month shows", async () => {
        const rows = await panel("Cost per hour by team: GPU by pool, and floor share");
        assert.deepStrictEqual(
            rows.filter((r) => r.metric.namespace === "quiet").map((r) => [r.metric.team, r.metric.pool ?? "floor", r.value]),
            [["anatomy", "floor", FLOOR]],
        );
        assert.strictEqual(of(await panel("Spent this month (GPU time + floor share)"), { namespace: "quiet", team: "anatomy" }), 12);
        near(
            of(await panel("Floor share over the time range"), { namespace: "quiet", team: "anatomy" }),
            FLOOR * 48,
            FLOOR * (2 / 60),
            "anatomy floor over 2 days",
        );
    });

    it("over the two days: GPU cost by team and pool and the floor shares add up to the hours", async () => {
        // 48 h x $0.503 = $24.144; the first 5 minutes have no rate yet: at most 6 minutes short.
        const gpu = await panel("GPU cost over the time range, by team and pool");
        near(of(gpu, { team: "radiology", pool: "qwen" }), 24.144 - (3 / 60) * 0.503, (3 / 60) * 0.503, "radiology GPU over 2 days");
        const floor = await panel("Floor share over the time range");
        near(of(floor, { team: "cardiology" }), 0.2 * 48, 0.2 * (2 / 60), "cardiology floor over 2 days");
    });

    it("billed worker time by reason, once per replica pair; no unattributed time; tokens per second", async () => {
        const kinds = await panel("Billed worker time by reason (workers)");
        near(of(kinds, { team: "radiology", kind: "busy" }), 20 / 60, 1e-9, "radiology busy workers");
        near(of(kinds, { team: "cardiology", kind: "idle" }), 15 / 60, 1e-9, "cardiology idle workers");
        assert.strictEqual(of(await panel("Idle worker time nobody used (platform's)"), { pool: "qwen" }), 0);
        near(of(await panel("Tokens per second by team"), { team: "radiology", kind: "completion" }), 2, 1e-9, "tokens/s");
    });
});
