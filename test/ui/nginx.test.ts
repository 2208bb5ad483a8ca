/// <reference lib="dom" />
/**
 * The UI's generated nginx config under Debian's real nginx (1.22 here; the image runs 1.29):
 * every answer the page needs carries the security headers, the right caching and gzip, and
 * the page runs in chromium under that CSP without a violation.
 */
import * as assert from "assert";
import * as zlib from "zlib";
import { Browser } from "playwright-core";
import { CSP, HSTS, readUiFiles, uiNginxConf } from "../../components/serving/ui";
import { get, RunningNginx, startNginx } from "../helpers/nginx";
import { cspViolations, launchChromium, openPage } from "./helpers";

const SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": CSP,
};
const TYPES: Record<string, RegExp> = {
    html: /^text\/html/,
    js: /javascript/,
    css: /^text\/css/,
    json: /^application\/json/,
    svg: /^image\/svg\+xml/,
    txt: /^text\/plain/,
};

describe("ui: the generated nginx config under real nginx", function () {
    this.timeout(30_000);
    const files = readUiFiles();
    const assets = Object.keys(files).filter((f) => f !== "index.html");

    it("is the shipped config except for listen and root", () => {
        for (const tls of [false, true]) {
            const shipped = uiNginxConf({ tls }).split("\n");
            const tested = uiNginxConf({ tls, listen: "127.0.0.1:1", root: "/tmp/x" }).split("\n");
            const differing = shipped.filter((l, i) => l !== tested[i]).map((l) => l.trim().split(" ")[0]);
            assert.deepStrictEqual(differing, ["listen", "root"]);
        }
        assert.doesNotMatch(CSP, /script-src[^;]*unsafe-inline/, "no inline script is needed");
    });

    for (const tls of [false, true]) {
        describe(tls ? "with TLS at the ALB" : "without TLS", () => {
            let nginx: RunningNginx;
            before(async () => {
                nginx = await startNginx((listen, root) => uiNginxConf({ tls, listen, root }), files);
            });
            after(() => nginx?.stop());

            const expectSecurity = (path: string, h: Record<string, unknown>) => {
                for (const [name, value] of Object.entries(SECURITY)) assert.strictEqual(h[name], value, `${path}: ${name}`);
                assert.strictEqual(h["strict-transport-security"], tls ? HSTS : undefined, `${path}: HSTS only with TLS`);
            };

            for (const path of ["/", "/index.html", "/chat/42?model=x"]) {
                it(`${path} is the page with every security header and no-store`, async () => {
                    const r = await get(nginx.url + path);
                    assert.strictEqual(r.status, 200);
                    assert.strictEqual(r.body.toString("utf8"), files["index.html"]);
                    assert.match(String(r.headers["content-type"]), TYPES.html);
                    expectSecurity(path, r.headers);
                    assert.strictEqual(r.headers["cache-control"], "no-store", path);
                });
            }

            it("each asset has every security header, its type and a revalidated cache", async () => {
                assert.ok(assets.includes("main.js") && assets.includes("style.css"));
                for (const name of assets) {
                    const r = await get(`${nginx.url}/${name}`);
                    assert.strictEqual(r.status, 200, name);
                    assert.strictEqual(r.body.toString("utf8"), files[name], name);
                    assert.match(String(r.headers["content-type"]), TYPES[name.split(".").pop()!], name);
                    expectSecurity(name, r.headers);
                    // no-cache: stored but revalidated on each use, so a deploy never runs old code.
                    assert.strictEqual(r.headers["cache-control"], "no-cache", name);
                    assert.ok(r.headers.etag, `${name}: an ETag to revalidate against`);
                    const again = await get(`${nginx.url}/${name}`, { "if-none-match": String(r.headers.etag) });
                    assert.strictEqual(again.status, 304, `${name}: unchanged -> 304`);
                }
            });

            it("gzips text assets for clients that accept it", async () => {
                for (const name of ["main.js", "style.css", "index.html"]) {
                    const r = await get(`${nginx.url}/${name}`, { "accept-encoding": "gzip" });
                    assert.strictEqual(r.headers["content-encoding"], "gzip", name);
                    assert.match(String(r.headers.vary), /Accept-Encoding/, name);
                    assert.strictEqual(zlib.gunzipSync(r.body).toString("utf8"), files[name], name);
                    expectSecurity(name, r.headers);
                }
            });

            it("/healthz answers ok with the security headers", async () => {
                const r = await get(`${nginx.url}/healthz`);
                assert.strictEqual(r.body.toString(), "ok\n");
                expectSecurity("/healthz", r.headers);
            });
        });
    }
});

describe("ui: the page in chromium under the nginx CSP", function () {
    this.timeout(30_000);
    let browser: Browser;
    let nginx: RunningNginx;
    const files = readUiFiles();
    // A page with an inline script: proves a violation is seen when there is one.
    const probe = { "csp-probe.html": "<!doctype html><html data-ready=true><body><script>document.title = 'inline';</script></body></html>" };
    before(async () => {
        [browser, nginx] = await Promise.all([
            launchChromium(),
            startNginx((listen, root) => uiNginxConf({ tls: true, listen, root }), { ...files, ...probe }),
        ]);
    });
    after(async () => {
        await browser?.close();
        await nginx?.stop();
    });

    it("loads the page and its scripts with no CSP violation", async () => {
        const p = await openPage(browser, `${nginx.url}/`);
        try {
            await p.page.waitForLoadState("networkidle");
            assert.deepStrictEqual(await cspViolations(p.page), []);
            assert.deepStrictEqual(
                p.problems.filter((m) => /Content Security Policy/i.test(m)),
                [],
            );
            // The scripts did run (defer scripts from 'self').
            assert.ok(await p.page.evaluate(() => document.querySelectorAll("script[src]").length >= 3));
        } finally {
            await p.context.close();
        }
    });

    it("reports an inline script as a violation (the check can fail)", async () => {
        const p = await openPage(browser, `${nginx.url}/csp-probe.html`);
        try {
            assert.notStrictEqual(await p.page.title(), "inline", "the inline script must not run");
            assert.match((await cspViolations(p.page)).join("\n"), /script-src/);
        } finally {
            await p.context.close();
        }
    });
});
