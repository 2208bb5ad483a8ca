import * as assert from "assert";
import { readDashboards } from "../../components/addons/monitoring";
import { knownMetricNames, promqlMetricNames } from "../helpers/metrics";

function expressions(dashboard: any): string[] {
    const fromPanels = (dashboard.panels ?? []).flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));
    const fromVars = (dashboard.templating?.list ?? []).map((v: any) => v.query?.query).filter((q: unknown) => typeof q === "string");
    return [...fromPanels, ...fromVars.map((q: string) => q.replace(/^label_values\((\w+[:\w]*),.*\)$/, "$1"))];
}

describe("Grafana dashboards", () => {
    const dashboards = readDashboards();

    it("ships the GPU, serving and cost-per-team dashboards as valid JSON with unique uids", () => {
        assert.deepStrictEqual(Object.keys(dashboards).sort(), ["gpu.json", "serving.json", "team-cost.json"]);
        const uids = Object.values(dashboards).map((d) => JSON.parse(d).uid);
        assert.strictEqual(new Set(uids).size, uids.length);
    });

    it("queries only metrics that DCGM, vLLM, the gateway or the stack's recording rules export", async () => {
        const known = await knownMetricNames();
        for (const [file, text] of Object.entries(dashboards)) {
            const exprs = expressions(JSON.parse(text));
            assert.ok(exprs.length > 0, file);
            for (const e of exprs) {
                const unknown = promqlMetricNames(e).filter((n) => !known.has(n));
                assert.deepStrictEqual(unknown, [], `${file}: ${e}`);
            }
        }
    });

    it("covers the serving overview: requests, queue depth, P95, replicas per pool, GPU utilization, cost per hour", () => {
        const serving = JSON.parse(dashboards["serving.json"]);
        const all = expressions(serving).join("\n");
        for (const needle of [
            "gateway_requests_total",
            "gateway_queue_depth",
            "histogram_quantile(0.95",
            "vllm:num_requests_running",
            "DCGM_FI_DEV_GPU_UTIL",
            "gpuserve:usd_per_hour",
        ]) {
            assert.ok(all.includes(needle), needle);
        }
    });

    it("shows the cost per team: month so far, forecast, budget, per hour by pool with the floor share, over the range, by reason; this month by default", () => {
        const d = JSON.parse(dashboards["team-cost.json"]);
        const all = expressions(d).join("\n");
        for (const needle of [
            "gateway_team_month_usd",
            "gateway_team_month_forecast_usd",
            "gateway_team_budget_usd",
            "gpuserve:team_gpu_usd_per_hour",
            "gpuserve:team_floor_usd_per_hour",
            "[$__range]",
            "gateway_team_attributed_seconds_total",
        ]) {
            assert.ok(all.includes(needle), needle);
        }
        assert.deepStrictEqual(d.time, { from: "now/M", to: "now" }, "opens on this month so far");
        const byPool = (d.panels as any[]).find((p) =>
            p.targets.some((t: any) => /by \(namespace, team, pool\) \(gpuserve:team_gpu_usd_per_hour/.test(t.expr)),
        );
        assert.ok(byPool, "no panel splits the GPU cost by pool");
    });

    it("shows batch work per pool and team: backlog, running, unfinished, finished by outcome", () => {
        const all = expressions(JSON.parse(dashboards["serving.json"])).join("\n");
        for (const needle of ["gateway_batch_backlog", "gateway_batch_lines_running", "gateway_batch_lines_queued", "gateway_batch_lines_total"])
            assert.ok(all.includes(needle), needle);
    });

    it("the PromQL scanner finds metric names and ignores functions, labels and variables (it can fail)", () => {
        assert.deepStrictEqual(
            promqlMetricNames('histogram_quantile(0.95, sum by (le, pool) (rate(gateway_request_duration_seconds_bucket{pool=~"$pool"}[5m])))'),
            ["gateway_request_duration_seconds_bucket"],
        );
        assert.deepStrictEqual(promqlMetricNames("sum(count by (pool) (vllm:num_requests_running) * on (pool) group_left() gpuserve:worker_usd_per_hour)"), [
            "vllm:num_requests_running",
            "gpuserve:worker_usd_per_hour",
        ]);
        assert.deepStrictEqual(promqlMetricNames("avg(vllm:gpu_cache_usage_perc)"), ["vllm:gpu_cache_usage_perc"]);
    });
});
