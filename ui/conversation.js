// @ts-check
/**
 * The conversation view: each question with thumbnails of its images, and its answer as it
 * is written (plain text only: no HTML is ever built from model output), then a note when it
 * is incomplete and a Copy button.
 */
import { byId, make } from "./dom.js";

const ui = { log: byId("log", HTMLOListElement), empty: byId("empty", HTMLElement) };

/**
 * One question and its answer on screen.
 * @typedef {object} Turn
 * @property {HTMLLIElement} user
 * @property {HTMLLIElement} node the answer
 * @property {HTMLParagraphElement} text the answer's text, appended to as it streams
 * @property {HTMLParagraphElement} note
 * @property {HTMLDivElement} actions
 */

/**
 * Adds a question (with thumbnails of the images sent) and an empty answer.
 * @param {string} question
 * @param {import("./images.js").EncodedImage[]} images
 * @returns {Turn}
 */
export function addTurn(question, images) {
    ui.empty.hidden = true;
    const thumbs = images.length
        ? make(
              "div",
              { class: "thumbs" },
              images.map((im, i) => {
                  // A small copy of the sent pixels (cheaper than decoding the data URL again).
                  const scale = Math.min(1, 192 / Math.max(im.width, im.height));
                  const t = make("canvas", {
                      width: Math.max(1, Math.round(im.width * scale)),
                      height: Math.max(1, Math.round(im.height * scale)),
                      role: "img",
                      "aria-label": `Image ${i + 1}: ${im.name} (${im.width}×${im.height})`,
                  });
                  const tctx = /** @type {CanvasRenderingContext2D} */ (t.getContext("2d"));
                  tctx.imageSmoothingQuality = "high";
                  tctx.drawImage(im.canvas, 0, 0, t.width, t.height);
                  return t;
              }),
          )
        : null;
    const user = make("li", { class: "msg user" }, [make("p", { class: "who", text: "You" }), make("p", { class: "text", text: question }), thumbs]);
    const text = make("p", { class: "text answer cursor" });
    const note = make("p", { class: "note", text: "Waiting for the answer…" });
    const actions = make("div", { class: "actions" });
    const node = make("li", { class: "msg assistant", "aria-label": "Answer" }, [make("p", { class: "who", text: "Answer" }), text, note, actions]);
    ui.log.append(user, node);
    return { user, node, text, note, actions };
}

/** The answer starts streaming: the waiting note goes, screen readers wait for the whole answer. */
export function answerStarts(/** @type {Turn} */ turn) {
    turn.note.textContent = "";
    turn.note.hidden = true;
    ui.log.setAttribute("aria-busy", "true");
}

/** The answer stopped streaming (done, cut or stopped). */
export function answerEnds() {
    ui.log.setAttribute("aria-busy", "false");
}

/**
 * Ends a turn: the note says whether the answer is complete; a Copy button when there is text.
 * @param {Turn} turn
 * @param {import("./sse.js").Answer} result
 */
export function finishTurn(turn, result) {
    turn.text.classList.remove("cursor");
    const notes = {
        done: "",
        stopped: result.text ? "Stopped: the answer is incomplete." : "Stopped before an answer arrived.",
        error: result.message || "Failed.",
    };
    turn.note.textContent = notes[result.outcome];
    turn.note.className = `note${result.outcome === "error" ? " bad" : ""}`;
    turn.note.hidden = !turn.note.textContent;
    if (result.text) {
        const copy = make("button", { type: "button", class: "secondary small", text: "Copy answer" });
        const copied = make("span", { class: "copied", role: "status" });
        copy.addEventListener("click", () => void copyText(result.text, copied));
        turn.actions.append(copy, copied);
    }
}

/** Empties the conversation view. */
export function clearLog() {
    ui.log.replaceChildren();
    ui.empty.hidden = false;
}

/**
 * Copies text to the clipboard; plain-HTTP deployments have no async clipboard, so falls back to a selection copy.
 * @param {string} text
 * @param {HTMLElement} feedback
 */
async function copyText(text, feedback) {
    /** @type {boolean} */
    let ok;
    try {
        await navigator.clipboard.writeText(text);
        ok = true;
    } catch {
        const t = make("textarea", { value: text, readOnly: true });
        t.style.position = "fixed";
        t.style.opacity = "0";
        document.body.append(t);
        t.select();
        try {
            ok = document.execCommand("copy");
        } catch {
            ok = false;
        }
        t.remove();
    }
    feedback.textContent = ok ? "Copied." : "Copy failed: select the text and copy it.";
}
