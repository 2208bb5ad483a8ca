/**
 * A real Prometheus (Debian's 2.42 `prometheus` + `promtool`) for the tests: started on
 * 127.0.0.1 on a free port with a temp data dir, queried through its HTTP API.
 */
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { freePort } from "../helpers/net";

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";
const PROMTOOL = process.env.PROMTOOL_BIN ?? "/usr/bin/promtool";

const run = promisify(execFile);

/**
 * Fails the suite, saying what to install, when prometheus/promtool is missing: like the
 * nginx, redis-server and chromium suites, on a developer's machine as in CI (a skipped suite
 * reads as a pass).
 */
export function requirePrometheus(): void {
    const missing = [PROMETHEUS, PROMTOOL].filter((b) => !fs.existsSync(b));
    if (missing.length === 0) return;
    throw new Error(
        `${missing.join(" and ")} not found: the Prometheus suite needs the Debian package 'prometheus' (npm run test:deps, or sudo apt-get install -y prometheus)`,
    );
}

export async function promtool(args: string[], cwd?: string): Promise<{ code: number; out: string }> {
    try {
        const { stdout, stderr } = await run(PROMTOOL, args, { cwd, timeout: 20_000 });
        return { code: 0, out: stdout + stderr };
    } catch (e) {
        const err = e as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof err.code === "number" ? err.code : 1, out: `${err.stdout ?? ""}${err.stderr ?? ""}` };
    }
}

export function tempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Sample {
    metric: Record<string, string>;
    value: number;
}

export interface QueryResult {
    status: "success" | "error";
    error?: string;
    errorType?: string;
    warnings?: string[];
    samples: Sample[];
}

export interface PrometheusServer {
    readonly url: string;
    readonly dir: string;
    query(expr: string): Promise<QueryResult>;
    stop(): Promise<void>;
}

export interface PrometheusOptions {
    /** --query.lookback-delta: how old a sample an instant query still finds. @default "30s" (the live suites move in seconds) */
    readonly lookbackDelta?: string;
}

/** Starts Prometheus with this config (JSON is YAML) in a temp dir; resolves when /-/ready answers. */
export async function startPrometheus(config: unknown, dir = tempDir("prom-"), options: PrometheusOptions = {}): Promise<PrometheusServer> {
    fs.writeFileSync(path.join(dir, "prometheus.yml"), JSON.stringify(config, null, 1));
    let lastErr = "";
    for (let attempt = 0; attempt < 3; attempt++) {
        const port = await freePort();
        const proc: ChildProcess = spawn(
            PROMETHEUS,
            [
                `--config.file=${path.join(dir, "prometheus.yml")}`,
                `--storage.tsdb.path=${path.join(dir, "data")}`,
                `--web.listen-address=127.0.0.1:${port}`,
                "--log.level=warn",
                // Queries see samples up to 5 m old by default; the suite moves in seconds.
                `--query.lookback-delta=${options.lookbackDelta ?? "30s"}`,
            ],
            { stdio: ["ignore", "ignore", "pipe"] },
        );
        let stderr = "";
        proc.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
        const exited = new Promise<void>((r) => proc.once("exit", () => r()));
        const url = `http://127.0.0.1:${port}`;
        const until = Date.now() + 15_000;
        let ready = false;
        while (Date.now() < until && proc.exitCode === null) {
            try {
                if ((await fetch(`${url}/-/ready`)).status === 200) {
                    ready = true;
                    break;
                }
            } catch {
                /* not listening yet */
            }
            await sleep(50);
        }
        const stop = async () => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
            await Promise.race([exited, sleep(5000).then(() => proc.kill("SIGKILL"))]);
        };
        if (!ready) {
            lastErr = stderr;
            await stop();
            continue; // the port may have been taken between freePort() and bind
        }
        return {
            url,
            dir,
            stop: async () => {
                await stop();
                fs.rmSync(dir, { recursive: true, force: true });
            },
            async query(expr: string): Promise<QueryResult> {
                const res = await fetch(`${url}/api/v1/query`, { method: "POST", body: new URLSearchParams({ query: expr }) });
                const body = (await res.json()) as {
                    status: "success" | "error";
                    error?: string;
                    errorType?: string;
                    warnings?: string[];
                    data?: { resultType: string; result: unknown };
                };
                const samples: Sample[] = [];
                if (body.status === "success" && body.data) {
                    const { resultType, result } = body.data;
                    if (resultType === "vector")
                        for (const r of result as Array<{ metric: Record<string, string>; value: [number, string] }>)
                            samples.push({ metric: r.metric, value: Number(r.value[1]) });
                    else if (resultType === "scalar") samples.push({ metric: {}, value: Number((result as [number, string])[1]) });
                }
                return { status: body.status, error: body.error, errorType: body.errorType, warnings: body.warnings, samples };
            },
        };
    }
    throw new Error(`prometheus did not become ready: ${lastErr}`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls fn until it returns a value accepted by ok; throws with the last value otherwise. */
export async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
    const until = Date.now() + timeoutMs;
    let last: T | undefined;
    for (;;) {
        last = await fn();
        if (ok(last)) return last;
        if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(last)}`);
        await sleep(100);
    }
}
