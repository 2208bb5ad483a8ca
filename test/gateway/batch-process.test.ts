/**
 * Durability of batches across gateway processes (the built bundle, like production): a
 * gateway killed with SIGKILL mid-batch loses no line and writes no custom_id twice once a
 * new one takes over; SIGTERM hands claimed lines back so another replica runs them at once.
 */
import * as assert from "assert";
import { GatewayProcess, spawnGateway } from "./spawn";
import OpenAI, { toFile } from "openai";
import { startRedis, RedisServer } from "../helpers/redis";
import { buildGateway, chatBody, config, fake, KEY, waitFor, writeConfig } from "./helpers";

/** The gateway bundle as a process reading `file`, on an ephemeral port of 127.0.0.1. */
function spawnBatchGateway(file: string): Promise<GatewayProcess> {
    return spawnGateway(["--config", file], { PORT: "0", HOST: "127.0.0.1" });
}

const LINES = 60;
/** The SIGTERM test's batch: three rounds of the two replicas' 8 slots, enough for A to hold lines when it stops. */
const TERM_LINES = 24;

describe("batch durability across gateway processes (real redis-server)", function () {
    this.timeout(60_000);
    let redis: RedisServer;

    before(async () => {
        redis = await startRedis({ appendonly: true });
        await buildGateway();
    });
    after(async () => redis?.stop());

    async function submit(url: string, prefix: string, count = LINES) {
        const c = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
        const lines = Array.from({ length: count }, (_, i) =>
            JSON.stringify({ custom_id: `${prefix}-${i}`, method: "POST", url: "/v1/chat/completions", body: chatBody(`slice ${i}`) }),
        );
        const file = await c.files.create({ file: await toFile(Buffer.from(lines.join("\n")), "in.jsonl"), purpose: "batch" });
        return c.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    }

    async function finish(url: string, id: string, count = LINES): Promise<string[]> {
        const c = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
        let b = await c.batches.retrieve(id);
        await waitFor(async () => (b = await c.batches.retrieve(id)).status === "completed", 40_000, "batch completed");
        assert.deepStrictEqual(b.request_counts, { total: count, completed: count, failed: 0 });
        const text = await (await c.files.content(b.output_file_id!)).text();
        return text
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l).custom_id as string);
    }

    function progress(url: string, id: string): Promise<number> {
        const c = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
        return c.batches.retrieve(id).then((b) => b.request_counts!.completed);
    }

    it("SIGKILL at ~30 %: a restarted gateway completes the batch, every custom_id exactly once", async () => {
        // Slow answers (~30 ms each, 6 at once) so the kill lands mid-batch with lines in flight.
        const f = await fake({ tokenDelayMs: 10 });
        const cfg = config([f.url], {
            logLevel: "info",
            batch: { redisUrl: redis.url, keyPrefix: "kill:{b}:", leaseSeconds: 1, concurrencyPerUpstream: 6, reservedSlotsPerUpstream: 0 },
        });
        const file = writeConfig(cfg);
        const first = await spawnBatchGateway(file);
        const b = await submit(first.url, "k");
        await waitFor(async () => (await progress(first.url, b.id)) >= LINES * 0.3, 20_000, "30 % done");
        const inFlight = f.stats().running;
        first.proc.kill("SIGKILL");
        assert.deepStrictEqual(await first.exit, { code: null, signal: "SIGKILL" });
        const t0 = Date.now();
        const second = await spawnBatchGateway(file);
        const doneAtKill = await progress(second.url, b.id);
        assert.ok(doneAtKill >= LINES * 0.3 && doneAtKill < LINES, `killed mid-batch (${doneAtKill}/${LINES} done, ${inFlight} in flight)`);
        const t1 = Date.now();
        const ids = await finish(second.url, b.id);
        console.log(`      restart ${t1 - t0} ms, finish ${Date.now() - t1} ms, killed at ${doneAtKill}/${LINES} with ${inFlight} in flight`);
        assert.strictEqual(ids.length, LINES);
        assert.deepStrictEqual([...ids].sort(), Array.from({ length: LINES }, (_, i) => `k-${i}`).sort());
        assert.strictEqual(new Set(ids).size, LINES, "no custom_id twice");
        // Lines that were running when the gateway died were sent again (at least once more).
        assert.ok(f.requests.length >= LINES, `${f.requests.length} upstream calls for ${LINES} lines`);
    });

    it("SIGTERM hands claimed lines back: another replica finishes them without waiting for the lease", async () => {
        // Answers (~1.2 s) longer than the drain bound (1 s): replica A must hand lines back on SIGTERM.
        const f = await fake({ tokenDelayMs: 400 });
        // A long lease: only an explicit hand-back lets the other replica run A's lines soon.
        const cfg = config([f.url], {
            logLevel: "info",
            drainTimeoutSeconds: 1,
            batch: { redisUrl: redis.url, keyPrefix: "term:{b}:", leaseSeconds: 600, concurrencyPerUpstream: 4, reservedSlotsPerUpstream: 0 },
        });
        const file = writeConfig(cfg);
        const [a, other] = await Promise.all([spawnBatchGateway(file), spawnBatchGateway(file)]);
        const b = await submit(a.url, "t", TERM_LINES);
        await waitFor(async () => (await progress(a.url, b.id)) >= 5, 20_000, "some lines done");
        await waitFor(() => f.stats().running >= 6, 10_000, "both replicas running lines");
        a.proc.kill("SIGTERM");
        const exit = await a.exit;
        assert.deepStrictEqual(exit, { code: 0, signal: null }, a.logs().slice(-3000));
        assert.match(a.logs(), /batch: handed back unfinished lines/);
        const t0 = Date.now();
        const ids = await finish(other.url, b.id, TERM_LINES);
        assert.ok(Date.now() - t0 < 30_000);
        assert.strictEqual(new Set(ids).size, TERM_LINES);
        assert.strictEqual(ids.length, TERM_LINES);
    });
});
