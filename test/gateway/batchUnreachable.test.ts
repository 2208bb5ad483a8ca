/**
 * A gateway with batch on whose Valkey cannot be reached (address of the stack's Valkey that
 * does not resolve here, Valkey down) still shuts down promptly. Before the fix, close() queued
 * the hand-back and QUIT behind ioredis' reconnects (maxRetriesPerRequest 20, about 10 s),
 * fastify's close timeout (10 s) rejected it with AVV_ERR_READY_TIMEOUT, the pools were left
 * open and the client kept reconnecting.
 */
import * as assert from "assert";
import * as net from "net";
import { request } from "undici";
import { freePort } from "../helpers/net";
import { startRedis } from "../helpers/redis";
import { config, fake, gateway, KEY, onCleanup, sleep } from "./helpers";
import { startGateway } from "../../gateway/src/index";

/** GET /v1/batches, given up on by the client after 15 s (before the fix the first answer took 73 s). */
async function listBatches(url: string): Promise<{ status: number; code?: string; retryAfter?: string }> {
    const res = await request(`${url}/v1/batches`, { headers: { authorization: `Bearer ${KEY}` }, headersTimeout: 15_000 });
    const body = (await res.body.json()) as { error?: { code?: string } };
    return { status: res.statusCode, code: body.error?.code, retryAfter: res.headers["retry-after"] as string | undefined };
}

describe("batch with Valkey unreachable", function () {
    this.timeout(30_000);

    it("answers the batch routes 503 batch_store_unavailable within seconds once Valkey stops, and serves again when it is back (issue 23 point 10)", async () => {
        const own = await startRedis();
        let current = own;
        onCleanup(() => current.stop());
        const f = await fake();
        const gw = await gateway(config([f.url], { batch: { redisUrl: own.url, keyPrefix: "down:{b}:", metricsIntervalSeconds: 0.2 } }));
        assert.strictEqual((await listBatches(gw.url)).status, 200);
        await own.stop();
        for (let i = 0; i < 2; i++) {
            // The first request after the stop, and a later one (the old code's first waited out 20 reconnects).
            assert.deepStrictEqual(await listBatches(gw.url), { status: 503, code: "batch_store_unavailable", retryAfter: "5" });
        }
        current = await startRedis({ port: own.port });
        let back = await listBatches(gw.url);
        for (let i = 0; back.status !== 200 && i < 20; i++) {
            await sleep(250);
            back = await listBatches(gw.url);
        }
        assert.strictEqual(back.status, 200);
    });

    it("answers 503 within seconds when Valkey accepts connections but never answers", async () => {
        // A hung store: TCP accepted, no reply to anything.
        const silent = net.createServer((s) => s.on("data", () => undefined));
        await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
        onCleanup(() => new Promise<void>((r) => silent.close(() => r())));
        const port = (silent.address() as net.AddressInfo).port;
        const f = await fake();
        const gw = await gateway(config([f.url], { batch: { redisUrl: `redis://127.0.0.1:${port}`, keyPrefix: "hung:{b}:", metricsIntervalSeconds: 0.2 } }));
        assert.deepStrictEqual(await listBatches(gw.url), { status: 503, code: "batch_store_unavailable", retryAfter: "5" });
    });

    it("closes the gateway without an error, and stops reconnecting, when Valkey never answered", async () => {
        const f = await fake();
        // Nothing listens there: every connection attempt is refused and ioredis retries.
        const port = await freePort();
        const gw = await startGateway(
            config([f.url], { batch: { redisUrl: `redis://127.0.0.1:${port}`, keyPrefix: "gone:{b}:", metricsIntervalSeconds: 0.2 } }),
            { port: 0, host: "127.0.0.1" },
        );
        // Let the runner queue its reads (group creation, reclaim, backlog) behind the reconnects.
        await sleep(500);
        // A close() that waited on ioredis' reconnects would never settle: the test's timeout catches it.
        const closed = await gw.close().then(
            () => "closed",
            (e: Error) => `rejected: ${e.message}`,
        );
        assert.strictEqual(closed, "closed");
        // Closed means closed: Valkey coming up at that address sees no connection from this gateway
        // (ioredis' reconnect delay is min(50 ms x attempts, 2 s), so a live client shows within 2.5 s).
        const srv = net.createServer((s) => s.destroy());
        let connections = 0;
        srv.on("connection", () => connections++);
        await new Promise<void>((r) => srv.listen(port, "127.0.0.1", () => r()));
        await sleep(2500);
        await new Promise<void>((r) => srv.close(() => r()));
        assert.strictEqual(connections, 0, "the closed gateway still connects to Valkey");
    });
});
