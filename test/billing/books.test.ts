/**
 * The gateway's books (gateway/src/billing/books.ts) on stored steps, by hand: the month's spend with
 * the floor, the account that adds the idle time nobody used, the forecast, and the month boundary.
 */
import * as assert from "assert";
import { Books } from "../../gateway/src/billing/books";
import type { PoolStep } from "../../gateway/src/billing/meter";
import { MemoryUsage, RETENTION_SECONDS } from "../../gateway/src/billing/store";
import { parseConfig } from "../../gateway/src/config";

const T0 = Date.UTC(2026, 11, 2) / 1000;
const step = (start: number, p: Partial<PoolStep>): PoolStep => ({
    start,
    seconds: 60,
    workerSeconds: 60,
    zeroSeconds: 0,
    zeroAtEnd: false,
    busy: {},
    heldAtZero: {},
    warmups: [],
    ...p,
});
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} != ${b}`);

function config(extra: Record<string, unknown> = {}) {
    return parseConfig({
        pools: [{ name: "p", models: ["m"], upstreams: ["http://127.0.0.1:9"], billing: { nodePool: "g", nodeUsdPerHour: 3.6 } }],
        auth: {
            keys: [
                { team: "a", sha256: "0".repeat(64) },
                { team: "b", sha256: "1".repeat(64) },
            ],
        },
        billing: { floorUsdPerHour: 0.36, account: { name: "lab", budgetUsdPerMonth: 1 } },
        ...extra,
    });
}

describe("billing books", () => {
    it("the account is every team's spend with its floor share plus the idle time nobody used", async () => {
        const store = new MemoryUsage(RETENTION_SECONDS);
        // Minute 0: a busy the whole minute. Minutes 61..62 (an hour later): the worker up, nobody in the trailing hour.
        await store.write("p", "r", [step(T0, { busy: { a: 60 } }), step(T0 + 61 * 60, {}), step(T0 + 62 * 60, {})]);
        const books = new Books(config(), store);
        const now = T0 + 63 * 60;
        await books.fold(now, T0); // metering began at T0 (store.since)
        const a = books.usage("a", now);
        const b = books.usage("b", now);
        // $0.001 per worker-second: a pays 60 s = $0.06. Floor $0.36/h for 63 min = $0.378, half each.
        close(a.gpuUsd, 0.06, "a GPU");
        close(a.floorUsd, 0.189, "a floor");
        close(b.spentUsd, 0.189, "b: floor only");
        const acc = books.account(now)!;
        // Account: 0.06 + 0.378 + the two unused minutes (120 s = $0.12).
        close(acc.spentUsd, 0.06 + 0.378 + 0.12, "account");
        assert.ok(acc.forecastUsd >= acc.spentUsd);
        assert.deepStrictEqual([acc.name, acc.budgetUsd, acc.hardStop], ["lab", 1, false]);
    });

    it("starts a new month at the first step of the month; the month before is not in it", async () => {
        const store = new MemoryUsage(RETENTION_SECONDS);
        const newYear = Date.UTC(2027, 0, 1) / 1000;
        await store.write("p", "r", [step(newYear - 120, { busy: { a: 60 } }), step(newYear, { busy: { a: 30 } })]);
        const books = new Books(config(), store);
        await books.fold(newYear + 60, newYear - 120);
        const a = books.usage("a", newYear + 60);
        // January: only the minute at midnight: a's 30 busy + 30 idle (a is the hour's only user) = $0.06.
        close(a.gpuUsd, 0.06, "January's GPU");
        assert.strictEqual(a.month.start, newYear);
    });

    it("without an account, the books have none", async () => {
        const books = new Books(config({ billing: { floorUsdPerHour: 0 } }), new MemoryUsage());
        assert.strictEqual(books.account(T0), undefined);
    });
});
