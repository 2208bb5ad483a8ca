// @ts-check
/**
 * The Batch view: many images, one prompt, run as an OpenAI batch job (POST /v1/files +
 * POST /v1/batches) on GPU time the interactive users leave free. Images are converted in
 * the browser exactly like the chat view (images.js: same resizing, DICOM pixels only, no
 * tags). Only pixels and the prompt are sent: file names stay in this browser (custom_id is
 * "image-<n>"), kept per batch in local storage for the results table. The team's batches
 * come from GET /v1/batches, so the list survives a reload.
 */
import { authHeaders, jsonOf } from "./api.js";
import { api, ApiFailure } from "./batch-api.js";
import { isBudgetRefusal, refreshBudget } from "./budget.js";
import { resultRows, resultsCsv } from "./batch-results.js";
import { byId, make, store, stored } from "./dom.js";
import { encode } from "./image-draw.js";
import { loadAttachment } from "./images.js";
import { selectedModel } from "./settings.js";

const NAMES_STORE = "gpuserve.batchNames.";
const SELECTED_STORE = "gpuserve.batchSelected";
const ENDPOINT = "/v1/chat/completions";
/** @type {Record<string, boolean>} */
const ACTIVE = { validating: true, in_progress: true, finalizing: true, cancelling: true };

/** @typedef {import("./batch-api.js").Batch} Batch */

/** Builds the view into #batch-view and lists the team's batches. */
export function initBatch() {
    const root = byId("batch-view", HTMLElement);
    const files = make("input", {
        id: "batch-files",
        type: "file",
        multiple: true,
        accept: "image/png,image/jpeg,.dcm,.dicom,application/dicom",
        "aria-describedby": "batch-files-hint",
    });
    const prompt = make("textarea", { id: "batch-prompt", rows: 2, placeholder: "e.g. Describe the findings on this slice." });
    const submit = make("button", { id: "batch-submit", type: "button", class: "primary", text: "Submit batch" });
    const status = make("p", { id: "batch-status", role: "status", "aria-live": "polite" });
    const error = make("p", { id: "batch-error", class: "error-box", role: "alert", hidden: true });
    const list = make("ul", { id: "batch-list", class: "batch-list", "aria-label": "Your team's batches" });
    const detailTitle = make("h3", { id: "batch-detail-title" });
    const progress = make("progress", { id: "batch-progress", max: 1, value: 0, "aria-labelledby": "batch-detail-title" });
    const counts = make("p", { id: "batch-counts", class: "hint" });
    const actions = make("div", { class: "buttons" });
    const tbody = make("tbody");
    const table = make("table", { id: "batch-results", class: "batch-results", hidden: true }, [
        make("thead", {}, [make("tr", {}, [make("th", { text: "Image", scope: "col" }), make("th", { text: "Answer", scope: "col" })])]),
        tbody,
    ]);
    const detail = make("div", { id: "batch-detail", class: "batch-detail", hidden: true }, [detailTitle, progress, counts, actions, table]);
    root.append(
        make("h2", { id: "batch-title", text: "Batch: many images, one prompt" }),
        make("p", {
            class: "hint",
            text: "Runs as a batch job on GPU time the interactive users leave free; results usually arrive within minutes, at most within 24 hours. Only the pixels and the prompt are sent: file names stay in this browser.",
        }),
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

    let selected = stored(SELECTED_STORE);
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let poll;

    /** @param {string} [text] */
    const showError = (text) => {
        error.textContent = text || "";
        error.hidden = !text;
    };

    /**
     * A gateway without a batch store has no batch routes: listing answers 404 (a listing never
     * does when batches are on). Says so plainly, not "No route for ...", and disables submitting.
     * @param {unknown} e
     */
    const offWhen = (e) => {
        if (!(e instanceof ApiFailure) || e.status !== 404 || e.code !== "not_found") return false;
        list.replaceChildren(
            make("li", {
                class: "hint",
                text: "Batch jobs are not enabled on this gateway (it has no batch store). Ask your platform team, or send images one at a time above.",
            }),
        );
        submit.disabled = true;
        return true;
    };

    async function submitBatch() {
        showError("");
        const picked = Array.from(files.files || []);
        const text = prompt.value.trim();
        const model = selectedModel();
        if (!picked.length) return showError("Choose one or more images first.");
        if (!text) return showError("Write the prompt every image is sent with.");
        if (!model) return showError("Choose a model in Settings first.");
        submit.disabled = true;
        try {
            const lines = [];
            const names = [];
            for (let i = 0; i < picked.length; i++) {
                status.textContent = `Converting image ${i + 1} of ${picked.length} (${picked[i].name})…`;
                const im = await encode(await loadAttachment(picked[i]));
                const id = `image-${i + 1}`;
                names.push(picked[i].name || id);
                lines.push(
                    JSON.stringify({
                        custom_id: id,
                        method: "POST",
                        url: ENDPOINT,
                        body: {
                            model,
                            messages: [
                                {
                                    role: "user",
                                    content: [
                                        { type: "text", text },
                                        { type: "image_url", image_url: { url: im.url } },
                                    ],
                                },
                            ],
                        },
                    }),
                );
            }
            status.textContent = `Uploading ${picked.length} images…`;
            const form = new FormData();
            form.append("purpose", "batch");
            form.append("file", new Blob([`${lines.join("\n")}\n`], { type: "application/jsonl" }), "batch.jsonl");
            const file = /** @type {{ id: string }} */ (await jsonOf(await api("/v1/files", { method: "POST", body: form })));
            const batch = /** @type {Batch} */ (
                await jsonOf(
                    await api("/v1/batches", {
                        method: "POST",
                        headers: { "content-type": "application/json" },
                        body: JSON.stringify({
                            input_file_id: file.id,
                            endpoint: ENDPOINT,
                            completion_window: "24h",
                            metadata: { source: "ui", prompt: text.slice(0, 500) },
                        }),
                    }),
                )
            );
            store(NAMES_STORE + batch.id, JSON.stringify(names));
            if (batch.status === "failed") {
                const first = batch.errors?.data?.[0];
                showError(`The batch was refused: ${first ? first.message : "invalid input"}.`);
            }
            status.textContent = `Submitted ${picked.length} images as ${batch.id}.`;
            files.value = "";
            await refreshList();
            void select(batch.id);
        } catch (e) {
            status.textContent = "";
            if (e instanceof ApiFailure && isBudgetRefusal(e.status, e)) void refreshBudget();
            showError(`Could not submit the batch: ${e instanceof Error ? e.message : String(e)}`);
        } finally {
            submit.disabled = false;
        }
    }

    /** @param {Batch} b */
    const label = (b) => {
        const rc = b.request_counts || { total: 0, completed: 0, failed: 0 };
        const when = new Date(b.created_at * 1000).toLocaleString();
        return `${when} · ${b.status.replace("_", " ")} · ${rc.completed + rc.failed}/${rc.total} done${b.metadata?.prompt ? ` · “${b.metadata.prompt.slice(0, 60)}”` : ""}`;
    };

    /**
     * Reloads the team's batch list; `open` then shows the remembered batch (page load).
     * @param {boolean} [open]
     */
    async function refreshList(open) {
        if (!authHeaders().authorization) {
            list.replaceChildren(make("li", { class: "hint", text: "Enter your API key to see your team's batches." }));
            return;
        }
        try {
            const page = /** @type {{ data: Batch[] }} */ (await jsonOf(await api("/v1/batches?limit=20")));
            list.replaceChildren(
                ...(page.data.length
                    ? page.data.map((b) => {
                          const button = make("button", {
                              type: "button",
                              class: "link",
                              text: label(b),
                              "aria-pressed": b.id === selected ? "true" : "false",
                          });
                          button.dataset.batch = b.id;
                          button.addEventListener("click", () => void select(b.id));
                          return make("li", {}, [button]);
                      })
                    : [make("li", { class: "hint", text: "No batches yet." })]),
            );
            if (open === true && selected && page.data.some((b) => b.id === selected)) void select(selected);
        } catch (e) {
            if (offWhen(e)) return;
            list.replaceChildren(make("li", { class: "error-text", text: `Could not load your batches: ${e instanceof Error ? e.message : String(e)}` }));
        }
    }

    /** @param {string} id */
    function select(id) {
        selected = id;
        store(SELECTED_STORE, id);
        for (const b of list.querySelectorAll("button[data-batch]"))
            b.setAttribute("aria-pressed", /** @type {HTMLElement} */ (b).dataset.batch === id ? "true" : "false");
        clearTimeout(poll);
        return update(id);
    }

    /** @param {string} id */
    async function update(id) {
        if (id !== selected) return;
        /** @type {Batch} */
        let b;
        try {
            b = /** @type {Batch} */ (await jsonOf(await api(`/v1/batches/${encodeURIComponent(id)}`)));
        } catch {
            detail.hidden = true;
            return;
        }
        if (id !== selected) return;
        const rc = b.request_counts || { total: 0, completed: 0, failed: 0 };
        detail.hidden = false;
        detailTitle.textContent = `Batch ${b.id}: ${b.status.replace("_", " ")}`;
        progress.max = Math.max(1, rc.total);
        progress.value = rc.completed + rc.failed;
        counts.textContent = `${rc.completed} answered, ${rc.failed} failed, ${rc.total - rc.completed - rc.failed} waiting, of ${rc.total}.`;
        actions.replaceChildren();
        table.hidden = true;
        if (ACTIVE[b.status]) {
            if (b.status === "in_progress" || b.status === "validating") {
                const cancel = make("button", { type: "button", class: "secondary", text: "Cancel batch" });
                cancel.addEventListener("click", () => {
                    api(`/v1/batches/${encodeURIComponent(id)}/cancel`, { method: "POST" }).then(
                        () => update(id),
                        (e) => showError(e instanceof Error ? e.message : String(e)),
                    );
                });
                actions.append(cancel);
            }
            poll = setTimeout(() => void update(id), 1500);
            return;
        }
        if (b.output_file_id || b.error_file_id) await showResults(b);
        void refreshList();
    }

    /** @param {string | null | undefined} id */
    const fileText = async (id) => (id ? (await api(`/v1/files/${encodeURIComponent(id)}/content`)).text() : "");

    /** @param {Batch} b */
    async function showResults(b) {
        const out = await fileText(b.output_file_id);
        const err = await fileText(b.error_file_id);
        /** @type {string[]} */
        let names;
        try {
            /** @type {unknown} */
            const parsed = JSON.parse(stored(NAMES_STORE + b.id) || "[]");
            names = /** @type {string[]} */ (parsed);
        } catch {
            names = [];
        }
        const rows = resultRows(out + err, names);
        tbody.replaceChildren(...rows.map((r) => make("tr", {}, [make("td", { text: r.image }), make("td", { text: r.answer, class: r.ok ? "" : "bad" })])));
        table.hidden = rows.length === 0;
        actions.replaceChildren(
            download("Download CSV", `batch-${b.id}.csv`, "text/csv", resultsCsv(rows)),
            download("Download JSONL", `batch-${b.id}.jsonl`, "application/jsonl", out + err),
        );
    }

    /**
     * @param {string} text
     * @param {string} name
     * @param {string} type
     * @param {string} content
     */
    const download = (text, name, type, content) =>
        make("a", { class: "button secondary", text, download: name, href: URL.createObjectURL(new Blob([content], { type })) });

    submit.addEventListener("click", () => void submitBatch());
    byId("api-key", HTMLInputElement).addEventListener("change", () => void refreshList(true));
    void refreshList(true);
}
