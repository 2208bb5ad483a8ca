/**
 * A fake vLLM OpenAI server for tests and benchmarks (the gateway's and the UI's).
 *
 * Speaks like vLLM: `GET /v1/models` (OpenAI list; 503 until the startup delay has passed,
 * like a server still loading its model), `GET /health` (200 as soon as the process is up:
 * it does NOT mean ready), `POST /v1/chat/completions` non-stream with `usage` and
 * `stream: true` SSE (`chat.completion.chunk` lines, a usage chunk when
 * `stream_options.include_usage`, then `data: [DONE]`), and `/metrics` with
 * `vllm:num_requests_running` / `vllm:num_requests_waiting`.
 *
 * The answer echoes the last user message ("Echo: <words>", plus "[image xN]" when images
 * were sent), one word per token, so a test can check each client got its own answer.
 * Every chat request is recorded. Fail modes simulate broken workers.
 */
import { ChildProcess, spawn } from "child_process";
import * as http from "http";
import { AddressInfo, Socket } from "net";
import * as path from "path";

export type FailMode =
    | "none"
    /** Every new TCP connection is reset at once (probes included): a dead worker. */
    | "refuse"
    /** Chat requests: the connection is reset before any response header. */
    | "reset"
    /** Chat requests: HTTP 500 with a vLLM-style error body. */
    | "status500"
    /** Chat requests: the connection closes after `afterTokens` tokens (stream) or half the body (non-stream). */
    | "close-mid-stream"
    /** The engine died: chat requests get HTTP 500 and the /v1/models probe fails too (500). */
    | "dead-engine"
    /** Stream requests: `chunkBytes`-sized SSE chunks, forever, as fast as the reader takes them (a misbehaving worker). */
    | "endless"
    /** Stream requests: a 200 SSE answer that never sends a newline, as fast as the reader takes it. */
    | "no-newlines";

export interface FakeVllmOptions {
    /** @default 0 (ephemeral) */
    port?: number;
    /** @default ["Qwen/Qwen3-VL-2B-Instruct"] */
    models?: string[];
    /** Delay before each token. @default 0 */
    tokenDelayMs?: number;
    /** Not ready (503 on /v1/models and chat) until this long after start. @default 0 */
    startupDelayMs?: number;
    /** Answer length cap when the request sets no max_tokens. @default 64 */
    maxTokens?: number;
    /** Requests generating at once; more wait (vllm:num_requests_waiting). @default unlimited */
    maxRunning?: number;
    /** @default "none" */
    fail?: FailMode;
    /** For close-mid-stream. @default 2 */
    failAfterTokens?: number;
    /** Size of each SSE chunk in the endless and no-newlines modes. @default 16384 */
    chunkBytes?: number;
    /** Fixed service time of each chat request before it answers (benchmarks: a 5 ms upstream). @default 0 */
    serviceTimeMs?: number;
}

export interface RecordedRequest {
    method: string;
    path: string;
    headers: http.IncomingHttpHeaders;
    body: Record<string, unknown>;
    receivedAtMs: number;
}

export interface FakeStats {
    requests: number;
    completed: number;
    aborted: number;
    running: number;
    waiting: number;
    /** TCP connections accepted since start (keep-alive reuse shows as few connections for many requests). */
    connections: number;
    /** GET /v1/models requests answered, ready or not (the gateway's readiness probes). */
    probes: number;
}

export interface FakeVllm {
    readonly url: string;
    readonly port: number;
    /** Chat completion requests received, in arrival order. */
    readonly requests: RecordedRequest[];
    stats(): FakeStats;
    ready(): boolean;
    /** Ends the startup delay now (a test that sets a long startupDelayMs decides when the model has loaded). */
    becomeReady(): void;
    /** Changes the fail mode; `times` limits it to the next N chat requests. */
    setFail(mode: FailMode, opts?: { times?: number; afterTokens?: number }): void;
    setTokenDelay(ms: number): void;
    /** Holds every chat answer (after its slot is taken) until resume(): a test decides how long requests hold a worker. */
    pause(): void;
    resume(): void;
    /** Stops listening and drops every connection (like a killed process). */
    stop(): Promise<void>;
    /** Listens again on the same port. */
    restart(): Promise<void>;
}

interface ChatBody {
    model?: unknown;
    messages?: Array<{ role?: string; content?: unknown }>;
    stream?: boolean;
    stream_options?: { include_usage?: boolean };
    max_tokens?: number;
    max_completion_tokens?: number;
}

/** The answer's tokens: "Echo:" + the last user message's words (+ an image marker). */
function answerTokens(body: ChatBody, cap: number): string[] {
    const last = [...(body.messages ?? [])].reverse().find((m) => m.role === "user");
    let text = "";
    let images = 0;
    if (typeof last?.content === "string") text = last.content;
    else if (Array.isArray(last?.content)) {
        for (const p of last.content as Array<{ type?: string; text?: string }>) {
            if (p.type === "text" && typeof p.text === "string") text += (text ? " " : "") + p.text;
            if (p.type === "image_url") images++;
        }
    }
    const words = ["Echo:", ...text.split(/\s+/).filter(Boolean), ...(images ? [`[image x${images}]`] : [])];
    const limit = body.max_tokens ?? body.max_completion_tokens ?? cap;
    return words.slice(0, Math.max(1, limit));
}

/** The full answer text a client should receive for a request. */
export function expectedAnswer(body: ChatBody, cap = 64): string {
    return answerTokens(body, cap).join(" ");
}

function promptTokens(body: ChatBody): number {
    return Math.ceil(JSON.stringify(body.messages ?? []).length / 4);
}

// Unref'd: a slow answer left running by a test must not keep the test process alive.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

export async function startFakeVllm(options: FakeVllmOptions = {}): Promise<FakeVllm> {
    const models = options.models ?? ["Qwen/Qwen3-VL-2B-Instruct"];
    const cap = options.maxTokens ?? 64;
    let tokenDelay = options.tokenDelayMs ?? 0;
    let fail: FailMode = options.fail ?? "none";
    let failTimes = Infinity;
    let failAfterTokens = options.failAfterTokens ?? 2;
    let readyAt = Date.now() + (options.startupDelayMs ?? 0);
    let probes = 0;
    const requests: RecordedRequest[] = [];
    const counts = { completed: 0, aborted: 0, running: 0, waiting: 0 };
    const slotWaiters: Array<() => void> = [];
    let paused = false;
    const pausedWaiters: Array<() => void> = [];
    const sockets = new Set<Socket>();
    let seq = 0;
    let port = options.port ?? 0;

    const isReady = () => Date.now() >= readyAt;
    const json = (res: http.ServerResponse, status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.end(text);
    };
    const vllmError = (res: http.ServerResponse, status: number, message: string, type: string) =>
        json(res, status, { object: "error", message, type, param: null, code: status });

    /** The fail mode for this chat request (consumes one of `times`). */
    const takeFail = (): FailMode => {
        if (fail === "none" || fail === "refuse") return fail;
        if (failTimes <= 0) return "none";
        failTimes--;
        return fail;
    };

    async function acquireSlot(): Promise<void> {
        if (options.maxRunning === undefined || counts.running < options.maxRunning) {
            counts.running++;
            return;
        }
        counts.waiting++;
        await new Promise<void>((r) => slotWaiters.push(r));
        counts.waiting--;
        counts.running++;
    }
    function releaseSlot(): void {
        counts.running--;
        slotWaiters.shift()?.();
    }

    /** Writes forever, honouring backpressure (as uvicorn does), until the reader goes away. */
    async function flood(res: http.ServerResponse, mode: "endless" | "no-newlines", model: string): Promise<void> {
        const size = options.chunkBytes ?? 16384;
        let chunk: Buffer;
        if (mode === "endless") {
            const head = `data: {"id":"chatcmpl-flood","object":"chat.completion.chunk","model":${JSON.stringify(model)},"choices":[{"index":0,"delta":{"content":"`;
            chunk = Buffer.from(`${head}${"x".repeat(Math.max(1, size - head.length - 20))}"},"finish_reason":null}]}\n\n`);
        } else {
            chunk = Buffer.alloc(size, 0x78);
        }
        res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
        if (mode === "no-newlines") res.write("data: ");
        let open = true;
        res.on("close", () => (open = false));
        while (open) {
            if (!res.write(chunk)) {
                await new Promise<void>((r) => {
                    const done = () => {
                        res.off("drain", done).off("close", done);
                        r();
                    };
                    res.on("drain", done).on("close", done);
                });
            }
        }
        counts.aborted++;
    }

    async function chat(req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> {
        let body: ChatBody;
        try {
            body = JSON.parse(raw) as ChatBody;
        } catch {
            return vllmError(res, 400, "invalid JSON", "BadRequestError");
        }
        requests.push({ method: req.method!, path: req.url!, headers: req.headers, body: body as Record<string, unknown>, receivedAtMs: Date.now() });
        if (!isReady()) return vllmError(res, 503, "model is loading", "ServiceUnavailableError");
        if (typeof body.model !== "string" || !models.includes(body.model))
            return vllmError(res, 404, `The model \`${String(body.model)}\` does not exist.`, "NotFoundError");
        const mode = takeFail();
        if (mode === "reset") {
            req.socket.destroy();
            return;
        }
        if (mode === "status500" || mode === "dead-engine") return vllmError(res, 500, "EngineCore encountered an issue", "InternalServerError");
        if (body.stream && (mode === "endless" || mode === "no-newlines")) return void flood(res, mode, String(body.model));

        let gone = false;
        res.on("close", () => {
            if (!res.writableFinished) gone = true;
        });
        await acquireSlot();
        try {
            if (paused) await new Promise<void>((r) => pausedWaiters.push(r));
            if (options.serviceTimeMs) await sleep(options.serviceTimeMs);
            const id = `chatcmpl-${++seq}`;
            const created = Math.floor(Date.now() / 1000);
            const tokens = answerTokens(body, cap);
            const limit = body.max_tokens ?? body.max_completion_tokens;
            const finish = limit !== undefined && tokens.length >= limit ? "length" : "stop";
            const usage = { prompt_tokens: promptTokens(body), completion_tokens: tokens.length, total_tokens: promptTokens(body) + tokens.length };
            if (body.stream) {
                res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
                const chunk = (delta: Record<string, unknown>, finishReason: string | null) =>
                    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] })}\n\n`;
                res.write(chunk({ role: "assistant", content: "" }, null));
                for (let i = 0; i < tokens.length; i++) {
                    if (tokenDelay > 0) await sleep(tokenDelay);
                    if (gone) break;
                    if (mode === "close-mid-stream" && i >= failAfterTokens) {
                        req.socket.destroy();
                        return;
                    }
                    res.write(chunk({ content: (i ? " " : "") + tokens[i] }, null));
                }
                if (gone) {
                    counts.aborted++;
                    return;
                }
                res.write(chunk({}, finish));
                if (body.stream_options?.include_usage)
                    res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [], usage })}\n\n`);
                res.end("data: [DONE]\n\n");
            } else {
                for (let i = 0; i < tokens.length && tokenDelay > 0 && !gone; i++) await sleep(tokenDelay);
                if (gone) {
                    counts.aborted++;
                    return;
                }
                const text = JSON.stringify({
                    id,
                    object: "chat.completion",
                    created,
                    model: body.model,
                    choices: [{ index: 0, message: { role: "assistant", content: tokens.join(" "), tool_calls: [] }, logprobs: null, finish_reason: finish }],
                    usage,
                });
                if (mode === "close-mid-stream") {
                    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
                    res.write(text.slice(0, text.length >> 1));
                    setTimeout(() => req.socket.destroy(), 5);
                    return;
                }
                json(res, 200, JSON.parse(text));
            }
            counts.completed++;
        } finally {
            releaseSlot();
        }
    }

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const url = (req.url ?? "/").split("?")[0];
            if (req.method === "GET" && url === "/health") return void res.writeHead(200).end();
            if (req.method === "GET" && url === "/v1/models") {
                probes++;
                if (!isReady()) return vllmError(res, 503, "model is loading", "ServiceUnavailableError");
                if (fail === "dead-engine") return vllmError(res, 500, "EngineCore is dead", "InternalServerError");
                const created = Math.floor(Date.now() / 1000);
                return json(res, 200, {
                    object: "list",
                    data: models.map((m) => ({ id: m, object: "model", created, owned_by: "vllm", root: m, parent: null, max_model_len: 32768 })),
                });
            }
            if (req.method === "GET" && url === "/metrics") {
                // Names and labels as vLLM's PrometheusStatLogger (vllm/v1/metrics/loggers.py: labelnames model_name, engine).
                const labels = `engine="0",model_name="${models[0]}"`;
                res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
                return void res.end(
                    `# HELP vllm:num_requests_running Number of requests in model execution batches.\n# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{${labels}} ${counts.running}\n` +
                        `# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{${labels}} ${counts.waiting}\n` +
                        `# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{${labels}} ${Math.min(1, counts.running / 64)}\n`,
                );
            }
            if (req.method === "GET" && url === "/_fake/stats") return json(res, 200, stats());
            if (req.method === "POST" && url === "/v1/chat/completions") return void chat(req, res, Buffer.concat(chunks).toString("utf8"));
            return json(res, 404, { detail: "Not Found" });
        });
    });
    server.keepAliveTimeout = 5000; // uvicorn's default
    let connections = 0;
    server.on("connection", (s: Socket) => {
        connections++;
        if (fail === "refuse") return void s.destroy();
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
    });

    const listen = () =>
        new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(port, "127.0.0.1", () => {
                server.off("error", reject);
                port = (server.address() as AddressInfo).port;
                resolve();
            });
        });
    await listen();

    const stats = (): FakeStats => ({ requests: requests.length, ...counts, connections, probes });
    return {
        get url() {
            return `http://127.0.0.1:${port}`;
        },
        get port() {
            return port;
        },
        requests,
        stats,
        ready: isReady,
        becomeReady() {
            readyAt = Math.min(readyAt, Date.now());
        },
        setFail(mode, opts = {}) {
            fail = mode;
            failTimes = opts.times ?? Infinity;
            if (opts.afterTokens !== undefined) failAfterTokens = opts.afterTokens;
        },
        setTokenDelay(ms) {
            tokenDelay = ms;
        },
        pause() {
            paused = true;
        },
        resume() {
            paused = false;
            for (const r of pausedWaiters.splice(0)) r();
        },
        async stop() {
            const closed = new Promise<void>((r) => server.close(() => r()));
            for (const s of sockets) s.destroy();
            await closed;
        },
        restart: listen,
    };
}

/** A fake vLLM in its own process, for tests that kill workers and for benchmarks. */
export interface FakeVllmProcess {
    readonly url: string;
    readonly port: number;
    readonly proc: ChildProcess;
    stats(): Promise<FakeStats>;
    /** Kills the process (SIGKILL by default) and waits for it to exit. */
    kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnFakeVllm(options: FakeVllmOptions = {}): Promise<FakeVllmProcess> {
    const root = path.resolve(__dirname, "../..");
    const proc = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "vllm-main.ts")], {
        cwd: root,
        env: { ...process.env, FAKE_VLLM_OPTIONS: JSON.stringify(options) },
        stdio: ["ignore", "pipe", "inherit"],
    });
    const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        const onData = (d: Buffer) => {
            out += d.toString();
            const m = /"port":(\d+)/.exec(out);
            if (m) {
                proc.stdout.off("data", onData);
                proc.stdout.resume();
                resolve(Number(m[1]));
            }
        };
        proc.stdout.on("data", onData);
        proc.once("exit", (code) => reject(new Error(`fake vLLM exited with ${code} before listening`)));
    });
    const url = `http://127.0.0.1:${port}`;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    return {
        url,
        port,
        proc,
        async stats() {
            const res = await fetch(`${url}/_fake/stats`);
            return (await res.json()) as FakeStats;
        },
        async kill(signal = "SIGKILL") {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            await exited;
        },
    };
}
