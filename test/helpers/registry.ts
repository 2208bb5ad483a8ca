/**
 * Real image tooling for tests (Debian packages, scripts/system-deps.sh): a `docker-registry`
 * (CNCF distribution v2) serving a filesystem store on 127.0.0.1, and `skopeo` pushing an OCI
 * layout to it. Everything stays on loopback.
 */
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";
import { freePort } from "./net";
import { tempDir } from "./tmp";

const run = promisify(execFile);

export const DOCKER_REGISTRY = "/usr/bin/docker-registry";
export const SKOPEO = "/usr/bin/skopeo";

/**
 * Skips the suite (saying why) when a program is missing or the tests do not run as root on a
 * developer's machine; in CI (CI=true) that fails the suite instead.
 */
export function requireSystem(ctx: Mocha.Context, binaries: readonly string[], opts: { root?: boolean } = {}): void {
    const missing = binaries.filter((b) => !fs.existsSync(b));
    const problems = [
        ...(missing.length > 0 ? [`${missing.join(", ")} not found (bash scripts/system-deps.sh --install)`] : []),
        ...(opts.root && process.getuid?.() !== 0 ? ["containerd runs only as root"] : []),
    ];
    if (problems.length === 0) return;
    const msg = problems.join("; ");
    if (process.env.CI === "true") throw new Error(msg);
    console.warn(`      skipped: ${msg}`);
    ctx.skip();
}

export interface Registry {
    /** host:port on 127.0.0.1. */
    readonly host: string;
    stop(): Promise<void>;
}

export async function startRegistry(): Promise<Registry> {
    const dir = tempDir("registry-");
    let lastErr = "";
    for (let attempt = 0; attempt < 3; attempt++) {
        const port = await freePort();
        const config = path.join(dir, `config-${port}.yml`);
        // distribution's configuration (docs/content/about/configuration.md): version, log, storage, http.addr.
        fs.writeFileSync(
            config,
            [
                "version: 0.1",
                "log:",
                "  level: error",
                "storage:",
                "  filesystem:",
                `    rootdirectory: ${path.join(dir, "data")}`,
                "http:",
                `  addr: 127.0.0.1:${port}`,
                "",
            ].join("\n"),
        );
        const proc: ChildProcess = spawn(DOCKER_REGISTRY, ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        proc.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
        const exited = new Promise<void>((r) => proc.once("exit", () => r()));
        const stop = async () => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
            await Promise.race([exited, new Promise((r) => setTimeout(r, 3000)).then(() => proc.kill("SIGKILL"))]);
        };
        const until = Date.now() + 10_000;
        while (Date.now() < until && proc.exitCode === null) {
            const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then(
                (r) => r.status === 200,
                () => false,
            );
            if (ok) return { host: `127.0.0.1:${port}`, stop };
            await new Promise((r) => setTimeout(r, 50));
        }
        lastErr = stderr;
        await stop();
    }
    throw new Error(`docker-registry did not start: ${lastErr}`);
}

/** Pushes an OCI layout's `latest` to `<registry>/<repository>:<tag>` (plain HTTP on loopback). */
export async function pushOciLayout(layoutDir: string, destination: string): Promise<void> {
    await run(SKOPEO, ["copy", "--quiet", "--dest-tls-verify=false", `oci:${layoutDir}:latest`, `docker://${destination}`], { timeout: 30_000 });
}
