/**
 * Gateway benchmark: the gateway and nginx (Debian, plain reverse proxy) side by side,
 * against the same fake vLLM upstream, in one run.
 *
 * - throughput: closed loop, 100 concurrent connections, fixed duration;
 * - added latency: open loop at 500 requests/s (latency counted from each request's
 *   scheduled send time, so a stall is not hidden), p50/p99 minus the direct-to-upstream figures;
 * - memory: RSS of a gateway process holding 2,000 queued requests (pool with no worker),
 *   which are then all answered once a worker comes up.
 *
 * Each process is separate (load generator, upstream, proxy); nginx runs one worker process,
 * like the single-threaded gateway. Nothing leaves 127.0.0.1.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as esbuild from "esbuild";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { performance } from "perf_hooks";
import { Pool as HttpPool } from "undici";
import { FakeVllmProcess, spawnFakeVllm } from "../../test/fakes/vllm";

const ROOT = path.resolve(__dirname, "../..");
const MODEL = "Qwen/Qwen3-VL-2B-Instruct";
const KEY = "sk-bench-key";
const CONNECTIONS = 100;
const ROUNDS = 3;
const THROUGHPUT_SECONDS = 3;
const RATE = 500;
const LATENCY_SECONDS = 4;
const WARMUP_SECONDS = 2;
const QUEUED = 2000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-bench-"));
const children: ChildProcess[] = [];
const fakes: FakeVllmProcess[] = [];

const chatRequest = JSON.stringify({
    model: MODEL,
    max_tokens: 16,
    messages: [
        { role: "system", content: "You are a radiology assistant. Answer briefly and say when you are unsure." },
        { role: "user", content: "What does this chest X-ray show? Is there any sign of pneumonia or effusion?" },
    ],
});
const headers = { "content-type": "application/json", authorization: `Bearer ${KEY}` };

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
    });
}

async function waitHttp(url: string, ok: (status: number, text: string) => boolean, what: string, ms = 10_000): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
        try {
            const res = await fetch(url);
            if (ok(res.status, await res.text())) return;
        } catch {
            // not up yet
        }
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await sleep(50);
    }
}

async function buildGateway(): Promise<string> {
    const out = path.join(tmp, "gateway", "main.js");
    await esbuild.build({ entryPoints: [path.join(ROOT, "gateway/src/main.ts")], bundle: true, platform: "node", target: "node20", outfile: out, logLevel: "warning" });
    return out;
}

async function startGateway(bundle: string, upstream: string, name: string, extra: Record<string, unknown> = {}): Promise<{ url: string; proc: ChildProcess }> {
    const port = await freePort();
    const cfgFile = path.join(tmp, `${name}.json`);
    const sha = (await import("crypto")).createHash("sha256").update(KEY).digest("hex");
    fs.writeFileSync(
        cfgFile,
        JSON.stringify({
            pools: [{ name: "a10g", models: [MODEL], upstreams: [upstream] }],
            queue: { maxDepth: 10_000, maxWaitSeconds: 120 },
            auth: { keys: [{ team: "bench", sha256: sha }] },
            logLevel: "info",
            ...extra,
        }),
    );
    // Logs go to /dev/null: written (the production cost) but not kept.
    const proc = spawn(process.execPath, [bundle, "--config", cfgFile], { env: { ...process.env, PORT: String(port), HOST: "127.0.0.1" }, stdio: ["ignore", "ignore", "inherit"] });
    children.push(proc);
    const url = `http://127.0.0.1:${port}`;
    await waitHttp(`${url}/healthz`, (s) => s === 200, `gateway ${name}`);
    return { url, proc };
}

function findNginx(): string | undefined {
    for (const p of ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"]) if (fs.existsSync(p)) return p;
    return undefined;
}

function installNginx(): string | undefined {
    if (process.getuid?.() !== 0 || !fs.existsSync("/usr/bin/apt-get")) return undefined;
    console.log("nginx not found: installing the Debian package (apt-get install -y nginx) ...");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    let r = spawnSync("apt-get", ["install", "-y", "-qq", "nginx"], { env, stdio: "ignore" });
    if (r.status !== 0) {
        spawnSync("apt-get", ["update", "-qq"], { env, stdio: "ignore" });
        r = spawnSync("apt-get", ["install", "-y", "-qq", "nginx"], { env, stdio: "ignore" });
    }
    return findNginx();
}

interface Target {
    name: string;
    url: string;
    /** The proxy's process (CPU accounting); undefined for the upstream itself. */
    pid?: number;
}

async function startNginx(bin: string, upstream: string): Promise<{ url: string; version: string; pid: number; stop: () => void }> {
    const port = await freePort();
    const dir = path.join(tmp, "nginx");
    fs.mkdirSync(dir, { recursive: true });
    fs.chmodSync(tmp, 0o755);
    fs.chmodSync(dir, 0o777); // workers run as an unprivileged user when started by root
    const u = new URL(upstream);
    const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    client_max_body_size 20m;
    upstream vllm {
        server ${u.hostname}:${u.port};
        keepalive 128;
    }
    server {
        listen 127.0.0.1:${port} backlog=2048;
        location / {
            proxy_pass http://vllm;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 600s;
        }
    }
}
`;
    const file = path.join(dir, "nginx.conf");
    fs.writeFileSync(file, conf);
    const version = spawnSync(bin, ["-v"], { encoding: "utf8" }).stderr.trim().replace("nginx version: ", "");
    const proc = spawn(bin, ["-p", dir, "-e", `${dir}/error.log`, "-c", file], { stdio: ["ignore", "ignore", "inherit"] });
    children.push(proc);
    const url = `http://127.0.0.1:${port}`;
    await waitHttp(`${url}/v1/models`, (s) => s === 200, "nginx");
    return { url, version, pid: proc.pid!, stop: () => proc.kill("SIGQUIT") };
}

function percentile(sorted: number[], p: number): number {
    if (sorted.length === 0) return NaN;
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function send(pool: HttpPool): Promise<boolean> {
    const res = await pool.request({ method: "POST", path: "/v1/chat/completions", headers, body: chatRequest });
    const text = await res.body.text();
    return res.statusCode === 200 && text.includes('"chat.completion"');
}

interface Throughput {
    rps: number;
    ok: number;
    errors: number;
    p50: number;
    p99: number;
}

/** Closed loop: `conns` clients, each sending its next request when the previous one is answered. */
async function throughput(url: string, seconds: number, conns = CONNECTIONS): Promise<Throughput> {
    const pool = new HttpPool(url, { connections: conns });
    const lat: number[] = [];
    let ok = 0;
    let errors = 0;
    const start = performance.now();
    const end = start + seconds * 1000;
    await Promise.all(
        Array.from({ length: conns }, async () => {
            while (performance.now() < end) {
                const t = performance.now();
                try {
                    if (await send(pool)) ok++;
                    else errors++;
                } catch {
                    errors++;
                }
                lat.push(performance.now() - t);
            }
        }),
    );
    const elapsed = (performance.now() - start) / 1000;
    await pool.close();
    lat.sort((a, b) => a - b);
    return { rps: ok / elapsed, ok, errors, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

interface Latency {
    p50: number;
    p99: number;
    errors: number;
    achieved: number;
    /** Every request's latency (ms), sorted. */
    samples: number[];
}

/** Open loop: requests at a fixed rate regardless of answers; latency from the scheduled send time. */
async function latencyAtRate(url: string, rate: number, seconds: number): Promise<Latency> {
    const pool = new HttpPool(url, { connections: CONNECTIONS });
    const n = Math.round(rate * seconds);
    const lat: number[] = [];
    let errors = 0;
    const t0 = performance.now() + 20;
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < n; i++) {
        const at = t0 + (i * 1000) / rate;
        const wait = at - performance.now();
        if (wait > 0) await sleep(Math.ceil(wait)); // timers round down: never send early
        pending.push(
            send(pool).then(
                (ok) => {
                    if (!ok) errors++;
                    lat.push(performance.now() - at);
                },
                () => {
                    errors++;
                },
            ),
        );
    }
    await Promise.all(pending);
    const achieved = n / ((performance.now() - t0) / 1000);
    await pool.close();
    lat.sort((a, b) => a - b);
    return { p50: percentile(lat, 50), p99: percentile(lat, 99), errors, achieved, samples: lat };
}

/** CPU time (user + system, ms) of a process and its children (nginx: master + worker). */
function cpuMs(pid: number | undefined): number {
    if (pid === undefined) return NaN;
    let total = 0;
    const pids = [pid];
    try {
        for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
            const kids = fs.readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim();
            if (kids) pids.push(...kids.split(/\s+/).map(Number));
        }
        for (const p of pids) {
            const f = fs.readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ");
            total += ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks at USER_HZ 100
        }
    } catch {
        return NaN;
    }
    return total;
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor((s.length - 1) / 2)];
}

function rssMiB(pid: number): { rss: number; peak: number } {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

async function queueDepth(url: string): Promise<number> {
    const text = await (await fetch(`${url}/metrics`)).text();
    return Number(/^gateway_queue_depth\{pool="a10g"\} (\d+)/m.exec(text)?.[1] ?? NaN);
}

interface MemoryResult {
    idle: number;
    queued: number;
    peak: number;
    answered: number;
    bodyBytes: number;
}

/** RSS of a gateway holding QUEUED requests for a pool whose worker is not up yet; then the worker starts. */
async function memory(bundle: string, body: string): Promise<MemoryResult> {
    const port = await freePort();
    const gw = await startGateway(bundle, `http://127.0.0.1:${port}`, `memory-${body.length}`, { health: { probeIntervalNotReadySeconds: 0.2 } });
    await sleep(300);
    const idle = rssMiB(gw.proc.pid!).rss;
    const pool = new HttpPool(gw.url, { connections: QUEUED, headersTimeout: 120_000 });
    const replies = Array.from({ length: QUEUED }, async () => {
        const res = await pool.request({ method: "POST", path: "/v1/chat/completions", headers, body });
        const text = await res.body.text();
        return res.statusCode === 200 && text.includes('"chat.completion"');
    });
    const until = Date.now() + 60_000;
    while ((await queueDepth(gw.url)) < QUEUED) {
        if (Date.now() > until) throw new Error(`only ${await queueDepth(gw.url)} requests queued`);
        await sleep(100);
    }
    await sleep(500);
    const held = rssMiB(gw.proc.pid!);
    // The worker comes up: every held request must be answered.
    const worker = await spawnFakeVllm({ port });
    fakes.push(worker);
    const answered = (await Promise.all(replies.map((p) => p.catch(() => false)))).filter(Boolean).length;
    await pool.close();
    gw.proc.kill("SIGTERM");
    await worker.kill("SIGTERM");
    return { idle, queued: held.rss, peak: held.peak, answered, bodyBytes: Buffer.byteLength(body) };
}

function imageRequest(bytes: number): string {
    const img = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) img[i] = (i * 7919) & 0xff;
    return JSON.stringify({
        model: MODEL,
        max_tokens: 16,
        messages: [{ role: "user", content: [{ type: "text", text: "Describe this X-ray." }, { type: "image_url", image_url: { url: `data:image/png;base64,${img.toString("base64")}` } }] }],
    });
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "-");

async function main(): Promise<void> {
    console.log(`gateway benchmark on ${os.cpus().length} CPUs, Node ${process.version}; everything on 127.0.0.1`);
    const bundle = await buildGateway();
    const upstream = await spawnFakeVllm({ tokenDelayMs: 0 });
    fakes.push(upstream);
    const gw = await startGateway(bundle, upstream.url, "proxy");
    await waitHttp(`${gw.url}/metrics`, (_s, t) => /gateway_upstreams_ready\{pool="a10g"\} 1/.test(t), "gateway upstream ready");

    let nginxBin = findNginx() ?? installNginx();
    let nginx: { url: string; version: string; pid: number; stop: () => void } | undefined;
    if (nginxBin) {
        try {
            nginx = await startNginx(nginxBin, upstream.url);
        } catch (e) {
            console.log(`nginx column skipped: could not start nginx (${(e as Error).message})`);
            nginxBin = undefined;
        }
    } else {
        console.log("nginx column skipped: nginx is not installed and could not be installed (run: apt-get install -y nginx)");
    }

    const targets: Target[] = [{ name: "direct to upstream", url: upstream.url }, ...(nginx ? [{ name: `nginx ${nginx.version}`, url: nginx.url, pid: nginx.pid }] : []), { name: "gateway", url: gw.url, pid: gw.proc.pid }];
    const tp = new Map<string, Throughput[]>();
    const lt = new Map<string, Latency[]>();
    const cpu = new Map<string, number[]>();
    for (const t of targets) {
        process.stdout.write(`warming up ${t.name} ...\n`);
        await throughput(t.url, WARMUP_SECONDS); // connections, JIT
        await latencyAtRate(t.url, RATE, 1);
    }
    // Rounds alternate the targets, so background load on a shared machine hits them alike.
    for (let r = 1; r <= ROUNDS; r++) {
        process.stdout.write(`round ${r}/${ROUNDS}: `);
        for (const t of targets) {
            const c0 = cpuMs(t.pid);
            const res = await throughput(t.url, THROUGHPUT_SECONDS);
            (cpu.get(t.name) ?? cpu.set(t.name, []).get(t.name)!).push(((cpuMs(t.pid) - c0) * 1000) / res.ok);
            (tp.get(t.name) ?? tp.set(t.name, []).get(t.name)!).push(res);
            (lt.get(t.name) ?? lt.set(t.name, []).get(t.name)!).push(await latencyAtRate(t.url, RATE, LATENCY_SECONDS));
            process.stdout.write(`${t.name} `);
        }
        process.stdout.write("\n");
    }
    nginx?.stop();
    gw.proc.kill("SIGTERM");
    const results = new Map<string, { t: Throughput; l: Latency; cpuUs: number }>();
    for (const t of targets) {
        const ts = tp.get(t.name)!;
        const ls = lt.get(t.name)!;
        results.set(t.name, {
            t: { rps: median(ts.map((x) => x.rps)), ok: 0, errors: ts.reduce((n, x) => n + x.errors, 0), p50: median(ts.map((x) => x.p50)), p99: median(ts.map((x) => x.p99)) },
            // Latency percentiles over all rounds' samples pooled: a p99 from 2,000 samples alone is noisy.
            l: (() => {
                const all = ls.flatMap((x) => x.samples).sort((a, b) => a - b);
                return { p50: percentile(all, 50), p99: percentile(all, 99), errors: ls.reduce((n, x) => n + x.errors, 0), achieved: median(ls.map((x) => x.achieved)), samples: [] };
            })(),
            cpuUs: median(cpu.get(t.name)!),
        });
    }

    process.stdout.write(`measuring memory with ${QUEUED} queued requests ...`);
    const memText = await memory(bundle, chatRequest);
    const memImage = await memory(bundle, imageRequest(48 * 1024));
    process.stdout.write(" done\n\n");

    const direct = results.get("direct to upstream")!;
    console.log(
        `${ROUNDS} alternating rounds. Throughput (median of rounds): closed loop, ${CONNECTIONS} connections, ${THROUGHPUT_SECONDS} s. Latency (all rounds pooled, ${ROUNDS * RATE * LATENCY_SECONDS} requests per target): open loop at ${RATE} req/s, from each request's scheduled send time; "added" = minus direct (negative = within noise).`,
    );
    const rows = [["target", "req/s @100 conns", "p50 ms", "p99 ms", "proxy CPU us/req", `p50 ms @${RATE}/s`, `p99 ms @${RATE}/s`, "added p50", "added p99", "errors"]];
    for (const [name, { t, l, cpuUs }] of results) {
        const isDirect = name === "direct to upstream";
        rows.push([name, f1(t.rps), f2(t.p50), f2(t.p99), isDirect ? "" : f1(cpuUs), f2(l.p50), f2(l.p99), isDirect ? "" : f2(l.p50 - direct.l.p50), isDirect ? "" : f2(l.p99 - direct.l.p99), String(t.errors + l.errors)]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  "));

    console.log(`\nMemory of the gateway process holding ${QUEUED} queued requests (no worker up), then all answered when one starts:`);
    for (const [label, m] of [
        ["text chat request", memText],
        ["with a 48 KiB image", memImage],
    ] as Array<[string, MemoryResult]>) {
        console.log(
            `  ${label.padEnd(20)} body ${String(m.bodyBytes).padStart(6)} B: idle ${f1(m.idle)} MiB, with ${QUEUED} queued ${f1(m.queued)} MiB (peak ${f1(m.peak)} MiB, ${f1(((m.queued - m.idle) * 1024) / QUEUED)} KiB/request); answered ${m.answered}/${QUEUED}`,
        );
    }

    const g = results.get("gateway")!;
    const n = nginx ? results.get(`nginx ${nginx.version}`) : undefined;
    const addedP99 = g.l.p99 - direct.l.p99;
    console.log("\nTargets:");
    console.log(`  added p99 at ${RATE} req/s < 5 ms:       ${f2(addedP99)} ms  ${addedP99 < 5 ? "OK" : "MISSED"}`);
    console.log(`  ${QUEUED} queued requests < 300 MB RSS:  ${f1(memText.queued)} MiB (text), ${f1(memImage.queued)} MiB (48 KiB images)  ${memText.queued * 1.048576 < 300 ? "OK" : "MISSED"}`);
    if (n) console.log(`  throughput >= 50% of nginx:        ${f1(g.t.rps)} vs ${f1(n.t.rps)} req/s = ${f1((100 * g.t.rps) / n.t.rps)} %  ${g.t.rps >= 0.5 * n.t.rps ? "OK" : "MISSED"}`);
    else console.log("  throughput >= 50% of nginx:        skipped (no nginx)");
    if (n) {
        // Throughput here is capped by the shared CPUs (load generator + upstream); CPU per request is the per-core view.
        console.log(
            `  CPU per request:                   gateway ${f1(g.cpuUs)} us vs nginx ${f1(n.cpuUs)} us (${f1(g.cpuUs / n.cpuUs)}x); one core would carry ~${Math.round(1e6 / g.cpuUs)} req/s through the gateway, ~${Math.round(1e6 / n.cpuUs)} through nginx`,
        );
        console.log(`  nginx reached ${f1((100 * n.t.rps) / direct.t.rps)} % of direct-to-upstream throughput: on this machine the load generator and the upstream bound it.`);
    }
    console.log(`\nNote: ${os.cpus().length} CPUs shared by the load generator, the fake upstream (one Node process) and the proxy; nginx runs 1 worker, like the gateway's one event loop.`);
}

function cleanup(): void {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const f of fakes) void f.kill().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
}

process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
});
main().then(
    () => {
        cleanup();
        process.exit(0);
    },
    (e: unknown) => {
        console.error(`\ngateway benchmark failed: ${(e as Error).stack ?? String(e)}`);
        cleanup();
        process.exit(1);
    },
);
