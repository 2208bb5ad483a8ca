/**
 * The web UI on 127.0.0.1 for `npm run dev` and the browser tests: exactly the files the
 * stack's nginx serves (readUiFiles()), with its security headers and CSP (read from the
 * generated nginx config, so the page runs under the same policy) and its cache rules, and
 * `/v1` proxied to the gateway on the same origin, as the ALB routes by path.
 *
 * A small Node server rather than nginx: a newcomer needs no system package for `npm run dev`
 * (nginx is a Debian package in the tests, rarely on a laptop), and the generated nginx config
 * itself runs under real nginx in test/ui/nginx.test.ts.
 */
import * as http from "http";
import { AddressInfo } from "net";
import { NGINX_CONF, readUiFiles } from "../../components/serving/ui";

/** The CSP the UI's nginx sends, taken from its config. */
const CSP = (() => {
    const m = /add_header Content-Security-Policy "([^"]+)"/.exec(NGINX_CONF);
    if (!m) throw new Error("no Content-Security-Policy in NGINX_CONF");
    return m[1];
})();

const TYPES: Record<string, string> = {
    html: "text/html; charset=utf-8",
    js: "text/javascript; charset=utf-8",
    css: "text/css; charset=utf-8",
    json: "application/json; charset=utf-8",
    svg: "image/svg+xml",
    txt: "text/plain; charset=utf-8",
};

export interface UiServer {
    readonly url: string;
    readonly files: Record<string, string>;
    close(): Promise<void>;
}

/** Serves readUiFiles() like the UI's nginx and proxies /v1/* to the gateway. `port` 0: any free port. */
export async function startUiServer(gatewayUrl: string, opts: { port?: number } = {}): Promise<UiServer> {
    const files = readUiFiles();
    const gw = new URL(gatewayUrl);
    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://page.invalid");
        if (url.pathname === "/v1" || url.pathname.startsWith("/v1/")) {
            // Request bodies are buffered before they go upstream (as nginx and the ALB do), so an
            // early answer such as 413 reaches the browser instead of a reset connection.
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => {
                const body = Buffer.concat(chunks);
                const headers = { ...req.headers, host: gw.host, "content-length": String(body.length) };
                delete headers["transfer-encoding"];
                const up = http.request({ host: gw.hostname, port: gw.port, method: req.method, path: req.url, headers }, (ur) => {
                    res.writeHead(ur.statusCode ?? 502, ur.headers);
                    ur.pipe(res);
                });
                up.on("error", () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
                // The browser gave up (Stop): drop the upstream call too, as the ALB does.
                res.on("close", () => {
                    if (!res.writableFinished) up.destroy();
                });
                up.end(body);
            });
            return;
        }
        if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405).end();
        // nginx: try_files $uri /index.html
        const want = url.pathname === "/" ? "index.html" : decodeURIComponent(url.pathname.slice(1));
        const name = Object.hasOwn(files, want) ? want : "index.html";
        const body = Buffer.from(files[name], "utf8");
        res.writeHead(200, {
            "content-type": TYPES[name.split(".").pop()!] ?? "application/octet-stream",
            "content-length": body.length,
            "content-security-policy": CSP,
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "no-referrer",
            // The nginx config's cache rules: the page never stored, assets revalidated on each use.
            "cache-control": name === "index.html" ? "no-store" : "no-cache",
        });
        res.end(req.method === "HEAD" ? undefined : body);
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(opts.port ?? 0, "127.0.0.1", () => {
            server.off("error", reject);
            resolve();
        });
    });
    const port = (server.address() as AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}`,
        files,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}
