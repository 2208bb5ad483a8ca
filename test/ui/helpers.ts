/// <reference lib="dom" />
/**
 * Browser test plumbing: Debian's chromium driven by playwright-core, and the page served
 * like production by scripts/dev/uiServer.ts (what `npm run dev` serves too): exactly
 * readUiFiles() with the nginx CSP, and /v1 routed to the real gateway on the same origin
 * (what the ALB does by path).
 */
import * as fs from "fs";
import * as path from "path";
import { Browser, BrowserContext, chromium, Page } from "playwright-core";
import { Gateway, GatewayConfigInput, GatewayOptions, startGateway } from "../../gateway/src/index";
import { FakeVllm, FakeVllmOptions, startFakeVllm } from "../fakes/vllm";
import { config } from "../gateway/helpers";
import { freePort } from "../helpers/net";
import { UiServer, startUiServer } from "../../scripts/dev/uiServer";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];
export const OUT_DIR = path.resolve(__dirname, "../../test-output/ui");

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
    opts: {
        fake?: FakeVllmOptions | null;
        gateway?: Partial<GatewayConfigInput> | ((upstream: string) => Partial<GatewayConfigInput>);
        gatewayOptions?: GatewayOptions;
    } = {},
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
    return typeof last.content === "string"
        ? [{ type: "text", text: last.content }]
        : (last.content as Array<{ type: string; text?: string; image_url?: { url: string } }>);
}
