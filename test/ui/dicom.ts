/**
 * A tiny DICOM Part 10 writer for tests: enough of the image pixel module to exercise the
 * page's reader (transfer syntaxes, bit depths, signedness, frames, windows, rescale),
 * plus the patient / study attributes the page must never send.
 */
import { deflateRawSync } from "zlib";

export type Syntax = "explicit-le" | "implicit-le" | "explicit-be" | "deflated" | "rle" | "jpeg2000";

const SYNTAX_UID: Record<Syntax, string> = {
    "implicit-le": "1.2.840.10008.1.2",
    "explicit-le": "1.2.840.10008.1.2.1",
    "explicit-be": "1.2.840.10008.1.2.2",
    deflated: "1.2.840.10008.1.2.1.99",
    rle: "1.2.840.10008.1.2.5",
    jpeg2000: "1.2.840.10008.1.2.4.91",
};

export interface Patient {
    name: string;
    id: string;
    birthDate: string;
    sex: string;
    institution: string;
    accession: string;
    referringPhysician: string;
}

const PATIENT: Patient = {
    name: "Doe^Jane^Marie",
    id: "MRN-4711-0815",
    birthDate: "19560412",
    sex: "F",
    institution: "St Elsewhere Teaching Hospital",
    accession: "ACC-99887766",
    referringPhysician: "House^Gregory",
};

export interface DicomSpec {
    rows: number;
    columns: number;
    /** Stored sample values of every frame, frame after frame (interleaved samples for colour). */
    pixels: ArrayLike<number>;
    frames?: number;
    /** @default 16 */
    bitsAllocated?: 8 | 16;
    /** @default bitsAllocated */
    bitsStored?: number;
    signed?: boolean;
    /** @default "MONOCHROME2" */
    photometric?: string;
    /** @default 1 */
    samplesPerPixel?: number;
    windows?: Array<{ center: number; width: number }>;
    rescale?: { slope: number; intercept: number };
    pixelSpacing?: [number, number];
    /** @default "explicit-le" */
    syntax?: Syntax;
    /** No preamble, no meta header: a bare Implicit VR Little Endian data set. */
    bare?: boolean;
    patient?: Patient;
    modality?: string;
    burnedIn?: boolean;
    /** Leave out the Pixel Data element (a non-image object). */
    noPixelData?: boolean;
}

interface Element {
    group: number;
    element: number;
    vr: string;
    value: Buffer;
    /** Encapsulated pixel data: written with undefined length. */
    encapsulated?: boolean;
}

const LONG_VRS = new Set(["OB", "OW", "OF", "OD", "OL", "OV", "SQ", "UT", "UN", "UC", "UR", "SV", "UV"]);

function str(group: number, element: number, vr: string, text: string): Element {
    let b = Buffer.from(text, "latin1");
    if (b.length % 2) b = Buffer.concat([b, Buffer.from(vr === "UI" ? [0] : [0x20])]);
    return { group, element, vr, value: b };
}

function us(group: number, element: number, v: number, be: boolean): Element {
    const b = Buffer.alloc(2);
    if (be) b.writeUInt16BE(v);
    else b.writeUInt16LE(v);
    return { group, element, vr: "US", value: b };
}

function encode(elements: Element[], explicit: boolean, be: boolean): Buffer {
    const parts: Buffer[] = [];
    for (const e of [...elements].sort((a, b) => a.group - b.group || a.element - b.element)) {
        const head: number[] = [];
        const u16 = (v: number) => (be ? head.push(v >> 8, v & 0xff) : head.push(v & 0xff, v >> 8));
        const u32 = (v: number) =>
            be ? head.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff) : head.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
        u16(e.group);
        u16(e.element);
        const length = e.encapsulated ? 0xffffffff : e.value.length;
        if (explicit) {
            head.push(e.vr.charCodeAt(0), e.vr.charCodeAt(1));
            if (LONG_VRS.has(e.vr)) {
                head.push(0, 0);
                u32(length);
            } else {
                u16(length);
            }
        } else {
            u32(length);
        }
        parts.push(Buffer.from(head), e.value);
    }
    return Buffer.concat(parts);
}

/** One PackBits segment: replicate runs for 3+ equal bytes, literals otherwise. */
function packBits(bytes: Uint8Array): Buffer {
    const out: number[] = [];
    let i = 0;
    while (i < bytes.length) {
        let run = 1;
        while (i + run < bytes.length && run < 128 && bytes[i + run] === bytes[i]) run++;
        if (run >= 3) {
            out.push(257 - run, bytes[i]);
            i += run;
            continue;
        }
        const start = i;
        while (i < bytes.length && i - start < 128 && !(i + 2 < bytes.length && bytes[i] === bytes[i + 1] && bytes[i] === bytes[i + 2])) i++;
        out.push(i - start - 1, ...bytes.subarray(start, i));
    }
    if (out.length % 2) out.push(0x80); // no-op byte pads the segment to even length
    return Buffer.from(out);
}

/** RLE Lossless frame: one segment per sample byte, most significant byte first. */
function rleFrame(samples: number[], spp: number, bytesPerSample: number): Buffer {
    const pixels = samples.length / spp;
    const segments: Buffer[] = [];
    for (let s = 0; s < spp; s++) {
        for (let b = bytesPerSample - 1; b >= 0; b--) {
            const seg = new Uint8Array(pixels);
            for (let p = 0; p < pixels; p++) seg[p] = (samples[p * spp + s] >>> (8 * b)) & 0xff;
            segments.push(packBits(seg));
        }
    }
    const header = Buffer.alloc(64);
    header.writeUInt32LE(segments.length, 0);
    let offset = 64;
    segments.forEach((seg, i) => {
        header.writeUInt32LE(offset, 4 + 4 * i);
        offset += seg.length;
    });
    return Buffer.concat([header, ...segments]);
}

function item(value: Buffer): Buffer {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(0xfffe, 0);
    h.writeUInt16LE(0xe000, 2);
    h.writeUInt32LE(value.length, 4);
    return Buffer.concat([h, value]);
}

function encapsulate(frames: Buffer[]): Buffer {
    const end = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    return Buffer.concat([item(Buffer.alloc(0)), ...frames.map(item), end]);
}

export function writeDicom(spec: DicomSpec): Buffer {
    const syntax = spec.bare ? "implicit-le" : (spec.syntax ?? "explicit-le");
    const be = syntax === "explicit-be";
    const explicit = syntax !== "implicit-le";
    const bitsAllocated = spec.bitsAllocated ?? 16;
    const bitsStored = spec.bitsStored ?? bitsAllocated;
    const spp = spec.samplesPerPixel ?? 1;
    const frames = spec.frames ?? 1;
    const p = spec.patient ?? PATIENT;
    const sopInstance = "1.2.826.0.1.3680043.8.498.1234567890.1";
    const elements: Element[] = [
        str(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.1.1"),
        str(0x0008, 0x0018, "UI", sopInstance),
        str(0x0008, 0x0020, "DA", "20240102"),
        str(0x0008, 0x0050, "SH", p.accession),
        str(0x0008, 0x0060, "CS", spec.modality ?? "DX"),
        str(0x0008, 0x0080, "LO", p.institution),
        str(0x0008, 0x0090, "PN", p.referringPhysician),
        str(0x0010, 0x0010, "PN", p.name),
        str(0x0010, 0x0020, "LO", p.id),
        str(0x0010, 0x0030, "DA", p.birthDate),
        str(0x0010, 0x0040, "CS", p.sex),
        str(0x0020, 0x000d, "UI", "1.2.826.0.1.3680043.8.498.1"),
        str(0x0020, 0x000e, "UI", "1.2.826.0.1.3680043.8.498.2"),
        us(0x0028, 0x0002, spp, be),
        str(0x0028, 0x0004, "CS", spec.photometric ?? (spp === 3 ? "RGB" : "MONOCHROME2")),
        us(0x0028, 0x0010, spec.rows, be),
        us(0x0028, 0x0011, spec.columns, be),
        us(0x0028, 0x0100, bitsAllocated, be),
        us(0x0028, 0x0101, bitsStored, be),
        us(0x0028, 0x0102, bitsStored - 1, be),
        us(0x0028, 0x0103, spec.signed ? 1 : 0, be),
    ];
    if (spp > 1) elements.push(us(0x0028, 0x0006, 0, be));
    if (frames > 1) elements.push(str(0x0028, 0x0008, "IS", String(frames)));
    if (spec.pixelSpacing) elements.push(str(0x0028, 0x0030, "DS", spec.pixelSpacing.join("\\")));
    if (spec.burnedIn !== undefined) elements.push(str(0x0028, 0x0301, "CS", spec.burnedIn ? "YES" : "NO"));
    if (spec.windows?.length) {
        elements.push(str(0x0028, 0x1050, "DS", spec.windows.map((w) => String(w.center)).join("\\")));
        elements.push(str(0x0028, 0x1051, "DS", spec.windows.map((w) => String(w.width)).join("\\")));
    }
    if (spec.rescale) {
        elements.push(str(0x0028, 0x1052, "DS", String(spec.rescale.intercept)));
        elements.push(str(0x0028, 0x1053, "DS", String(spec.rescale.slope)));
    }

    if (!spec.noPixelData) {
        const samplesPerFrame = spec.rows * spec.columns * spp;
        if (spec.pixels.length !== samplesPerFrame * frames) throw new Error(`pixels: ${spec.pixels.length} samples, expected ${samplesPerFrame * frames}`);
        const bytes = bitsAllocated / 8;
        const unsigned = (v: number) => (v < 0 ? v + 2 ** bitsAllocated : v);
        if (syntax === "rle" || syntax === "jpeg2000") {
            const frameBuffers: Buffer[] = [];
            for (let f = 0; f < frames; f++) {
                const s = Array.from({ length: samplesPerFrame }, (_, i) => unsigned(spec.pixels[f * samplesPerFrame + i]));
                frameBuffers.push(syntax === "rle" ? rleFrame(s, spp, bytes) : Buffer.from([0xff, 0x4f, 0xff, 0x51, 0, 0]));
            }
            elements.push({ group: 0x7fe0, element: 0x0010, vr: "OB", value: encapsulate(frameBuffers), encapsulated: true });
        } else {
            let data = Buffer.alloc(spec.pixels.length * bytes);
            for (let i = 0; i < spec.pixels.length; i++) {
                const v = unsigned(spec.pixels[i]);
                if (bytes === 1) data[i] = v;
                else if (be) data.writeUInt16BE(v, i * 2);
                else data.writeUInt16LE(v, i * 2);
            }
            if (data.length % 2) data = Buffer.concat([data, Buffer.alloc(1)]);
            elements.push({ group: 0x7fe0, element: 0x0010, vr: bitsAllocated === 8 ? "OB" : "OW", value: data });
        }
    }

    let dataset = encode(elements, explicit, be);
    if (spec.bare) return dataset;
    if (syntax === "deflated") dataset = deflateRawSync(dataset);

    const metaRest = encode(
        [
            { group: 0x0002, element: 0x0001, vr: "OB", value: Buffer.from([0, 1]) },
            str(0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.1.1"),
            str(0x0002, 0x0003, "UI", sopInstance),
            str(0x0002, 0x0010, "UI", SYNTAX_UID[syntax]),
            str(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.8.498.99"),
            str(0x0002, 0x0013, "SH", "GPUSERVE_TEST"),
        ],
        true,
        false,
    );
    const groupLength = Buffer.alloc(4);
    groupLength.writeUInt32LE(metaRest.length);
    const meta = encode([{ group: 0x0002, element: 0x0000, vr: "UL", value: groupLength }], true, false);
    return Buffer.concat([Buffer.alloc(128), Buffer.from("DICM", "latin1"), meta, metaRest, dataset]);
}

/** Every identifying string of a patient, for "never sent" checks. */
export function identifyingStrings(p: Patient = PATIENT): string[] {
    return [p.name, ...p.name.split("^"), p.id, p.birthDate, p.institution, p.accession, p.referringPhysician, ...p.referringPhysician.split("^")];
}
