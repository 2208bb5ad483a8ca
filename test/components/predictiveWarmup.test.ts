/**
 * The predictive warm-up trigger against a real Prometheus (Debian 2.42) holding a
 * backfilled week of gateway metrics (`promtool tsdb create-blocks-from openmetrics`):
 * it asks for a replica `lead` seconds before last week's session and none in quiet slots.
 * Plus the schema rule: retention must exceed the look-back by a day.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { coldAwareDemandQuery, predictiveQuery, scaledObjectSpec, warmupQuery } from "../../components/serving/scaling";
import { ConfigError } from "../../stacks/errors";
import { scalingSchema } from "../../stacks/schema";
import { parseStackConfig } from "../../stacks/validate";
import { PrometheusServer, promtool, requirePrometheus, startPrometheus, tempDir } from "../prometheus/server";

describe("predictive warm-up query (real Prometheus, backfilled week)", function () {
    this.timeout(60000);
    const pool = "qwen3-vl-2b";
    const lead = 900; // 15 min
    const now = Math.floor(Date.now() / 1000 / 60) * 60;
    const week = 7 * 86400;
    // Last week's session: 50 min, starting 3 h after "now - 1 week"; the same slot this week is now + 3 h.
    const sessionStart = now - week + 3 * 3600;
    const sessionEnd = sessionStart + 50 * 60;
    let prom: PrometheusServer | undefined;

    before(async function () {
        requirePrometheus(this);
        const dir = tempDir("predictive-");
        // gateway_requests_total scraped every 30 s from 8 to 6 days ago: flat (no requests) except ~2.4 requests/min in the session.
        const lines = ["# HELP gateway_requests Requests answered by the gateway.", "# TYPE gateway_requests counter"];
        let total = 0;
        for (let t = now - 8 * 86400; t <= now - 6 * 86400; t += 30) {
            if (t > sessionStart && t <= sessionEnd) total += 1.2;
            lines.push(`gateway_requests_total{pool="${pool}",code="200"} ${total} ${t}`);
        }
        lines.push("# EOF");
        fs.writeFileSync(path.join(dir, "history.om"), lines.join("\n") + "\n");
        const backfill = await promtool(["tsdb", "create-blocks-from", "openmetrics", "--quiet", path.join(dir, "history.om"), path.join(dir, "data")]);
        assert.strictEqual(backfill.code, 0, backfill.out);
        // Default retention (15 d) keeps the backfilled week; no scrape targets.
        prom = await startPrometheus({ global: {} }, dir);
    });

    after(async () => {
        await prom?.stop();
    });

    async function valueAt(expr: string, t: number): Promise<number> {
        const res = await fetch(`${prom!.url}/api/v1/query?query=${encodeURIComponent(expr)}&time=${t}`);
        const body = (await res.json()) as { status: string; error?: string; data: { result: { value: [number, string] }[] } };
        assert.strictEqual(body.status, "success", body.error);
        assert.strictEqual(body.data.result.length, 1, `one value expected from ${expr}`);
        return Number(body.data.result[0].value[1]);
    }

    /** Replicas the HPA asks for from this trigger (AverageValue target 1 request/s), and whether KEDA activates (> 0). */
    const replicas = (rate: number, target = 1) => Math.ceil(rate / target);

    it("asks for a replica `lead` seconds before last week's session started, and through the session", async () => {
        const q = predictiveQuery(pool, 7, lead);
        const thisWeekStart = sessionStart + week;
        for (const t of [thisWeekStart - lead + 60, thisWeekStart - lead + 600, thisWeekStart, thisWeekStart + 20 * 60]) {
            const rate = await valueAt(q, t);
            assert.ok(rate > 0, `no demand at ${(t - thisWeekStart) / 60} min`);
            assert.strictEqual(replicas(rate), 1);
        }
    });

    it("asks for nothing in quiet slots: well before the lead, and after last week's session", async () => {
        const q = predictiveQuery(pool, 7, lead);
        const thisWeekStart = sessionStart + week;
        for (const t of [thisWeekStart - lead - 20 * 60, thisWeekStart - 2 * 3600, sessionEnd + week - lead + 15 * 60, now]) {
            assert.strictEqual(await valueAt(q, t), 0, `demand at ${(t - thisWeekStart) / 60} min`);
        }
    });

    it("reads 0, not an empty result, for a pool with no history, and the warm-up gauge and cold-start-aware demand queries likewise", async () => {
        assert.strictEqual(await valueAt(predictiveQuery("no-such-pool", 7, lead), now), 0);
        assert.strictEqual(await valueAt(warmupQuery(pool), now), 0);
        assert.strictEqual(await valueAt(coldAwareDemandQuery(pool, 4, 0.107, 780), now), 0);
    });
});

describe("predictive warm-up in the ScaledObject and the schema", () => {
    const input = { poolName: "p", deploymentName: "d", namespace: "n", prometheusUrl: "http://prom:9090", timezone: "UTC" };

    it("adds a predictive trigger (lead = cold start + 120 s) and the explicit warm-up trigger; none predictive when turned off", () => {
        const on = scaledObjectSpec({ ...input, scaling: scalingSchema.parse({}), coldStartSeconds: 780 }) as { triggers: { name: string; metadata: Record<string, string> }[] };
        const pred = on.triggers.find((t) => t.name === "predictive")!;
        assert.strictEqual(pred.metadata.query, predictiveQuery("p", 7, 900));
        assert.strictEqual(pred.metadata.activationThreshold, "0");
        assert.ok(on.triggers.some((t) => t.name === "warmup" && t.metadata.query === warmupQuery("p") && t.metadata.threshold === "1"));
        const off = scaledObjectSpec({ ...input, scaling: scalingSchema.parse({ predictiveWarmup: { enabled: false } }), coldStartSeconds: 780 }) as { triggers: { name: string }[] };
        assert.ok(!off.triggers.some((t) => t.name === "predictive"));
    });

    it("refuses predictive warm-up when Prometheus keeps less than the look-back plus a day", () => {
        const raw = (retention: string, scaling: Record<string, unknown> = {}) => () =>
            parseStackConfig({
                region: "us-east-1",
                environment: "t",
                tags: { team: "t" },
                serving: { allowInsecureHttp: true },
                addons: { prometheus: { retention } },
                gpuPools: [{ name: "gpu", gpuType: "a10g", maxNodes: 4 }],
                models: [{ id: "Qwen/Qwen3-VL-2B-Instruct", pool: "gpu", scaling }],
            });
        assert.throws(raw("7d"), (e: unknown) => e instanceof ConfigError && /gpuserve:models\[0\]\.scaling\.predictiveWarmup: predictive warm-up looks back 7 days, but Prometheus keeps only 7d .*Fix: set gpuserve:addons\.prometheus\.retention to at least 8d/.test(e.message));
        assert.doesNotThrow(raw("8d"));
        assert.doesNotThrow(raw("7d", { predictiveWarmup: { enabled: false } }));
        assert.throws(raw("2w", { predictiveWarmup: { lookbackDays: 14 } }), ConfigError);
    });
});
