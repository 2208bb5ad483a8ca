/** Per-team limits (concurrency, request rate) and per-team usage metrics. */
import * as assert from "assert";
import { TeamLimiter } from "../../gateway/src/limits";
import { parseConfig } from "../../gateway/src/index";
import { chatBody, config, fake, gateway, KEY2, metric, metrics, post, postStream, waitFor } from "./helpers";

describe("gateway team limits and usage", function () {
    it("refuses a team's request over its concurrency limit with 429, without affecting other teams", async () => {
        const f = await fake({ tokenDelayMs: 100 });
        const gw = await gateway(config([f.url], { limits: { teams: { radiology: { maxConcurrent: 2 } } } }));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const held = [post(gw.url, chatBody("a b c")), post(gw.url, chatBody("d e f"))];
        await waitFor(() => f.stats().running === 2, 2000);
        const over = await post(gw.url, chatBody("g"));
        assert.strictEqual(over.status, 429);
        assert.strictEqual(over.json.error.code, "concurrency_limit_exceeded");
        assert.ok(Number(over.headers["retry-after"]) >= 1);
        const other = await post(gw.url, chatBody("other team"), { key: KEY2 });
        assert.strictEqual(other.status, 200);
        assert.deepStrictEqual(
            (await Promise.all(held)).map((r) => r.status),
            [200, 200],
        );
        // Slots are released: the team may send again.
        assert.strictEqual((await post(gw.url, chatBody("again"))).status, 200);
    });

    it("counts queued requests against the concurrency limit", async () => {
        const gw = await gateway(config(["http://127.0.0.1:9"], { limits: { default: { maxConcurrent: 1 } } }));
        const ac = new AbortController();
        const queued = post(gw.url, chatBody("waiting"), { signal: ac.signal }).catch(() => undefined);
        await waitFor(() => gw.pools.get("a10g")!.queueDepth === 1, 2000);
        assert.strictEqual((await post(gw.url, chatBody("second"))).status, 429);
        ac.abort();
        await queued;
    });

    it("limits a team's request rate with 429 and Retry-After", async () => {
        const f = await fake();
        const gw = await gateway(config([f.url], { limits: { default: { requestsPerMinute: 6, burst: 2 } } }));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        assert.strictEqual((await post(gw.url, chatBody("1"))).status, 200);
        assert.strictEqual((await post(gw.url, chatBody("2"))).status, 200);
        const third = await post(gw.url, chatBody("3"));
        assert.strictEqual(third.status, 429);
        assert.strictEqual(third.json.error.code, "rate_limit_exceeded");
        // 6 per minute: one token every 10 s.
        const retry = Number(third.headers["retry-after"]);
        assert.ok(retry >= 9 && retry <= 10, `Retry-After ${retry}`);
        assert.strictEqual((await post(gw.url, chatBody("other"), { key: KEY2 })).status, 200, "the default applies per team");
        assert.strictEqual(f.requests.length, 3);
    });

    it("refills the rate bucket over time", () => {
        let now = 0;
        const limiter = new TeamLimiter(
            parseConfig({
                pools: [{ name: "p", models: ["m"], upstreams: ["http://127.0.0.1:1"] }],
                auth: { disabled: true },
                limits: { default: { requestsPerMinute: 60, burst: 1 } },
            }),
            () => now,
        );
        const ok = (v: unknown) => typeof v === "function";
        assert.ok(ok(limiter.admit("t")));
        assert.ok(!ok(limiter.admit("t")));
        now = 999;
        assert.ok(!ok(limiter.admit("t")));
        now = 1000;
        assert.ok(ok(limiter.admit("t")));
    });

    it("reports requests and tokens per team from the upstream's usage (stream and non-stream)", async () => {
        const f = await fake();
        const gw = await gateway(config([f.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const a = await post(gw.url, chatBody("one two three"));
        const b = await postStream(gw.url, chatBody("four five", { stream_options: { include_usage: true } }));
        const c = await post(gw.url, chatBody("six"), { key: KEY2 });
        const streamUsage = b.events.at(-1).usage;
        const m = await metrics(gw.url);
        assert.strictEqual(metric(m, "gateway_team_requests_total", { team: "radiology", pool: "a10g", code: "200" }), 2);
        assert.strictEqual(metric(m, "gateway_team_requests_total", { team: "cardiology", pool: "a10g", code: "200" }), 1);
        assert.strictEqual(
            metric(m, "gateway_team_tokens_total", { team: "radiology", pool: "a10g", kind: "completion" }),
            a.json.usage.completion_tokens + streamUsage.completion_tokens,
        );
        assert.strictEqual(
            metric(m, "gateway_team_tokens_total", { team: "radiology", pool: "a10g", kind: "prompt" }),
            a.json.usage.prompt_tokens + streamUsage.prompt_tokens,
        );
        assert.strictEqual(metric(m, "gateway_team_tokens_total", { team: "cardiology", pool: "a10g", kind: "completion" }), c.json.usage.completion_tokens);
    });
});
