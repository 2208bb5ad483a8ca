/**
 * The simulator models what is deployed (issue 24 point 1), checked against a real Prometheus
 * (Debian 2.42): one simulated day of a stack that uses every kind of trigger, its series
 * rebuilt from the run's recording (simSeries.ts) and backfilled with
 * `promtool tsdb create-blocks-from openmetrics`; then every trigger query of the ScaledObjects
 * the plan renders for that stack is evaluated through the HTTP API at each simulated KEDA poll
 * and HPA sync, and compared with the value the simulator acted on, and KEDA's activation
 * decision (value > activationThreshold; cron: inside the window) with the simulator's.
 *
 * Fails when a trigger is emitted but not simulated or the reverse, when a signal the
 * simulator reads is stale or never updated, when a query returns no value, several values,
 * NaN or Inf, or when the simulator's arithmetic differs from PromQL's.
 *
 * Prometheus runs with --query.lookback-delta=12s: backfilled series carry no staleness markers,
 * so a worker's series must vanish within one 15 s scrape of its last sample, as they do in the
 * cluster when the pod leaves the Service's endpoints. Polls (10 s after a scrape) and syncs
 * (5 s after) then see exactly the last scrape.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { gatewayConfig } from "../../components/serving/gatewayConfig";
import type { TimetableConfig } from "../../gateway/src/timetable";
import { WORKER_POOL_LABEL } from "../../components/serving/workers";
import { simulateStack, StackSimulation } from "../../capacity/sim";
import { kedaReads } from "../../capacity/sim/triggers";
import { runStack, StackRun } from "../helpers/program";
import { parsedConfig, PlanCase } from "./plans";
import { PrometheusServer, promtool, requirePrometheus, startPrometheus, tempDir } from "./server";
import { simulatedSeries } from "./simSeries";

/**
 * One L4 pool from zero serving MedGemma 4B (0.9 GPU-seconds per request: the cold-start-aware
 * demand's arrival-rate term then moves its replica count) with every trigger on: cold-start-aware
 * demand, vLLM waiting (one request at a time per worker, up to 8 sent: vLLM queues the rest),
 * recent requests, batch backlog (400 lines at 13:00), P95 latency, GPU utilization, the
 * teachers' warm-ups (1 min before class), the predictive warm-up (a 1-day look-back: yesterday's
 * classes), a cron window, the stack's timetable (a cron trigger per session time). Day 0 of a generated trace is a Monday (history, not simulated); the simulated days are
 * Tuesday, whose 19:00 class has no history (a cold start with requests held), and Wednesday,
 * whose predictive warm-up reads Tuesday's simulated requests. The 19:00 class of 400 (1.3 requests
 * a second) is held through its cold start: the held count's deriv sizes the pool.
 */
const STACK: PlanCase = {
    label: "conformance",
    secrets: {},
    config: {
        "aws:region": "us-east-1",
        timezone: "UTC",
        tags: { team: "conformance" },
        serving: { allowInsecureHttp: true },
        gpuPools: [{ name: "l4", gpuType: "l4", instanceTypes: ["g6.xlarge"], capacityType: "on-demand", minNodes: 0, maxNodes: 4 }],
        models: [
            {
                id: "google/medgemma-4b-it",
                pool: "l4",
                maxNumSeqs: 8,
                scaling: {
                    minReplicas: 0,
                    maxReplicas: 4,
                    latencyP95Seconds: 20,
                    gpuUtilizationPercent: 70,
                    batchBacklogPerReplica: 100,
                    warmWindows: [{ days: "2", start: "16:00", end: "16:30", replicas: 1 }],
                    predictiveWarmup: { lookbackDays: 1, enabled: true },
                },
            },
        ],
        traffic: {
            profile: "timetable",
            seed: 1,
            warmupMinutesBefore: 1,
            service: { "medgemma-4b": { concurrency: 1 } },
            timetable: [
                { days: "1-3", start: "09:00", minutes: 60, students: 150, questionsPerStudent: 12 },
                { days: "1-3", start: "11:30", minutes: 45, students: 20, questionsPerStudent: 6 },
                { days: "2", start: "19:00", minutes: 40, students: 400, questionsPerStudent: 8 },
            ],
            batches: [{ days: "2", at: "13:00", lines: 400 }],
        },
        // The stack's timetable: a cron trigger warms the pool before the 11:30 class (stacks/cronTriggers.ts).
        timetable: { sessions: [{ days: "2-3", start: "11:30", minutes: 45 }] },
    },
};

interface EmittedScaledObject {
    readonly pool: string;
    readonly deployment: string;
    readonly spec: any;
}

function scaledObjects(run: StackRun): EmittedScaledObject[] {
    return (
        run.resources
            // Worker pools' ScaledObjects (the gateway has one too, on CPU and requests).
            .filter((r) => (r.inputs as any)?.kind === "ScaledObject" && (r.inputs as any).metadata.labels?.[WORKER_POOL_LABEL] !== undefined)
            .map((r) => {
                const i = r.inputs as any;
                return { pool: i.metadata.labels[WORKER_POOL_LABEL], deployment: i.spec.scaleTargetRef.name, spec: i.spec };
            })
    );
}

/** Prometheus answers at most 11,000 points per series and range query. */
const MAX_POINTS = 10_000;

/** Values of one query at evenly spaced times (range queries): per time, every series' value. */
async function queryRange(prom: PrometheusServer, query: string, start: number, end: number, step: number): Promise<Map<number, number[]>> {
    const out = new Map<number, number[]>();
    for (let from = start; from <= end; from += MAX_POINTS * step) {
        const to = Math.min(end, from + (MAX_POINTS - 1) * step);
        const res = await fetch(`${prom.url}/api/v1/query_range`, {
            method: "POST",
            body: new URLSearchParams({ query, start: String(from), end: String(to), step: String(step) }),
        });
        const body = (await res.json()) as { status: string; error?: string; data?: { result: { values: [number, string][] }[] } };
        assert.strictEqual(body.status, "success", `${body.error}\n${query}`);
        for (const series of body.data!.result) {
            for (const [t, v] of series.values) {
                if (!out.has(t)) out.set(t, []);
                out.get(t)!.push(Number(v));
            }
        }
    }
    return out;
}

/** KEDA's cron scaler (pkg/scalers/cron_scaler.go GetMetricsAndActivity at v2.20.2): active unless the next start comes before the next end. */
function cronActive(meta: { start: string; end: string; timezone: string }, t: number, startWeekday: number): boolean {
    assert.strictEqual(meta.timezone, "UTC", "the suite evaluates cron triggers in UTC only");
    const next = (expr: string) => {
        const [m, h, dom, mon, dow] = expr.split(" ");
        assert.ok(dom === "*" && mon === "*", `cron ${expr}: only minute, hour and day-of-week are evaluated`);
        const days = new Set<number>();
        for (const part of dow.split(",")) {
            const [a, b] = part.split("-").map(Number);
            for (let d = a; d <= (b ?? a); d++) days.add(d);
        }
        for (let d = 0; d <= 8; d++) {
            const day = Math.floor(t / 86400) + d;
            const at = day * 86400 + Number(h) * 3600 + Number(m) * 60;
            // robfig/cron Next(): the first activation strictly after now.
            if (at > t && days.has((startWeekday + day) % 7)) return at;
        }
        throw new Error(`cron ${expr} never fires`);
    };
    return !(next(meta.start) < next(meta.end));
}

interface Compared {
    readonly pool: string;
    readonly trigger: string;
    readonly loop: "keda" | "hpa";
    readonly t: number;
    /** Every value Prometheus returned at t. */
    readonly prometheus: number[];
    /** The value the simulator acted on (as KEDA reads it). */
    readonly simulated: number;
    readonly activationThreshold?: number;
    readonly simulatedActive?: boolean;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
/** "day 1 09:02:55" for simulated second t. */
const hhmm = (t: number) => {
    const d = Math.floor(t / 86400);
    const s = t - d * 86400;
    const two = (n: number) => String(n).padStart(2, "0");
    return `day ${d} ${two(Math.floor(s / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(Math.round(s % 60))}`;
};

describe("the simulator's trigger values against the plan's queries on a real Prometheus (conformance)", function () {
    this.timeout(180_000);
    let run: StackRun;
    let sim: StackSimulation;
    let prom: PrometheusServer | undefined;
    let emitted: EmittedScaledObject[];
    const compared: Compared[] = [];

    before(async function () {
        requirePrometheus();
        run = await runStack(STACK.config);
        const cfg = parsedConfig(STACK);
        sim = simulateStack(cfg, { days: 2, params: { recordSignals: true } });
        emitted = scaledObjects(run);
        const trace = sim.input.trace;
        // Midnight UTC of a recent day with the trace's weekday: sim time 0 (scrapes at multiples of 15 s).
        let t0 = Math.floor(Date.now() / 1000 / 86400) * 86400 - 3 * 86400;
        while (new Date(t0 * 1000).getUTCDay() !== trace.startWeekday) t0 -= 86400;

        const dir = tempDir("conformance-");
        const gw = gatewayConfig(cfg, []) as { queue: { maxWaitSeconds: number }; timetable?: TimetableConfig };
        assert.ok(gw.timetable, "the stack's timetable warms its pool, so its gateway exports gateway_timetable_session");
        // simSeries computes the gauge from t0 (a UTC midnight of the trace's weekday): the simulator's own clock agrees for weekly UTC sessions.
        assert.ok(
            gw.timetable.timezone === "UTC" && Object.values(gw.timetable.pools).every((ws) => ws.every((w) => w.days !== undefined)),
            "the suite writes gateway_timetable_session for weekly sessions in UTC only",
        );
        const { text } = simulatedSeries(sim.input, sim.result, {
            t0,
            namespace: cfg.serving.namespace,
            holdSeconds: gw.queue.maxWaitSeconds,
            deployments: new Map(emitted.map((so) => [so.pool, so.deployment])),
            batchBacklog: cfg.serving.batch.enabled,
            timetable: gw.timetable,
        });
        fs.writeFileSync(path.join(dir, "series.om"), text);
        // 54 h blocks: the file is read once per block, and two days fit in one or two.
        const backfill = await promtool([
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--quiet",
            "--max-block-duration=72h",
            path.join(dir, "series.om"),
            path.join(dir, "data"),
        ]);
        assert.strictEqual(backfill.code, 0, backfill.out);
        prom = await startPrometheus({ global: {} }, dir, { lookbackDelta: "12s" });

        const rec = sim.result.signals!;
        for (const so of emitted) {
            const wi = sim.input.workerPools.findIndex((w) => w.name === so.pool);
            assert.ok(wi >= 0, `the plan scales worker pool ${so.pool}, which the simulation does not have`);
            for (const loop of ["keda", "hpa"] as const) {
                const evals = rec.evaluations.filter((e) => e.pool === wi && e.loop === loop);
                assert.ok(evals.length > 0, `no ${loop} evaluation of ${so.pool}`);
                const step = loop === "keda" ? so.spec.pollingInterval : sim.input.workerPools[wi].policy.hpaSyncSeconds;
                const first = evals[0].t;
                for (const e of evals) assert.strictEqual((e.t - first) % step, 0, `${loop} evaluation at ${e.t} s is off the ${step} s grid`);
                for (const trig of so.spec.triggers) {
                    const values =
                        trig.type === "prometheus" ? await queryRange(prom, trig.metadata.query, t0 + first, t0 + evals[evals.length - 1].t, step) : undefined;
                    for (const e of evals) {
                        const reading = e.readings.find((r) => r.trigger === trig.name);
                        if (!reading) continue; // reported by the pairing test
                        const prometheus =
                            trig.type === "prometheus"
                                ? (values!.get(t0 + e.t) ?? [])
                                : [cronActive(trig.metadata, e.t, trace.startWeekday) ? Number(trig.metadata.desiredReplicas) : 0];
                        compared.push({
                            pool: so.pool,
                            trigger: trig.name,
                            loop,
                            t: e.t,
                            prometheus,
                            simulated: reading.value,
                            activationThreshold: trig.type === "prometheus" ? Number(trig.metadata.activationThreshold) : undefined,
                            simulatedActive: reading.active,
                        });
                    }
                }
            }
        }
    });

    after(async () => {
        await prom?.stop();
    });

    it("pairs every trigger the plan emits with one the simulator reads, and the reverse", () => {
        assert.ok(emitted.length > 0, "the plan has no ScaledObject");
        for (const so of emitted) {
            const wi = sim.input.workerPools.findIndex((w) => w.name === so.pool);
            const simulated = new Set(sim.result.signals!.evaluations.filter((e) => e.pool === wi).flatMap((e) => e.readings.map((r) => r.trigger)));
            const names = so.spec.triggers.map((t: { name: string }) => t.name);
            assert.deepStrictEqual([...simulated].sort(), [...names].sort(), `${so.pool}: triggers the simulator reads vs the ScaledObject's`);
        }
        // Every kind of trigger is in this stack's ScaledObject.
        const kinds = emitted.flatMap((so) => so.spec.triggers.map((t: { name: string }) => t.name.replace(/-\d+$/, "")));
        assert.deepStrictEqual([...new Set(kinds)].sort(), [
            "batch-backlog",
            "class",
            "demand",
            "gpu-utilization",
            "latency-p95",
            "predictive",
            "recent-requests",
            "vllm-waiting",
            "warm",
            "warmup",
        ]);
    });

    it("models each ScaledObject's loop: polling, cooldown, replica range, fallback, HPA behavior, thresholds", () => {
        for (const so of emitted) {
            const w = sim.input.workerPools.find((x) => x.name === so.pool)!;
            const pol = w.policy;
            assert.deepStrictEqual(
                {
                    pollingInterval: so.spec.pollingInterval,
                    cooldownPeriod: so.spec.cooldownPeriod,
                    minReplicaCount: so.spec.minReplicaCount,
                    maxReplicaCount: so.spec.maxReplicaCount,
                },
                {
                    pollingInterval: pol.pollingIntervalSeconds,
                    cooldownPeriod: pol.cooldownSeconds,
                    minReplicaCount: pol.minReplicas,
                    maxReplicaCount: pol.maxReplicas,
                },
            );
            // No fallback block: no fallback replicas in the simulation either.
            if (so.spec.fallback === undefined) assert.strictEqual(pol.fallbackReplicas, 0, "the ScaledObject has no fallback, the simulated policy does");
            else {
                assert.deepStrictEqual(
                    { failureThreshold: so.spec.fallback.failureThreshold, replicas: so.spec.fallback.replicas },
                    { failureThreshold: sim.input.params.fallbackFailureThreshold, replicas: pol.fallbackReplicas },
                );
            }
            assert.deepStrictEqual(so.spec.advanced.horizontalPodAutoscalerConfig.behavior, JSON.parse(JSON.stringify(pol.behavior)));
            for (const trig of so.spec.triggers.filter((t: { type: string }) => t.type === "prometheus")) {
                const m = pol.metrics.find((x) => x.trigger === trig.name);
                assert.ok(m, `no simulated metric for trigger ${trig.name}`);
                assert.deepStrictEqual(
                    {
                        trigger: trig.name,
                        metricType: trig.metricType,
                        threshold: Number(trig.metadata.threshold),
                        activationThreshold: Number(trig.metadata.activationThreshold),
                    },
                    { trigger: m.trigger, metricType: m.type, threshold: m.target, activationThreshold: m.activation },
                );
            }
        }
    });

    it("evaluates where Prometheus 2.42 (here) and 3.x (deployed) agree: no range starts on a scrape", () => {
        // 3.0 made range selectors left-open, (t - range, t]; 2.42 still counts a sample at t - range. Ranges and offsets
        // are whole seconds, scrapes every 15 s from midnight: a range starting on a multiple of 15 would differ.
        const period = sim.input.params.scrapeSeconds;
        const evalTimes = new Set(compared.map((c) => ((c.t % period) + period) % period));
        assert.deepStrictEqual(
            [...evalTimes].sort((a, b) => a - b),
            [5, 10],
            "polls 10 s and syncs 5 s after a scrape",
        );
        const ranges = emitted.flatMap((so) =>
            so.spec.triggers
                .filter((t: { type: string }) => t.type === "prometheus")
                .flatMap((t: { name: string; metadata: { query: string } }) =>
                    [...t.metadata.query.matchAll(/\[(\d+)s(?::\d+s)?\](?: offset (\d+)s)?/g)].map((m) => ({
                        trigger: t.name,
                        back: Number(m[1]) + Number(m[2] ?? 0),
                    })),
                ),
        );
        assert.ok(ranges.length >= 5, `ranges found: ${JSON.stringify(ranges)}`);
        const aligned = ranges.filter((r) => [...evalTimes].some((e) => (((e - r.back) % period) + period) % period === 0));
        assert.deepStrictEqual(aligned, [], "a range starts on a scrape at some evaluation time");
    });

    it("reads exactly one finite value from every trigger query at every poll and sync", () => {
        assert.ok(compared.length > 0);
        const bad = compared.filter((c) => c.prometheus.length !== 1 || !Number.isFinite(c.prometheus[0]));
        const byTrigger = new Map<string, Compared[]>();
        for (const c of bad) byTrigger.set(`${c.pool}/${c.trigger}`, [...(byTrigger.get(`${c.pool}/${c.trigger}`) ?? []), c]);
        const report = [...byTrigger].map(([k, cs]) => `${k}: ${cs.length} times, first at ${hhmm(cs[0].t)}: [${cs[0].prometheus.join(", ")}]`);
        assert.deepStrictEqual(report, [], "queries without exactly one finite value");
    });

    it("computes every trigger's value as Prometheus does, at every KEDA poll and HPA sync", () => {
        const mismatches = new Map<string, Compared[]>();
        for (const c of compared) {
            if (c.prometheus.length !== 1) continue; // reported above
            if (!close(kedaReads(c.prometheus[0]), c.simulated)) {
                const k = `${c.pool}/${c.trigger} (${c.loop})`;
                mismatches.set(k, [...(mismatches.get(k) ?? []), c]);
            }
        }
        const report = [...mismatches].map(
            ([k, cs]) =>
                `${k}: ${cs.length} of ${compared.filter((c) => `${c.pool}/${c.trigger} (${c.loop})` === k).length}; first at ${hhmm(cs[0].t)}: Prometheus ${cs[0].prometheus[0]}, simulator ${cs[0].simulated}`,
        );
        assert.deepStrictEqual(report, [], "trigger values that differ");
    });

    it("activates (or not) as KEDA would on Prometheus's values, at every poll", () => {
        const polls = compared.filter((c) => c.loop === "keda");
        const wrong = polls.filter((c) => {
            const active = c.activationThreshold === undefined ? c.prometheus[0] > 0 : kedaReads(c.prometheus[0]) > c.activationThreshold;
            return active !== c.simulatedActive;
        });
        assert.deepStrictEqual(
            wrong.slice(0, 5).map((c) => `${c.pool}/${c.trigger} at ${hhmm(c.t)}: KEDA on Prometheus ${c.prometheus[0]} vs simulator ${c.simulatedActive}`),
            [],
            `${wrong.length} of ${polls.length} activation decisions differ`,
        );
    });

    it("exercises every trigger: each reads a non-zero value at some poll, and each that can activate does", () => {
        const triggers = [...new Set(compared.map((c) => `${c.pool}/${c.trigger}`))];
        const idle = triggers.filter((k) => !compared.some((c) => `${c.pool}/${c.trigger}` === k && c.simulated > 0));
        assert.deepStrictEqual(idle, [], "triggers that read 0 all day prove nothing");
        const activating = triggers.filter((k) =>
            compared.some((c) => `${c.pool}/${c.trigger}` === k && (c.activationThreshold === undefined || c.activationThreshold < 1e6)),
        );
        const never = activating.filter((k) => !compared.some((c) => `${c.pool}/${c.trigger}` === k && c.simulatedActive));
        assert.deepStrictEqual(never, [], "activating triggers that never activated");
    });
});
