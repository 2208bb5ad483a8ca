/**
 * The request path's cost must not depend on how many clients are connected (issue 13 point 12):
 * concurrent requests reach the worker at once (vLLM batches them; a connection cap in the
 * gateway's HTTP client would queue them inside the gateway, adding latency that grows with the
 * number of clients), and upstream connections are kept alive and reused (a new TCP connection
 * per request costs a connect and a parser on both sides, per request).
 */
import * as assert from "assert";
import { MODEL, chatBody, config, fake, gateway, post } from "./helpers";

describe("gateway request path under concurrency", () => {
    it("forwards 64 concurrent requests to the worker at once, none held behind a connection limit", async () => {
        // 1 s service time: any request queued inside the gateway reaches the worker >= 1 s after the first.
        const upstream = await fake({ serviceTimeMs: 1000 });
        const gw = await gateway(config([upstream.url], { queue: { maxDepth: 500, maxWaitSeconds: 30 } }));
        const N = 64;
        // First a wave to open the connections and compile the path: a cold process takes ~10 ms per new
        // connection pair, which would be measured instead of the gateway holding requests back.
        await Promise.all(Array.from({ length: N }, (_, i) => post(gw.url, chatBody(`warm-up ${i}`))));
        upstream.requests.length = 0;
        const replies = await Promise.all(Array.from({ length: N }, (_, i) => post(gw.url, chatBody(`question ${i}`))));
        assert.deepStrictEqual(
            replies.map((r) => r.status),
            Array(N).fill(200),
        );
        const arrivals = upstream.requests.map((r) => r.receivedAtMs);
        assert.strictEqual(arrivals.length, N);
        const spread = Math.max(...arrivals) - Math.min(...arrivals);
        assert.ok(spread < 700, `all ${N} requests should reach the worker before the first is answered (1 s); they arrived over ${spread} ms`);
    });

    it("reuses upstream connections: 10 waves of 20 concurrent requests use about 20 connections, not one per request", async () => {
        const upstream = await fake({ serviceTimeMs: 20 });
        const gw = await gateway(config([upstream.url]));
        // Wait for the first probe (it opens one connection, which chat requests may reuse).
        const until = Date.now() + 5000;
        while (gw.pools.get("a10g")!.readyCount() === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        const before = upstream.stats().connections;
        for (let wave = 0; wave < 10; wave++) {
            const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => post(gw.url, { ...chatBody(`wave ${wave} question ${i}`), model: MODEL })));
            assert.ok(
                replies.every((r) => r.status === 200),
                `wave ${wave}: ${replies.map((r) => r.status).join(",")}`,
            );
        }
        const opened = upstream.stats().connections - before;
        assert.strictEqual(upstream.stats().requests, 200);
        // 20 at a time need 20 connections; the slack covers a probe and idle connections that expired
        // (4 s keep-alive) while a loaded machine stalled between waves. A connection per request opens ~200.
        assert.ok(opened <= 40, `200 requests, at most 20 at a time, should need about 20 upstream connections; the gateway opened ${opened}`);
    });
});

describe("gateway per-request metrics", () => {
    it("counts requests with plain additions, added to prom-client once per label set at scrape", async () => {
        const upstream = await fake();
        const gw = await gateway(config([upstream.url]));
        let promClientCalls = 0;
        const inc = gw.metrics.requests.inc.bind(gw.metrics.requests);
        gw.metrics.requests.inc = ((...args: Parameters<typeof inc>) => {
            promClientCalls++;
            return inc(...args);
        }) as typeof inc;
        for (let i = 0; i < 20; i++) assert.strictEqual((await post(gw.url, chatBody(`q ${i}`))).status, 200);
        // Accounting runs when each response closes: wait until the duration histogram (not deferred) has all 20.
        const observed = async () =>
            (await gw.metrics.duration.get()).values.find((v) => v.metricName === "gateway_request_duration_seconds_count")?.value ?? 0;
        for (const until = Date.now() + 5000; (await observed()) < 20 && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
        const text = await gw.metrics.text();
        assert.match(text, /^gateway_requests_total\{pool="a10g",code="200"\} 20$/m);
        assert.ok(promClientCalls <= 1, `20 requests made ${promClientCalls} calls into prom-client's label hashing; expected one addition at scrape`);
        // A second scrape adds nothing twice.
        assert.match(await gw.metrics.text(), /^gateway_requests_total\{pool="a10g",code="200"\} 20$/m);
    });
});
