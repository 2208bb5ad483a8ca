/** The opt-in exact-match response cache: one GPU call for a class of identical requests. */
import * as assert from "assert";
import fc from "fast-check";
import { cacheKey, ResponseCache } from "../../gateway/src/cache";
import { GatewayConfigInput } from "../../gateway/src/index";
import { chatBody, config, fake, FAST_HEALTH, gateway, metric, metrics, MODEL, post, postStream, sleep, waitFor } from "./helpers";

function xray(seed: number, size = 3000): string {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 17) & 0xff;
    return `data:image/png;base64,${bytes.toString("base64")}`;
}

function question(image: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        model: MODEL,
        temperature: 0,
        max_tokens: 32,
        messages: [
            {
                role: "user",
                content: [
                    { type: "text", text: "Is there a fracture" },
                    { type: "image_url", image_url: { url: image } },
                ],
            },
        ],
        ...extra,
    };
}

function cached(upstreams: string[], cache: Record<string, unknown> = {}, extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
    return config([], { pools: [{ name: "a10g", models: [MODEL], upstreams, cache: { enabled: true, ...cache } }], ...extra });
}

describe("gateway response cache", function () {
    it("answers a class of 20 sending the same X-ray and question with one upstream call", async () => {
        const f = await fake({ tokenDelayMs: 30 });
        const gw = await gateway(cached([f.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const body = question(xray(1));
        const replies = await Promise.all(Array.from({ length: 20 }, () => post(gw.url, body)));
        assert.ok(replies.every((r) => r.status === 200));
        assert.ok(replies.every((r) => r.json.choices[0].message.content === "Echo: Is there a fracture [image x1]"));
        assert.strictEqual(f.requests.length, 1, "one GPU call");
        // And a 21st student, later, hits the stored answer.
        const late = await post(gw.url, body);
        assert.strictEqual(late.headers["x-gateway-cache"], "hit");
        assert.strictEqual(late.text, replies[0].text);
        assert.strictEqual(f.requests.length, 1);
        const m = await metrics(gw.url);
        assert.strictEqual(metric(m, "gateway_cache_misses_total", { pool: "a10g" }), 1);
        assert.strictEqual(metric(m, "gateway_cache_hits_total", { pool: "a10g" }), 20);
        assert.ok(metric(m, "gateway_cache_bytes", { pool: "a10g" })! > 0);
    });

    it("shares a stream with identical stream requests, including ones that join mid-way", async () => {
        const f = await fake({ tokenDelayMs: 40 });
        const gw = await gateway(cached([f.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const body = question(xray(2), { stream: true });
        const first = postStream(gw.url, body);
        await sleep(100);
        const joiner = postStream(gw.url, body);
        const [a, b] = await Promise.all([first, joiner]);
        assert.strictEqual(a.content, "Echo: Is there a fracture [image x1]");
        assert.strictEqual(b.raw, a.raw, "the joiner got the same bytes, earlier chunks replayed");
        assert.ok(a.done && b.done);
        const replay = await postStream(gw.url, body);
        assert.strictEqual(replay.raw, a.raw);
        assert.strictEqual(replay.headers["x-gateway-cache"], "hit");
        assert.strictEqual(f.requests.length, 1);
    });

    it("keys on the image bytes, the messages and the sampling parameters", async () => {
        const f = await fake();
        const gw = await gateway(cached([f.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const base = question(xray(3));
        await post(gw.url, base);
        await post(gw.url, { ...base }); // same: hit
        await post(gw.url, question(xray(4))); // other image
        await post(gw.url, question(xray(3), { max_tokens: 31 })); // other sampling params
        await post(gw.url, { ...question(xray(3)), messages: [{ role: "user", content: "Is there a fracture" }] }); // no image
        await post(gw.url, question(xray(3), { stream: true }));
        assert.strictEqual(f.requests.length, 5);
    });

    it("does not cache non-deterministic requests or requests with Cache-Control: no-store", async () => {
        const f = await fake();
        const gw = await gateway(cached([f.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const warm = question(xray(5), { temperature: 0.7 });
        await post(gw.url, warm);
        await post(gw.url, warm);
        const noTemp = question(xray(5));
        delete noTemp.temperature;
        await post(gw.url, noTemp);
        await post(gw.url, noTemp);
        const greedy = question(xray(5));
        await post(gw.url, greedy); // stored
        const r = await post(gw.url, greedy, { headers: { "cache-control": "no-store" } });
        assert.strictEqual(r.headers["x-gateway-cache"], "bypass");
        assert.strictEqual(f.requests.length, 6);
        assert.strictEqual(metric(await metrics(gw.url), "gateway_cache_bypass_total", { pool: "a10g" }), 5);
    });

    it("expires entries after ttlSeconds", async () => {
        const f = await fake();
        const gw = await gateway(cached([f.url], { ttlSeconds: 0.3 }));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const body = question(xray(6));
        await post(gw.url, body);
        assert.strictEqual((await post(gw.url, body)).headers["x-gateway-cache"], "hit");
        await sleep(400);
        assert.strictEqual((await post(gw.url, body)).headers["x-gateway-cache"], "miss");
        assert.strictEqual(f.requests.length, 2);
    });

    it("stays within maxBytes by evicting the least recently used answers", async () => {
        const f = await fake();
        const gw = await gateway(cached([f.url], { maxBytes: 2000 }));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        for (let i = 0; i < 10; i++) await post(gw.url, chatBody(`question number ${i}`, { temperature: 0 }));
        const m = await metrics(gw.url);
        const bytes = metric(m, "gateway_cache_bytes", { pool: "a10g" })!;
        assert.ok(bytes > 0 && bytes <= 2000, `cache holds ${bytes} bytes`);
        assert.ok(metric(m, "gateway_cache_evictions_total", { pool: "a10g" })! >= 5);
        // The newest is still there; the oldest is gone.
        assert.strictEqual((await post(gw.url, chatBody("question number 9", { temperature: 0 }))).headers["x-gateway-cache"], "hit");
        assert.strictEqual((await post(gw.url, chatBody("question number 0", { temperature: 0 }))).headers["x-gateway-cache"], "miss");
    });

    it("caches nothing for pools that did not opt in", async () => {
        const f = await fake();
        const gw = await gateway(config([f.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const body = question(xray(7));
        const [a, b] = await Promise.all([post(gw.url, body), post(gw.url, body)]);
        assert.strictEqual(a.headers["x-gateway-cache"], undefined);
        assert.strictEqual(b.status, 200);
        assert.strictEqual(f.requests.length, 2);
    });

    it("does not store error answers", async () => {
        const f = await fake();
        const gw = await gateway(cached([f.url], {}, { health: { ...FAST_HEALTH, failuresToEject: 5 } }));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const body = question(xray(8));
        f.setFail("status500", { times: 1 });
        assert.strictEqual((await post(gw.url, body)).status, 502);
        assert.strictEqual((await post(gw.url, body)).status, 200);
        assert.strictEqual(f.requests.length, 2, "the 502 was neither retried nor stored");
    });

    describe("cacheKey", () => {
        it("ignores object key order and fields that do not change the answer (property)", () => {
            fc.assert(
                fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue(), { maxKeys: 6 }), fc.string(), (params, user) => {
                    const body = { model: MODEL, messages: [{ role: "user", content: "hi" }], ...params };
                    const reversed = Object.fromEntries(Object.entries(body).reverse());
                    return cacheKey("p", body) === cacheKey("p", { ...reversed, user });
                }),
            );
        });

        it("changes when any byte of an image changes (property)", () => {
            fc.assert(
                fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), (bytes, at) => {
                    const other = Uint8Array.from(bytes);
                    other[at % other.length] ^= 1;
                    const k = (b: Uint8Array) => cacheKey("p", question(`data:image/png;base64,${Buffer.from(b).toString("base64")}`));
                    return k(bytes) !== k(other);
                }),
            );
        });
    });

    describe("ResponseCache", () => {
        it("never holds more than maxBytes, whatever the sequence of sets (property)", () => {
            fc.assert(
                fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 400 })), { maxLength: 60 }), (ops) => {
                    const c = new ResponseCache(1000, 500, 60_000);
                    for (const [k, size] of ops) {
                        c.set(`k${k}`, 200, "application/json", [Buffer.alloc(size)]);
                        if (c.bytes > 1000) return false;
                    }
                    return true;
                }),
            );
        });

        it("drops an entry at its TTL", () => {
            let now = 1000;
            const c = new ResponseCache(1000, 1000, 50, undefined, () => now);
            c.set("k", 200, "application/json", [Buffer.from("{}")]);
            now = 1049;
            assert.ok(c.get("k"));
            now = 1050;
            assert.strictEqual(c.get("k"), undefined);
            assert.strictEqual(c.bytes, 0);
        });
    });
});
