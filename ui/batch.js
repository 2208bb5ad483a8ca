/*
 * The Batch view: many images, one prompt, run as an OpenAI batch job (POST /v1/files +
 * POST /v1/batches) on GPU time the interactive users leave free. Images are converted in
 * the browser exactly like the chat view (window.gpuChat from app.js: same resizing, DICOM
 * pixels only, no tags). Only pixels and the prompt are sent: file names stay in this
 * browser (custom_id is "image-<n>"), kept per batch in local storage for the results table.
 * The team's batches come from GET /v1/batches, so the list survives a reload.
 */
(function () {
    "use strict";

    var NAMES_STORE = "gpuserve.batchNames.";
    var SELECTED_STORE = "gpuserve.batchSelected";
    var ENDPOINT = "/v1/chat/completions";
    var ACTIVE = { validating: true, in_progress: true, finalizing: true, cancelling: true };
    var chat = window.gpuChat;
    if (!chat) return;
    var make = chat.make;
    var $ = function (id) { return document.getElementById(id); };

    function store(key, value) {
        try {
            if (value === null) localStorage.removeItem(key);
            else localStorage.setItem(key, value);
        } catch (e) { /* storage off: names live for this page only */ }
    }
    function stored(key) {
        try { return localStorage.getItem(key); } catch (e) { return null; }
    }

    // ---------- markup ----------

    var root = $("batch-view");
    var files = make("input", { id: "batch-files", type: "file", multiple: true, accept: "image/png,image/jpeg,.dcm,.dicom,application/dicom", "aria-describedby": "batch-files-hint" });
    var prompt = make("textarea", { id: "batch-prompt", rows: 2, placeholder: "e.g. Describe the findings on this slice." });
    var submit = make("button", { id: "batch-submit", type: "button", class: "primary", text: "Submit batch" });
    var status = make("p", { id: "batch-status", role: "status", "aria-live": "polite" });
    var error = make("p", { id: "batch-error", class: "error-box", role: "alert", hidden: true });
    var list = make("ul", { id: "batch-list", class: "batch-list", "aria-label": "Your team's batches" });
    var detailTitle = make("h3", { id: "batch-detail-title" });
    var progress = make("progress", { id: "batch-progress", max: 1, value: 0, "aria-labelledby": "batch-detail-title" });
    var counts = make("p", { id: "batch-counts", class: "hint" });
    var actions = make("div", { class: "buttons" });
    var table = make("table", { id: "batch-results", class: "batch-results", hidden: true }, [
        make("thead", {}, [make("tr", {}, [make("th", { text: "Image", scope: "col" }), make("th", { text: "Answer", scope: "col" })])]),
        make("tbody"),
    ]);
    var detail = make("div", { id: "batch-detail", class: "batch-detail", hidden: true }, [detailTitle, progress, counts, actions, table]);
    root.append(
        make("h2", { id: "batch-title", text: "Batch: many images, one prompt" }),
        make("p", { class: "hint", text: "Runs as a batch job on GPU time the interactive users leave free; results usually arrive within minutes, at most within 24 hours. Only the pixels and the prompt are sent: file names stay in this browser." }),
        make("label", { for: "batch-files", text: "Images (PNG, JPEG or DICOM)" }),
        files,
        make("p", { id: "batch-files-hint", class: "hint", text: "Each image becomes one request with the prompt below." }),
        make("label", { for: "batch-prompt", text: "Prompt" }),
        prompt,
        make("div", { class: "buttons" }, [submit]),
        status,
        error,
        make("h3", { text: "Your team's batches" }),
        list,
        detail,
    );

    function showError(text) {
        error.textContent = text || "";
        error.hidden = !text;
    }

    async function api(path, init) {
        init = init || {};
        init.headers = Object.assign({}, chat.authHeaders(), init.headers || {});
        var res = await fetch(path, init);
        if (!res.ok) {
            var err = await chat.readError(res);
            var e = new Error((res.status === 401 ? "The API key was refused. " : "") + (err.message || "HTTP " + res.status));
            e.status = res.status;
            e.code = err.code;
            throw e;
        }
        return res;
    }

    /**
     * A gateway without a batch store has no batch routes: listing answers 404 (a listing never
     * does when batches are on). Says so plainly, not "No route for ...", and disables submitting.
     */
    function offWhen(e) {
        if (e.status !== 404 || e.code !== "not_found") return false;
        list.replaceChildren(make("li", { class: "hint", text: "Batch jobs are not enabled on this gateway (it has no batch store). Ask your platform team, or send images one at a time above." }));
        submit.disabled = true;
        return true;
    }

    // ---------- submit ----------

    async function submitBatch() {
        showError("");
        var picked = Array.prototype.slice.call(files.files || []);
        var text = prompt.value.trim();
        var model = chat.model();
        if (!picked.length) return showError("Choose one or more images first.");
        if (!text) return showError("Write the prompt every image is sent with.");
        if (!model) return showError("Choose a model in Settings first.");
        submit.disabled = true;
        try {
            var lines = [];
            var names = [];
            for (var i = 0; i < picked.length; i++) {
                status.textContent = "Converting image " + (i + 1) + " of " + picked.length + " (" + picked[i].name + ")…";
                var a = await chat.loadImage(picked[i]);
                var im = await chat.encodeImage(a);
                var id = "image-" + (i + 1);
                names.push(picked[i].name || id);
                lines.push(JSON.stringify({
                    custom_id: id,
                    method: "POST",
                    url: ENDPOINT,
                    body: { model: model, messages: [{ role: "user", content: [{ type: "text", text: text }, { type: "image_url", image_url: { url: im.url } }] }] },
                }));
            }
            status.textContent = "Uploading " + picked.length + " images…";
            var form = new FormData();
            form.append("purpose", "batch");
            form.append("file", new Blob([lines.join("\n") + "\n"], { type: "application/jsonl" }), "batch.jsonl");
            var file = await (await api("/v1/files", { method: "POST", body: form })).json();
            var batch = await (await api("/v1/batches", {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ input_file_id: file.id, endpoint: ENDPOINT, completion_window: "24h", metadata: { source: "ui", prompt: text.slice(0, 500) } }),
            })).json();
            store(NAMES_STORE + batch.id, JSON.stringify(names));
            if (batch.status === "failed") {
                var first = batch.errors && batch.errors.data && batch.errors.data[0];
                showError("The batch was refused: " + (first ? first.message : "invalid input") + ".");
            }
            status.textContent = "Submitted " + picked.length + " images as " + batch.id + ".";
            files.value = "";
            await refreshList();
            select(batch.id);
        } catch (e) {
            status.textContent = "";
            showError("Could not submit the batch: " + e.message);
        } finally {
            submit.disabled = false;
        }
    }

    // ---------- list and progress ----------

    var selected = stored(SELECTED_STORE);
    var poll = null;

    function label(b) {
        var rc = b.request_counts || { total: 0, completed: 0, failed: 0 };
        var when = new Date(b.created_at * 1000).toLocaleString();
        return when + " · " + b.status.replace("_", " ") + " · " + (rc.completed + rc.failed) + "/" + rc.total + " done" + (b.metadata && b.metadata.prompt ? " · “" + b.metadata.prompt.slice(0, 60) + "”" : "");
    }

    /** Reloads the team's batch list; `open` then shows the remembered batch (page load). */
    async function refreshList(open) {
        if (!chat.authHeaders().authorization) {
            list.replaceChildren(make("li", { class: "hint", text: "Enter your API key to see your team's batches." }));
            return;
        }
        try {
            var page = await (await api("/v1/batches?limit=20")).json();
            list.replaceChildren.apply(list, page.data.length ? page.data.map(function (b) {
                var button = make("button", { type: "button", class: "link", text: label(b), "aria-pressed": b.id === selected ? "true" : "false" });
                button.dataset.batch = b.id;
                button.addEventListener("click", function () { select(b.id); });
                return make("li", {}, [button]);
            }) : [make("li", { class: "hint", text: "No batches yet." })]);
            if (open === true && selected && page.data.some(function (b) { return b.id === selected; })) select(selected);
        } catch (e) {
            if (offWhen(e)) return;
            list.replaceChildren(make("li", { class: "error-text", text: "Could not load your batches: " + e.message }));
        }
    }

    function select(id) {
        selected = id;
        store(SELECTED_STORE, id);
        Array.prototype.forEach.call(list.querySelectorAll("button[data-batch]"), function (b) { b.setAttribute("aria-pressed", b.dataset.batch === id ? "true" : "false"); });
        clearTimeout(poll);
        return update(id);
    }

    async function update(id) {
        if (id !== selected) return;
        var b;
        try {
            b = await (await api("/v1/batches/" + encodeURIComponent(id))).json();
        } catch (e) {
            detail.hidden = true;
            return;
        }
        if (id !== selected) return;
        var rc = b.request_counts || { total: 0, completed: 0, failed: 0 };
        detail.hidden = false;
        detailTitle.textContent = "Batch " + b.id + ": " + b.status.replace("_", " ");
        progress.max = Math.max(1, rc.total);
        progress.value = rc.completed + rc.failed;
        counts.textContent = rc.completed + " answered, " + rc.failed + " failed, " + (rc.total - rc.completed - rc.failed) + " waiting, of " + rc.total + ".";
        actions.replaceChildren();
        table.hidden = true;
        if (ACTIVE[b.status]) {
            if (b.status === "in_progress" || b.status === "validating") {
                var cancel = make("button", { type: "button", class: "secondary", text: "Cancel batch" });
                cancel.addEventListener("click", function () { api("/v1/batches/" + encodeURIComponent(id) + "/cancel", { method: "POST" }).then(function () { return update(id); }, function (e) { showError(e.message); }); });
                actions.append(cancel);
            }
            poll = setTimeout(function () { update(id); }, 1500);
            return;
        }
        if (b.output_file_id || b.error_file_id) await showResults(b);
        refreshList();
    }

    async function fileText(id) {
        return id ? (await api("/v1/files/" + encodeURIComponent(id) + "/content")).text() : "";
    }

    function csvCell(v) { return /[",\n\r]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v; }

    async function showResults(b) {
        var out = await fileText(b.output_file_id);
        var err = await fileText(b.error_file_id);
        var names = [];
        try { names = JSON.parse(stored(NAMES_STORE + b.id) || "[]"); } catch (e) { names = []; }
        var rows = (out + err).split("\n").filter(Boolean).map(function (l) { return JSON.parse(l); }).map(function (r) {
            var n = Number(String(r.custom_id).replace(/^image-/, ""));
            var body = r.response && r.response.body;
            var ok = r.response && r.response.status_code === 200;
            var answer = ok && body && body.choices && body.choices[0] ? String(body.choices[0].message.content || "") : "Failed: " + ((r.error && r.error.message) || (body && body.error && body.error.message) || "HTTP " + (r.response && r.response.status_code));
            return { n: n, id: r.custom_id, image: names[n - 1] || r.custom_id, answer: answer, ok: ok };
        }).sort(function (a, c) { return a.n - c.n; });
        var tbody = table.tBodies[0];
        tbody.replaceChildren.apply(tbody, rows.map(function (r) {
            return make("tr", {}, [make("td", { text: r.image }), make("td", { text: r.answer, class: r.ok ? "" : "bad" })]);
        }));
        table.hidden = rows.length === 0;
        var csv = "image,custom_id,answer\n" + rows.map(function (r) { return [r.image, r.id, r.answer].map(csvCell).join(","); }).join("\n") + "\n";
        actions.replaceChildren(
            download("Download CSV", "batch-" + b.id + ".csv", "text/csv", csv),
            download("Download JSONL", "batch-" + b.id + ".jsonl", "application/jsonl", out + err),
        );
    }

    function download(text, name, type, content) {
        var a = make("a", { class: "button secondary", text: text, download: name, href: URL.createObjectURL(new Blob([content], { type: type })) });
        return a;
    }

    submit.addEventListener("click", submitBatch);
    $("api-key").addEventListener("change", function () { refreshList(true); });
    refreshList(true);
})();
