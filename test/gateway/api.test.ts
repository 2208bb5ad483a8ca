/** The gateway's HTTP surface: endpoints, errors in the OpenAI shape, auth, limits on input, logs. */
import * as assert from "assert";
import { request } from "undici";
import { expectedAnswer } from "../fakes/vllm";
import { chatBody, config, fake, gateway, get, KEY, logCapture, metric, metrics, MODEL, post, postStream, waitFor } from "./helpers";

/** A 1x1 PNG as a data URL, the way the UI sends images. */
const PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

function assertOpenAIError(body: unknown, code: string): void {
    const e = (body as { error?: Record<string, unknown> }).error;
    assert.ok(e, `expected an OpenAI error body, got ${JSON.stringify(body)}`);
    assert.strictEqual(typeof e.message, "string");
    assert.ok((e.message as string).length > 0);
    assert.strictEqual(typeof e.type, "string");
    assert.strictEqual(e.code, code);
}

describe("gateway HTTP API", function () {
    async function ready() {
        const f = await fake({ tokenDelayMs: 0 });
        const gw = await gateway(config([f.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000, "upstream ready");
        return { f, gw };
    }

    it("answers a non-stream chat completion with the upstream's body and usage", async () => {
        const { f, gw } = await ready();
        const r = await post(gw.url, chatBody("what is on this x-ray"));
        assert.strictEqual(r.status, 200);
        assert.strictEqual(r.json.object, "chat.completion");
        assert.strictEqual(r.json.choices[0].message.content, expectedAnswer(chatBody("what is on this x-ray")));
        assert.strictEqual(r.json.usage.completion_tokens, 6);
        assert.strictEqual(f.requests.length, 1);
        assert.strictEqual(f.requests[0].headers.authorization, undefined, "the client's API key must not be forwarded");
    });

    it("streams SSE token by token, without buffering", async () => {
        const f = await fake({ tokenDelayMs: 80 });
        const gw = await gateway(config([f.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const body = chatBody("one two three four five", { stream_options: { include_usage: true } });
        const s = await postStream(gw.url, body);
        assert.strictEqual(s.status, 200);
        assert.match(String(s.headers["content-type"]), /^text\/event-stream/);
        assert.strictEqual(s.content, expectedAnswer(body));
        assert.ok(s.done, "ends with data: [DONE]");
        assert.strictEqual(s.events.at(-1).usage.completion_tokens, 6);
        // 6 tokens, 80 ms apart: the first must arrive long before the last (no buffering).
        assert.strictEqual(s.contentTimes.length, 6);
        assert.ok(s.contentTimes[5] - s.contentTimes[0] >= 300, `tokens arrived together: ${s.contentTimes.join(",")}`);
    });

    it("forwards images as data URLs byte for byte", async () => {
        const { f, gw } = await ready();
        const body = {
            model: MODEL,
            messages: [
                {
                    role: "user",
                    content: [
                        { type: "text", text: "describe" },
                        { type: "image_url", image_url: { url: PNG } },
                    ],
                },
            ],
        };
        const r = await post(gw.url, body);
        assert.strictEqual(r.status, 200);
        assert.strictEqual(r.json.choices[0].message.content, "Echo: describe [image x1]");
        assert.deepStrictEqual(f.requests[0].body, body);
    });

    it("lists the configured models in the OpenAI list shape, with each pool's cold-start estimate and the hold bound", async () => {
        const gw = await gateway(
            config([], {
                pools: [
                    { name: "a10g", models: [MODEL], upstreams: ["http://127.0.0.1:9"], coldStartSecondsEstimate: 158 },
                    { name: "a100", models: ["google/medgemma-4b-it"], upstreams: ["http://127.0.0.1:9"], coldStartSecondsEstimate: 173 },
                ],
                queue: { maxWaitSeconds: 540 },
            }),
        );
        const r = await get(gw.url, "/v1/models");
        assert.strictEqual(r.status, 200);
        assert.strictEqual(r.json.object, "list");
        type Model = { id: string; object: string; owned_by: string; cold_start_seconds_estimate: number; max_wait_seconds: number };
        assert.deepStrictEqual(
            r.json.data.map((m: Model) => [m.id, m.object, m.owned_by, m.cold_start_seconds_estimate, m.max_wait_seconds]),
            [
                [MODEL, "model", "a10g", 158, 540],
                ["google/medgemma-4b-it", "model", "a100", 173, 540],
            ],
        );
        // models.retrieve(id) sees the same object.
        const one = await get(gw.url, `/v1/models/${encodeURIComponent("google/medgemma-4b-it")}`);
        assert.deepStrictEqual(one.json, r.json.data[1]);
    });

    it("serves /healthz, /readyz (ready at zero workers) and /metrics with the documented names", async () => {
        const gw = await gateway(config(["http://127.0.0.1:9"]));
        assert.strictEqual((await get(gw.url, "/healthz", null)).status, 200);
        const ready = await get(gw.url, "/readyz", null);
        assert.strictEqual(ready.status, 200);
        assert.deepStrictEqual(ready.json.pools.a10g, { readyUpstreams: 0, queued: 0 });
        const m = await get(gw.url, "/metrics", null);
        assert.strictEqual(m.status, 200);
        assert.match(String(m.headers["content-type"]), /^text\/plain/);
        for (const name of ["gateway_queue_depth", "gateway_inflight_requests", "gateway_requests_total", "gateway_request_duration_seconds"]) {
            assert.match(m.text, new RegExp(`^# TYPE ${name} (gauge|counter|histogram)$`, "m"), name);
        }
        assert.strictEqual(metric(m.text, "gateway_queue_depth", { pool: "a10g" }), 0);
    });

    it("counts requests by pool and code and observes their duration", async () => {
        const { gw } = await ready();
        await post(gw.url, chatBody("a"));
        await post(gw.url, chatBody("b"));
        await post(gw.url, chatBody("c", { model: "nope" }));
        const text = await metrics(gw.url);
        assert.strictEqual(metric(text, "gateway_requests_total", { pool: "a10g", code: "200" }), 2);
        assert.strictEqual(metric(text, "gateway_requests_total", { pool: "none", code: "404" }), 1);
        assert.strictEqual(metric(text, "gateway_request_duration_seconds_count", { pool: "a10g" }), 2);
        assert.strictEqual(metric(text, "gateway_inflight_requests", { pool: "a10g" }), 0);
    });

    describe("errors", () => {
        it("returns 404 model_not_found for a model no pool serves", async () => {
            const { f, gw } = await ready();
            const r = await post(gw.url, chatBody("x", { model: "meta/llama-9000" }));
            assert.strictEqual(r.status, 404);
            assertOpenAIError(r.json, "model_not_found");
            assert.match(r.json.error.message, /meta\/llama-9000/);
            assert.strictEqual(f.requests.length, 0);
        });

        it("returns 400 for malformed JSON", async () => {
            const { gw } = await ready();
            const r = await post(gw.url, undefined, { raw: '{"model": "x", "messages": [' });
            assert.strictEqual(r.status, 400);
            assertOpenAIError(r.json, "invalid_json");
        });

        it("returns 400 naming the missing or wrong field", async () => {
            const { f, gw } = await ready();
            const cases: Array<[unknown, string, RegExp]> = [
                [{ messages: [{ role: "user", content: "hi" }] }, "missing_model", /'model'/],
                [{ model: MODEL }, "missing_messages", /'messages'/],
                [{ model: MODEL, messages: [] }, "missing_messages", /'messages'/],
                [{ model: MODEL, messages: ["hi"] }, "invalid_messages", /'messages\[0\]'/],
                [{ model: MODEL, messages: [{ role: "user", content: "hi" }], stream: "yes" }, "invalid_stream", /'stream'/],
                [[1, 2], "invalid_json", /JSON object/],
            ];
            for (const [body, code, msg] of cases) {
                const r = await post(gw.url, body);
                assert.strictEqual(r.status, 400, JSON.stringify(body));
                assertOpenAIError(r.json, code);
                assert.match(r.json.error.message, msg);
            }
            assert.strictEqual(f.requests.length, 0);
        });

        it("returns 413 for a body over maxBodyBytes, and accepts one just under", async () => {
            const f = await fake();
            const gw = await gateway(config([f.url], { maxBodyBytes: 64 * 1024 }));
            await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
            const big = chatBody("x".repeat(70 * 1024));
            const r = await post(gw.url, big);
            assert.strictEqual(r.status, 413);
            assertOpenAIError(r.json, "request_too_large");
            const ok = await post(gw.url, chatBody("y".repeat(60 * 1024)));
            assert.strictEqual(ok.status, 200);
            assert.strictEqual(f.requests.length, 1);
        });

        it("returns 401 without a key, with a wrong key, and for a non-Bearer header", async () => {
            const { f, gw } = await ready();
            for (const headers of [{}, { authorization: "Bearer sk-wrong" }, { authorization: `Basic ${KEY}` }]) {
                const res = await request(`${gw.url}/v1/chat/completions`, {
                    method: "POST",
                    headers: { "content-type": "application/json", ...headers },
                    body: JSON.stringify(chatBody("x")),
                });
                assert.strictEqual(res.statusCode, 401);
                const body = (await res.body.json()) as { error: { type: string } };
                assertOpenAIError(body, "invalid_api_key");
                // OpenAI's own 401: type invalid_request_error, code invalid_api_key (issue 23 point 11).
                assert.strictEqual(body.error.type, "invalid_request_error");
            }
            const onFastify = await get(gw.url, "/v1/warmup", "sk-wrong");
            assert.deepStrictEqual([onFastify.status, onFastify.json.error.type, onFastify.json.error.code], [401, "invalid_request_error", "invalid_api_key"]);
            assert.strictEqual((await get(gw.url, "/v1/models", null)).status, 401);
            assert.strictEqual((await get(gw.url, "/v1/models", "sk-wrong")).status, 401);
            assert.strictEqual(f.requests.length, 0);
        });

        it("refuses every /v1 request when the config has no auth section (secure by default)", async () => {
            const f = await fake();
            const cfg = config([f.url]);
            delete cfg.auth;
            const gw = await gateway(cfg);
            await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
            const r = await post(gw.url, chatBody("x"));
            assert.strictEqual(r.status, 401);
            assertOpenAIError(r.json, "invalid_api_key");
            assert.match(r.json.error.message, /not configured/);
            assert.strictEqual((await get(gw.url, "/v1/models")).status, 401);
            assert.strictEqual(f.requests.length, 0);
        });

        it("serves anonymous callers when auth.disabled is true", async () => {
            const f = await fake();
            const gw = await gateway(config([f.url], { auth: { disabled: true } }));
            await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
            const r = await post(gw.url, chatBody("hi"), { key: null });
            assert.strictEqual(r.status, 200);
            assert.strictEqual(metric(await metrics(gw.url), "gateway_team_requests_total", { team: "anonymous", pool: "a10g", code: "200" }), 1);
        });
    });

    describe("logs", () => {
        it("writes one JSON line per request with its request id, and never the key or the body", async () => {
            const f = await fake();
            const logs = logCapture();
            const gw = await gateway(config([f.url], { logLevel: "info" }), { logStream: logs.stream });
            await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
            const secretText = "PATIENT-JANE-DOE-1962";
            const r1 = await post(gw.url, chatBody(`findings for ${secretText}`), { headers: { "x-request-id": "trace-abc-123" } });
            const r2 = await post(gw.url, chatBody(`again ${secretText}`), { key: "sk-not-a-real-key-zzz" });
            assert.strictEqual(r1.status, 200);
            assert.strictEqual(r1.headers["x-request-id"], "trace-abc-123");
            assert.strictEqual(r2.status, 401);
            const id2 = String(r2.headers["x-request-id"]);
            assert.match(id2, /^[0-9a-f-]{36}$/);
            const lines = logs.lines();
            const l1 = lines.find((l) => l.requestId === "trace-abc-123" && l.status === 200);
            assert.ok(l1, "a completion line for request 1");
            assert.strictEqual(l1.team, "radiology");
            assert.strictEqual(l1.pool, "a10g");
            assert.ok(
                lines.find((l) => l.requestId === id2 && l.status === 401),
                "a line for the refused request",
            );
            const text = logs.text();
            for (const secret of [secretText, KEY, "sk-not-a-real-key-zzz", "Bearer"]) assert.ok(!text.includes(secret), `logs contain ${secret}`);
        });
    });
});
