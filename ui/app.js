/*
 * The page: images in (picker, drag and drop, paste; PNG, JPEG, DICOM), resized in the
 * browser, a question out to POST /v1/chat/completions (stream: true) on this origin, the
 * answer rendered as it streams. Cold starts (503 + Retry-After) and rate limits (429) are
 * retried by the page after a visible countdown until an answer comes or the user stops.
 * No framework, no build step; runs under the UI's CSP (script-src 'self').
 */
(function () {
    "use strict";

    var MODEL_STORE = "gpuserve.model";
    var MAX_FILE_BYTES = 512 * 1024 * 1024;
    var FALLBACK_HINT = { maxSide: 1024, maxImages: 1, why: "a size most vision-language models read without losing detail" };

    var $ = function (id) { return document.getElementById(id); };
    var ui = {
        key: $("api-key"), forgetKey: $("forget-key"), keyError: $("key-error"), rememberKey: $("remember-key"),
        model: $("model"), modelHint: $("model-hint"),
        dropZone: $("drop-zone"), file: $("file"), fileHint: $("file-hint"), imageError: $("image-error"), attachments: $("attachments"),
        form: $("ask-form"), question: $("question"), analyze: $("analyze"), stop: $("stop"), clear: $("clear"),
        statusBox: $("status-box"), status: $("status"), countdown: $("countdown"), error: $("error"),
        log: $("log"), empty: $("empty"),
    };

    var state = {
        hints: { default: FALLBACK_HINT, models: {} },
        /** Images waiting to go with the next question. */
        attachments: [],
        /** The conversation so far, as sent to the API (images as data URLs). */
        history: [],
        historyImages: 0,
        /** The running request: {controller}. */
        busy: null,
        /** Bumped by Clear: a request still finishing must not write into the new conversation. */
        generation: 0,
        nextId: 1,
    };

    // ---------- small helpers ----------

    function store(key, value) {
        try {
            if (value === null) localStorage.removeItem(key);
            else localStorage.setItem(key, value);
        } catch (e) { /* storage disabled: the key lives for this page only */ }
    }
    function stored(key) {
        try { return localStorage.getItem(key); } catch (e) { return null; }
    }
    function make(tag, props, children) {
        var n = document.createElement(tag);
        if (props) Object.keys(props).forEach(function (k) {
            if (k === "text") n.textContent = props[k];
            else if (k === "class") n.className = props[k];
            else if (k.indexOf("aria-") === 0 || k === "for" || k === "role") n.setAttribute(k, props[k]);
            else n[k] = props[k];
        });
        (children || []).forEach(function (c) { if (c) n.append(c); });
        return n;
    }
    function show(node, text) {
        node.textContent = text || "";
        node.hidden = !text;
    }
    function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
    function authHeaders() {
        var k = ui.key.value.trim();
        return k ? { authorization: "Bearer " + k } : {};
    }
    /** The OpenAI-shaped (or vLLM-shaped) error of a response, or its text. */
    async function readError(res) {
        var text = "";
        try { text = await res.text(); } catch (e) { /* ignore */ }
        try {
            var body = JSON.parse(text);
            var err = body && body.error && typeof body.error === "object" ? body.error : body;
            return { message: String(err.message || err.detail || ""), code: String(err.code || "") };
        } catch (e) {
            return { message: text.slice(0, 300).trim(), code: "" };
        }
    }
    /** Retry-After as seconds (delta-seconds or an HTTP date), bounded to 1..600. */
    function retryAfterSeconds(res, fallback) {
        var h = res.headers.get("retry-after");
        var s = h === null ? NaN : /^\s*\d+\s*$/.test(h) ? Number(h) : (Date.parse(h) - Date.now()) / 1000;
        if (!isFinite(s)) s = fallback;
        return Math.min(600, Math.max(1, Math.ceil(s)));
    }
    function keyMessage(err) {
        if (!ui.key.value.trim()) return "Enter your API key (ask whoever runs this service for one).";
        return "The API key was refused (401" + (err && err.message ? ": " + err.message : "") + "). Check the key and enter it again.";
    }
    function hintFor(model) {
        var m = state.hints.models || {};
        return Object.prototype.hasOwnProperty.call(m, model) ? m[model] : state.hints.default || FALLBACK_HINT;
    }
    function currentHint() { return hintFor(ui.model.value); }

    // ---------- API key and models ----------

    async function loadHints() {
        try {
            var res = await fetch("models.json", { cache: "no-cache" });
            if (res.ok) state.hints = await res.json();
        } catch (e) { /* keep the built-in default */ }
    }

    function setModelOptions(options, enabled) {
        ui.model.replaceChildren.apply(ui.model, options);
        ui.model.disabled = !enabled;
    }

    async function loadModels() {
        show(ui.keyError, "");
        var res;
        try {
            res = await fetch("/v1/models", { headers: authHeaders() });
        } catch (e) {
            setModelOptions([new Option("Server unreachable", "")], false);
            ui.modelHint.textContent = "Cannot reach the server to list the models (" + e.message + ").";
            return;
        }
        if (res.status === 401) {
            show(ui.keyError, keyMessage(await readError(res)));
            setModelOptions([new Option("Enter a valid API key first", "")], false);
            updateModelHint();
            return;
        }
        if (!res.ok) {
            var err = await readError(res);
            setModelOptions([new Option("Models unavailable", "")], false);
            ui.modelHint.textContent = "Could not list the models (" + res.status + (err.message ? ": " + err.message : "") + ").";
            return;
        }
        var ids = [];
        try {
            ids = ((await res.json()).data || []).map(function (m) { return String(m.id); });
        } catch (e) { /* handled below */ }
        if (!ids.length) {
            setModelOptions([new Option("No models served", "")], false);
            ui.modelHint.textContent = "The server lists no models.";
            return;
        }
        var saved = stored(MODEL_STORE);
        setModelOptions(ids.map(function (id) { return new Option(id, id); }), true);
        if (saved && ids.indexOf(saved) >= 0) ui.model.value = saved;
        onModelChanged();
    }

    function updateModelHint() {
        var h = currentHint();
        if (!ui.model.value) {
            ui.modelHint.textContent = "The models are listed once the API key is accepted.";
            updateFileHint();
            return;
        }
        ui.modelHint.textContent = "Images are resized in your browser to at most " + h.maxSide + " px on the longest side (" + h.why + "). " +
            "Up to " + plural(h.maxImages, "image") + " per conversation.";
        updateFileHint();
    }

    function onModelChanged() {
        if (ui.model.value) store(MODEL_STORE, ui.model.value);
        updateModelHint();
        state.attachments.forEach(draw);
    }

    function saveKey() {
        // Session storage unless "Remember on this device" is ticked (key-store.js).
        gpuKeyStore.save(ui.key.value.trim() || null, ui.rememberKey.checked);
    }

    // ---------- images ----------

    function roomForImages() {
        return currentHint().maxImages - state.historyImages - state.attachments.length;
    }

    function updateFileHint(extra) {
        var room = roomForImages();
        // Until a model is chosen (no key yet, or a refused one) the limit is not known: say so, not a number.
        var text = !ui.model.value
            ? "How many images you can add depends on the model, chosen once the API key is accepted."
            : room > 0
              ? "You can add " + plural(room, "more image") + " for " + ui.model.value + "."
              : "No more images for " + ui.model.value + " in this conversation; Clear conversation to start over.";
        ui.fileHint.textContent = (extra ? extra + " " : "") + text;
    }

    function imageError(text) {
        show(ui.imageError, text);
    }

    function sniff(head, file) {
        var name = (file.name || "").toLowerCase();
        if (window.gpuDicom && gpuDicom.isDicom(head)) return "dicom";
        if (head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47) return "png";
        if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "jpeg";
        if (/\.(dcm|dicom)$/.test(name) || file.type === "application/dicom") return "raw-dicom";
        return null;
    }

    async function addFiles(list) {
        imageError("");
        var files = Array.prototype.slice.call(list || []);
        var added = [];
        for (var i = 0; i < files.length; i++) {
            var f = files[i];
            var label = f.name || "The pasted image";
            if (roomForImages() <= 0) {
                imageError((ui.model.value || "This model") + " accepts " + plural(currentHint().maxImages, "image") + " per conversation; " +
                    (files.length - i) + " not added. Remove an image or clear the conversation.");
                break;
            }
            if (f.size > MAX_FILE_BYTES) {
                imageError(label + " is larger than " + MAX_FILE_BYTES / 1024 / 1024 + " MB.");
                continue;
            }
            try {
                var a = await loadAttachment(f);
                state.attachments.push(a);
                ui.attachments.append(a.node);
                draw(a);
                added.push(a.name);
            } catch (e) {
                imageError(label + ": " + e.message);
            }
        }
        updateFileHint(added.length ? "Added " + added.join(", ") + "." : "");
    }

    async function loadAttachment(file) {
        var head = new Uint8Array(await file.slice(0, 132).arrayBuffer());
        var kind = sniff(head, file);
        var a = { id: state.nextId++, name: file.name || "pasted image" };
        if (kind === "png" || kind === "jpeg") {
            var bmp;
            try {
                bmp = await createImageBitmap(file);
            } catch (e) {
                throw new Error("this " + kind.toUpperCase() + " file could not be decoded.");
            }
            a.kind = "image";
            a.mime = kind === "png" ? "image/png" : "image/jpeg";
            a.source = bmp;
            a.width = bmp.width;
            a.height = bmp.height;
        } else if (kind === "dicom" || kind === "raw-dicom") {
            if (!window.gpuDicom || !window.gpuDicomWorker) throw new Error("the DICOM reader did not load; reload the page.");
            // Decoded in a Web Worker with a time budget (dicom-client.js): a hostile file cannot freeze the page.
            var reader = await gpuDicomWorker.open(new Uint8Array(await file.arrayBuffer()), kind === "raw-dicom");
            var study = reader.study;
            a.kind = "dicom";
            a.mime = "image/png";
            a.study = study;
            a.reader = reader;
            a.frameIndex = 0;
            a.frame = reader.frame;
            a.fileWindow = gpuDicom.defaultWindow(study, a.frame);
            a.win = { center: a.fileWindow.center, width: a.fileWindow.width };
            a.range = { min: Math.min(a.frame.min, a.win.center - a.win.width / 2), max: Math.max(a.frame.max, a.win.center + a.win.width / 2) };
            a.full = make("canvas", { width: study.columns, height: study.rows });
            a.width = study.columns;
            a.height = Math.max(1, Math.round(study.rows * study.aspect));
        } else {
            throw new Error("not a PNG, JPEG or DICOM file.");
        }
        buildAttachmentNode(a);
        return a;
    }

    /** The size an image is sent at: longest side at most maxSide, never enlarged. */
    function sendSize(a) {
        var s = Math.min(1, currentHint().maxSide / Math.max(a.width, a.height));
        return { width: Math.max(1, Math.round(a.width * s)), height: Math.max(1, Math.round(a.height * s)) };
    }

    /** Draws the attachment at its send size: the preview is exactly what is sent. */
    function draw(a) {
        var size = sendSize(a);
        var c = a.canvas;
        c.width = size.width;
        c.height = size.height;
        var ctx = c.getContext("2d");
        ctx.imageSmoothingEnabled = true;
        ctx.imageSmoothingQuality = "high";
        if (a.kind === "image") {
            // Transparent areas become white: what is sent is opaque.
            ctx.fillStyle = "#fff";
            ctx.fillRect(0, 0, size.width, size.height);
            ctx.drawImage(a.source, 0, 0, size.width, size.height);
        } else {
            var s = a.study;
            a.full.getContext("2d").putImageData(new ImageData(gpuDicom.render(s, a.frame, a.win), s.columns, s.rows), 0, 0);
            ctx.drawImage(a.full, 0, 0, size.width, size.height);
        }
        var resized = size.width !== a.width || size.height !== a.height;
        a.sizeNote.textContent = "Sent as " + size.width + "×" + size.height + " " + (a.mime === "image/png" ? "PNG" : "JPEG") +
            (resized ? " (resized from " + a.width + "×" + a.height + ")" : " (original size)") + ".";
    }

    function scheduleDraw(a) {
        if (a.pending) return;
        a.pending = true;
        requestAnimationFrame(function () {
            a.pending = false;
            draw(a);
        });
    }

    function removeAttachment(a) {
        state.attachments = state.attachments.filter(function (x) { return x !== a; });
        if (a.reader) a.reader.close();
        a.node.remove();
        if (a.source && a.source.close) a.source.close();
        imageError("");
        updateFileHint("Removed " + a.name + ".");
    }

    /** A number box and a slider bound together. */
    function slider(id, label, min, max, step, value, onInput) {
        var range = make("input", { type: "range", id: id + "-range", min: min, max: max, step: step, value: value, "aria-label": label });
        var num = make("input", { type: "number", id: id, min: min, max: max, step: step, value: value });
        var set = function (v, from) {
            if (!isFinite(v)) return;
            if (from !== range) range.value = v;
            if (from !== num) num.value = v;
            onInput(v);
        };
        range.addEventListener("input", function () { set(Number(range.value), range); });
        num.addEventListener("change", function () { set(Number(num.value), num); });
        var box = make("div", { class: "slider" }, [make("label", { for: id, text: label }), range, num]);
        box.set = function (v) { range.value = v; num.value = v; };
        return box;
    }

    function round(v) { return Math.round(v * 100) / 100; }

    function buildAttachmentNode(a) {
        var n = a.id;
        a.canvas = make("canvas", { role: "img", "aria-label": "Preview of " + a.name + " as it will be sent" });
        a.sizeNote = make("p", { class: "meta" });
        var remove = make("button", { type: "button", class: "secondary small", text: "Remove", "aria-label": "Remove " + a.name });
        remove.addEventListener("click", function () { removeAttachment(a); ui.file.focus(); });
        var parts = [a.canvas, make("p", { class: "name", text: a.name }), a.sizeNote];
        if (a.kind === "dicom") {
            var s = a.study;
            parts.push(make("p", { class: "meta", text: [s.modality || "DICOM", s.columns + "×" + s.rows, plural(s.frames, "frame"), s.bitsStored + "-bit " + s.photometric, s.transferSyntaxName].join(" · ") }));
            parts.push(make("p", { class: "meta", text: "Only the pixels of this view are sent, as PNG. No DICOM tags (patient name, IDs, dates, institution) leave this browser." }));
            if (s.burnedInAnnotation) parts.push(make("p", { class: "warn", role: "note", text: "This file is marked as having burned-in annotation: the pixels themselves may show patient details. Check the preview before sending." }));
            var controls = make("fieldset", {}, [make("legend", { text: "DICOM view" })]);
            if (s.frames > 1) {
                controls.append(slider("frame-" + n, "Frame (1–" + s.frames + ")", 1, s.frames, 1, 1, function (v) { selectFrame(a, Math.round(v) - 1); }));
            }
            if (s.monochrome) {
                var span = a.range.max - a.range.min;
                var step = span >= 100 ? 1 : span > 0 ? round(span / 256) || 0.01 : 1;
                var wc = slider("wc-" + n, "Window center", round(a.range.min), round(a.range.max), step, round(a.win.center), function (v) { a.win.center = v; scheduleDraw(a); });
                var ww = slider("ww-" + n, "Window width", step, round(Math.max(span, 1) * 2), step, round(a.win.width), function (v) { a.win.width = Math.max(v, 1e-6); scheduleDraw(a); });
                var reset = make("button", { type: "button", class: "secondary small", text: s.windows.length ? "Reset to the file's window" : "Reset window" });
                reset.addEventListener("click", function () {
                    a.win = { center: a.fileWindow.center, width: a.fileWindow.width };
                    wc.set(round(a.win.center));
                    ww.set(round(a.win.width));
                    draw(a);
                });
                var full = make("button", { type: "button", class: "secondary small", text: "Full range" });
                full.addEventListener("click", function () {
                    a.win = gpuDicom.autoWindow(a.frame);
                    wc.set(round(a.win.center));
                    ww.set(round(a.win.width));
                    draw(a);
                });
                controls.append(wc, ww);
                if (s.windows.length > 1) {
                    var presets = make("select", { id: "preset-" + n });
                    s.windows.forEach(function (w, i) { presets.append(new Option((w.name || "Preset " + (i + 1)) + " (C " + w.center + ", W " + w.width + ")", String(i))); });
                    presets.addEventListener("change", function () {
                        var w = s.windows[Number(presets.value)];
                        a.win = { center: w.center, width: w.width };
                        wc.set(round(w.center));
                        ww.set(round(w.width));
                        draw(a);
                    });
                    controls.append(make("div", { class: "preset" }, [make("label", { for: "preset-" + n, text: "Window preset from the file" }), presets]));
                }
                controls.append(make("div", { class: "buttons" }, [reset, full]));
            }
            if (controls.children.length > 1) parts.push(controls);
        }
        parts.push(make("div", { class: "buttons" }, [remove]));
        a.node = make("li", { class: "attachment" }, parts);
    }

    async function selectFrame(a, index) {
        if (index === a.frameIndex || index < 0 || index >= a.study.frames) return;
        a.frameIndex = index;
        try {
            var frame = await a.reader.readFrame(index);
            if (a.frameIndex !== index) return; // a newer choice won
            a.frame = frame;
            imageError("");
            scheduleDraw(a);
        } catch (e) {
            imageError(a.name + ": " + e.message);
        }
    }

    // ---------- encoding ----------

    var CRC_TABLE = (function () {
        var t = new Int32Array(256);
        for (var n = 0; n < 256; n++) {
            var c = n;
            for (var k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
            t[n] = c;
        }
        return t;
    })();

    function crc32(bytes, start, end) {
        var c = -1;
        for (var i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 255] ^ (c >>> 8);
        return (c ^ -1) >>> 0;
    }

    async function deflate(bytes) {
        var cs = new CompressionStream("deflate");
        var writer = cs.writable.getWriter();
        writer.write(bytes);
        writer.close();
        return new Uint8Array(await new Response(cs.readable).arrayBuffer());
    }

    /**
     * An opaque image as PNG: 8-bit greyscale when every pixel is grey (X-rays, DICOM), else RGB.
     * Chunks are IHDR, IDAT and IEND only: pixels, no metadata. Written here rather than by
     * canvas.toBlob, which took seconds for large images in headless chromium.
     */
    async function encodePng(image) {
        var w = image.width, h = image.height, d = image.data, n = w * h, i;
        var grey = true;
        for (i = 0; i < n * 4 && grey; i += 4) grey = d[i] === d[i + 1] && d[i] === d[i + 2];
        var ch = grey ? 1 : 3;
        var stride = w * ch + 1;
        var raw = new Uint8Array(stride * h);
        var line = new Uint8Array(w * ch);
        var prev = new Uint8Array(w * ch);
        for (var y = 0; y < h; y++) {
            for (var x = 0, o = y * w * 4; x < w; x++, o += 4) {
                if (grey) line[x] = d[o];
                else { line[x * 3] = d[o]; line[x * 3 + 1] = d[o + 1]; line[x * 3 + 2] = d[o + 2]; }
            }
            // Per row, the smaller of the Sub and Up filters (a cheap adaptive filter).
            var sub = 0, up = 0;
            for (i = 0; i < line.length; i++) {
                var a = (line[i] - (i >= ch ? line[i - ch] : 0)) & 255;
                var b = (line[i] - prev[i]) & 255;
                sub += a < 128 ? a : 256 - a;
                up += b < 128 ? b : 256 - b;
            }
            var row = y * stride;
            raw[row] = sub <= up ? 1 : 2;
            for (i = 0; i < line.length; i++) raw[row + 1 + i] = (line[i] - (sub <= up ? (i >= ch ? line[i - ch] : 0) : prev[i])) & 255;
            var swap = prev; prev = line; line = swap;
        }
        var idat = await deflate(raw);
        var chunks = [["IHDR", 13], ["IDAT", idat.length], ["IEND", 0]];
        var out = new Uint8Array(8 + chunks.reduce(function (s, c) { return s + 12 + c[1]; }, 0));
        var dv = new DataView(out.buffer);
        out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
        var p = 8;
        chunks.forEach(function (c) {
            dv.setUint32(p, c[1]);
            for (var k = 0; k < 4; k++) out[p + 4 + k] = c[0].charCodeAt(k);
            if (c[0] === "IHDR") {
                dv.setUint32(p + 8, w);
                dv.setUint32(p + 12, h);
                out.set([8, grey ? 0 : 2, 0, 0, 0], p + 16); // 8 bits, grey or RGB, deflate, adaptive filters, no interlace
            } else if (c[0] === "IDAT") {
                out.set(idat, p + 8);
            }
            dv.setUint32(p + 8 + c[1], crc32(out, p + 4, p + 8 + c[1]));
            p += 12 + c[1];
        });
        return out;
    }

    function base64(bytes) {
        var s = "";
        for (var i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        return btoa(s);
    }

    /** The attachment as sent: the preview canvas as PNG (JPEG for JPEG photos), as a data URL. */
    async function encode(a) {
        draw(a);
        var url;
        if (a.mime === "image/png") {
            url = "data:image/png;base64," + base64(await encodePng(a.canvas.getContext("2d").getImageData(0, 0, a.canvas.width, a.canvas.height)));
        } else {
            var blob = await new Promise(function (resolve) { a.canvas.toBlob(resolve, "image/jpeg", 0.92); });
            if (!blob) throw new Error("could not encode " + a.name);
            url = "data:image/jpeg;base64," + base64(new Uint8Array(await blob.arrayBuffer()));
        }
        return { url: url, name: a.name, width: a.canvas.width, height: a.canvas.height, canvas: a.canvas };
    }

    // ---------- status ----------

    function setStatus(message, detail) {
        if (ui.status.textContent !== message) ui.status.textContent = message;
        ui.countdown.textContent = detail || "";
        ui.statusBox.hidden = false;
    }
    function clearStatus() {
        ui.statusBox.hidden = true;
        ui.status.textContent = "";
        ui.countdown.textContent = "";
    }
    function showError(text) {
        show(ui.error, text);
    }

    /** Waits `seconds`, showing the countdown; false if the user stopped. */
    function countdown(message, seconds, attempt, signal) {
        return new Promise(function (resolve) {
            var until = Date.now() + seconds * 1000;
            var timer;
            var tick = function () {
                var left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
                setStatus(message, "Retrying in " + left + " s (attempt " + (attempt + 1) + "). Press Stop or Esc to cancel.");
                if (left <= 0) finish(true);
            };
            var finish = function (ok) {
                clearInterval(timer);
                signal.removeEventListener("abort", onAbort);
                resolve(ok);
            };
            var onAbort = function () { finish(false); };
            signal.addEventListener("abort", onAbort);
            timer = setInterval(tick, 250);
            tick();
        });
    }

    // ---------- conversation ----------

    function addTurn(question, images) {
        ui.empty.hidden = true;
        var thumbs = images.length ? make("div", { class: "thumbs" }, images.map(function (im, i) {
            // A small copy of the sent pixels (cheaper than decoding the data URL again).
            var scale = Math.min(1, 192 / Math.max(im.width, im.height));
            var t = make("canvas", { width: Math.max(1, Math.round(im.width * scale)), height: Math.max(1, Math.round(im.height * scale)), role: "img", "aria-label": "Image " + (i + 1) + ": " + im.name + " (" + im.width + "×" + im.height + ")" });
            var tctx = t.getContext("2d");
            tctx.imageSmoothingQuality = "high";
            tctx.drawImage(im.canvas, 0, 0, t.width, t.height);
            return t;
        })) : null;
        var user = make("li", { class: "msg user" }, [make("p", { class: "who", text: "You" }), make("p", { class: "text", text: question }), thumbs]);
        var text = make("p", { class: "text answer cursor" });
        var note = make("p", { class: "note", text: "Waiting for the answer…" });
        var actions = make("div", { class: "actions" });
        var bot = make("li", { class: "msg assistant", "aria-label": "Answer" }, [make("p", { class: "who", text: "Answer" }), text, note, actions]);
        ui.log.append(user, bot);
        return { user: user, node: bot, text: text, note: note, actions: actions };
    }

    function finishTurn(turn, result) {
        turn.text.classList.remove("cursor");
        var notes = {
            done: "",
            stopped: result.text ? "Stopped: the answer is incomplete." : "Stopped before an answer arrived.",
            error: result.message || "Failed.",
        };
        turn.note.textContent = notes[result.outcome];
        turn.note.className = "note" + (result.outcome === "error" ? " bad" : "");
        turn.note.hidden = !turn.note.textContent;
        if (result.text) {
            var copy = make("button", { type: "button", class: "secondary small", text: "Copy answer" });
            var copied = make("span", { class: "copied", role: "status" });
            copy.addEventListener("click", function () { copyText(result.text, copied); });
            turn.actions.append(copy, copied);
        }
    }

    async function copyText(text, feedback) {
        var ok = false;
        try {
            await navigator.clipboard.writeText(text);
            ok = true;
        } catch (e) {
            // Plain-HTTP deployments have no async clipboard: fall back to a selection copy.
            var t = make("textarea", { value: text, readOnly: true });
            t.style.position = "fixed";
            t.style.opacity = "0";
            document.body.append(t);
            t.select();
            try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
            t.remove();
        }
        feedback.textContent = ok ? "Copied." : "Copy failed: select the text and copy it.";
    }

    function setBusy(busy) {
        ui.analyze.disabled = busy;
        ui.stop.disabled = !busy;
        ui.form.setAttribute("aria-busy", busy ? "true" : "false");
    }

    /** Sends the request, retrying cold starts and rate limits; streams the answer into the turn. */
    async function run(model, messages, turn, onFirstToken) {
        var controller = new AbortController();
        var signal = controller.signal;
        state.busy = { controller: controller };
        setBusy(true);
        var body = JSON.stringify({ model: model, messages: messages, stream: true });
        try {
            for (var attempt = 1; ; attempt++) {
                var sentAt = Date.now();
                var waiting = setInterval(function () {
                    var s = Math.round((Date.now() - sentAt) / 1000);
                    if (s >= 2) setStatus("Waiting for the model to start answering…", "Waiting " + s + " s so far. After a quiet period a GPU worker can take up to 20 minutes to start; the server keeps your question in line meanwhile, so keep this page open.");
                }, 500);
                var res;
                try {
                    res = await fetch("/v1/chat/completions", {
                        method: "POST",
                        headers: Object.assign({ "content-type": "application/json", accept: "text/event-stream" }, authHeaders()),
                        body: body,
                        signal: signal,
                        cache: "no-store",
                    });
                } catch (e) {
                    if (signal.aborted) return { outcome: "stopped", text: "" };
                    return { outcome: "error", text: "", message: "Cannot reach the server (" + e.message + "). Check the connection and try again." };
                } finally {
                    clearInterval(waiting);
                }
                if (res.status === 503 || res.status === 429) {
                    var err = await readError(res);
                    var message;
                    if (res.status === 429) message = "Too many requests right now" + (err.message ? " (" + err.message + ")" : "") + ". The page will try again.";
                    else if (err.code === "pool_busy") message = "All GPU workers are busy with other questions. The page will try again.";
                    else if (err.code === "shutting_down") message = "The server is restarting. The page will try again.";
                    else message = "GPU workers are starting. After a quiet period this can take a few minutes; the page keeps trying.";
                    var go = await countdown(message, retryAfterSeconds(res, res.status === 503 ? 10 : 5), attempt, signal);
                    if (!go) return { outcome: "stopped", text: "" };
                    continue;
                }
                clearStatus();
                if (res.status === 401) {
                    var e401 = await readError(res);
                    show(ui.keyError, keyMessage(e401));
                    return { outcome: "error", text: "", message: keyMessage(e401) };
                }
                if (!res.ok) {
                    var e = await readError(res);
                    return { outcome: "error", text: "", message: "Error " + res.status + (e.message ? ": " + e.message : "") + "." };
                }
                return await readStream(res, turn, signal, onFirstToken);
            }
        } finally {
            state.busy = null;
            setBusy(false);
            clearStatus();
        }
    }

    /** Reads the SSE answer: content deltas, an error event, data: [DONE]. */
    async function readStream(res, turn, signal, onFirstToken) {
        var reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        var buf = "";
        var text = "";
        var done = false;
        var failure = "";
        turn.note.textContent = "";
        turn.note.hidden = true;
        ui.log.setAttribute("aria-busy", "true");
        try {
            for (;;) {
                var r = await reader.read();
                if (r.done) break;
                buf += r.value.replace(/\r\n?/g, "\n");
                var i;
                while ((i = buf.indexOf("\n\n")) >= 0) {
                    var event = buf.slice(0, i);
                    buf = buf.slice(i + 2);
                    var data = event.split("\n").filter(function (l) { return l.indexOf("data:") === 0; }).map(function (l) { return l.slice(5).replace(/^ /, ""); }).join("\n");
                    if (!data) continue;
                    if (data === "[DONE]") {
                        done = true;
                        continue;
                    }
                    var obj;
                    try { obj = JSON.parse(data); } catch (e) { continue; }
                    if (obj && obj.error) {
                        failure = obj.error.message || String(obj.error);
                        continue;
                    }
                    var delta = obj && obj.choices && obj.choices[0] && obj.choices[0].delta && obj.choices[0].delta.content;
                    if (typeof delta === "string" && delta) {
                        if (!text) onFirstToken();
                        text += delta;
                        turn.text.append(delta);
                    }
                }
            }
        } catch (e) {
            if (signal.aborted) return { outcome: "stopped", text: text };
            failure = "the connection was lost (" + e.message + ")";
        } finally {
            ui.log.setAttribute("aria-busy", "false");
        }
        if (failure) return { outcome: "error", text: text, message: "The answer was interrupted: " + failure };
        if (!done) return { outcome: "error", text: text, message: "The connection closed before the answer was complete." };
        return { outcome: "done", text: text };
    }

    async function analyze() {
        if (state.busy) return;
        showError("");
        var model = ui.model.value;
        var question = ui.question.value.trim();
        if (!model) {
            showError(ui.key.value.trim() ? "No model is available yet; check the API key." : "Enter your API key first, so the page can list the models.");
            (ui.key.value.trim() ? ui.model : ui.key).focus();
            return;
        }
        if (!question) {
            showError("Type a question first.");
            ui.question.focus();
            return;
        }
        var hint = hintFor(model);
        var sending = state.attachments.slice();
        if (state.historyImages + sending.length > hint.maxImages) {
            showError(model + " accepts " + plural(hint.maxImages, "image") + " per conversation. Remove an image or clear the conversation.");
            return;
        }
        saveKey();
        var images;
        try {
            images = await Promise.all(sending.map(encode));
        } catch (e) {
            showError("Could not prepare the images: " + e.message);
            return;
        }
        var content = images.map(function (im) { return { type: "image_url", image_url: { url: im.url } }; });
        content.push({ type: "text", text: question });
        var userMessage = { role: "user", content: images.length ? content : question };
        var turn = addTurn(question, images);
        turn.user.scrollIntoView({ block: "nearest" });
        var onFirstToken = function () {
            // The question is answered: the composer is free for a follow-up about the same images.
            sending.forEach(function (a) { if (state.attachments.indexOf(a) >= 0) removeAttachment(a); });
            if (ui.question.value.trim() === question) ui.question.value = "";
        };
        var generation = state.generation;
        var result = await run(model, state.history.concat([userMessage]), turn, onFirstToken);
        if (generation !== state.generation) return; // cleared meanwhile
        finishTurn(turn, result);
        if (result.text) {
            state.history.push(userMessage, { role: "assistant", content: result.text });
            state.historyImages += images.length;
            updateFileHint();
        }
        if (result.outcome === "error") showError(result.message);
    }

    function stop() {
        if (state.busy) state.busy.controller.abort();
    }

    function clearConversation() {
        stop();
        state.generation++;
        state.history = [];
        state.historyImages = 0;
        state.attachments.slice().forEach(removeAttachment);
        ui.log.replaceChildren();
        ui.empty.hidden = false;
        ui.question.value = "";
        showError("");
        imageError("");
        clearStatus();
        updateFileHint("Conversation cleared.");
        ui.question.focus();
    }

    // ---------- wiring ----------

    var savedKey = gpuKeyStore.load();
    ui.key.value = savedKey.key;
    ui.rememberKey.checked = savedKey.remember;
    ui.rememberKey.addEventListener("change", saveKey);
    ui.key.addEventListener("change", function () {
        saveKey();
        loadModels();
    });
    ui.forgetKey.addEventListener("click", function () {
        ui.key.value = "";
        ui.rememberKey.checked = false;
        gpuKeyStore.forget();
        loadModels();
        ui.key.focus();
    });
    ui.model.addEventListener("change", onModelChanged);
    ui.file.addEventListener("change", function () {
        addFiles(ui.file.files).finally(function () { ui.file.value = ""; });
    });
    ui.form.addEventListener("submit", function (e) {
        e.preventDefault();
        analyze();
    });
    ui.stop.addEventListener("click", stop);
    ui.clear.addEventListener("click", clearConversation);
    ui.question.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            ui.form.requestSubmit();
        }
    });
    document.addEventListener("keydown", function (e) {
        if (e.key === "Escape" && state.busy) {
            e.preventDefault();
            stop();
        }
    });
    document.addEventListener("paste", function (e) {
        var files = e.clipboardData && e.clipboardData.files;
        if (!files || !files.length) return; // plain text: let it paste
        e.preventDefault();
        addFiles(files);
    });
    // The whole page accepts drops (a near miss must not navigate away to the file).
    var dragDepth = 0;
    var hasFiles = function (e) { return e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types || [], "Files") >= 0; };
    document.addEventListener("dragenter", function (e) {
        if (!hasFiles(e)) return;
        dragDepth++;
        ui.dropZone.classList.add("over");
    });
    document.addEventListener("dragleave", function () {
        dragDepth = Math.max(0, dragDepth - 1);
        if (!dragDepth) ui.dropZone.classList.remove("over");
    });
    document.addEventListener("dragover", function (e) {
        if (!hasFiles(e)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = "copy";
    });
    document.addEventListener("drop", function (e) {
        if (!e.dataTransfer || !e.dataTransfer.files.length) return;
        e.preventDefault();
        dragDepth = 0;
        ui.dropZone.classList.remove("over");
        addFiles(e.dataTransfer.files);
    });

    // The Batch view (batch.js) converts images exactly like this view.
    window.gpuChat = { loadImage: loadAttachment, encodeImage: encode, authHeaders: authHeaders, readError: readError, model: function () { return ui.model.value; }, make: make };

    updateFileHint();
    loadHints().then(function () {
        updateModelHint();
        return loadModels();
    }).finally(function () {
        document.documentElement.dataset.ready = "true";
    });
})();
