// @ts-check
/*
 * DICOM for the page: parse a file with dicomParser (served as dicom-parser.min.js), read one
 * frame's pixels, apply the modality LUT (rescale slope/intercept) and a linear VOI window,
 * and return RGBA pixels for a canvas.
 *
 * Privacy: this module reads only the attributes needed to draw pixels (image pixel module,
 * rescale, window, modality, burned-in annotation flag). It never reads patient, study or
 * institution attributes, and the page sends only the rendered pixels (as PNG).
 *
 * UMD: the page gets window.gpuDicom; tests require() it in Node.
 */
(function (root, factory) {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-call -- Node's require (the tests) is untyped here: the page's tsconfig has no Node types
    if (typeof module === "object" && module.exports) module.exports = factory(require("dicom-parser"));
    else root.gpuDicom = factory(root.dicomParser);
})(
    /** @type {{ gpuDicom?: unknown, dicomParser?: unknown }} */ (typeof self !== "undefined" ? self : this),
    /** @param {unknown} parser */ function (parser) {
        "use strict";
        var dicomParser = /** @type {typeof import("dicom-parser")} */ (parser);

        var IMPLICIT_LE = "1.2.840.10008.1.2";
        var DEFLATED = "1.2.840.10008.1.2.1.99";
        /**
         * How a transfer syntax is decoded.
         * @typedef {{ name: string, bigEndian?: boolean, rle?: boolean, jpeg?: boolean }} Syntax
         */
        /** Transfer syntaxes this page decodes. @type {Record<string, Syntax>} */
        var SUPPORTED = {
            "1.2.840.10008.1.2": { name: "Implicit VR Little Endian" },
            "1.2.840.10008.1.2.1": { name: "Explicit VR Little Endian" },
            "1.2.840.10008.1.2.2": { name: "Explicit VR Big Endian", bigEndian: true },
            "1.2.840.10008.1.2.1.99": { name: "Deflated Explicit VR Little Endian" },
            "1.2.840.10008.1.2.5": { name: "RLE Lossless", rle: true },
            "1.2.840.10008.1.2.4.50": { name: "JPEG Baseline", jpeg: true },
        };
        /** Compressed syntaxes browsers cannot decode without a codec library (named in the error). @type {Record<string, string>} */
        var UNSUPPORTED = {
            "1.2.840.10008.1.2.4.51": "JPEG Extended (12-bit)",
            "1.2.840.10008.1.2.4.57": "JPEG Lossless",
            "1.2.840.10008.1.2.4.70": "JPEG Lossless (SV1)",
            "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
            "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
            "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
            "1.2.840.10008.1.2.4.91": "JPEG 2000",
            "1.2.840.10008.1.2.4.201": "HTJ2K Lossless",
            "1.2.840.10008.1.2.4.202": "HTJ2K Lossless RPCL",
            "1.2.840.10008.1.2.4.203": "HTJ2K",
        };

        /**
         * Bounds checked before any decoding, so a hostile file is refused instead of freezing or
         * ballooning the tab: a 4 MB RLE file can declare 16384x16384 pixels, a 1 MB deflated one can
         * expand to gigabytes. A 4096x5120 16-bit mammogram is well within them.
         */
        var LIMITS = {
            /** Pixels of one frame (rows x columns): about 6,000 x 6,000. */
            maxPixels: 36e6,
            /** Decoded bytes of one frame (pixels x samples x bytes per sample). */
            maxFrameBytes: 96 * 1024 * 1024,
            /** Size of a deflated data set once inflated. */
            maxInflatedBytes: 256 * 1024 * 1024,
        };

        /** @param {number} n */
        function megabytes(n) {
            return Math.round(n / 1024 / 1024) + " MB";
        }

        /** An error whose message is meant for the user. */
        class DicomError extends Error {
            /** @param {string} message */
            constructor(message) {
                super(message);
                this.name = "DicomError";
            }
        }

        /** @param {unknown} e */
        function errText(e) {
            return typeof e === "string" ? e : e instanceof Error || e instanceof DicomError ? e.message : String(e);
        }

        /**
         * True when the bytes carry the DICOM Part 10 "DICM" marker after the 128-byte preamble.
         * @param {Uint8Array} bytes
         */
        function isDicom(bytes) {
            return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
        }

        /**
         * Inflates, giving up (and freeing what it read) past LIMITS.maxInflatedBytes: deflate bombs stay small.
         * @param {Uint8Array<ArrayBuffer>} bytes
         */
        async function inflateRaw(bytes) {
            var reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
            /** @type {Uint8Array[]} */
            var parts = [];
            var total = 0;
            for (;;) {
                var r = await reader.read();
                if (r.done) break;
                total += r.value.length;
                if (total > LIMITS.maxInflatedBytes) {
                    parts.length = 0; // the chunks read so far can go while the stream is cancelled
                    await reader.cancel().catch(function () {});
                    throw new DicomError(
                        "This compressed DICOM file expands to more than " +
                            megabytes(LIMITS.maxInflatedBytes) +
                            "; it was refused. Export it as uncompressed DICOM, PNG or JPEG.",
                    );
                }
                parts.push(r.value);
            }
            var out = new Uint8Array(total);
            var at = 0;
            parts.forEach(function (p) {
                out.set(p, at);
                at += p.length;
            });
            return out;
        }

        /**
         * Parses a DICOM file. `raw` true: a bare data set without the Part 10 header (read as
         * Implicit VR Little Endian). Throws DicomError with a message for the user.
         * @param {Uint8Array<ArrayBuffer>} bytes
         * @param {boolean} raw
         */
        async function parse(bytes, raw) {
            var ds;
            try {
                if (!isDicom(bytes)) {
                    if (!raw) throw new DicomError("not a DICOM file (no DICM marker)");
                    ds = dicomParser.parseDicom(bytes, { TransferSyntaxUID: IMPLICIT_LE });
                } else {
                    var meta = /** @type {import("dicom-parser").DataSet & { position: number }} */ (dicomParser.readPart10Header(bytes));
                    var syntax = (meta.string("x00020010") || "").trim();
                    if (syntax === DEFLATED) {
                        var pos = meta.position;
                        var inflated = await inflateRaw(bytes.subarray(pos));
                        var full = new Uint8Array(pos + inflated.length);
                        full.set(bytes.subarray(0, pos), 0);
                        full.set(inflated, pos);
                        ds = dicomParser.parseDicom(bytes, {
                            inflater: function () {
                                return full;
                            },
                        });
                    } else {
                        ds = dicomParser.parseDicom(bytes);
                    }
                }
            } catch (e) {
                if (e instanceof DicomError) throw e;
                throw new DicomError("This file could not be read as DICOM (" + errText(e) + ").");
            }
            return describe(ds);
        }

        /**
         * @param {number | undefined} v
         * @param {number} fallback
         */
        function positive(v, fallback) {
            return typeof v === "number" && isFinite(v) && v > 0 ? v : fallback;
        }

        /** @typedef {GpuDicomStudy & { frame: (index: number, decodeJpeg?: (bytes: Uint8Array) => Promise<ImageData>) => Promise<GpuDicomFrame> }} Study */

        /**
         * The image attributes of a parsed data set, and a frame reader.
         * @param {import("dicom-parser").DataSet} ds
         * @returns {Study}
         */
        function describe(ds) {
            var syntax = (ds.string("x00020010") || IMPLICIT_LE).trim();
            if (UNSUPPORTED[syntax]) {
                throw new DicomError(
                    "This DICOM file is compressed with " +
                        UNSUPPORTED[syntax] +
                        ", which this page cannot decode. Export it as uncompressed DICOM, PNG or JPEG.",
                );
            }
            var ts = SUPPORTED[syntax];
            if (!ts) throw new DicomError("This DICOM file uses an unknown transfer syntax (" + syntax + "). Export it as uncompressed DICOM, PNG or JPEG.");
            var pixel = ds.elements.x7fe00010;
            if (!pixel) throw new DicomError("This DICOM file holds no image (no Pixel Data): it may be a report or a structured document.");
            var rows = ds.uint16("x00280010");
            var columns = ds.uint16("x00280011");
            if (!rows || !columns) throw new DicomError("This DICOM file has no image size (Rows/Columns).");
            var samplesPerPixel = ds.uint16("x00280002") || 1;
            var photometric = (ds.string("x00280004") || (samplesPerPixel === 3 ? "RGB" : "MONOCHROME2")).trim().toUpperCase();
            var bitsAllocated = ds.uint16("x00280100") || 8;
            var bitsStored = ds.uint16("x00280101") || bitsAllocated;
            var signed = ds.uint16("x00280103") === 1;
            var planar = ds.uint16("x00280006") || 0;
            var frames = Math.max(1, ds.intString("x00280008") || 1);
            var monochrome = photometric === "MONOCHROME1" || photometric === "MONOCHROME2";
            if (
                !monochrome &&
                !(samplesPerPixel === 3 && (photometric === "RGB" || photometric === "YBR_FULL" || (ts.jpeg && photometric.indexOf("YBR") === 0)))
            ) {
                throw new DicomError(
                    "This page cannot display " + photometric + " DICOM images (" + samplesPerPixel + " samples per pixel). Export it as PNG or JPEG.",
                );
            }
            if ([8, 16, 32].indexOf(bitsAllocated) < 0)
                throw new DicomError("This page cannot display DICOM images with " + bitsAllocated + " bits allocated per sample.");
            var frameBytes = rows * columns * samplesPerPixel * (bitsAllocated / 8);
            if (rows * columns > LIMITS.maxPixels || frameBytes > LIMITS.maxFrameBytes) {
                throw new DicomError(
                    "This DICOM image is " +
                        columns +
                        "×" +
                        rows +
                        " pixels (" +
                        megabytes(frameBytes) +
                        " per frame), too large to open here; it was refused. Export a smaller PNG or JPEG.",
                );
            }
            var slope = ds.floatString("x00281053") ?? NaN;
            var intercept = ds.floatString("x00281052") ?? NaN;
            /** @type {GpuDicomWindow[]} */
            var windows = [];
            var nw = Math.min(ds.numStringValues("x00281050") || 0, ds.numStringValues("x00281051") || 0);
            for (var i = 0; i < nw; i++) {
                var c = ds.floatString("x00281050", i) ?? NaN;
                var w = ds.floatString("x00281051", i) ?? NaN;
                if (isFinite(c) && isFinite(w) && w >= 1) windows.push({ center: c, width: w, name: (ds.string("x00281055", i) || "").trim() });
            }
            // Pixel aspect: (0028,0030) Pixel Spacing is "row spacing \ column spacing".
            var aspect = 1;
            var dy = ds.floatString("x00280030", 0) ?? NaN;
            var dx = ds.floatString("x00280030", 1) ?? NaN;
            if (positive(dy, 0) && positive(dx, 0)) aspect = dy / dx;
            else {
                var ar = (ds.string("x00280034") || "").split("\\").map(Number);
                if (ar.length === 2 && positive(ar[0], 0) && positive(ar[1], 0)) aspect = ar[0] / ar[1];
            }
            /** @type {Study} */
            var study = {
                transferSyntax: syntax,
                transferSyntaxName: ts.name,
                rows: rows,
                columns: columns,
                frames: frames,
                samplesPerPixel: samplesPerPixel,
                photometric: photometric,
                monochrome: monochrome,
                bitsAllocated: bitsAllocated,
                bitsStored: bitsStored,
                signed: signed,
                rescale: { slope: positive(Math.abs(slope), 0) ? slope : 1, intercept: isFinite(intercept) ? intercept : 0 },
                windows: windows,
                /** Rows are this many times taller than columns are wide (physical pixel aspect). */
                aspect: aspect > 0.1 && aspect < 10 ? aspect : 1,
                modality: (ds.string("x00080060") || "").trim(),
                /** (0028,0301) Burned In Annotation: the pixels themselves may show identifying text. */
                burnedInAnnotation: (ds.string("x00280301") || "").trim().toUpperCase() === "YES",
                /** One frame (0-based): {gray: Float32Array of modality values} or {rgb: Uint8ClampedArray}, with min/max. */
                frame: function (index, decodeJpeg) {
                    return readFrame(ds, study, ts, planar, index, decodeJpeg);
                },
            };
            return study;
        }

        /**
         * The compressed bytes of one frame.
         * @param {import("dicom-parser").DataSet} ds
         * @param {import("dicom-parser").Element} pixel the Pixel Data element
         * @param {number} index
         * @param {number} frames
         * @param {boolean} jpeg
         * @returns {Uint8Array}
         */
        function encapsulatedFrame(ds, pixel, index, frames, jpeg) {
            if (pixel.basicOffsetTable && pixel.basicOffsetTable.length) return dicomParser.readEncapsulatedImageFrame(ds, pixel, index);
            // dicomParser gives every encapsulated Pixel Data element its fragments.
            var fragments = /** @type {import("dicom-parser").Fragment[]} */ (pixel.fragments);
            if (frames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, 0, fragments.length);
            if (fragments.length === frames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, index, 1);
            if (jpeg) return dicomParser.readEncapsulatedImageFrame(ds, pixel, index, dicomParser.createJPEGBasicOffsetTable(ds, pixel));
            throw new DicomError("The compressed frames of this file cannot be told apart (no offset table).");
        }

        /**
         * PackBits-decodes RLE Lossless segments into interleaved little-endian samples.
         * @param {Uint8Array} data
         * @param {number} pixels
         * @param {number} samplesPerPixel
         * @param {number} bytesPerSample
         */
        function decodeRle(data, pixels, samplesPerPixel, bytesPerSample) {
            if (data.length < 64) throw new DicomError("Broken RLE data: the frame is shorter than its 64-byte header.");
            var dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
            var segments = dv.getUint32(0, true);
            if (segments !== samplesPerPixel * bytesPerSample)
                throw new DicomError("Broken RLE data: " + segments + " segments for " + samplesPerPixel + " samples of " + bytesPerSample + " bytes.");
            // Offsets must lie inside the frame and increase (PS3.5 G.5): a bad one would make the loop
            // below read past the data for billions of steps.
            var previous = 64;
            for (var q = 0; q < segments; q++) {
                var at = dv.getUint32(4 + 4 * q, true);
                if (at < previous || at > data.length)
                    throw new DicomError("Broken RLE data: segment " + (q + 1) + " starts outside the frame; the file was refused.");
                previous = at;
            }
            var out = new Uint8Array(pixels * samplesPerPixel * bytesPerSample);
            var step = samplesPerPixel * bytesPerSample;
            for (var s = 0; s < segments; s++) {
                var start = dv.getUint32(4 + 4 * s, true);
                var end = s + 1 < segments ? dv.getUint32(8 + 4 * s, true) : data.length;
                var sample = Math.floor(s / bytesPerSample);
                var byteLE = bytesPerSample - 1 - (s % bytesPerSample); // segments go most significant byte first
                var o = sample * bytesPerSample + byteLE;
                var px = 0;
                var p = start;
                while (p < end && px < pixels) {
                    var n = data[p++];
                    if (n < 128) {
                        for (var k = 0; k <= n && px < pixels && p < end; k++, px++) out[px * step + o] = data[p++];
                    } else if (n > 128) {
                        var v = data[p++];
                        for (var r = 0; r < 257 - n && px < pixels; r++, px++) out[px * step + o] = v;
                    }
                }
            }
            return out;
        }

        /**
         * @param {import("dicom-parser").DataSet} ds
         * @param {GpuDicomStudy} study
         * @param {Syntax} ts
         * @param {number} planar Planar Configuration
         * @param {number} index
         * @param {(bytes: Uint8Array) => Promise<ImageData>} [decodeJpeg] the browser's JPEG decoder
         * @returns {Promise<GpuDicomFrame>}
         */
        async function readFrame(ds, study, ts, planar, index, decodeJpeg) {
            if (!(index >= 0 && index < study.frames)) throw new DicomError("No frame " + (index + 1) + " (the file has " + study.frames + ").");
            var pixel = ds.elements.x7fe00010;
            var pixels = study.rows * study.columns;
            var spp = study.samplesPerPixel;
            var bytesPerSample = study.bitsAllocated / 8;
            var raw;
            var bigEndian = !!ts.bigEndian;
            var rgba = null;
            try {
                if (ts.jpeg) {
                    if (!decodeJpeg) throw new DicomError("JPEG-compressed DICOM needs the browser's JPEG decoder.");
                    var img = await decodeJpeg(encapsulatedFrame(ds, pixel, index, study.frames, true));
                    if (img.width !== study.columns || img.height !== study.rows)
                        throw new DicomError("The JPEG frame is " + img.width + "x" + img.height + ", not " + study.columns + "x" + study.rows + ".");
                    if (study.bitsAllocated !== 8) throw new DicomError("12-bit JPEG DICOM cannot be decoded by the browser.");
                    rgba = img.data;
                } else if (ts.rle) {
                    raw = decodeRle(encapsulatedFrame(ds, pixel, index, study.frames, false), pixels, spp, bytesPerSample);
                    bigEndian = false;
                    planar = 0;
                } else {
                    if (pixel.encapsulatedPixelData) throw new DicomError("Unexpected compressed pixel data in an uncompressed transfer syntax.");
                    var size = pixels * spp * bytesPerSample;
                    var offset = pixel.dataOffset + index * size;
                    if (offset + size > ds.byteArray.length) throw new DicomError("The file is truncated: frame " + (index + 1) + " is incomplete.");
                    raw = ds.byteArray.subarray(offset, offset + size);
                }
            } catch (e) {
                if (e instanceof DicomError) throw e;
                throw new DicomError("Could not read frame " + (index + 1) + " (" + errText(e) + ").");
            }

            var i;
            if (rgba) {
                if (study.monochrome) {
                    var g = new Float32Array(pixels);
                    for (i = 0; i < pixels; i++) g[i] = rgba[i * 4] * study.rescale.slope + study.rescale.intercept;
                    return withRange({ gray: g });
                }
                var fromJpeg = new Uint8ClampedArray(pixels * 3);
                for (i = 0; i < pixels; i++) {
                    fromJpeg[i * 3] = rgba[i * 4];
                    fromJpeg[i * 3 + 1] = rgba[i * 4 + 1];
                    fromJpeg[i * 3 + 2] = rgba[i * 4 + 2];
                }
                return { rgb: fromJpeg, min: 0, max: 255 };
            }

            // Every branch above that does not set rgba sets raw.
            var values = samples(/** @type {Uint8Array} */ (raw), study.bitsAllocated, study.bitsStored, study.signed, bigEndian);
            if (study.monochrome) {
                var slope = study.rescale.slope;
                var intercept = study.rescale.intercept;
                if (slope !== 1 || intercept !== 0) for (i = 0; i < values.length; i++) values[i] = values[i] * slope + intercept;
                return withRange({ gray: values });
            }
            // Colour: 3 samples, interleaved (planar 0) or one plane per sample (planar 1).
            var shift = Math.max(0, study.bitsStored - 8);
            var div = Math.pow(2, shift);
            var rgb = new Uint8ClampedArray(pixels * 3);
            for (i = 0; i < pixels; i++) {
                for (var c = 0; c < 3; c++) rgb[i * 3 + c] = (planar === 1 ? values[c * pixels + i] : values[i * 3 + c]) / div;
            }
            if (study.photometric === "YBR_FULL") {
                for (i = 0; i < pixels * 3; i += 3) {
                    var y = rgb[i],
                        cb = rgb[i + 1] - 128,
                        cr = rgb[i + 2] - 128;
                    rgb[i] = y + 1.402 * cr;
                    rgb[i + 1] = y - 0.344136 * cb - 0.714136 * cr;
                    rgb[i + 2] = y + 1.772 * cb;
                }
            }
            return { rgb: rgb, min: 0, max: 255 };
        }

        /**
         * Stored values as numbers: masked to Bits Stored, sign-extended when signed.
         * @param {Uint8Array} raw
         * @param {number} bitsAllocated
         * @param {number} bitsStored
         * @param {boolean} signed
         * @param {boolean} bigEndian
         */
        function samples(raw, bitsAllocated, bitsStored, signed, bigEndian) {
            var bytes = bitsAllocated / 8;
            var n = Math.floor(raw.length / bytes);
            var out = new Float32Array(n);
            var dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
            var full = bitsStored >= bitsAllocated;
            var mask = Math.pow(2, bitsStored) - 1;
            var sign = Math.pow(2, bitsStored - 1);
            for (var i = 0; i < n; i++) {
                var v = bytes === 1 ? raw[i] : bytes === 2 ? dv.getUint16(i * 2, !bigEndian) : dv.getUint32(i * 4, !bigEndian);
                if (!full) v = bytes === 4 ? (v >>> 0) % (mask + 1) : v & mask;
                if (signed && v >= sign) v -= 2 * sign;
                out[i] = v;
            }
            return out;
        }

        /**
         * The frame with its value range.
         * @param {{ gray: Float32Array }} frame
         * @returns {GpuDicomFrame}
         */
        function withRange(frame) {
            var g = frame.gray;
            var min = Infinity;
            var max = -Infinity;
            for (var i = 0; i < g.length; i++) {
                if (g[i] < min) min = g[i];
                if (g[i] > max) max = g[i];
            }
            return { gray: g, min: min === Infinity ? 0 : min, max: max === -Infinity ? 0 : max };
        }

        /**
         * A window covering the frame's whole value range.
         * @param {GpuDicomFrame} frame
         */
        function autoWindow(frame) {
            return { center: (frame.min + frame.max) / 2, width: Math.max(1, frame.max - frame.min + 1) };
        }

        /**
         * The window the file asks for (first preset), else the frame's full range.
         * @param {GpuDicomStudy} study
         * @param {GpuDicomFrame} frame
         */
        function defaultWindow(study, frame) {
            return study.windows.length ? { center: study.windows[0].center, width: study.windows[0].width } : autoWindow(frame);
        }

        /**
         * RGBA pixels (rows x columns) of a frame: the linear VOI LUT of DICOM PS3.3 C.11.2.1.2
         * for greyscale (inverted for MONOCHROME1), the colours as they are for colour images.
         * @param {GpuDicomStudy} study
         * @param {GpuDicomFrame} frame
         * @param {{ center: number, width: number }} win
         */
        function render(study, frame, win) {
            var n = study.rows * study.columns;
            var out = new Uint8ClampedArray(n * 4);
            var i;
            if (frame.rgb) {
                for (i = 0; i < n; i++) {
                    out[i * 4] = frame.rgb[i * 3];
                    out[i * 4 + 1] = frame.rgb[i * 3 + 1];
                    out[i * 4 + 2] = frame.rgb[i * 3 + 2];
                    out[i * 4 + 3] = 255;
                }
                return out;
            }
            var c = win.center;
            var w = Math.max(1, win.width);
            var lo = c - 0.5 - (w - 1) / 2;
            var hi = c - 0.5 + (w - 1) / 2;
            var invert = study.photometric === "MONOCHROME1";
            var g = /** @type {Float32Array} */ (frame.gray);
            for (i = 0; i < n; i++) {
                var x = g[i];
                var y = x <= lo ? 0 : x > hi ? 255 : ((x - (c - 0.5)) / (w - 1) + 0.5) * 255;
                if (invert) y = 255 - y;
                out[i * 4] = out[i * 4 + 1] = out[i * 4 + 2] = y;
                out[i * 4 + 3] = 255;
            }
            return out;
        }

        return { isDicom: isDicom, parse: parse, render: render, autoWindow: autoWindow, defaultWindow: defaultWindow, DicomError: DicomError, LIMITS: LIMITS };
    },
);
