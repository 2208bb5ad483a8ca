/**
 * Issue 23 points 2 and 5 on the built gateway *process* with a real redis-server configured as
 * the stack deploys Valkey (valkeyConf: maxmemory 75 % of the container, noeviction, append-only
 * file, a password): what one key holder's batch and file traffic adds to the gateway's peak RSS
 * (VmHWM), and a batch whose creation is cut by SIGKILL. Sizes are scaled down from the review's;
 * the mechanisms are the same (a file held whole per request, a stalled download's buffers).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Redis } from "ioredis";
import OpenAI from "openai";
import { Readable } from "stream";
import { request } from "undici";
import { valkeyConf } from "../../components/serving/batchStore";
import { startRedis, RedisServer } from "../helpers/redis";
import { tempDir } from "../helpers/tmp";
import { buildGateway, config, fake, KEY, metric, metrics, MODEL, onCleanup, sleep, waitFor } from "./helpers";
import { flushed, memoryOf, openSocket, Proc, report, requestHead, spawnGateway } from "./processes";

/**
 * What the attacks may add to the peak RSS of a warmed-up gateway. Streaming a file through
 * leaves its bytes behind as garbage Buffers, freed only when V8 collects their objects, which it
 * does once external memory has grown by tens of MiB, not per piece: measured here, a 30 MB
 * upload adds ~60 MiB to the peak and 4 x 40 MiB ~80 MiB, the same order whatever the size (the
 * bench's 8 x 150 MiB: 149 MiB peak RSS in all). The bound holds that, well under the 640 MiB
 * pod limit; before the fixes these attacks added 300 MiB to over 1 GiB at these sizes (a copy
 * of the file per request).
 */
const GROWTH_BOUND_MIB = 96;
const PASSWORD = "test-valkey-password-0123456789abcdef";
const MiB = 1024 * 1024;

/** A redis-server with the stack's valkey.conf for a container of `memoryMiB` (port, bind and dir are the test's). */
async function stackValkey(memoryMiB: number): Promise<RedisServer> {
    const conf = path.join(tempDir("gpuserve-valkey-conf-"), "valkey.conf");
    fs.writeFileSync(conf, valkeyConf(PASSWORD, memoryMiB).replace(/^(dir|bind) .*$/gm, ""));
    const server = await startRedis({ conf, appendonly: true });
    onCleanup(() => server.stop());
    return server;
}

function batchGateway(upstream: string, redisUrl: string, batch: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<Proc> {
    return spawnGateway(config([upstream], { logLevel: "info", batch: { redisUrl, leaseSeconds: 1, metricsIntervalSeconds: 0.5, ...batch }, ...extra }), {
        GATEWAY_BATCH_REDIS_PASSWORD: PASSWORD,
    });
}

const client = (url: string) => new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0, timeout: 120_000 });

/** A JSONL input of `lines` lines of about `lineBytes` bytes. */
function jsonl(lines: number, lineBytes: number, prefix = "r"): Buffer {
    const filler = "x".repeat(Math.max(1, lineBytes - 150));
    const out: string[] = [];
    for (let i = 0; i < lines; i++)
        out.push(
            JSON.stringify({
                custom_id: `${prefix}-${i}`,
                method: "POST",
                url: "/v1/chat/completions",
                body: { model: MODEL, max_tokens: 4, messages: [{ role: "user", content: `${i} ${filler}` }] },
            }),
        );
    return Buffer.from(out.join("\n") + "\n");
}

/** Uploads with a known Content-Length, the file sent 1 MiB at a time. */
async function upload(url: string, file: Buffer): Promise<{ status: number; json: any }> {
    const boundary = "----gpuserve-test-upload";
    const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const pieces = [head, ...Array.from({ length: Math.ceil(file.length / MiB) }, (_, i) => file.subarray(i * MiB, (i + 1) * MiB)), tail];
    const res = await request(`${url}/v1/files`, {
        method: "POST",
        headers: {
            authorization: `Bearer ${KEY}`,
            "content-type": `multipart/form-data; boundary=${boundary}`,
            "content-length": String(head.length + file.length + tail.length),
        },
        body: Readable.from(pieces, { objectMode: false }),
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
    });
    return { status: res.statusCode, json: await res.body.json() };
}

describe("batch and files routes: gateway process memory and crashes (issue 23, stack-like Valkey)", function () {
    this.timeout(120_000);

    before(async () => {
        await buildGateway();
    });

    it(`2a: 12 concurrent batch creates on one 30 MB file add < ${GROWTH_BOUND_MIB} MiB; the team's limit refuses 2 before any work`, async () => {
        const valkey = await stackValkey(256);
        const f = await fake({ startupDelayMs: 600_000 }); // a pool at zero: nothing runs
        const gw = await batchGateway(f.url, valkey.url);
        const up = await upload(gw.url, jsonl(10_000, 3000));
        assert.strictEqual(up.status, 200, JSON.stringify(up.json));
        await sleep(300);
        const base = memoryOf(gw.proc.pid!).hwmMiB;
        const c = client(gw.url);
        const results = await Promise.allSettled(
            Array.from({ length: 12 }, () => c.batches.create({ input_file_id: up.json.id, endpoint: "/v1/chat/completions", completion_window: "24h" })),
        );
        const created = results.filter((r): r is PromiseFulfilledResult<OpenAI.Batch> => r.status === "fulfilled").map((r) => r.value);
        const refused = results
            .filter((r): r is PromiseRejectedResult => r.status === "rejected")
            .map((r) => r.reason as { status?: number; error?: { code?: string } });
        assert.strictEqual(created.length, 10);
        assert.deepStrictEqual(
            refused.map((e) => [e.status, e.error?.code]),
            [
                [429, "too_many_batches"],
                [429, "too_many_batches"],
            ],
        );
        // Every batch validated and queued (one creation at a time per gateway), each line once.
        for (const b of created) await waitFor(async () => (await c.batches.retrieve(b.id)).status === "in_progress", 90_000, `batch ${b.id} created`);
        const peak = memoryOf(gw.proc.pid!).hwmMiB;
        report("2a 12 creates on a 30 MB file", base, peak);
        assert.ok(peak - base < GROWTH_BOUND_MIB, `peak RSS grew ${(peak - base).toFixed(0)} MiB (from ${base.toFixed(0)})`);
        assert.strictEqual((await c.batches.retrieve(created[0].id)).request_counts?.total, 10_000);
        const r = new Redis(valkey.url, { password: PASSWORD });
        onCleanup(async () => void r.disconnect());
        assert.strictEqual(await r.xlen("gpuserve:{batch}:queue:a10g"), 100_000);
        // Valkey stayed under its maxmemory: no second copy of the input per batch.
        const info = await r.info("memory");
        const peakUsed = Number(/^used_memory_peak:(\d+)/m.exec(info)![1]);
        assert.ok(peakUsed < Number(/^maxmemory:(\d+)/m.exec(info)![1]), `Valkey peaked at ${(peakUsed / MiB).toFixed(0)} MiB`);
    });

    it(`2b: 4 concurrent 40 MiB uploads add < ${GROWTH_BOUND_MIB} MiB, and the body budget counts each as its window, not its size`, async () => {
        const valkey = await stackValkey(1024);
        const gw = await batchGateway("http://127.0.0.1:9", valkey.url, {}, { maxHeldBodyBytes: 16 * MiB });
        await upload(gw.url, jsonl(10, 500));
        await sleep(300);
        const base = memoryOf(gw.proc.pid!).hwmMiB;
        const file = jsonl(Math.round((40 * MiB) / 3000), 3000);
        const results = await Promise.all(Array.from({ length: 4 }, () => upload(gw.url, file)));
        const peak = memoryOf(gw.proc.pid!).hwmMiB;
        report("2b 4 x 40 MiB uploads", base, peak);
        assert.deepStrictEqual(
            results.map((x) => [x.status, x.json.bytes]),
            Array(4).fill([200, file.length]),
        );
        assert.ok(peak - base < GROWTH_BOUND_MIB, `peak RSS grew ${(peak - base).toFixed(0)} MiB (from ${base.toFixed(0)})`);
        // What was stored is what was sent.
        const back = Buffer.from(
            await (await fetch(`${gw.url}/v1/files/${results[0].json.id}/content`, { headers: { authorization: `Bearer ${KEY}` } })).arrayBuffer(),
        );
        assert.ok(back.equals(file), "the stored file differs from the upload");
    });

    it(`2c: 60 downloads of a 40 MiB file whose readers read nothing add < ${GROWTH_BOUND_MIB} MiB and are cut after clientStallSeconds`, async () => {
        const valkey = await stackValkey(512);
        const gw = await batchGateway("http://127.0.0.1:9", valkey.url, {}, { streams: { clientStallSeconds: 2 } });
        const up = await upload(gw.url, jsonl(Math.round((40 * MiB) / 3000), 3000));
        await sleep(300);
        const base = memoryOf(gw.proc.pid!).hwmMiB;
        const sockets = Array.from({ length: 60 }, () => {
            const s = openSocket(gw.port, requestHead("GET", `/v1/files/${up.json.id}/content`, KEY));
            s.pause();
            return s;
        });
        await flushed(sockets);
        const cut = async () => metric(await metrics(gw.url), "gateway_requests_total", { pool: "none", code: "499" }) ?? 0;
        await waitFor(async () => (await cut()) >= 60, 30_000, "the 60 stalled downloads cut");
        const peak = memoryOf(gw.proc.pid!).hwmMiB;
        report("2c 60 stalled downloads", base, peak);
        assert.ok(peak - base < GROWTH_BOUND_MIB, `peak RSS grew ${(peak - base).toFixed(0)} MiB (from ${base.toFixed(0)})`);
    });

    it("5: SIGKILL while a 50,000-line batch is being queued: the restarted gateway resumes it within seconds, every line queued exactly once", async () => {
        const valkey = await stackValkey(512);
        const f = await fake({ startupDelayMs: 600_000 }); // a pool at zero: the queue shows exactly what was queued
        const batch = { keyPrefix: "crash:{b}:" };
        const first = await batchGateway(f.url, valkey.url, batch);
        const lines = 50_000;
        const up = await upload(first.url, jsonl(lines, 200, "c"));
        assert.strictEqual(up.status, 200);
        const r = new Redis(valkey.url, { password: PASSWORD });
        onCleanup(async () => void r.disconnect());
        void client(first.url)
            .batches.create({ input_file_id: up.json.id, endpoint: "/v1/chat/completions", completion_window: "24h" })
            .catch(() => undefined);
        // Kill it once lines are on the queue and the batch is still being created.
        let id = "";
        await waitFor(
            async () => {
                [id] = await r.zrange("crash:{b}:batches:radiology", "0", "0");
                if (!id) return false;
                const [status, len] = await Promise.all([r.hget(`crash:{b}:batch:${id}`, "status"), r.xlen("crash:{b}:queue:a10g")]);
                return status === "validating" && len > 0;
            },
            30_000,
            "queueing under way",
        );
        first.proc.kill("SIGKILL");
        await new Promise((res) => first.proc.once("exit", res));
        const queuedAtKill = await r.xlen("crash:{b}:queue:a10g");
        assert.ok(queuedAtKill > 0 && queuedAtKill < lines, `killed mid-queueing (${queuedAtKill} of ${lines} queued)`);
        const second = await batchGateway(f.url, valkey.url, batch);
        const c = client(second.url);
        let b = await c.batches.retrieve(id);
        await waitFor(async () => (b = await c.batches.retrieve(id)).status !== "validating", 20_000, "the batch leaves validating after the restart");
        assert.strictEqual(b.status, "in_progress");
        assert.strictEqual(b.request_counts?.total, lines);
        // Each line on the queue exactly once: none lost at the kill, none queued twice by the resumption.
        assert.strictEqual(await r.xlen("crash:{b}:queue:a10g"), lines);
        const seen = new Set<string>();
        for (const [, fields] of (await r.xrange("crash:{b}:queue:a10g", "-", "+")) as [string, string[]][]) seen.add(fields[3]);
        assert.strictEqual(seen.size, lines);
        assert.strictEqual(await r.hlen(`crash:{b}:batch:${id}:index`), lines);
        assert.strictEqual(await r.scard("crash:{b}:active:radiology"), 1, "it holds one place, as a running batch");
        await c.batches.cancel(id);
        await waitFor(async () => (await c.batches.retrieve(id)).status === "cancelled", 20_000, "cancelled");
        assert.strictEqual(await r.scard("crash:{b}:active:radiology"), 0, "no longer holds one of the team's places");
    });
});
