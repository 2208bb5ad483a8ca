/** Minimal PNG writing and header reading for tests (RGB, 8 bits, no filter). */
import { crc32, deflateSync } from "zlib";

function chunk(type: string, data: Buffer): Buffer {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
}

/** An RGB PNG whose pixel (x, y) is pixel(x, y). */
export function writePng(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
    const raw = Buffer.alloc((width * 3 + 1) * height);
    for (let y = 0; y < height; y++) {
        const row = y * (width * 3 + 1);
        raw[row] = 0;
        for (let x = 0; x < width; x++) {
            const [r, g, b] = pixel(x, y);
            raw[row + 1 + x * 3] = r;
            raw[row + 2 + x * 3] = g;
            raw[row + 3 + x * 3] = b;
        }
    }
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr.writeUInt8(8, 8); // bit depth
    ihdr.writeUInt8(2, 9); // colour type RGB
    return Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        chunk("IHDR", ihdr),
        chunk("IDAT", deflateSync(raw)),
        chunk("IEND", Buffer.alloc(0)),
    ]);
}

export interface DataUrlImage {
    mime: string;
    bytes: Buffer;
    /** From the PNG IHDR (PNG only). */
    width?: number;
    height?: number;
    /** PNG colour type: 0 grey, 2 RGB, 4 grey + alpha, 6 RGBA. */
    colorType?: number;
}

/** Decodes a data: URL; reads the size of PNGs. Throws if it is not a base64 image data URL. */
export function readDataUrl(url: string): DataUrlImage {
    const m = /^data:(image\/[a-z]+);base64,([A-Za-z0-9+/=]+)$/.exec(url);
    if (!m) throw new Error(`not a base64 image data URL: ${url.slice(0, 40)}...`);
    const bytes = Buffer.from(m[2], "base64");
    const out: DataUrlImage = { mime: m[1], bytes };
    if (m[1] === "image/png") {
        if (!bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
            throw new Error("image/png data URL without the PNG signature");
        if (bytes.toString("latin1", 12, 16) !== "IHDR") throw new Error("PNG without IHDR first");
        out.width = bytes.readUInt32BE(16);
        out.height = bytes.readUInt32BE(20);
        out.colorType = bytes[25];
    }
    return out;
}

/** The chunk types of a PNG, in order (to check nothing but pixels travels, e.g. no tEXt). */
export function pngChunkTypes(bytes: Buffer): string[] {
    const types: string[] = [];
    for (let p = 8; p + 8 <= bytes.length;) {
        const len = bytes.readUInt32BE(p);
        types.push(bytes.toString("latin1", p + 4, p + 8));
        p += 12 + len;
    }
    return types;
}
