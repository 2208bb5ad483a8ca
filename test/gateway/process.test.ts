/**
 * The built gateway as a process (entry, config sources, SIGTERM drain) and workers killed
 * under load. The bundle is built here with esbuild, like `npm run build:gateway`.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import { spawnGateway } from "./spawn";
import { expectedAnswer, spawnFakeVllm } from "../fakes/vllm";
import {
    buildGateway,
    chatBody,
    config,
    fake,
    FAST_HEALTH,
    freePort,
    gateway,
    get,
    metric,
    metrics,
    MODEL,
    onCleanup,
    post,
    postStream,
    sleep,
    waitFor,
    writeConfig,
} from "./helpers";

describe("gateway process", function () {
    this.timeout(30_000);

    before(async () => {
        await buildGateway();
    });

    it("starts from --config with PORT, and exits 0 on SIGTERM", async () => {
        const port = await freePort();
        const file = writeConfig(config(["http://127.0.0.1:9"], { logLevel: "info" }));
        const gw = await spawnGateway(["--config", file], { PORT: String(port) });
        assert.strictEqual(gw.url, `http://127.0.0.1:${port}`);
        assert.strictEqual((await get(gw.url, "/healthz", null)).status, 200);
        gw.proc.kill("SIGTERM");
        assert.deepStrictEqual(await gw.exit, { code: 0, signal: null });
    });

    it("starts from GATEWAY_CONFIG", async () => {
        const port = await freePort();
        const file = writeConfig(config(["http://127.0.0.1:9"], { logLevel: "info" }));
        const gw = await spawnGateway([], { GATEWAY_CONFIG: file, PORT: String(port) });
        assert.strictEqual((await get(gw.url, "/readyz", null)).status, 200);
        gw.proc.kill("SIGTERM");
        assert.strictEqual((await gw.exit).code, 0);
    });

    it("exits 1 with a message naming the bad field when the config is invalid", async () => {
        const bundle = await buildGateway();
        const file = writeConfig({ pools: [{ name: "a10g", models: [MODEL], upstreams: ["10.0.0.5:8000"] }] });
        const proc = spawn(process.execPath, [bundle], { env: { ...process.env, GATEWAY_CONFIG: file, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
        let err = "";
        proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
        const code = await new Promise<number | null>((r) => proc.once("exit", r));
        assert.strictEqual(code, 1);
        assert.match(err, /pools\[0\]\.upstreams\[0\]: must be a base URL/);
        assert.match(err, /"10\.0\.0\.5:8000"/);
    });

    it("drops nothing on SIGTERM during load: readyz turns 503 at once, new requests are refused, held ones finish, exit 0", async () => {
        const f = await fake({ tokenDelayMs: 20 });
        const port = await freePort();
        const file = writeConfig(
            config([], {
                pools: [{ name: "a10g", models: [MODEL], upstreams: [f.url], maxConcurrentPerUpstream: 4 }],
                logLevel: "info",
                drainTimeoutSeconds: 20,
            }),
        );
        const gw = await spawnGateway(["--config", file], { PORT: String(port) });
        await waitFor(async () => metric(await metrics(gw.url), "gateway_upstreams_ready", { pool: "a10g" }) === 1, 3000, "upstream ready");
        const bodies = Array.from({ length: 40 }, (_, i) => chatBody(`request ${i} a b c d e f g`));
        const pending = bodies.map((b, i) => (i % 2 ? postStream(gw.url, b) : post(gw.url, b)));
        await waitFor(async () => (metric(await metrics(gw.url), "gateway_queue_depth", { pool: "a10g" }) ?? 0) >= 20, 3000, "requests queued");

        gw.proc.kill("SIGTERM");
        await waitFor(async () => (await get(gw.url, "/readyz", null)).status === 503, 2000, "readyz 503");
        const refused = await post(gw.url, chatBody("too late"));
        assert.strictEqual(refused.status, 503);
        assert.strictEqual(refused.json.error.code, "shutting_down");
        assert.ok(f.requests.length < 40, "the drain started before the held requests were done");

        const results = await Promise.all(pending);
        results.forEach((r, i) => {
            const want = expectedAnswer(bodies[i]);
            if ("content" in r) {
                assert.deepStrictEqual([r.status, r.content, r.done], [200, want, true], `stream ${i}`);
            } else {
                assert.strictEqual(r.status, 200, `request ${i}: ${r.text}`);
                assert.strictEqual(r.json.choices[0].message.content, want);
            }
        });
        assert.deepStrictEqual(await gw.exit, { code: 0, signal: null });
        assert.strictEqual(f.requests.length, 40);
        assert.match(gw.logs(), /"clean":true,.*"msg":"drained"/);
    });

    it("bounds the drain by drainTimeoutSeconds: a stream still running gets an error event, a queued request a 503, exit 0", async () => {
        const f = await fake({ tokenDelayMs: 100, maxTokens: 100 });
        const port = await freePort();
        const file = writeConfig(
            config([], {
                pools: [{ name: "a10g", models: [MODEL], upstreams: [f.url], maxConcurrentPerUpstream: 1 }],
                logLevel: "info",
                drainTimeoutSeconds: 0.5,
            }),
        );
        const gw = await spawnGateway(["--config", file], { PORT: String(port) });
        await waitFor(async () => metric(await metrics(gw.url), "gateway_upstreams_ready", { pool: "a10g" }) === 1, 3000);
        const long = Array.from({ length: 50 }, (_, i) => `w${i}`).join(" ");
        const stream = postStream(gw.url, chatBody(long));
        await waitFor(() => f.stats().running === 1, 2000);
        const queued = post(gw.url, chatBody("queued"));
        await waitFor(async () => metric(await metrics(gw.url), "gateway_queue_depth", { pool: "a10g" }) === 1, 2000);
        gw.proc.kill("SIGTERM");
        const [s, q, exit] = await Promise.all([stream, queued, gw.exit]);
        // Exited while the 50-word stream was still running: the drain timeout (0.5 s) cut it, as the stream's error says.
        assert.deepStrictEqual(exit, { code: 0, signal: null });
        assert.strictEqual(s.done, false);
        assert.strictEqual(s.error?.code, "shutting_down", s.raw.slice(-300));
        assert.ok(s.content.startsWith("Echo: w0"), "the stream had started");
        assert.strictEqual(q.status, 503);
        assert.strictEqual(q.json.error.code, "shutting_down");
    });

    it("loses no request that had not started streaming when a worker is killed mid-load", async () => {
        const [a, b] = await Promise.all([spawnFakeVllm({ tokenDelayMs: 15 }), spawnFakeVllm({ tokenDelayMs: 15 })]);
        onCleanup(() => a.kill());
        onCleanup(() => b.kill());
        const gw = await gateway(config([a.url, b.url], { health: { ...FAST_HEALTH, ejectSeconds: 10 } }));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 2, 3000, "both workers ready");
        const bodies = Array.from({ length: 80 }, (_, i) => chatBody(`load ${i} one two three four five six seven`));
        const pending = bodies.map((body, i) => (i % 2 ? postStream(gw.url, body) : post(gw.url, body)));
        await waitFor(async () => (await a.stats()).running >= 10, 3000, "worker A busy");
        await a.kill("SIGKILL");
        const results = await Promise.all(pending);

        let interrupted = 0;
        results.forEach((r, i) => {
            const want = expectedAnswer(bodies[i]);
            if ("content" in r) {
                const s = r;
                assert.strictEqual(s.status, 200);
                if (s.error) {
                    // Only a stream that had already started may fail, and it says so.
                    interrupted++;
                    assert.strictEqual(s.error.code, "stream_interrupted");
                    assert.ok(s.content.length > 0 && want.startsWith(s.content), `stream ${i} failed before it started: ${s.raw}`);
                    assert.strictEqual(s.done, false);
                } else {
                    assert.deepStrictEqual([s.content, s.done], [want, true], `stream ${i}`);
                }
            } else {
                assert.strictEqual(r.status, 200, `request ${i} was lost: ${r.text}`);
                assert.strictEqual(r.json.choices[0].message.content, want);
            }
        });
        const m = await metrics(gw.url);
        const retries = metric(m, "gateway_upstream_retries_total", { pool: "a10g" }) ?? 0;
        assert.ok(retries >= 1, "non-stream requests in progress on the killed worker were retried");
        assert.strictEqual(metric(m, "gateway_stream_errors_total", { pool: "a10g" }) ?? 0, interrupted);
        // After the kill every request goes to the survivor.
        const after = await Promise.all(Array.from({ length: 10 }, (_, i) => post(gw.url, chatBody(`after ${i}`))));
        assert.ok(after.every((r) => r.status === 200));
        await sleep(10);
    });
});
