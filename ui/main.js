// @ts-check
/**
 * The page's entry (index.html loads it as a module): wires the controls, the keyboard, paste
 * and drag and drop to the modules, adds the warm-up field and the batch view, lists the
 * models, then marks the page ready (`<html data-ready="true">`, which the browser tests wait for).
 * No framework, no build step; runs under the UI's CSP (script-src 'self').
 */
import { initBatch } from "./batch.js";
import { initBudget } from "./budget.js";
import { analyze, clearConversation, isBusy, stop } from "./chat.js";
import { byId } from "./dom.js";
import { addFiles, redrawAll, updateFileHint } from "./images.js";
import { initSettings, loadHints, loadModels, onModelChange, updateModelHint } from "./settings.js";
import { initWarmup } from "./warmup.js";

const form = byId("ask-form", HTMLFormElement);
const question = byId("question", HTMLTextAreaElement);
const file = byId("file", HTMLInputElement);
const dropZone = byId("drop-zone", HTMLElement);

initSettings();
onModelChange(() => {
    updateFileHint();
    redrawAll();
});
file.addEventListener("change", () => {
    void addFiles(file.files).finally(() => {
        file.value = "";
    });
});
form.addEventListener("submit", (e) => {
    e.preventDefault();
    void analyze();
});
byId("stop", HTMLButtonElement).addEventListener("click", stop);
byId("clear", HTMLButtonElement).addEventListener("click", clearConversation);
question.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        form.requestSubmit();
    }
});
document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && isBusy()) {
        e.preventDefault();
        stop();
    }
});
document.addEventListener("paste", (e) => {
    const files = e.clipboardData?.files;
    if (!files || !files.length) return; // plain text: let it paste
    e.preventDefault();
    void addFiles(files);
});

// The whole page accepts drops (a near miss must not navigate away to the file).
let dragDepth = 0;
/** @param {DragEvent} e */
const hasFiles = (e) => Array.from(e.dataTransfer?.types ?? []).includes("Files");
document.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    dragDepth++;
    dropZone.classList.add("over");
});
document.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) dropZone.classList.remove("over");
});
document.addEventListener("dragover", (e) => {
    if (!hasFiles(e) || !e.dataTransfer) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
});
document.addEventListener("drop", (e) => {
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    e.preventDefault();
    dragDepth = 0;
    dropZone.classList.remove("over");
    void addFiles(e.dataTransfer.files);
});

initBudget();
initWarmup();
initBatch();
updateFileHint();
void loadHints()
    .then(() => {
        updateModelHint();
        updateFileHint();
        return loadModels();
    })
    .finally(() => {
        document.documentElement.dataset.ready = "true";
    });
