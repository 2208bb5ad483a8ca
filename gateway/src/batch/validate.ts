/**
 * Batch input files (JSONL): reading them line by line from the store, and checking each line.
 *
 * A line is checked in two layers:
 * - its envelope ({custom_id, method, url, body} with a served body.model, within the body
 *   limit, through the one bounded JSON parse, json.ts): a problem there is a validation error
 *   with its line number (1-based, as editors count), in the shape of OpenAI's batch
 *   `errors.data[]` ({code, message, param, line}), and the batch fails without running anything;
 * - its request, by the same function a POST /v1/chat/completions passes (request.ts
 *   checkChatBody, tokensToAdd): what the chat route answers 400 is this line's answer too, in
 *   the error file, and the rest of the batch runs. A line that passes is sent upstream rewritten
 *   exactly as the chat route would (batchBody: stream off, max_tokens added).
 *
 * Nothing here holds a file: lines come from `fileLines`, which reads the stored file a piece at
 * a time (GETRANGE), so memory stays bounded whatever the file's size.
 */
import { createHash } from "crypto";
import type { PoolConfig } from "../config";
import { GatewayError } from "../errors";
import { MAX_JSON_VALUES, parseJson } from "../json";
import { batchBody, checkChatBody, RequestBounds } from "../request";

export interface LineError {
    code: string;
    message: string;
    param: string | null;
    line: number | null;
}

export interface LineRules {
    readonly endpoint: string;
    /** The pool serving a model, if any. */
    readonly poolOf: (model: string) => PoolConfig | undefined;
    readonly maxBodyBytes: number;
    readonly bounds: RequestBounds;
    readonly allowedMediaDomains: readonly string[];
}

/** Room for a line's envelope (custom_id, method, url) around its body. */
const ENVELOPE_BYTES = 4096;

/** The longest line kept in memory: a body at the limit in its envelope. Longer ones are refused unread. */
export const maxLineBytes = (rules: LineRules): number => rules.maxBodyBytes + ENVELOPE_BYTES;

/** At most this many errors are listed: enough to fix a file, bounded for a 50,000-line one. */
const MAX_REPORTED_ERRORS = 100;

/** Bytes read from the store per GETRANGE. */
const PIECE_BYTES = 1024 * 1024;

export type LineCheck =
    /** The envelope is wrong: the batch fails validation. */
    | { kind: "invalid"; code: string; message: string; param: string | null }
    /** A request that runs; `body` (what is sent upstream) only when asked for. */
    | { kind: "request"; customId: string; pool: string; body?: string }
    /** A request the chat route would refuse: this error is its answer, in the error file. */
    | { kind: "refused"; customId: string; error: GatewayError };

const invalid = (code: string, message: string, param: string | null = null): LineCheck => ({ kind: "invalid", code, message, param });

/**
 * Checks one line (bytes start..end of buf, without its newline); `n` is its line number.
 * `build`: also build the body sent upstream (the runner does; validation only counts).
 */
export function checkLine(buf: Buffer, start: number, end: number, n: number, rules: LineRules, build: boolean): LineCheck {
    if (end - start > maxLineBytes(rules))
        return invalid("request_too_large", `Line ${n} is ${end - start} bytes, over the request body limit of ${rules.maxBodyBytes} (maxBodyBytes)`, "body");
    let v: unknown;
    try {
        // The envelope adds two levels (the line object, its body) to what a chat request may nest.
        v = parseJson(buf, { maxDepth: rules.bounds.maxDepth + 2, maxValues: MAX_JSON_VALUES }, `Line ${n}`, start, end);
    } catch (e) {
        const err = e as GatewayError;
        return invalid(err.code === "request_too_complex" ? "request_too_complex" : "invalid_json_line", err.message);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v))
        return invalid("invalid_json_line", `Line ${n} must be a JSON object {"custom_id", "method", "url", "body"}`);
    const o = v as Record<string, unknown>;
    if (typeof o.custom_id !== "string" || o.custom_id === "" || o.custom_id.length > 512)
        return invalid("missing_custom_id", `Line ${n}: 'custom_id' must be a non-empty string of at most 512 characters`, "custom_id");
    if (o.method !== "POST") return invalid("invalid_method", `Line ${n}: 'method' must be "POST"`, "method");
    if (o.url !== rules.endpoint)
        return invalid(
            "mismatched_endpoint",
            `Line ${n}: 'url' ${JSON.stringify(o.url)?.slice(0, 100)} does not match the batch endpoint '${rules.endpoint}'`,
            "url",
        );
    const body = o.body;
    if (body === null || typeof body !== "object" || Array.isArray(body))
        return invalid("invalid_body", `Line ${n}: 'body' must be a JSON object (a chat completion request)`, "body");
    const b = body as Record<string, unknown>;
    if (typeof b.model !== "string" || b.model === "") return invalid("missing_model", `Line ${n}: 'body.model' is required`, "body.model");
    const pool = rules.poolOf(b.model);
    if (pool === undefined)
        return invalid(
            "model_not_found",
            `Line ${n}: the model '${b.model.slice(0, 200)}' is not served by this gateway (GET /v1/models lists the served ones)`,
            "body.model",
        );
    const customId = o.custom_id;
    let upstream: string;
    try {
        upstream = batchBody(checkChatBody(b, rules.bounds, rules.allowedMediaDomains), pool.maxTokens);
    } catch (e) {
        if (!(e instanceof GatewayError)) throw e;
        return { kind: "refused", customId, error: e };
    }
    if (Buffer.byteLength(upstream) > rules.maxBodyBytes)
        return invalid(
            "request_too_large",
            `Line ${n}: the request body is ${Buffer.byteLength(upstream)} bytes, over the limit of ${rules.maxBodyBytes} (maxBodyBytes)`,
            "body",
        );
    return { kind: "request", customId, pool: pool.name, ...(build ? { body: upstream } : {}) };
}

/** One line of a stored file. */
export interface FileLine {
    /** 1-based line number in the file. */
    no: number;
    /** File offset of the line's first byte (after a byte-order mark on line 1). */
    offset: number;
    /** File offset just past its newline: where the next line starts. */
    next: number;
    /** Bytes of the line without newline and trailing CR. */
    length: number;
    /** The line is buf[start, end); absent when the line is longer than the reader keeps (its bytes are skipped). */
    buf?: Buffer;
    start: number;
    end: number;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The lines of a stored file from `from.offset` (line number `from.no`), read `PIECE_BYTES` at
 * a time. A line longer than maxLine is not kept (only its length). A UTF-8 byte-order mark at
 * the start of the file is skipped (editors on Windows write one). Gives the event loop a turn
 * whenever 10 ms of work has passed, so a 200 MB file never stalls other requests.
 */
export async function* fileLines(
    read: (offset: number, length: number) => Promise<Buffer>,
    size: number,
    from: { offset: number; no: number },
    maxLine: number,
): AsyncGenerator<FileLine> {
    let pos = from.offset;
    let no = from.no;
    let lineStart = pos;
    let carry: Buffer[] = [];
    let carried = 0;
    let dropping = false;
    let since = performance.now();
    const pause = async () => {
        if (performance.now() - since < 10) return;
        await new Promise<void>((r) => setImmediate(r));
        since = performance.now();
    };
    const line = (chunk: Buffer, i: number, nl: number, nextOffset: number): FileLine => {
        let buf: Buffer | undefined;
        let start = 0;
        let end = 0;
        const length = carried + (nl - i);
        if (!dropping && length <= maxLine) {
            if (carry.length === 0) {
                buf = chunk;
                start = i;
                end = nl;
            } else {
                buf = Buffer.concat([...carry, chunk.subarray(i, nl)], length);
                end = length;
            }
            if (end > start && buf[end - 1] === 0x0d) end--;
        }
        const out: FileLine = { no, offset: lineStart, next: nextOffset, length: buf ? end - start : length, buf, start, end };
        carry = [];
        carried = 0;
        dropping = false;
        no++;
        lineStart = nextOffset;
        return out;
    };
    while (pos < size) {
        const chunk = await read(pos, Math.min(PIECE_BYTES, size - pos));
        if (chunk.length === 0) break; // the file went away under us: nothing more to read
        let i = 0;
        if (pos === 0 && chunk.length >= 3 && chunk.subarray(0, 3).equals(BOM)) {
            i = 3;
            lineStart = 3;
        }
        while (i < chunk.length) {
            const nl = chunk.indexOf(0x0a, i);
            if (nl < 0) {
                const rest = chunk.length - i;
                if (!dropping && carried + rest > maxLine) {
                    dropping = true;
                    carry = [];
                }
                if (!dropping) carry.push(chunk.subarray(i));
                carried += rest;
                break;
            }
            yield line(chunk, i, nl, pos + nl + 1);
            i = nl + 1;
            await pause();
        }
        pos += chunk.length;
        await pause();
    }
    if (carried > 0) yield line(Buffer.alloc(0), 0, 0, pos);
}

/** Whether a line has anything but whitespace. */
export function isBlank(l: FileLine): boolean {
    if (!l.buf) return false;
    for (let i = l.start; i < l.end; i++) {
        const c = l.buf[i];
        if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
    }
    return true;
}

export interface ScanResult {
    errors: LineError[];
    /** Request lines (valid or refused) per pool; refused lines count under "" (they run nowhere). */
    perPool: Map<string, number>;
    /** Request lines in all. */
    total: number;
}

/**
 * Validation of a whole file: every envelope problem with its line number (at most
 * MAX_REPORTED_ERRORS), duplicate custom_ids, the team's line limit, and the counts a batch
 * needs before it queues anything.
 */
export async function scanFile(lines: AsyncIterable<FileLine>, rules: LineRules, maxLines: number): Promise<ScanResult> {
    const errors: LineError[] = [];
    const fail = (line: number | null, code: string, message: string, param: string | null = null) => {
        if (errors.length < MAX_REPORTED_ERRORS) errors.push({ code, message, param, line });
    };
    // custom_ids seen, as 16-byte digests: 50,000 of them take ~4 MB whatever their length.
    const seen = new Set<string>();
    const perPool = new Map<string, number>();
    let total = 0;
    let blank = 0;
    for await (const l of lines) {
        if (isBlank(l)) {
            // Blank lines are reported unless they only trail the file.
            blank++;
            continue;
        }
        for (let b = l.no - blank; b < l.no; b++) fail(b, "invalid_json_line", `Line ${b} is empty; every line must be one JSON request`);
        blank = 0;
        if (++total > maxLines) {
            fail(
                l.no,
                "too_many_lines",
                `The file has more than ${maxLines} requests, this team's limit per batch (batch.limits maxLinesPerBatch); split it into several batches`,
            );
            return { errors, perPool, total: total - 1 };
        }
        if (!l.buf) {
            fail(l.no, "request_too_large", `Line ${l.no} is ${l.length} bytes, over the request body limit of ${rules.maxBodyBytes} (maxBodyBytes)`, "body");
            continue;
        }
        const c = checkLine(l.buf, l.start, l.end, l.no, rules, false);
        if (c.kind === "invalid") {
            fail(l.no, c.code, c.message, c.param);
            continue;
        }
        const digest = createHash("md5").update(c.customId).digest("base64");
        if (seen.has(digest)) {
            fail(
                l.no,
                "duplicate_custom_id",
                `Line ${l.no}: custom_id '${c.customId.slice(0, 80)}' appears more than once; each request needs its own`,
                "custom_id",
            );
            continue;
        }
        seen.add(digest);
        const pool = c.kind === "request" ? c.pool : "";
        perPool.set(pool, (perPool.get(pool) ?? 0) + 1);
    }
    if (total === 0 && errors.length === 0) fail(null, "empty_file", "The input file has no requests");
    return { errors, perPool, total };
}

/** scanFile over a file held in memory (tests, and small inputs). */
export function memoryReader(content: Buffer): (offset: number, length: number) => Promise<Buffer> {
    return async (offset, length) => content.subarray(offset, offset + length);
}
