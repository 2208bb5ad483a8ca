/**
 * Issue 23 against a real redis-server: the batch and files routes hold against one hostile or
 * careless key holder as the chat route does (points 1, 3, 4 and 11).
 */
import * as assert from "assert";
import { Redis } from "ioredis";
import OpenAI, { toFile } from "openai";
import { Readable } from "stream";
import { request } from "undici";
import type { GatewayConfigInput } from "../../gateway/src/index";
import { redisForFile } from "../helpers/redis";
import { sha256Hex } from "../../gateway/src/index";
import { chatBody, config, fake, gateway, KEY, KEY2, MODEL, onCleanup, post, waitFor } from "./helpers";

const redis = redisForFile();
let r: Redis;
let prefixN = 0;
before(() => {
    r = new Redis(redis.url);
});
after(() => r?.disconnect());

const KEY3 = "sk-anatomy-test-key-0003";
const MiB = 1024 * 1024;

function batchConfig(upstreams: string[], batch: Record<string, unknown> = {}, extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
    const base = config(upstreams, extra);
    return {
        ...base,
        auth: { keys: [...(base.auth as { keys: { team: string; sha256: string }[] }).keys, { team: "anatomy", sha256: sha256Hex(KEY3) }] },
        batch: { redisUrl: redis.url, keyPrefix: `h${process.pid}-${++prefixN}:{b}:`, leaseSeconds: 1, metricsIntervalSeconds: 0.2, ...batch },
    };
}

const client = (url: string, key = KEY) => new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0, timeout: 20_000 });
const line = (customId: string, body: Record<string, unknown>) => JSON.stringify({ custom_id: customId, method: "POST", url: "/v1/chat/completions", body });
const upload = async (c: OpenAI, content: string | Buffer, name = "in.jsonl") =>
    c.files.create({ file: await toFile(Buffer.from(content), name), purpose: "batch" });
const create = (c: OpenAI, fileId: string) => c.batches.create({ input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" });

async function waitDone(c: OpenAI, id: string, timeoutMs = 20_000) {
    let b = await c.batches.retrieve(id);
    await waitFor(
        async () => ["completed", "failed", "cancelled", "expired"].includes((b = await c.batches.retrieve(id)).status),
        timeoutMs,
        `batch ${id} to finish`,
    );
    return b;
}

const jsonl = async (c: OpenAI, id: string | null | undefined) =>
    id
        ? (await (await c.files.content(id)).text())
              .trim()
              .split("\n")
              .map((l) => JSON.parse(l) as Record<string, any>)
        : [];

describe("batch routes against a hostile key holder (issue 23, real redis-server)", function () {
    this.timeout(60_000);

    describe("point 1: small JSON bodies, bounded before parsing", () => {
        it("refuses a 20 MB POST /v1/batches body by its declared size (413 naming the route's 64 KiB limit), and a deep small one as request_too_complex", async () => {
            const gw = await gateway(batchConfig(["http://127.0.0.1:9"]));
            const huge = Buffer.alloc(20_000_000, "[");
            const res = await request(`${gw.url}/v1/batches`, {
                method: "POST",
                headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
                body: huge,
            });
            const body = (await res.body.json()) as { error: { code: string; message: string } };
            assert.strictEqual(res.statusCode, 413);
            assert.strictEqual(body.error.code, "request_too_large");
            assert.match(body.error.message, /65536 bytes/);
            const deep = await request(`${gw.url}/v1/batches`, {
                method: "POST",
                headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
                body: "[".repeat(60_000),
            });
            const d = (await deep.body.json()) as { error: { code: string; message: string } };
            assert.strictEqual(deep.statusCode, 400);
            assert.strictEqual(d.error.code, "request_too_complex");
            assert.match(d.error.message, /nests deeper than 32 levels/);
        });
    });

    describe("point 3: a batch line passes exactly the chat route's checks and rewriting", () => {
        it("answers each hostile line in the error file with the 400 the chat route gives the same body, and sends the worker only bounded requests", async () => {
            const f = await fake();
            const gw = await gateway(batchConfig([f.url], {}, { pools: [{ name: "a10g", models: [MODEL], upstreams: [f.url], maxTokens: 64 }] }));
            const image = (url: string) => ({ type: "image_url", image_url: { url } });
            const bodies: Record<string, Record<string, unknown>> = {
                ssrf: chatBody("x", {
                    messages: [{ role: "user", content: [{ type: "text", text: "what is this" }, image("http://169.254.169.254/latest/meta-data/")] }],
                }),
                maxTokens: chatBody("x", { max_tokens: 1e9 }),
                minTokens: chatBody("x", { min_tokens: 100_000 }),
                media: chatBody("x", { messages: [{ role: "user", content: Array.from({ length: 200 }, () => image("data:image/png;base64,AAAA")) }] }),
                messages: chatBody("x", { messages: Array.from({ length: 5000 }, () => ({ role: "user", content: "hi" })) }),
                notObjects: chatBody("x", { messages: [5] }),
                choices: chatBody("x", { n: 50 }),
            };
            const expected: Record<string, { status: number; code: string }> = {};
            for (const [id, body] of Object.entries(bodies)) {
                const chat = await post(gw.url, body);
                expected[id] = { status: chat.status, code: chat.json.error.code };
            }
            // The chat route refuses every one of them.
            assert.deepStrictEqual(
                Object.values(expected).map((e) => e.status),
                Array(7).fill(400),
            );
            const c = client(gw.url);
            const file = await upload(
                c,
                [
                    ...Object.entries(bodies).map(([id, b]) => line(id, b)),
                    line("eos", chatBody("ignore the end", { ignore_eos: true })),
                    line("fine", chatBody("a normal question")),
                ].join("\n"),
            );
            const done = await waitDone(c, (await create(c, file.id)).id);
            assert.strictEqual(done.status, "completed", JSON.stringify(done.errors));
            assert.deepStrictEqual(done.request_counts, { total: 9, completed: 2, failed: 7 });
            const errs = await jsonl(c, done.error_file_id);
            const got = Object.fromEntries(errs.map((e) => [e.custom_id, { status: e.response.status_code, code: e.response.body.error.code }]));
            assert.deepStrictEqual(got, expected);
            assert.ok(errs.every((e) => /^batch_req_/.test(e.id) && e.error === null));
            // Only the two bounded requests reached the worker; the one without max_tokens got the pool's.
            assert.deepStrictEqual(
                f.requests
                    .filter((q) => q.body.stream === false)
                    .map((q) => [q.body.max_tokens, q.body.ignore_eos ?? false])
                    .sort(),
                [
                    [64, false],
                    [64, true],
                ],
            );
        });

        it("refuses n above requestBounds.maxChoices on the chat route too", async () => {
            const f = await fake();
            const gw = await gateway(config([f.url]));
            await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
            const many = await post(gw.url, chatBody("x", { n: 5 }));
            assert.deepStrictEqual([many.status, many.json.error.code], [400, "invalid_n"]);
            assert.match(many.json.error.message, /from 1 to 4 \(requestBounds\.maxChoices\)/);
            assert.strictEqual((await post(gw.url, chatBody("x", { n: 4 }))).status, 200);
        });
    });

    describe("point 4: per-team storage quotas and headroom for running batches", () => {
        it("refuses an upload past the team's storage quota (403 naming it) while another team still uploads", async () => {
            // A 40 MiB store, three teams: 40 x 0.75 / 3 = 10 MiB each by default.
            const gw = await gateway(batchConfig(["http://127.0.0.1:9"], { storage: { storeBytes: 40 * MiB } }));
            const a = client(gw.url, KEY);
            const six = Buffer.alloc(6 * MiB, "x");
            assert.strictEqual((await upload(a, six)).bytes, 6 * MiB);
            await assert.rejects(upload(a, six), (e: InstanceType<typeof OpenAI.APIError>) => {
                assert.strictEqual(e.status, 403);
                assert.strictEqual((e.error as { code?: string }).code, "storage_quota_exceeded");
                assert.match(e.message, /Team 'radiology' keeps 6.0 MiB .* storage quota of 10 MiB \(batch\.limits maxStoredBytes\)/);
                return true;
            });
            // The refused upload left nothing behind, and another team has its own share.
            assert.strictEqual((await a.files.list()).data.length, 1);
            assert.strictEqual((await upload(client(gw.url, KEY2), Buffer.alloc(5 * MiB, "y"))).bytes, 5 * MiB);
            // Deleting frees the quota.
            const [first] = (await a.files.list()).data;
            await a.files.delete(first.id);
            assert.strictEqual((await upload(a, six)).bytes, 6 * MiB);
        });

        it("limits the number of files a team keeps (maxStoredFiles)", async () => {
            const gw = await gateway(batchConfig(["http://127.0.0.1:9"], { limits: { default: { maxStoredFiles: 2 } } }));
            const a = client(gw.url);
            await upload(a, "a");
            await upload(a, "b");
            await assert.rejects(
                upload(a, "c"),
                (e: { status?: number; message?: string }) => e.status === 403 && /keeps 2 files .*maxStoredFiles 2/.test(e.message ?? ""),
            );
        });

        it("keeps Valkey's headroom for running batches: another team's uploads are refused (507) before a running batch's results would hit OOM", async () => {
            const f = await fake({ startupDelayMs: 1500 }); // the batch's lines run once the uploads have been tried
            const gw = await gateway(batchConfig([f.url]));
            const c = client(gw.url, KEY3);
            const b = await create(
                c,
                (await upload(c, Array.from({ length: 40 }, (_, i) => line(`l${i}`, chatBody(`question ${i} ${"z".repeat(2000)}`))).join("\n"))).id,
            );
            // Valkey at its limit as deployed (noeviction), with room for the results but not for more uploads.
            const used = Number(/used_memory:(\d+)/.exec(await r.info("memory"))![1]);
            await r.config("SET", "maxmemory-policy", "noeviction");
            await r.config("SET", "maxmemory", String(used + 8 * MiB));
            onCleanup(async () => void (await r.config("SET", "maxmemory", "0")));
            const hog = client(gw.url, KEY);
            let refused: { status?: number; code?: string; message?: string } | undefined;
            for (let i = 0; i < 10 && refused === undefined; i++) {
                await upload(hog, Buffer.alloc(1 * MiB, "h")).catch(
                    (e: InstanceType<typeof OpenAI.APIError>) =>
                        (refused = { status: e.status, code: (e.error as { code?: string }).code, message: e.message }),
                );
            }
            assert.strictEqual(refused?.status, 507, JSON.stringify(refused));
            assert.strictEqual(refused?.code, "batch_storage_full");
            assert.match(refused?.message ?? "", /kept for the results of running batches/);
            const done = await waitDone(c, b.id);
            assert.strictEqual(done.status, "completed");
            assert.deepStrictEqual(done.request_counts, { total: 40, completed: 40, failed: 0 });
        });
    });

    describe("uploads over slow links", () => {
        it("lets an upload take batch.uploadTimeoutSeconds while other requests keep requestTimeoutSeconds (408 in the OpenAI shape)", async () => {
            const f = await fake();
            const gw = await gateway(batchConfig([f.url], { uploadTimeoutSeconds: 20 }, { requestTimeoutSeconds: 1 }));
            await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
            /** A body sent in 10 slices 250 ms apart: 2.5 s in all, over requestTimeoutSeconds. */
            const slowly = (body: Buffer) =>
                (async function* () {
                    for (let i = 0; i < 10; i++) {
                        yield body.subarray(Math.floor((i * body.length) / 10), Math.floor(((i + 1) * body.length) / 10));
                        await new Promise((r) => setTimeout(r, 250));
                    }
                })();
            const boundary = "----slow-upload";
            const file = Buffer.from(line("s", chatBody("slow")) + "\n");
            const multipart = Buffer.concat([
                Buffer.from(
                    `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\n\r\n`,
                ),
                file,
                Buffer.from(`\r\n--${boundary}--\r\n`),
            ]);
            const up = await request(`${gw.url}/v1/files`, {
                method: "POST",
                headers: {
                    authorization: `Bearer ${KEY}`,
                    "content-type": `multipart/form-data; boundary=${boundary}`,
                    "content-length": String(multipart.length),
                },
                body: Readable.from(slowly(multipart)),
            });
            assert.strictEqual(up.statusCode, 200, await up.body.text());
            const chat = Buffer.from(JSON.stringify(chatBody("slow question")));
            const res = await request(`${gw.url}/v1/chat/completions`, {
                method: "POST",
                headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "content-length": String(chat.length) },
                body: Readable.from(slowly(chat)),
            }).catch((e: Error) => e);
            assert.ok(!(res instanceof Error), res instanceof Error ? res.message : "");
            assert.strictEqual(res.statusCode, 408);
            const err = (await res.body.json()) as { error: { code: string; message: string } };
            assert.strictEqual(err.error.code, "request_timeout");
            assert.match(err.error.message, /within 1 s/);
            // A fastify route too (its body read by fastify).
            const create = Buffer.from(JSON.stringify({ input_file_id: "file-x", endpoint: "/v1/chat/completions", completion_window: "24h" }));
            const slowCreate = await request(`${gw.url}/v1/batches`, {
                method: "POST",
                headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "content-length": String(create.length) },
                body: Readable.from(slowly(create)),
            }).catch((e: Error) => e);
            assert.ok(!(slowCreate instanceof Error), slowCreate instanceof Error ? slowCreate.message : "");
            assert.strictEqual(slowCreate.statusCode, 408);
            assert.strictEqual(((await slowCreate.body.json()) as { error: { code: string } }).error.code, "request_timeout");
            assert.strictEqual((await post(gw.url, chatBody("still serving"))).status, 200);
        });
    });

    describe("point 11: files and lines", () => {
        it("deletes an output file's results from Valkey with the file", async () => {
            const f = await fake();
            const gw = await gateway(batchConfig([f.url]));
            const c = client(gw.url);
            const done = await waitDone(c, (await create(c, (await upload(c, line("a", chatBody("q")))).id)).id);
            const prefix = gw.config.batch!.keyPrefix;
            assert.strictEqual(await r.exists(`${prefix}batch:${done.id}:out`), 1);
            await c.files.delete(done.output_file_id!);
            assert.strictEqual(await r.exists(`${prefix}batch:${done.id}:out`), 0, "the results are gone with the file");
            await assert.rejects(c.files.content(done.output_file_id!), (e: { status?: number }) => e.status === 404);
        });

        it("reports a line nested 5,000 deep as a validation error with its line number, not a 500", async () => {
            const f = await fake();
            const gw = await gateway(batchConfig([f.url]));
            const c = client(gw.url);
            const deep = `{"custom_id":"d","method":"POST","url":"/v1/chat/completions","body":{"model":"${MODEL}","messages":[{"role":"user","content":"x"}],"x":${"[".repeat(5000)}${"]".repeat(5000)}}}`;
            const b = await waitDone(c, (await create(c, (await upload(c, [line("ok", chatBody("q")), deep].join("\n"))).id)).id);
            assert.strictEqual(b.status, "failed");
            assert.deepStrictEqual(
                b.errors!.data!.map((e) => [e.line, e.code]),
                [[2, "request_too_complex"]],
            );
            assert.strictEqual(f.requests.filter((q) => q.body.stream === false).length, 0);
        });

        it("accepts a JSONL file that starts with a UTF-8 byte-order mark", async () => {
            const f = await fake();
            const gw = await gateway(batchConfig([f.url]));
            const c = client(gw.url);
            const content = Buffer.concat([
                Buffer.from([0xef, 0xbb, 0xbf]),
                Buffer.from([line("first", chatBody("one")), line("second", chatBody("two"))].join("\r\n") + "\r\n"),
            ]);
            const done = await waitDone(c, (await create(c, (await upload(c, content)).id)).id);
            assert.strictEqual(done.status, "completed", JSON.stringify(done.errors));
            assert.deepStrictEqual((await jsonl(c, done.output_file_id)).map((o) => o.custom_id).sort(), ["first", "second"]);
        });
    });
});
