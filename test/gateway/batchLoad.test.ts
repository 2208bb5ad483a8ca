/**
 * Batch API under load, against a real redis-server: a large input file does not stall the
 * gateway's event loop (other requests keep being answered while it is uploaded, validated and
 * queued), and a large output file is streamed from Valkey in bounded pieces.
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import OpenAI from "openai";
import { batchConfigSchema } from "../../gateway/src/batch/config";
import { BatchStore, connect } from "../../gateway/src/batch/store";
import { redisForFile } from "../helpers/redis";
import { tempDir } from "../helpers/tmp";
import { chatBody, config, gateway, KEY, onCleanup } from "./helpers";

const redis = redisForFile();

/**
 * The longest block of this process's event loop between two ticks of a 2 ms timer, as the smaller
 * of the CPU time and the wall time between them: a real block shows in both, while a loaded test
 * machine inflates only one (wall: waiting for a core; CPU: GC and other threads running while the
 * main thread waits), so the smaller is the closer bound on the main thread's uninterrupted work.
 */
function stallMonitor(): { take(): { cpu: number; wall: number }; stop(): void } {
    let maxCpu = 0;
    let maxWall = 0;
    let lastT = performance.now();
    let lastC = process.cpuUsage();
    const timer = setInterval(() => {
        const d = process.cpuUsage(lastC);
        const t = performance.now();
        maxCpu = Math.max(maxCpu, Math.min((d.user + d.system) / 1000, t - lastT));
        maxWall = Math.max(maxWall, t - lastT);
        lastT = t;
        lastC = process.cpuUsage();
    }, 2);
    return {
        take() {
            const r = { cpu: maxCpu, wall: maxWall };
            maxCpu = maxWall = 0;
            return r;
        },
        stop: () => clearInterval(timer),
    };
}

/** The largest /healthz latency, polled back to back until `until` settles. */
async function maxHealthLatency(url: string, until: Promise<unknown>): Promise<{ max: number; n: number }> {
    let done = false;
    void until.then(
        () => (done = true),
        () => (done = true),
    );
    let max = 0;
    let n = 0;
    while (!done) {
        const t0 = performance.now();
        await (await fetch(`${url}/healthz`)).arrayBuffer();
        max = Math.max(max, performance.now() - t0);
        n++;
        await new Promise((r) => setTimeout(r, 5));
    }
    return { max, n };
}

describe("batch API under load (real redis-server)", function () {
    this.timeout(120_000);

    it("never blocks the event loop 200 ms while a 50,000-line file is uploaded, validated and queued (/healthz keeps answering)", async () => {
        const gw = await gateway(config(["http://127.0.0.1:9"], { batch: { redisUrl: redis.url, keyPrefix: `load${process.pid}:{b}:` } }));
        const c = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 100_000 });
        const body = {
            ...chatBody("describe the lesion on this slice, its size, density and margins, and compare with the prior study if any"),
            metadata_note: "x".repeat(200),
        };
        const data = Buffer.from(
            Array.from({ length: 50_000 }, (_, i) => JSON.stringify({ custom_id: `slice-${i}`, method: "POST", url: "/v1/chat/completions", body })).join(
                "\n",
            ) + "\n",
        );
        const boundary = "----gpuserve-load-test";
        const dir = tempDir("gpuserve-batch-load-");
        fs.writeFileSync(
            path.join(dir, "body"),
            Buffer.concat([
                Buffer.from(
                    `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n`,
                ),
                data,
                Buffer.from(`\r\n--${boundary}--\r\n`),
            ]),
        );
        // Uploaded by curl, in its own process: the client's work is not the gateway's.
        const monitor = stallMonitor();
        const up = new Promise<{ id: string; bytes: number }>((resolve, reject) => {
            const args = [
                "-sS",
                "-X",
                "POST",
                "-H",
                `authorization: Bearer ${KEY}`,
                "-H",
                `content-type: multipart/form-data; boundary=${boundary}`,
                "--data-binary",
                `@${path.join(dir, "body")}`,
                `${gw.url}/v1/files`,
            ];
            execFile("curl", args, { maxBuffer: 1 << 20 }, (err, stdout) =>
                err ? reject(new Error(`curl: ${err.message}`)) : resolve(JSON.parse(stdout) as { id: string; bytes: number }),
            );
        });
        const [file, h1] = await Promise.all([up, maxHealthLatency(gw.url, up)]);
        const upload = monitor.take();
        assert.strictEqual(file.bytes, data.length);
        const create = c.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
        const [b, h2] = await Promise.all([create, maxHealthLatency(gw.url, create)]);
        const validate = monitor.take();
        monitor.stop();
        console.log(
            `      ${(data.length / 1e6).toFixed(1)} MB, 50,000 lines: longest event-loop block ${upload.cpu.toFixed(0)} ms CPU during the upload, ${validate.cpu.toFixed(0)} ms during validation and queueing; ` +
                `/healthz max ${h1.max.toFixed(0)} / ${h2.max.toFixed(0)} ms wall (${h1.n + h2.n} polls, shared machine)`,
        );
        assert.ok(["validating", "in_progress"].includes(b.status), `${b.status} ${JSON.stringify(b.errors)}`);
        assert.strictEqual(b.request_counts?.total, 50_000);
        assert.ok(h1.n > 1 && h2.n > 1, "/healthz answered during both");
        assert.ok(upload.cpu < 200, `the event loop was blocked by ${upload.cpu.toFixed(0)} ms of work during the upload`);
        assert.ok(validate.cpu < 200, `the event loop was blocked by ${validate.cpu.toFixed(0)} ms of work during validation`);
        await c.batches.cancel(b.id);
    });

    it("streams a 20,000-line output file from Valkey in pieces of about 64 KiB, in line order", async () => {
        const cfg = batchConfigSchema.parse({ redisUrl: redis.url, keyPrefix: `stream${process.pid}:{b}:` });
        const r = connect(cfg, "test");
        r.on("error", () => undefined);
        onCleanup(async () => void r.disconnect());
        const store = new BatchStore(r, cfg);
        const n = 20_000;
        const line = (i: number) =>
            JSON.stringify({ id: `batch_req_${i}`, custom_id: `c-${i}`, response: { status_code: 200, body: { text: "y".repeat(400) } }, error: null });
        for (let s = 0; s < n; s += 1000) {
            const fields: string[] = [];
            // Written out of order (as replicas finish lines), one line missing (it went to the error file).
            for (let i = Math.min(n, s + 1000) - 1; i >= s; i--) if (i !== 7) fields.push(String(i), line(i));
            await r.hset(store.keys.out("batch_x"), ...fields);
        }
        const h = { id: "file-xo", batch: "batch_x", kind: "out", lines: String(n), bytes: "0" };
        let maxPiece = 0;
        let text = "";
        for await (const piece of store.pieces(h)) {
            maxPiece = Math.max(maxPiece, piece.length);
            text += piece.toString();
        }
        const got = text.trimEnd().split("\n");
        assert.strictEqual(got.length, n - 1);
        assert.deepStrictEqual(got.slice(5, 9), [line(5), line(6), line(8), line(9)]);
        assert.strictEqual(got.at(-1), line(n - 1));
        const total = Buffer.byteLength(text);
        console.log(`      ${(total / 1e6).toFixed(1)} MB output streamed; largest piece ${(maxPiece / 1e3).toFixed(0)} kB`);
        // The first read takes 200 lines; later ones as many as fit in DOWNLOAD_PIECE_BYTES.
        assert.ok(maxPiece <= 200 * Buffer.byteLength(line(n - 1) + "\n"), `a piece of ${maxPiece} bytes`);
        assert.ok(maxPiece * 80 < total);
    });
});
