/// <reference lib="dom" />
/**
 * The "Get GPUs ready for class" button (ui/warmup.js) in Debian's chromium, against the
 * real gateway with a pool at zero: shown only for keys with the warmup permission, shows a
 * countdown from the gateway's estimate, then "ready" once the (fake) worker answers.
 */
import * as assert from "assert";
import { Browser } from "playwright-core";
import { sha256Hex } from "../../gateway/src/index";
import { KEY, MODEL } from "../gateway/helpers";
import { cspViolations, launchChromium, openPage, OUT_DIR, Stack, startStack } from "./helpers";

const TEACHER = "sk-teacher-ui-key-000001";

describe("ui: Get GPUs ready for class", function () {
    this.timeout(60000);
    let browser: Browser;
    const stacks: Stack[] = [];

    before(async () => {
        browser = await launchChromium();
    });
    after(async () => {
        for (const s of stacks.splice(0)) await s.close();
        await browser?.close();
    });

    async function stack(): Promise<Stack> {
        const s = await startStack({
            fake: null,
            gateway: (upstream) => ({
                pools: [{ name: "a10g", models: [MODEL], upstreams: [upstream], coldStartSecondsEstimate: 30 }],
                auth: {
                    keys: [
                        { team: "radiology", sha256: sha256Hex(KEY) },
                        { team: "teaching", sha256: sha256Hex(TEACHER), permissions: ["warmup"] },
                    ],
                },
            }),
        });
        stacks.push(s);
        return s;
    }

    it("counts down for a teacher's key until the model answers, then says ready; the gateway holds the warm-up", async () => {
        const s = await stack();
        const p = await openPage(browser, s.ui.url, { key: TEACHER });
        const { page } = p;
        await page.waitForSelector("#warmup", { state: "visible", timeout: 10000 });
        await page.waitForFunction(() => (document.getElementById("model") as HTMLSelectElement).value !== "", undefined, { timeout: 10000 });
        await page.fill("#warmup-minutes", "50");
        await page.click("#warmup");
        await page.waitForFunction(() => /ready in about \d+ s/.test(document.getElementById("warmup-status")!.textContent), undefined, { timeout: 5000 });
        const first = Number(/about (\d+) s/.exec((await page.textContent("#warmup-status"))!)![1]);
        assert.ok(first <= 30 && first >= 25, `countdown starts at ${first}`);
        await page.waitForFunction((n) => Number(/about (\d+) s/.exec(document.getElementById("warmup-status")!.textContent)?.[1] ?? 99) < n, first, {
            timeout: 5000,
        });
        assert.ok(await page.isDisabled("#warmup"), "no second click while starting");
        await p.screenshot("20-warmup-countdown");
        const list = (await (await fetch(`${s.gateway.url}/v1/warmup`, { headers: { authorization: `Bearer ${TEACHER}` } })).json()) as {
            data: { pool: string; ready: boolean }[];
        };
        assert.deepStrictEqual(
            list.data.map((w) => [w.pool, w.ready]),
            [["a10g", false]],
        );
        await s.startFake(); // the worker KEDA started becomes ready
        await page.waitForFunction(() => /^Ready: the model answers/.test(document.getElementById("warmup-status")!.textContent), undefined, {
            timeout: 15000,
        });
        assert.ok(await page.isEnabled("#warmup"));
        await p.screenshot("21-warmup-ready");
        assert.deepStrictEqual(await cspViolations(page), []);
        assert.deepStrictEqual(p.problems, []);
        await p.context.close();
    });

    it("keeps the minutes field readable on a 390 px phone: wide enough for 240, the button below it", async () => {
        const s = await stack();
        const p = await openPage(browser, s.ui.url, { key: TEACHER, viewport: { width: 390, height: 844 } });
        const { page } = p;
        await page.waitForSelector("#warmup", { state: "visible", timeout: 10000 });
        await page.fill("#warmup-minutes", "240");
        const box = (await page.locator("#warmup-minutes").boundingBox())!;
        const button = (await page.locator("#warmup").boundingBox())!;
        assert.ok(box.width >= 64, `the minutes field is ${box.width} px wide`);
        const fits = await page.$eval("#warmup-minutes", (el) => {
            const input = el as HTMLInputElement;
            const style = getComputedStyle(input);
            const ctx = document.createElement("canvas").getContext("2d")!;
            ctx.font = style.font;
            // The digits plus the number box's spinner fit inside the padding box.
            return ctx.measureText(input.value).width + 24 <= input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        });
        assert.ok(fits, "'240' is readable in the minutes field");
        assert.ok(button.x + button.width <= 390 && box.x + box.width <= 390, "nothing overflows the screen");
        assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "no horizontal scrolling at 390 px");
        await page.locator("#warmup-field").screenshot({ path: `${OUT_DIR}/22-warmup-phone-390px.png` });
        await p.context.close();
    });

    it("does not show the button to a key without the warmup permission", async () => {
        const s = await stack();
        const p = await openPage(browser, s.ui.url, { key: KEY });
        await p.page.waitForFunction(() => (document.getElementById("model") as HTMLSelectElement).value !== "", undefined, { timeout: 10000 });
        // The permission check (GET /v1/warmup) has answered, and its handler has run (a task later).
        await p.page.waitForFunction(() => performance.getEntriesByType("resource").some((e) => new URL(e.name).pathname === "/v1/warmup"), undefined, {
            timeout: 10000,
        });
        await p.page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
        assert.ok(await p.page.isHidden("#warmup-field"));
        await p.context.close();
    });
});
