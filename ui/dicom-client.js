// @ts-check
/*
 * The page's side of ui/dicom-worker.js: one worker per DICOM attachment (it keeps the parsed
 * file for frame changes), a time budget per operation, and plain messages when a file is
 * refused. A worker over its budget is terminated, which frees whatever it allocated.
 *
 * window.gpuDicomWorker.open(bytes, raw) -> Promise<{study, frame, readFrame(index), close()}>
 */
(function (root) {
    "use strict";

    /** Seconds a file may take to open (parse + first frame), and a frame change. */
    var BUDGET = { openSeconds: 15, frameSeconds: 10 };
    /** Overrides of dicom.js LIMITS for the worker (tests use smaller bounds, same mechanism). @type {Record<string, number>} */
    var LIMITS = {};

    /**
     * Opens a file in a new worker: its attributes and first frame, and a reader for the others.
     * @param {Uint8Array} bytes transferred to the worker (the page's copy is emptied)
     * @param {boolean} raw a bare data set without the Part 10 header
     * @returns {Promise<GpuDicomReader>}
     */
    function open(bytes, raw) {
        /** @type {Worker} */
        var worker;
        try {
            worker = new Worker("dicom-worker.js");
        } catch (e) {
            return Promise.reject(new Error("the DICOM reader could not start in this browser (" + (e instanceof Error ? e.message : String(e)) + ")."));
        }
        var nextId = 1;
        /** @type {Map<number, { resolve: (v: GpuDicomReply & { ok: true }) => void, reject: (e: Error) => void, timer: ReturnType<typeof setTimeout> }>} */
        var pending = new Map();
        var closed = false;

        function close() {
            if (closed) return;
            closed = true;
            worker.terminate();
            pending.forEach(function (p) {
                p.reject(new Error("the DICOM reader was closed."));
            });
            pending.clear();
        }

        /** @param {MessageEvent<GpuDicomReply>} e */
        worker.onmessage = function (e) {
            var reply = e.data;
            var p = pending.get(reply.id);
            if (!p) return;
            pending.delete(reply.id);
            clearTimeout(p.timer);
            if (reply.ok) p.resolve(reply);
            else p.reject(new Error(reply.message));
        };
        worker.onerror = function (e) {
            e.preventDefault();
            var message = "the DICOM reader failed (" + (e.message || "unknown error") + ").";
            pending.forEach(function (p) {
                clearTimeout(p.timer);
                p.reject(new Error(message));
            });
            pending.clear();
        };

        /**
         * Posts a message and waits for its answer, at most `seconds`.
         * @param {GpuDicomCall} msg
         * @param {number} seconds
         * @param {Transferable[]} [transfer]
         * @returns {Promise<GpuDicomReply & { ok: true }>}
         */
        function call(msg, seconds, transfer) {
            if (closed) return Promise.reject(new Error("the DICOM reader was closed."));
            return new Promise(function (resolve, reject) {
                var id = nextId++;
                /** @type {GpuDicomRequest} */
                var request = Object.assign({ id: id }, msg);
                var timer = setTimeout(function () {
                    // Over budget: a hostile or broken file. Stop the worker, which frees its memory.
                    pending.delete(id);
                    close();
                    reject(new Error("this DICOM file took longer than " + seconds + " s to decode and was refused. Export it as PNG or JPEG."));
                }, seconds * 1000);
                pending.set(id, { resolve: resolve, reject: reject, timer: timer });
                worker.postMessage(request, { transfer: transfer || [] });
            });
        }

        return call({ op: "open", bytes: bytes, raw: raw, limits: LIMITS }, BUDGET.openSeconds, [bytes.buffer]).then(
            function (r) {
                return {
                    study: /** @type {GpuDicomStudy} */ (r.study), // an "open" reply always has it (dicom-worker.js)
                    frame: r.frame,
                    /** @param {number} index */
                    readFrame: function (index) {
                        return call({ op: "frame", index: index }, BUDGET.frameSeconds).then(function (x) {
                            return x.frame;
                        });
                    },
                    close: close,
                };
            },
            function (e) {
                close();
                throw e;
            },
        );
    }

    root.gpuDicomWorker = { open: open, BUDGET: BUDGET, LIMITS: LIMITS };
})(self);
