/**
 * The scaling signal chain against a real Prometheus: the real gateway (the stack's own
 * gateway config), fake vLLM workers and a fake DCGM exporter, scraped as the plan's
 * ServiceMonitors ask, with the plan's rules loaded. Every PromQL expression the plan emits
 * (ScaledObject triggers, recording rules, dashboard panels; collected from the rendered
 * objects, so triggers added later are covered) is evaluated through the HTTP API, and
 * the values the triggers exist for are checked:
 * - no traffic: demand 0, every trigger one finite value (KEDA refuses several), cost = floor;
 * - N requests held at a pool at zero replicas: demand N; refusals (429) are no activity;
 * - workers up: held requests served count as recent activity; the GPU-utilization trigger
 *   is the pool's average utilization times its replicas whatever their request counts;
 *   the cost prices the nodes the workers keep up; every expression has data.
 * The tests of one plan run in order and share its world.
 */
import * as assert from "assert";
import { natGatewayCount, poolNodePrice, staticCost } from "../../capacity/cost";
import { FakeGpu } from "../fakes/dcgm";
import { gatewayMetricNames, promqlMetricNames } from "../helpers/metrics";
import { parsedConfig, PLAN_CASES, render } from "./plans";
import { triggers } from "./plan";
import { eventually, requirePrometheus } from "./server";
import { Expression, World } from "./world";

/** Requests held at the cold pool; the queue is capped there so the next ones are refused. */
const HELD = 3;
/** Workers started for the pool under test. */
const WORKERS = 2;
/** Running requests on the first worker (the second has none): must not weigh GPU utilization. */
const RUNNING_ON_FIRST = 6;

interface Evaluated {
    e: Expression;
    status: string;
    error?: string;
    samples: number;
}

async function evaluateAll(w: World): Promise<Evaluated[]> {
    return Promise.all(
        w.expressions().map(async (e) => {
            const r = await w.prometheus.query(e.expr);
            return { e, status: r.status, error: r.error, samples: r.samples.length };
        }),
    );
}

function assertNoErrors(results: Evaluated[]): void {
    const failed = results.filter((r) => r.status !== "success").map((r) => `${r.e.source}: ${r.error}\n    ${r.e.expr}`);
    assert.deepStrictEqual(failed, [], `queries Prometheus refused:\n${failed.join("\n")}`);
}

/** Every prometheus trigger of every ScaledObject (workers and the gateway): exactly one finite sample. */
async function assertOneFiniteValueEach(w: World): Promise<void> {
    const bad: string[] = [];
    for (const e of w.expressions().filter((x) => x.kind === "trigger")) {
        const r = await w.prometheus.query(e.expr);
        if (r.status !== "success" || r.samples.length !== 1 || !Number.isFinite(r.samples[0].value))
            bad.push(`${e.source}: ${r.error ?? JSON.stringify(r.samples.map((x) => x.value))}`);
    }
    assert.deepStrictEqual(bad, [], "triggers without exactly one finite value (KEDA would read NaN, Inf or nothing as 0)");
}

const usdPerHour = async (w: World) => (await w.prometheus.query("gpuserve:usd_per_hour")).samples.map((s) => s.value);

/** The worlds of all plans, started together on first use (their stack renders and Prometheus start-ups overlap). */
const worlds = new Map<string, Promise<World>>();
function worldFor(label: string): Promise<World> {
    if (worlds.size === 0) {
        for (const p of PLAN_CASES) {
            const started = render(p).then((run) => World.start(p.label, run, parsedConfig(p), HELD));
            started.catch(() => undefined); // awaited (and reported) by that plan's before()
            worlds.set(p.label, started);
        }
    }
    return worlds.get(label)!;
}

for (const plan of PLAN_CASES) {
    describe(`Scaling signals on a real Prometheus: ${plan.label}`, function () {
        this.timeout(60_000); // rendering the plan under the mocks takes seconds on a busy machine
        let w: World;
        let pool: string;
        const floor = () => staticCost(w.cfg, natGatewayCount(w.cfg)).floor.reduce((s, l) => s + l.usdPerHour * l.quantity, 0);

        before(async function () {
            requirePrometheus();
            w = await worldFor(plan.label);
            pool = w.biggestNodePool();
            // A GPU of another namespace's pod with the same name as a worker-to-be, and an idle unallocated GPU.
            w.setGpus([{ util: 100, pod: { name: w.podName(pool, 0), namespace: "research", container: "train" } }, { util: 0 }]);
            await w.ready();
        });

        after(async () => {
            await w?.stop();
        });

        it("no traffic: every expression evaluates, every trigger reads one finite value (0), the cost panel shows the floor", async () => {
            assertNoErrors(await evaluateAll(w));
            // Every prometheus trigger of every ScaledObject: exactly one finite value, and 0 with nothing happening
            // (triggerValue throws on none, several, NaN or Inf).
            const all = w.triggerNames();
            assert.ok(all.length >= w.pools.size * 4, JSON.stringify(all));
            for (const [p, t] of all) assert.strictEqual(await w.triggerValue(p, t), 0, `${p} ${t}`);
            await assertOneFiniteValueEach(w);
            // The cost panels (currency unit) have a value now, when the platform floor is the whole bill.
            const costPanels = w.expressions().filter((e) => e.kind === "panel" && e.unit?.startsWith("currency"));
            assert.ok(costPanels.length > 0, "no dashboard panel shows a cost");
            for (const e of costPanels) assert.ok((await w.prometheus.query(e.expr)).samples.length > 0, `${e.source} has no value at zero workers: ${e.expr}`);
            const cost = await usdPerHour(w);
            assert.strictEqual(cost.length, 1, "gpuserve:usd_per_hour has no value at zero workers");
            assert.ok(Math.abs(cost[0] - floor()) < 1e-9, `cost ${cost[0]} != floor ${floor()}`);
        });

        it(`${HELD} requests held at a pool at zero replicas read as demand ${HELD}; refused requests are no activity`, async () => {
            for (let i = 0; i < HELD; i++) void w.send(pool);
            await eventually(
                "the gateway to hold the requests",
                async () => w.gateway.pools.get(pool)!.queueDepth,
                (n) => n === HELD,
            );
            // Over the queue cap: 429, twice with a scrape between, so a counter of refusals would show an increase.
            assert.strictEqual(await w.send(pool), 429);
            await eventually(
                "a scrape of the refusal",
                async () => (await w.prometheus.query(`sum(gateway_requests_total{pool="${pool}",code="429"})`)).samples[0]?.value ?? 0,
                (v) => v >= 1,
            );
            assert.strictEqual(await w.send(pool), 429);
            await eventually(
                "a scrape of the second refusal",
                async () => (await w.prometheus.query(`sum(gateway_requests_total{pool="${pool}",code="429"})`)).samples[0]?.value ?? 0,
                (v) => v >= 2,
            );
            await eventually(
                `demand of ${pool}`,
                () => w.triggerValue(pool, "demand"),
                (v) => v === HELD,
            );
            assert.strictEqual(await w.triggerValue(pool, "recent-requests"), 0, "refused requests kept the pool awake");
            for (const other of [...w.pools.keys()].filter((p) => p !== pool)) assert.strictEqual(await w.triggerValue(other, "demand"), 0, `${other} demand`);
            assertNoErrors(await evaluateAll(w));
        });

        it("workers up: served requests are activity, GPU utilization is the pool's average times its replicas whatever the request counts, the cost prices whole nodes", async () => {
            const fakes = await w.addWorkers(pool, WORKERS);
            // The held requests are served by the new workers.
            await eventually(
                "the held requests to be served",
                async () => fakes.reduce((s, f) => s + f.stats().completed, 0),
                (n) => n === HELD,
            );
            await eventually(
                `recent activity of ${pool}`,
                () => w.triggerValue(pool, "recent-requests"),
                (v) => (v ?? 0) > 0,
            );
            await eventually(
                `demand of ${pool} after serving`,
                () => w.triggerValue(pool, "demand"),
                (v) => v === 0,
            );

            // Long answers on the first worker only; DCGM sees each worker pod's GPU.
            fakes[0].setTokenDelay(60_000);
            for (let i = 0; i < RUNNING_ON_FIRST; i++) w.sendDirect(fakes[0], pool);
            await eventually(
                "requests running on the first worker",
                async () => fakes[0].stats().running,
                (n) => n === RUNNING_ON_FIRST,
            );
            const ns = w.pools.get(pool)!.namespace;
            const utils = [80, 40];
            const gpus: FakeGpu[] = [
                ...utils.map((util, i) => ({ util, pod: { name: w.podName(pool, i), namespace: ns, container: w.pools.get(pool)!.container } })),
                { util: 100, pod: { name: w.podName(pool, 0), namespace: "research", container: "train" } },
                { util: 0 },
            ];
            w.setGpus(gpus);
            const expectedGpu = (utils.reduce((a, b) => a + b, 0) / utils.length) * WORKERS;
            if (plan.optionalTriggers) {
                await eventually(
                    `the GPU-utilization trigger of ${pool} to read avg util x replicas = ${expectedGpu}`,
                    async () => {
                        const running = (await w.prometheus.query(`sum(vllm:num_requests_running{pool="${pool}"})`)).samples[0]?.value;
                        return { running, value: await w.triggerValue(pool, "gpu-utilization") };
                    },
                    (r) => r.running === RUNNING_ON_FIRST && r.value === expectedGpu,
                );
                // Requests finished within the window: the P95 latency trigger reads a positive, finite value.
                assert.ok((await w.triggerValue(pool, "latency-p95")) > 0);
            }
            // Every trigger (the gateway's too) still reads exactly one finite value with workers up.
            await assertOneFiniteValueEach(w);

            // Cost: the pool's GPU node group at ceil(workers / GPUs per node) nodes, at a whole node's price.
            const gpuPool = w.cfg.gpuPools.find((p) => p.name === w.cfg.models.find((m) => m.name === pool)!.pool)!;
            const nodes = Math.max(gpuPool.minNodes, Math.ceil(WORKERS / gpuPool.gpusPerNode));
            const expectedCost = floor() + nodes * poolNodePrice(w.cfg, gpuPool).usdPerHour;
            await eventually(
                `cost with ${WORKERS} ${pool} workers = ${expectedCost}`,
                () => usdPerHour(w),
                (v) => v.length === 1 && Math.abs(v[0] - expectedCost) < 1e-9,
            );
            // A cost panel shows that total.
            const totals = await Promise.all(
                w
                    .expressions()
                    .filter((x) => x.kind === "panel" && x.unit?.startsWith("currency"))
                    .map(async (e) => (await w.prometheus.query(e.expr)).samples),
            );
            assert.ok(
                totals.some((t) => t.length === 1 && Math.abs(t[0].value - expectedCost) < 1e-9),
                "no cost panel query shows the total",
            );

            // Now every expression has data: each queries metrics that are exported with the labels it selects.
            // Exception: a panel on gateway counters with no series yet (prom-client creates a labelled
            // series on first use, e.g. retries or stream errors, which this world does not cause).
            const gatewayNames = new Set(await gatewayMetricNames());
            const unseen = async (name: string) => (await w.prometheus.query(`count({__name__="${name}"})`)).samples.length === 0;
            // Retried: on a loaded machine a 500 ms scrape can time out and mark a target's series stale for a moment.
            const empty = await eventually(
                "every expression to have data",
                async () => {
                    const results = await evaluateAll(w);
                    assertNoErrors(results);
                    const out: string[] = [];
                    // Alert conditions have data only while they fire (the budget alerts are tested under promtool).
                    for (const r of results.filter((x) => x.samples === 0 && x.e.kind !== "alert")) {
                        const names = promqlMetricNames(r.e.expr);
                        const lazy =
                            r.e.kind === "panel" &&
                            names.length > 0 &&
                            names.every((n) => gatewayNames.has(n)) &&
                            (await Promise.all(names.map(unseen))).every(Boolean);
                        if (!lazy) out.push(`${r.e.source}: ${r.e.expr}`);
                    }
                    return out;
                },
                (out) => out.length === 0,
                5000,
            ).catch((e: Error) => [e.message]);
            assert.deepStrictEqual(empty, [], `expressions with no data while workers run:\n${empty.join("\n")}`);
        });
    });
}

describe("Scaling signals on a real Prometheus: coverage", () => {
    it("evaluates every kind of prometheus trigger the stack can emit, in at least one plan", async function () {
        this.timeout(60_000);
        const names = new Set<string>();
        for (const p of PLAN_CASES) for (const t of triggers((await render(p)).resources).filter((x) => x.target.startsWith("worker-"))) names.add(t.name);
        assert.deepStrictEqual([...names].sort(), [
            "batch-backlog",
            "demand",
            "gpu-utilization",
            "latency-p95",
            "predictive",
            "recent-requests",
            "vllm-waiting",
            "warmup",
        ]);
    });
});
