/**
 * What the page's modules see of its classic scripts: dicom.js (window.gpuDicom, a UMD module
 * the DICOM worker and the Node tests load too) and dicom-client.js (window.gpuDicomWorker).
 * Not served (readUiFiles serves .html, .js, .css, .json ...). The UMD wrapper's `module` and
 * `require` exist only when Node loads dicom.js.
 */

interface GpuDicomWindow {
    center: number;
    width: number;
    name?: string;
}

/** The image attributes of a DICOM file (dicom.js describe()); functions stay in the worker. */
interface GpuDicomStudy {
    transferSyntax: string;
    transferSyntaxName: string;
    rows: number;
    columns: number;
    frames: number;
    samplesPerPixel: number;
    photometric: string;
    monochrome: boolean;
    bitsAllocated: number;
    bitsStored: number;
    signed: boolean;
    rescale: { slope: number; intercept: number };
    windows: GpuDicomWindow[];
    aspect: number;
    modality: string;
    burnedInAnnotation: boolean;
}

/** One frame: modality values (greyscale) or RGB bytes, with the value range. */
interface GpuDicomFrame {
    gray?: Float32Array;
    rgb?: Uint8ClampedArray;
    min: number;
    max: number;
}

interface GpuDicom {
    isDicom(bytes: Uint8Array): boolean;
    render(study: GpuDicomStudy, frame: GpuDicomFrame, win: { center: number; width: number }): Uint8ClampedArray<ArrayBuffer>;
    autoWindow(frame: GpuDicomFrame): { center: number; width: number };
    defaultWindow(study: GpuDicomStudy, frame: GpuDicomFrame): { center: number; width: number };
    LIMITS: Record<string, number>;
}

/** A DICOM file open in its worker (dicom-client.js). */
interface GpuDicomReader {
    study: GpuDicomStudy;
    frame: GpuDicomFrame;
    readFrame(index: number): Promise<GpuDicomFrame>;
    close(): void;
}

interface GpuDicomWorker {
    open(bytes: Uint8Array, raw: boolean): Promise<GpuDicomReader>;
    BUDGET: { openSeconds: number; frameSeconds: number };
    LIMITS: Record<string, number>;
}

interface Window {
    gpuDicom?: GpuDicom;
    gpuDicomWorker?: GpuDicomWorker;
}

/** What the DICOM worker sees of dicom.js (importScripts puts it on the worker's global scope). */
interface GpuDicomParsed extends GpuDicomStudy {
    frame(index: number, decodeJpeg?: (bytes: Uint8Array<ArrayBuffer>) => Promise<ImageData>): Promise<GpuDicomFrame>;
}
interface GpuDicom {
    parse(bytes: Uint8Array<ArrayBuffer>, raw: boolean): Promise<GpuDicomParsed>;
}
/** dicom-worker.js: the worker's global `gpuDicom`, and importScripts (WebWorker lib, not in the DOM lib this program uses). */
declare let gpuDicom: GpuDicom;
declare function importScripts(...urls: string[]): void;
/** dicom-parser's types name Node's Buffer (`ByteArray = Uint8Array | Buffer`); in the page and the worker its byte arrays are Uint8Arrays. */
type Buffer = Uint8Array;
/** dicom-worker.js's messages: from the page (dicom-client.js) and back. */
type GpuDicomCall = { op: "open"; bytes: Uint8Array; raw: boolean; limits?: Record<string, number> } | { op: "frame"; index: number };
type GpuDicomRequest = GpuDicomCall & { id: number };
type GpuDicomReply = { id: number; ok: true; study?: GpuDicomStudy; frame: GpuDicomFrame } | { id: number; ok: false; message: string };
