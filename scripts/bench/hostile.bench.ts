/**
 * The attacks of the gateway security reviews at the reviews' sizes, against the current gateway
 * build (or GATEWAY_BUNDLE=<main.js>), each on a fresh gateway process: peak RSS (VmHWM),
 * event-loop stall, what another team sees. Issue 13: the chat path (below); issue 23: the batch,
 * files and warm-up routes with a real redis-server (hostileBatch.ts). Prints numbers; the tests
 * (test/gateway/hostile*.test.ts) assert the same mechanisms at smaller sizes.
 * Run: npm run bench -- hostile (or: npx tsx scripts/bench/hostile.bench.ts stream uploads)
 */
import { spawn } from "child_process";
import * as esbuild from "esbuild";
import * as os from "os";
import * as path from "path";
import * as fs from "fs";
import * as net from "net";
import { createHash } from "crypto";
import { spawnFakeVllm } from "../../test/fakes/vllm";
import { BATCH_ATTACKS, runBatchAttack } from "./hostileBatch";

const ATTACKS: string[] = ["slow-bodies", "stream", "queued", "stall", "fair", "newline", ...BATCH_ATTACKS];
let bundle = "";
let dir = "";
const KEY = "sk-team-a-0123456789abcdefghijklmnop";
const KEY2 = "sk-team-b-0123456789abcdefghijklmnop";
const M = "Qwen/Qwen3-VL-2B-Instruct";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mem = (pid: number) => {
    const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    return Math.round(Number(/VmHWM:\s+(\d+)/.exec(s)![1]) / 1024);
};
const cpu = (pid: number) => {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
};
const sha = (k: string) => createHash("sha256").update(k).digest("hex");
async function start(pool: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    const cfg = path.join(dir, "gateway.json");
    fs.writeFileSync(
        cfg,
        JSON.stringify({
            pools: [{ name: "a10g", models: [M], ...pool }],
            queue: { maxDepth: 200, maxWaitSeconds: 1200 },
            auth: {
                keys: [
                    { team: "a", sha256: sha(KEY) },
                    { team: "b", sha256: sha(KEY2) },
                ],
            },
            logLevel: "info",
            ...extra,
        }),
    );
    const port = 20000 + (process.pid % 20000);
    const gw = spawn(process.execPath, [bundle, "--config", cfg], {
        env: { ...process.env, PORT: String(port), HOST: "127.0.0.1" },
        stdio: ["ignore", "ignore", "inherit"],
    });
    for (;;) {
        try {
            if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
        } catch {
            // not listening yet
        }
        await sleep(100);
    }
    return { gw, port, url: `http://127.0.0.1:${port}` };
}
const raw = (port: number, key: string, body: Buffer | string, length?: number) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("error", () => {});
    s.write(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length ?? Buffer.byteLength(body)}\r\nAuthorization: Bearer ${key}\r\n\r\n`,
    );
    s.write(body);
    return s;
};
async function attack(which: string): Promise<void> {
    if ((BATCH_ATTACKS as readonly string[]).includes(which)) {
        await runBatchAttack(which as (typeof BATCH_ATTACKS)[number], bundle);
    } else if (which === "slow-bodies") {
        const { gw, port } = await start({ upstreams: ["http://127.0.0.1:9"] }, { limits: { default: { maxConcurrent: 5 } } });
        const base = mem(gw.pid!);
        const part = Buffer.alloc(18 << 20, 0x20);
        const socks = Array.from({ length: 40 }, () => raw(port, KEY, part, 19 << 20));
        const out: number[] = [];
        for (let t = 0; t < 8; t++) {
            await sleep(1000);
            out.push(mem(gw.pid!));
        }
        console.log(
            `40 connections sending 18 of 19 MiB then silent (team limit 5): idle ${base} MiB, peak by second: ${out.join(" ")}; closed by the gateway: ${socks.filter((s) => s.destroyed).length}`,
        );
        gw.kill("SIGKILL");
    } else if (which === "stream") {
        const up = await spawnFakeVllm({ fail: "endless", chunkBytes: 16384 });
        const { gw, port } = await start({ upstreams: [up.url], cache: { enabled: true } });
        await sleep(1000);
        const base = mem(gw.pid!);
        const body = JSON.stringify({ model: M, temperature: 0, stream: true, messages: [{ role: "user", content: "flood" }] });
        const s = raw(port, KEY, body);
        s.pause();
        const out: number[] = [];
        for (let t = 0; t < 15; t++) {
            await sleep(1000);
            out.push(mem(gw.pid!));
        }
        console.log(`unread stream 15 s: idle ${base} MiB, peak by second: ${out.join(" ")}`);
        gw.kill("SIGKILL");
        await up.kill();
    } else if (which === "queued") {
        const { gw, port } = await start({ upstreams: ["http://127.0.0.1:9"] });
        const base = mem(gw.pid!);
        const body = JSON.stringify({ model: M, messages: [{ role: "user", content: "x".repeat(19 << 20) }] });
        for (let i = 0; i < 40; i++) raw(port, KEY, body);
        const out: number[] = [];
        for (let t = 0; t < 10; t++) {
            await sleep(1000);
            out.push(mem(gw.pid!));
        }
        console.log(`40 queued 19 MiB requests: idle ${base} MiB, peak by second: ${out.join(" ")}`);
        gw.kill("SIGKILL");
    } else if (which === "stall") {
        const { gw, port, url } = await start({ upstreams: ["http://127.0.0.1:9"] });
        const n = 10_000_000 - 100;
        const b = Buffer.alloc(2 * n + 18);
        b.write('{"model":"m","x":', 0);
        b.fill("[", 17, 17 + n);
        b.fill("]", 17 + n, 17 + 2 * n);
        b.write("}", 17 + 2 * n);
        let worst = 0;
        let stop = false;
        const probe = (async () => {
            while (!stop) {
                const t = performance.now();
                await fetch(`${url}/healthz`);
                worst = Math.max(worst, performance.now() - t);
                await sleep(20);
            }
        })();
        const s = raw(port, KEY, b);
        const t0 = performance.now();
        let status = "";
        s.on("data", (d) => (status ||= d.toString().split("\r\n")[0]));
        await new Promise((r) => s.on("close", r).on("data", () => setTimeout(r, 50)));
        await sleep(300);
        stop = true;
        await probe;
        console.log(`20 MB nested body: ${status} after ${Math.round(performance.now() - t0)} ms; worst /healthz latency meanwhile ${Math.round(worst)} ms`);
        gw.kill("SIGKILL");
    } else if (which === "fair") {
        const up = await spawnFakeVllm({ tokenDelayMs: 50, maxTokens: 8 });
        const { gw, url } = await start({ upstreams: [up.url], maxConcurrentPerUpstream: 4 });
        await sleep(1500);
        const post = (key: string, q: string) =>
            fetch(`${url}/v1/chat/completions`, {
                method: "POST",
                headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
                body: JSON.stringify({ model: M, messages: [{ role: "user", content: q }] }),
            });
        const flood = Array.from({ length: 260 }, (_, i) => post(KEY, `a ${i}`).then((r) => r.status));
        await sleep(1500);
        const t0 = performance.now();
        const r = await post(KEY2, "b one");
        console.log(`team B while team A floods (260 requests, queue 200, 4 slots): HTTP ${r.status} after ${Math.round(performance.now() - t0)} ms`);
        const st = await Promise.all(flood);
        const c = (x: number) => st.filter((s) => s === x).length;
        console.log(`  team A: ${c(200)} x 200, ${c(429)} x 429`);
        gw.kill("SIGKILL");
        await up.kill();
    } else if (which === "newline") {
        const up = await spawnFakeVllm({ fail: "no-newlines", chunkBytes: 65536 });
        const { gw, url } = await start({ upstreams: [up.url] });
        await sleep(1500);
        const c0 = cpu(gw.pid!);
        const m0 = mem(gw.pid!);
        const t0 = performance.now();
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(), 20000);
        let bytes = 0;
        let ended = "cut by the client at 20 s";
        try {
            const res = await fetch(`${url}/v1/chat/completions`, {
                signal: ac.signal,
                method: "POST",
                headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
                body: JSON.stringify({ model: M, stream: true, messages: [{ role: "user", content: "x" }] }),
            });
            for await (const ch of res.body as unknown as AsyncIterable<Uint8Array>) bytes += ch.length;
            ended = "ended by the gateway";
        } catch {
            // the client's abort at 20 s: `ended` says so
        }
        clearTimeout(timer);
        console.log(
            `newline-free stream: ${ended} after ${Math.round(performance.now() - t0)} ms, ${Math.round(bytes / 1048576)} MiB relayed, gateway CPU ${(cpu(gw.pid!) - c0).toFixed(1)} s, peak RSS ${m0} -> ${mem(gw.pid!)} MiB`,
        );
        gw.kill("SIGKILL");
        await up.kill();
    }
}

async function main(): Promise<void> {
    const only = process.argv.slice(2).filter((a) => ATTACKS.includes(a));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-hostile-"));
    bundle = process.env.GATEWAY_BUNDLE ?? path.join(dir, "main.js");
    if (process.env.GATEWAY_BUNDLE === undefined) {
        await esbuild.build({
            entryPoints: [path.resolve(__dirname, "../../gateway/src/main.ts")],
            bundle: true,
            platform: "node",
            target: "node20",
            outfile: bundle,
            logLevel: "warning",
        });
    }
    console.log(
        `gateway attacks against ${process.env.GATEWAY_BUNDLE ?? "the current gateway build"} (RSS = peak VmHWM of the gateway process; pod limit 512 MiB, 640 MiB with batch on)`,
    );
    for (const a of only.length ? only : ATTACKS) await attack(a);
    fs.rmSync(dir, { recursive: true, force: true });
}

main().then(
    () => process.exit(0),
    (e: unknown) => {
        console.error(`hostile benchmark failed: ${(e as Error).stack ?? String(e)}`);
        process.exit(1);
    },
);
