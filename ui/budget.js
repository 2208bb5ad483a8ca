// @ts-check
/**
 * The team's month in one line under the API key: "This month: $12.40 of $40", from
 * GET /v1/usage (the caller's own team only; gateway/src/billing/routes.ts). Warned at 80 %
 * of the budget, and past 100 % it says what the gateway now refuses. Refreshed when the key
 * changes, every minute, and after a refusal. The pure parts (the line, telling a budget
 * refusal from a rate limit) are tested in Node (test/ui/budget.test.ts).
 */
import { authHeaders, jsonOf } from "./api.js";
import { byId, make } from "./dom.js";

const REFRESH_MS = 60_000;

/**
 * GET /v1/usage's answer (the fields the page reads).
 * @typedef {object} Usage
 * @property {number} spent_usd
 * @property {number} forecast_usd
 * @property {number | null} budget_usd
 * @property {boolean} over_budget
 * @property {boolean} hard_stop
 * @property {Account} [account] everything the gateway bills together, when it has a budget (billing.account)
 */

/**
 * @typedef {object} Account
 * @property {string} name
 * @property {number} spent_usd
 * @property {number} forecast_usd
 * @property {number} budget_usd
 * @property {boolean} over_budget
 * @property {boolean} hard_stop
 */

/**
 * Dollars as a person writes them: $40 for a whole amount, $12.40 otherwise.
 * @param {number} usd
 */
export function dollars(usd) {
    const cents = Math.round(usd * 100);
    return cents % 100 === 0 ? `$${cents / 100}` : `$${(cents / 100).toFixed(2)}`;
}

/**
 * The line and how loud it is: "ok", "warn" (80 % of the budget or forecast past it), "over"; with an
 * account (the whole team stack), its sentence follows and the louder of the two wins.
 * @param {{ spent_usd: number, forecast_usd: number, budget_usd: number | null, over_budget: boolean, hard_stop: boolean, account?: Account }} u
 * @returns {{ text: string, level: "ok" | "warn" | "over" }}
 */
export function budgetLine(u) {
    const own = teamLine(u);
    if (!u.account) return own;
    const a = u.account;
    const share = a.spent_usd / a.budget_usd;
    /** @type {{ text: string, level: "ok" | "warn" | "over" }} */
    const acc = a.over_budget
        ? {
              text: `${a.name}, every key together: ${dollars(a.spent_usd)} of ${dollars(a.budget_usd)}. Budget reached: ${a.hard_stop ? "questions, warm-ups and new batches are refused" : "warm-ups and new batches are refused; questions to running models still work"}.`,
              level: "over",
          }
        : {
              text: `${a.name}, every key together: ${dollars(a.spent_usd)} of ${dollars(a.budget_usd)}${share >= 0.8 ? ` (${Math.floor(share * 100)} % used)` : ""}.`,
              level: share >= 0.8 || a.forecast_usd > a.budget_usd ? "warn" : "ok",
          };
    const rank = { ok: 0, warn: 1, over: 2 };
    return { text: `${own.text} ${acc.text}`, level: rank[acc.level] > rank[own.level] ? acc.level : own.level };
}

/**
 * The calling team's own sentence.
 * @param {{ spent_usd: number, forecast_usd: number, budget_usd: number | null, over_budget: boolean, hard_stop: boolean }} u
 * @returns {{ text: string, level: "ok" | "warn" | "over" }}
 */
function teamLine(u) {
    const spent = dollars(u.spent_usd);
    if (u.budget_usd === null) return { text: `This month: ${spent} (no budget set).`, level: "ok" };
    const budget = dollars(u.budget_usd);
    if (u.over_budget) {
        const refused = u.hard_stop
            ? "questions, warm-ups and new batches are refused"
            : "warm-ups and new batches are refused; questions to running models still work";
        return { text: `This month: ${spent} of ${budget}. Budget reached: ${refused} until the month ends or the budget is raised.`, level: "over" };
    }
    const share = u.spent_usd / u.budget_usd;
    if (share >= 0.8) return { text: `This month: ${spent} of ${budget} (${Math.floor(share * 100)} % used).`, level: "warn" };
    if (u.forecast_usd > u.budget_usd)
        return { text: `This month: ${spent} of ${budget}; at this pace ${dollars(u.forecast_usd)} by the month's end.`, level: "warn" };
    return { text: `This month: ${spent} of ${budget}.`, level: "ok" };
}

/**
 * A refusal because the team's budget is used up (429 insufficient_quota, code budget_exceeded):
 * retrying does not help, unlike a rate limit.
 * @param {number} status
 * @param {{ code: string }} error
 */
export function isBudgetRefusal(status, error) {
    return status === 429 && error.code === "budget_exceeded";
}

/** @type {() => Promise<void>} */
let refreshNow = async () => undefined;

/** Reads the team's month again (after a refusal, the line must say why). */
export function refreshBudget() {
    return refreshNow();
}

/** Adds the line under the API key and keeps it current. */
export function initBudget() {
    const line = make("p", { id: "budget", class: "budget", role: "status", "aria-live": "polite", hidden: true });
    byId("key-hint", HTMLElement).after(line);
    refreshNow = async () => {
        if (!authHeaders().authorization) {
            line.hidden = true;
            return;
        }
        try {
            const res = await fetch("/v1/usage", { headers: authHeaders(), cache: "no-store" });
            if (!res.ok) {
                // 401 (the key field says why), or a gateway without bills: no line.
                line.hidden = true;
                return;
            }
            const { text, level } = budgetLine(/** @type {Usage} */ (await jsonOf(res)));
            line.textContent = text;
            line.dataset.level = level;
            line.hidden = false;
        } catch {
            // Offline for a moment: keep the last line.
        }
    };
    byId("api-key", HTMLInputElement).addEventListener("change", () => void refreshNow());
    setInterval(() => void refreshNow(), REFRESH_MS);
    void refreshNow();
}
