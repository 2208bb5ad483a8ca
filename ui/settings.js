// @ts-check
/**
 * The Settings panel: the API key (kept by key-store.js), the model list from GET /v1/models
 * with what the gateway says about each model's pool (estimated cold start, hold bound), and
 * the per-model image hints from models.json (resize target, images per conversation).
 */
import { apiKey, authHeaders, readError } from "./api.js";
import { byId, plural, show, store, stored } from "./dom.js";
import { forgetKey, loadKey, saveKey } from "./key-store.js";

const MODEL_STORE = "gpuserve.model";

/**
 * @typedef {object} ImageHint
 * @property {number} maxSide longest side an image is sent at, px
 * @property {number} maxImages images per conversation (vLLM --limit-mm-per-prompt)
 * @property {string} why the reason shown to the user
 */

/** @type {ImageHint} */
const FALLBACK_HINT = { maxSide: 1024, maxImages: 1, why: "a size most vision-language models read without losing detail" };

/** @type {{ default: ImageHint, models: Record<string, ImageHint> }} */
let hints = { default: FALLBACK_HINT, models: {} };
/** @type {Map<string, import("./retry.js").PoolTimes>} what /v1/models said about each model's pool */
const poolTimes = new Map();
/** @type {Array<() => void>} */
const modelListeners = [];

const ui = {
    key: byId("api-key", HTMLInputElement),
    keyError: byId("key-error", HTMLElement),
    rememberKey: byId("remember-key", HTMLInputElement),
    forgetKey: byId("forget-key", HTMLButtonElement),
    model: byId("model", HTMLSelectElement),
    modelHint: byId("model-hint", HTMLElement),
};

/** The chosen model id ("" until the models are listed). */
export function selectedModel() {
    return ui.model.value;
}

/**
 * The image hint of a model (models.json), else the default.
 * @param {string} model
 * @returns {ImageHint}
 */
export function hintFor(model) {
    return Object.hasOwn(hints.models || {}, model) ? hints.models[model] : hints.default || FALLBACK_HINT;
}

/** The chosen model's image hint. */
export function currentHint() {
    return hintFor(ui.model.value);
}

/**
 * The gateway's figures for a model's pool: estimated cold start and hold bound ({} when it gave none).
 * @param {string} model
 * @returns {import("./retry.js").PoolTimes}
 */
export function timesFor(model) {
    return poolTimes.get(model) ?? {};
}

/**
 * Calls `fn` whenever the chosen model changes (or the list is reloaded).
 * @param {() => void} fn
 */
export function onModelChange(fn) {
    modelListeners.push(fn);
}

/**
 * Shows why the key did not work (401), next to the key field.
 * @param {{ message: string } | undefined} err
 */
export function keyMessage(err) {
    if (!apiKey()) return "Enter your API key (ask whoever runs this service for one).";
    return `The API key was refused (401${err && err.message ? `: ${err.message}` : ""}). Check the key and enter it again.`;
}

/** @param {string} text */
export function showKeyError(text) {
    show(ui.keyError, text);
}

/** Reads models.json; keeps the built-in default when it cannot. */
export async function loadHints() {
    try {
        const res = await fetch("models.json", { cache: "no-cache" });
        /** @type {unknown} */
        const parsed = res.ok ? await res.json() : undefined;
        if (res.ok) hints = /** @type {typeof hints} */ (parsed);
    } catch {
        /* keep the built-in default */
    }
}

/**
 * @param {HTMLOptionElement[]} options
 * @param {boolean} enabled
 */
function setModelOptions(options, enabled) {
    ui.model.replaceChildren(...options);
    ui.model.disabled = !enabled;
}

/** Lists the models the key may use (GET /v1/models) and keeps the gateway's figures for each. */
export async function loadModels() {
    showKeyError("");
    let res;
    try {
        res = await fetch("/v1/models", { headers: authHeaders() });
    } catch (e) {
        setModelOptions([new Option("Server unreachable", "")], false);
        ui.modelHint.textContent = `Cannot reach the server to list the models (${e instanceof Error ? e.message : String(e)}).`;
        return;
    }
    if (res.status === 401) {
        showKeyError(keyMessage(await readError(res)));
        setModelOptions([new Option("Enter a valid API key first", "")], false);
        modelChanged();
        return;
    }
    if (!res.ok) {
        const err = await readError(res);
        setModelOptions([new Option("Models unavailable", "")], false);
        ui.modelHint.textContent = `Could not list the models (${res.status}${err.message ? `: ${err.message}` : ""}).`;
        return;
    }
    /** @type {Array<{ id: unknown, cold_start_seconds_estimate?: unknown, max_wait_seconds?: unknown }>} */
    let data = [];
    try {
        /** @type {unknown} */
        const parsed = await res.json();
        data = /** @type {{ data?: typeof data }} */ (parsed).data || [];
    } catch {
        /* handled below */
    }
    const ids = data.map((m) => String(m.id));
    poolTimes.clear();
    for (const m of data) {
        /** @param {unknown} v */
        const seconds = (v) => (typeof v === "number" && v > 0 ? v : undefined);
        poolTimes.set(String(m.id), { coldStartSeconds: seconds(m.cold_start_seconds_estimate), maxWaitSeconds: seconds(m.max_wait_seconds) });
    }
    if (!ids.length) {
        setModelOptions([new Option("No models served", "")], false);
        ui.modelHint.textContent = "The server lists no models.";
        return;
    }
    const saved = stored(MODEL_STORE);
    setModelOptions(
        ids.map((id) => new Option(id, id)),
        true,
    );
    if (saved && ids.includes(saved)) ui.model.value = saved;
    modelChanged();
}

/** Says how images are resized for the chosen model. */
export function updateModelHint() {
    const h = currentHint();
    ui.modelHint.textContent = ui.model.value
        ? `Images are resized in your browser to at most ${h.maxSide} px on the longest side (${h.why}). Up to ${plural(h.maxImages, "image")} per conversation.`
        : "The models are listed once the API key is accepted.";
}

function modelChanged() {
    if (ui.model.value) store(MODEL_STORE, ui.model.value);
    updateModelHint();
    for (const fn of modelListeners) fn();
}

/** Keeps the key where key-store.js says: the session, or this device when "Remember" is ticked. */
export function keepKey() {
    saveKey(apiKey() || null, ui.rememberKey.checked);
}

/** Fills the key field from the store and wires the key, remember, forget and model controls. */
export function initSettings() {
    const saved = loadKey();
    ui.key.value = saved.key;
    ui.rememberKey.checked = saved.remember;
    ui.rememberKey.addEventListener("change", keepKey);
    ui.key.addEventListener("change", () => {
        keepKey();
        void loadModels();
    });
    ui.forgetKey.addEventListener("click", () => {
        ui.key.value = "";
        ui.rememberKey.checked = false;
        forgetKey();
        void loadModels();
        ui.key.focus();
    });
    ui.model.addEventListener("change", modelChanged);
}
