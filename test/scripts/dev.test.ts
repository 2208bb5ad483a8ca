/**
 * `npm run dev` end to end, as a newcomer uses it: start it, read the URL and key it prints,
 * ask through the official OpenAI SDK (the request is held while the fake worker starts from
 * zero), run a small batch on its redis-server, ask about an image and submit a small batch in chromium, then Ctrl-C
 * (SIGINT) and check that no process it started is left.
 */
import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import OpenAI from "openai";
import { expectedAnswer } from "../fakes/vllm";
import { ROOT } from "../helpers/program";
import { ancestors } from "../../scripts/dev/ancestors";
import { launchChromium, OUT_DIR } from "../ui/helpers";
import { writePng } from "../ui/png";

const MODEL = "Qwen/Qwen3-VL-2B-Instruct";

/** Processes whose command line mentions `needle` (the run's temp dir): the gateway; redis by its pid. */
function processesWith(needle: string): number[] {
    return fs
        .readdirSync("/proc")
        .filter((d) => /^\d+$/.test(d))
        .filter((pid) => {
            try {
                return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(needle);
            } catch {
                return false;
            }
        })
        .map(Number);
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** The dev run: its output lines as they come, and a wait for a line matching a pattern. */
class DevRun {
    readonly lines: string[] = [];
    private waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
    readonly exited: Promise<number | null>;
    constructor(readonly proc: ChildProcess) {
        let buf = "";
        proc.stdout!.on("data", (d: Buffer) => {
            buf += d.toString();
            let i;
            while ((i = buf.indexOf("\n")) >= 0) {
                const line = buf.slice(0, i);
                buf = buf.slice(i + 1);
                this.lines.push(line);
                this.waiters = this.waiters.filter((w) => {
                    const m = line.match(w.re);
                    if (m) w.resolve(m);
                    return !m;
                });
            }
        });
        let err = "";
        proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
        this.exited = new Promise((r) => proc.once("exit", (code) => r(code)));
        void this.exited.then(() => {
            for (const w of this.waiters) w.resolve(Object.assign([`exited; stderr: ${err}`], { index: -1 }) as unknown as RegExpMatchArray);
        });
    }
    /** The first line (already printed or to come) matching `re`. */
    line(re: RegExp): Promise<RegExpMatchArray> {
        for (const l of this.lines) {
            const m = l.match(re);
            if (m) return Promise.resolve(m);
        }
        return new Promise((resolve) => this.waiters.push({ re, resolve }));
    }
}

describe("npm run dev", function () {
    this.timeout(120_000);

    it("prints usage for --help (exit 0) and refuses a bad option with it (exit 2)", () => {
        const help = spawnSync(process.execPath, ["--import", "tsx", "scripts/dev.ts", "--help"], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(help.status, 0);
        assert.match(help.stdout, /^usage: npm run dev/);
        const bad = spawnSync(process.execPath, ["--import", "tsx", "scripts/dev.ts", "--cold-start", "soon"], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(bad.status, 2);
        assert.match(bad.stderr, /--cold-start soon: must be a number of seconds >= 0, e\.g\. --cold-start 20\nusage:/);
    });

    it("serves the UI and the API with a demo key; the SDK, a batch and the page work; Ctrl-C leaves no process", async () => {
        const run = new DevRun(
            spawn(process.execPath, ["--import", "tsx", "scripts/dev.ts", "--port", "0", "--cold-start", "1", "--idle", "1"], {
                cwd: ROOT,
                stdio: ["ignore", "pipe", "pipe"],
            }),
        );
        try {
            const ready = await run.line(/^Ctrl-C stops everything\.|^exited/);
            assert.match(ready[0], /^Ctrl-C/, run.lines.join("\n"));
            const url = (await run.line(/^ {2}open: +(http:\/\/127\.0\.0\.1:\d+)\/$/))[1];
            const key = (await run.line(/^ {2}API key: +(gpuserve-dev-[\w-]{32})\s/))[1];
            const dir = path.dirname((await run.line(/config (\S+\/gateway\.json)/))[1]);
            const redisPid = Number((await run.line(/^ {2}batches: +on \(redis-server pid (\d+) on 127\.0\.0\.1:\d+/))[1]);
            assert.ok(alive(redisPid), "redis-server runs");
            assert.strictEqual(processesWith(dir).length, 1, "the gateway runs, with the run's config");

            const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 });
            const models = await client.models.list();
            const m = models.data.find((x) => x.id === MODEL) as unknown as { cold_start_seconds_estimate: number; max_wait_seconds: number };
            assert.strictEqual(m.cold_start_seconds_estimate, 1, "the UI is told the simulated cold start");
            assert.ok(m.max_wait_seconds >= 60, "the dev stack's hold bound");

            // The pool is at zero: the gateway holds the request while the worker starts.
            const image = `data:image/png;base64,${writePng(8, 8, () => [200, 10, 10]).toString("base64")}`;
            const body = {
                model: MODEL,
                messages: [
                    {
                        role: "user" as const,
                        content: [
                            { type: "image_url" as const, image_url: { url: image } },
                            { type: "text" as const, text: "What is this?" },
                        ],
                    },
                ],
            };
            let text = "";
            for await (const chunk of await client.chat.completions.create({ ...body, stream: true })) text += chunk.choices[0]?.delta?.content ?? "";
            assert.strictEqual(text, expectedAnswer(body));
            await run.line(/^worker qwen3-vl-2b: starting from zero/);
            await run.line(/^worker qwen3-vl-2b: stopped after 1 s without requests \(scaled to zero\)/);

            // A batch wakes the pool again (the batch-backlog trigger) and completes on redis.
            const lines = [1, 2].map((n) =>
                JSON.stringify({
                    custom_id: `q-${n}`,
                    method: "POST",
                    url: "/v1/chat/completions",
                    body: { model: MODEL, messages: [{ role: "user", content: `question ${n}` }] },
                }),
            );
            const file = await client.files.create({ file: new File([`${lines.join("\n")}\n`], "batch.jsonl"), purpose: "batch" });
            let batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
            while (!["completed", "failed", "expired", "cancelled"].includes(batch.status)) {
                await new Promise((r) => setTimeout(r, 250));
                batch = await client.batches.retrieve(batch.id);
            }
            assert.strictEqual(batch.status, "completed");
            const out = await (await client.files.content(batch.output_file_id!)).text();
            assert.deepStrictEqual(
                out
                    .trim()
                    .split("\n")
                    .map((l) => JSON.parse(l).custom_id)
                    .sort(),
                ["q-1", "q-2"],
            );

            // The page: the key typed in, an image added, a question asked, the answer streamed.
            const browser = await launchChromium();
            try {
                const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
                await page.goto(`${url}/`);
                await page.fill("#api-key", key);
                await page.dispatchEvent("#api-key", "change");
                await page.waitForSelector("#model:not([disabled])", { timeout: 10_000 });
                await page.setInputFiles("#file", { name: "scan.png", mimeType: "image/png", buffer: writePng(64, 48, (x, y) => [x * 4, y * 5, 128]) });
                await page.waitForSelector(".attachment canvas");
                await page.fill("#question", "Describe this image");
                await page.click("#analyze");
                await page.waitForSelector(".msg.assistant .actions button", { timeout: 30_000 });
                assert.strictEqual(await page.textContent(".msg.assistant .answer"), "Echo: Describe this image [image x1]");
                fs.mkdirSync(path.join(OUT_DIR, ".."), { recursive: true });
                await page.screenshot({ path: path.join(OUT_DIR, "..", "dev-answer.png"), fullPage: true });
                // A small batch from the page: two images, one prompt, answered by the fake worker.
                const image = (n: number) => ({ name: `slice-${n}.png`, mimeType: "image/png", buffer: writePng(32, 32, (x, y) => [x * 8, y * 8, n * 60]) });
                await page.setInputFiles("#batch-files", [image(1), image(2)]);
                await page.fill("#batch-prompt", "Describe this slice");
                await page.click("#batch-submit");
                await page.waitForSelector("#batch-results:not([hidden]) tbody tr:nth-child(2)", { timeout: 60_000 });
                assert.match((await page.textContent("#batch-counts"))!, /2 answered, 0 failed, 0 waiting, of 2/);
                const rows = await page.$$eval("#batch-results tbody tr", (trs) =>
                    trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent)),
                );
                assert.deepStrictEqual(rows, [
                    ["slice-1.png", "Echo: Describe this slice [image x1]"],
                    ["slice-2.png", "Echo: Describe this slice [image x1]"],
                ]);
                await page.locator("#batch-results").scrollIntoViewIfNeeded();
                await page.screenshot({ path: path.join(OUT_DIR, "..", "dev-batch.png") });
            } finally {
                await browser.close();
            }

            run.proc.kill("SIGINT");
            assert.strictEqual(await run.exited, 0);
            assert.deepStrictEqual(processesWith(dir), [], "no gateway left");
            assert.ok(!alive(redisPid), "no redis-server left");
            assert.ok(!fs.existsSync(dir), "the run's temp dir is removed");
        } finally {
            if (run.proc.exitCode === null) run.proc.kill("SIGKILL");
        }
    });

    it("stops everything when the process that started it is killed alone (kill <npm pid> passes no signal on)", async () => {
        // A shell in between stands for npm: killed with SIGKILL, it tells its child nothing.
        const shell = spawn("/bin/sh", ["-c", `"${process.execPath}" --import tsx scripts/dev.ts --port 0 --no-batch; :`], {
            cwd: ROOT,
            stdio: ["ignore", "pipe", "pipe"],
        });
        const run = new DevRun(shell);
        let dir: string;
        let dev: number[] = [];
        try {
            const ready = await run.line(/^Ctrl-C stops everything\.|^exited/);
            assert.match(ready[0], /^Ctrl-C/, run.lines.join("\n"));
            dir = path.dirname((await run.line(/config (\S+\/gateway\.json)/))[1]);
            assert.strictEqual(processesWith(dir).length, 1, "the gateway runs");
            dev = processesWith("scripts/dev.ts").filter((pid) => ancestors(pid)[0] === shell.pid);
            assert.strictEqual(dev.length, 1, "dev.ts runs under the shell");
            shell.kill("SIGKILL");
            // The run notices within a second or so and stops its children: wait for them to go.
            for (let i = 0; i < 100 && (alive(dev[0]) || processesWith(dir).length > 0); i++) await new Promise((r) => setTimeout(r, 200));
            assert.ok(!alive(dev[0]), "dev.ts stopped");
            assert.deepStrictEqual(processesWith(dir), [], "no gateway left");
            assert.ok(!fs.existsSync(dir), "the run's temp dir is removed");
        } finally {
            for (const pid of dev) if (alive(pid)) process.kill(pid, "SIGINT");
            if (shell.exitCode === null && shell.signalCode === null) shell.kill("SIGKILL");
        }
    });
});
