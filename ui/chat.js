// @ts-check
/**
 * Asking: the question and its images go to POST /v1/chat/completions (stream: true) on this
 * origin, the answer streams into the conversation. While the gateway holds the question (a
 * pool starting from zero) the page says how long it has waited; on 503 + Retry-After (cold
 * start) or 429 (rate limit) it counts down and tries again until an answer comes or the user
 * presses Stop. The page sets no timeout of its own: the gateway's hold bound decides.
 */
import { authHeaders, readError } from "./api.js";
import { isBudgetRefusal, refreshBudget } from "./budget.js";
import { addTurn, answerEnds, answerStarts, clearLog, finishTurn } from "./conversation.js";
import { byId, plural, show } from "./dom.js";
import { encode } from "./image-draw.js";
import { imageError, pending, removeAttachment, setUsedImages, updateFileHint } from "./images.js";
import { countdown, holdingDetail, retryAfterSeconds, retryMessage } from "./retry.js";
import { hintFor, keepKey, keyMessage, selectedModel, showKeyError, timesFor } from "./settings.js";
import { readAnswer } from "./sse.js";

const ui = {
    key: byId("api-key", HTMLInputElement),
    model: byId("model", HTMLSelectElement),
    form: byId("ask-form", HTMLFormElement),
    question: byId("question", HTMLTextAreaElement),
    analyze: byId("analyze", HTMLButtonElement),
    stop: byId("stop", HTMLButtonElement),
    statusBox: byId("status-box", HTMLElement),
    status: byId("status", HTMLElement),
    countdown: byId("countdown", HTMLElement),
    error: byId("error", HTMLElement),
};

/** @typedef {{ role: "user" | "assistant", content: unknown }} Message */

/** The conversation so far, as sent to the API (images as data URLs). @type {Message[]} */
let history = [];
let historyImages = 0;
/** The running request. @type {AbortController | null} */
let busy = null;
/** Bumped by Clear: a request still finishing must not write into the new conversation. */
let generation = 0;

/**
 * @param {string} message
 * @param {string} [detail]
 */
function setStatus(message, detail) {
    if (ui.status.textContent !== message) ui.status.textContent = message;
    ui.countdown.textContent = detail || "";
    ui.statusBox.hidden = false;
}
function clearStatus() {
    ui.statusBox.hidden = true;
    ui.status.textContent = "";
    ui.countdown.textContent = "";
}
/** @param {string} text */
function showError(text) {
    show(ui.error, text);
}

/** @param {boolean} on */
function setBusy(on) {
    ui.analyze.disabled = on;
    ui.stop.disabled = !on;
    ui.form.setAttribute("aria-busy", on ? "true" : "false");
}

/**
 * Sends the request, retrying cold starts and rate limits; streams the answer into the turn.
 * @param {string} model
 * @param {Message[]} messages
 * @param {import("./conversation.js").Turn} turn
 * @param {() => void} onFirstToken
 * @returns {Promise<import("./sse.js").Answer>}
 */
async function run(model, messages, turn, onFirstToken) {
    const controller = new AbortController();
    const signal = controller.signal;
    busy = controller;
    setBusy(true);
    const body = JSON.stringify({ model, messages, stream: true });
    const times = timesFor(model);
    try {
        for (let attempt = 1; ; attempt++) {
            const sentAt = Date.now();
            const waiting = setInterval(() => {
                const s = Math.round((Date.now() - sentAt) / 1000);
                if (s >= 2) setStatus("Waiting for the model to start answering…", holdingDetail(s, times));
            }, 500);
            let res;
            try {
                res = await fetch("/v1/chat/completions", {
                    method: "POST",
                    headers: { "content-type": "application/json", accept: "text/event-stream", ...authHeaders() },
                    body,
                    signal,
                    cache: "no-store",
                });
            } catch (e) {
                if (signal.aborted) return { outcome: "stopped", text: "" };
                return {
                    outcome: "error",
                    text: "",
                    message: `Cannot reach the server (${e instanceof Error ? e.message : String(e)}). Check the connection and try again.`,
                };
            } finally {
                clearInterval(waiting);
            }
            if (res.status === 503 || res.status === 429) {
                const err = await readError(res);
                // The team's budget is used up (with a hard stop): waiting does not help.
                if (isBudgetRefusal(res.status, err)) {
                    void refreshBudget();
                    return { outcome: "error", text: "", message: err.message };
                }
                const message = retryMessage(res.status, err, times);
                const seconds = retryAfterSeconds(res.headers.get("retry-after"), res.status === 503 ? 10 : 5);
                const go = await countdown(seconds, signal, (left) =>
                    setStatus(message, `Retrying in ${left} s (attempt ${attempt + 1}). Press Stop or Esc to cancel.`),
                );
                if (!go) return { outcome: "stopped", text: "" };
                continue;
            }
            clearStatus();
            if (res.status === 401) {
                const text = keyMessage(await readError(res));
                showKeyError(text);
                return { outcome: "error", text: "", message: text };
            }
            if (!res.ok) {
                const e = await readError(res);
                return { outcome: "error", text: "", message: `Error ${res.status}${e.message ? `: ${e.message}` : ""}.` };
            }
            if (!res.body) return { outcome: "error", text: "", message: "The server sent an empty answer." };
            answerStarts(turn);
            let first = true;
            try {
                return await readAnswer(res.body, {
                    signal,
                    onDelta: (delta) => {
                        if (first) onFirstToken();
                        first = false;
                        turn.text.append(delta);
                    },
                });
            } finally {
                answerEnds();
            }
        }
    } finally {
        busy = null;
        setBusy(false);
        clearStatus();
    }
}

/** Analyze: checks the question, encodes the images, asks, and keeps the answer in the history. */
export async function analyze() {
    if (busy) return;
    showError("");
    const model = selectedModel();
    const question = ui.question.value.trim();
    if (!model) {
        showError(ui.key.value.trim() ? "No model is available yet; check the API key." : "Enter your API key first, so the page can list the models.");
        (ui.key.value.trim() ? ui.model : ui.key).focus();
        return;
    }
    if (!question) {
        showError("Type a question first.");
        ui.question.focus();
        return;
    }
    const hint = hintFor(model);
    const sending = pending();
    if (historyImages + sending.length > hint.maxImages) {
        showError(`${model} accepts ${plural(hint.maxImages, "image")} per conversation. Remove an image or clear the conversation.`);
        return;
    }
    keepKey();
    let images;
    try {
        images = await Promise.all(sending.map(encode));
    } catch (e) {
        showError(`Could not prepare the images: ${e instanceof Error ? e.message : String(e)}`);
        return;
    }
    /** @type {unknown[]} */
    const content = images.map((im) => ({ type: "image_url", image_url: { url: im.url } }));
    content.push({ type: "text", text: question });
    /** @type {Message} */
    const userMessage = { role: "user", content: images.length ? content : question };
    const turn = addTurn(question, images);
    turn.user.scrollIntoView({ block: "nearest" });
    const onFirstToken = () => {
        // The question is answered: the composer is free for a follow-up about the same images.
        const still = pending();
        for (const a of sending) if (still.includes(a)) removeAttachment(a);
        if (ui.question.value.trim() === question) ui.question.value = "";
    };
    const started = generation;
    const result = await run(model, [...history, userMessage], turn, onFirstToken);
    if (started !== generation) return; // cleared meanwhile
    finishTurn(turn, result);
    if (result.text) {
        history.push(userMessage, { role: "assistant", content: result.text });
        historyImages += images.length;
        setUsedImages(historyImages);
        updateFileHint();
    }
    if (result.outcome === "error") showError(result.message || "Failed.");
}

/** Stop (or Esc): aborts the request or the countdown; the gateway then cancels the generation. */
export function stop() {
    busy?.abort();
}

/** Whether a question is being answered. */
export function isBusy() {
    return busy !== null;
}

/** Clear conversation: starts over with no history and no images. */
export function clearConversation() {
    stop();
    generation++;
    history = [];
    historyImages = 0;
    setUsedImages(0);
    pending().forEach(removeAttachment);
    clearLog();
    ui.question.value = "";
    showError("");
    imageError("");
    clearStatus();
    updateFileHint("Conversation cleared.");
    ui.question.focus();
}
