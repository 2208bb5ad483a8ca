/**
 * Per-team bills through the real gateway (in process, with the bill's clock in the test's
 * hands): two teams on one pool with a fake worker, every figure hand-computed from the
 * attribution rule (gateway/src/billing/rule.ts) in the comments. The built gateway as a
 * process is driven in billing-process.test.ts.
 */
import * as assert from "assert";
import { request } from "undici";
import { sha256Hex } from "../../gateway/src/index";
import { chatBody, config, fake, gateway, get, KEY, KEY2, metric, metrics, MODEL, post, waitFor } from "./helpers";

/** 2026-12-02 00:00 UTC: a minute boundary a day into the month. */
const T0 = Date.UTC(2026, 11, 2) / 1000;
const MONTH_END = Date.UTC(2027, 0, 1) / 1000;
/** $3.60/hour a node: $0.001 per worker-second, so dollars read as thousandths of seconds. */
const NODE = 3.6;
const FLOOR = 0.72;

const close = (actual: number | undefined, expected: number, what: string, eps = 1e-6) =>
    assert.ok(actual !== undefined && Math.abs(actual - expected) < eps, `${what}: ${actual} != ${expected}`);

function billingConfig(upstream: string, extra: Record<string, unknown> = {}) {
    return config([upstream], {
        pools: [
            {
                name: "a10g",
                models: [MODEL],
                upstreams: [upstream],
                maxConcurrentPerUpstream: 2,
                coldStartSecondsEstimate: 600,
                billing: { nodePool: "a10g", nodeUsdPerHour: NODE },
            },
        ],
        auth: {
            keys: [
                { team: "radiology", sha256: sha256Hex(KEY), permissions: ["warmup"] },
                { team: "cardiology", sha256: sha256Hex(KEY2), permissions: ["warmup"] },
            ],
        },
        billing: { floorUsdPerHour: FLOOR, floorSplit: "equal" },
        limits: { teams: { radiology: { budgetUsdPerMonth: 0.2 }, cardiology: { budgetUsdPerMonth: 0.1, budgetHardStop: true } } },
        ...extra,
    });
}

async function warmup(url: string, key: string, minutes: number) {
    const res = await request(`${url}/v1/warmup`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: MODEL, minutes }),
    });
    return { status: res.statusCode, headers: res.headers, json: (await res.body.json()) as any };
}

describe("gateway per-team bill (two teams, one pool, fake worker)", function () {
    this.timeout(30_000);

    it("meters busy worker-seconds, splits idle, warm-up and cold start by the rule, and prices them with the floor", async () => {
        let clock = T0;
        const f = await fake();
        const gw = await gateway(billingConfig(f.url), { now: () => clock * 1000 });
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 5000, "worker ready");
        const at = async (t: number) => {
            clock = t;
            await gw.billing.settle();
        };

        // Minute 0: radiology and cardiology each hold one of the worker's 2 slots for 30 s, then radiology one for 20 s.
        f.pause();
        const r1 = post(gw.url, chatBody("first", { max_tokens: 2 }), { key: KEY });
        const c1 = post(gw.url, chatBody("second", { max_tokens: 2 }), { key: KEY2 });
        await waitFor(() => f.stats().running === 2, 5000, "both requests on the worker");
        clock = T0 + 30;
        f.resume();
        assert.deepStrictEqual([(await r1).status, (await c1).status], [200, 200]);
        f.pause();
        const r2 = post(gw.url, chatBody("third", { max_tokens: 2 }), { key: KEY });
        await waitFor(() => f.stats().running === 1, 5000, "third request on the worker");
        clock = T0 + 50;
        f.resume();
        assert.strictEqual((await r2).status, 200);
        // Busy: radiology 30/2 + 20/2 = 25, cardiology 30/2 = 15. Idle 60 - 40 = 20, split 25:15 -> 12.5 and 7.5.
        await at(T0 + 60);
        // Minute 1: nobody; idle 60 split by the hour's 25:15 -> 37.5 and 22.5.
        await at(T0 + 120);
        // Minute 2: cardiology's warm-up (1 minute) holds the idle worker: 60 s of warm-up for cardiology.
        assert.strictEqual((await warmup(gw.url, KEY2, 1)).status, 202);
        await at(T0 + 120);
        await at(T0 + 180);
        // Minute 3: the worker goes (pool at zero); a radiology request waits for it from 200.
        gw.pools.get("a10g")!.setUpstreams([]);
        clock = T0 + 200;
        const r3 = post(gw.url, chatBody("fourth", { max_tokens: 2 }), { key: KEY });
        await waitFor(async () => metric(await metrics(gw.url), "gateway_queue_depth", { pool: "a10g" }) === 1, 5000, "request held");
        await at(T0 + 240);
        // Minute 4: the worker is back at 250 and answers at once. Cold start 60 + 10 = 70 s: radiology's (it waited).
        // Idle 50, split by the hour's 25:15 -> 31.25 and 18.75.
        clock = T0 + 250;
        gw.pools.get("a10g")!.setUpstreams([f.url]);
        assert.strictEqual((await r3).status, 200);
        await at(T0 + 300);

        const m = await metrics(gw.url);
        const seconds = (team: string, kind: string) => metric(m, "gateway_team_attributed_seconds_total", { team, pool: "a10g", kind });
        close(metric(m, "gateway_team_worker_seconds_total", { team: "radiology", pool: "a10g" }), 25, "radiology busy (measured)");
        close(metric(m, "gateway_team_worker_seconds_total", { team: "cardiology", pool: "a10g" }), 15, "cardiology busy (measured)");
        close(seconds("radiology", "busy"), 25, "radiology busy");
        close(seconds("radiology", "idle"), 12.5 + 37.5 + 31.25, "radiology idle");
        close(seconds("radiology", "cold_start"), 70, "radiology cold start");
        close(seconds("radiology", "warmup"), 0, "radiology warm-up");
        close(seconds("cardiology", "busy"), 15, "cardiology busy");
        close(seconds("cardiology", "idle"), 7.5 + 22.5 + 18.75, "cardiology idle");
        close(seconds("cardiology", "warmup"), 60, "cardiology warm-up");
        close(seconds("cardiology", "cold_start"), 0, "cardiology cold start");
        // Dollars: $0.001 per worker-second. Radiology 25 + 81.25 + 70 = 176.25 s, cardiology 15 + 48.75 + 60 = 123.75 s.
        close(metric(m, "gateway_team_usd_total", { team: "radiology", pool: "a10g" }), 0.17625, "radiology GPU USD");
        close(metric(m, "gateway_team_usd_total", { team: "cardiology", pool: "a10g" }), 0.12375, "cardiology GPU USD");
        // The floor: $0.72/h for the 300 s since the first step, in equal parts: $0.03 each.
        close(metric(m, "gateway_team_month_usd", { team: "radiology" }), 0.17625 + 0.03, "radiology month");
        close(metric(m, "gateway_team_budget_usd", { team: "radiology" }), 0.2, "radiology budget");

        // GET /v1/usage: the calling team's own month, nothing of the other's.
        const u = (await get(gw.url, "/v1/usage", KEY)).json;
        assert.strictEqual(u.team, "radiology");
        close(u.gpu_usd, 0.1763, "usage gpu_usd", 1e-4);
        close(u.floor_usd, 0.03, "usage floor_usd", 1e-4);
        close(u.spent_usd, 0.2063, "usage spent_usd", 1e-4);
        assert.strictEqual(u.budget_usd, 0.2);
        assert.strictEqual(u.over_budget, true);
        assert.deepStrictEqual(u.refused, ["warmup", "batch"]);
        assert.strictEqual(u.period.start, "2026-12-01T00:00:00.000Z");
        assert.strictEqual(u.as_of, new Date((T0 + 300) * 1000).toISOString());
        assert.deepStrictEqual(u.pools, [{ pool: "a10g", usd: 0.1763, worker_seconds: { busy: 25, warmup: 0, idle: 81.25, cold_start: 70 } }]);
        // Forecast: the last hour-or-more's GPU rate ($0.17625 over max(1 h, 300 s)) to the month's end, plus half the floor from T0 to the month's end.
        const left = MONTH_END - (T0 + 300);
        close(u.forecast_usd, 0.17625 + (0.17625 / 3600) * left + (FLOOR * (MONTH_END - T0)) / 3600 / 2, "forecast", 1e-4);
        assert.ok(!JSON.stringify(u).includes("cardiology"), "another team's name or figures must not appear");

        // Budgets: radiology (past $0.20) may not warm up; its chat goes on. Cardiology (hard stop, past $0.10) is refused chat.
        const refused = await warmup(gw.url, KEY, 5);
        assert.strictEqual(refused.status, 429);
        assert.strictEqual(refused.headers["x-should-retry"], "false");
        assert.strictEqual(refused.json.error.type, "insufficient_quota");
        assert.strictEqual(refused.json.error.code, "budget_exceeded");
        assert.match(
            refused.json.error.message,
            /Team 'radiology' has spent \$0\.21 of its \$0\.20 monthly budget \(limits\.teams\.radiology\.budgetUsdPerMonth\): warm-ups are refused until the month ends \(2027-01-01 UTC\)/,
        );
        assert.strictEqual((await post(gw.url, chatBody("still works", { max_tokens: 2 }), { key: KEY })).status, 200);
        const stopped = await post(gw.url, chatBody("hard stop", { max_tokens: 2 }), { key: KEY2 });
        assert.strictEqual(stopped.status, 429);
        assert.strictEqual(stopped.json.error.code, "budget_exceeded");
        assert.match(
            stopped.json.error.message,
            /Team 'cardiology' has spent \$0\.15 of its \$0\.10 monthly budget \(limits\.teams\.cardiology\.budgetUsdPerMonth\): its requests are refused \(budgetHardStop\)/,
        );
    });

    it("a team arriving while another team's warm-up wakes the pool does not pay that cold start", async () => {
        let clock = T0;
        const f = await fake();
        const gw = await gateway(billingConfig(f.url), { now: () => clock * 1000 });
        gw.pools.get("a10g")!.setUpstreams([]);
        await gw.billing.settle();
        // Cardiology warms the pool at zero; radiology's request arrives during the wake and waits.
        assert.strictEqual((await warmup(gw.url, KEY2, 10)).status, 202);
        await gw.billing.settle();
        clock = T0 + 30;
        const r = post(gw.url, chatBody("during the warm-up", { max_tokens: 2 }), { key: KEY });
        await waitFor(async () => metric(await metrics(gw.url), "gateway_queue_depth", { pool: "a10g" }) === 1, 5000, "request held");
        clock = T0 + 90;
        gw.pools.get("a10g")!.setUpstreams([f.url]);
        assert.strictEqual((await r).status, 200);
        clock = T0 + 120;
        await gw.billing.settle();
        const m = await metrics(gw.url);
        // Cold start 0..90: cardiology's. Minute 1 from 90: 30 s of worker, idle under one worker -> cardiology's warm-up.
        close(metric(m, "gateway_team_attributed_seconds_total", { team: "cardiology", pool: "a10g", kind: "cold_start" }), 90, "cardiology cold start");
        close(metric(m, "gateway_team_attributed_seconds_total", { team: "radiology", pool: "a10g", kind: "cold_start" }), 0, "radiology cold start");
        close(metric(m, "gateway_team_attributed_seconds_total", { team: "cardiology", pool: "a10g", kind: "warmup" }), 30, "cardiology warm-up");
    });

    it("two workers on one 8-GPU node share its price: a minute of both is one node-minute", async () => {
        let clock = T0;
        const [f1, f2] = [await fake(), await fake()];
        const cfg = billingConfig(f1.url, { limits: {} });
        const gw = await gateway(
            {
                ...cfg,
                pools: [
                    {
                        name: "a10g",
                        models: [MODEL],
                        upstreams: [f1.url, f2.url],
                        maxConcurrentPerUpstream: 2,
                        billing: { nodePool: "p4", nodeUsdPerHour: 7.2, gpusPerNode: 8 },
                    },
                ],
            },
            { now: () => clock * 1000 },
        );
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 2, 5000, "workers ready");
        f1.pause();
        f2.pause();
        const r = post(gw.url, chatBody("one", { max_tokens: 2 }), { key: KEY });
        await waitFor(() => f1.stats().running + f2.stats().running === 1, 5000, "on a worker");
        clock = T0 + 30;
        f1.resume();
        f2.resume();
        assert.strictEqual((await r).status, 200);
        clock = T0 + 60;
        await gw.billing.settle();
        // 120 worker-seconds (radiology's: busy 15, the rest idle it alone used), on one node of $7.20/h shared by 2: $0.12.
        const u = (await get(gw.url, "/v1/usage", KEY)).json;
        assert.deepStrictEqual(u.pools, [{ pool: "a10g", usd: 0.12, worker_seconds: { busy: 15, warmup: 0, idle: 105, cold_start: 0 } }]);
    });

    it("an account budget (every team of the gateway together) refuses every team's warm-ups once the account is past it", async () => {
        let clock = T0;
        const f = await fake();
        const gw = await gateway(
            billingConfig(f.url, { limits: {}, billing: { floorUsdPerHour: FLOOR, account: { name: "biology", budgetUsdPerMonth: 0.05 } } }),
            { now: () => clock * 1000 },
        );
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 5000, "worker ready");
        f.pause();
        const r = post(gw.url, chatBody("spend", { max_tokens: 2 }), { key: KEY });
        await waitFor(() => f.stats().running === 1, 5000, "on the worker");
        clock = T0 + 30;
        f.resume();
        assert.strictEqual((await r).status, 200);
        clock = T0 + 60;
        await gw.billing.settle();
        // Radiology: busy 15 + idle 45 = 60 worker-seconds, $0.06; the floor's minute $0.012 in halves. The account: $0.072.
        const u = (await get(gw.url, "/v1/usage", KEY2)).json;
        assert.strictEqual(u.team, "cardiology");
        close(u.spent_usd, 0.006, "cardiology's own month", 1e-4);
        assert.deepStrictEqual(u.account, {
            name: "biology",
            spent_usd: 0.072,
            elsewhere_usd: 0,
            forecast_usd: u.account.forecast_usd,
            budget_usd: 0.05,
            budget_used: 1.44,
            over_budget: true,
            hard_stop: false,
        });
        assert.deepStrictEqual(u.refused, ["warmup", "batch"]);
        // Cardiology spent almost nothing, but its account is past its budget.
        const refused = await warmup(gw.url, KEY2, 5);
        assert.strictEqual(refused.status, 429);
        assert.match(
            refused.json.error.message,
            /^'biology' \(every team of this gateway\) has spent \$0\.07 of its \$0\.05 monthly budget \(billing\.account\.budgetUsdPerMonth\): warm-ups are refused/,
        );
        assert.strictEqual((await post(gw.url, chatBody("still works", { max_tokens: 2 }), { key: KEY2 })).status, 200);
        close(metric(await metrics(gw.url), "gateway_account_month_usd", { account: "biology" }), 0.072, "account metric");
    });

    it("an account counts what another gateway bills it (a platform's shared pool) and is refused on that too", async () => {
        let clock = T0;
        const f = await fake();
        // The platform's shared gateway: the team "physics" is one key there; it bills the shared pool, no floor.
        const shared = await gateway(
            config([f.url], {
                pools: [{ name: "qwen", models: [MODEL], upstreams: [f.url], maxConcurrentPerUpstream: 2, billing: { nodePool: "l4", nodeUsdPerHour: NODE } }],
                auth: { keys: [{ team: "physics", sha256: sha256Hex("sk-physics-on-the-shared-gateway-0001") }] },
            }),
            { now: () => clock * 1000 },
        );
        // The team's own gateway: no GPU of its own, its keys' groups, an account with the shared gateway's bill in it.
        process.env.TEST_SHARED_POOL_KEY = "sk-physics-on-the-shared-gateway-0001";
        const own = await gateway(
            config(["http://127.0.0.1:9"], {
                pools: [{ name: "none", models: ["unused-model"], upstreams: ["http://127.0.0.1:9"] }],
                auth: { keys: [{ team: "physics-staff", sha256: sha256Hex(KEY), permissions: ["warmup"] }] },
                billing: { account: { name: "physics", budgetUsdPerMonth: 0.02, elsewhere: [{ url: shared.url, apiKeyEnv: "TEST_SHARED_POOL_KEY" }] } },
            }),
            { now: () => clock * 1000 },
        );
        await waitFor(() => shared.pools.get("qwen")!.readyCount() === 1, 5000, "worker ready");
        f.pause();
        const r = post(shared.url, chatBody("shared", { max_tokens: 2 }), { key: "sk-physics-on-the-shared-gateway-0001" });
        await waitFor(() => f.stats().running === 1, 5000, "on the worker");
        clock = T0 + 30;
        f.resume();
        assert.strictEqual((await r).status, 200);
        clock = T0 + 60;
        await shared.billing.settle(); // physics: 15 busy + 45 idle = $0.06 on the shared pool
        await own.billing.settle();
        const u = (await get(own.url, "/v1/usage", KEY)).json;
        assert.strictEqual(u.account.elsewhere_usd, 0.06);
        assert.strictEqual(u.account.spent_usd, 0.06);
        assert.strictEqual(u.account.over_budget, true);
        const refused = await warmup(own.url, KEY, 5);
        assert.strictEqual(refused.status, 429);
        assert.match(refused.json.error.message, /'physics' \(every team of this gateway\) has spent \$0\.06 of its \$0\.02 monthly budget/);
        delete process.env.TEST_SHARED_POOL_KEY;
    });

    it("answers GET /v1/usage only with a valid key, and with no budget shows none", async () => {
        const f = await fake();
        const gw = await gateway(billingConfig(f.url, { limits: {} }));
        assert.strictEqual((await get(gw.url, "/v1/usage", null)).status, 401);
        assert.strictEqual((await get(gw.url, "/v1/usage", "sk-wrong-key")).status, 401);
        const u = (await get(gw.url, "/v1/usage", KEY2)).json;
        assert.strictEqual(u.team, "cardiology");
        assert.strictEqual(u.budget_usd, null);
        assert.strictEqual(u.over_budget, false);
        assert.deepStrictEqual(u.refused, []);
    });
});
