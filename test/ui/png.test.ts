/** ui/png.js in Node: the page's PNG writer against an independent decoder (zlib + the PNG filters). */
import * as assert from "assert";
import { crc32 as zlibCrc32, inflateSync } from "zlib";
import { base64, crc32, encodePng, isGrey } from "../../ui/png.js";

interface Decoded {
    width: number;
    height: number;
    colorType: number;
    chunks: string[];
    /** RGBA, alpha 255. */
    rgba: Uint8Array;
}

/** Decodes an 8-bit grey or RGB PNG (PNG spec: chunks with CRCs, zlib IDAT, filter types 0-4). */
function decodePng(png: Uint8Array): Decoded {
    const b = Buffer.from(png);
    assert.deepStrictEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
    const chunks: string[] = [];
    let idat = Buffer.alloc(0);
    let width = 0;
    let height = 0;
    let colorType = -1;
    for (let p = 8; p < b.length;) {
        const len = b.readUInt32BE(p);
        const type = b.toString("latin1", p + 4, p + 8);
        const data = b.subarray(p + 8, p + 8 + len);
        assert.strictEqual(b.readUInt32BE(p + 8 + len), zlibCrc32(b.subarray(p + 4, p + 8 + len)) >>> 0, `CRC of ${type}`);
        chunks.push(type);
        if (type === "IHDR") {
            width = data.readUInt32BE(0);
            height = data.readUInt32BE(4);
            assert.strictEqual(data[8], 8, "8 bits per sample");
            colorType = data[9];
            assert.deepStrictEqual([...data.subarray(10, 13)], [0, 0, 0], "deflate, adaptive filtering, no interlace");
        }
        if (type === "IDAT") idat = Buffer.concat([idat, data]);
        p += 12 + len;
    }
    const ch = colorType === 0 ? 1 : 3;
    const raw = inflateSync(idat);
    const stride = width * ch;
    const out = new Uint8Array(width * height * 4);
    let prev = new Uint8Array(stride);
    for (let y = 0; y < height; y++) {
        const filter = raw[y * (stride + 1)];
        const line = new Uint8Array(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
        for (let i = 0; i < stride; i++) {
            const a = i >= ch ? line[i - ch] : 0;
            const up = prev[i];
            const c = i >= ch ? prev[i - ch] : 0;
            const paeth = () => {
                const p = a + up - c;
                const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - up), Math.abs(p - c)];
                return pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
            };
            const add = [0, a, up, (a + up) >> 1, paeth()][filter];
            assert.ok(add !== undefined, `filter type ${filter}`);
            line[i] = (line[i] + add) & 255;
        }
        for (let x = 0; x < width; x++) {
            const o = (y * width + x) * 4;
            const s = x * ch;
            out[o] = line[s];
            out[o + 1] = ch === 1 ? line[s] : line[s + 1];
            out[o + 2] = ch === 1 ? line[s] : line[s + 2];
            out[o + 3] = 255;
        }
        prev = line;
    }
    return { width, height, colorType, chunks, rgba: out };
}

/** A deterministic RGBA image; `grey` makes R = G = B. */
function image(width: number, height: number, grey: boolean) {
    const data = new Uint8ClampedArray(width * height * 4);
    let seed = 7;
    for (let i = 0; i < width * height; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const v = (i % width) * 3 + (seed % 17); // gradients with noise: both filters win somewhere
        data.set(grey ? [v & 255, v & 255, v & 255, 255] : [v & 255, (v * 7) & 255, seed & 255, 200], i * 4);
    }
    return { width, height, data };
}

describe("ui/png.js: the page's PNG writer", () => {
    it("writes a greyscale image as an 8-bit grey PNG that decodes to the same pixels", async () => {
        const img = image(37, 23, true);
        const d = decodePng(await encodePng(img));
        assert.deepStrictEqual([d.width, d.height, d.colorType], [37, 23, 0]);
        const expected = Uint8Array.from(img.data, (v, i) => (i % 4 === 3 ? 255 : v));
        assert.deepStrictEqual(d.rgba, expected);
    });

    it("writes a colour image as RGB (alpha dropped: what is sent is opaque)", async () => {
        const img = image(64, 9, false);
        const d = decodePng(await encodePng(img));
        assert.strictEqual(d.colorType, 2);
        assert.deepStrictEqual(
            d.rgba,
            Uint8Array.from(img.data, (v, i) => (i % 4 === 3 ? 255 : v)),
        );
    });

    it("writes pixels only: IHDR, IDAT, IEND, each with a valid CRC", async () => {
        assert.deepStrictEqual(decodePng(await encodePng(image(5, 5, false))).chunks, ["IHDR", "IDAT", "IEND"]);
    });

    it("computes CRC-32 like zlib, and base64 like Node for inputs longer than one slice", () => {
        const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31 + (i >> 8)) & 255);
        assert.strictEqual(crc32(bytes, 0, bytes.length), zlibCrc32(bytes) >>> 0);
        assert.strictEqual(crc32(bytes, 100, 200), zlibCrc32(bytes.subarray(100, 200)) >>> 0);
        assert.strictEqual(base64(bytes), Buffer.from(bytes).toString("base64"));
    });

    it("calls an image grey only when every pixel has R = G = B", () => {
        assert.strictEqual(isGrey(Uint8Array.from([1, 1, 1, 255, 9, 9, 9, 0])), true);
        assert.strictEqual(isGrey(Uint8Array.from([1, 1, 1, 255, 9, 9, 8, 255])), false);
    });
});
