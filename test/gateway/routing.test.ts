/** Routing, balancing, health (active and passive), retries, stream failures and cancellation. */
import * as assert from "assert";
import * as http from "http";
import { AddressInfo } from "net";
import { expectedAnswer } from "../fakes/vllm";
import {
    chatBody,
    config,
    fake,
    FAST_HEALTH,
    freePort,
    gateway,
    MEDGEMMA,
    metric,
    metrics,
    MODEL,
    onCleanup,
    post,
    postStream,
    sleep,
    waitFor,
} from "./helpers";

describe("gateway routing and upstream health", function () {
    it("routes each model to the pool that serves it", async () => {
        const qwen = await fake({ models: [MODEL] });
        const gemma = await fake({ models: [MEDGEMMA] });
        const gw = await gateway(
            config([], {
                pools: [
                    { name: "a10g", models: [MODEL], upstreams: [qwen.url] },
                    { name: "a100", models: [MEDGEMMA], upstreams: [gemma.url] },
                ],
            }),
        );
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1 && gw.pools.get("a100")!.readyCount() === 1, 2000);
        const a = await post(gw.url, chatBody("to qwen"));
        const b = await post(gw.url, chatBody("to gemma", { model: MEDGEMMA }));
        assert.strictEqual(a.status, 200);
        assert.strictEqual(b.status, 200);
        assert.deepStrictEqual(
            qwen.requests.map((r) => r.body.model),
            [MODEL],
        );
        assert.deepStrictEqual(
            gemma.requests.map((r) => r.body.model),
            [MEDGEMMA],
        );
        const m = await metrics(gw.url);
        assert.strictEqual(metric(m, "gateway_requests_total", { pool: "a10g", code: "200" }), 1);
        assert.strictEqual(metric(m, "gateway_requests_total", { pool: "a100", code: "200" }), 1);
    });

    it("balances by least outstanding requests: a slow upstream gets few, not half", async () => {
        const slow = await fake({ tokenDelayMs: 300 });
        const quick = await fake({ tokenDelayMs: 0 });
        const gw = await gateway(config([slow.url, quick.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 2, 2000);
        const pending: Array<Promise<unknown>> = [];
        for (let i = 0; i < 20; i++) {
            pending.push(post(gw.url, chatBody(`q${i} a b c`)));
            await sleep(15);
        }
        const replies = (await Promise.all(pending)) as Array<{ status: number }>;
        assert.ok(replies.every((r) => r.status === 200));
        // Round robin would give the slow one 10; least-outstanding gives it ~1 (it stays busy).
        assert.ok(slow.requests.length <= 4, `slow upstream got ${slow.requests.length} of 20`);
        assert.strictEqual(slow.requests.length + quick.requests.length, 20);
    });

    it("spreads equal load evenly across equal upstreams", async () => {
        const a = await fake({ tokenDelayMs: 20 });
        const b = await fake({ tokenDelayMs: 20 });
        const gw = await gateway(config([a.url, b.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 2, 2000);
        const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => post(gw.url, chatBody(`q${i}`))));
        assert.ok(replies.every((r) => r.status === 200));
        // Least-outstanding: 20 each, give or take the odd answer that finishes before the last requests are picked
        // (two mocha workers on 2 cores make that timing vary); a biased picker sends far more to one.
        assert.strictEqual(a.requests.length + b.requests.length, 40);
        assert.ok(Math.abs(a.requests.length - 20) <= 2, `${a.requests.length} / ${b.requests.length}`);
    });

    it("probes /v1/models (not /health) and sends traffic only once an upstream is ready", async () => {
        const f = await fake({ startupDelayMs: 3_600_000 }); // loading until the test says otherwise
        const gw = await gateway(config([f.url]));
        await waitFor(() => f.stats().probes >= 1, 5000, "the gateway's first probe");
        // /health already answers 200, but the model is still loading.
        assert.strictEqual((await fetch(`${f.url}/health`)).status, 200);
        assert.strictEqual(metric(await metrics(gw.url), "gateway_upstreams_ready", { pool: "a10g" }), 0);
        const pending = post(gw.url, chatBody("held until ready"));
        await waitFor(() => gw.pools.get("a10g")!.queueDepth === 1, 5000, "the request held");
        const readyAt = Date.now();
        f.becomeReady();
        const r = await pending;
        assert.strictEqual(r.status, 200);
        assert.ok(f.requests[0].receivedAtMs >= readyAt, "the request waited for readiness");
        assert.strictEqual(f.requests.length, 1, "nothing was sent while the upstream was loading");
        assert.strictEqual(metric(await metrics(gw.url), "gateway_upstreams_ready", { pool: "a10g" }), 1);
    });

    it("takes an upstream out when its probe fails and back when it passes again", async () => {
        const f = await fake();
        const gw = await gateway(config([f.url]));
        const pool = gw.pools.get("a10g")!;
        await waitFor(() => pool.readyCount() === 1, 2000, "ready");
        await f.stop();
        await waitFor(() => pool.readyCount() === 0, 2000, "not ready after stop");
        await f.restart();
        await waitFor(() => pool.readyCount() === 1, 2000, "ready after restart");
        assert.strictEqual((await post(gw.url, chatBody("back"))).status, 200);
    });

    it("retries once on another upstream when one resets the connection before answering, then ejects it", async () => {
        const bad = await fake();
        const good = await fake();
        const gw = await gateway(config([bad.url, good.url], { health: { ...FAST_HEALTH, probeIntervalSeconds: 30, ejectSeconds: 30 } }));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 2, 2000);
        bad.setFail("reset");
        const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => post(gw.url, chatBody(`q${i}`))));
        assert.deepStrictEqual(
            replies.map((r) => r.status),
            Array(10).fill(200),
        );
        replies.forEach((r, i) => assert.strictEqual(r.json.choices[0].message.content, expectedAnswer(chatBody(`q${i}`))));
        // Sent to bad at most while it was still trusted; every one of those was retried on good.
        const m = await metrics(gw.url);
        assert.ok(bad.requests.length >= 1);
        assert.strictEqual(metric(m, "gateway_upstream_retries_total", { pool: "a10g" }), bad.requests.length);
        assert.strictEqual(metric(m, "gateway_upstream_ejections_total", { pool: "a10g" }), 1);
        assert.strictEqual(good.requests.length, 10);
        // Ejected: later requests do not touch it.
        const before = bad.requests.length;
        for (let i = 0; i < 5; i++) assert.strictEqual((await post(gw.url, chatBody(`later${i}`))).status, 200);
        assert.strictEqual(bad.requests.length, before);
    });

    it("does not retry a 500 (the request reached the model) nor eject a worker whose probe still passes", async () => {
        const bad = await fake();
        const good = await fake();
        const gw = await gateway(config([bad.url, good.url], { health: { ...FAST_HEALTH, probeIntervalSeconds: 30, ejectSeconds: 30 } }));
        const pool = gw.pools.get("a10g")!;
        await waitFor(() => pool.readyCount() === 2, 2000);
        // One team's request that vLLM answers with 500 (e.g. caused by its own content).
        const probesBefore = bad.stats().probes;
        bad.setFail("status500");
        const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => post(gw.url, chatBody(`q${i}`))));
        const failed = replies.filter((r) => r.status !== 200);
        assert.strictEqual(failed.length, bad.requests.length, "each request that reached bad failed once, and was not sent again");
        assert.ok(failed.length >= 1);
        for (const r of failed) {
            assert.strictEqual(r.status, 502);
            assert.strictEqual(r.json.error.code, "upstream_failed");
        }
        assert.strictEqual(good.requests.length, 6 - failed.length, "no request was sent twice");
        // The probe the 5xx triggered has run (bad answered it) and the gateway has read its answer.
        const probing = () => [...(pool as unknown as { upstreams: Map<string, { probing: boolean }> }).upstreams.values()].some((u) => u.probing);
        await waitFor(() => bad.stats().probes > probesBefore && !probing(), 5000, "the probe after the 5xx");
        const m = await metrics(gw.url);
        assert.strictEqual(metric(m, "gateway_upstream_retries_total", { pool: "a10g" }) ?? 0, 0);
        assert.strictEqual(metric(m, "gateway_upstream_ejections_total", { pool: "a10g" }) ?? 0, 0);
        assert.strictEqual(pool.readyCount(), 2, "still in rotation for everyone");
    });

    it("takes a worker out at once when a 5xx comes with a failing probe (the engine died)", async () => {
        const bad = await fake();
        const good = await fake();
        const gw = await gateway(config([bad.url, good.url], { health: { ...FAST_HEALTH, probeIntervalSeconds: 30, ejectSeconds: 30 } }));
        const pool = gw.pools.get("a10g")!;
        await waitFor(() => pool.readyCount() === 2, 2000);
        bad.setFail("dead-engine");
        const replies: number[] = [];
        for (let i = 0; i < 6; i++) replies.push((await post(gw.url, chatBody(`q${i}`))).status);
        await waitFor(() => pool.readyCount() === 1, 2000, "bad out of rotation");
        const before = bad.requests.length;
        for (let i = 0; i < 4; i++) assert.strictEqual((await post(gw.url, chatBody(`later${i}`))).status, 200);
        assert.strictEqual(bad.requests.length, before);
        assert.ok(replies.filter((s) => s !== 200).length <= 2, `few requests met the dead engine: ${replies}`);
    });

    it("retries a non-stream answer whose body breaks off (nothing was sent to the client yet)", async () => {
        const bad = await fake();
        const good = await fake();
        const gw = await gateway(config([bad.url, good.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 2, 2000);
        bad.setFail("close-mid-stream", { times: 1 });
        const replies = await Promise.all([post(gw.url, chatBody("a b")), post(gw.url, chatBody("c d"))]);
        assert.deepStrictEqual(
            replies.map((r) => r.json.choices[0].message.content),
            ["Echo: a b", "Echo: c d"],
        );
        assert.strictEqual(metric(await metrics(gw.url), "gateway_upstream_retries_total", { pool: "a10g" }), 1);
    });

    it("answers 502 in the OpenAI shape when the retry of a connection failure fails too", async () => {
        const a = await fake();
        const b = await fake();
        const gw = await gateway(config([a.url, b.url], { health: { ...FAST_HEALTH, probeIntervalSeconds: 30, failuresToEject: 5 } }));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 2, 2000);
        a.setFail("reset");
        b.setFail("reset");
        const r = await post(gw.url, chatBody("doomed"));
        assert.strictEqual(r.status, 502);
        assert.strictEqual(r.json.error.code, "upstream_failed");
        assert.strictEqual(a.requests.length + b.requests.length, 2, "exactly one retry");
        assert.strictEqual(a.requests.length, 1, "the retry went to the other upstream");
    });

    it("ends a stream that breaks mid-way with an error event, never a silent truncation", async () => {
        const f = await fake({ tokenDelayMs: 10 });
        const gw = await gateway(config([f.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        f.setFail("close-mid-stream", { afterTokens: 2, times: 1 });
        const s = await postStream(gw.url, chatBody("one two three four five six"));
        assert.strictEqual(s.status, 200);
        assert.strictEqual(s.content, "Echo: one", "the two tokens sent before the break");
        assert.strictEqual(s.done, false, "no [DONE] after a failure");
        assert.ok(s.error, `an error event ends the stream: ${s.raw}`);
        assert.strictEqual(s.error.code, "stream_interrupted");
        assert.strictEqual(metric(await metrics(gw.url), "gateway_stream_errors_total", { pool: "a10g" }), 1);
        assert.strictEqual(f.requests.length, 1, "a started stream is not retried");
    });

    it("treats a stream that ends cleanly but without data: [DONE] as interrupted", async () => {
        // An upstream (or a proxy in between) that closes the stream properly but early.
        const server = http.createServer((req, res) => {
            if (req.url === "/v1/models") return void res.writeHead(200, { "content-type": "application/json" }).end('{"object":"list","data":[]}');
            req.resume();
            req.on("end", () => {
                res.writeHead(200, { "content-type": "text/event-stream" });
                res.end('data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"partial"}}]}\n\n');
            });
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        onCleanup(() => new Promise<void>((r) => server.close(() => r())));
        const gw = await gateway(config([`http://127.0.0.1:${(server.address() as AddressInfo).port}`]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const s = await postStream(gw.url, chatBody("x"));
        assert.strictEqual(s.content, "partial");
        assert.strictEqual(s.done, false);
        assert.strictEqual(s.error?.code, "stream_interrupted", s.raw);
    });

    it("retries a stream that fails before its first chunk", async () => {
        const bad = await fake();
        const good = await fake();
        const gw = await gateway(config([bad.url, good.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 2, 2000);
        bad.setFail("reset");
        const results = await Promise.all([postStream(gw.url, chatBody("s one")), postStream(gw.url, chatBody("s two"))]);
        assert.deepStrictEqual(
            results.map((s) => [s.content, s.done, s.error]),
            [
                ["Echo: s one", true, undefined],
                ["Echo: s two", true, undefined],
            ],
        );
    });

    it("cancels the upstream request when the client disconnects mid-stream", async () => {
        const f = await fake({ tokenDelayMs: 50, maxTokens: 100 });
        const gw = await gateway(config([f.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
        const s = await postStream(gw.url, chatBody(words), { abortAfterChunks: 2 });
        assert.strictEqual(s.content.split(" ").length, 2);
        await waitFor(() => f.stats().aborted === 1, 3000, "upstream saw the cancel");
        assert.strictEqual(f.stats().completed, 0);
        await waitFor(async () => metric(await metrics(gw.url), "gateway_inflight_requests", { pool: "a10g" }) === 0, 3000, "inflight back to 0");
        assert.strictEqual(metric(await metrics(gw.url), "gateway_requests_total", { pool: "a10g", code: "499" }), 1);
    });

    it("discovers upstreams from DNS and follows changes", async () => {
        const a = await fake();
        const b = await fake();
        // Both fakes listen on 127.0.0.1 with different ports; a headless Service gives one port, so map names per test.
        let answer: string[] = [];
        const gwA = await gateway(config([], { pools: [{ name: "a10g", models: [MODEL], dns: `vllm-a10g-headless:${a.port}` }] }), {
            resolver: async (host) => {
                assert.strictEqual(host, "vllm-a10g-headless");
                return answer;
            },
        });
        const pool = gwA.pools.get("a10g")!;
        // No pods yet: the request is held, then served once DNS returns a ready pod.
        const pending = post(gwA.url, chatBody("via dns"));
        await waitFor(() => pool.queueDepth === 1, 2000, "queued");
        answer = ["127.0.0.1"];
        const r = await pending;
        assert.strictEqual(r.status, 200);
        assert.strictEqual(a.requests.length, 1);
        // The pod goes away: the upstream is dropped.
        answer = [];
        await waitFor(async () => metric(await metrics(gwA.url), "gateway_upstreams", { pool: "a10g" }) === 0, 2000, "upstream removed");
        assert.strictEqual(b.requests.length, 0);
    });

    it("resolves a real host name (localhost) for dns pools", async () => {
        const f = await fake();
        const gw = await gateway(config([], { pools: [{ name: "a10g", models: [MODEL], dns: `localhost:${f.port}` }] }));
        const r = await post(gw.url, chatBody("hello localhost"));
        assert.strictEqual(r.status, 200);
        assert.strictEqual(r.json.choices[0].message.content, "Echo: hello localhost");
    });

    it("keeps serving from a pool whose other upstream never comes up", async () => {
        const f = await fake();
        const dead = `http://127.0.0.1:${await freePort()}`;
        const gw = await gateway(config([dead, f.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => post(gw.url, chatBody(`q${i}`))));
        assert.ok(replies.every((r) => r.status === 200));
        assert.strictEqual(metric(await metrics(gw.url), "gateway_upstream_retries_total", { pool: "a10g" }) ?? 0, 0, "never tried the dead one");
    });
});
