/** Shared helpers for gateway tests: real HTTP on 127.0.0.1 only. */
import * as esbuild from "esbuild";
import * as fs from "fs";
import * as path from "path";
import Fastify, { FastifyInstance } from "fastify";
import { Writable } from "stream";
import { Dispatcher, request } from "undici";
import { Gateway, GatewayConfigInput, GatewayOptions, sha256Hex, startGateway } from "../../gateway/src/index";
import { registerWarmupRoutes, WarmupDeps } from "../../gateway/src/warmup";
import { FakeVllm, FakeVllmOptions, startFakeVllm } from "../fakes/vllm";
import { tempDir } from "../helpers/tmp";
import { onCleanup } from "../helpers/cleanup";

export const MODEL = "Qwen/Qwen3-VL-2B-Instruct";
export const MEDGEMMA = "google/medgemma-4b-it";
export const KEY = "sk-radiology-test-key";
export const KEY2 = "sk-cardiology-test-key";

/** Short health timings so tests notice changes within tens of milliseconds. */
export const FAST_HEALTH = {
    probeIntervalSeconds: 0.2,
    probeIntervalNotReadySeconds: 0.05,
    probeTimeoutSeconds: 0.5,
    ejectSeconds: 1,
    failuresToEject: 1,
    dnsRefreshSeconds: 0.1,
};

export function config(upstreams: string[], extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
    return {
        pools: [{ name: "a10g", models: [MODEL], upstreams }],
        queue: { maxDepth: 500, maxWaitSeconds: 5 },
        auth: {
            keys: [
                { team: "radiology", sha256: sha256Hex(KEY) },
                { team: "cardiology", sha256: sha256Hex(KEY2) },
            ],
        },
        health: FAST_HEALTH,
        logLevel: "silent",
        ...extra,
    };
}

export { onCleanup } from "../helpers/cleanup";

export async function gateway(cfg: GatewayConfigInput, opts: GatewayOptions = {}): Promise<Gateway & { url: string }> {
    const gw = await startGateway(cfg, { port: 0, host: "127.0.0.1", ...opts });
    onCleanup(() => gw.close());
    return gw;
}

export async function fake(opts: FakeVllmOptions = {}): Promise<FakeVllm> {
    const f = await startFakeVllm(opts);
    onCleanup(() => f.stop());
    return f;
}

/** A free port on 127.0.0.1 (for an upstream that will start later). */
export async function freePort(): Promise<number> {
    const f = await startFakeVllm();
    const port = f.port;
    await f.stop();
    return port;
}

/** Collects JSON log lines. */
export function logCapture(): { stream: Writable; lines: () => Array<Record<string, unknown>>; text: () => string } {
    let buf = "";
    const stream = new Writable({
        write(chunk: Buffer, _enc, cb) {
            buf += chunk.toString();
            cb();
        },
    });
    return {
        stream,
        text: () => buf,
        lines: () =>
            buf
                .split("\n")
                .filter(Boolean)
                .map((l) => JSON.parse(l) as Record<string, unknown>),
    };
}

export function chatBody(question: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { model: MODEL, messages: [{ role: "user", content: question }], ...extra };
}

export interface Reply {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    text: string;
    json: any;
}

export async function post(
    url: string,
    body: unknown,
    opts: { key?: string | null; headers?: Record<string, string>; raw?: string | Buffer; signal?: AbortSignal } = {},
): Promise<Reply> {
    const headers: Record<string, string> = { "content-type": "application/json", ...opts.headers };
    const key = opts.key === undefined ? KEY : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    return reply(await request(`${url}/v1/chat/completions`, { method: "POST", headers, body: opts.raw ?? JSON.stringify(body), signal: opts.signal }));
}

export async function get(url: string, p: string, key: string | null = KEY): Promise<Reply> {
    return reply(await request(`${url}${p}`, { headers: key ? { authorization: `Bearer ${key}` } : {} }));
}

/** Reads a whole response; `json` is undefined when the body is not JSON. */
async function reply(res: Dispatcher.ResponseData): Promise<Reply> {
    const text = await res.body.text();
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch {
        json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text, json };
}

export interface StreamResult {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    /** Parsed `data:` payloads except [DONE]. */
    events: any[];
    /** Concatenated delta contents. */
    content: string;
    done: boolean;
    /** The error object of an error event, if any. */
    error?: { message: string; type: string; code: string };
    /** ms after the request was sent at which each content delta arrived. */
    contentTimes: number[];
    raw: string;
}

/** Posts a stream request and reads the SSE answer; `abortAfterChunks` disconnects early. */
export async function postStream(
    url: string,
    body: Record<string, unknown>,
    opts: { key?: string; headers?: Record<string, string>; abortAfterChunks?: number } = {},
): Promise<StreamResult> {
    const t0 = Date.now();
    const ac = new AbortController();
    const res = await request(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${opts.key ?? KEY}`, ...opts.headers },
        body: JSON.stringify({ ...body, stream: true }),
        signal: ac.signal,
    });
    const out: StreamResult = { status: res.statusCode, headers: res.headers, events: [], content: "", done: false, contentTimes: [], raw: "" };
    let pending = "";
    let contentChunks = 0;
    try {
        for await (const chunk of res.body) {
            const s = chunk.toString();
            out.raw += s;
            pending += s;
            let i: number;
            while ((i = pending.indexOf("\n\n")) !== -1) {
                const ev = pending.slice(0, i);
                pending = pending.slice(i + 2);
                for (const line of ev.split("\n")) {
                    if (!line.startsWith("data:")) continue;
                    const data = line.slice(5).trim();
                    if (data === "[DONE]") {
                        out.done = true;
                        continue;
                    }
                    const obj = JSON.parse(data);
                    out.events.push(obj);
                    if (obj.error) out.error = obj.error;
                    const c = obj.choices?.[0]?.delta?.content;
                    if (typeof c === "string" && c !== "") {
                        out.content += c;
                        out.contentTimes.push(Date.now() - t0);
                        contentChunks++;
                    }
                }
            }
            if (opts.abortAfterChunks !== undefined && contentChunks >= opts.abortAfterChunks) {
                ac.abort();
                break;
            }
        }
    } catch (e) {
        if (!ac.signal.aborted) throw e;
    }
    return out;
}

/** One sample of a Prometheus text exposition, matched by name and labels. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
    for (const line of text.split("\n")) {
        if (line.startsWith("#")) continue;
        const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        const have: Record<string, string> = {};
        for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[l[1]] = l[2];
        if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
    }
    return undefined;
}

export async function metrics(url: string): Promise<string> {
    return (await get(url, "/metrics", null)).text;
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = "condition"): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!(await cond())) {
        if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(10);
    }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let built: string | undefined;

/** Bundles gateway/src/main.ts like `npm run build:gateway`, into a temp dir (once per run). */
export async function buildGateway(): Promise<string> {
    if (built) return built;
    const dir = tempDir("gateway-build-");
    const out = path.join(dir, "main.js");
    await esbuild.build({
        entryPoints: [path.resolve(__dirname, "../../gateway/src/main.ts")],
        bundle: true,
        platform: "node",
        target: "node20",
        outfile: out,
        logLevel: "warning",
    });
    built = out;
    return out;
}

export function writeConfig(cfg: unknown): string {
    const dir = tempDir("gateway-config-");
    const file = path.join(dir, "gateway.json");
    fs.writeFileSync(file, JSON.stringify(cfg));
    return file;
}

/**
 * A fastify app with only the warm-up routes of one pool "a10g" serving MODEL, no worker ready,
 * every request from team "teaching" (tests of the routes and the gauge alone, with their own clock).
 */
export async function warmupRoutesApp(deps: Omit<WarmupDeps, "pools" | "poolByModel">): Promise<FastifyInstance> {
    const app = Fastify();
    const pool = { name: "a10g", readyCount: () => 0, config: deps.config.pools[0] };
    await app.register(
        async (v1) => {
            v1.removeAllContentTypeParsers();
            v1.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
            v1.addHook("onRequest", (req, _reply, done) => {
                (req as unknown as { gw: unknown }).gw = { team: "teaching" };
                done();
            });
            registerWarmupRoutes(v1, { ...deps, pools: new Map([["a10g", pool as never]]), poolByModel: new Map([[MODEL, pool as never]]) });
        },
        { prefix: "/v1" },
    );
    onCleanup(() => app.close());
    return app;
}
