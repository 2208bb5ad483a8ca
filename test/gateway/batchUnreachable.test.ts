/**
 * A gateway with batch on whose Valkey cannot be reached (address of the stack's Valkey that
 * does not resolve here, Valkey down) still shuts down promptly. Before the fix, close() queued
 * the hand-back and QUIT behind ioredis' reconnects (maxRetriesPerRequest 20, about 10 s),
 * fastify's close timeout (10 s) rejected it with AVV_ERR_READY_TIMEOUT, the pools were left
 * open and the client kept reconnecting.
 */
import * as assert from "assert";
import * as net from "net";
import { freePort } from "../helpers/net";
import { config, fake, sleep } from "./helpers";
import { startGateway } from "../../gateway/src/index";

describe("batch with Valkey unreachable", function () {
    this.timeout(30_000);

    it("closes the gateway without an error, and stops reconnecting, when Valkey never answered", async () => {
        const f = await fake();
        // Nothing listens there: every connection attempt is refused and ioredis retries.
        const port = await freePort();
        const gw = await startGateway(config([f.url], { batch: { redisUrl: `redis://127.0.0.1:${port}`, keyPrefix: "gone:{b}:", metricsIntervalSeconds: 0.2 } }), { port: 0, host: "127.0.0.1" });
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
