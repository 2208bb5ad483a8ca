/** ui/budget.js in Node: the team's line ("This month: $12.40 of $40") and telling a budget refusal from a rate limit. */
import * as assert from "assert";
import { budgetLine, dollars, isBudgetRefusal } from "../../ui/budget.js";

const usage = (spent: number, budget: number | null, extra: Partial<{ forecast_usd: number; over_budget: boolean; hard_stop: boolean }> = {}) => ({
    spent_usd: spent,
    forecast_usd: spent,
    budget_usd: budget,
    over_budget: budget !== null && spent >= budget,
    hard_stop: false,
    ...extra,
});

describe("ui/budget.js: the team's month in one line", () => {
    it("writes dollars as people do: whole amounts without cents", () => {
        assert.deepStrictEqual([dollars(40), dollars(12.4), dollars(0.004), dollars(7.999)], ["$40", "$12.40", "$0", "$8"]);
    });

    it("says the month so far against the budget, warns at 80 % and when the forecast passes it", () => {
        assert.deepStrictEqual(budgetLine(usage(12.4, 40)), { text: "This month: $12.40 of $40.", level: "ok" });
        assert.deepStrictEqual(budgetLine(usage(33, 40)), { text: "This month: $33 of $40 (82 % used).", level: "warn" });
        assert.deepStrictEqual(budgetLine(usage(12.4, 40, { forecast_usd: 51.3 })), {
            text: "This month: $12.40 of $40; at this pace $51.30 by the month's end.",
            level: "warn",
        });
        assert.deepStrictEqual(budgetLine(usage(5, null)), { text: "This month: $5 (no budget set).", level: "ok" });
    });

    it("past 100 % says what the gateway refuses, with and without a hard stop", () => {
        assert.deepStrictEqual(budgetLine(usage(41.2, 40)), {
            text: "This month: $41.20 of $40. Budget reached: warm-ups and new batches are refused; questions to running models still work until the month ends or the budget is raised.",
            level: "over",
        });
        assert.match(
            budgetLine(usage(41.2, 40, { hard_stop: true })).text,
            /Budget reached: questions, warm-ups and new batches are refused until the month ends/,
        );
    });

    it("adds the account's sentence (every key of a team stack together), and the louder level wins", () => {
        const account = (spent: number, budget: number) => ({
            name: "biology",
            spent_usd: spent,
            forecast_usd: spent,
            budget_usd: budget,
            over_budget: spent >= budget,
            hard_stop: false,
        });
        assert.deepStrictEqual(budgetLine({ ...usage(3, null), account: account(12.4, 40) }), {
            text: "This month: $3 (no budget set). biology, every key together: $12.40 of $40.",
            level: "ok",
        });
        assert.deepStrictEqual(budgetLine({ ...usage(3, 10), account: account(41, 40) }), {
            text: "This month: $3 of $10. biology, every key together: $41 of $40. Budget reached: warm-ups and new batches are refused; questions to running models still work.",
            level: "over",
        });
        assert.strictEqual(budgetLine({ ...usage(9, 10), account: account(1, 40) }).level, "warn", "the team's 90 % is louder than the account's 2.5 %");
    });

    it("a 429 with code budget_exceeded is a budget refusal; a rate limit or queue-full 429 is not", () => {
        assert.strictEqual(isBudgetRefusal(429, { code: "budget_exceeded" }), true);
        assert.strictEqual(isBudgetRefusal(429, { code: "rate_limit_exceeded" }), false);
        assert.strictEqual(isBudgetRefusal(429, { code: "queue_full" }), false);
        assert.strictEqual(isBudgetRefusal(503, { code: "budget_exceeded" }), false);
    });
});
