/// <reference lib="dom" />
/**
 * The team's month on the page (ui/budget.js) in Debian's chromium, against the real gateway
 * with its bill's clock in the test's hands: "This month: $12.40 of $40" for a team within its
 * budget; past it, the line says what is refused, a warm-up is refused with the gateway's
 * reason, and with a hard stop a question fails at once with the budget named (no retry loop).
 */
import * as assert from "assert";
import { Browser } from "playwright-core";
import { sha256Hex } from "../../gateway/src/index";
import { KEY, KEY2, MODEL } from "../gateway/helpers";
import { cspViolations, launchChromium, openPage, Stack, startStack } from "./helpers";

/** Two hours before the month ends: the forecast (the floor to the month's end) stays within radiology's budget. */
const T0 = Date.UTC(2026, 11, 31, 22) / 1000;

describe("ui: the team's budget line and budget refusals", function () {
    this.timeout(60000);
    let browser: Browser;
    let s: Stack;
    let clock = T0;

    before(async () => {
        browser = await launchChromium();
        s = await startStack({
            gateway: (upstream) => ({
                pools: [{ name: "a10g", models: [MODEL], upstreams: [upstream], billing: { nodePool: "a10g", nodeUsdPerHour: 1.006 } }],
                auth: {
                    keys: [
                        { team: "radiology", sha256: sha256Hex(KEY) },
                        { team: "cardiology", sha256: sha256Hex(KEY2), permissions: ["warmup"] },
                    ],
                },
                // $24.80 of floor an hour, two teams: $12.40 each after an hour.
                billing: { floorUsdPerHour: 24.8 },
                limits: { teams: { radiology: { budgetUsdPerMonth: 40 }, cardiology: { budgetUsdPerMonth: 10, budgetHardStop: true } } },
            }),
            gatewayOptions: { now: () => clock * 1000 },
        });
        clock = T0 + 3600;
        await s.gateway.billing.settle();
    });
    after(async () => {
        await s?.close();
        await browser?.close();
    });

    it("shows 'This month: $12.40 of $40' to a team within its budget", async () => {
        const p = await openPage(browser, s.ui.url, { key: KEY });
        await p.page.waitForSelector("#budget", { state: "visible", timeout: 10000 });
        assert.strictEqual(await p.page.textContent("#budget"), "This month: $12.40 of $40.");
        assert.strictEqual(await p.page.getAttribute("#budget", "data-level"), "ok");
        await p.screenshot("30-budget-line");
        assert.deepStrictEqual(await cspViolations(p.page), []);
        assert.deepStrictEqual(p.problems, []);
        await p.context.close();
    });

    it("past the budget: says what is refused, refuses the warm-up with the gateway's reason, and fails a question at once (hard stop)", async () => {
        const p = await openPage(browser, s.ui.url, { key: KEY2 });
        const { page } = p;
        await page.waitForSelector("#budget[data-level=over]", { timeout: 10000 });
        assert.strictEqual(
            await page.textContent("#budget"),
            "This month: $12.40 of $10. Budget reached: questions, warm-ups and new batches are refused until the month ends or the budget is raised.",
        );
        // The warm-up button (cardiology may warm up) gets the gateway's refusal, naming the budget.
        await page.waitForSelector("#warmup", { state: "visible", timeout: 10000 });
        await page.waitForFunction(() => (document.getElementById("model") as HTMLSelectElement).value !== "", undefined, { timeout: 10000 });
        await page.click("#warmup");
        await page.waitForFunction(() => /monthly budget/.test(document.getElementById("warmup-status")!.textContent), undefined, { timeout: 5000 });
        assert.match(
            (await page.textContent("#warmup-status"))!,
            /Team 'cardiology' has spent \$12\.40 of its \$10\.00 monthly budget \(limits\.teams\.cardiology\.budgetUsdPerMonth\): warm-ups are refused/,
        );
        assert.ok(await page.isEnabled("#warmup"));
        // A question: one request, refused, the reason shown; no countdown to a retry.
        const before = s.fake!.stats().requests;
        await page.fill("#question", "What is on this image?");
        await page.click("#analyze");
        await page.waitForSelector("#error:not([hidden])", { timeout: 5000 });
        assert.match((await page.textContent("#error"))!, /has spent \$12\.40 of its \$10\.00 monthly budget .*its requests are refused \(budgetHardStop\)/);
        assert.ok(await page.isHidden("#status-box"), "no 'retrying in' countdown for a budget refusal");
        assert.strictEqual(s.fake!.stats().requests, before, "the question never reached the worker");
        await p.screenshot("31-budget-refused");
        assert.deepStrictEqual(await cspViolations(page), []);
        assert.deepStrictEqual(p.problems, []);
        await p.context.close();
    });
});
