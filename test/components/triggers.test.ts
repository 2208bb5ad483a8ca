/**
 * Every KEDA trigger a worker pool's ScaledObject can carry, from the plan the program emits:
 * present, with the query its builder makes, exactly when the config asks for it, and absent
 * otherwise. The real-Prometheus suite (test/prometheus/signals.test.ts) evaluates each one.
 *
 *   demand, vllm-waiting, warmup   every pool
 *   recent-requests                 activityLookbackSeconds > 0 (default 120)
 *   batch-backlog                   batchBacklogPerReplica > 0 (default 200) and serving.batch.enabled
 *   latency-p95                     latencyP95Seconds set
 *   gpu-utilization                 gpuUtilizationPercent set
 *   predictive                      predictiveWarmup.enabled (default)
 *   warm-<i> (cron)                 one per warmWindows entry
 * And the fallback block: only for fallbackReplicas > 0 (components/serving/scaling.ts fallbackSpec).
 */
import * as assert from "assert";
import { coldAwareDemandQuery, predictiveQuery, scalingQueries, sessionRecentRequestsQuery, warmupQuery } from "../../components/serving/scaling";
import { gatewayConfig } from "../../components/serving/gatewayConfig";
import { predictiveLeadSeconds } from "../../stacks/scalePolicy";
import { parseStackConfig } from "../../stacks/validate";
import { StackRun, clone, runStack, stackConfig } from "../helpers/program";
import { estimatedColdStartSeconds, workerSecondsPerRequest } from "../../capacity/bounds/clairvoyant";

const SCALED = "kubernetes:keda.sh/v1alpha1:ScaledObject";
const POOL = "qwen3-vl-2b";

/** Every trigger type this stack can emit. */
export const ALL_TRIGGERS = [
    "demand",
    "vllm-waiting",
    "recent-requests",
    "batch-backlog",
    "latency-p95",
    "gpu-utilization",
    "warmup",
    "predictive",
    "cron",
] as const;

function devWith(scaling: Record<string, unknown>, serving: Record<string, unknown> = {}): Record<string, any> {
    const cfg = clone(stackConfig("dev"));
    cfg.models[0].scaling = { ...cfg.models[0].scaling, ...scaling };
    cfg.serving = { ...cfg.serving, ...serving };
    return cfg;
}

function workerScaler(run: StackRun): any {
    return (run.get(SCALED, `gpuserve-test-${POOL}-scaler`).inputs as any).spec;
}

/** Trigger kinds by name: prometheus triggers by their name, cron triggers as "cron". */
function kinds(spec: any): string[] {
    return spec.triggers.map((t: any) => (t.type === "cron" ? "cron" : t.name)).sort();
}

describe("KEDA triggers of a worker pool: each present exactly when configured", function () {
    this.timeout(60_000);
    const ON = { latencyP95Seconds: 20, gpuUtilizationPercent: 70, warmWindows: [{ days: "1-5", start: "08:00", end: "18:00", replicas: 1 }] };
    const OFF = { activityLookbackSeconds: 0, batchBacklogPerReplica: 0, predictiveWarmup: { enabled: false } };
    let allOn: StackRun;
    let allOff: StackRun;
    let noBatch: StackRun;
    let dev: StackRun;
    before(async () => {
        dev = await runStack(stackConfig("dev"));
        allOn = await runStack(devWith(ON));
        allOff = await runStack(devWith(OFF));
        noBatch = await runStack(devWith({}, { batch: { enabled: false } }));
    });

    it("emits all nine kinds when everything is configured, each with its builder's query", () => {
        const spec = workerScaler(allOn);
        assert.deepStrictEqual(kinds(spec), [...ALL_TRIGGERS].sort());
        const { "aws:region": region, ...rest } = devWith(ON);
        const cfg = parseStackConfig({ ...rest, region, environment: "test" });
        const model = cfg.models[0];
        const q = scalingQueries(POOL);
        const byName = Object.fromEntries(spec.triggers.filter((t: any) => t.type === "prometheus").map((t: any) => [t.name, t.metadata]));
        const gpuPool = cfg.gpuPools.find((p) => p.name === model.pool)!;
        const coldStart = estimatedColdStartSeconds(cfg, model);
        assert.strictEqual(
            byName.demand.query,
            coldAwareDemandQuery(POOL, model.scaling.queueDepthPerReplica, workerSecondsPerRequest(model, gpuPool), coldStart),
        );
        assert.strictEqual(byName.demand.activationThreshold, "0", "demand wakes the pool from zero");
        assert.strictEqual(byName["vllm-waiting"].query, q.waiting);
        assert.strictEqual(byName["recent-requests"].query, q.recentRequests(model.scaling.activityLookbackSeconds));
        assert.strictEqual(byName["batch-backlog"].query, q.batchBacklog);
        assert.strictEqual(byName["latency-p95"].query, q.latencyP95);
        assert.strictEqual(byName["gpu-utilization"].query, q.gpuUtilization);
        assert.strictEqual(byName.warmup.query, warmupQuery(POOL));
        const lead = predictiveLeadSeconds(model.scaling, coldStart);
        assert.strictEqual(byName.predictive.query, predictiveQuery(POOL, model.scaling.predictiveWarmup.lookbackDays, lead));
        assert.deepStrictEqual(byName["latency-p95"].threshold, "20");
        assert.deepStrictEqual(byName["gpu-utilization"].threshold, "70");
        const cron = spec.triggers.filter((t: any) => t.type === "cron");
        assert.deepStrictEqual(cron, [
            { type: "cron", name: "warm-0", metadata: { timezone: "UTC", start: "0 8 * * 1-5", end: "0 18 * * 1-5", desiredReplicas: "1" } },
        ]);
    });

    it("emits only demand, vllm-waiting and warmup when every optional one is off", () => {
        assert.deepStrictEqual(kinds(workerScaler(allOff)), ["demand", "vllm-waiting", "warmup"]);
    });

    it("dev's defaults: recent-requests, batch-backlog and predictive on; latency-p95, gpu-utilization and cron off", () => {
        assert.deepStrictEqual(kinds(workerScaler(dev)), ["batch-backlog", "demand", "predictive", "recent-requests", "vllm-waiting", "warmup"]);
    });

    it("has no batch-backlog trigger when the gateway runs no batch jobs", () => {
        assert.deepStrictEqual(kinds(workerScaler(noBatch)), ["demand", "predictive", "recent-requests", "vllm-waiting", "warmup"]);
    });

    it("has no fallback block by default (an outage starts no idle pool), and fallbackReplicas > 0 asks for one that never shrinks a pool", async () => {
        for (const run of [dev, allOn, allOff]) assert.strictEqual(workerScaler(run).fallback, undefined);
        const withFallback = workerScaler(await runStack(devWith({ fallbackReplicas: 1 })));
        assert.deepStrictEqual(withFallback.fallback, { failureThreshold: 3, replicas: 1, behavior: "currentReplicasIfHigher" });
        // KEDA accepts a fallback only with an AverageValue trigger that is not cpu/memory (apis/keda/v1alpha1 CheckFallbackValid).
        assert.ok(withFallback.triggers.some((t: any) => t.type === "prometheus" && t.metricType === "AverageValue"));
    });
});

describe("the recent-requests trigger of a pool the timetable warms", function () {
    this.timeout(60_000);
    const withTimetable = (timetable: Record<string, unknown>) => ({ ...devWith({}), timetable });
    const parsed = (raw: Record<string, any>) => {
        const { "aws:region": region, ...rest } = raw;
        return parseStackConfig({ ...rest, region, environment: "test" });
    };
    const recent = (run: StackRun) => workerScaler(run).triggers.find((t: any) => t.name === "recent-requests").metadata;

    it("reads the look-back during a session and afterSessionLookbackSeconds after it, at one threshold; the gateway exports the sessions", async () => {
        const raw = withTimetable({ sessions: [{ days: "1,3", start: "09:00", minutes: 50 }] });
        const [gated, plain] = [recent(await runStack(raw)), recent(await runStack(devWith({})))];
        const lookback = parsed(raw).models[0].scaling.activityLookbackSeconds;
        assert.strictEqual(gated.query, sessionRecentRequestsQuery(POOL, lookback, 120));
        assert.match(gated.query, /\[300s\].* and on\(\) \(max\(gateway_timetable_session\{pool="qwen3-vl-2b"\}\) > 0\)\) or \(.*\[120s\]\)\) \* 2\.5\)/);
        assert.strictEqual(gated.activationThreshold, plain.activationThreshold, "the same rate holds the pool in and out of sessions");
        assert.deepStrictEqual((gatewayConfig(parsed(raw), []) as any).timetable, {
            timezone: "UTC",
            pools: { [POOL]: [{ days: [1, 3], start: 9 * 3600, minutes: 50 }] },
        });
    });

    it("keeps one window, and the gateway no sessions, with afterSessionLookbackSeconds 0, warm false, or no timetable", async () => {
        const plain = scalingQueries(POOL).recentRequests(300);
        for (const raw of [
            withTimetable({ sessions: [{ days: "1,3", start: "09:00", minutes: 50 }], afterSessionLookbackSeconds: 0 }),
            withTimetable({ sessions: [{ days: "1,3", start: "09:00", minutes: 50 }], warm: false }),
            devWith({}),
        ]) {
            assert.strictEqual(recent(await runStack(raw)).query, plain);
            assert.strictEqual((gatewayConfig(parsed(raw), []) as any).timetable, undefined);
        }
    });
});
