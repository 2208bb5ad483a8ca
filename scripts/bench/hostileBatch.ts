/**
 * Issue 23: what one key holder can do to the batch, files and warm-up routes, measured on the
 * built gateway (one fresh process per attack) with a real redis-server configured as the stack
 * deploys Valkey (components/serving/batchStore.ts valkeyConf: memoryMiB 2048 -> maxmemory
 * 1536mb, noeviction, append-only file fsynced every second, a password).
 *
 * Each attack prints the gateway's peak RSS (VmHWM of its process), the worst /healthz latency
 * seen by a probe in a separate process (20 ms between probes, so the bench's own work does not
 * delay it), and what the attacker and the other team got. Numbers only: the tests
 * (test/gateway/hostileBatch*.test.ts) assert the mechanisms at smaller sizes.
 *
 * GATEWAY_BUNDLE=<main.js> runs the attacks against another build (e.g. the one before a fix),
 * measured the same way.
 */
import { ChildProcess, spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Readable } from "stream";
import { Redis } from "ioredis";
import { Agent, request } from "undici";
import { valkeyConf } from "../../components/serving/batchStore";
import { GATEWAY_HEAP_MIB, gatewayMemoryMiB } from "../../components/serving/gatewayDeployment";
import { spawnFakeVllm } from "../../test/fakes/vllm";
import { startRedis } from "../../test/helpers/redis";

export const BATCH_ATTACKS = ["batch-parse", "batch-create", "uploads", "downloads", "get-flood", "body-share"] as const;

const M = "Qwen/Qwen3-VL-2B-Instruct";
const KEY_A = "sk-team-a-0123456789abcdefghijklmnop";
const KEY_B = "sk-team-b-0123456789abcdefghijklmnop";
const PASSWORD = "bench-valkey-password-0123456789";
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (k: string) => createHash("sha256").update(k).digest("hex");
const kb = (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
const hwmMiB = (pid: number) => Math.round(kb(pid, "VmHWM") / 1024);

/** The gateway's pod memory limit with batch on: as deployed now (components/serving/gatewayDeployment.ts), and before issue 23 (512 + 3 x maxFileBytes). */
const LIMIT_NOW_MIB = gatewayMemoryMiB(true);
const LIMIT_BEFORE_MIB = 512 + Math.ceil((3 * 200 * MiB) / MiB);

interface Env {
    bundle: string;
    dir: string;
}

interface Running {
    url: string;
    port: number;
    proc: ChildProcess;
    redis: Redis;
    /** Longest GC pause (ms) seen when GATEWAY_BENCH_TRACE_GC=1 (the gateway runs with --trace-gc). */
    gcMaxMs(): number | undefined;
    stop(): Promise<void>;
}

const TRACE_GC = process.env.GATEWAY_BENCH_TRACE_GC === "1";

/** A gateway config shaped like the stack's (components/serving/gatewayConfig.ts): per-team limits, 20 MiB bodies, batch on. */
function stackLikeConfig(upstream: string, redisUrl: string): Record<string, unknown> {
    return {
        pools: [{ name: "a10g", models: [M, "qwen3-vl-2b"], upstreams: [upstream], maxConcurrentPerUpstream: 8, maxTokens: 4096 }],
        queue: { maxDepth: 200, maxWaitSeconds: 1200, retryAfterSeconds: 30 },
        maxBodyBytes: 20 * MiB,
        limits: { default: { maxConcurrent: 100, requestsPerMinute: 600 } },
        auth: {
            keys: [
                { team: "a", sha256: sha(KEY_A), permissions: ["warmup"] },
                { team: "b", sha256: sha(KEY_B), permissions: ["warmup"] },
            ],
        },
        batch: { redisUrl },
        logLevel: "warn",
    };
}

async function startStack(env: Env, opts: { workerReady?: boolean } = {}): Promise<Running> {
    const conf = path.join(env.dir, "valkey.conf");
    // As deployed, minus what startRedis sets itself (port, bind, dir: /data does not exist here).
    fs.writeFileSync(conf, valkeyConf(PASSWORD, 2048).replace(/^(dir|bind) .*$/gm, ""));
    const store = await startRedis({ conf, appendonly: true });
    const up = await spawnFakeVllm(opts.workerReady ? { tokenDelayMs: 5 } : { startupDelayMs: 3_600_000 });
    const cfg = path.join(env.dir, "gateway.json");
    fs.writeFileSync(cfg, JSON.stringify(stackLikeConfig(up.url, store.url)));
    const port = await new Promise<number>((r) => {
        const s = net.createServer().listen(0, "127.0.0.1", () => {
            const p = (s.address() as net.AddressInfo).port;
            s.close(() => r(p));
        });
    });
    // As deployed: the V8 old-space bound of components/serving/gatewayDeployment.ts.
    const proc = spawn(process.execPath, [...(TRACE_GC ? ["--trace-gc"] : []), env.bundle, "--config", cfg], {
        env: {
            ...process.env,
            PORT: String(port),
            HOST: "127.0.0.1",
            GATEWAY_BATCH_REDIS_PASSWORD: PASSWORD,
            NODE_OPTIONS: `--max-old-space-size=${GATEWAY_HEAP_MIB}`,
        },
        stdio: ["ignore", TRACE_GC ? "pipe" : "ignore", "inherit"],
    });
    let gcMax: number | undefined;
    // --trace-gc lines: "... Mark-Compact 120.1 (150.2) -> 80.3 (140.0) MB, pooled: 0 MB, 35.20 / 0.00 ms ..."
    proc.stdout?.on("data", (d: Buffer) => {
        for (const m of d.toString().matchAll(/MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/g)) gcMax = Math.max(gcMax ?? 0, Number(m[1]));
    });
    const url = `http://127.0.0.1:${port}`;
    for (;;) {
        try {
            if ((await fetch(`${url}/healthz`)).ok) break;
        } catch {
            // not up yet
        }
        await sleep(100);
    }
    const redis = new Redis(store.url, { password: PASSWORD });
    return {
        url,
        port,
        proc,
        redis,
        gcMaxMs: () => gcMax,
        stop: async () => {
            proc.kill("SIGKILL");
            redis.disconnect();
            await up.kill();
            await store.stop();
        },
    };
}

/** /healthz polled from a separate process every 20 ms (started once its first answer came); stop() returns the worst latency (ms). */
async function healthProbe(url: string): Promise<{ stop(): Promise<number> }> {
    const script = `let worst=0,n=0,stop=false;process.on("SIGTERM",()=>{stop=true});(async()=>{while(!stop){const t=performance.now();try{await (await fetch(${JSON.stringify(url)}+"/healthz")).arrayBuffer()}catch{}if(n++>0)worst=Math.max(worst,performance.now()-t);else process.stdout.write("ready\\n");await new Promise(r=>setTimeout(r,20))}process.stdout.write(String(Math.round(worst))+" ms over "+n+" probes")})()`;
    const p = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    while (!out.includes("ready")) await sleep(20);
    return {
        stop: () =>
            new Promise<number>((r) => {
                p.once("exit", () => r(Number(/(\d+) ms over/.exec(out)?.[1] ?? NaN)));
                p.kill("SIGTERM");
            }),
    };
}

/** Redis's peak memory since it started (INFO memory used_memory_peak), MiB. */
async function redisPeakMiB(redis: Redis): Promise<{ peak: number; max: number }> {
    const info = await redis.info("memory");
    const n = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, "m").exec(info)![1]);
    return { peak: Math.round(n("used_memory_peak") / MiB), max: Math.round(n("maxmemory") / MiB) };
}

function auth(key: string): Record<string, string> {
    return { authorization: `Bearer ${key}` };
}

/** A JSONL batch input of `lines` lines of about `lineBytes` bytes each. */
function jsonl(lines: number, lineBytes: number): Buffer {
    const filler = "x".repeat(Math.max(1, lineBytes - 150));
    const parts: string[] = [];
    for (let i = 0; i < lines; i++)
        parts.push(
            JSON.stringify({
                custom_id: `r-${i}`,
                method: "POST",
                url: "/v1/chat/completions",
                body: { model: M, max_tokens: 16, messages: [{ role: "user", content: filler }] },
            }),
        );
    return Buffer.from(parts.join("\n") + "\n");
}

/** multipart/form-data of `purpose=batch` + the file, as pieces (no copy of the file). */
function multipart(file: Buffer): { type: string; length: number; pieces: Buffer[] } {
    const boundary = "----bench" + createHash("sha1").update(String(Math.random())).digest("hex").slice(0, 16);
    const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    return { type: `multipart/form-data; boundary=${boundary}`, length: head.length + file.length + tail.length, pieces: [head, file, tail] };
}

async function upload(url: string, key: string, file: Buffer): Promise<{ status: number; json: Record<string, unknown> }> {
    const m = multipart(file);
    const res = await request(`${url}/v1/files`, {
        method: "POST",
        headers: { ...auth(key), "content-type": m.type, "content-length": String(m.length) },
        body: Readable.from(
            (function* () {
                for (const p of m.pieces) for (let o = 0; o < p.length; o += MiB) yield p.subarray(o, o + MiB);
            })(),
            { objectMode: false },
        ),
        headersTimeout: 600_000,
        bodyTimeout: 600_000,
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: JSON.parse(text) as Record<string, unknown> };
}

async function postJson(url: string, p: string, key: string, body: Buffer | string): Promise<{ status: number; code?: string; ms: number }> {
    const t0 = performance.now();
    try {
        const res = await request(`${url}${p}`, {
            method: "POST",
            headers: { ...auth(key), "content-type": "application/json" },
            body,
            headersTimeout: 600_000,
            bodyTimeout: 600_000,
        });
        const text = await res.body.text();
        let code: string | undefined;
        try {
            code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
        } catch {
            // not JSON
        }
        return { status: res.statusCode, code, ms: Math.round(performance.now() - t0) };
    } catch (e) {
        return { status: 0, code: (e as Error).message, ms: Math.round(performance.now() - t0) };
    }
}

const tally = (xs: { status: number; code?: string }[]) => {
    xs = xs.map((x) => (x.status === 0 ? { status: 0, code: "connection closed by the gateway before the body was sent" } : x));
    const m = new Map<string, number>();
    for (const x of xs) m.set(`${x.status}${x.code ? ` ${x.code}` : ""}`, (m.get(`${x.status}${x.code ? ` ${x.code}` : ""}`) ?? 0) + 1);
    return [...m].map(([k, n]) => `${n} x ${k}`).join(", ");
};

/** The gateway's own longest event-loop stall since start (prom-client's monitorEventLoopDelay: nodejs_eventloop_lag_max_seconds), ms. */
async function loopLagMaxMs(url: string): Promise<number> {
    const text = await (await fetch(`${url}/metrics`)).text();
    return Math.round(Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1] ?? NaN) * 1000);
}

async function verdict(s: Running, name: string, worst: number, extra: string): Promise<void> {
    const rss = hwmMiB(s.proc.pid!);
    const within = (limit: number) => `${limit} MiB ${rss <= limit ? "within" : "OVER"}`;
    const gc = s.gcMaxMs();
    const load = fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0];
    console.log(
        `${name}: gateway peak RSS ${rss} MiB (pod limit: ${within(LIMIT_NOW_MIB)} now, ${within(LIMIT_BEFORE_MIB)} before), /healthz worst ${worst} ms ` +
            `(gateway's own longest event-loop stall ${await loopLagMaxMs(s.url)} ms${gc === undefined ? "" : `, longest GC pause ${gc.toFixed(0)} ms`}; load average ${load} on ${os.cpus().length} cores); ${extra}`,
    );
}

/** Point 1: 20 MB of '[' to POST /v1/batches and POST /v1/warmup, six at once each. */
async function batchParse(env: Env): Promise<void> {
    const s = await startStack(env);
    const body = Buffer.alloc(20_000_000, "[");
    const probe = await healthProbe(s.url);
    const one = await postJson(s.url, "/v1/batches", KEY_A, body);
    const batches = await Promise.all(Array.from({ length: 6 }, () => postJson(s.url, "/v1/batches", KEY_A, body)));
    const warm = await Promise.all(Array.from({ length: 6 }, () => postJson(s.url, "/v1/warmup", KEY_A, body)));
    const worst = await probe.stop();
    await verdict(
        s,
        "1. 20 MB of '[' x (1 + 6) to /v1/batches, 6 to /v1/warmup",
        worst,
        `one alone: ${one.status} in ${one.ms} ms; batches: ${tally(batches)}; warmup: ${tally(warm)}`,
    );
    await s.stop();
}

/** Waits until no batch of the list is `validating` (creation may run after the POST answered). */
async function settled(url: string, key: string, ids: string[], timeoutMs: number): Promise<Record<string, number>> {
    const until = Date.now() + timeoutMs;
    const known = new Map<string, string>();
    for (;;) {
        // One GET at a time, slowly: the team's request rate applies to GETs too.
        for (const id of ids) {
            if (known.get(id) !== undefined && known.get(id) !== "validating") continue;
            const res = await fetch(`${url}/v1/batches/${id}`, { headers: auth(key) });
            if (res.ok) known.set(id, ((await res.json()) as { status: string }).status);
            else await res.arrayBuffer();
            await sleep(200);
        }
        const st = ids.map((id) => known.get(id) ?? "validating");
        if (st.every((x) => x !== "validating") || Date.now() > until) {
            const out: Record<string, number> = {};
            for (const x of st) out[x] = (out[x] ?? 0) + 1;
            return out;
        }
        await sleep(500);
    }
}

/** Point 2a: 12 concurrent batch creates on one 159 MB input file. */
async function batchCreate(env: Env): Promise<void> {
    const s = await startStack(env);
    const file = jsonl(50_000, 3180);
    const up = await upload(s.url, KEY_A, file);
    if (up.status !== 200) throw new Error(`upload failed: ${up.status} ${JSON.stringify(up.json)}`);
    const base = hwmMiB(s.proc.pid!);
    const probe = await healthProbe(s.url);
    const body = JSON.stringify({ input_file_id: up.json.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    const t0 = performance.now();
    const res = await Promise.all(
        Array.from({ length: 12 }, async () => {
            const t = performance.now();
            const r = await request(`${s.url}/v1/batches`, {
                method: "POST",
                headers: { ...auth(KEY_A), "content-type": "application/json" },
                body,
                headersTimeout: 600_000,
                bodyTimeout: 600_000,
            });
            const j = (await r.body.json()) as { id?: string; error?: { code: string } };
            return { status: r.statusCode, code: j.error?.code, id: j.id, ms: Math.round(performance.now() - t) };
        }),
    );
    const answered = Math.round(performance.now() - t0);
    const ids = res.filter((r) => r.id).map((r) => r.id!);
    const states = await settled(s.url, KEY_A, ids, 600_000);
    const worst = await probe.stop();
    const mem = await redisPeakMiB(s.redis);
    await verdict(
        s,
        `2a. 12 concurrent POST /v1/batches on one ${Math.round(file.length / 1e6)} MB file (${(50_000).toLocaleString("en")} lines)`,
        worst,
        `RSS after upload ${base} MiB; answers ${tally(res)} within ${answered} ms; batches then: ${JSON.stringify(states)}; Redis peak ${mem.peak} MiB of maxmemory ${mem.max} MiB`,
    );
    await s.stop();
}

/** Point 2b: 8 concurrent 150 MiB uploads. */
async function uploads(env: Env): Promise<void> {
    const s = await startStack(env);
    const file = jsonl(Math.round((150 * MiB) / 3180), 3180);
    const probe = await healthProbe(s.url);
    const t0 = performance.now();
    const res = await Promise.all(
        Array.from({ length: 8 }, () =>
            upload(s.url, KEY_A, file).then(
                (r) => ({ status: r.status, code: (r.json.error as { code?: string } | undefined)?.code }),
                (e: Error) => ({ status: 0, code: e.message }),
            ),
        ),
    );
    const ms = Math.round(performance.now() - t0);
    const worst = await probe.stop();
    const mem = await redisPeakMiB(s.redis);
    await verdict(
        s,
        `2b. 8 concurrent ${Math.round(file.length / MiB)} MiB uploads`,
        worst,
        `answers ${tally(res)} in ${ms} ms; Redis peak ${mem.peak} MiB of ${mem.max} MiB`,
    );
    await s.stop();
}

/** Point 2c: 500 downloads of a 150 MiB file whose readers read nothing. */
async function downloads(env: Env): Promise<void> {
    const s = await startStack(env);
    const up = await upload(s.url, KEY_A, jsonl(Math.round((150 * MiB) / 3180), 3180));
    const base = hwmMiB(s.proc.pid!);
    const probe = await healthProbe(s.url);
    const socks: net.Socket[] = [];
    for (let i = 0; i < 500; i++) {
        const c = net.connect(s.port, "127.0.0.1");
        c.on("error", () => undefined);
        c.write(`GET /v1/files/${String(up.json.id)}/content HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY_A}\r\n\r\n`);
        c.pause();
        socks.push(c);
    }
    const series: number[] = [];
    for (let t = 0; t < 45; t++) {
        await sleep(1000);
        if (t % 5 === 4) series.push(Math.round(kb(s.proc.pid!, "VmRSS") / 1024));
    }
    const worst = await probe.stop();
    // How the gateway ended them (its per-request counter: 499 = cut while the client held the connection).
    const text = await (await fetch(`${s.url}/metrics`)).text();
    const codes = [...text.matchAll(/^gateway_requests_total\{pool="none",code="(\d+)"\} (\d+)/gm)].map((m) => `${m[2]} x ${m[1]}`).join(", ");
    await verdict(
        s,
        "2c. 500 stalled GET /v1/files/{id}/content of a 150 MiB file, 45 s",
        worst,
        `RSS before ${base} MiB, every 5 s: ${series.join(" ")}; the gateway's answers: ${codes || "none finished"}`,
    );
    for (const c of socks) c.destroy();
    await s.stop();
}

/** Point 2c: 20,000 GETs from one key as fast as 50 connections go. */
async function getFlood(env: Env): Promise<void> {
    const s = await startStack(env);
    const up = await upload(s.url, KEY_A, jsonl(10, 500));
    const agent = new Agent({ connections: 50 });
    const probe = await healthProbe(s.url);
    const t0 = performance.now();
    const codes = new Map<number, number>();
    let next = 0;
    await Promise.all(
        Array.from({ length: 50 }, async () => {
            while (next++ < 20_000) {
                const r = await request(`${s.url}/v1/files/${String(up.json.id)}`, { headers: auth(KEY_A), dispatcher: agent });
                await r.body.dump();
                codes.set(r.statusCode, (codes.get(r.statusCode) ?? 0) + 1);
            }
        }),
    );
    const ms = Math.round(performance.now() - t0);
    const worst = await probe.stop();
    await agent.close();
    await verdict(s, "2c. 20,000 GET /v1/files/{id} from one key", worst, `in ${ms} ms: ${[...codes].map(([c, n]) => `${n} x ${c}`).join(", ")}`);
    await s.stop();
}

/** Point 6: team A holds 6 slow 19 MiB bodies; team B then sends a 15 MiB request. */
async function bodyShare(env: Env): Promise<void> {
    const s = await startStack(env, { workerReady: true });
    const probe = await healthProbe(s.url);
    const total = 19 * MiB;
    const socks: net.Socket[] = [];
    for (let i = 0; i < 6; i++) {
        const c = net.connect(s.port, "127.0.0.1");
        c.on("error", () => undefined);
        c.write(
            `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${total}\r\nAuthorization: Bearer ${KEY_A}\r\n\r\n`,
        );
        c.write(Buffer.alloc(total - 1024, 0x20));
        socks.push(c);
    }
    await sleep(2000);
    const image = `data:image/png;base64,${Buffer.alloc(11 * MiB, 7).toString("base64")}`;
    const b = await postJson(
        s.url,
        "/v1/chat/completions",
        KEY_B,
        JSON.stringify({
            model: M,
            max_tokens: 4,
            messages: [
                {
                    role: "user",
                    content: [
                        { type: "text", text: "what is this?" },
                        { type: "image_url", image_url: { url: image } },
                    ],
                },
            ],
        }),
    );
    const worst = await probe.stop();
    await verdict(
        s,
        "6. team A: 6 slow 19 MiB bodies; team B: one 15 MiB image request",
        worst,
        `team B got ${b.status}${b.code ? ` ${b.code}` : ""} in ${b.ms} ms`,
    );
    for (const c of socks) c.destroy();
    await s.stop();
}

const RUN: Record<(typeof BATCH_ATTACKS)[number], (env: Env) => Promise<void>> = {
    "batch-parse": batchParse,
    "batch-create": batchCreate,
    uploads,
    downloads,
    "get-flood": getFlood,
    "body-share": bodyShare,
};

export async function runBatchAttack(which: (typeof BATCH_ATTACKS)[number], bundle: string): Promise<void> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-hostile-batch-"));
    try {
        await RUN[which]({ bundle, dir });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
