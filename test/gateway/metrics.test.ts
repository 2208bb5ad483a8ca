/** The gateway's metric definitions: histogram buckets that reach the hold bound, and the served-request counter KEDA's activity trigger reads. */
import * as assert from "assert";
import { bucketsUpTo, Metrics } from "../../gateway/src/metrics";
import { chatBody, config, fake, gateway, metric, metrics, MODEL, post, waitFor } from "./helpers";

/** The finite `le` bounds of a histogram in an exposition. */
function finiteBounds(text: string, name: string): number[] {
    const les = [...text.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"`, "gm"))].map((m) => m[1]).filter((le) => le !== "+Inf");
    return [...new Set(les.map(Number))].sort((a, b) => a - b);
}

describe("gateway metric definitions", () => {
    for (const hold of [120, 1200, 3600]) {
        it(`a request held the full ${hold} s (and then answered) lands in a finite bucket, so its quantiles are not capped`, async () => {
            const m = new Metrics({ holdSeconds: hold });
            m.queueWait.observe({ pool: "p" }, hold);
            m.duration.observe({ pool: "p" }, hold + 240);
            const text = await m.text();
            const wait = finiteBounds(text, "gateway_queue_wait_seconds");
            const duration = finiteBounds(text, "gateway_request_duration_seconds");
            assert.ok(wait.at(-1)! >= hold, `queue wait buckets stop at ${wait.at(-1)}`);
            assert.ok(duration.at(-1)! >= hold + 240, `duration buckets stop at ${duration.at(-1)}`);
            // The observation is counted in the last finite bucket, not only in +Inf.
            assert.strictEqual(metric(text, "gateway_queue_wait_seconds_bucket", { pool: "p", le: String(wait.at(-1)) }), 1);
            assert.strictEqual(metric(text, "gateway_request_duration_seconds_bucket", { pool: "p", le: String(duration.at(-1)) }), 1);
            // Fine below a minute still (the P95 of warm requests), and a bounded bucket count.
            assert.ok(duration.includes(0.5) && duration.includes(5) && duration.length <= 32, String(duration));
        });
    }

    it("bucketsUpTo keeps the fine bounds, steps by 5 minutes past them and ends at the bound", () => {
        assert.deepStrictEqual(bucketsUpTo([1, 10, 60, 300], 1200), [1, 10, 60, 300, 600, 900, 1200]);
        assert.deepStrictEqual(bucketsUpTo([1, 10, 60, 300], 45), [1, 10, 45]);
        assert.deepStrictEqual(bucketsUpTo([1, 10, 60, 300], 1000), [1, 10, 60, 300, 600, 900, 1000]);
    });

    it("the gateway sizes its histograms from queue.maxWaitSeconds", async () => {
        const f = await fake();
        const gw = await gateway(config([f.url], { queue: { maxDepth: 10, maxWaitSeconds: 1200 } }));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        assert.strictEqual((await post(gw.url, chatBody("hello"))).status, 200);
        gw.metrics.queueWait.observe({ pool: "a10g" }, 0.2); // the request above was not queued
        const text = await metrics(gw.url);
        assert.ok(finiteBounds(text, "gateway_queue_wait_seconds").includes(1200));
        assert.ok(finiteBounds(text, "gateway_request_duration_seconds").at(-1)! >= 1200);
    });

    it("counts only requests handed to a worker in gateway_upstream_requests_total: not cache hits, not 429s", async () => {
        const f = await fake();
        const gw = await gateway(
            config([], { pools: [{ name: "a10g", models: [MODEL], upstreams: [f.url], cache: { enabled: true } }], queue: { maxDepth: 1, maxWaitSeconds: 5 } }),
        );
        // From 0 at start, so Prometheus' increase() sees the first request.
        assert.strictEqual(metric(await metrics(gw.url), "gateway_upstream_requests_total", { pool: "a10g" }), 0);
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const body = chatBody("is there a fracture", { temperature: 0 });
        assert.strictEqual((await post(gw.url, body)).status, 200);
        const hit = await post(gw.url, body);
        assert.strictEqual(hit.headers["x-gateway-cache"], "hit");
        const text = await metrics(gw.url);
        assert.strictEqual(metric(text, "gateway_requests_total", { pool: "a10g", code: "200" }), 2);
        assert.strictEqual(metric(text, "gateway_upstream_requests_total", { pool: "a10g" }), 1, "a cache hit counted as worker activity");

        // No ready worker: one request held (the queue's depth), the next refused with 429.
        await f.stop();
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 0, 3000);
        const held = post(gw.url, chatBody("held"));
        await waitFor(() => gw.pools.get("a10g")!.queueDepth === 1, 2000);
        assert.strictEqual((await post(gw.url, chatBody("refused"))).status, 429);
        const after = await metrics(gw.url);
        assert.strictEqual(metric(after, "gateway_requests_total", { pool: "a10g", code: "429" }), 1);
        assert.strictEqual(metric(after, "gateway_upstream_requests_total", { pool: "a10g" }), 1, "a refused request counted as worker activity");
        await f.restart();
        assert.strictEqual((await held).status, 200);
        assert.strictEqual(metric(await metrics(gw.url), "gateway_upstream_requests_total", { pool: "a10g" }), 2);
    });
});
