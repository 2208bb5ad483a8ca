/// <reference lib="dom" />
/**
 * The Batch view in Debian's chromium against the real gateway (batch on a real redis-server)
 * and a fake vLLM: five images (four PNG, one DICOM) with one prompt, progress from
 * request_counts, the results table, CSV and JSONL downloads, and the team's batch list after
 * a reload. No file name or DICOM tag leaves the browser.
 */
import * as assert from "assert";
import * as fs from "fs";
import { Browser } from "playwright-core";
import { startRedis, RedisServer } from "../helpers/redis";
import { KEY } from "../gateway/helpers";
import { identifyingStrings, writeDicom } from "./dicom";
import { cspViolations, launchChromium, lastUserContent, OpenPage, openPage, Stack, startStack } from "./helpers";
import { writePng } from "./png";

describe("ui: the Batch view in chromium against the real gateway and a real redis-server", function () {
    this.timeout(60_000);
    let browser: Browser;
    let redis: RedisServer;
    let stack: Stack;
    let p: OpenPage | undefined;

    before(async function () {
        this.timeout(60_000);
        [browser, redis] = await Promise.all([launchChromium(), startRedis()]);
        stack = await startStack({
            fake: { tokenDelayMs: 20 },
            gateway: { batch: { redisUrl: redis.url, keyPrefix: `ui${process.pid}:{b}:`, metricsIntervalSeconds: 0.5, leaseSeconds: 2 } },
        });
    });
    after(async () => {
        await p?.context.close().catch(() => undefined);
        await stack?.close();
        await browser?.close();
        await redis?.stop();
    });

    it("converts five images (one DICOM) like the chat view, shows progress and results, downloads CSV and JSONL, and lists the batch after a reload", async () => {
        p = await openPage(browser, stack.ui.url, { key: KEY });
        const page = p.page;
        await page.waitForSelector("#model:not([disabled])");
        const pngs = [0, 1, 2, 3].map((k) => ({
            name: `slice-${k + 1}.png`,
            mimeType: "image/png",
            buffer: writePng(1600, 1200, (x, y) => [(x + k * 40) % 256, y % 256, 90]),
        }));
        const pixels = Array.from({ length: 64 * 64 }, (_, i) => (i % 64) * 40);
        const dicom = {
            name: "Doe_Jane_ct.dcm",
            mimeType: "application/dicom",
            buffer: writeDicom({ rows: 64, columns: 64, bitsStored: 12, pixels, windows: [{ center: 1200, width: 2400 }], modality: "CT" }),
        };
        await page.fill("#batch-prompt", "Describe the findings");
        await page.setInputFiles("#batch-files", [...pngs, dicom]);
        await page.click("#batch-submit");

        // Progress comes from request_counts while the lines run.
        await page.waitForSelector("#batch-detail:not([hidden])", { timeout: 15_000 });
        await page.waitForFunction(
            () => {
                const pr = document.querySelector("#batch-progress") as HTMLProgressElement;
                return pr.max === 5 && pr.value === 5;
            },
            undefined,
            { timeout: 20_000 },
        );
        await page.waitForSelector("#batch-results:not([hidden]) tbody tr:nth-child(5)", { timeout: 10_000 });
        const rows = await page.$$eval("#batch-results tbody tr", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent)));
        assert.deepStrictEqual(
            rows.map((r) => r[0]),
            ["slice-1.png", "slice-2.png", "slice-3.png", "slice-4.png", "Doe_Jane_ct.dcm"],
        );
        for (const r of rows) assert.strictEqual(r[1], "Echo: Describe the findings [image x1]");
        assert.match((await page.textContent("#batch-counts"))!, /5 answered, 0 failed, 0 waiting, of 5/);

        // What reached the worker: the prompt and the pixels (PNG resized like the chat view), no names, no DICOM tags.
        const sent = stack.fake!.requests.map((r) => JSON.stringify(r.body));
        assert.strictEqual(sent.length, 5);
        for (const body of stack.fake!.requests.map((r) => r.body)) {
            const parts = lastUserContent(body);
            assert.deepStrictEqual(
                parts.map((x) => x.type),
                ["text", "image_url"],
            );
            assert.match(parts[1].image_url!.url, /^data:image\/png;base64,/);
        }
        for (const s of [...identifyingStrings(), "Doe_Jane", "slice-1.png"]) assert.ok(!sent.some((b) => b.includes(s)), `"${s}" was sent`);

        // Downloads: CSV (image, custom_id, answer) and the JSONL output as the API returns it.
        const [csvDownload] = await Promise.all([page.waitForEvent("download"), page.click("text=Download CSV")]);
        const csv = fs
            .readFileSync(await csvDownload.path(), "utf8")
            .trim()
            .split("\n");
        assert.strictEqual(csv[0], "image,custom_id,answer");
        assert.strictEqual(csv.length, 6);
        assert.strictEqual(csv[5], "Doe_Jane_ct.dcm,image-5,Echo: Describe the findings [image x1]");
        const [jsonlDownload] = await Promise.all([page.waitForEvent("download"), page.click("text=Download JSONL")]);
        const jsonl = fs
            .readFileSync(await jsonlDownload.path(), "utf8")
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l));
        assert.deepStrictEqual(jsonl.map((l) => l.custom_id).sort(), ["image-1", "image-2", "image-3", "image-4", "image-5"]);
        assert.ok(jsonl.every((l) => l.response.status_code === 200 && l.error === null));
        // Scrolled to the results on a wide screen, the sticky conversation panel stays above the batch view.
        await page.locator("#batch-results").scrollIntoViewIfNeeded();
        const [conv, batch] = await Promise.all([".conversation", "#batch-view"].map(async (sel) => (await page.locator(sel).boundingBox())!));
        assert.ok(conv.y + conv.height <= batch.y, `the conversation panel (${conv.y}-${conv.y + conv.height}) overlaps the batch view (from ${batch.y})`);
        await p.screenshot("batch-1-results");

        // The team's batch list survives a reload, and the selected batch shows its results again.
        await page.reload();
        await page.waitForSelector("#batch-list button[data-batch]");
        assert.match((await page.textContent("#batch-list"))!, /completed · 5\/5 done · “Describe the findings”/);
        await page.waitForSelector("#batch-results:not([hidden]) tbody tr:nth-child(5)", { timeout: 10_000 });
        assert.deepStrictEqual(p.problems, []);
        assert.deepStrictEqual(await cspViolations(page), []);
        await p.screenshot("batch-2-after-reload");
    });
});
