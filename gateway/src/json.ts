/**
 * The one bounded JSON parse every request body goes through: chat completions (chat.ts),
 * batch creation and warm-ups (fastify routes), and each line of a batch input file.
 *
 * The shape (nesting depth, number of values) is checked on the raw bytes before JSON.parse,
 * in time linear in the size with a small constant (strings are skipped with a native
 * indexOf): 20 MB of `[` is refused in milliseconds instead of stalling the event loop while
 * V8 builds millions of arrays. Errors are 400s in the OpenAI shape that say what was wrong.
 */
import { errors } from "./errors";

/** JSON values (array/object openings and separators) a body may hold; a chat request with 1,000 messages has a few thousand. */
export const MAX_JSON_VALUES = 100_000;

/**
 * Body limit of routes that take a small JSON object (POST /v1/batches, /v1/warmup, cancel):
 * the largest valid one (a batch with 16 metadata values of 512 characters) is under 12 KiB.
 */
export const SMALL_JSON_BYTES = 64 * 1024;

export interface JsonBounds {
    /** Nesting of arrays/objects. */
    readonly maxDepth: number;
    /** @default MAX_JSON_VALUES */
    readonly maxValues?: number;
}

/** What is echoed back (errors) or logged of a client-chosen string. */
export function clip(s: string, max = 128): string {
    return s.length <= max ? s : `${s.slice(0, max)}…(${s.length} chars)`;
}

/**
 * Nesting depth and value count of JSON bytes, without parsing: strings are skipped with
 * a native indexOf (a 20 MB image data URL costs microseconds). Returns the problem, if any;
 * syntax errors are left to JSON.parse.
 */
function checkJsonShape(buf: Buffer, maxDepth: number, maxValues = MAX_JSON_VALUES, start = 0, end = buf.length): string | undefined {
    let depth = 0;
    let values = 0;
    for (let i = start; i < end; i++) {
        const c = buf[i];
        if (c === 0x22) {
            // Skip to the closing quote: one not preceded by an odd number of backslashes.
            let j = i + 1;
            for (;;) {
                j = buf.indexOf(0x22, j);
                if (j < 0 || j >= end) return undefined;
                let k = j - 1;
                while (buf[k] === 0x5c) k--;
                if ((j - 1 - k) % 2 === 0) break;
                j++;
            }
            i = j;
        } else if (c === 0x5b || c === 0x7b) {
            if (++depth > maxDepth) return `the JSON nests deeper than ${maxDepth} levels`;
            if (++values > maxValues) return `the JSON holds more than ${maxValues} values`;
        } else if (c === 0x5d || c === 0x7d) {
            depth--;
        } else if (c === 0x2c) {
            if (++values > maxValues) return `the JSON holds more than ${maxValues} values`;
        }
    }
    return undefined;
}

/**
 * Parses JSON bytes after the shape check: 400 `request_too_complex` past the bounds, 400
 * `invalid_json` for bad syntax. `what` names the thing in messages ("The request body").
 */
export function parseJson(raw: Buffer, bounds: JsonBounds, what = "The request body", start = 0, end = raw.length): unknown {
    if (end <= start) throw errors.badRequest(`${what} is empty; send a JSON object`, "invalid_json");
    const shape = checkJsonShape(raw, bounds.maxDepth, bounds.maxValues ?? MAX_JSON_VALUES, start, end);
    if (shape !== undefined) throw errors.badRequest(`${what} is refused: ${shape}`, "request_too_complex");
    try {
        return JSON.parse(raw.toString("utf8", start, end));
    } catch (e) {
        throw errors.badRequest(`${what} is not valid JSON: ${clip((e as Error).message, 200)}`, "invalid_json");
    }
}

/** parseJson, and the value must be an object (not an array, string, number or null). */
export function parseJsonObject(raw: Buffer | undefined, bounds: JsonBounds, what = "The request body"): Record<string, unknown> {
    if (raw === undefined) throw errors.badRequest(`${what} is empty; send a JSON object`, "invalid_json");
    const v = parseJson(raw, bounds, what);
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw errors.badRequest(`${what} must be a JSON object`, "invalid_json");
    return v as Record<string, unknown>;
}
