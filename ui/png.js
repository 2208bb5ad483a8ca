// @ts-check
/**
 * The page's PNG writer: an opaque image as PNG, 8-bit greyscale when every pixel is grey
 * (X-rays, DICOM), else RGB. Chunks are IHDR, IDAT and IEND only: pixels, no metadata.
 * Written here rather than by canvas.toBlob, which took seconds for large images in headless
 * chromium. Pure: runs in Node too (test/ui/png.test.ts). PNG format: RFC 2083 / W3C PNG
 * (Second Edition): signature, chunk = length, type, data, CRC-32 of type + data.
 */

/** CRC-32 (ISO 3309, the PNG chunk checksum), one entry per byte value. */
const CRC_TABLE = (() => {
    const t = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        t[n] = c;
    }
    return t;
})();

/**
 * CRC-32 of bytes[start, end).
 * @param {Uint8Array} bytes
 * @param {number} start
 * @param {number} end
 */
export function crc32(bytes, start, end) {
    let c = -1;
    for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 255] ^ (c >>> 8);
    return (c ^ -1) >>> 0;
}

/**
 * zlib-deflated bytes (the browser's, or Node's, CompressionStream).
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @returns {Promise<Uint8Array>}
 */
async function deflate(bytes) {
    const cs = new CompressionStream("deflate");
    const writer = cs.writable.getWriter();
    void writer.write(bytes);
    void writer.close();
    return new Uint8Array(await new Response(cs.readable).arrayBuffer());
}

/**
 * Image rows as PNG scanlines: per row, the smaller of the Sub and Up filters (a cheap
 * adaptive filter), `ch` bytes per pixel.
 * @param {{ width: number, height: number, data: Uint8ClampedArray | Uint8Array }} image RGBA pixels
 * @param {boolean} grey write one channel (the image is grey)
 */
function scanlines(image, grey) {
    const { width: w, height: h, data: d } = image;
    const ch = grey ? 1 : 3;
    const stride = w * ch + 1;
    const raw = new Uint8Array(stride * h);
    let line = new Uint8Array(w * ch);
    let prev = new Uint8Array(w * ch);
    for (let y = 0; y < h; y++) {
        for (let x = 0, o = y * w * 4; x < w; x++, o += 4) {
            if (grey) line[x] = d[o];
            else {
                line[x * 3] = d[o];
                line[x * 3 + 1] = d[o + 1];
                line[x * 3 + 2] = d[o + 2];
            }
        }
        let sub = 0;
        let up = 0;
        for (let i = 0; i < line.length; i++) {
            const a = (line[i] - (i >= ch ? line[i - ch] : 0)) & 255;
            const b = (line[i] - prev[i]) & 255;
            sub += a < 128 ? a : 256 - a;
            up += b < 128 ? b : 256 - b;
        }
        const row = y * stride;
        raw[row] = sub <= up ? 1 : 2;
        for (let i = 0; i < line.length; i++) raw[row + 1 + i] = (line[i] - (sub <= up ? (i >= ch ? line[i - ch] : 0) : prev[i])) & 255;
        [prev, line] = [line, prev];
    }
    return raw;
}

/**
 * True when every pixel has R = G = B.
 * @param {Uint8ClampedArray | Uint8Array} d RGBA
 */
export function isGrey(d) {
    for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return false;
    return true;
}

/**
 * An opaque RGBA image (alpha ignored) as PNG bytes.
 * @param {{ width: number, height: number, data: Uint8ClampedArray | Uint8Array }} image e.g. a canvas's ImageData
 * @returns {Promise<Uint8Array>}
 */
export async function encodePng(image) {
    const { width: w, height: h } = image;
    const grey = isGrey(image.data);
    const idat = await deflate(scanlines(image, grey));
    /** @type {Array<[string, number]>} */
    const chunks = [
        ["IHDR", 13],
        ["IDAT", idat.length],
        ["IEND", 0],
    ];
    const out = new Uint8Array(8 + chunks.reduce((s, c) => s + 12 + c[1], 0));
    const dv = new DataView(out.buffer);
    out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
    let p = 8;
    for (const [type, length] of chunks) {
        dv.setUint32(p, length);
        for (let k = 0; k < 4; k++) out[p + 4 + k] = type.charCodeAt(k);
        if (type === "IHDR") {
            dv.setUint32(p + 8, w);
            dv.setUint32(p + 12, h);
            out.set([8, grey ? 0 : 2, 0, 0, 0], p + 16); // 8 bits, grey or RGB, deflate, adaptive filters, no interlace
        } else if (type === "IDAT") {
            out.set(idat, p + 8);
        }
        dv.setUint32(p + 8 + length, crc32(out, p + 4, p + 8 + length));
        p += 12 + length;
    }
    return out;
}

/**
 * Base64 of bytes, in slices (String.fromCharCode takes a bounded number of arguments).
 * @param {Uint8Array} bytes
 */
export function base64(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
}
