/**
 * Validation of a batch input file (JSONL): every line is checked before any is queued, and
 * each problem is reported with its line number (1-based, as editors count), in the shape of
 * OpenAI's batch `errors.data[]` ({code, message, param, line}). Never throws on bad input.
 */

export interface ValidLine {
    customId: string;
    pool: string;
    model: string;
    /** The request body as sent upstream (stream forced off: a batch answer is stored whole). */
    body: string;
}

export interface LineError {
    code: string;
    message: string;
    param: string | null;
    line: number | null;
}

export interface ValidateOptions {
    endpoint: string;
    poolOf: (model: string) => string | undefined;
    maxLines: number;
    maxBodyBytes: number;
}

/** Room for a line's envelope (custom_id, method, url) around its body. */
const ENVELOPE_BYTES = 4096;

/**
 * Iterates `it` (skipping undefined), giving the event loop a turn (setImmediate) whenever `budgetMs` of work has
 * passed, so validating a 50,000-line file runs in slices between other requests.
 */
export async function* yielding<T>(it: Iterable<T | undefined>, budgetMs = 10): AsyncGenerator<T> {
    let since = performance.now();
    for (const v of it) {
        if (v !== undefined) yield v;
        if (performance.now() - since >= budgetMs) {
            await new Promise<void>((r) => setImmediate(r));
            since = performance.now();
        }
    }
}

/** At most this many errors are listed: enough to fix a file, bounded for a 50,000-line one. */
export const MAX_REPORTED_ERRORS = 100;

/** The file's lines (without the newline, and without a trailing CR), decoded one at a time: a 200 MB file is never one string. */
function* rawLines(content: Buffer): Generator<string> {
    let start = 0;
    while (start < content.length) {
        let end = content.indexOf(0x0a, start);
        if (end < 0) end = content.length;
        let stop = end;
        if (stop > start && content[stop - 1] === 0x0d) stop--;
        yield content.toString("utf8", start, stop);
        start = end + 1;
    }
}

/**
 * Scans the file, pushing problems to `errors` and yielding each valid line. Run it once to
 * validate (dropping the lines) and again to queue them, so memory holds one chunk of lines.
 */
/**
 * Scans the file, pushing problems to `errors` and yielding each valid line. Run it once to
 * validate (dropping the lines) and again to queue them, so memory holds one chunk of lines.
 */
export function* scanLines(content: Buffer, opts: ValidateOptions, errors: LineError[]): Generator<ValidLine> {
    for (const l of scanEvery(content, opts, errors)) if (l) yield l;
}

/** scanLines, also yielding `undefined` for each invalid or blank line: a caller can pause between any two lines (see yielding). */
export function* scanEvery(content: Buffer, opts: ValidateOptions, errors: LineError[]): Generator<ValidLine | undefined> {
    const seen = new Set<string>();
    const fail = (line: number | null, code: string, message: string, param: string | null = null) => {
        if (errors.length < MAX_REPORTED_ERRORS) errors.push({ code, message, param, line });
    };
    let count = 0;
    let n = 0;
    let blank = 0;
    for (const src of rawLines(content)) {
        n++;
        if (src.trim() === "") {
            // Blank lines are reported unless they only trail the file.
            blank++;
            yield undefined;
            continue;
        }
        for (let b = n - blank; b < n; b++) fail(b, "invalid_json_line", `Line ${b} is empty; every line must be one JSON request`);
        blank = 0;
        if (++count > opts.maxLines) {
            fail(n, "too_many_lines", `The file has more than ${opts.maxLines} requests, this team's limit per batch (batch.limits maxLinesPerBatch); split it into several batches`);
            return;
        }
        // A line far over the body limit is refused unparsed (parsing it alone could stall the event loop).
        if (src.length > opts.maxBodyBytes + ENVELOPE_BYTES) {
            fail(n, "request_too_large", `Line ${n} is ${Buffer.byteLength(src)} bytes, over the request body limit of ${opts.maxBodyBytes} (maxBodyBytes)`, "body");
            yield undefined;
            continue;
        }
        let v: unknown;
        try {
            v = JSON.parse(src);
        } catch (e) {
            fail(n, "invalid_json_line", `Line ${n} is not valid JSON: ${(e as Error).message}`);
            yield undefined;
            continue;
        }
        if (v === null || typeof v !== "object" || Array.isArray(v)) {
            fail(n, "invalid_json_line", `Line ${n} must be a JSON object {"custom_id", "method", "url", "body"}`);
            yield undefined;
            continue;
        }
        const o = v as Record<string, unknown>;
        if (typeof o.custom_id !== "string" || o.custom_id === "" || o.custom_id.length > 512) {
            fail(n, "missing_custom_id", `Line ${n}: 'custom_id' must be a non-empty string of at most 512 characters`, "custom_id");
            yield undefined;
            continue;
        }
        if (seen.has(o.custom_id)) {
            fail(n, "duplicate_custom_id", `Line ${n}: custom_id '${o.custom_id.slice(0, 80)}' appears more than once; each request needs its own`, "custom_id");
            yield undefined;
            continue;
        }
        seen.add(o.custom_id);
        if (o.method !== "POST") {
            fail(n, "invalid_method", `Line ${n}: 'method' must be "POST"`, "method");
            yield undefined;
            continue;
        }
        if (o.url !== opts.endpoint) {
            fail(n, "mismatched_endpoint", `Line ${n}: 'url' ${JSON.stringify(o.url)} does not match the batch endpoint '${opts.endpoint}'`, "url");
            yield undefined;
            continue;
        }
        const body = o.body;
        if (body === null || typeof body !== "object" || Array.isArray(body)) {
            fail(n, "invalid_body", `Line ${n}: 'body' must be a JSON object (a chat completion request)`, "body");
            yield undefined;
            continue;
        }
        const b = body as Record<string, unknown>;
        if (typeof b.model !== "string" || b.model === "") {
            fail(n, "missing_model", `Line ${n}: 'body.model' is required`, "body.model");
            yield undefined;
            continue;
        }
        const pool = opts.poolOf(b.model);
        if (pool === undefined) {
            fail(n, "model_not_found", `Line ${n}: the model '${b.model.slice(0, 200)}' is not served by this gateway (GET /v1/models lists the served ones)`, "body.model");
            yield undefined;
            continue;
        }
        if (!Array.isArray(b.messages) || b.messages.length === 0) {
            fail(n, "invalid_body", `Line ${n}: 'body.messages' must be a non-empty array`, "body.messages");
            yield undefined;
            continue;
        }
        const json = JSON.stringify({ ...b, stream: false });
        const bytes = Buffer.byteLength(json);
        if (bytes > opts.maxBodyBytes) {
            fail(n, "request_too_large", `Line ${n}: the request body is ${bytes} bytes, over the limit of ${opts.maxBodyBytes} (maxBodyBytes)`, "body");
            yield undefined;
            continue;
        }
        yield { customId: o.custom_id, pool, model: b.model, body: json };
    }
    if (count === 0 && errors.length === 0) fail(null, "empty_file", "The input file has no requests");
}

/** Validates the whole file: the problems, and how many lines per pool it would queue. */
export function validateLines(content: Buffer, opts: ValidateOptions): { count: number; errors: LineError[] } {
    const errors: LineError[] = [];
    let count = 0;
    for (const _ of scanLines(content, opts, errors)) count++;
    return { count, errors };
}
