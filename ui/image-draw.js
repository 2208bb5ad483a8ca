// @ts-check
/**
 * An attachment drawn at the size it is sent at (the preview is exactly what is sent) and
 * encoded as a data URL: PNG for PNG and DICOM, JPEG for photos (images.js keeps the list).
 */
import { base64, encodePng } from "./png.js";
import { currentHint } from "./settings.js";

/**
 * The size an image is sent at: longest side at most the model's maxSide, never enlarged.
 * @param {{ width: number, height: number }} a
 * @param {number} maxSide
 */
function sendSize(a, maxSide) {
    const s = Math.min(1, maxSide / Math.max(a.width, a.height));
    return { width: Math.max(1, Math.round(a.width * s)), height: Math.max(1, Math.round(a.height * s)) };
}

/**
 * Draws the attachment at its send size: the preview is exactly what is sent.
 * @param {import("./images.js").Attachment} a
 */
export function draw(a) {
    const size = sendSize(a, currentHint().maxSide);
    const c = a.canvas;
    c.width = size.width;
    c.height = size.height;
    const ctx = /** @type {CanvasRenderingContext2D} */ (c.getContext("2d"));
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    if (a.source) {
        // Transparent areas become white: what is sent is opaque.
        ctx.fillStyle = "#fff";
        ctx.fillRect(0, 0, size.width, size.height);
        ctx.drawImage(a.source, 0, 0, size.width, size.height);
    } else if (a.study && a.frame && a.win && a.full && window.gpuDicom) {
        const s = a.study;
        /** @type {CanvasRenderingContext2D} */ (a.full.getContext("2d")).putImageData(
            new ImageData(window.gpuDicom.render(s, a.frame, a.win), s.columns, s.rows),
            0,
            0,
        );
        ctx.drawImage(a.full, 0, 0, size.width, size.height);
    }
    const resized = size.width !== a.width || size.height !== a.height;
    a.sizeNote.textContent = `Sent as ${size.width}×${size.height} ${a.mime === "image/png" ? "PNG" : "JPEG"}${resized ? ` (resized from ${a.width}×${a.height})` : " (original size)"}.`;
}

/**
 * The attachment as sent: the preview canvas as PNG (JPEG for JPEG photos), as a data URL.
 * @param {import("./images.js").Attachment} a
 * @returns {Promise<import("./images.js").EncodedImage>}
 */
export async function encode(a) {
    draw(a);
    let url;
    if (a.mime === "image/png") {
        const ctx = /** @type {CanvasRenderingContext2D} */ (a.canvas.getContext("2d"));
        url = `data:image/png;base64,${base64(await encodePng(ctx.getImageData(0, 0, a.canvas.width, a.canvas.height)))}`;
    } else {
        /** @type {Blob | null} */
        const blob = await new Promise((resolve) => a.canvas.toBlob(resolve, "image/jpeg", 0.92));
        if (!(blob instanceof Blob)) throw new Error(`could not encode ${a.name}`);
        url = `data:image/jpeg;base64,${base64(new Uint8Array(await blob.arrayBuffer()))}`;
    }
    return { url, name: a.name, width: a.canvas.width, height: a.canvas.height, canvas: a.canvas };
}
