/** ui/retry.js in Node: what the page says and waits through a cold start (the figures come from the gateway). */
import * as assert from "assert";
import { Clock, countdown, holdingDetail, retryAfterSeconds, retryMessage, spoken } from "../../ui/retry.js";

/** A clock the test moves by hand: `every` callbacks run on advance(). */
function fakeClock() {
    let now = 1_000_000;
    const timers = new Map<number, { fn: () => void; ms: number; next: number }>();
    let id = 0;
    const clock: Clock = {
        now: () => now,
        every: (fn, ms) => {
            timers.set(++id, { fn, ms, next: now + ms });
            return id;
        },
        cancel: (h) => void timers.delete(h as number),
    };
    const advance = (ms: number) => {
        const end = now + ms;
        for (;;) {
            const due = [...timers.values()].filter((t) => t.next <= end).sort((a, b) => a.next - b.next)[0];
            if (!due) break;
            now = due.next;
            due.next += due.ms;
            due.fn();
        }
        now = end;
    };
    return { clock, advance, timers };
}

describe("ui/retry.js: cold starts and rate limits, as the page tells them", () => {
    it("reads Retry-After as seconds or an HTTP date, bounded to 1..600", () => {
        assert.strictEqual(retryAfterSeconds("30", 10), 30);
        assert.strictEqual(retryAfterSeconds(" 0 ", 10), 1);
        assert.strictEqual(retryAfterSeconds("99999", 10), 600);
        assert.strictEqual(retryAfterSeconds(null, 10), 10);
        assert.strictEqual(retryAfterSeconds("soon", 5), 5);
        const now = Date.parse("2026-12-04T10:00:00Z");
        assert.strictEqual(retryAfterSeconds("Fri, 04 Dec 2026 10:00:45 GMT", 10, now), 45);
    });

    it("says durations as people do", () => {
        assert.deepStrictEqual([spoken(45), spoken(158), spoken(540), spoken(3900)], ["45 s", "3 min", "9 min", "1 h 5 min"]);
    });

    it("tells a held user the pool's estimated cold start and the hold bound from the gateway, not a fixed figure", () => {
        const text = holdingDetail(12, { coldStartSeconds: 158, maxWaitSeconds: 540 });
        assert.strictEqual(
            text,
            "Waiting 12 s so far. After a quiet period a GPU worker takes about 3 min to start (this service's estimate); the server keeps your question in line for up to 9 min meanwhile, so keep this page open.",
        );
        // An older gateway gives no figures: no number is made up.
        assert.strictEqual(
            holdingDetail(3, {}),
            "Waiting 3 s so far. After a quiet period a GPU worker takes a few minutes to start; the server keeps your question in line meanwhile, so keep this page open.",
        );
    });

    it("words each 503 and 429 by the gateway's error code", () => {
        const times = { coldStartSeconds: 1320 };
        assert.strictEqual(
            retryMessage(503, { message: "", code: "pool_starting" }, times),
            "GPU workers are starting: after a quiet period a GPU worker takes about 22 min to start (this service's estimate). The page keeps trying.",
        );
        assert.strictEqual(
            retryMessage(503, { message: "", code: "pool_busy" }, times),
            "All GPU workers are busy with other questions. The page will try again.",
        );
        assert.strictEqual(retryMessage(503, { message: "", code: "shutting_down" }, times), "The server is restarting. The page will try again.");
        assert.strictEqual(
            retryMessage(429, { message: "team limit", code: "rate_limit_exceeded" }, times),
            "Too many requests right now (team limit). The page will try again.",
        );
    });

    it("counts down whole seconds and resolves true when the time is up", async () => {
        const { clock, advance, timers } = fakeClock();
        const ticks: number[] = [];
        const done = countdown(2, new AbortController().signal, (left) => ticks.push(left), clock);
        advance(2000);
        assert.strictEqual(await done, true);
        assert.deepStrictEqual([...new Set(ticks)], [2, 1, 0]);
        assert.strictEqual(timers.size, 0, "its timer is cancelled");
    });

    it("resolves false at once when the user stops", async () => {
        const { clock, advance, timers } = fakeClock();
        const controller = new AbortController();
        const ticks: number[] = [];
        const done = countdown(30, controller.signal, (left) => ticks.push(left), clock);
        advance(1000);
        controller.abort();
        assert.strictEqual(await done, false);
        assert.strictEqual(timers.size, 0);
        assert.ok(
            ticks.every((t) => t >= 29),
            `no tick after the stop: ${ticks}`,
        );
        const already = new AbortController();
        already.abort();
        assert.strictEqual(await countdown(5, already.signal, () => assert.fail("no tick"), clock), false);
    });
});
