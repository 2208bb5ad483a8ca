/** Explicit warm-up API (POST/GET /v1/warmup, gateway_warmup_replicas): real HTTP on 127.0.0.1, fake vLLM. */
import * as assert from "assert";
import { request } from "undici";
import { sha256Hex } from "../../gateway/src/index";
import { parseConfig } from "../../gateway/src/config";
import { Metrics } from "../../gateway/src/metrics";
import { KEY, KEY2, MODEL, config, fake, freePort, gateway, get, warmupRoutesApp } from "./helpers";

const TEACHER = "sk-teacher-warmup-key-0001";
const STUDENT = "sk-student-of-teaching-0001";

function warmupConfig(upstreams: string[], extra: Record<string, unknown> = {}) {
    const base = config(upstreams);
    return {
        ...base,
        pools: [{ name: "a10g", models: [MODEL], upstreams, coldStartSecondsEstimate: 180 }],
        auth: {
            keys: [
                { team: "radiology", sha256: sha256Hex(KEY) },
                { team: "cardiology", sha256: sha256Hex(KEY2) },
                { team: "teaching", sha256: sha256Hex(TEACHER), permissions: ["warmup" as const] },
                { team: "teaching", sha256: sha256Hex(STUDENT) },
            ],
        },
        ...extra,
    };
}

async function postWarmup(url: string, body: unknown, key: string | null = TEACHER) {
    const res = await request(`${url}/v1/warmup`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: JSON.parse(text) };
}

async function warmupGauge(url: string): Promise<number | undefined> {
    const text = (await get(url, "/metrics", null)).text;
    const m = /^gateway_warmup_replicas\{pool="a10g"\} (\S+)$/m.exec(text);
    return m ? Number(m[1]) : undefined;
}

describe("POST /v1/warmup and GET /v1/warmup", function () {
    this.timeout(20000);

    it("answers 202 with pool, warm_until and the cold-start estimate for a permitted key, lists it, and exports the gauge", async () => {
        const port = await freePort(); // no worker yet: the pool is at zero
        const gw = await gateway(warmupConfig([`http://127.0.0.1:${port}`]));
        assert.strictEqual(await warmupGauge(gw.url), 0);
        const t0 = Date.now();
        const r = await postWarmup(gw.url, { model: MODEL, minutes: 50 });
        const t1 = Date.now();
        assert.strictEqual(r.status, 202);
        assert.strictEqual(r.json.pool, "a10g");
        assert.strictEqual(r.json.ready_in_seconds_estimate, 180);
        // 50 minutes from when the gateway took the request: between sending it and the answer (ISO to the second at worst).
        const until = Date.parse(r.json.warm_until);
        assert.ok(
            until >= t0 + 50 * 60_000 - 1000 && until <= t1 + 50 * 60_000,
            `${r.json.warm_until} not 50 min after ${new Date(t0).toISOString()}..${new Date(t1).toISOString()}`,
        );
        assert.strictEqual(await warmupGauge(gw.url), 1);
        const list = await get(gw.url, "/v1/warmup", TEACHER);
        assert.strictEqual(list.status, 200);
        assert.strictEqual(list.json.permitted, true);
        assert.deepStrictEqual(
            list.json.data.map((w: { pool: string; team: string; ready: boolean }) => [w.pool, w.team, w.ready]),
            [["a10g", "teaching", false]],
        );
        // A student's key of the same team sees the warm-up but may not start one.
        const asStudent = await get(gw.url, "/v1/warmup", STUDENT);
        assert.strictEqual(asStudent.json.permitted, false);
        assert.strictEqual(asStudent.json.data.length, 1);
    });

    it("reports ready with estimate 0 once the pool has a ready worker", async () => {
        const f = await fake({ startupDelayMs: 300 });
        const gw = await gateway(warmupConfig([f.url]));
        const r = await postWarmup(gw.url, { model: MODEL, minutes: 10 });
        assert.strictEqual(r.status, 202);
        const until = Date.now() + 10000;
        let ready = false;
        while (!ready && Date.now() < until) {
            const list = await get(gw.url, "/v1/warmup", TEACHER);
            ready = list.json.data[0].ready;
            if (ready) assert.strictEqual(list.json.data[0].ready_in_seconds_estimate, 0);
            else await new Promise((res) => setTimeout(res, 50));
        }
        assert.ok(ready, "never ready");
    });

    it("refuses keys without the warmup permission (403), no key (401), an unknown model (404) and minutes outside 1-240 (400)", async () => {
        const gw = await gateway(warmupConfig([`http://127.0.0.1:${await freePort()}`]));
        const denied = await postWarmup(gw.url, { model: MODEL, minutes: 10 }, KEY);
        assert.strictEqual(denied.status, 403);
        assert.strictEqual(denied.json.error.code, "permission_denied");
        assert.strictEqual((await postWarmup(gw.url, { model: MODEL, minutes: 10 }, null)).status, 401);
        const unknown = await postWarmup(gw.url, { model: "org/nope", minutes: 10 });
        assert.strictEqual(unknown.status, 404);
        assert.strictEqual(unknown.json.error.code, "model_not_found");
        for (const minutes of [0, 241, 1.5, "10"]) {
            const bad = await postWarmup(gw.url, { model: MODEL, minutes });
            assert.strictEqual(bad.status, 400, `minutes ${JSON.stringify(minutes)}`);
            assert.strictEqual(bad.json.error.code, "invalid_minutes");
        }
        assert.strictEqual((await postWarmup(gw.url, "not json")).status, 400);
        assert.strictEqual(await warmupGauge(gw.url), 0);
    });

    it("keeps each gateway replica's count on its own: the trigger's max never adds replicas' warm-ups up", async () => {
        const port = await freePort();
        const a = await gateway(warmupConfig([`http://127.0.0.1:${port}`]));
        const b = await gateway(warmupConfig([`http://127.0.0.1:${port}`]));
        await postWarmup(a.url, { model: MODEL, minutes: 10 });
        assert.deepStrictEqual([await warmupGauge(a.url), await warmupGauge(b.url)], [1, 0]);
        // The same team again: extended, not a second replica.
        await postWarmup(a.url, { model: MODEL, minutes: 20 });
        assert.strictEqual(await warmupGauge(a.url), 1);
        await postWarmup(b.url, { model: MODEL, minutes: 10 });
        const values = [await warmupGauge(a.url), await warmupGauge(b.url)];
        assert.strictEqual(Math.max(...(values as number[])), 1);
    });

    it("expires: the gauge drops to 0 and the list empties once warm_until passes", async () => {
        let clock = 1_000_000;
        const cfg = parseConfig(warmupConfig(["http://127.0.0.1:9"]));
        const metrics = new Metrics();
        const app = await warmupRoutesApp({ config: cfg, metrics, now: () => clock });
        const headers = { authorization: `Bearer ${TEACHER}`, "content-type": "application/json" };
        const r = await app.inject({ method: "POST", url: "/v1/warmup", headers, payload: JSON.stringify({ model: MODEL, minutes: 5 }) });
        assert.strictEqual(r.statusCode, 202);
        const gauge = async () => /gateway_warmup_replicas\{pool="a10g"\} (\S+)/.exec(await metrics.text())![1];
        assert.strictEqual(await gauge(), "1");
        clock += 5 * 60_000 - 1;
        assert.strictEqual(await gauge(), "1");
        clock += 1;
        assert.strictEqual(await gauge(), "0");
        assert.deepStrictEqual((await app.inject({ method: "GET", url: "/v1/warmup", headers })).json().data, []);
        await app.close();
    });
});
