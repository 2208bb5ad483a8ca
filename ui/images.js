// @ts-check
/**
 * Images waiting to go with the next question: picked, dropped or pasted (PNG, JPEG, DICOM),
 * decoded and listed with their controls; image-draw.js previews each at exactly the size and
 * pixels it is sent with and encodes it. The batch view converts its images with the same
 * functions (loadAttachment here, encode there).
 */
import { byId, make, plural, show } from "./dom.js";
import { dicomControls } from "./dicom-view.js";
import { draw } from "./image-draw.js";
import { currentHint, selectedModel } from "./settings.js";

const MAX_FILE_BYTES = 512 * 1024 * 1024;

/**
 * @typedef {object} Attachment
 * @property {number} id
 * @property {string} name
 * @property {"image" | "dicom"} kind
 * @property {"image/png" | "image/jpeg"} mime what it is sent as
 * @property {number} width source width, px (DICOM: columns)
 * @property {number} height source height, px (DICOM: rows x pixel aspect)
 * @property {HTMLCanvasElement} canvas the preview: the pixels that are sent
 * @property {HTMLElement} sizeNote
 * @property {HTMLLIElement} node
 * @property {ImageBitmap} [source] PNG/JPEG: the decoded image
 * @property {GpuDicomStudy} [study] DICOM: the image attributes
 * @property {GpuDicomReader} [reader] DICOM: the worker holding the file
 * @property {GpuDicomFrame} [frame] DICOM: the frame on screen
 * @property {number} [frameIndex]
 * @property {{ center: number, width: number }} [fileWindow] DICOM: the file's own window
 * @property {{ center: number, width: number }} [win] DICOM: the window on screen
 * @property {{ min: number, max: number }} [range] DICOM: slider range
 * @property {HTMLCanvasElement} [full] DICOM: the frame at full size
 * @property {boolean} [pending] a redraw is scheduled
 */

/**
 * An attachment as sent.
 * @typedef {object} EncodedImage
 * @property {string} url data URL
 * @property {string} name
 * @property {number} width
 * @property {number} height
 * @property {HTMLCanvasElement} canvas
 */

const ui = {
    file: byId("file", HTMLInputElement),
    fileHint: byId("file-hint", HTMLElement),
    imageError: byId("image-error", HTMLElement),
    attachments: byId("attachments", HTMLElement),
};

/** @type {Attachment[]} */
let attachments = [];
/** Images already sent in this conversation (vLLM counts the history's images too). */
let usedImages = 0;
let nextId = 1;

/** The images waiting for the next question. */
export function pending() {
    return attachments.slice();
}

/**
 * Images already in the conversation (set by the chat after each answer, 0 after Clear).
 * @param {number} n
 */
export function setUsedImages(n) {
    usedImages = n;
}

/** Images that may still be added for the chosen model. */
function room() {
    return currentHint().maxImages - usedImages - attachments.length;
}

/**
 * Says how many more images fit, after `extra` (e.g. "Added x.png.").
 * @param {string} [extra]
 */
export function updateFileHint(extra) {
    const model = selectedModel();
    const left = room();
    // Until a model is chosen (no key yet, or a refused one) the limit is not known: say so, not a number.
    const text = !model
        ? "How many images you can add depends on the model, chosen once the API key is accepted."
        : left > 0
          ? `You can add ${plural(left, "more image")} for ${model}.`
          : `No more images for ${model} in this conversation; Clear conversation to start over.`;
    ui.fileHint.textContent = (extra ? `${extra} ` : "") + text;
}

/** @param {string} text */
export function imageError(text) {
    show(ui.imageError, text);
}

/**
 * What a file is, by its first bytes (then its name or type for DICOM without the preamble).
 * @param {Uint8Array} head the first 132 bytes
 * @param {File} file
 * @returns {"dicom" | "png" | "jpeg" | "raw-dicom" | null}
 */
function sniff(head, file) {
    const name = (file.name || "").toLowerCase();
    if (window.gpuDicom && window.gpuDicom.isDicom(head)) return "dicom";
    if (head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47) return "png";
    if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "jpeg";
    if (/\.(dcm|dicom)$/.test(name) || file.type === "application/dicom") return "raw-dicom";
    return null;
}

/**
 * Adds files as attachments, as many as the model allows, saying what was added or refused.
 * @param {FileList | File[] | null} list
 */
export async function addFiles(list) {
    imageError("");
    const files = Array.from(list || []);
    /** @type {string[]} */
    const added = [];
    for (let i = 0; i < files.length; i++) {
        const f = files[i];
        const label = f.name || "The pasted image";
        if (room() <= 0) {
            imageError(
                `${selectedModel() || "This model"} accepts ${plural(currentHint().maxImages, "image")} per conversation; ${files.length - i} not added. Remove an image or clear the conversation.`,
            );
            break;
        }
        if (f.size > MAX_FILE_BYTES) {
            imageError(`${label} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MB.`);
            continue;
        }
        try {
            const a = await loadAttachment(f);
            attachments.push(a);
            ui.attachments.append(a.node);
            draw(a);
            added.push(a.name);
        } catch (e) {
            imageError(`${label}: ${e instanceof Error ? e.message : String(e)}`);
        }
    }
    updateFileHint(added.length ? `Added ${added.join(", ")}.` : "");
}

/**
 * Decodes a file into an attachment (DICOM in a Web Worker with a time budget, dicom-client.js).
 * @param {File} file
 * @returns {Promise<Attachment>}
 */
export async function loadAttachment(file) {
    const head = new Uint8Array(await file.slice(0, 132).arrayBuffer());
    const kind = sniff(head, file);
    const id = nextId++;
    const name = file.name || "pasted image";
    const canvas = make("canvas", { role: "img", "aria-label": `Preview of ${name} as it will be sent` });
    const sizeNote = make("p", { class: "meta" });
    /** @type {Attachment} */
    let a;
    if (kind === "png" || kind === "jpeg") {
        let bmp;
        try {
            bmp = await createImageBitmap(file);
        } catch {
            throw new Error(`this ${kind.toUpperCase()} file could not be decoded.`);
        }
        a = {
            id,
            name,
            kind: "image",
            mime: kind === "png" ? "image/png" : "image/jpeg",
            source: bmp,
            width: bmp.width,
            height: bmp.height,
            canvas,
            sizeNote,
            node: make("li"),
        };
    } else if (kind === "dicom" || kind === "raw-dicom") {
        const dicom = window.gpuDicom;
        const worker = window.gpuDicomWorker;
        if (!dicom || !worker) throw new Error("the DICOM reader did not load; reload the page.");
        const reader = await worker.open(new Uint8Array(await file.arrayBuffer()), kind === "raw-dicom");
        const study = reader.study;
        const frame = reader.frame;
        const fileWindow = dicom.defaultWindow(study, frame);
        const win = { center: fileWindow.center, width: fileWindow.width };
        a = {
            id,
            name,
            kind: "dicom",
            mime: "image/png",
            study,
            reader,
            frameIndex: 0,
            frame,
            fileWindow,
            win,
            range: { min: Math.min(frame.min, win.center - win.width / 2), max: Math.max(frame.max, win.center + win.width / 2) },
            full: make("canvas", { width: study.columns, height: study.rows }),
            width: study.columns,
            height: Math.max(1, Math.round(study.rows * study.aspect)),
            canvas,
            sizeNote,
            node: make("li"),
        };
    } else {
        throw new Error("not a PNG, JPEG or DICOM file.");
    }
    buildNode(a);
    return a;
}

/**
 * Redraws on the next frame, once however many slider events arrive meanwhile.
 * @param {Attachment} a
 */
function scheduleDraw(a) {
    if (a.pending) return;
    a.pending = true;
    requestAnimationFrame(() => {
        a.pending = false;
        draw(a);
    });
}

/** Redraws every attachment (the model, and with it the send size, changed). */
export function redrawAll() {
    attachments.forEach(draw);
}

/**
 * Removes an attachment, closing its DICOM worker.
 * @param {Attachment} a
 */
export function removeAttachment(a) {
    attachments = attachments.filter((x) => x !== a);
    a.reader?.close();
    a.node.remove();
    a.source?.close();
    imageError("");
    updateFileHint(`Removed ${a.name}.`);
}

/**
 * The attachment's list item: preview, name, size note, DICOM view controls, Remove.
 * @param {Attachment} a
 */
function buildNode(a) {
    const remove = make("button", { type: "button", class: "secondary small", text: "Remove", "aria-label": `Remove ${a.name}` });
    remove.addEventListener("click", () => {
        removeAttachment(a);
        ui.file.focus();
    });
    /** @type {HTMLElement[]} */
    const parts = [a.canvas, make("p", { class: "name", text: a.name }), a.sizeNote];
    if (a.kind === "dicom") parts.push(...dicomControls(a, { draw: () => draw(a), scheduleDraw: () => scheduleDraw(a), error: imageError }));
    parts.push(make("div", { class: "buttons" }, [remove]));
    a.node = make("li", { class: "attachment" }, parts);
}
