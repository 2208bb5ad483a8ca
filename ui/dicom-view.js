// @ts-check
/**
 * The view controls of a DICOM attachment: frame slider, window center and width (slider and
 * number box bound together), the file's window presets, Reset and Full range. Only what is
 * on screen is sent (images.js encodes the preview).
 */
import { make, plural } from "./dom.js";

/** @param {number} v */
const round = (v) => Math.round(v * 100) / 100;

/**
 * A number box and a slider bound together.
 * @param {string} id
 * @param {string} label
 * @param {number} min
 * @param {number} max
 * @param {number} step
 * @param {number} value
 * @param {(v: number) => void} onInput
 * @returns {{ box: HTMLDivElement, set: (v: number) => void }}
 */
function slider(id, label, min, max, step, value, onInput) {
    const range = make("input", { type: "range", id: `${id}-range`, min, max, step, value, "aria-label": label });
    const num = make("input", { type: "number", id, min, max, step, value });
    /**
     * @param {number} v
     * @param {HTMLInputElement} from
     */
    const set = (v, from) => {
        if (!Number.isFinite(v)) return;
        if (from !== range) range.value = String(v);
        if (from !== num) num.value = String(v);
        onInput(v);
    };
    range.addEventListener("input", () => set(Number(range.value), range));
    num.addEventListener("change", () => set(Number(num.value), num));
    const box = make("div", { class: "slider" }, [make("label", { for: id, text: label }), range, num]);
    return {
        box,
        set: (v) => {
            range.value = String(v);
            num.value = String(v);
        },
    };
}

/**
 * What the controls do to the attachment's preview.
 * @typedef {object} ViewHooks
 * @property {() => void} draw redraw now
 * @property {() => void} scheduleDraw redraw on the next frame
 * @property {(text: string) => void} error show (or clear, with "") a problem with the file
 */

/**
 * The DICOM parts of an attachment's list item: what the file is, the privacy note, the
 * burned-in annotation warning, and the view controls.
 * @param {import("./images.js").Attachment} a a DICOM attachment
 * @param {ViewHooks} hooks
 * @returns {HTMLElement[]}
 */
export function dicomControls(a, hooks) {
    const s = a.study;
    const dicom = window.gpuDicom;
    if (!s || !dicom) return [];
    const n = a.id;
    /** @type {HTMLElement[]} */
    const parts = [
        make("p", {
            class: "meta",
            text: [
                s.modality || "DICOM",
                `${s.columns}×${s.rows}`,
                plural(s.frames, "frame"),
                `${s.bitsStored}-bit ${s.photometric}`,
                s.transferSyntaxName,
            ].join(" · "),
        }),
        make("p", {
            class: "meta",
            text: "Only the pixels of this view are sent, as PNG. No DICOM tags (patient name, IDs, dates, institution) leave this browser.",
        }),
    ];
    if (s.burnedInAnnotation)
        parts.push(
            make("p", {
                class: "warn",
                role: "note",
                text: "This file is marked as having burned-in annotation: the pixels themselves may show patient details. Check the preview before sending.",
            }),
        );
    const controls = make("fieldset", {}, [make("legend", { text: "DICOM view" })]);
    if (s.frames > 1)
        controls.append(slider(`frame-${n}`, `Frame (1–${s.frames})`, 1, s.frames, 1, 1, (v) => void selectFrame(a, Math.round(v) - 1, hooks)).box);
    if (s.monochrome && a.range && a.win && a.fileWindow) {
        const span = a.range.max - a.range.min;
        const step = span >= 100 ? 1 : span > 0 ? round(span / 256) || 0.01 : 1;
        const wc = slider(`wc-${n}`, "Window center", round(a.range.min), round(a.range.max), step, round(a.win.center), (v) => {
            if (a.win) a.win.center = v;
            hooks.scheduleDraw();
        });
        const ww = slider(`ww-${n}`, "Window width", step, round(Math.max(span, 1) * 2), step, round(a.win.width), (v) => {
            if (a.win) a.win.width = Math.max(v, 1e-6);
            hooks.scheduleDraw();
        });
        /** @param {{ center: number, width: number }} w */
        const setWindow = (w) => {
            a.win = { center: w.center, width: w.width };
            wc.set(round(w.center));
            ww.set(round(w.width));
            hooks.draw();
        };
        const fileWindow = a.fileWindow;
        const reset = make("button", { type: "button", class: "secondary small", text: s.windows.length ? "Reset to the file's window" : "Reset window" });
        reset.addEventListener("click", () => setWindow(fileWindow));
        const full = make("button", { type: "button", class: "secondary small", text: "Full range" });
        full.addEventListener("click", () => a.frame && setWindow(dicom.autoWindow(a.frame)));
        controls.append(wc.box, ww.box);
        if (s.windows.length > 1) {
            const presets = make("select", { id: `preset-${n}` });
            s.windows.forEach((w, i) => presets.append(new Option(`${w.name || `Preset ${i + 1}`} (C ${w.center}, W ${w.width})`, String(i))));
            presets.addEventListener("change", () => setWindow(s.windows[Number(presets.value)]));
            controls.append(make("div", { class: "preset" }, [make("label", { for: `preset-${n}`, text: "Window preset from the file" }), presets]));
        }
        controls.append(make("div", { class: "buttons" }, [reset, full]));
    }
    if (controls.children.length > 1) parts.push(controls);
    return parts;
}

/**
 * Shows another frame of a multi-frame file (read by the DICOM worker).
 * @param {import("./images.js").Attachment} a
 * @param {number} index
 * @param {ViewHooks} hooks
 */
async function selectFrame(a, index, hooks) {
    if (!a.study || !a.reader || index === a.frameIndex || index < 0 || index >= a.study.frames) return;
    a.frameIndex = index;
    try {
        const frame = await a.reader.readFrame(index);
        if (a.frameIndex !== index) return; // a newer choice won
        a.frame = frame;
        hooks.error("");
        hooks.scheduleDraw();
    } catch (e) {
        hooks.error(`${a.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
}
