/**
 * Per-team bills across gateway replicas in the batch store (real redis-server): two replicas
 * meter their own requests, write their steps to Valkey, and fold the same books; a restarted
 * replica reads the month back; a team past its budget cannot create a batch.
 */
import * as assert from "assert";
import { request } from "undici";
import { GatewayConfigInput, sha256Hex } from "../../gateway/src/index";
import { redisForFile } from "../helpers/redis";
import { chatBody, config, fake, gateway, get, KEY, KEY2, MODEL, post, waitFor } from "./helpers";

const redis = redisForFile();
const T0 = Date.UTC(2026, 11, 2) / 1000;
let prefixN = 0;

function sharedConfig(upstream: string, extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
    return config([upstream], {
        pools: [{ name: "a10g", models: [MODEL], upstreams: [upstream], maxConcurrentPerUpstream: 4, billing: { nodePool: "a10g", nodeUsdPerHour: 3.6 } }],
        auth: {
            keys: [
                { team: "radiology", sha256: sha256Hex(KEY) },
                { team: "cardiology", sha256: sha256Hex(KEY2) },
            ],
        },
        batch: { redisUrl: redis.url, keyPrefix: `u${process.pid}-${++prefixN}:{b}:`, metricsIntervalSeconds: 60 },
        billing: { floorUsdPerHour: 0 },
        ...extra,
    });
}

describe("per-team bills in the batch store (real redis-server)", function () {
    this.timeout(30_000);

    it("two replicas bill the same month from each one's requests; a restarted replica reads it back", async () => {
        let clock = T0;
        const now = () => clock * 1000;
        const f = await fake();
        const cfg = sharedConfig(f.url);
        const a = await gateway(cfg, { now });
        const b = await gateway(cfg, { now });
        await waitFor(() => a.pools.get("a10g")!.readyCount() === 1 && b.pools.get("a10g")!.readyCount() === 1, 5000, "workers ready");
        // Radiology through A and through B, cardiology through B, each request holding one of the worker's 4 slots for 30 s.
        f.pause();
        const sent = [
            post(a.url, chatBody("via a", { max_tokens: 2 }), { key: KEY }),
            post(b.url, chatBody("via b", { max_tokens: 2 }), { key: KEY }),
            post(b.url, chatBody("via b", { max_tokens: 2 }), { key: KEY2 }),
        ];
        await waitFor(() => f.stats().running === 3, 5000, "all on the worker");
        clock = T0 + 30;
        f.resume();
        assert.deepStrictEqual(
            (await Promise.all(sent)).map((r) => r.status),
            [200, 200, 200],
        );
        clock = T0 + 60;
        // Both replicas write before either folds (in production: the fold waits two flush periods).
        await a.billing.write();
        await b.billing.write();
        await a.billing.settle();
        await b.billing.settle();
        // Busy: radiology 2 x 30 / 4 = 15 (half through each replica), cardiology 7.5. Idle 60 - 22.5 = 37.5 split 2:1:
        // radiology 25, cardiology 12.5. $0.001 per worker-second: $0.04 and $0.02.
        const usage = async (url: string, key: string) => (await get(url, "/v1/usage", key)).json;
        const expected = {
            radiology: [{ pool: "a10g", usd: 0.04, worker_seconds: { busy: 15, warmup: 0, idle: 25, cold_start: 0 } }],
            cardiology: [{ pool: "a10g", usd: 0.02, worker_seconds: { busy: 7.5, warmup: 0, idle: 12.5, cold_start: 0 } }],
        };
        for (const gw of [a, b]) {
            for (const [key, team] of [
                [KEY, "radiology"],
                [KEY2, "cardiology"],
            ] as const) {
                const u = await usage(gw.url, key);
                assert.strictEqual(u.team, team);
                assert.deepStrictEqual(u.pools, expected[team], `${team} via ${gw === a ? "A" : "B"}`);
            }
        }
        // A restarts: its new process folds the month from the store.
        await a.close();
        const a2 = await gateway(cfg, { now });
        await a2.billing.settle();
        assert.deepStrictEqual((await usage(a2.url, KEY)).pools, expected.radiology);
    });

    it("refuses a new batch of a team past its budget (429 insufficient_quota naming the budget)", async () => {
        let clock = T0;
        const f = await fake();
        const gw = await gateway(sharedConfig(f.url, { limits: { teams: { radiology: { budgetUsdPerMonth: 0.01 } } } }), { now: () => clock * 1000 });
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 5000, "worker ready");
        f.pause();
        const r = post(gw.url, chatBody("spend", { max_tokens: 2 }), { key: KEY });
        await waitFor(() => f.stats().running === 1, 5000, "on the worker");
        clock = T0 + 60;
        f.resume();
        assert.strictEqual((await r).status, 200);
        await gw.billing.settle(); // 30 busy + 30 idle: $0.06 > $0.01
        const res = await request(`${gw.url}/v1/batches`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
            body: JSON.stringify({ input_file_id: "file-abc", endpoint: "/v1/chat/completions", completion_window: "24h" }),
        });
        const body = (await res.body.json()) as { error: { type: string; code: string; message: string } };
        assert.strictEqual(res.statusCode, 429);
        assert.strictEqual(body.error.type, "insufficient_quota");
        assert.match(
            body.error.message,
            /Team 'radiology' has spent \$0\.06 of its \$0\.01 monthly budget \(limits\.teams\.radiology\.budgetUsdPerMonth\): new batches are refused/,
        );
        // Cardiology (no budget) is not refused for radiology's spending: the same request reaches validation (404: no such file).
        const other = await request(`${gw.url}/v1/batches`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${KEY2}` },
            body: JSON.stringify({ input_file_id: "file-abc", endpoint: "/v1/chat/completions", completion_window: "24h" }),
        });
        assert.strictEqual(other.statusCode, 404);
        await other.body.text();
    });
});
