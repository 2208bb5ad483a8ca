// @ts-check
/*
 * DICOM decoding off the page's main thread: the page posts the file's bytes, this worker
 * parses them with ui/dicom.js (size bounds, RLE checks) and answers with the image
 * attributes and a frame's values. A hostile file can then only stall this worker, which the
 * page terminates after its time budget (ui/dicom-client.js); the page itself stays responsive.
 *
 * Messages in:  {id, op: "open", bytes: Uint8Array, raw: boolean, limits} | {id, op: "frame", index}
 * Messages out: {id, ok: true, study?, frame} | {id, ok: false, message}
 */
"use strict";
importScripts("dicom-parser.min.js", "dicom.js");

/** @type {GpuDicomParsed | null} */
var study = null;

/**
 * The browser's JPEG decoder, in the worker (baseline JPEG DICOM frames).
 * @param {Uint8Array<ArrayBuffer>} bytes
 */
async function decodeJpeg(bytes) {
    var bmp = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }), { colorSpaceConversion: "none" });
    var canvas = new OffscreenCanvas(bmp.width, bmp.height);
    var ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext("2d", { willReadFrequently: true }));
    ctx.drawImage(bmp, 0, 0);
    return ctx.getImageData(0, 0, bmp.width, bmp.height);
}

/**
 * The attributes the page needs (functions do not cross to the page).
 * @param {GpuDicomParsed} s
 */
function summary(s) {
    /** @type {Record<string, unknown>} */
    var out = {};
    Object.entries(s).forEach(function (e) {
        if (typeof e[1] !== "function") out[e[0]] = e[1];
    });
    return out;
}

/** @param {GpuDicomFrame} frame */
function transferables(frame) {
    return [/** @type {Float32Array | Uint8ClampedArray} */ (frame.gray || frame.rgb).buffer];
}

/** @param {MessageEvent<GpuDicomRequest>} e */
self.onmessage = async function (e) {
    var m = e.data;
    var dicom = gpuDicom;
    try {
        if (m.op === "open") {
            var limits = m.limits || {};
            Object.keys(limits).forEach(function (k) {
                if (k in dicom.LIMITS && typeof limits[k] === "number") dicom.LIMITS[k] = limits[k];
            });
            study = await dicom.parse(/** @type {Uint8Array<ArrayBuffer>} */ (m.bytes), m.raw); // transferred: its own ArrayBuffer
            var first = await study.frame(0, decodeJpeg);
            self.postMessage({ id: m.id, ok: true, study: summary(study), frame: first }, { transfer: transferables(first) });
        } else if (m.op === "frame" && study) {
            var frame = await study.frame(m.index, decodeJpeg);
            self.postMessage({ id: m.id, ok: true, frame: frame }, { transfer: transferables(frame) });
        }
    } catch (err) {
        var x = /** @type {{ name?: unknown, message?: string } | null | undefined} */ (err);
        var text = x && x.message ? x.message : String(err);
        var known = !!x && x.name === "DicomError";
        self.postMessage({ id: m.id, ok: false, message: known ? text : "This file could not be read as DICOM (" + text + ")." });
    }
};
