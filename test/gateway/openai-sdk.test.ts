/**
 * The gateway through the official OpenAI Node SDK (openai 6.x): models.retrieve with a
 * '/' in the id, and the SDK's retries following the gateway's x-should-retry and
 * Retry-After headers (openai-node client.ts shouldRetry / retryRequest).
 */
import * as assert from "assert";
import OpenAI from "openai";
import { config, fake, freePort, gateway, KEY, MODEL, waitFor } from "./helpers";

/** An SDK client that counts the HTTP requests it sends. */
function client(baseURL: string, opts: { key?: string; maxRetries?: number; timeout?: number } = {}) {
    const sent: number[] = [];
    const sdk = new OpenAI({
        baseURL: `${baseURL}/v1`,
        apiKey: opts.key ?? KEY,
        maxRetries: opts.maxRetries ?? 2,
        timeout: opts.timeout ?? 30_000,
        fetch: (url, init) => {
            sent.push(Date.now());
            return fetch(url, init);
        },
    });
    return { sdk, sent };
}

describe("OpenAI Node SDK against the gateway", function () {
    this.timeout(30000);

    it("retrieves a model whose id contains '/' (models.retrieve)", async () => {
        const gw = await gateway(config([`http://127.0.0.1:${await freePort()}`]));
        const { sdk } = client(gw.url);
        const m = await sdk.models.retrieve(MODEL);
        assert.deepStrictEqual({ id: m.id, object: m.object, owned_by: m.owned_by }, { id: MODEL, object: "model", owned_by: "a10g" });
        assert.ok(Number.isInteger(m.created));
        const listed = (await sdk.models.list()).data.find((x) => x.id === MODEL);
        assert.deepStrictEqual(listed, m, "the list and the single model agree");
        // The raw form works too (curl users do not percent-encode).
        const raw = await fetch(`${gw.url}/v1/models/${MODEL}`, { headers: { authorization: `Bearer ${KEY}` } });
        assert.strictEqual(raw.status, 200);
        assert.strictEqual((await raw.json()).id, MODEL);
    });

    it("answers 404 model_not_found for an unknown id, and the SDK does not retry it", async () => {
        const gw = await gateway(config([`http://127.0.0.1:${await freePort()}`]));
        const { sdk, sent } = client(gw.url);
        await assert.rejects(
            sdk.models.retrieve("acme/nope"),
            (e: unknown) => e instanceof OpenAI.NotFoundError && (e.error as { code?: string }).code === "model_not_found",
        );
        assert.strictEqual(sent.length, 1);
    });

    it("requires the API key for a single model too (401, x-should-retry: false)", async () => {
        const gw = await gateway(config([`http://127.0.0.1:${await freePort()}`]));
        const r = await fetch(`${gw.url}/v1/models/${encodeURIComponent(MODEL)}`);
        assert.strictEqual(r.status, 401);
        assert.strictEqual(r.headers.get("x-should-retry"), "false");
    });

    it("429 from a full queue at zero workers: x-should-retry true, Retry-After the cold-start wait, and the SDK waits for it", async () => {
        // No worker is ready: one request fills the queue (maxDepth 1), the next gets 429.
        const gw = await gateway(config([`http://127.0.0.1:${await freePort()}`], { queue: { maxDepth: 1, maxWaitSeconds: 20, retryAfterSeconds: 2 } }));
        const holder = fetch(`${gw.url}/v1/chat/completions`, {
            method: "POST",
            headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
            body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "held" }] }),
        }).catch(() => undefined);
        await waitFor(() => gw.pools.get("a10g")!.queueDepth === 1, 3000, "one request held");
        const raw = await fetch(`${gw.url}/v1/chat/completions`, {
            method: "POST",
            headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
            body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "x" }] }),
        });
        assert.strictEqual(raw.status, 429);
        assert.strictEqual(raw.headers.get("x-should-retry"), "true");
        assert.strictEqual(raw.headers.get("retry-after"), "2", "at zero workers the full queue frees only when the pool starts");
        const { sdk, sent } = client(gw.url, { maxRetries: 1 });
        await assert.rejects(
            sdk.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "y" }] }),
            (e: unknown) => e instanceof OpenAI.RateLimitError,
        );
        assert.strictEqual(sent.length, 2, "one retry");
        assert.ok(sent[1] - sent[0] >= 1900, `the SDK waited ${sent[1] - sent[0]} ms, not the 2 s Retry-After`);
        await gw.close();
        await holder;
    });

    it("answers once a worker starts within the hold, through the SDK's own timeout", async () => {
        // The README's advice: an SDK timeout above the gateway's hold, so a cold start is one request.
        const port = await freePort();
        const gw = await gateway(config([`http://127.0.0.1:${port}`], { queue: { maxDepth: 10, maxWaitSeconds: 20 } }));
        const { sdk, sent } = client(gw.url, { timeout: 25_000 });
        const answer = sdk.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "after a cold start" }] });
        await new Promise((r) => setTimeout(r, 800));
        await fake({ port, tokenDelayMs: 0 });
        const r = await answer;
        assert.match(r.choices[0].message.content ?? "", /after a cold start/);
        assert.strictEqual(sent.length, 1, "held, not retried");
    });
});
