/**
 * npm run dev [-- --stack <name>] [--port <n>] [--cold-start <seconds>] [--idle <seconds>] [--no-batch]
 *
 * The serving stack on this machine, on 127.0.0.1 only: the built gateway (gateway/dist/main.js)
 * with the config the stack deploys (scripts/dev/localGatewayConfig.ts), a fake vLLM worker per
 * worker pool (scripts/dev/workers.ts; optionally starting from zero with a simulated cold
 * start), a redis-server for batch jobs when one is installed, and the web UI with /v1 on the
 * same origin (scripts/dev/uiServer.ts). Prints the URL and a demo API key; Ctrl-C (SIGINT) or
 * SIGTERM stops every process it started.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { PROJECT } from "../stacks/schema";
import type { StackConfig } from "../stacks/resolved";
import { formatCliError } from "./engine/cliErrors";
import { stackConfigFromFile, stackFilePath } from "./engine/stackFile";
import { localGatewayConfig } from "./dev/localGatewayConfig";
import { freePort } from "./dev/net";
import { RedisServer, redisServerPath, startRedis } from "./dev/redis";
import { UiServer, startUiServer } from "./dev/uiServer";
import { Workers } from "./dev/workers";
import { watchAncestors } from "./dev/ancestors";

const ROOT = path.resolve(__dirname, "..");
const GATEWAY_BUNDLE = path.join(ROOT, "gateway", "dist", "main.js");
/** The port the UI listens on unless --port says otherwise (0: any free port). */
const DEFAULT_PORT = 8088;
/** How long the gateway may drain on Ctrl-C before it is killed (a dev run has no one to wait for). */
const STOP_SECONDS = 5;

const USAGE = `usage: npm run dev [-- options]
  Runs the gateway, a fake GPU worker per model, a redis-server (batch jobs) and the web UI on 127.0.0.1.
  --stack <name>        stack file whose gateway config, models and limits to run (default: dev)
  --port <n>            the UI's port (default ${DEFAULT_PORT}; 0 = any free port)
  --cold-start <s>      workers start from zero when a request arrives and take <s> seconds to answer,
                        as a GPU pool scaled to zero does (default: workers always up)
  --idle <s>            with --cold-start: seconds without requests before a worker stops (default 60)
  --no-batch            no redis-server, no batch API
  --help                this text`;

function fail(message: string, code = 1): never {
    process.stderr.write(`${message}\n`);
    process.exit(code);
}

interface Options {
    stack: string;
    port: number;
    coldStart?: number;
    idle: number;
    batch: boolean;
}

function options(argv: string[]): Options {
    let values;
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                stack: { type: "string", short: "s" },
                port: { type: "string", short: "p" },
                "cold-start": { type: "string" },
                idle: { type: "string" },
                "no-batch": { type: "boolean" },
                help: { type: "boolean", short: "h" },
            },
            strict: true,
        }));
    } catch (e) {
        fail(`${(e as Error).message}\n${USAGE}`, 2);
    }
    if (values.help) {
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
    }
    const seconds = (flag: string, text: string | undefined, min: number): number | undefined => {
        if (text === undefined) return undefined;
        const n = Number(text);
        if (!Number.isFinite(n) || n < min) fail(`--${flag} ${text}: must be a number of seconds >= ${min}, e.g. --${flag} 20\n${USAGE}`, 2);
        return n;
    };
    const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port ${values.port}: must be a port number (0 = any free port)\n${USAGE}`, 2);
    return {
        stack: values.stack ?? "dev",
        port,
        coldStart: seconds("cold-start", values["cold-start"], 0),
        idle: seconds("idle", values.idle, 1) ?? 60,
        batch: !values["no-batch"],
    };
}

/** The stack's validated config, read from its file as `npm run plan` reads it (no Pulumi engine needed). */
function stackConfig(stack: string): StackConfig {
    try {
        return stackConfigFromFile(ROOT, stack, PROJECT);
    } catch (e) {
        const file = stackFilePath(ROOT, stack);
        const stackFile = fs.existsSync(file) ? { file, text: fs.readFileSync(file, "utf8"), project: PROJECT } : undefined;
        return fail(formatCliError(e, { debug: false, stackFile }));
    }
}

/** Builds gateway/dist/main.js with the package's own build script (the bundle the image ships). */
function buildGateway(): void {
    const r = spawnSync(process.platform === "win32" ? "npm.cmd" : "npm", ["run", "--silent", "build:gateway"], {
        cwd: ROOT,
        stdio: ["ignore", "inherit", "inherit"],
    });
    if (r.status !== 0) fail("error: building the gateway failed (npm run build:gateway)");
}

async function waitReady(url: string, proc: ChildProcess, log: string): Promise<void> {
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
        if (proc.exitCode !== null) break;
        try {
            if ((await fetch(`${url}/readyz`)).ok) return;
        } catch {
            /* not listening yet */
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    const tail = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").slice(-15).join("\n") : "";
    throw new Error(`the gateway did not become ready (log ${log}):\n${tail}`);
}

/** Stops a child: SIGTERM, then SIGKILL after `seconds`. */
async function stopChild(proc: ChildProcess, seconds: number): Promise<void> {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), seconds * 1000);
    await exited;
    clearTimeout(timer);
}

async function main(): Promise<void> {
    const opts = options(process.argv.slice(2));
    const cfg = stackConfig(opts.stack);
    const say = (line: string) => process.stdout.write(`${line}\n`);
    buildGateway();

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpuserve-dev-"));
    const children: ChildProcess[] = [];
    let redis: RedisServer | undefined;
    let ui: UiServer | undefined;
    let workers: Workers | undefined;
    let stopping: Promise<void> | undefined;
    // Last resort if this process dies of an error: no child outlives it.
    process.on("exit", () => {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    });
    const shutdown = (code: number) => {
        stopping ??= (async () => {
            await ui?.close();
            await workers?.stop();
            await Promise.all(children.map((c) => stopChild(c, STOP_SECONDS)));
            await redis?.stop();
            fs.rmSync(dir, { recursive: true, force: true });
            process.exit(code);
        })();
        return stopping;
    };
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.on(signal, () => {
            say(`\n${signal}: stopping the UI, the workers, the gateway${redis ? " and redis-server" : ""}…`);
            void shutdown(0);
        });
    }
    watchAncestors((pid) => {
        say(`\nprocess ${pid}, which started this run, has exited: stopping the UI, the workers, the gateway${redis ? " and redis-server" : ""}…`);
        void shutdown(0);
    });

    try {
        let batch = "off (--no-batch)";
        if (opts.batch && !cfg.serving.batch.enabled) batch = `off (serving.batch.enabled is false in Pulumi.${opts.stack}.yaml)`;
        else if (opts.batch && !redisServerPath()) {
            batch =
                "off: redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) and run npm run dev again";
        } else if (opts.batch) {
            redis = await startRedis();
            batch = `on (redis-server pid ${redis.pid} on 127.0.0.1:${redis.port}, nothing saved)`;
        }
        const pools = await Promise.all(cfg.models.map(async (m) => ({ name: m.name, models: [m.id, m.name], port: await freePort() })));
        const key = `gpuserve-dev-${randomBytes(24).toString("base64url")}`;
        const team = cfg.tags.team;
        const gatewayJson = path.join(dir, "gateway.json");
        const config = localGatewayConfig(cfg, {
            key,
            team,
            upstreams: Object.fromEntries(pools.map((p) => [p.name, `http://127.0.0.1:${p.port}`])),
            redisUrl: redis?.url,
            coldStartSeconds: opts.coldStart,
        });
        fs.writeFileSync(gatewayJson, JSON.stringify(config, null, 2), { mode: 0o600 });

        const gwPort = await freePort();
        const log = path.join(dir, "gateway.log");
        const out = fs.openSync(log, "a");
        const gateway = spawn(process.execPath, [GATEWAY_BUNDLE, "--config", gatewayJson], {
            cwd: ROOT,
            env: { ...process.env, PORT: String(gwPort), HOST: "127.0.0.1" },
            stdio: ["ignore", out, out],
        });
        fs.closeSync(out);
        children.push(gateway);
        const gatewayUrl = `http://127.0.0.1:${gwPort}`;
        gateway.once("exit", (code, signal) => {
            if (!stopping) {
                say(`the gateway exited (${signal ?? code}); see ${log}`);
                void shutdown(1);
            }
        });
        await waitReady(gatewayUrl, gateway, log);

        workers = new Workers(pools, { coldStartSeconds: opts.coldStart, idleSeconds: opts.idle, say });
        await workers.start();
        workers.watch(gatewayUrl);
        try {
            ui = await startUiServer(gatewayUrl, { port: opts.port });
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "EADDRINUSE")
                throw new Error(`port ${opts.port} is in use: pass another, e.g. npm run dev -- --port ${opts.port + 1} (0 = any free port)`, { cause: e });
            throw e;
        }

        const workerText =
            opts.coldStart === undefined
                ? "fake GPU worker (echoes the question), always up"
                : `fake GPU worker (echoes the question), at zero until a request arrives, then ready after ${opts.coldStart} s; back to zero after ${opts.idle} s idle`;
        say(`gpuserve dev: stack '${opts.stack}' served on this machine (127.0.0.1 only; fake GPU workers, no cloud)`);
        say(`  open:      ${ui.url}/`);
        say(`  API key:   ${key}   (team '${team}', may warm up pools; new every run)`);
        say(`  API:       ${ui.url}/v1   (OpenAI-compatible: chat completions, models, files, batches, warm-up)`);
        for (const m of cfg.models) say(`  model:     ${m.id} (pool ${m.name}): ${workerText}`);
        say(`  batches:   ${batch}`);
        say(`  gateway:   pid ${gateway.pid}, config ${gatewayJson}, log ${log}`);
        say(`Ctrl-C stops everything.`);
    } catch (e) {
        process.stderr.write(`error: ${(e as Error).message}\n`);
        await shutdown(1);
    }
}

void main();
