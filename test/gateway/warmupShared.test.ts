/**
 * Warm-ups kept in the batch store (gateway/src/warmupStore.ts) against a real redis-server:
 * every gateway replica lists and exports the same warm-ups, a restarted gateway still has
 * them, the gauge drops at expiry, and a store outage answers 503 instead of losing the warm-up.
 */
import * as assert from "assert";
import { Redis } from "ioredis";
import { request } from "undici";
import { sha256Hex } from "../../gateway/src/index";
import type { GatewayConfigInput } from "../../gateway/src/index";
import { parseConfig } from "../../gateway/src/config";
import { Metrics } from "../../gateway/src/metrics";
import { RedisWarmups } from "../../gateway/src/warmupStore";
import { redisForFile, startRedis } from "../helpers/redis";
import { KEY, MODEL, config, freePort, gateway, get, onCleanup, warmupRoutesApp } from "./helpers";

const TEACHER = "sk-teacher-warmup-key-0002";
const TEACHER2 = "sk-teacher-warmup-key-0003";
const redis = redisForFile();
let prefixN = 0;

function sharedConfig(upstreams: string[], redisUrl = redis.url, keyPrefix = `w${process.pid}-${++prefixN}:{b}:`): GatewayConfigInput {
    return config(upstreams, {
        pools: [{ name: "a10g", models: [MODEL], upstreams, coldStartSecondsEstimate: 180 }],
        auth: {
            keys: [
                { team: "radiology", sha256: sha256Hex(KEY) },
                { team: "teaching", sha256: sha256Hex(TEACHER), permissions: ["warmup"] },
                { team: "anatomy", sha256: sha256Hex(TEACHER2), permissions: ["warmup"] },
            ],
        },
        batch: { redisUrl, keyPrefix, metricsIntervalSeconds: 60 },
    });
}

async function postWarmup(url: string, minutes: number, key = TEACHER) {
    const res = await request(`${url}/v1/warmup`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: MODEL, minutes }),
    });
    return { status: res.statusCode, json: JSON.parse(await res.body.text()), retryAfter: res.headers["retry-after"] };
}

async function gauge(url: string): Promise<number | undefined> {
    const m = /^gateway_warmup_replicas\{pool="a10g"\} (\S+)$/m.exec((await get(url, "/metrics", null)).text);
    return m ? Number(m[1]) : undefined;
}

describe("warm-ups in the batch store (real redis-server)", function () {
    this.timeout(30_000);

    it("lists and exports a warm-up posted on gateway A from gateway B, and after A restarts", async () => {
        const upstream = `http://127.0.0.1:${await freePort()}`;
        const cfg = sharedConfig([upstream]);
        const a = await gateway(cfg);
        const b = await gateway(cfg);
        assert.deepStrictEqual([await gauge(a.url), await gauge(b.url)], [0, 0]);
        const r = await postWarmup(a.url, 50);
        assert.strictEqual(r.status, 202);
        const listed = await get(b.url, "/v1/warmup", TEACHER);
        assert.deepStrictEqual(
            listed.json.data.map((w: { pool: string; team: string; warm_until: string }) => [w.pool, w.team, w.warm_until]),
            [["a10g", "teaching", r.json.warm_until]],
        );
        assert.deepStrictEqual([await gauge(a.url), await gauge(b.url)], [1, 1]);
        // The same teacher again on B extends nothing shorter and adds no replica; another team's teacher adds one, on both replicas.
        assert.strictEqual((await postWarmup(b.url, 10)).status, 202);
        assert.deepStrictEqual([await gauge(a.url), await gauge(b.url)], [1, 1]);
        assert.strictEqual((await postWarmup(b.url, 10, TEACHER2)).status, 202);
        assert.deepStrictEqual([await gauge(a.url), await gauge(b.url)], [2, 2]);
        // A rolling update: A goes away and comes back.
        await a.close();
        const a2 = await gateway(cfg);
        assert.strictEqual(await gauge(a2.url), 2);
        assert.deepStrictEqual(
            (await get(a2.url, "/v1/warmup", TEACHER2)).json.data.map((w: { team: string }) => w.team),
            ["anatomy"],
        );
    });

    it("keeps a warm-up and its key until the latest warm_until: a shorter repeat does not shorten them, a longer one extends them", async () => {
        const cfg = sharedConfig([`http://127.0.0.1:${await freePort()}`]);
        const gw = await gateway(cfg);
        const client = new Redis(redis.url);
        onCleanup(async () => void (await client.quit()));
        const key = `${cfg.batch!.keyPrefix}warmups`;
        const minutesLeft = async () => (await client.pttl(key)) / 60_000;
        const first = await postWarmup(gw.url, 50);
        assert.ok(Math.abs((await minutesLeft()) - 50) < 0.2, `${await minutesLeft()} min`);
        await postWarmup(gw.url, 10);
        assert.ok(Math.abs((await minutesLeft()) - 50) < 0.2, `${await minutesLeft()} min`);
        assert.strictEqual((await get(gw.url, "/v1/warmup", TEACHER)).json.data[0].warm_until, first.json.warm_until);
        const longer = await postWarmup(gw.url, 100);
        assert.ok(Math.abs((await minutesLeft()) - 100) < 0.2, `${await minutesLeft()} min`);
        assert.strictEqual(await client.zcard(key), 1);
        assert.strictEqual((await get(gw.url, "/v1/warmup", TEACHER)).json.data[0].warm_until, longer.json.warm_until);
    });

    it("drops the gauge to 0 and empties the list once warm_until passes", async () => {
        const cfg = parseConfig(sharedConfig(["http://127.0.0.1:9"]));
        let clock = Date.now();
        const store = RedisWarmups.connect(redis.url, `${cfg.batch!.keyPrefix}warmups`);
        onCleanup(() => store.close());
        const metrics = new Metrics();
        const app = await warmupRoutesApp({ config: cfg, metrics, now: () => clock, store });
        const headers = { authorization: `Bearer ${TEACHER}`, "content-type": "application/json" };
        assert.strictEqual(
            (await app.inject({ method: "POST", url: "/v1/warmup", headers, payload: JSON.stringify({ model: MODEL, minutes: 5 }) })).statusCode,
            202,
        );
        const value = async () => /gateway_warmup_replicas\{pool="a10g"\} (\S+)/.exec(await metrics.text())![1];
        assert.strictEqual(await value(), "1");
        clock += 5 * 60_000 - 1;
        assert.strictEqual(await value(), "1");
        clock += 1;
        assert.strictEqual(await value(), "0");
        assert.deepStrictEqual((await app.inject({ method: "GET", url: "/v1/warmup", headers })).json().data, []);
    });

    it("answers 503 in the OpenAI error shape while the store is down, the gauge keeping the warm-ups it last read; works again once it is back", async () => {
        const own = await startRedis();
        let current = own;
        onCleanup(() => current.stop());
        const gw = await gateway(sharedConfig([`http://127.0.0.1:${await freePort()}`], own.url));
        assert.strictEqual((await postWarmup(gw.url, 30)).status, 202);
        assert.strictEqual(await gauge(gw.url), 1);
        await own.stop();
        const r = await postWarmup(gw.url, 30);
        assert.strictEqual(r.status, 503);
        assert.strictEqual(r.json.error.type, "service_unavailable");
        assert.strictEqual(r.json.error.code, "warmup_store_unavailable");
        assert.match(r.json.error.message, /warm-up store \(Valkey\) did not answer/);
        assert.strictEqual(r.retryAfter, "5");
        const listed = await get(gw.url, "/v1/warmup", TEACHER);
        assert.strictEqual(listed.status, 503);
        assert.strictEqual(listed.json.error.code, "warmup_store_unavailable");
        assert.strictEqual(await gauge(gw.url), 1);
        // Valkey restarts empty on the same address (no persistence here): new warm-ups are stored again.
        current = await startRedis({ port: own.port });
        let back = await postWarmup(gw.url, 30, TEACHER2);
        for (let i = 0; back.status !== 202 && i < 20; i++) back = await postWarmup(gw.url, 30, TEACHER2);
        assert.strictEqual(back.status, 202);
        assert.strictEqual(await gauge(gw.url), 1);
    });
});
