/*
 * DICOM decoding off the page's main thread: the page posts the file's bytes, this worker
 * parses them with ui/dicom.js (size bounds, RLE checks) and answers with the image
 * attributes and a frame's values. A hostile file can then only stall this worker, which the
 * page terminates after its time budget (ui/dicom-client.js); the page itself stays responsive.
 *
 * Messages in:  {id, op: "open", bytes: Uint8Array, raw: boolean} | {id, op: "frame", index}
 * Messages out: {id, ok: true, study?, frame} | {id, ok: false, message}
 */
/* global importScripts, gpuDicom, OffscreenCanvas */
"use strict";
importScripts("dicom-parser.min.js", "dicom.js");

var study = null;

/** The browser's JPEG decoder, in the worker (baseline JPEG DICOM frames). */
async function decodeJpeg(bytes) {
    var bmp = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }), { colorSpaceConversion: "none" });
    var canvas = new OffscreenCanvas(bmp.width, bmp.height);
    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(bmp, 0, 0);
    return ctx.getImageData(0, 0, bmp.width, bmp.height);
}

/** The attributes the page needs (functions do not cross to the page). */
function summary(s) {
    var out = {};
    Object.keys(s).forEach(function (k) {
        if (typeof s[k] !== "function") out[k] = s[k];
    });
    return out;
}

function transferables(frame) {
    return [(frame.gray || frame.rgb).buffer];
}

self.onmessage = async function (e) {
    var m = e.data;
    try {
        if (m.op === "open") {
            Object.keys(m.limits || {}).forEach(function (k) {
                if (k in gpuDicom.LIMITS && typeof m.limits[k] === "number") gpuDicom.LIMITS[k] = m.limits[k];
            });
            study = await gpuDicom.parse(m.bytes, m.raw);
            var first = await study.frame(0, decodeJpeg);
            self.postMessage({ id: m.id, ok: true, study: summary(study), frame: first }, transferables(first));
        } else if (m.op === "frame") {
            var frame = await study.frame(m.index, decodeJpeg);
            self.postMessage({ id: m.id, ok: true, frame: frame }, transferables(frame));
        }
    } catch (err) {
        var known = err && err.name === "DicomError";
        self.postMessage({ id: m.id, ok: false, message: known ? err.message : "This file could not be read as DICOM (" + (err && err.message ? err.message : String(err)) + ")." });
    }
};
