/**
 * The OpenAI Batch API against a real redis-server (the Redis protocol Valkey speaks), driven
 * by the official OpenAI Node SDK unchanged: upload, create, progress, results, list, cancel,
 * team isolation, invalid lines with their line numbers, and interactive requests first.
 */
import * as assert from "assert";
import { Redis } from "ioredis";
import OpenAI, { toFile } from "openai";
import { expectedAnswer } from "../fakes/vllm";
import { redisForFile } from "../helpers/redis";
import { chatBody, config, fake, gateway, get, KEY, KEY2, metric, metrics, MODEL, onCleanup, post, waitFor } from "./helpers";
import type { GatewayConfigInput } from "../../gateway/src/index";

const redis = redisForFile();
let prefixN = 0;

/** A gateway config with batch on; each test gets its own key prefix in the shared server. */
function batchConfig(upstreams: string[], batch: Record<string, unknown> = {}, extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
    return config(upstreams, {
        ...extra,
        batch: { redisUrl: redis.url, keyPrefix: `t${process.pid}-${++prefixN}:{b}:`, leaseSeconds: 1, metricsIntervalSeconds: 0.2, ...batch },
    });
}

function client(url: string, key = KEY): OpenAI {
    return new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0, timeout: 20_000 });
}

function line(customId: string, question: string, model = MODEL): string {
    return JSON.stringify({ custom_id: customId, method: "POST", url: "/v1/chat/completions", body: chatBody(question, { model }) });
}

async function upload(c: OpenAI, lines: string[]) {
    return c.files.create({ file: await toFile(Buffer.from(lines.join("\n") + "\n"), "input.jsonl"), purpose: "batch" });
}

async function waitDone(c: OpenAI, id: string, timeoutMs = 20_000) {
    let b = await c.batches.retrieve(id);
    await waitFor(
        async () => ["completed", "failed", "cancelled", "expired"].includes((b = await c.batches.retrieve(id)).status),
        timeoutMs,
        `batch ${id} to finish`,
    );
    return b;
}

describe("batch API (OpenAI SDK, real redis-server)", function () {
    this.timeout(30_000);

    it("runs an uploaded file: every custom_id once in the output with its answer, request_counts, files and pagination", async () => {
        const f = await fake({ tokenDelayMs: 2 });
        const gw = await gateway(batchConfig([f.url]));
        const c = client(gw.url);
        const lines = Array.from({ length: 12 }, (_, i) => line(`scan-${i}`, `finding on slice ${i}`));
        const file = await upload(c, lines);
        assert.strictEqual(file.object, "file");
        assert.strictEqual(file.purpose, "batch");
        assert.strictEqual(file.bytes, Buffer.byteLength(lines.join("\n") + "\n"));
        assert.strictEqual((await c.files.retrieve(file.id)).id, file.id);
        assert.strictEqual(await (await c.files.content(file.id)).text(), lines.join("\n") + "\n");

        const created = await c.batches.create({
            input_file_id: file.id,
            endpoint: "/v1/chat/completions",
            completion_window: "24h",
            metadata: { study: "ct-42" },
        });
        assert.ok(["validating", "in_progress", "completed"].includes(created.status), created.status);
        assert.strictEqual(created.request_counts?.total, 12);
        assert.deepStrictEqual(created.metadata, { study: "ct-42" });
        const done = await waitDone(c, created.id);
        assert.strictEqual(done.status, "completed");
        assert.deepStrictEqual(done.request_counts, { total: 12, completed: 12, failed: 0 });
        assert.ok(done.completed_at && done.in_progress_at && done.completed_at >= done.in_progress_at);
        assert.strictEqual(done.error_file_id, null);

        const out = (await (await c.files.content(done.output_file_id!)).text())
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l));
        assert.deepStrictEqual(out.map((o) => o.custom_id).sort(), lines.map((l) => JSON.parse(l).custom_id).sort());
        for (const o of out) {
            const i = Number(o.custom_id.split("-")[1]);
            assert.strictEqual(o.error, null);
            assert.strictEqual(o.response.status_code, 200);
            assert.match(o.response.request_id, /^batch_req_/);
            assert.strictEqual(o.response.body.choices[0].message.content, expectedAnswer(chatBody(`finding on slice ${i}`)));
        }
        assert.strictEqual(f.requests.length, 12);
        assert.ok(f.requests.every((r) => r.body.stream === false));
        const outFile = await c.files.retrieve(done.output_file_id!);
        assert.strictEqual(outFile.purpose, "batch_output");
        assert.strictEqual(outFile.bytes, Buffer.byteLength(await (await c.files.content(done.output_file_id!)).text()));

        // Pagination over three batches, newest first, two per page.
        const b2 = await c.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
        const b3 = await c.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
        const page = await c.batches.list({ limit: 2 });
        assert.deepStrictEqual(
            page.data.map((b) => b.id),
            [b3.id, b2.id],
        );
        assert.strictEqual(page.hasNextPage(), true);
        const all: string[] = [];
        for await (const b of c.batches.list({ limit: 2 })) all.push(b.id);
        assert.deepStrictEqual(all, [b3.id, b2.id, created.id]);
        await waitDone(c, b3.id);
        await waitDone(c, b2.id);

        const deleted = await c.files.delete(file.id);
        assert.deepStrictEqual([deleted.id, deleted.deleted], [file.id, true]);
        await assert.rejects(c.files.retrieve(file.id), (e: InstanceType<typeof OpenAI.NotFoundError>) => e.status === 404);

        const m = await metrics(gw.url);
        assert.strictEqual(metric(m, "gateway_batch_lines_total", { pool: "a10g", team: "radiology", outcome: "completed" }), 36);
        // The backlog gauge is read from Valkey every metricsIntervalSeconds: it reaches 0 within one period.
        await waitFor(async () => metric(await metrics(gw.url), "gateway_batch_backlog", { pool: "a10g" }) === 0, 5000, "backlog 0");
    });

    it("keeps teams apart: another team's file and batch are 404 and its lists are empty", async () => {
        const f = await fake();
        const gw = await gateway(batchConfig([f.url]));
        const radiology = client(gw.url, KEY);
        const cardiology = client(gw.url, KEY2);
        const file = await upload(radiology, [line("a", "one")]);
        const b = await radiology.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
        const is404 = (e: { status?: number }) => e.status === 404;
        await assert.rejects(cardiology.files.retrieve(file.id), is404);
        await assert.rejects(cardiology.files.content(file.id), is404);
        await assert.rejects(cardiology.files.delete(file.id), is404);
        await assert.rejects(cardiology.batches.retrieve(b.id), is404);
        await assert.rejects(cardiology.batches.cancel(b.id), is404);
        await assert.rejects(cardiology.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" }), is404);
        assert.deepStrictEqual((await cardiology.batches.list()).data, []);
        assert.deepStrictEqual((await cardiology.files.list()).data, []);
        const done = await waitDone(radiology, b.id);
        await assert.rejects(cardiology.files.content(done.output_file_id!), is404);
        assert.strictEqual((await get(gw.url, "/v1/batches", null)).status, 401);
    });

    it("fails validation with the line number of each invalid line, and keeps serving", async () => {
        const f = await fake();
        const gw = await gateway(batchConfig([f.url]), {});
        const c = client(gw.url);
        const big = "x".repeat(1200);
        const file = await upload(c, [
            line("ok-1", "fine"),
            "{not json",
            line("unknown", "q", "no/such-model"),
            line("ok-1", "duplicate id"),
            line("big", big),
            JSON.stringify({ custom_id: "m", method: "GET", url: "/v1/chat/completions", body: chatBody("q") }),
        ]);
        const gwSmall = await gateway(batchConfig([f.url], {}, { maxBodyBytes: 1000 }));
        // Same Valkey prefix is not shared: upload to the small-limit gateway too.
        const c2 = client(gwSmall.url);
        const file2 = await upload(c2, [
            line("ok-1", "fine"),
            "{not json",
            line("unknown", "q", "no/such-model"),
            line("ok-1", "duplicate id"),
            line("big", big),
        ]);
        const b = await c2.batches.create({ input_file_id: file2.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
        assert.strictEqual(b.status, "failed");
        assert.ok(b.failed_at);
        const errs = b.errors!.data!.map((e) => [e.line, e.code]);
        assert.deepStrictEqual(errs, [
            [2, "invalid_json_line"],
            [3, "model_not_found"],
            [4, "duplicate_custom_id"],
            [5, "request_too_large"],
        ]);
        assert.match(b.errors!.data![1].message!, /Line 3: the model 'no\/such-model' is not served/);
        const b1 = await c.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
        assert.deepStrictEqual(
            b1.errors!.data!.map((e) => e.line),
            [2, 3, 4, 6],
        );
        assert.strictEqual(f.requests.length, 0);
        assert.strictEqual((await post(gw.url, chatBody("still here"))).status, 200);
        // Bad requests to the API itself: 400 naming the field.
        await assert.rejects(
            c.batches.create({ input_file_id: file.id, endpoint: "/v1/embeddings", completion_window: "24h" }),
            (e: { status?: number; message?: string }) => e.status === 400 && /'endpoint' must be/.test(e.message ?? ""),
        );
        await assert.rejects(
            c.files.create({ file: await toFile(Buffer.from("{}"), "x.jsonl"), purpose: "fine-tune" }),
            (e: { status?: number }) => e.status === 400,
        );
    });

    it("enforces the team's limits: lines per batch, file bytes, batches in progress", async () => {
        const gw = await gateway(
            batchConfig(["http://127.0.0.1:9"], { limits: { default: { maxLinesPerBatch: 3, maxFileBytes: 2000, maxBatchesInProgress: 1 } } }),
        );
        const c = client(gw.url);
        const four = await upload(
            c,
            ["a", "b", "c", "d"].map((id) => line(id, "q")),
        );
        const b = await c.batches.create({ input_file_id: four.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
        assert.deepStrictEqual(
            b.errors!.data!.map((e) => [e.line, e.code]),
            [[4, "too_many_lines"]],
        );
        await assert.rejects(
            upload(c, [line("a", "x".repeat(3000))]),
            (e: { status?: number; message?: string }) => e.status === 413 && /maxFileBytes/.test(e.message ?? ""),
        );
        // Uploads are bounded by maxFileBytes, not by the (smaller) request body limit of chat requests.
        const small = await gateway(batchConfig(["http://127.0.0.1:9"], {}, { maxBodyBytes: 1000 }));
        const big = await upload(
            client(small.url),
            Array.from({ length: 30 }, (_, i) => line(`l${i}`, "q")),
        );
        assert.ok(big.bytes > 1000, String(big.bytes));
        const one = await upload(c, [line("a", "q")]);
        await c.batches.create({ input_file_id: one.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
        await assert.rejects(
            c.batches.create({ input_file_id: one.id, endpoint: "/v1/chat/completions", completion_window: "24h" }),
            (e: { status?: number }) => e.status === 429,
        );
    });

    it("cancels a batch waiting for a pool at zero: cancelled, nothing run, backlog back to 0", async () => {
        const f = await fake({ startupDelayMs: 60_000 }); // never ready within the test: a pool at zero
        const gw = await gateway(batchConfig([f.url]));
        const c = client(gw.url);
        const file = await upload(
            c,
            Array.from({ length: 20 }, (_, i) => line(`l${i}`, "q")),
        );
        const b = await c.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
        await waitFor(async () => metric(await metrics(gw.url), "gateway_batch_backlog", { pool: "a10g" }) === 20, 5000, "backlog 20");
        assert.strictEqual(metric(await metrics(gw.url), "gateway_batch_lines_queued", { pool: "a10g", team: "radiology" }), 20);
        const cancelled = await c.batches.cancel(b.id);
        assert.ok(["cancelling", "cancelled"].includes(cancelled.status), cancelled.status);
        const final = await waitDone(c, b.id);
        assert.strictEqual(final.status, "cancelled");
        assert.ok(final.cancelled_at && final.cancelling_at);
        assert.deepStrictEqual(final.request_counts, { total: 20, completed: 0, failed: 0 });
        assert.strictEqual(final.output_file_id, null);
        await waitFor(async () => metric(await metrics(gw.url), "gateway_batch_backlog", { pool: "a10g" }) === 0, 5000, "backlog 0");
        assert.strictEqual(f.requests.length, 0);
    });

    it("writes worker errors to the error file in the OpenAI shape", async () => {
        const f = await fake();
        const gw = await gateway(batchConfig([f.url], { maxAttempts: 2 }));
        const c = client(gw.url);
        f.setFail("status500");
        const file = await upload(c, [line("bad", "q")]);
        const b = await c.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
        const done = await waitDone(c, b.id);
        assert.strictEqual(done.status, "completed");
        assert.deepStrictEqual(done.request_counts, { total: 1, completed: 0, failed: 1 });
        assert.strictEqual(done.output_file_id, null);
        const err = JSON.parse((await (await c.files.content(done.error_file_id!)).text()).trim());
        assert.strictEqual(err.custom_id, "bad");
        assert.strictEqual(err.response, null);
        assert.strictEqual(err.error.code, "upstream_failed");
        assert.match(err.error.message, /after 2 attempts/);
    });

    it("runs batch lines only on room interactive requests leave", async () => {
        // One worker, 4 slots, 2 reserved: batch may hold 2; interactive requests never queue behind them.
        const f = await fake({ tokenDelayMs: 20, maxRunning: 4 });
        const gw = await gateway(
            batchConfig(
                [f.url],
                { concurrencyPerUpstream: 8, reservedSlotsPerUpstream: 2 },
                { pools: [{ name: "a10g", models: [MODEL], upstreams: [f.url], maxConcurrentPerUpstream: 4 }] },
            ),
        );
        const c = client(gw.url);
        const file = await upload(
            c,
            Array.from({ length: 30 }, (_, i) => line(`l${i}`, "a b c")),
        );
        const b = await c.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
        let maxBatch = 0;
        const timer = setInterval(() => (maxBatch = Math.max(maxBatch, f.stats().running)), 5);
        onCleanup(async () => clearInterval(timer));
        await waitFor(() => f.stats().running > 0, 5000, "batch lines running");
        const answers = await Promise.all([post(gw.url, chatBody("urgent one")), post(gw.url, chatBody("urgent two"))]);
        assert.deepStrictEqual(
            answers.map((a) => a.status),
            [200, 200],
        );
        assert.strictEqual(
            metric(await metrics(gw.url), "gateway_queue_wait_seconds_count", { pool: "a10g" }) ?? 0,
            0,
            "no interactive request waited in the queue",
        );
        await waitDone(c, b.id);
        clearInterval(timer);
        assert.ok(maxBatch <= 4, `at most 4 running at once on the worker, saw ${maxBatch}`);
        assert.strictEqual(f.stats().waiting, 0);
    });
});

describe("batch scheduling (real redis-server)", function () {
    this.timeout(60_000);

    it("takes no slot interactive demand needed in the last 10 s: a busy class's slots stay free for it (point 7)", async () => {
        // One worker of 4 slots, none reserved: only the recent interactive peak keeps batch off them.
        const f = await fake({ tokenDelayMs: 150, maxRunning: 4 });
        const gw = await gateway(
            batchConfig(
                [f.url],
                { concurrencyPerUpstream: 4, reservedSlotsPerUpstream: 0 },
                { pools: [{ name: "a10g", models: [MODEL], upstreams: [f.url], maxConcurrentPerUpstream: 4 }] },
            ),
        );
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const c = client(gw.url);
        const file = await upload(
            c,
            Array.from({ length: 8 }, (_, i) => line(`l${i}`, "a b")),
        );
        // The class: 4 questions at once, every slot.
        await Promise.all(Array.from({ length: 4 }, (_, i) => post(gw.url, chatBody(`class question ${i}`))));
        const classDone = Date.now();
        const b = await c.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
        await waitDone(c, b.id, 30_000);
        const firstLine = Math.min(
            ...f.requests.filter((q) => q.body.stream === false && String(JSON.stringify(q.body.messages)).includes('"a b"')).map((q) => q.receivedAtMs),
        );
        // The batch waited for the class's peak to leave the 10 s window (it started at once before).
        assert.ok(firstLine - classDone >= 7000, `the first batch line started ${firstLine - classDone} ms after the class's requests`);
    });

    it("claims no more lines from the queue than it has spare slots for (interactive latency: npm run bench -- batchPriority)", async () => {
        // One worker, 4 slots, 2 kept for interactive requests: batch may run 2 lines, so it may hold 2 claimed.
        const f = await fake({ tokenDelayMs: 20, maxRunning: 4 });
        const gw = await gateway(
            batchConfig(
                [f.url],
                { concurrencyPerUpstream: 8, reservedSlotsPerUpstream: 2 },
                { pools: [{ name: "a10g", models: [MODEL], upstreams: [f.url], maxConcurrentPerUpstream: 4 }] },
            ),
        );
        const c = client(gw.url);
        const r = new Redis(redis.url);
        onCleanup(async () => void r.disconnect());
        const queue = `${gw.config.batch!.keyPrefix}queue:a10g`;
        const b = await c.batches.create({
            input_file_id: (
                await upload(
                    c,
                    Array.from({ length: 60 }, (_, i) => line(`l${i}`, "a b c d")),
                )
            ).id,
            endpoint: "/v1/chat/completions",
            completion_window: "24h",
        });
        let maxClaimed = 0;
        let samples = 0;
        const timer = setInterval(() => {
            void r.xpending(queue, "gateways").then(
                (p) => {
                    samples++;
                    maxClaimed = Math.max(maxClaimed, Number(p[0] ?? 0));
                },
                () => undefined,
            );
        }, 5);
        onCleanup(async () => clearInterval(timer));
        const done = await waitDone(c, b.id);
        clearInterval(timer);
        assert.strictEqual(done.status, "completed");
        assert.ok(samples > 20, `${samples} samples`);
        // Before: the loop claimed up to its spare count again while earlier lines were still being read (held counted only once they waited for a slot).
        assert.ok(maxClaimed <= 2, `up to ${maxClaimed} lines claimed at once with 2 spare slots`);
    });
});
