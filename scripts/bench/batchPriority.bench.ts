/**
 * Interactive latency with and without another team's batch (issue 23 point 7): the built
 * gateway (its own process), a real redis-server, and a fake vLLM worker in its own process with
 * 8 sequences at once (more wait, like vLLM's scheduler), the pool's maxConcurrentPerUpstream 8.
 * Interactive requests arrive open-loop (Poisson), so the worker's slots are busy most of the
 * time; the run alternates windows without and with another team's 1,000-line batch (created at
 * the start of its window, cancelled at its end), so that a loaded machine slows both kinds of
 * window alike, and compares P50/P95/P99 of the requests that arrived in each kind.
 *
 * Knobs: BATCH_BENCH_WINDOWS (pairs of windows, default 4), BATCH_BENCH_WINDOW_SECONDS (default
 * 10), BATCH_BENCH_RATE (requests/s, default 75), GATEWAY_BUNDLE=<main.js> (another build).
 * Run: npm run bench -- batchPriority
 */
import { ChildProcess, spawn } from "child_process";
import { createHash } from "crypto";
import * as esbuild from "esbuild";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Agent, request } from "undici";
import { spawnFakeVllm } from "../../test/fakes/vllm";
import { startRedis } from "../../test/helpers/redis";

const M = "Qwen/Qwen3-VL-2B-Instruct";
const KEY_A = "sk-interactive-0123456789abcdefghijklmnop";
const KEY_B = "sk-batch-team-0123456789abcdefghijklmnopq";
const PAIRS = Number(process.env.BATCH_BENCH_WINDOWS ?? 4);
const WINDOW_SECONDS = Number(process.env.BATCH_BENCH_WINDOW_SECONDS ?? 10);
const RATE = Number(process.env.BATCH_BENCH_RATE ?? 75);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (k: string) => createHash("sha256").update(k).digest("hex");

/** A deterministic exponential inter-arrival sequence (the same for both measurements). */
function arrivals(n: number, rate: number, seed = 42): number[] {
    let s = seed;
    const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) + 1) / (2 ** 31 + 1);
    const out: number[] = [];
    let t = 0;
    for (let i = 0; i < n; i++) out.push((t += (-Math.log(rnd()) / rate) * 1000));
    return out;
}

function pct(xs: number[], p: number): number {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil(s.length * p) - 1)];
}

/** Open-loop interactive load for `seconds`; each answered request's latency with its arrival time (ms after start). */
async function interactive(url: string, agent: Agent, seconds: number): Promise<{ at: number; ms: number }[]> {
    const times = arrivals(Math.round(seconds * RATE), RATE);
    const t0 = performance.now();
    const lat: { at: number; ms: number }[] = [];
    await Promise.all(
        times.map(async (at, i) => {
            await sleep(Math.max(0, at - (performance.now() - t0)));
            // Latency from the scheduled arrival, so a stall in the load generator is not hidden.
            const scheduled = t0 + at;
            const res = await request(`${url}/v1/chat/completions`, {
                method: "POST",
                dispatcher: agent,
                headers: { authorization: `Bearer ${KEY_A}`, "content-type": "application/json" },
                body: JSON.stringify({ model: M, max_tokens: 8, messages: [{ role: "user", content: `question ${i} about the slide` }] }),
            });
            await res.body.dump();
            if (res.statusCode === 200) lat.push({ at, ms: performance.now() - scheduled });
        }),
    );
    return lat;
}

async function main(): Promise<void> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "batch-priority-"));
    let bundle = process.env.GATEWAY_BUNDLE;
    if (!bundle) {
        bundle = path.join(dir, "main.js");
        await esbuild.build({
            entryPoints: [path.resolve(__dirname, "../../gateway/src/main.ts")],
            bundle: true,
            platform: "node",
            target: "node20",
            outfile: bundle,
            logLevel: "warning",
        });
    }
    const redis = await startRedis();
    const worker = await spawnFakeVllm({ tokenDelayMs: 10, maxRunning: 8 });
    const cfgFile = path.join(dir, "gateway.json");
    fs.writeFileSync(
        cfgFile,
        JSON.stringify({
            pools: [{ name: "a10g", models: [M], upstreams: [worker.url], maxConcurrentPerUpstream: 8 }],
            queue: { maxDepth: 1000, maxWaitSeconds: 120 },
            auth: {
                keys: [
                    { team: "class", sha256: sha(KEY_A) },
                    { team: "research", sha256: sha(KEY_B) },
                ],
            },
            batch: { redisUrl: redis.url },
            logLevel: "warn",
        }),
    );
    const port = await new Promise<number>((r) => {
        const s = net.createServer().listen(0, "127.0.0.1", () => {
            const p = (s.address() as net.AddressInfo).port;
            s.close(() => r(p));
        });
    });
    const gw: ChildProcess = spawn(process.execPath, [bundle, "--config", cfgFile], {
        env: { ...process.env, PORT: String(port), HOST: "127.0.0.1" },
        stdio: ["ignore", "ignore", "inherit"],
    });
    const url = `http://127.0.0.1:${port}`;
    for (;;) {
        try {
            if (
                (await fetch(`${url}/readyz`)).ok &&
                ((await (await fetch(`${url}/readyz`)).json()) as { pools: { a10g: { readyUpstreams: number } } }).pools.a10g.readyUpstreams > 0
            )
                break;
        } catch {
            // starting
        }
        await sleep(100);
    }
    const agent = new Agent({ connections: 256 });
    try {
        console.log(
            `interactive load: Poisson ${RATE} req/s on one worker of 8 slots; ${PAIRS} pairs of ${WINDOW_SECONDS} s windows without / with another team's 1,000-line batch; load average ${fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]} on ${os.cpus().length} cores`,
        );
        await interactive(url, agent, 5); // warm-up: JIT, connections
        const lines = Array.from({ length: 1000 }, (_, i) =>
            JSON.stringify({
                custom_id: `b-${i}`,
                method: "POST",
                url: "/v1/chat/completions",
                body: { model: M, max_tokens: 8, messages: [{ role: "user", content: `batch question ${i}` }] },
            }),
        );
        const form = new FormData();
        form.append("purpose", "batch");
        form.append("file", new Blob([lines.join("\n")]), "in.jsonl");
        const file = (await (await fetch(`${url}/v1/files`, { method: "POST", headers: { authorization: `Bearer ${KEY_B}` }, body: form })).json()) as {
            id: string;
        };
        const windowMs = WINDOW_SECONDS * 1000;
        const api = (p: string, init: RequestInit = {}) =>
            fetch(`${url}${p}`, { ...init, headers: { authorization: `Bearer ${KEY_B}`, "content-type": "application/json", ...init.headers } }).then(
                (r) => r.json() as Promise<{ id: string; request_counts?: { completed?: number } }>,
            );
        // The batch windows: odd ones. A batch is created as its window opens and cancelled as it closes.
        let linesDone = 0;
        const start = performance.now();
        const toggling = (async () => {
            for (let w = 0; w < 2 * PAIRS; w++) {
                const until = (w + 1) * windowMs;
                if (w % 2 === 1) {
                    const b = await api("/v1/batches", {
                        method: "POST",
                        body: JSON.stringify({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" }),
                    });
                    await sleep(Math.max(0, until - (performance.now() - start)));
                    const done = await api(`/v1/batches/${b.id}`);
                    linesDone += done.request_counts?.completed ?? 0;
                    await api(`/v1/batches/${b.id}/cancel`, { method: "POST" });
                } else {
                    await sleep(Math.max(0, until - (performance.now() - start)));
                }
            }
        })();
        const all = await interactive(url, agent, 2 * PAIRS * WINDOW_SECONDS);
        await toggling;
        const inBatch = (at: number) => Math.floor(at / windowMs) % 2 === 1;
        const without = all.filter((x) => !inBatch(x.at)).map((x) => x.ms);
        const withBatch = all.filter((x) => inBatch(x.at)).map((x) => x.ms);
        const row = (name: string, xs: number[]) =>
            `${name.padEnd(24)} n=${String(xs.length).padStart(5)}  P50 ${pct(xs, 0.5).toFixed(0).padStart(4)} ms  P95 ${pct(xs, 0.95).toFixed(0).padStart(4)} ms  P99 ${pct(xs, 0.99).toFixed(0).padStart(4)} ms`;
        console.log(row("windows without a batch", without));
        console.log(row("windows with a batch", withBatch));
        const d = (p: number) => ((pct(withBatch, p) / pct(without, p) - 1) * 100).toFixed(1);
        console.log(
            `Tracked: interactive P95 ${d(0.95)} %, P99 ${d(0.99)} % in the batch windows (target: within 10 %); batch lines done in them: ${linesDone} (the worker is lent to batch only beyond the interactive peak of the last 10 s)`,
        );
    } finally {
        await agent.close();
        gw.kill("SIGKILL");
        await worker.kill();
        await redis.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

main().then(
    () => process.exit(0),
    (e: unknown) => {
        console.error(`batch priority benchmark failed: ${(e as Error).stack ?? String(e)}`);
        process.exit(1);
    },
);
