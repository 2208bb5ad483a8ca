/**
 * Runs a generated nginx server block under Debian's real nginx, unprivileged, on
 * 127.0.0.1:<free port>, from a temp prefix. The main config mirrors the http block of the
 * UI image (nginxinc/docker-nginx-unprivileged: nginx.org's nginx.conf with temp paths
 * moved to /tmp, `include /etc/nginx/conf.d/*.conf`); the server block is the one the
 * stack ships, with only `listen` and `root` pointed at the test's port and files.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { freePort } from "./net";
const NGINX = "/usr/sbin/nginx";

export interface RunningNginx {
    url: string;
    port: number;
    prefix: string;
    htmlDir: string;
    stop(): Promise<void>;
}

function mainConf(prefix: string): string {
    const t = (n: string) => path.join(prefix, n);
    return `worker_processes 1;
pid ${t("nginx.pid")};
events { worker_connections 128; }
http {
    client_body_temp_path ${t("client_temp")};
    proxy_temp_path ${t("proxy_temp")};
    fastcgi_temp_path ${t("fastcgi_temp")};
    uwsgi_temp_path ${t("uwsgi_temp")};
    scgi_temp_path ${t("scgi_temp")};
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    keepalive_timeout 65;
    include ${t("conf.d")}/*.conf;
}
`;
}

/**
 * Starts nginx with `serverBlock(listen, root)` as conf.d/default.conf and `files` in the
 * document root. Fails (never skips) when nginx is missing.
 */
export async function startNginx(serverBlock: (listen: string, root: string) => string, files: Record<string, string>): Promise<RunningNginx> {
    if (!fs.existsSync(NGINX))
        throw new Error(
            `These tests run the UI's nginx config under Debian's nginx at ${NGINX}, which is missing. Install it with: sudo apt-get install -y nginx`,
        );
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "nginx-ui-"));
    // Run as root (CI containers), nginx's workers drop to `nobody`: they must read the files.
    fs.chmodSync(prefix, 0o755);
    const htmlDir = path.join(prefix, "html");
    fs.mkdirSync(htmlDir);
    fs.mkdirSync(path.join(prefix, "conf.d"));
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(htmlDir, name), text);
    fs.writeFileSync(path.join(prefix, "nginx.conf"), mainConf(prefix));
    const args = (port: number) => {
        fs.writeFileSync(path.join(prefix, "conf.d", "default.conf"), serverBlock(`127.0.0.1:${port}`, htmlDir));
        return ["-p", prefix + "/", "-c", path.join(prefix, "nginx.conf"), "-e", "stderr", "-g", "daemon off;"];
    };
    // A config error is reported as such, not as a timeout.
    const check = spawnSync(NGINX, [...args(await freePort()).slice(0, 6), "-t", "-q"], { encoding: "utf8" });
    if (check.status !== 0) throw new Error(`nginx -t rejects the config:\n${check.stderr}`);

    for (let attempt = 0; ; attempt++) {
        const port = await freePort();
        const child = spawn(NGINX, args(port), { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
        const url = `http://127.0.0.1:${port}`;
        const up = await Promise.race([waitUp(url), exited.then(() => false)]);
        if (up) return { url, port, prefix, htmlDir, stop: () => stop(child, exited, prefix) };
        child.kill("SIGKILL");
        // Another process took the port between the probe and nginx's bind: try another one.
        if (attempt < 2 && /Address already in use/.test(stderr)) continue;
        fs.rmSync(prefix, { recursive: true, force: true });
        throw new Error(`nginx did not start:\n${stderr}`);
    }
}

async function waitUp(url: string): Promise<boolean> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
        const ok = await get(`${url}/healthz`).then(
            (r) => r.status === 200,
            () => false,
        );
        if (ok) return true;
        await new Promise((r) => setTimeout(r, 50));
    }
    return false;
}

async function stop(child: ChildProcess, exited: Promise<number | null>, prefix: string): Promise<void> {
    child.kill("SIGQUIT"); // graceful shutdown
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
    fs.rmSync(prefix, { recursive: true, force: true });
}

export interface Answer {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: Buffer;
}

/** A plain GET (no automatic decompression, so Content-Encoding is what nginx sent). */
export function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { headers, agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
            res.on("error", reject);
        });
        req.on("error", reject);
        req.setTimeout(5000, () => req.destroy(new Error(`GET ${url} timed out`)));
    });
}
