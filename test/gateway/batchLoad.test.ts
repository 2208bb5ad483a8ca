/**
 * Batch API under load, against a real redis-server: a large input file must not stall the
 * event loop (other requests keep being answered while it is uploaded and validated), and a
 * large output file is streamed from Valkey in bounded chunks.
 */
import * as assert from "assert";
import OpenAI, { toFile } from "openai";
import { startRedis, RedisServer } from "../helpers/redis";
import { chatBody, config, gateway, KEY } from "./helpers";

let redis: RedisServer;

before(async function () {
    this.timeout(20_000);
    redis = await startRedis();
});
after(async () => redis?.stop());

/** Max and count of /healthz latencies, polled back to back until `stop` resolves. */
async function pollHealth(url: string, stop: Promise<unknown>): Promise<{ max: number; n: number }> {
    let done = false;
    void stop.finally(() => (done = true));
    let max = 0;
    let n = 0;
    while (!done) {
        const t0 = performance.now();
        const r = await fetch(`${url}/healthz`);
        await r.arrayBuffer();
        max = Math.max(max, performance.now() - t0);
        n++;
        await new Promise((r) => setTimeout(r, 5));
    }
    return { max, n };
}

describe("batch API under load (real redis-server)", function () {
    this.timeout(120_000);

    it("keeps answering /healthz within 200 ms while a 50,000-line file is uploaded and validated", async () => {
        const gw = await gateway(config(["http://127.0.0.1:9"], { batch: { redisUrl: redis.url, keyPrefix: `load${process.pid}:{b}:` } }));
        const c = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 100_000 });
        const text = chatBody("describe the lesion on this slice, its size, density and margins, and compare with the prior study if any");
        const lines = Array.from({ length: 50_000 }, (_, i) => JSON.stringify({ custom_id: `slice-${i}`, method: "POST", url: "/v1/chat/completions", body: { ...text, metadata_note: "x".repeat(200) } }));
        const data = Buffer.from(lines.join("\n") + "\n");
        const work = (async () => {
            const file = await c.files.create({ file: await toFile(data, "big.jsonl"), purpose: "batch" });
            const b = await c.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
            return b;
        })();
        const [b, health] = await Promise.all([work, pollHealth(gw.url, work)]);
        console.log(`      ${(data.length / 1e6).toFixed(1)} MB, 50,000 lines: /healthz max ${health.max.toFixed(0)} ms over ${health.n} polls; batch ${b.status}`);
        assert.ok(["validating", "in_progress"].includes(b.status), `${b.status} ${JSON.stringify(b.errors)}`);
        assert.strictEqual(b.request_counts?.total, 50_000);
        assert.ok(health.max < 200, `/healthz stalled ${health.max.toFixed(0)} ms`);
        await c.batches.cancel(b.id);
    });
});
