/** The fake vLLM behaves like the real server where the gateway and the UI depend on it. */
import * as assert from "assert";
import { request } from "undici";
import { fake, metric, MODEL, sleep } from "./helpers";

async function call(url: string, p: string, body?: unknown): Promise<{ status: number; text: string }> {
    const res = await request(
        `${url}${p}`,
        body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
    );
    return { status: res.statusCode, text: await res.body.text() };
}

describe("fake vLLM", () => {
    it("is alive on /health during startup but lists models (ready) only after the startup delay", async () => {
        const f = await fake({ startupDelayMs: 200 });
        assert.strictEqual((await call(f.url, "/health")).status, 200);
        assert.strictEqual((await call(f.url, "/v1/models")).status, 503);
        assert.strictEqual((await call(f.url, "/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: "x" }] })).status, 503);
        await sleep(220);
        const models = await call(f.url, "/v1/models");
        assert.strictEqual(models.status, 200);
        const list = JSON.parse(models.text);
        assert.strictEqual(list.object, "list");
        assert.deepStrictEqual(
            list.data.map((m: { id: string; object: string }) => [m.id, m.object]),
            [[MODEL, "model"]],
        );
    });

    it("answers non-stream with usage, and streams chunks, a usage chunk and [DONE]", async () => {
        const f = await fake();
        const r = JSON.parse((await call(f.url, "/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: "a b" }], max_tokens: 2 })).text);
        assert.strictEqual(r.object, "chat.completion");
        assert.strictEqual(r.choices[0].message.content, "Echo: a");
        assert.strictEqual(r.choices[0].finish_reason, "length");
        assert.deepStrictEqual(Object.keys(r.usage), ["prompt_tokens", "completion_tokens", "total_tokens"]);
        const s = await call(f.url, "/v1/chat/completions", {
            model: MODEL,
            messages: [{ role: "user", content: "a b" }],
            stream: true,
            stream_options: { include_usage: true },
        });
        const events = s.text.split("\n\n").filter(Boolean);
        assert.ok(events.every((e) => e.startsWith("data: ")));
        assert.strictEqual(events.at(-1), "data: [DONE]");
        const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
        assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
        assert.strictEqual(chunks[0].choices[0].delta.role, "assistant");
        assert.strictEqual(chunks.at(-1).choices.length, 0);
        assert.strictEqual(chunks.at(-1).usage.completion_tokens, 3);
        assert.strictEqual(chunks.at(-2).choices[0].finish_reason, "stop");
        assert.strictEqual(f.requests.length, 2);
        assert.strictEqual(f.requests[1].body.stream, true);
    });

    it("exports vllm:num_requests_running and vllm:num_requests_waiting", async () => {
        const f = await fake({ tokenDelayMs: 50, maxRunning: 1 });
        const pending = [1, 2, 3].map((i) => call(f.url, "/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: `q${i}` }] }));
        await sleep(30);
        const m = (await call(f.url, "/metrics")).text;
        assert.strictEqual(metric(m, "vllm:num_requests_running", { model_name: MODEL }), 1);
        assert.strictEqual(metric(m, "vllm:num_requests_waiting", { model_name: MODEL }), 2);
        await Promise.all(pending);
    });

    it("fails on demand: 500, reset, refuse", async () => {
        const f = await fake();
        f.setFail("status500", { times: 1 });
        assert.strictEqual((await call(f.url, "/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: "x" }] })).status, 500);
        assert.strictEqual((await call(f.url, "/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: "x" }] })).status, 200);
        f.setFail("reset");
        await assert.rejects(call(f.url, "/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: "x" }] }));
        f.setFail("refuse");
        await assert.rejects(call(f.url, "/v1/models"));
    });
});
