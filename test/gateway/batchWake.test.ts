/**
 * A batch whose lines were claimed just as the pool's last worker went away (scale to zero
 * racing a submission) still counts as backlog, so the KEDA batch trigger
 * (max(gateway_batch_backlog{pool})) wakes the pool. Found by `npm run dev`'s smoke test: the
 * lines sat claimed, retrying, with the gauge at 0, and the batch never finished.
 */
import * as assert from "assert";
import OpenAI, { toFile } from "openai";
import { redisForFile } from "../helpers/redis";
import { chatBody, config, fake, gateway, get, metric, metrics, MODEL, waitFor, KEY } from "./helpers";

const redis = redisForFile();

describe("batch backlog while the pool scales to zero", function () {
    this.timeout(30_000);

    it("counts lines claimed but waiting for a worker, then finishes them when a worker is back", async () => {
        const f = await fake();
        // Probes far apart: the gateway still takes the stopped worker for ready when the lines arrive.
        const gw = await gateway(
            config([f.url], {
                health: { probeIntervalSeconds: 30, probeIntervalNotReadySeconds: 0.05, probeTimeoutSeconds: 0.5, ejectSeconds: 1, dnsRefreshSeconds: 0.1 },
                batch: { redisUrl: redis.url, keyPrefix: `wake${process.pid}:{b}:`, leaseSeconds: 5, metricsIntervalSeconds: 0.1 },
            }),
        );
        await waitFor(async () => (await get(gw.url, "/readyz", null)).json.pools.a10g.readyUpstreams === 1, 5000, "the worker to be ready");
        await f.stop();

        const c = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
        const lines = [1, 2].map((n) =>
            JSON.stringify({ custom_id: `q${n}`, method: "POST", url: "/v1/chat/completions", body: chatBody(`question ${n}`, { model: MODEL }) }),
        );
        const file = await c.files.create({ file: await toFile(Buffer.from(`${lines.join("\n")}\n`), "in.jsonl"), purpose: "batch" });
        const batch = await c.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });

        await waitFor(
            async () => metric(await metrics(gw.url), "gateway_batch_backlog", { pool: "a10g" }) === 2,
            10_000,
            "gateway_batch_backlog{pool} to count both claimed lines",
        );
        assert.strictEqual(metric(await metrics(gw.url), "gateway_upstreams_ready", { pool: "a10g" }), 0, "no worker: the backlog is what wakes the pool");

        await f.restart();
        await waitFor(async () => (await c.batches.retrieve(batch.id)).status === "completed", 20_000, "the batch to finish once a worker is back");
        await waitFor(async () => metric(await metrics(gw.url), "gateway_batch_backlog", { pool: "a10g" }) === 0, 5000, "the backlog to drain");
    });
});
