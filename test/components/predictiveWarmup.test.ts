/**
 * The predictive warm-up trigger against a real Prometheus (Debian 2.42) holding a
 * backfilled week of gateway metrics (`promtool tsdb create-blocks-from openmetrics`):
 * it asks for a replica `lead` seconds before last week's session and none in quiet slots.
 * Plus the schema rule: retention must exceed the look-back by a day.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { coldAwareDemandQuery, predictiveQuery, scaledObjectSpec, scalingQueries, warmupQuery } from "../../components/serving/scaling";
import { ConfigError } from "../../stacks/errors";
import { PREDICTIVE_CONFIRM_SECONDS, PREDICTIVE_MARGIN_SECONDS } from "../../stacks/scalePolicy";
import { scalingSchema } from "../../stacks/schema";
import { parseStackConfig } from "../../stacks/validate";
import { PrometheusServer, promtool, requirePrometheus, startPrometheus, tempDir } from "../prometheus/server";

describe("predictive warm-up query (real Prometheus, backfilled week)", function () {
    this.timeout(60000);
    const pool = "qwen3-vl-2b";
    // A pool whose class took place last week but is cancelled this week.
    const cancelled = "cancelled";
    // A pool whose requests last week were all refused (429) or answered from the cache: no worker was handed any.
    const refused = "refused";
    const lead = 900; // 15 min
    const now = Math.floor(Date.now() / 1000 / 60) * 60;
    const week = 7 * 86400;
    // This week's session began 2 days ago (5 min later than last week's); last week's: 50 min, one week before.
    const sessionStart = now - 2 * 86400 - week;
    const sessionEnd = sessionStart + 50 * 60;
    const thisWeekStart = sessionStart + week + 5 * 60;
    let prom: PrometheusServer | undefined;

    before(async function () {
        requirePrometheus();
        const dir = tempDir("predictive-");
        // The gateway's counters scraped every 30 s: flat (no requests) except ~2.4 requests/min in the sessions.
        // gateway_upstream_requests_total: requests handed to a worker (what the trigger reads);
        // gateway_requests_total: every answer, including cache hits and refusals (what it must not read).
        const upstream = ["# HELP gateway_upstream_requests Requests handed to a worker.", "# TYPE gateway_upstream_requests counter"];
        const answered = ["# HELP gateway_requests Requests answered by the gateway.", "# TYPE gateway_requests counter"];
        const inSession = (t: number, start: number) => t > start && t <= start + 50 * 60;
        const handed: Record<string, number> = { [pool]: 0, [cancelled]: 0, [refused]: 0 };
        const all: Record<string, number> = { [pool]: 0, [cancelled]: 0, [refused]: 0 };
        // Samples 6 h either side of each week's session only (a small file: promtool has 20 s under a loaded machine).
        for (const around of [sessionStart, thisWeekStart]) {
            for (let t = around - 6 * 3600; t <= around + 6 * 3600; t += 30) {
                if (inSession(t, sessionStart)) for (const p of [pool, cancelled, refused]) all[p] += 1.2;
                if (inSession(t, sessionStart)) {
                    handed[pool] += 1.2;
                    handed[cancelled] += 1.2;
                }
                if (inSession(t, thisWeekStart)) {
                    handed[pool] += 1.2;
                    all[pool] += 1.2;
                }
                for (const p of [pool, cancelled, refused]) {
                    upstream.push(`gateway_upstream_requests_total{pool="${p}"} ${handed[p]} ${t}`);
                    answered.push(`gateway_requests_total{pool="${p}",code="${p === refused ? "429" : "200"}"} ${all[p]} ${t}`);
                }
            }
        }
        // This week's session seen by the latency trigger: request durations (all in the 1 s bucket) and one running
        // worker until 20 min after the session; then the workers are gone.
        const buckets = ["# TYPE gateway_request_duration_seconds_bucket unknown"];
        const running = ["# TYPE vllm:num_requests_running unknown"];
        let observed = 0;
        for (let t = thisWeekStart - 600; t <= thisWeekStart + 80 * 60; t += 30) {
            if (inSession(t, thisWeekStart)) observed += 1.2;
            for (const le of ["0.5", "1", "+Inf"])
                buckets.push(`gateway_request_duration_seconds_bucket{pool="${pool}",le="${le}"} ${le === "0.5" ? 0 : observed} ${t}`);
            if (t >= thisWeekStart && t <= thisWeekStart + 70 * 60) running.push(`vllm:num_requests_running{pool="${pool}"} 0 ${t}`);
        }
        const lines = [...upstream, ...answered, ...buckets, ...running, "# EOF"];
        fs.writeFileSync(path.join(dir, "history.om"), lines.join("\n") + "\n");
        const backfill = await promtool(["tsdb", "create-blocks-from", "openmetrics", "--quiet", path.join(dir, "history.om"), path.join(dir, "data")]);
        assert.strictEqual(backfill.code, 0, backfill.out);
        // Default retention (15 d) keeps the backfilled days; no scrape targets.
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
    const lastWeekStartNow = sessionStart + week;

    it("asks for a replica `lead` seconds before last week's session started, and through this week's session", async () => {
        const q = predictiveQuery(pool, 7, lead);
        for (const t of [lastWeekStartNow - lead + 60, lastWeekStartNow - lead + 600, lastWeekStartNow, thisWeekStart + 20 * 60]) {
            const rate = await valueAt(q, t);
            assert.ok(rate > 0, `no demand at ${(t - lastWeekStartNow) / 60} min`);
            assert.strictEqual(replicas(rate), 1);
        }
    });

    it("asks for nothing in quiet slots: well before the lead, and after last week's session", async () => {
        const q = predictiveQuery(pool, 7, lead);
        for (const t of [lastWeekStartNow - lead - 20 * 60, lastWeekStartNow - 2 * 3600, sessionEnd + week + 15 * 60, now]) {
            assert.strictEqual(await valueAt(q, t), 0, `demand at ${(t - lastWeekStartNow) / 60} min`);
        }
    });

    it("releases a cancelled class: asks from the lead until PREDICTIVE_CONFIRM_SECONDS after last week's start, then nothing without requests", async () => {
        const q = predictiveQuery(cancelled, 7, lead);
        for (const t of [lastWeekStartNow - lead + 60, lastWeekStartNow + PREDICTIVE_CONFIRM_SECONDS - 60])
            assert.ok((await valueAt(q, t)) > 0, `no demand at ${(t - lastWeekStartNow) / 60} min`);
        for (const t of [lastWeekStartNow + PREDICTIVE_CONFIRM_SECONDS + 120, lastWeekStartNow + 20 * 60])
            assert.strictEqual(await valueAt(q, t), 0, `demand at ${(t - lastWeekStartNow) / 60} min`);
    });

    it("counts only requests handed to a worker: last week's refused or cached requests warm nothing", async () => {
        const q = predictiveQuery(refused, 7, lead);
        for (const t of [lastWeekStartNow - lead + 60, lastWeekStartNow, lastWeekStartNow + 20 * 60])
            assert.strictEqual(await valueAt(q, t), 0, `demand at ${(t - lastWeekStartNow) / 60} min`);
        // The same traffic counted by gateway_requests_total would have asked for a replica.
        const wrong = q.replaceAll("gateway_upstream_requests_total", "gateway_requests_total");
        assert.ok((await valueAt(wrong, lastWeekStartNow)) > 0);
    });

    it("the P95-latency trigger reads a value while requests finish, and 0 (not NaN) once none finished in its window or no worker runs", async () => {
        const q = scalingQueries(pool).latencyP95;
        const during = await valueAt(q, thisWeekStart + 20 * 60);
        assert.ok(during > 0.5 && during <= 1, `P95 x 1 worker during the session: ${during}`);
        // 10 min after the session: histogram_quantile of a zero rate is NaN, which `or vector(0)` alone kept.
        assert.strictEqual(await valueAt(q, thisWeekStart + 60 * 60), 0);
        // Requests finished in the window but no worker runs: scalar() of nothing is NaN.
        assert.strictEqual(await valueAt(q.replaceAll("vllm:num_requests_running", "vllm:num_requests_gone"), thisWeekStart + 20 * 60), 0);
    });

    it("reads 0, not an empty result, for a pool with no history, and the warm-up gauge and cold-start-aware demand queries likewise", async () => {
        assert.strictEqual(await valueAt(predictiveQuery("no-such-pool", 7, lead), now), 0);
        assert.strictEqual(await valueAt(warmupQuery(pool), now), 0);
        assert.strictEqual(await valueAt(coldAwareDemandQuery(pool, 4, 0.107, 780), now), 0);
    });
});

describe("predictive warm-up in the ScaledObject and the schema", () => {
    const input = { poolName: "p", deploymentName: "d", namespace: "n", prometheusUrl: "http://prom:9090", timezone: "UTC" };

    it("adds a predictive trigger (lead = cold start + 7 min) and the explicit warm-up trigger; none predictive when turned off", () => {
        const on = scaledObjectSpec({ ...input, scaling: scalingSchema.parse({}), coldStartSeconds: 780 }) as {
            triggers: { name: string; metadata: Record<string, string> }[];
        };
        const pred = on.triggers.find((t) => t.name === "predictive")!;
        assert.strictEqual(PREDICTIVE_MARGIN_SECONDS, 420);
        assert.strictEqual(pred.metadata.query, predictiveQuery("p", 7, 1200));
        assert.strictEqual(pred.metadata.activationThreshold, "0");
        assert.ok(on.triggers.some((t) => t.name === "warmup" && t.metadata.query === warmupQuery("p") && t.metadata.threshold === "1"));
        const off = scaledObjectSpec({ ...input, scaling: scalingSchema.parse({ predictiveWarmup: { enabled: false } }), coldStartSeconds: 780 }) as {
            triggers: { name: string }[];
        };
        assert.ok(!off.triggers.some((t) => t.name === "predictive"));
    });

    it("is off by default on a pool the timetable warms, on for the stack's other pools, and on where set", () => {
        const stack = (timetable: Record<string, unknown>, scaling: Record<string, unknown> = {}) =>
            parseStackConfig({
                region: "us-east-1",
                environment: "t",
                tags: { team: "t" },
                serving: { allowInsecureHttp: true },
                gpuPools: [{ name: "gpu", gpuType: "a10g", maxNodes: 8 }],
                models: [
                    { id: "Qwen/Qwen3-VL-2B-Instruct", pool: "gpu", scaling },
                    { id: "google/medgemma-1.5-4b-it", pool: "gpu" },
                ],
                timetable,
            });
        const session = { days: "1,3", start: "09:00", minutes: 50 };
        const enabled = (c: ReturnType<typeof stack>) => c.models.map((m) => m.scaling.predictiveWarmup.enabled);
        assert.deepStrictEqual(enabled(stack({ sessions: [session] })), [false, true]);
        assert.deepStrictEqual(enabled(stack({ sessions: [session] }, { predictiveWarmup: { enabled: true } })), [true, true]);
        // No cron triggers (warm: false), no sessions: the predictive trigger stays on.
        assert.deepStrictEqual(enabled(stack({ sessions: [session], warm: false })), [true, true]);
        assert.deepStrictEqual(enabled(stack({})), [true, true]);
        // What the ScaledObject gets follows: no predictive trigger on the warmed pool.
        const c = stack({ sessions: [session] });
        const triggers = (i: number) =>
            (scaledObjectSpec({ ...input, scaling: c.models[i].scaling, coldStartSeconds: 300 }) as { triggers: { name: string }[] }).triggers.map(
                (t) => t.name,
            );
        assert.ok(!triggers(0).includes("predictive"));
        assert.ok(triggers(1).includes("predictive"));
    });

    it("refuses predictive warm-up when Prometheus keeps less than the look-back plus a day", () => {
        const raw =
            (retention: string, scaling: Record<string, unknown> = {}) =>
            () =>
                parseStackConfig({
                    region: "us-east-1",
                    environment: "t",
                    tags: { team: "t" },
                    serving: { allowInsecureHttp: true },
                    addons: { prometheus: { retention } },
                    gpuPools: [{ name: "gpu", gpuType: "a10g", maxNodes: 4 }],
                    models: [{ id: "Qwen/Qwen3-VL-2B-Instruct", pool: "gpu", scaling }],
                });
        assert.throws(
            raw("7d"),
            (e: unknown) =>
                e instanceof ConfigError &&
                /gpuserve:models\[0\]\.scaling\.predictiveWarmup: predictive warm-up looks back 7 days, but Prometheus keeps only 7d .*Fix: set gpuserve:addons\.prometheus\.retention to at least 8d/.test(
                    e.message,
                ),
        );
        assert.doesNotThrow(raw("8d"));
        assert.doesNotThrow(raw("7d", { predictiveWarmup: { enabled: false } }));
        assert.throws(raw("2w", { predictiveWarmup: { lookbackDays: 14 } }), ConfigError);
    });
});
