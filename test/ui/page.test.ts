/// <reference lib="dom" />
/**
 * The web page (ui/) in Debian's chromium, served like production (readUiFiles() + the nginx
 * CSP, /v1 routed to the real gateway on the same origin), with a fake vLLM behind the gateway.
 * Screenshots go to test-output/ui/.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Browser, Page } from "playwright-core";
import { readUiFiles } from "../../components/serving/ui";
import { MODEL_CATALOG } from "../../stacks/catalog/models";
import { chatBody, KEY, MEDGEMMA, MODEL, postStream, waitFor } from "../gateway/helpers";
import { identifyingStrings, writeDicom } from "./dicom";
import { cspViolations, launchChromium, lastUserContent, OpenPage, openPage, OUT_DIR, Stack, startStack } from "./helpers";
import { pngChunkTypes, readDataUrl, writePng } from "./png";

const UI_DIR = path.resolve(__dirname, "../../ui");
const PAGE_BUDGET_BYTES = 300 * 1024;

describe("ui: page files", () => {
    it("serves ui/ plus the DICOM parser from node_modules, under 300 KB in total, loading nothing from elsewhere", () => {
        const files = readUiFiles();
        const parser = fs.readFileSync(require.resolve("dicom-parser/dist/dicomParser.min.js"), "utf8");
        assert.strictEqual(files["dicom-parser.min.js"], parser, "the parser is served from node_modules under a fixed name");
        assert.ok(!fs.existsSync(path.join(UI_DIR, "dicom-parser.min.js")), "the parser is not copied into ui/");
        for (const f of ["index.html", "main.js", "dicom.js", "style.css", "models.json"]) assert.ok(f in files, `${f} is served`);
        assert.ok(!("README.md" in files), "the README is not served");
        const total = Object.values(files).reduce((n, text) => n + Buffer.byteLength(text, "utf8"), 0);
        assert.ok(total < PAGE_BUDGET_BYTES, `the page is ${(total / 1024).toFixed(1)} KB, over the ${PAGE_BUDGET_BYTES / 1024} KB budget`);
        // Every script and stylesheet is a file of the page: no CDN, no external font.
        const html = files["index.html"];
        const refs = [...html.matchAll(/<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
        assert.ok(refs.length >= 4);
        for (const r of refs) assert.ok(r in files || r.startsWith("data:"), `index.html loads ${r}, which is not a file of the page`);
        for (const [name, text] of Object.entries(files)) {
            if (name === "dicom-parser.min.js") continue;
            assert.doesNotMatch(text, /(?:src|href)\s*=\s*["'](?:https?:)?\/\//, `${name} references another origin`);
            assert.doesNotMatch(text, /@import|@font-face|url\(\s*["']?(?:https?:)?\/\//, `${name} loads a remote font or stylesheet`);
        }
        assert.doesNotMatch(html, /<script>(?!<\/script>)/, "no inline script (the page runs under script-src 'self')");
    });

    it("knows each catalog model's image limit (vLLM --limit-mm-per-prompt default)", () => {
        const hints = JSON.parse(readUiFiles()["models.json"]) as {
            default: { maxSide: number; maxImages: number };
            models: Record<string, { maxSide: number; maxImages: number }>;
        };
        for (const spec of Object.values(MODEL_CATALOG)) {
            const h = hints.models[spec.id];
            assert.ok(h, `models.json has no entry for ${spec.id}`);
            assert.strictEqual(h.maxImages, spec.defaults.maxImagesPerPrompt, spec.id);
            assert.ok(h.maxSide >= 448 && h.maxSide <= 2048, `${spec.id}: maxSide ${h.maxSide}`);
        }
        assert.strictEqual(hints.default.maxImages, 1);
    });
});

describe("ui: the page in chromium against the real gateway", function () {
    this.timeout(30_000);
    let browser: Browser;
    const stacks: Stack[] = [];
    const pages: OpenPage[] = [];

    before(async function () {
        this.timeout(60_000);
        browser = await launchChromium();
        fs.mkdirSync(OUT_DIR, { recursive: true });
    });
    after(async () => {
        await browser?.close();
    });
    afterEach(async function () {
        const failed = this.currentTest?.state === "failed";
        for (const p of pages.splice(0)) {
            if (failed) await p.screenshot(`FAILED-${(this.currentTest?.title ?? "test").replace(/\W+/g, "-").slice(0, 60)}`).catch(() => undefined);
            await p.context.close().catch(() => undefined);
        }
        for (const s of stacks.splice(0)) await s.close().catch(() => undefined);
    });

    async function stack(opts: Parameters<typeof startStack>[0] = {}): Promise<Stack> {
        const s = await startStack(opts);
        stacks.push(s);
        return s;
    }
    async function open(s: Stack, opts: Parameters<typeof openPage>[2] = {}): Promise<OpenPage> {
        const p = await openPage(browser, s.ui.url, opts);
        pages.push(p);
        return p;
    }
    async function modelsLoaded(page: Page): Promise<void> {
        await page.waitForSelector("#model:not([disabled])", { timeout: 5000 });
    }
    /** Waits until `n` answers have finished with text (each gets a Copy button). */
    async function finishedAnswers(page: Page, n: number, timeout = 10_000): Promise<string[]> {
        await page.waitForFunction((k) => document.querySelectorAll(".msg.assistant .actions button").length >= k, n, { timeout });
        return page.$$eval(".msg.assistant .answer", (els) => els.map((e) => e.textContent ?? ""));
    }
    async function assertClean(p: OpenPage): Promise<void> {
        assert.deepStrictEqual(p.problems, [], "page errors");
        assert.deepStrictEqual(await cspViolations(p.page), [], "CSP violations");
    }
    /** Visible text whose contrast with its background is under WCAG AA 4.5:1 (disabled controls exempt). */
    async function lowContrast(page: Page): Promise<string[]> {
        // Source text, not a function: the test transpiler would wrap named helpers in a __name() the page lacks.
        return page.evaluate(`(() => {
            const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
            const channel = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
            const lum = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
            const background = (el) => {
                for (; el; el = el.parentElement) {
                    const c = rgb(getComputedStyle(el).backgroundColor);
                    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
                }
                return [255, 255, 255];
            };
            const bad = [];
            for (const el of document.querySelectorAll("body *")) {
                const own = Array.from(el.childNodes).some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
                if (!own || el.offsetParent === null || el.disabled || el.closest(".visually-hidden, .skip")) continue;
                const fg = lum(rgb(getComputedStyle(el).color));
                const bg = lum(background(el));
                const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
                if (ratio < 4.5) bad.push(el.tagName.toLowerCase() + "." + el.className + " " + JSON.stringify(el.textContent.trim().slice(0, 30)) + ": " + ratio.toFixed(2));
            }
            return bad;
        })()`);
    }
    /** A file dropped onto the drop zone, as a browser delivers it. */
    async function drop(page: Page, name: string, type: string, bytes: Buffer): Promise<void> {
        await page.evaluate(
            ([n, t, b64]) => {
                const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                const dt = new DataTransfer();
                dt.items.add(new File([data], n, { type: t }));
                const zone = document.getElementById("drop-zone")!;
                for (const ev of ["dragenter", "dragover", "drop"])
                    zone.dispatchEvent(new DragEvent(ev, { dataTransfer: dt, bubbles: true, cancelable: true }));
            },
            [name, type, bytes.toString("base64")] as const,
        );
    }
    /** The RGBA of pixel (x, y) of the first attachment preview (the image as it will be sent). */
    async function previewPixel(page: Page, x: number, y: number): Promise<number[]> {
        return page.$eval("#attachments canvas", (c, [px, py]) => Array.from((c as HTMLCanvasElement).getContext("2d")!.getImageData(px, py, 1, 1).data), [
            x,
            y,
        ] as const);
    }
    /** Decodes an image data URL in the page and reads a pixel. */
    async function dataUrlPixel(page: Page, url: string, x: number, y: number): Promise<number[]> {
        return page.evaluate(
            async ([u, px, py]) => {
                const img = new Image();
                img.src = u;
                await img.decode();
                const c = document.createElement("canvas");
                c.width = img.naturalWidth;
                c.height = img.naturalHeight;
                const ctx = c.getContext("2d")!;
                ctx.drawImage(img, 0, 0);
                return Array.from(ctx.getImageData(px, py, 1, 1).data);
            },
            [url, x, y] as const,
        );
    }
    const chatStatuses = (page: Page): number[] => {
        const statuses: number[] = [];
        page.on("response", (r) => {
            if (r.url().endsWith("/v1/chat/completions")) statuses.push(r.status());
        });
        return statuses;
    };

    it("streams the answer to a question about an uploaded PNG (resized to 1024 px), with follow-ups, paste, copy and clear", async () => {
        const s = await stack({ fake: { tokenDelayMs: 80 } });
        const p = await open(s, { key: KEY });
        const { page } = p;
        await p.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: s.ui.url });
        await modelsLoaded(page);
        assert.strictEqual(await page.inputValue("#model"), MODEL);
        assert.match((await page.textContent("#model-hint"))!, /at most 1024 px on the longest side.*Up to 4 images per conversation/);

        // File picker: a 1600x1200 PNG is sent as 1024x768.
        await page.setInputFiles("#file", { name: "chest-pa.png", mimeType: "image/png", buffer: writePng(1600, 1200, (x, y) => [x % 256, y % 256, 128]) });
        await page.waitForSelector(".attachment");
        assert.match((await page.textContent(".attachment .meta"))!, /Sent as 1024×768 PNG \(resized from 1600×1200\)/);

        await page.fill("#question", "What is shown on this image?");
        await page.evaluate(() => {
            const w = window as unknown as { lengths: number[] };
            w.lengths = [];
            new MutationObserver(() => {
                const a = document.querySelector(".msg.assistant .answer");
                if (a) w.lengths.push(a.textContent.length);
            }).observe(document.getElementById("log")!, { subtree: true, childList: true, characterData: true });
        });
        await page.click("#analyze");
        const [first] = await finishedAnswers(page, 1);
        assert.strictEqual(first, "Echo: What is shown on this image? [image x1]");
        const lengths = await page.evaluate(() => (window as unknown as { lengths: number[] }).lengths);
        const distinct = new Set(lengths.filter((n) => n > 0));
        assert.ok(distinct.size >= 5, `the answer should grow token by token, saw lengths ${JSON.stringify(lengths)}`);
        assert.ok(Math.min(...distinct) < first.length, "a partial answer was on screen before the whole");
        // This gateway has no batch store: the Batch view says so and offers no submit (not "No route for GET /v1/batches").
        await page.waitForSelector("#batch-view li.hint");
        assert.match((await page.textContent("#batch-view li.hint"))!, /Batch jobs are not enabled on this gateway/);
        assert.strictEqual(await page.isDisabled("#batch-submit"), true);
        await p.screenshot("01-png-streamed-answer");

        assert.strictEqual(s.fake!.requests.length, 1);
        const req1 = s.fake!.requests[0].body;
        assert.strictEqual(req1.stream, true);
        assert.strictEqual(req1.model, MODEL);
        const parts = lastUserContent(req1);
        assert.deepStrictEqual(
            parts.map((x) => x.type),
            ["image_url", "text"],
        );
        assert.strictEqual(parts[1].text, "What is shown on this image?");
        const sent = readDataUrl(parts[0].image_url!.url);
        assert.deepStrictEqual([sent.mime, sent.width, sent.height, sent.colorType], ["image/png", 1024, 768, 2]);
        assert.deepStrictEqual(
            pngChunkTypes(sent.bytes).filter((t) => /^(tEXt|iTXt|zTXt|eXIf)$/.test(t)),
            [],
        );
        // The composer is free again: question and sent image cleared.
        assert.strictEqual(await page.inputValue("#question"), "");
        assert.strictEqual(await page.locator(".attachment").count(), 0);

        // Follow-up about the same image, sent with Ctrl+Enter: the history goes along.
        await page.fill("#question", "Which side looks larger?");
        await page.press("#question", "Control+Enter");
        const second = (await finishedAnswers(page, 2))[1];
        assert.strictEqual(second, "Echo: Which side looks larger?");
        const req2 = s.fake!.requests[1].body as { messages: Array<{ role: string; content: unknown }> };
        assert.deepStrictEqual(
            req2.messages.map((m) => m.role),
            ["user", "assistant", "user"],
        );
        assert.strictEqual(req2.messages[1].content, first);
        assert.strictEqual(req2.messages[2].content, "Which side looks larger?");
        assert.strictEqual(
            (req2.messages[0].content as Array<{ image_url?: { url: string } }>)[0].image_url!.url,
            parts[0].image_url!.url,
            "the same image is in the history",
        );

        // Paste a JPEG (made by the browser) into the question box: a second image for this conversation.
        await page.evaluate(async () => {
            const c = document.createElement("canvas");
            c.width = 640;
            c.height = 480;
            const ctx = c.getContext("2d")!;
            ctx.fillStyle = "#c03030";
            ctx.fillRect(0, 0, 640, 480);
            const blob = await new Promise<Blob>((r) => c.toBlob((b) => r(b!), "image/jpeg", 0.9));
            const dt = new DataTransfer();
            dt.items.add(new File([blob], "slide.jpg", { type: "image/jpeg" }));
            document.getElementById("question")!.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
        });
        await page.waitForSelector(".attachment");
        assert.match((await page.textContent(".attachment .meta"))!, /Sent as 640×480 JPEG \(original size\)/);
        await page.fill("#question", "And this slide?");
        await page.click("#analyze");
        assert.strictEqual((await finishedAnswers(page, 3))[2], "Echo: And this slide? [image x1]");
        const jpeg = readDataUrl(lastUserContent(s.fake!.requests[2].body)[0].image_url!.url);
        assert.strictEqual(jpeg.mime, "image/jpeg");
        assert.match((await page.textContent("#file-hint"))!, /add 2 more images/);

        // Copy the first answer.
        await page.locator(".msg.assistant").first().getByRole("button", { name: "Copy answer" }).click();
        await page.waitForFunction(() => document.querySelector(".msg.assistant .copied")?.textContent === "Copied.");
        assert.strictEqual(await page.evaluate(() => navigator.clipboard.readText()), first);
        await p.screenshot("02-conversation-follow-ups");

        // Clear: empty conversation, the next question starts a new history.
        await page.click("#clear");
        assert.strictEqual(await page.locator(".msg").count(), 0);
        assert.match((await page.textContent("#file-hint"))!, /add 4 more images/);
        await page.fill("#question", "Fresh start?");
        await page.click("#analyze");
        await finishedAnswers(page, 1);
        assert.strictEqual((s.fake!.requests[3].body.messages as unknown[]).length, 1);
        await assertClean(p);
    });

    it("renders a dropped multi-frame DICOM with its window, lets the user pick frame and window, and sends only a PNG", async () => {
        const s = await stack({ fake: {} });
        const p = await open(s, { key: KEY });
        const { page } = p;
        await modelsLoaded(page);
        const rows = 200;
        const columns = 300;
        const frame1 = Array.from({ length: rows * columns }, (_, i) => (i % columns) * 10); // 0..2990 across
        const frame2 = frame1.map((v) => 4000 - v);
        const file = writeDicom({
            rows,
            columns,
            frames: 2,
            bitsStored: 12,
            pixels: [...frame1, ...frame2],
            windows: [{ center: 1000, width: 1000 }],
            modality: "CR",
        });
        await drop(page, "IMG0001.dcm", "application/dicom", file);
        await page.waitForSelector(".attachment");
        const meta = (await page.$$eval(".attachment .meta", (els) => els.map((e) => e.textContent))).join(" | ");
        assert.match(meta, /Sent as 300×200 PNG \(original size\)/);
        assert.match(meta, /CR · 300×200 · 2 frames · 12-bit MONOCHROME2 · Explicit VR Little Endian/);
        const bodyText = (await page.textContent("body"))!;
        for (const id of identifyingStrings()) assert.ok(!bodyText.includes(id), `the page shows "${id}"`);

        // The file's window (C 1000, W 1000): x=100 has value 1000 -> mid grey; x=60 (600) -> dark; x=200 -> white.
        const near = (got: number[], want: number, what: string) =>
            assert.ok(Math.abs(got[0] - want) <= 1 && got[0] === got[1] && got[3] === 255, `${what}: got ${got}, want ${want}`);
        near(await previewPixel(page, 100, 10), 128, "frame 1, file window, x=100");
        near(await previewPixel(page, 60, 10), 26, "frame 1, file window, x=60");
        near(await previewPixel(page, 200, 10), 255, "frame 1, file window, x=200");

        // Frame 2 by keyboard: focus the frame slider, arrow right.
        await page.focus("input[id^=frame-][type=range]");
        await page.keyboard.press("ArrowRight");
        assert.strictEqual(await page.inputValue("input[id^=frame-][type=number]"), "2");
        await page.waitForFunction(() => {
            const c = document.querySelector("#attachments canvas") as HTMLCanvasElement;
            return c.getContext("2d")!.getImageData(100, 10, 1, 1).data[0] === 255; // 4000 - 1000 = 3000: above the window
        });
        // A wider window: C 1000, W 6000 puts 3000 at 213.
        await page.fill("input[id^=ww-][type=number]", "6000");
        await page.press("input[id^=ww-][type=number]", "Tab");
        await page.waitForFunction(() => {
            const c = document.querySelector("#attachments canvas") as HTMLCanvasElement;
            return Math.abs(c.getContext("2d")!.getImageData(100, 10, 1, 1).data[0] - 213) <= 1;
        });
        await p.screenshot("03-dicom-frame-2-window");

        await page.fill("#question", "Any fracture?");
        await page.click("#analyze");
        assert.strictEqual((await finishedAnswers(page, 1))[0], "Echo: Any fracture? [image x1]");
        assert.strictEqual(s.fake!.requests.length, 1);
        const recorded = s.fake!.requests[0];
        const image = readDataUrl(lastUserContent(recorded.body)[0].image_url!.url);
        assert.deepStrictEqual([image.mime, image.width, image.height, image.colorType], ["image/png", 300, 200, 0], "a 300x200 greyscale PNG");
        assert.deepStrictEqual(
            pngChunkTypes(image.bytes).filter((t) => !/^(IHDR|IDAT|IEND|sRGB|gAMA|cHRM|iCCP|pHYs|sBIT)$/.test(t)),
            [],
            "only pixel chunks",
        );
        // What was sent is the view the user chose: frame 2 with the wider window.
        near(await dataUrlPixel(page, lastUserContent(recorded.body)[0].image_url!.url, 100, 10), 213, "sent PNG, x=100");
        near(
            await dataUrlPixel(page, lastUserContent(recorded.body)[0].image_url!.url, 200, 10),
            Math.round(((2000 - 999.5) / 5999 + 0.5) * 255),
            "sent PNG, x=200",
        );
        // Nothing identifying, nothing of the DICOM file itself.
        const wire = JSON.stringify(recorded);
        for (const id of identifyingStrings()) assert.ok(!wire.includes(id), `the request holds "${id}"`);
        assert.ok(!wire.includes("IMG0001"), "the file name is not sent");
        const raw = image.bytes.toString("latin1");
        for (const id of identifyingStrings()) assert.ok(!raw.includes(id), `the PNG holds "${id}"`);
        assert.ok(!raw.includes("DICM") && !raw.includes("1.2.826.0.1.3680043"), "no DICOM header or UIDs in the PNG");
        await p.screenshot("04-dicom-answer");
        await assertClean(p);
    });

    it("shows the warm-up countdown on 503 + Retry-After, retries by itself, then streams the answer", async () => {
        const s = await stack({ fake: null, gateway: { queue: { maxDepth: 50, maxWaitSeconds: 1, retryAfterSeconds: 2 } } });
        const p = await open(s, { key: KEY });
        const { page } = p;
        await modelsLoaded(page);
        const statuses = chatStatuses(page);
        await page.fill("#question", "Is the lung field clear?");
        await s.startFake({ startupDelayMs: 2500 }); // the pool's first worker is loading its model
        await page.click("#analyze");
        await page.waitForFunction(
            () =>
                /GPU workers are starting/.test(document.getElementById("status")!.textContent) &&
                /Retrying in \d+ s/.test(document.getElementById("countdown")!.textContent),
            undefined,
            { timeout: 5000 },
        );
        assert.ok(await page.isVisible("#status-box"));
        assert.ok(await page.isEnabled("#stop"), "the user can cancel while waiting");
        assert.deepStrictEqual(await lowContrast(page), []);
        await p.screenshot("05-cold-start-warming-up");
        const [answer] = await finishedAnswers(page, 1, 15_000);
        assert.strictEqual(answer, "Echo: Is the lung field clear?");
        assert.ok(statuses.includes(503), `saw ${statuses}`);
        assert.strictEqual(statuses[statuses.length - 1], 200);
        assert.strictEqual(s.fake!.requests.length, 1, "only the answered attempt reached the worker");
        assert.ok(await page.isHidden("#status-box"), "the warm-up message is gone");
        assert.ok(await page.isHidden("#error"));
        await p.screenshot("06-cold-start-answered");
        await assertClean(p);
    });

    it("shows its own message on 429 and retries until the team's slot is free", async () => {
        const s = await stack({ fake: { tokenDelayMs: 100 }, gateway: { limits: { default: { maxConcurrent: 1 } } } });
        const p = await open(s, { key: KEY });
        const { page } = p;
        await modelsLoaded(page);
        const statuses = chatStatuses(page);
        // Another client of the same team holds the one slot for about 1.5 s.
        const other = postStream(s.gateway.url, chatBody("one two three four five six seven eight nine ten eleven twelve thirteen fourteen"));
        await waitFor(() => s.fake!.stats().running === 1, 3000, "the other request to run");
        await page.fill("#question", "Is there an effusion?");
        await page.click("#analyze");
        await page.waitForFunction(
            () =>
                /Too many requests right now/.test(document.getElementById("status")!.textContent) &&
                /Retrying in \d+ s/.test(document.getElementById("countdown")!.textContent),
            undefined,
            { timeout: 5000 },
        );
        assert.doesNotMatch((await page.textContent("#status"))!, /GPU workers are starting/);
        await p.screenshot("07-rate-limited");
        assert.strictEqual((await other).done, true);
        const [answer] = await finishedAnswers(page, 1, 10_000);
        assert.strictEqual(answer, "Echo: Is there an effusion?");
        assert.ok(statuses.includes(429), `saw ${statuses}`);
        await assertClean(p);
    });

    it("says clearly when the API key is wrong (401), keeps a good key in local storage", async () => {
        const s = await stack({ fake: {} });
        // Before any key is entered: the image limit is not known yet.
        const blank = await open(s);
        assert.strictEqual(
            (await blank.page.textContent("#file-hint"))!.trim(),
            "How many images you can add depends on the model, chosen once the API key is accepted.",
        );
        const p = await open(s, { key: "sk-not-a-real-key" });
        const { page } = p;
        await page.waitForSelector("#key-error:not([hidden])");
        assert.match((await page.textContent("#key-error"))!, /The API key was refused \(401: Invalid API key\)/);
        assert.ok(await page.isDisabled("#model"));
        await page.fill("#question", "Hello?");
        await page.click("#analyze");
        assert.match((await page.textContent("#error"))!, /No model is available yet; check the API key/);
        // No model, so no image count: neither "1 more image" (a default) nor "No more images".
        assert.strictEqual(
            (await page.textContent("#file-hint"))!.trim(),
            "How many images you can add depends on the model, chosen once the API key is accepted.",
        );
        assert.deepStrictEqual(await lowContrast(page), []);
        await p.screenshot("08-wrong-key");

        // The right key, typed and confirmed with Tab: models load, the key is remembered.
        await page.fill("#api-key", KEY);
        await page.press("#api-key", "Tab");
        await modelsLoaded(page);
        assert.match((await page.textContent("#file-hint"))!, /^You can add 4 more images for Qwen\/Qwen3-VL-2B-Instruct\.$/);
        assert.ok(await page.isHidden("#key-error"));
        assert.strictEqual(await page.evaluate(() => localStorage.getItem("gpuserve.apiKey")), KEY);
        await page.reload();
        await page.waitForSelector("html[data-ready=true]");
        assert.strictEqual(await page.inputValue("#api-key"), KEY);
        await modelsLoaded(page);

        // A key that stops working after the page loaded (e.g. revoked): the chat call gets the 401.
        await page.evaluate(() => {
            (document.getElementById("api-key") as HTMLInputElement).value = "sk-revoked-key";
        });
        await page.fill("#question", "Still there?");
        await page.click("#analyze");
        await page.waitForSelector("#error:not([hidden])");
        assert.match((await page.textContent("#error"))!, /The API key was refused \(401: Invalid API key\)/);
        assert.match((await page.textContent(".msg.assistant .note"))!, /401/);
        assert.strictEqual(s.fake!.requests.length, 0);
        await p.screenshot("09-chat-401");

        // Forget key removes it from the browser.
        await page.click("#forget-key");
        assert.strictEqual(await page.evaluate(() => localStorage.getItem("gpuserve.apiKey")), null);
        await page.waitForSelector("#key-error:not([hidden])");
        assert.match((await page.textContent("#key-error"))!, /Enter your API key/);
        await assertClean(p);
    });

    it("stops a streaming answer with Esc and cancels the upstream generation", async () => {
        const s = await stack({ fake: { tokenDelayMs: 150 } });
        const p = await open(s, { key: KEY });
        const { page } = p;
        await modelsLoaded(page);
        const question = "please describe every rib in this image one by one in great detail from top to bottom and left to right";
        await page.fill("#question", question);
        await page.click("#analyze");
        await page.waitForFunction(() => (document.querySelector(".msg.assistant .answer")?.textContent ?? "").length > 10);
        await page.keyboard.press("Escape");
        await page.waitForFunction(() => /Stopped: the answer is incomplete/.test(document.querySelector(".msg.assistant .note")?.textContent ?? ""));
        const partial = (await page.textContent(".msg.assistant .answer"))!;
        assert.ok(partial.length < `Echo: ${question}`.length, "the answer stopped early");
        await waitFor(() => s.fake!.stats().aborted === 1, 5000, "the worker to see the cancellation");
        assert.strictEqual(s.fake!.stats().completed, 0);
        assert.ok(await page.isEnabled("#analyze"));
        assert.ok(await page.isDisabled("#stop"));
        await assertClean(p);
    });

    it("shows other errors plainly: unreadable DICOM, too many images, 413, a worker failing mid-stream", async () => {
        const s = await stack({
            fake: { models: [MODEL, MEDGEMMA], tokenDelayMs: 30 },
            gateway: (up) => ({
                maxBodyBytes: 5000,
                pools: [
                    { name: "a10g", models: [MODEL], upstreams: [up] },
                    { name: "a100", models: [MEDGEMMA], upstreams: [up] },
                ],
            }),
        });
        const p = await open(s, { key: KEY });
        const { page } = p;
        await modelsLoaded(page);
        await page.selectOption("#model", MEDGEMMA);
        assert.match((await page.textContent("#model-hint"))!, /at most 896 px on the longest side.*Up to 1 image per conversation/);

        await drop(page, "ct.dcm", "application/dicom", writeDicom({ rows: 2, columns: 2, pixels: [0, 0, 0, 0], syntax: "jpeg2000" }));
        await page.waitForSelector("#image-error:not([hidden])");
        assert.match((await page.textContent("#image-error"))!, /ct\.dcm: This DICOM file is compressed with JPEG 2000, which this page cannot decode/);
        assert.strictEqual(await page.locator(".attachment").count(), 0);

        // Two files for a one-image model: the first is taken, the user is told about the second.
        const big = writePng(1600, 1200, (x, y) => [(x * 7 + y * 13) % 256, (x * y) % 256, (x ^ y) % 256]);
        await page.setInputFiles("#file", [
            { name: "a.png", mimeType: "image/png", buffer: big },
            { name: "b.png", mimeType: "image/png", buffer: writePng(10, 10, () => [0, 0, 0]) },
        ]);
        await page.waitForFunction(() => /accepts 1 image per conversation; 1 not added/.test(document.getElementById("image-error")!.textContent));
        assert.strictEqual(await page.locator(".attachment").count(), 1);
        assert.match((await page.textContent(".attachment .meta"))!, /Sent as 896×672 PNG \(resized from 1600×1200\)/);

        // Over the gateway's body limit: 413, said as it is.
        await page.fill("#question", "What is this?");
        await page.click("#analyze");
        await page.waitForSelector("#error:not([hidden])");
        assert.match((await page.textContent("#error"))!, /Error 413: Request body exceeds the limit of 5000 bytes/);
        assert.strictEqual(s.fake!.requests.length, 0);
        assert.strictEqual(await page.locator(".attachment").count(), 1, "the image stays for another try");

        // The worker dies after two tokens: the partial answer stays, marked as interrupted.
        await page.click(".attachment button:has-text('Remove')");
        s.fake!.setFail("close-mid-stream", { times: 1, afterTokens: 2 });
        await page.fill("#question", "one two three four five six");
        await page.click("#analyze");
        await page.waitForFunction(() => /interrupted/.test(document.querySelector(".msg.assistant:last-child .note")?.textContent ?? ""));
        assert.strictEqual(await page.textContent(".msg.assistant:last-child .answer"), "Echo: one");
        assert.match((await page.textContent("#error"))!, /The answer was interrupted: The worker of pool 'a100' failed mid-stream/);
        assert.deepStrictEqual(await lowContrast(page), []);
        await p.screenshot("11-errors");
        // The next question works again and clears the error.
        await page.fill("#question", "again please");
        await page.click("#analyze");
        await page.waitForFunction(
            () =>
                document.querySelector(".msg.assistant:last-child .answer")?.textContent === "Echo: again please" &&
                !!document.querySelector(".msg.assistant:last-child .actions button"),
        );
        assert.ok(await page.isHidden("#error"));
        await assertClean(p);
    });

    it("works by keyboard on a phone-sized screen, with labelled controls and readable contrast", async () => {
        const s = await stack({ fake: { tokenDelayMs: 20 } });
        const p = await open(s, { key: KEY, viewport: { width: 390, height: 844 } });
        const { page } = p;
        await modelsLoaded(page);
        const unnamed = await page.evaluate(() =>
            Array.from(document.querySelectorAll("input, select, textarea, button"))
                .filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute("aria-label") && !el.textContent.trim())
                .map((el) => el.id || el.outerHTML.slice(0, 80)),
        );
        assert.deepStrictEqual(unnamed, []);
        for (const label of ["API key", "Model", "Question"]) assert.strictEqual(await page.getByLabel(label, { exact: true }).count(), 1, label);

        // Tab order follows the page: skip link, key, forget, remember, model, files, question, analyze, clear.
        const order: string[] = [];
        for (let i = 0; i < 9; i++) {
            await page.keyboard.press("Tab");
            order.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.className || ""));
        }
        assert.deepStrictEqual(order, ["skip", "api-key", "forget-key", "remember-key", "model", "file", "question", "analyze", "clear"]);

        await page.setInputFiles("#file", { name: "hand.png", mimeType: "image/png", buffer: writePng(800, 1200, (x, y) => [(x * y) % 256, 90, 200]) });
        await page.waitForSelector(".attachment");
        await page.focus("#question");
        await page.keyboard.type("Is the bone age normal?");
        await page.keyboard.press("Control+Enter");
        assert.strictEqual((await finishedAnswers(page, 1))[0], "Echo: Is the bone age normal? [image x1]");
        // A DICOM with its controls must fit too.
        const pixels = Array.from({ length: 256 * 256 * 2 }, (_, i) => Math.round(2000 + 1500 * Math.sin((i % 256) / 30) * Math.cos(Math.floor(i / 256) / 40)));
        await drop(
            page,
            "series-7.dcm",
            "application/dicom",
            writeDicom({
                rows: 256,
                columns: 256,
                frames: 2,
                pixels,
                windows: [
                    { center: 2000, width: 3000 },
                    { center: 2500, width: 800 },
                ],
                burnedIn: true,
            }),
        );
        await page.waitForSelector(".attachment fieldset");
        assert.match((await page.textContent(".attachment .warn"))!, /burned-in annotation/);
        assert.strictEqual(await page.locator(".attachment select option").count(), 2, "both window presets of the file are offered");
        assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "no horizontal scrolling at 390 px");
        assert.deepStrictEqual(await lowContrast(page), []);
        await p.screenshot("10-phone");
        await assertClean(p);
    });
});
