/**
 * The life of a batch in Valkey, against a real redis-server: expiry at the end of the
 * completion window (also when no replica was up at the deadline), retention TTLs that never
 * touch a running batch, Valkey full answered as an OpenAI-shaped 507, and the "max batches in
 * progress" limit held under concurrent creates on two replicas.
 */
import * as assert from "assert";
import { Redis } from "ioredis";
import OpenAI, { toFile } from "openai";
import { batchConfigSchema } from "../../gateway/src/batch/config";
import { BatchStore, connect } from "../../gateway/src/batch/store";
import { redisForFile } from "../helpers/redis";
import { chatBody, config, fake, gateway, KEY, onCleanup, waitFor } from "./helpers";
import type { GatewayConfigInput } from "../../gateway/src/index";

const redis = redisForFile();
let r: Redis;
let prefixN = 0;

before(() => {
    r = new Redis(redis.url);
});
after(() => r?.disconnect());

const newPrefix = () => `life${process.pid}-${++prefixN}:{b}:`;

function batchConfig(upstreams: string[], prefix: string, batch: Record<string, unknown> = {}): GatewayConfigInput {
    return config(upstreams, { batch: { redisUrl: redis.url, keyPrefix: prefix, leaseSeconds: 1, metricsIntervalSeconds: 0.2, ...batch } });
}

const client = (url: string) => new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0, timeout: 20_000 });
const line = (id: string) => JSON.stringify({ custom_id: id, method: "POST", url: "/v1/chat/completions", body: chatBody(`what does ${id} show`) });
const upload = async (c: OpenAI, ids: string[], extra: Record<string, unknown> = {}) =>
    c.files.create({ file: await toFile(Buffer.from(ids.map(line).join("\n") + "\n"), "in.jsonl"), purpose: "batch", ...extra });
const create = (c: OpenAI, fileId: string, extra: Record<string, unknown> = {}) =>
    c.batches.create({ input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h", ...extra });
const jsonl = async (c: OpenAI, id: string | null | undefined) =>
    id
        ? (await (await c.files.content(id)).text())
              .trim()
              .split("\n")
              .map((l) => JSON.parse(l) as Record<string, any>)
        : [];

describe("batch lifecycle in Valkey (real redis-server)", function () {
    this.timeout(40_000);

    it("expires a batch at the end of its completion window: finished lines in the output, the rest as batch_expired errors", async () => {
        const f = await fake({ tokenDelayMs: 15 });
        const gw = await gateway(batchConfig([f.url], newPrefix(), { completionWindowSeconds: 4, concurrencyPerUpstream: 1, reservedSlotsPerUpstream: 0 }));
        const c = client(gw.url);
        const ids = Array.from({ length: 20 }, (_, i) => `scan-${i}`);
        const b = await create(c, (await upload(c, ids)).id);
        assert.strictEqual(b.expires_at, b.created_at + 4);
        await waitFor(async () => (await c.batches.retrieve(b.id)).request_counts!.completed >= 3, 10_000, "3 lines done");
        f.setTokenDelay(60_000); // the worker stalls: the rest cannot finish within the window
        let done = await c.batches.retrieve(b.id);
        await waitFor(async () => (done = await c.batches.retrieve(b.id)).status === "expired", 15_000, "batch expired");
        const { completed, failed, total } = done.request_counts!;
        assert.ok(completed >= 3 && failed >= 1, JSON.stringify(done.request_counts));
        assert.strictEqual(completed + failed, total);
        assert.ok(done.expired_at! >= b.expires_at, `expired_at ${done.expired_at} before expires_at ${b.expires_at}`);
        assert.strictEqual(done.completed_at, null);
        const out = await jsonl(c, done.output_file_id);
        const err = await jsonl(c, done.error_file_id);
        assert.strictEqual(out.length, completed);
        assert.ok(out.every((o) => o.response.status_code === 200 && o.error === null));
        assert.strictEqual(err.length, failed);
        for (const e of err) {
            assert.strictEqual(e.response, null);
            assert.strictEqual(e.error.code, "batch_expired");
            assert.match(e.error.message, /completion window/);
            assert.match(e.id, /^batch_req_/);
        }
        assert.deepStrictEqual([...out, ...err].map((o) => o.custom_id).sort(), [...ids].sort(), "every custom_id exactly once");
        // Nothing of it is left to run: no queue entries, not in progress.
        assert.strictEqual(await r.scard(`${gw.config.batch!.keyPrefix}active`), 0);
    });

    it("expires a batch whose deadline passed while no gateway was up, when one starts", async () => {
        const prefix = newPrefix();
        const f = await fake({ startupDelayMs: 60_000 }); // a pool at zero: nothing runs
        const cfg = batchConfig([f.url], prefix, { completionWindowSeconds: 1 });
        const first = await gateway(cfg);
        const c1 = client(first.url);
        const b = await create(c1, (await upload(c1, ["a", "b", "c"])).id);
        await first.close();
        await new Promise((res) => setTimeout(res, 1500));
        assert.strictEqual(await r.hget(`${prefix}batch:${b.id}`, "status"), "in_progress", "no replica was up to expire it");
        const second = await gateway(cfg);
        const c2 = client(second.url);
        let done = await c2.batches.retrieve(b.id);
        await waitFor(async () => (done = await c2.batches.retrieve(b.id)).status === "expired", 10_000, "batch expired by the new replica");
        assert.deepStrictEqual(done.request_counts, { total: 3, completed: 0, failed: 3 });
        assert.strictEqual(done.output_file_id, null);
        assert.deepStrictEqual(
            (await jsonl(c2, done.error_file_id)).map((e) => [e.custom_id, e.error.code]),
            [
                ["a", "batch_expired"],
                ["b", "batch_expired"],
                ["c", "batch_expired"],
            ],
        );
        assert.strictEqual(f.requests.length, 0);
    });

    it("keeps data for its retention (Redis TTLs), never expiring a running batch, and honours expires_after / output_expires_after", async () => {
        const prefix = newPrefix();
        const f = await fake({ startupDelayMs: 4000 }); // the pool wakes after the input file has expired
        const days = (s: number) => s / 86_400;
        const gw = await gateway(batchConfig([f.url], prefix, { retention: { inputFileDays: days(3), outputFileDays: days(3), batchDays: days(3) } }));
        const c = client(gw.url);
        const kept = await upload(c, ["k"], { expires_after: { anchor: "created_at", seconds: 3600 } });
        assert.strictEqual(kept.expires_at, kept.created_at + 3600);
        const ttlKept = await r.ttl(`${prefix}file:${kept.id}`);
        assert.ok(ttlKept > 3500 && ttlKept <= 3600, String(ttlKept));
        await assert.rejects(
            upload(c, ["k"], { expires_after: { anchor: "created_at", seconds: 60 } }),
            (e: { status?: number; message?: string }) => e.status === 400 && /expires_after/.test(e.message ?? ""),
        );

        const input = await upload(c, ["x", "y"]);
        const ttlInput = await r.ttl(`${prefix}file:${input.id}`);
        assert.ok(ttlInput > 0 && ttlInput <= 3, String(ttlInput));
        const b = await create(c, input.id, { output_expires_after: { anchor: "created_at", seconds: 7200 } });
        await waitFor(async () => (await r.exists(`${prefix}file:${input.id}`)) === 0, 6000, "input file expired");
        // The running batch reads its lines from the input file, whose data it keeps (pinned) past the file's expiry; no TTL on anything of it.
        assert.strictEqual((await c.batches.retrieve(b.id)).status, "in_progress");
        for (const k of ["", ":index", ":done"]) assert.strictEqual(await r.ttl(`${prefix}batch:${b.id}${k}`), k === ":done" ? -2 : -1, `TTL of batch${k}`);
        assert.strictEqual(await r.ttl(`${prefix}file:${input.id}:data`), -1, "the input's data is pinned");
        let done = await c.batches.retrieve(b.id);
        await waitFor(async () => (done = await c.batches.retrieve(b.id)).status === "completed", 15_000, "batch completed");
        assert.deepStrictEqual(done.request_counts, { total: 2, completed: 2, failed: 0 });
        const outFile = await c.files.retrieve(done.output_file_id!);
        assert.strictEqual(outFile.expires_at, outFile.created_at + 7200);
        const ttlOut = await r.ttl(`${prefix}batch:${b.id}:out`);
        assert.ok(ttlOut > 7100 && ttlOut <= 7200, String(ttlOut));
        assert.strictEqual(await r.exists(`${prefix}batch:${b.id}:index`), 0, "the line index is dropped once the batch ends");
        assert.strictEqual(await r.exists(`${prefix}file:${input.id}:data`), 0, "the expired input's data goes once no batch reads it");
        const ttlBatch = await r.ttl(`${prefix}batch:${b.id}`);
        assert.ok(ttlBatch > 0 && ttlBatch <= 3, String(ttlBatch));
        // After its retention the batch is gone, and the list forgets it.
        await waitFor(async () => (await r.exists(`${prefix}batch:${b.id}`)) === 0, 6000, "batch expired from Valkey");
        await assert.rejects(c.batches.retrieve(b.id), (e: { status?: number }) => e.status === 404);
        assert.deepStrictEqual((await c.batches.list()).data, []);
        assert.strictEqual(await r.zcard(`${prefix}batches:radiology`), 0);
        assert.strictEqual((await c.files.retrieve(done.output_file_id!)).id, done.output_file_id, "the output file follows its own expiry");
    });

    it("answers 507 in the OpenAI shape when Valkey is full (noeviction), and keeps serving reads", async () => {
        const f = await fake({ startupDelayMs: 60_000 }); // the batch below stays in progress
        const gw = await gateway(batchConfig([f.url], newPrefix()));
        const c = client(gw.url);
        const before = await create(c, (await upload(c, ["ok"])).id);
        const used = Number(/used_memory:(\d+)/.exec(await r.info("memory"))![1]);
        await r.config("SET", "maxmemory-policy", "noeviction");
        await r.config("SET", "maxmemory", String(used + 64 * 1024));
        onCleanup(async () => void (await r.config("SET", "maxmemory", "0")));
        const full = (e: { status?: number; error?: { code?: string; type?: string }; message?: string }) =>
            e.status === 507 && e.error?.code === "batch_storage_full" && e.error?.type === "server_error" && /maxmemory/.test(e.message ?? "");
        await assert.rejects(
            upload(
                c,
                Array.from({ length: 2000 }, (_, i) => `big-${i}`),
            ),
            full,
        );
        await assert.rejects(create(c, before.input_file_id), full);
        // Reads still work, and nothing half-written is listed.
        assert.strictEqual((await c.batches.retrieve(before.id)).id, before.id);
        assert.deepStrictEqual(
            (await c.files.list()).data.map((x) => x.id),
            [before.input_file_id],
        );
        assert.strictEqual((await fetch(`${gw.url}/healthz`)).status, 200);
        await r.config("SET", "maxmemory", "0");
        assert.strictEqual((await upload(c, ["again"])).object, "file");
    });

    it("holds maxBatchesInProgress under concurrent creates on two replicas (atomic check)", async () => {
        const prefix = newPrefix();
        const f = await fake({ startupDelayMs: 60_000 }); // nothing finishes during the test
        const cfg = batchConfig([f.url], prefix, { limits: { default: { maxBatchesInProgress: 2 } } });
        const [g1, g2] = [await gateway(cfg), await gateway(cfg)];
        const file = await upload(client(g1.url), ["a", "b"]);
        const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => create(client(i % 2 ? g1.url : g2.url), file.id)));
        const ok = results.filter((x) => x.status === "fulfilled");
        const refused = results.filter((x): x is PromiseRejectedResult => x.status === "rejected");
        assert.strictEqual(ok.length, 2, `created ${ok.length} of 8 with a limit of 2`);
        assert.ok(
            refused.every((x) => (x.reason as { status?: number }).status === 429),
            refused.map((x) => String(x.reason)).join("; "),
        );
        assert.strictEqual(await r.scard(`${prefix}active:radiology`), 2);
        // Finishing one (cancel) frees its place.
        await client(g1.url).batches.cancel((ok[0] as PromiseFulfilledResult<{ id: string }>).value.id);
        await waitFor(async () => (await r.scard(`${prefix}active:radiology`)) === 1, 5000, "one place free");
        assert.strictEqual((await create(client(g2.url), file.id)).status, "in_progress");
    });
});

describe("a batch whose lines all finish while it is still validating (real redis-server)", () => {
    it("ends completed when queueing ends, instead of staying in_progress for ever", async () => {
        const cfg = batchConfigSchema.parse({ redisUrl: redis.url, keyPrefix: newPrefix() });
        const conn = connect(cfg, "test");
        conn.on("error", () => undefined);
        onCleanup(async () => void conn.disconnect());
        const store = new BatchStore(conn, cfg);
        const k = store.keys;
        const id = "batch_validating_race";
        // An uploaded input file, as upload.ts leaves it.
        await conn.hset(k.file("file-in"), { id: "file-in", team: "radiology", purpose: "batch", bytes: "1" });
        await conn.set(k.fileData("file-in"), "x");
        assert.strictEqual(
            await store.reserve({ id, team: "radiology", object: "batch", endpoint: "/v1/chat/completions", input_file_id: "file-in" }, 5),
            undefined,
        );
        assert.strictEqual(await conn.acquireCreation(k.batch(id), k.creator(id), k.creating, "me", "30000", id), 1);
        const n = 500;
        assert.strictEqual(
            await conn.beginQueue(k.batch(id), k.creator(id), "me", "total", String(n), "pools", '["a10g"]', "total:a10g", String(n), "done:a10g", "0"),
            1,
        );
        const lines = Array.from({ length: n }, (_, i) => [String(i), "1", JSON.stringify([0, 1, `c-${i}`]), ""]).flat();
        const keys = [k.batch(id), k.index(id), k.entries(id), k.done(id), k.err(id), k.creator(id), k.queue("a10g")];
        assert.strictEqual(await conn.queueChunk(keys.length, ...keys, id, "me", String(n), "1", "1", "a10g", ...lines), 1);
        // A runner takes and finishes every line before the creation starts the batch.
        const entries = await conn.lrange(k.entries(id), 0, -1);
        assert.strictEqual(entries.length, n);
        for (let i = 0; i < n; i++) {
            const entryId = entries[i].split(" ")[1];
            assert.strictEqual(
                await store.finishLine({
                    batchId: id,
                    team: "radiology",
                    inputFileId: "file-in",
                    idx: i,
                    pool: "a10g",
                    ok: true,
                    line: JSON.stringify({ custom_id: `c-${i}` }),
                    entryId,
                }),
                1,
            );
        }
        await store.start(id);
        const b = await store.getBatch(id, "radiology");
        assert.strictEqual(b?.status, "completed", `status ${b?.status}, completed ${b?.completed} of ${b?.total}`);
        assert.ok(b?.output_file_id, "the output file was made");
        assert.strictEqual(await conn.sismember(k.active, id), 0, "no longer counted in progress");
        assert.strictEqual(await conn.scard(k.fileRefs("file-in")), 0, "the input file is no longer pinned");
    });
});
