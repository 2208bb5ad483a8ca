/**
 * A real redis-server (Debian package; the Redis protocol Valkey speaks) on 127.0.0.1 for a test
 * file or `npm run dev`: a free port found by binding, a temporary dir, no RDB snapshots, killed after.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { freePort } from "./net";

export interface RedisServer {
    url: string;
    port: number;
    /** The server's process id. */
    pid: number;
    stop(): Promise<void>;
}

/** redis-server on the PATH (Debian: /usr/bin/redis-server, from the redis-server package), or undefined. */
export function redisServerPath(): string | undefined {
    for (const dir of (process.env.PATH ?? "/usr/bin").split(path.delimiter)) {
        const file = path.join(dir, "redis-server");
        try {
            fs.accessSync(file, fs.constants.X_OK);
            return file;
        } catch {
            /* not here */
        }
    }
    return undefined;
}

function ping(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const sock = net.connect(port, "127.0.0.1");
        sock.setTimeout(500);
        sock.once("connect", () => sock.write("PING\r\n"));
        sock.once("data", (d) => {
            // A server with requirepass answers NOAUTH: up all the same.
            resolve(/^(\+PONG|-NOAUTH)/.test(d.toString()));
            sock.destroy();
        });
        sock.once("error", () => resolve(false));
        sock.once("timeout", () => {
            resolve(false);
            sock.destroy();
        });
    });
}

/**
 * `conf`: a config file read first (the options below override its port, bind, dir and save).
 * `port`: listen there (a restart of a stopped server, as Valkey restarting behind its Service) instead of a free port.
 */
export async function startRedis(opts: { appendonly?: boolean; conf?: string; port?: number } = {}): Promise<RedisServer> {
    const server = redisServerPath();
    if (!server) throw new Error("redis-server is not installed: install the Debian package redis-server (scripts/system-deps.sh)");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpuserve-redis-"));
    for (let attempt = 0; ; attempt++) {
        const port = opts.port ?? (await freePort());
        const proc: ChildProcess = spawn(
            server,
            [
                ...(opts.conf ? [opts.conf] : []),
                ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--protected-mode", "yes", "--loglevel", "warning"],
                ...(opts.conf && opts.appendonly === undefined ? [] : ["--appendonly", opts.appendonly ? "yes" : "no"]),
            ],
            { stdio: ["ignore", "pipe", "pipe"] },
        );
        let out = "";
        proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
        proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
        const exited = new Promise<void>((r) => proc.once("exit", () => r()));
        const until = Date.now() + 5000;
        let up = false;
        while (!up && Date.now() < until && proc.exitCode === null) {
            up = await ping(port);
            if (!up) await new Promise((r) => setTimeout(r, 25));
        }
        if (up) {
            return {
                url: `redis://127.0.0.1:${port}`,
                port,
                pid: proc.pid!,
                stop: async () => {
                    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
                    await exited;
                    fs.rmSync(dir, { recursive: true, force: true });
                },
            };
        }
        proc.kill("SIGKILL");
        await exited;
        // Another process took the port between our probe and redis's bind: try another.
        if (attempt >= 3 || opts.port !== undefined) throw new Error(`redis-server did not start:\n${out}`);
    }
}
