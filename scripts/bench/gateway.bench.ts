/**
 * Gateway benchmark: the gateway and nginx (Debian, plain reverse proxy) side by side,
 * against the same fake vLLM upstream (5 ms service time), in one run.
 *
 * - pinned cores (taskset, when there are >= 2 CPUs): the proxy under test on CPU 0, the load
 *   generator and the fake upstream on CPU 1, so the proxies are compared core for core;
 * - throughput: closed loop, 10 and 100 concurrent connections, fixed duration;
 * - added latency: open loop at 500 requests/s over 10 and over 100 connections (latency counted
 *   from each request's scheduled send time, so a stall is not hidden): the gateway's p50/p99
 *   minus nginx's (the proxy baseline) and minus direct-to-upstream;
 * - the Node floor: a bare Node proxy (node:http server + the same undici Pool, no routing,
 *   auth, parsing, logs or metrics), so the gap to nginx splits into what Node's HTTP stack
 *   costs and what the gateway's own request path adds on top;
 * - CPU per request of each proxy process (user + system time from /proc over the run);
 * - memory: RSS of a gateway process holding 2,000 queued requests (pool with no worker),
 *   which are then all answered once a worker comes up.
 * The last lines ("Tracked") are the numbers issue 13 point 12 follows from run to run.
 *
 * Knobs: GATEWAY_BENCH_ROUNDS (default 3), GATEWAY_BENCH_MEMORY=0 (skip the memory part),
 * GATEWAY_CPU_PROF=dir (the gateway writes a CPU profile there).
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
const CONNECTION_COUNTS = [10, 100];
const CONNECTIONS = 100;
const SERVICE_MS = 5;
/** CPU of the proxy under test, and of everything else (load generator, upstream). */
const PROXY_CPU = "0";
const LOAD_CPU = "1";
const PIN = os.cpus().length >= 2 && fs.existsSync("/usr/bin/taskset");
/** Prefix a command with taskset when pinning. */
function pinned(cpu: string, cmd: string, args: string[]): [string, string[]] {
    return PIN ? ["/usr/bin/taskset", ["-c", cpu, cmd, ...args]] : [cmd, args];
}
const ROUNDS = Math.max(1, Number(process.env.GATEWAY_BENCH_ROUNDS ?? 3) || 3);
const THROUGHPUT_SECONDS = 3;
const RATE = 500;
const LATENCY_SECONDS = 4;
/**
 * Closed-loop warm-up per target. V8 compiles on a background thread that the pinning puts on
 * the proxy's own core: the gateway's bundle needs several seconds under load before its cost
 * per request settles (measured: ~2x the steady cost in the first 3 s on a loaded machine).
 */
const WARMUP_SECONDS = 6;
const MEASURE_MEMORY = process.env.GATEWAY_BENCH_MEMORY !== "0";
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
    await esbuild.build({
        entryPoints: [path.join(ROOT, "gateway/src/main.ts")],
        bundle: true,
        platform: "node",
        target: "node20",
        outfile: out,
        logLevel: "warning",
    });
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
    const [cmd, args] = pinned(PROXY_CPU, process.execPath, [
        ...(process.env.GATEWAY_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.GATEWAY_CPU_PROF}`] : []),
        bundle,
        "--config",
        cfgFile,
    ]);
    const proc = spawn(cmd, args, { env: { ...process.env, PORT: String(port), HOST: "127.0.0.1" }, stdio: ["ignore", "ignore", "inherit"] });
    children.push(proc);
    const url = `http://127.0.0.1:${port}`;
    await waitHttp(`${url}/healthz`, (s) => s === 200, `gateway ${name}`);
    return { url, proc };
}

/**
 * The Node floor: a bare proxy with node:http and the gateway's HTTP client (undici Pool, same
 * keep-alive), buffering each body like the gateway does for non-stream answers. What it costs
 * per request, the gateway cannot go below on Node; what the gateway costs above it is ours.
 */
async function startNodeFloor(upstream: string): Promise<{ url: string; pid: number }> {
    const port = await freePort();
    const file = path.join(tmp, "node-floor.cjs");
    fs.writeFileSync(
        file,
        `const http = require("http");
const { Pool } = require(${JSON.stringify(require.resolve("undici"))});
const up = new Pool(process.env.UPSTREAM, { keepAliveTimeout: 4000 });
http.createServer((req, res) => {
    const parts = [];
    req.on("data", (c) => parts.push(c));
    req.on("end", async () => {
        try {
            const r = await up.request({ method: req.method, path: req.url, headers: { "content-type": "application/json" }, body: parts.length ? Buffer.concat(parts) : undefined });
            const body = Buffer.from(await r.body.arrayBuffer());
            res.writeHead(r.statusCode, { "content-type": String(r.headers["content-type"] ?? "application/json"), "content-length": body.length });
            res.end(body);
        } catch {
            res.writeHead(502).end();
        }
    });
}).listen(Number(process.env.PORT), "127.0.0.1", 2048);
`,
    );
    const [cmd, args] = pinned(PROXY_CPU, process.execPath, [file]);
    const proc = spawn(cmd, args, { env: { ...process.env, PORT: String(port), UPSTREAM: upstream }, stdio: ["ignore", "ignore", "inherit"] });
    children.push(proc);
    const url = `http://127.0.0.1:${port}`;
    await waitHttp(`${url}/v1/models`, (s) => s === 200, "node floor proxy");
    return { url, pid: proc.pid! };
}

function findNginx(): string | undefined {
    for (const p of ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"]) if (fs.existsSync(p)) return p;
    return undefined;
}

function installNginx(): string | undefined {
    if (process.getuid?.() !== 0 || !fs.existsSync("/usr/bin/apt-get")) return undefined;
    console.log("nginx not found: installing the Debian package (apt-get install -y nginx) ...");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    if (spawnSync("apt-get", ["install", "-y", "-qq", "nginx"], { env, stdio: "ignore" }).status !== 0) {
        spawnSync("apt-get", ["update", "-qq"], { env, stdio: "ignore" });
        spawnSync("apt-get", ["install", "-y", "-qq", "nginx"], { env, stdio: "ignore" });
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
    const [cmd, args] = pinned(PROXY_CPU, bin, ["-p", dir, "-e", `${dir}/error.log`, "-c", file]);
    const proc = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
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
async function latencyAtRate(url: string, rate: number, seconds: number, conns = CONNECTIONS): Promise<Latency> {
    const pool = new HttpPool(url, { connections: conns });
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
    // A body budget that fits all QUEUED requests (the default, 128 MiB, would refuse some 48 KiB-image ones with 503).
    const gw = await startGateway(bundle, `http://127.0.0.1:${port}`, `memory-${body.length}`, {
        health: { probeIntervalNotReadySeconds: 0.2 },
        maxHeldBodyBytes: 256 * 1024 * 1024,
    });
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
        messages: [
            {
                role: "user",
                content: [
                    { type: "text", text: "Describe this X-ray." },
                    { type: "image_url", image_url: { url: `data:image/png;base64,${img.toString("base64")}` } },
                ],
            },
        ],
    });
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "-");

async function main(): Promise<void> {
    console.log(`gateway benchmark on ${os.cpus().length} CPUs, Node ${process.version}; everything on 127.0.0.1`);
    const bundle = await buildGateway();
    if (PIN) spawnSync("/usr/bin/taskset", ["-a", "-p", "-c", LOAD_CPU, String(process.pid)], { stdio: "ignore" });
    const upstream = await spawnFakeVllm({ tokenDelayMs: 0, serviceTimeMs: SERVICE_MS });
    fakes.push(upstream);
    if (PIN) spawnSync("/usr/bin/taskset", ["-a", "-p", "-c", LOAD_CPU, String(upstream.proc.pid)], { stdio: "ignore" });
    const gw = await startGateway(bundle, upstream.url, "proxy");
    await waitHttp(`${gw.url}/metrics`, (_s, t) => /gateway_upstreams_ready\{pool="a10g"\} 1/.test(t), "gateway upstream ready");

    const nginxBin = findNginx() ?? installNginx();
    let nginx: { url: string; version: string; pid: number; stop: () => void } | undefined;
    if (nginxBin) {
        try {
            nginx = await startNginx(nginxBin, upstream.url);
        } catch (e) {
            console.log(`nginx column skipped: could not start nginx (${(e as Error).message})`);
        }
    } else {
        console.log("nginx column skipped: nginx is not installed and could not be installed (run: apt-get install -y nginx)");
    }

    const floor = await startNodeFloor(upstream.url);
    const FLOOR = "node floor (bare proxy)";
    const targets: Target[] = [
        { name: "direct to upstream", url: upstream.url },
        ...(nginx ? [{ name: `nginx ${nginx.version}`, url: nginx.url, pid: nginx.pid }] : []),
        { name: FLOOR, url: floor.url, pid: floor.pid },
        { name: "gateway", url: gw.url, pid: gw.proc.pid },
    ];
    const tp = new Map<string, Throughput[]>();
    const lt = new Map<string, Latency[]>();
    const cpu = new Map<string, number[]>();
    const push = <T>(m: Map<string, T[]>, k: string, v: T) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);
    for (const t of targets) {
        process.stdout.write(`warming up ${t.name} ...\n`);
        await throughput(t.url, t.pid === undefined ? 1 : WARMUP_SECONDS); // connections, JIT
        await latencyAtRate(t.url, RATE, 1);
    }
    // Rounds alternate the targets, so background load on a shared machine hits them alike.
    for (let r = 1; r <= ROUNDS; r++) {
        process.stdout.write(`round ${r}/${ROUNDS}: `);
        for (const t of targets) {
            for (const conns of CONNECTION_COUNTS) {
                const key = `${t.name}@${conns}`;
                const c0 = cpuMs(t.pid);
                const res = await throughput(t.url, THROUGHPUT_SECONDS, conns);
                push(cpu, key, ((cpuMs(t.pid) - c0) * 1000) / res.ok);
                push(tp, key, res);
                push(lt, key, await latencyAtRate(t.url, RATE, LATENCY_SECONDS, conns));
            }
            process.stdout.write(`${t.name} `);
        }
        process.stdout.write("\n");
    }
    const profiling = process.env.GATEWAY_CPU_PROF;
    nginx?.stop();
    gw.proc.kill("SIGTERM");
    if (profiling) await new Promise((r) => gw.proc.once("exit", r));
    const results = new Map<string, { t: Throughput; l: Latency; cpuUs: number }>();
    for (const key of tp.keys()) {
        const ts = tp.get(key)!;
        const ls = lt.get(key)!;
        results.set(key, {
            t: {
                rps: median(ts.map((x) => x.rps)),
                ok: 0,
                errors: ts.reduce((n, x) => n + x.errors, 0),
                p50: median(ts.map((x) => x.p50)),
                p99: median(ts.map((x) => x.p99)),
            },
            // Latency percentiles over all rounds' samples pooled: a p99 from 2,000 samples alone is noisy.
            l: (() => {
                const all = ls.flatMap((x) => x.samples).sort((a, b) => a - b);
                return {
                    p50: percentile(all, 50),
                    p99: percentile(all, 99),
                    errors: ls.reduce((n, x) => n + x.errors, 0),
                    achieved: median(ls.map((x) => x.achieved)),
                    samples: [],
                };
            })(),
            cpuUs: median(cpu.get(key)!),
        });
    }

    let memText: MemoryResult | undefined;
    let memImage: MemoryResult | undefined;
    if (MEASURE_MEMORY) {
        process.stdout.write(`measuring memory with ${QUEUED} queued requests ...`);
        memText = await memory(bundle, chatRequest);
        memImage = await memory(bundle, imageRequest(48 * 1024));
        process.stdout.write(" done\n");
    }
    process.stdout.write("\n");

    const nginxName = nginx ? `nginx ${nginx.version}` : undefined;
    console.log(
        `${ROUNDS} alternating rounds; upstream service time ${SERVICE_MS} ms; ${PIN ? `proxy pinned to CPU ${PROXY_CPU}, load generator and upstream to CPU ${LOAD_CPU} (taskset)` : "NOT pinned (needs 2 CPUs and taskset)"}.`,
    );
    console.log(
        `Throughput (median of rounds): closed loop, ${THROUGHPUT_SECONDS} s. Latency (all rounds pooled): open loop at ${RATE} req/s, from each request's scheduled send time; "over nginx" = gateway minus nginx, "added" = minus direct.`,
    );
    for (const conns of CONNECTION_COUNTS) {
        const direct = results.get(`direct to upstream@${conns}`)!;
        const base = nginxName ? results.get(`${nginxName}@${conns}`) : undefined;
        console.log(`\n${conns} connections:`);
        const rows = [
            [
                "target",
                "req/s",
                "p50 ms",
                "p99 ms",
                "proxy CPU us/req",
                `p50 ms @${RATE}/s`,
                `p99 ms @${RATE}/s`,
                "added p50",
                "added p99",
                "over nginx p50",
                "over nginx p99",
                "errors",
            ],
        ];
        for (const t of targets) {
            const { t: th, l, cpuUs } = results.get(`${t.name}@${conns}`)!;
            const isDirect = t.name === "direct to upstream";
            const isGateway = t.name === "gateway";
            rows.push([
                t.name,
                f1(th.rps),
                f2(th.p50),
                f2(th.p99),
                isDirect ? "" : f1(cpuUs),
                f2(l.p50),
                f2(l.p99),
                isDirect ? "" : f2(l.p50 - direct.l.p50),
                isDirect ? "" : f2(l.p99 - direct.l.p99),
                isGateway && base ? f2(l.p50 - base.l.p50) : "",
                isGateway && base ? f2(l.p99 - base.l.p99) : "",
                String(th.errors + l.errors),
            ]);
        }
        const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
        for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  "));
        const g = results.get(`gateway@${conns}`)!;
        const fl = results.get(`${FLOOR}@${conns}`)!;
        if (base)
            console.log(
                `  gateway/nginx throughput ${f2(g.t.rps / base.t.rps)}x; CPU per request ${f1(g.cpuUs)} vs ${f1(base.cpuUs)} us (${f1(g.cpuUs / base.cpuUs)}x); p50 over nginx at ${RATE}/s: +${f2(g.l.p50 - base.l.p50)} ms`,
            );
        console.log(
            `  node floor: ${f1(fl.cpuUs)} us/request (${base ? `${f1(fl.cpuUs / base.cpuUs)}x nginx, ` : ""}throughput ${base ? `${f2(fl.t.rps / base.t.rps)}x nginx` : f1(fl.t.rps)}); the gateway's own path adds ${f1(g.cpuUs - fl.cpuUs)} us/request`,
        );
    }

    if (memText && memImage)
        console.log(`\nMemory of the gateway process holding ${QUEUED} queued requests (no worker up), then all answered when one starts:`);
    const memRows: Array<[string, MemoryResult]> =
        memText && memImage
            ? [
                  ["text chat request", memText],
                  ["with a 48 KiB image", memImage],
              ]
            : [];
    for (const [label, m] of memRows) {
        console.log(
            `  ${label.padEnd(20)} body ${String(m.bodyBytes).padStart(6)} B: idle ${f1(m.idle)} MiB, with ${QUEUED} queued ${f1(m.queued)} MiB (peak ${f1(m.peak)} MiB, ${f1(((m.queued - m.idle) * 1024) / QUEUED)} KiB/request); answered ${m.answered}/${QUEUED}`,
        );
    }

    const g = results.get(`gateway@${CONNECTIONS}`)!;
    const n = nginxName ? results.get(`${nginxName}@${CONNECTIONS}`) : undefined;
    const direct = results.get(`direct to upstream@${CONNECTIONS}`)!;
    const addedP99 = g.l.p99 - direct.l.p99;
    console.log("\nTargets:");
    console.log(`  added p99 at ${RATE} req/s < 5 ms:       ${f2(addedP99)} ms  ${addedP99 < 5 ? "OK" : "MISSED"}`);
    if (memText && memImage)
        console.log(
            `  ${QUEUED} queued requests < 300 MB RSS:  ${f1(memText.queued)} MiB (text), ${f1(memImage.queued)} MiB (48 KiB images)  ${memText.queued * 1.048576 < 300 ? "OK" : "MISSED"}`,
        );
    if (n)
        console.log(
            `  throughput >= 50% of nginx:        ${f1(g.t.rps)} vs ${f1(n.t.rps)} req/s = ${f1((100 * g.t.rps) / n.t.rps)} %  ${g.t.rps >= 0.5 * n.t.rps ? "OK" : "MISSED"}`,
        );
    else console.log("  throughput >= 50% of nginx:        skipped (no nginx)");
    // One line per tracked number (issue 13 point 12), each "gateway vs nginx" with both pinned to one core.
    console.log(`\nTracked (gateway and nginx each on CPU ${PIN ? PROXY_CPU : "-"}, ${ROUNDS} rounds):`);
    for (const conns of CONNECTION_COUNTS) {
        const gw = results.get(`gateway@${conns}`)!;
        const ng = nginxName ? results.get(`${nginxName}@${conns}`) : undefined;
        const fl = results.get(`${FLOOR}@${conns}`)!;
        console.log(
            `  ${String(conns).padStart(3)} conns: throughput ${ng ? `${f2(gw.t.rps / ng.t.rps)}x nginx` : "- (no nginx)"}; at ${RATE} req/s over nginx p50 ${ng ? f2(gw.l.p50 - ng.l.p50) : "-"} ms, p99 ${ng ? f2(gw.l.p99 - ng.l.p99) : "-"} ms; CPU us/request gateway ${f1(gw.cpuUs)}, node floor ${f1(fl.cpuUs)}, nginx ${ng ? f1(ng.cpuUs) : "-"}`,
        );
    }
    if (profiling) console.log(`\nCPU profile of the gateway: ${profiling}/*.cpuprofile (open in Chrome DevTools > Performance)`);
    console.log(
        `\nNote: ${os.cpus().length} CPUs shared by the load generator, the fake upstream (one Node process) and the proxy; nginx runs 1 worker, like the gateway's one event loop.`,
    );
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
