/// <reference lib="dom" />
/**
 * Browser test plumbing: Debian's chromium driven by playwright-core, and the page served
 * like production: a static server over exactly readUiFiles() with the nginx CSP, and /v1
 * routed to the real gateway on the same origin (what the ALB does by path).
 */
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { Browser, BrowserContext, chromium, Page } from "playwright-core";
import { NGINX_CONF, readUiFiles } from "../../components/serving/ui";
import { Gateway, GatewayConfigInput, GatewayOptions, startGateway } from "../../gateway/src/index";
import { FakeVllm, FakeVllmOptions, startFakeVllm } from "../fakes/vllm";
import { config } from "../gateway/helpers";
import { freePort } from "../helpers/net";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
export const OUT_DIR = path.resolve(__dirname, "../../test-output/ui");

/** The CSP the nginx of the UI sends, taken from its config so the test page runs under the same one. */
export const CSP = (() => {
    const m = /add_header Content-Security-Policy "([^"]+)"/.exec(NGINX_CONF);
    if (!m) throw new Error("no Content-Security-Policy in NGINX_CONF");
    return m[1];
})();

/**
 * Launches chromium headless. Playwright gives a launched browser a fresh temporary
 * user-data dir, removed on close. Fails (never skips) when chromium is not installed.
 */
export async function launchChromium(): Promise<Browser> {
    if (!fs.existsSync(CHROMIUM)) {
        throw new Error(`The UI browser tests need Debian's chromium at ${CHROMIUM}, which is missing. Install it with: sudo apt-get install -y chromium`);
    }
    return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

const TYPES: Record<string, string> = {
    html: "text/html; charset=utf-8",
    js: "text/javascript; charset=utf-8",
    css: "text/css; charset=utf-8",
    json: "application/json; charset=utf-8",
    svg: "image/svg+xml",
    txt: "text/plain; charset=utf-8",
};

export interface UiServer {
    url: string;
    files: Record<string, string>;
    close(): Promise<void>;
}

/** Serves readUiFiles() like the UI's nginx and proxies /v1/* to the gateway. */
export async function startUiServer(gatewayUrl: string): Promise<UiServer> {
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
            ...(name === "index.html" ? { "cache-control": "no-store" } : {}),
        });
        res.end(req.method === "HEAD" ? undefined : body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
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

export interface Stack {
    gateway: Gateway & { url: string };
    ui: UiServer;
    /** The fake vLLM (undefined while a "starts later" pool has not started). */
    fake?: FakeVllm;
    /** For pools that start later: starts the fake vLLM on the gateway's upstream port. */
    startFake(opts?: FakeVllmOptions): Promise<FakeVllm>;
    close(): Promise<void>;
}

/**
 * Fake vLLM + real gateway + page server, all on 127.0.0.1. `fake: null`: the pool has no
 * worker yet (call startFake later). Short gateway wait bounds keep cold-start tests fast.
 */
export async function startStack(
    opts: { fake?: FakeVllmOptions | null; gateway?: Partial<GatewayConfigInput> | ((upstream: string) => Partial<GatewayConfigInput>); gatewayOptions?: GatewayOptions } = {},
): Promise<Stack> {
    const port = await freePort();
    let fake: FakeVllm | undefined;
    const startFake = async (o: FakeVllmOptions = {}) => {
        fake = await startFakeVllm({ ...o, port });
        stack.fake = fake;
        return fake;
    };
    const upstream = `http://127.0.0.1:${port}`;
    const extra = typeof opts.gateway === "function" ? opts.gateway(upstream) : opts.gateway;
    const cfg = config([upstream], { queue: { maxDepth: 50, maxWaitSeconds: 3, retryAfterSeconds: 1 }, ...extra });
    const stack: Stack = { startFake, close: async () => undefined } as unknown as Stack;
    if (opts.fake !== null) await startFake(opts.fake ?? {});
    const gateway = await startGateway(cfg, { ...opts.gatewayOptions, port: 0, host: "127.0.0.1" });
    const ui = await startUiServer(gateway.url);
    Object.assign(stack, {
        gateway,
        ui,
        async close() {
            await ui.close();
            await gateway.close();
            if (fake) await fake.stop();
        },
    });
    return stack;
}

export interface OpenPage {
    page: Page;
    context: BrowserContext;
    /** Uncaught page errors, CSP violations and console errors other than failed HTTP statuses. */
    problems: string[];
    screenshot(name: string): Promise<string>;
}

/** A fresh browser context (own storage) on the page; `key` is pre-stored in local storage. */
export async function openPage(browser: Browser, url: string, opts: { key?: string; viewport?: { width: number; height: number } } = {}): Promise<OpenPage> {
    const context = await browser.newContext({
        viewport: opts.viewport ?? { width: 1280, height: 900 },
        storageState: { cookies: [], origins: opts.key === undefined ? [] : [{ origin: url, localStorage: [{ name: "gpuserve.apiKey", value: opts.key }] }] },
    });
    const problems: string[] = [];
    await context.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (e) => {
            (window as unknown as { __csp: string[] }).__csp ??= [];
            (window as unknown as { __csp: string[] }).__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
        });
    });
    const page = await context.newPage();
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
        // An HTTP error answer (401, 503...) is logged by chromium as "Failed to load resource": expected here.
        if (m.type() === "error" && !/Failed to load resource/.test(m.text())) problems.push(`console error: ${m.text()}`);
    });
    await page.goto(url);
    await page.waitForSelector("html[data-ready=true]", { timeout: 10_000 });
    fs.mkdirSync(OUT_DIR, { recursive: true });
    return {
        page,
        context,
        problems,
        async screenshot(name: string) {
            const file = path.join(OUT_DIR, `${name}.png`);
            await page.screenshot({ path: file, fullPage: true });
            return file;
        },
    };
}

/** CSP violations seen by the page so far. */
export async function cspViolations(page: Page): Promise<string[]> {
    return page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []);
}

/** The text content parts of the last user message of a recorded chat request. */
export function lastUserContent(body: Record<string, unknown>): Array<{ type: string; text?: string; image_url?: { url: string } }> {
    const messages = body.messages as Array<{ role: string; content: unknown }>;
    const last = [...messages].reverse().find((m) => m.role === "user");
    if (!last) throw new Error("no user message");
    return typeof last.content === "string" ? [{ type: "text", text: last.content }] : (last.content as Array<{ type: string; text?: string; image_url?: { url: string } }>);
}
