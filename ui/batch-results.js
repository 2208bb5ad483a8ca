// @ts-check
/**
 * A finished batch's results as the batch view shows them: one row per image, in the order
 * the images were picked, with the model's answer or why it failed, and the CSV download.
 * Pure: runs in Node too (test/ui/batchResults.test.ts).
 */

/**
 * @typedef {object} ResultRow
 * @property {number} n the image's position (custom_id "image-<n>")
 * @property {string} id custom_id
 * @property {string} image the file name, kept in this browser only
 * @property {string} answer
 * @property {boolean} ok
 */

/**
 * Rows of the output and error files (OpenAI batch output JSONL), sorted by image.
 * @param {string} jsonl the output file followed by the error file
 * @param {readonly string[]} names file names by position (image-1 is names[0])
 * @returns {ResultRow[]}
 */
export function resultRows(jsonl, names) {
    return jsonl
        .split("\n")
        .filter(Boolean)
        .map((line) => {
            /** @typedef {{ status_code?: number, body?: { choices?: { message?: { content?: string | null } }[], error?: { message?: string } } }} LineResponse */
            /** @type {unknown} */
            const parsed = JSON.parse(line);
            const r = /** @type {{ custom_id?: string, response?: LineResponse, error?: { message?: string } }} */ (parsed);
            const n = Number(String(r.custom_id).replace(/^image-/, ""));
            const body = r.response?.body;
            const ok = r.response?.status_code === 200;
            const answer =
                ok && body?.choices?.[0]
                    ? String(body.choices[0].message?.content || "")
                    : `Failed: ${r.error?.message || body?.error?.message || `HTTP ${r.response?.status_code}`}`;
            return { n, id: String(r.custom_id), image: names[n - 1] || String(r.custom_id), answer, ok };
        })
        .sort((a, b) => a.n - b.n);
}

/** @param {string} v */
const csvCell = (v) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/**
 * The rows as CSV (RFC 4180 quoting): image, custom_id, answer.
 * @param {readonly ResultRow[]} rows
 */
export function resultsCsv(rows) {
    return `image,custom_id,answer\n${rows.map((r) => [r.image, r.id, r.answer].map(csvCell).join(",")).join("\n")}\n`;
}
