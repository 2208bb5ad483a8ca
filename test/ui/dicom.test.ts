/**
 * The page's DICOM reader (ui/dicom.js) in Node, against files from test/ui/dicom.ts:
 * transfer syntaxes, bit depths, signedness, rescale, windows, frames and errors.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { identifyingStrings, Syntax, writeDicom } from "./dicom";

interface Frame {
    gray?: Float32Array;
    rgb?: Uint8ClampedArray;
    min: number;
    max: number;
}
interface Window {
    center: number;
    width: number;
}
interface Study {
    rows: number;
    columns: number;
    frames: number;
    photometric: string;
    monochrome: boolean;
    bitsStored: number;
    signed: boolean;
    rescale: { slope: number; intercept: number };
    windows: Array<Window & { name: string }>;
    aspect: number;
    modality: string;
    burnedInAnnotation: boolean;
    transferSyntaxName: string;
    frame(index: number): Promise<Frame>;
}
interface DicomModule {
    isDicom(bytes: Uint8Array): boolean;
    parse(bytes: Uint8Array, raw?: boolean): Promise<Study>;
    render(study: Study, frame: Frame, win: Window): Uint8ClampedArray;
    autoWindow(frame: Frame): Window;
    defaultWindow(study: Study, frame: Frame): Window;
}

const UI_DICOM = path.resolve(__dirname, "../../ui/dicom.js");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dicom = require(UI_DICOM) as DicomModule;

const bytes = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const grey = (rgba: Uint8ClampedArray) => Array.from({ length: rgba.length / 4 }, (_, i) => rgba[i * 4]);

/** The linear VOI LUT of DICOM PS3.3 C.11.2.1.2, written independently of the page's code. */
function voi(x: number, c: number, w: number): number {
    if (x <= c - 0.5 - (w - 1) / 2) return 0;
    if (x > c - 0.5 + (w - 1) / 2) return 255;
    return ((x - (c - 0.5)) / (w - 1) + 0.5) * 255;
}

describe("ui/dicom.js: the page's DICOM reader", () => {
    it("reads size, frames, rescale, file window and pixel aspect of a 16-bit multi-frame file", async () => {
        const f0 = Array.from({ length: 12 }, (_, i) => 400 + i * 20);
        const f1 = f0.map((v) => 4095 - v);
        const study = await dicom.parse(
            bytes(
                writeDicom({
                    rows: 3,
                    columns: 4,
                    frames: 2,
                    bitsStored: 12,
                    pixels: [...f0, ...f1],
                    windows: [
                        { center: 0, width: 400 },
                        { center: 40, width: 80 },
                    ],
                    rescale: { slope: 2, intercept: -1024 },
                    pixelSpacing: [0.5, 0.25],
                }),
            ),
        );
        assert.deepStrictEqual([study.rows, study.columns, study.frames, study.bitsStored, study.photometric], [3, 4, 2, 12, "MONOCHROME2"]);
        assert.deepStrictEqual(study.rescale, { slope: 2, intercept: -1024 });
        assert.deepStrictEqual(
            study.windows.map((w) => [w.center, w.width]),
            [
                [0, 400],
                [40, 80],
            ],
        );
        assert.strictEqual(study.aspect, 2);
        assert.strictEqual(study.modality, "DX");
        const frame0 = await study.frame(0);
        const frame1 = await study.frame(1);
        assert.deepStrictEqual(
            Array.from(frame0.gray!),
            f0.map((v) => v * 2 - 1024),
        );
        assert.deepStrictEqual(
            Array.from(frame1.gray!),
            f1.map((v) => v * 2 - 1024),
        );
        assert.deepStrictEqual([frame1.min, frame1.max], [Math.min(...f1) * 2 - 1024, Math.max(...f1) * 2 - 1024]);
        assert.deepStrictEqual(dicom.defaultWindow(study, frame0), { center: 0, width: 400 });
        const expected = f0.map((v) => Math.round(voi(v * 2 - 1024, 0, 400)));
        assert.deepStrictEqual(grey(dicom.render(study, frame0, { center: 0, width: 400 })), expected);
        assert.ok(expected[0] === 0 && expected[11] === 255 && new Set(expected).size >= 5, "the window cuts below, maps linearly and saturates above");
        await assert.rejects(study.frame(2), /No frame 3/);
    });

    it("applies the window linearly, saturates outside it, and inverts MONOCHROME1", async () => {
        const pixels = [0, 100, 150, 200, 250, 300, 1000, 65535];
        const mono2 = await dicom.parse(bytes(writeDicom({ rows: 1, columns: 8, pixels })));
        const mono1 = await dicom.parse(bytes(writeDicom({ rows: 1, columns: 8, pixels, photometric: "MONOCHROME1" })));
        const win = { center: 200, width: 101 };
        const f2 = await mono2.frame(0);
        const f1 = await mono1.frame(0);
        assert.deepStrictEqual(
            grey(dicom.render(mono2, f2, win)),
            pixels.map((v) => Math.round(voi(v, 200, 101))),
        );
        assert.deepStrictEqual(
            grey(dicom.render(mono1, f1, win)),
            pixels.map((v) => Math.round(255 - voi(v, 200, 101))),
        );
        assert.deepStrictEqual(grey(dicom.render(mono2, f2, win)).slice(0, 2), [0, 0]);
        assert.deepStrictEqual(grey(dicom.render(mono2, f2, win)).slice(-2), [255, 255]);
        // No window in the file: the frame's full range.
        assert.deepStrictEqual(dicom.defaultWindow(mono2, f2), { center: 65535 / 2, width: 65536 });
    });

    it("sign-extends signed values stored in fewer bits than allocated", async () => {
        const pixels = [-2048, -1, 0, 1, 2047, -1000];
        const study = await dicom.parse(bytes(writeDicom({ rows: 2, columns: 3, pixels, signed: true, bitsStored: 12 })));
        assert.strictEqual(study.signed, true);
        assert.deepStrictEqual(Array.from((await study.frame(0)).gray!), pixels);
    });

    it("masks unused high bits of unsigned values (Bits Stored < Bits Allocated)", async () => {
        // 0xF123 stored in 12 bits is 0x123: the top nibble is not pixel data.
        const study = await dicom.parse(bytes(writeDicom({ rows: 1, columns: 2, pixels: [0xf123, 0x0fff], bitsStored: 12 })));
        assert.deepStrictEqual(Array.from((await study.frame(0)).gray!), [0x123, 0xfff]);
    });

    const syntaxes: Array<Syntax | "bare"> = ["explicit-le", "implicit-le", "explicit-be", "deflated", "rle", "bare"];
    for (const bits of [8, 16] as const) {
        for (const syntax of syntaxes) {
            it(`reads ${bits}-bit pixels of 3 frames in ${syntax}`, async () => {
                const rows = 5;
                const columns = 7;
                const max = bits === 8 ? 255 : 65535;
                // Flat areas (RLE replicate runs) next to ramps (literal runs).
                const pixels = Array.from({ length: rows * columns * 3 }, (_, i) => (i % 11 < 5 ? 42 : (i * 977) % (max + 1)));
                const file = writeDicom({ rows, columns, frames: 3, bitsAllocated: bits, pixels, ...(syntax === "bare" ? { bare: true } : { syntax }) });
                assert.strictEqual(dicom.isDicom(bytes(file)), syntax !== "bare");
                const study = await dicom.parse(bytes(file), syntax === "bare");
                for (let f = 0; f < 3; f++) {
                    assert.deepStrictEqual(
                        Array.from((await study.frame(f)).gray!),
                        pixels.slice(f * rows * columns, (f + 1) * rows * columns),
                        `frame ${f + 1}`,
                    );
                }
            });
        }
    }

    it("reads RGB colour as it is (no window)", async () => {
        const pixels = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
        for (const syntax of ["explicit-le", "rle"] as const) {
            const study = await dicom.parse(bytes(writeDicom({ rows: 2, columns: 2, samplesPerPixel: 3, bitsAllocated: 8, pixels, syntax })));
            assert.strictEqual(study.monochrome, false);
            const frame = await study.frame(0);
            assert.deepStrictEqual(Array.from(frame.rgb!), pixels, syntax);
            const rgba = dicom.render(study, frame, { center: 0, width: 1 });
            assert.deepStrictEqual(Array.from(rgba.subarray(12, 16)), [10, 20, 30, 255]);
        }
    });

    it("flags burned-in annotation", async () => {
        assert.strictEqual((await dicom.parse(bytes(writeDicom({ rows: 1, columns: 1, pixels: [0], burnedIn: true })))).burnedInAnnotation, true);
        assert.strictEqual((await dicom.parse(bytes(writeDicom({ rows: 1, columns: 1, pixels: [0], burnedIn: false })))).burnedInAnnotation, false);
    });

    it("says plainly what it cannot read", async () => {
        await assert.rejects(
            dicom.parse(bytes(writeDicom({ rows: 2, columns: 2, pixels: [0, 0, 0, 0], syntax: "jpeg2000" }))),
            /compressed with JPEG 2000, which this page cannot decode/,
        );
        await assert.rejects(dicom.parse(bytes(writeDicom({ rows: 2, columns: 2, pixels: [], noPixelData: true }))), /holds no image \(no Pixel Data\)/);
        await assert.rejects(dicom.parse(bytes(Buffer.from("hello, not a DICOM file at all".repeat(10)))), /not a DICOM file/);
        const truncated = writeDicom({ rows: 20, columns: 20, pixels: new Array(400).fill(7) });
        await assert.rejects(
            (async () => (await dicom.parse(bytes(truncated.subarray(0, truncated.length - 100)))).frame(0))(),
            /could not be read as DICOM|truncated/,
        );
    });

    it("never reads patient, study or institution attributes", async () => {
        const source = fs.readFileSync(UI_DICOM, "utf8");
        // Group 0010 (patient), and the identifying group 0008 / 0020 attributes.
        assert.deepStrictEqual(source.match(/x0010[0-9a-f]{4}|x000800(20|50|80|90)|x0020000[de]/gi), null);
        const study = await dicom.parse(bytes(writeDicom({ rows: 2, columns: 2, pixels: [1, 2, 3, 4] })));
        const text = JSON.stringify(study);
        for (const s of identifyingStrings()) assert.ok(!text.includes(s), `the parsed study exposes "${s}"`);
    });
});
