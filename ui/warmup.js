// @ts-check
/**
 * "Get GPUs ready for class": for API keys with the `warmup` permission, asks the gateway
 * (POST /v1/warmup) to keep the selected model's workers up for the class, shows a
 * countdown from the gateway's estimate until the model answers, then "ready". It adds its
 * own field to the Settings panel, shown only to keys that may warm up.
 */
import { authHeaders, jsonOf } from "./api.js";
import { isBudgetRefusal, refreshBudget } from "./budget.js";
import { byId, make } from "./dom.js";
import { selectedModel } from "./settings.js";

const POLL_MS = 2000;

/**
 * GET /v1/warmup's answer (gateway/src/warmup.ts).
 * @typedef {{ permitted: boolean, data: Array<{ model: string, ready: boolean, warm_until: string }> }} WarmupList
 */

/** @returns {Promise<WarmupList | null>} */
async function list() {
    const res = await fetch("/v1/warmup", { headers: authHeaders(), cache: "no-store" });
    return res.ok ? /** @type {WarmupList} */ (await jsonOf(res)) : null;
}

/** Adds the warm-up field to Settings and shows it to keys that may warm up. */
export function initWarmup() {
    const button = make("button", { id: "warmup", type: "button", class: "secondary", text: "Get GPUs ready for class" });
    const minutes = make("input", { id: "warmup-minutes", type: "number", min: "1", max: "240", step: "1", value: "60", inputMode: "numeric" });
    const status = make("p", { id: "warmup-status", class: "hint", role: "status", "aria-live": "polite" });
    // The minutes first, then the button: on a 390 px phone the row wraps instead of squeezing the number box.
    const field = make("div", { class: "field warmup", id: "warmup-field", hidden: true }, [
        make("label", { for: "warmup-minutes", text: "Class length (minutes)" }),
        make("div", { class: "row" }, [minutes, button]),
        status,
    ]);
    byId("settings-title", HTMLElement).parentElement?.append(field);

    /** @type {{ timer?: ReturnType<typeof setInterval>, poll?: ReturnType<typeof setTimeout>, deadline: number }} */
    const state = { deadline: 0 };
    /** @param {string} text @param {boolean} [refused] a refusal reads as an error, not a hint */
    const say = (text, refused = false) => {
        status.textContent = text;
        status.classList.toggle("error-text", refused);
    };
    const stopTimers = () => {
        clearInterval(state.timer);
        clearTimeout(state.poll);
        state.timer = state.poll = undefined;
    };
    const tick = () => {
        const left = Math.max(0, Math.round((state.deadline - Date.now()) / 1000));
        say(left > 0 ? `GPUs are starting: ready in about ${left} s.` : "GPUs are starting: almost ready…");
    };

    async function poll() {
        try {
            const body = await list();
            const w = body?.data.find((x) => x.model === selectedModel());
            if (w && w.ready) {
                stopTimers();
                say(`Ready: the model answers. Warm until ${new Date(w.warm_until).toLocaleTimeString()}.`);
                button.disabled = false;
                return;
            }
        } catch {
            /* network hiccup: keep polling */
        }
        state.poll = setTimeout(() => void poll(), POLL_MS);
    }

    async function start() {
        const model = selectedModel();
        const n = Number(minutes.value);
        if (!model) return say("Choose a model first.");
        if (!(n >= 1 && n <= 240 && Math.round(n) === n)) return say("Minutes must be a whole number from 1 to 240.");
        button.disabled = true;
        stopTimers();
        try {
            const res = await fetch("/v1/warmup", {
                method: "POST",
                headers: { "content-type": "application/json", ...authHeaders() },
                body: JSON.stringify({ model, minutes: n }),
            });
            const body = /** @type {{ error?: { code?: string, message?: string }, ready_in_seconds_estimate: number }} */ (
                await jsonOf(res).catch(() => ({}))
            );
            if (res.status !== 202) {
                button.disabled = false;
                if (isBudgetRefusal(res.status, { code: body.error?.code ?? "" })) void refreshBudget();
                return say(body.error?.message || `The gateway refused the warm-up (HTTP ${res.status}).`, true);
            }
            state.deadline = Date.now() + body.ready_in_seconds_estimate * 1000;
            tick();
            state.timer = setInterval(tick, 1000);
            void poll();
        } catch (e) {
            button.disabled = false;
            say(`Could not reach the gateway: ${e instanceof Error ? e.message : String(e)}`, true);
        }
    }

    async function refresh() {
        if (!authHeaders().authorization) {
            field.hidden = true;
            return;
        }
        try {
            const body = await list();
            field.hidden = !(body && body.permitted);
        } catch {
            field.hidden = true;
        }
    }

    button.addEventListener("click", () => void start());
    byId("api-key", HTMLInputElement).addEventListener("change", () => void refresh());
    void refresh();
}
