/** Holding requests through a cold start: the bounded, fair queue and its metrics. */
import * as assert from "assert";
import { expectedAnswer, startFakeVllm } from "../fakes/vllm";
import { chatBody, config, fake, freePort, gateway, KEY, KEY2, metric, metrics, onCleanup, post, postStream, sleep, waitFor } from "./helpers";

describe("gateway queue (pool with no ready upstream)", function () {
    it("holds 200 requests while no upstream is up and answers all of them correctly once one comes up", async () => {
        const port = await freePort();
        const gw = await gateway(config([`http://127.0.0.1:${port}`], { queue: { maxDepth: 500, maxWaitSeconds: 5 } }));
        const bodies = Array.from({ length: 200 }, (_, i) => chatBody(`question ${i} about image ${i % 7}`));
        const pending = bodies.map((b, i) => (i % 2 === 0 ? post(gw.url, b) : postStream(gw.url, b, { key: i % 4 === 1 ? KEY2 : KEY })));
        // All 200 are held, and KEDA sees them.
        await waitFor(async () => metric(await metrics(gw.url), "gateway_queue_depth", { pool: "a10g" }) === 200, 4000, "queue depth 200");
        await sleep(500);
        // The worker comes up (within the 5 s wait bound).
        const f = await startFakeVllm({ port });
        onCleanup(() => f.stop());
        const results = await Promise.all(pending);
        results.forEach((r, i) => {
            const want = expectedAnswer(bodies[i]);
            if ("content" in r) {
                assert.strictEqual(r.status, 200);
                assert.strictEqual(r.content, want, `stream ${i}`);
                assert.ok(r.done, `stream ${i} ended with [DONE]`);
            } else {
                assert.strictEqual(r.status, 200, r.text);
                assert.strictEqual(r.json.choices[0].message.content, want, `request ${i}`);
            }
        });
        assert.strictEqual(f.requests.length, 200, "each request reached the worker exactly once");
        const m = await metrics(gw.url);
        assert.strictEqual(metric(m, "gateway_queue_depth", { pool: "a10g" }), 0);
        assert.strictEqual(metric(m, "gateway_requests_total", { pool: "a10g", code: "200" }), 200);
        assert.strictEqual(metric(m, "gateway_queue_wait_seconds_count", { pool: "a10g" }), 200);
    });

    it("answers 503 with Retry-After and a 'pool is starting' message after maxWaitSeconds", async () => {
        const port = await freePort();
        const gw = await gateway(config([`http://127.0.0.1:${port}`], { queue: { maxDepth: 10, maxWaitSeconds: 0.4, retryAfterSeconds: 20 } }));
        const t0 = Date.now();
        const [a, b] = await Promise.all([post(gw.url, chatBody("a")), postStream(gw.url, chatBody("b"))]);
        const waited = Date.now() - t0;
        assert.ok(waited >= 380, `answered after ${waited} ms, before maxWaitSeconds (0.4 s)`);
        assert.strictEqual(a.status, 503);
        assert.strictEqual(a.headers["retry-after"], "20");
        assert.strictEqual(a.json.error.code, "pool_starting");
        assert.match(a.json.error.message, /Pool 'a10g' is starting/);
        assert.strictEqual(b.status, 503, "a stream request gets a plain 503 too: nothing was streamed yet");
        assert.strictEqual(metric(await metrics(gw.url), "gateway_requests_total", { pool: "a10g", code: "503" }), 2);
        assert.strictEqual(metric(await metrics(gw.url), "gateway_queue_depth", { pool: "a10g" }), 0);
    });

    it("answers 429 with Retry-After when the queue is full, and serves the held ones", async () => {
        const port = await freePort();
        const gw = await gateway(config([`http://127.0.0.1:${port}`], { queue: { maxDepth: 3, maxWaitSeconds: 5 } }));
        const held = [1, 2, 3].map((i) => post(gw.url, chatBody(`held ${i}`)));
        await waitFor(() => gw.pools.get("a10g")!.queueDepth === 3, 2000);
        const over = await post(gw.url, chatBody("one too many"));
        assert.strictEqual(over.status, 429);
        assert.ok(Number(over.headers["retry-after"]) >= 1);
        assert.strictEqual(over.json.error.code, "queue_full");
        const f = await startFakeVllm({ port });
        onCleanup(() => f.stop());
        const replies = await Promise.all(held);
        assert.deepStrictEqual(
            replies.map((r) => r.status),
            [200, 200, 200],
        );
        assert.strictEqual(f.requests.length, 3);
    });

    it("serves the queue in FIFO order within a team and round-robin across teams", async () => {
        const port = await freePort();
        const gw = await gateway(
            config([], {
                pools: [{ name: "a10g", models: ["Qwen/Qwen3-VL-2B-Instruct"], upstreams: [`http://127.0.0.1:${port}`], maxConcurrentPerUpstream: 1 }],
            }),
        );
        const pool = gw.pools.get("a10g")!;
        const order = ["R1", "R2", "R3", "R4", "R5", "C1", "C2"];
        const pending: Array<Promise<unknown>> = [];
        for (const name of order) {
            pending.push(post(gw.url, chatBody(name), { key: name.startsWith("R") ? KEY : KEY2 }));
            const n = pending.length;
            await waitFor(() => pool.queueDepth === n, 2000, `${name} queued`);
        }
        const worker = await startFakeVllm({ port });
        onCleanup(() => worker.stop());
        await Promise.all(pending);
        const served = worker.requests.map((r) => (r.body.messages as Array<{ content: string }>)[0].content);
        assert.deepStrictEqual(served, ["R1", "C1", "R2", "C2", "R3", "R4", "R5"]);
    });

    it("queues beyond maxConcurrentPerUpstream and reports the depth while workers are busy", async () => {
        const f = await fake({ tokenDelayMs: 40 });
        const gw = await gateway(
            config([], { pools: [{ name: "a10g", models: ["Qwen/Qwen3-VL-2B-Instruct"], upstreams: [f.url], maxConcurrentPerUpstream: 2 }] }),
        );
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const pending = Array.from({ length: 6 }, (_, i) => post(gw.url, chatBody(`w${i} x y`)));
        await waitFor(
            async () => {
                const m = await metrics(gw.url);
                return metric(m, "gateway_queue_depth", { pool: "a10g" }) === 4 && metric(m, "gateway_inflight_requests", { pool: "a10g" }) === 2;
            },
            2000,
            "2 in flight, 4 queued",
        );
        assert.ok(f.stats().running <= 2);
        const replies = await Promise.all(pending);
        assert.ok(replies.every((r) => r.status === 200));
    });

    it("removes a request from the queue when its client goes away", async () => {
        const port = await freePort();
        const gw = await gateway(config([`http://127.0.0.1:${port}`]));
        const pool = gw.pools.get("a10g")!;
        const ac = new AbortController();
        const gone = post(gw.url, chatBody("impatient"), { signal: ac.signal }).catch((e: Error) => e);
        const stays = post(gw.url, chatBody("patient"));
        await waitFor(() => pool.queueDepth === 2, 2000);
        ac.abort();
        await gone;
        await waitFor(() => pool.queueDepth === 1, 2000, "the aborted request left the queue");
        const f = await startFakeVllm({ port });
        onCleanup(() => f.stop());
        assert.strictEqual((await stays).status, 200);
        await sleep(50);
        assert.deepStrictEqual(
            f.requests.map((r) => (r.body.messages as Array<{ content: string }>)[0].content),
            ["patient"],
        );
        assert.strictEqual(metric(await metrics(gw.url), "gateway_requests_total", { pool: "a10g", code: "499" }), 1);
    });
});
