/**
 * Validation of a chat completion request: just what the gateway needs to route, bound and
 * cache it, with 400s that name the field. vLLM validates the rest and its 400s pass through.
 *
 * The shape (nesting, number of values) is checked on the raw bytes before JSON.parse, and
 * messages, parts and media are counted before anything walks them: a hostile body is refused
 * in time linear in its size with a small constant, instead of stalling the event loop.
 */
import type { GatewayConfig } from "./config";
import { errors } from "./errors";

/** The chat completions path, on the gateway and on vLLM alike. */
export const CHAT_PATH = "/v1/chat/completions";

export interface ChatRequest {
    model: string;
    stream: boolean;
    /** The parsed body, for the cache key; dropped once the key is computed. */
    body: Record<string, unknown>;
}

export type RequestBounds = GatewayConfig["requestBounds"];

/** JSON values (array/object openings and separators) a body may hold; a chat request with 1,000 messages has a few thousand. */
export const MAX_JSON_VALUES = 100_000;

/** What is echoed back (errors) or logged of a client-chosen string. */
export function clip(s: string, max = 128): string {
    return s.length <= max ? s : `${s.slice(0, max)}…(${s.length} chars)`;
}

/**
 * Nesting depth and value count of JSON bytes, without parsing: strings are skipped with
 * a native indexOf (a 20 MB image data URL costs microseconds). Returns the problem, if any;
 * syntax errors are left to JSON.parse.
 */
export function checkJsonShape(buf: Buffer, maxDepth: number, maxValues = MAX_JSON_VALUES): string | undefined {
    let depth = 0;
    let values = 0;
    const n = buf.length;
    for (let i = 0; i < n; i++) {
        const c = buf[i];
        if (c === 0x22) {
            // Skip to the closing quote: one not preceded by an odd number of backslashes.
            let j = i + 1;
            for (;;) {
                j = buf.indexOf(0x22, j);
                if (j < 0) return undefined;
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

const MEDIA_TYPES: Record<string, string> = { image_url: "image_url", video_url: "video_url", audio_url: "audio_url", input_audio: "" };

/** The URL of a media part (`{type:"image_url", image_url:{url}}` or a bare string), if it has one. */
function mediaUrl(part: Record<string, unknown>, field: string): unknown {
    if (field === "") return undefined;
    const v = part[field];
    return v !== null && typeof v === "object" ? (v as { url?: unknown }).url : v;
}

/** Remote media is refused unless its host is allowed: the worker would fetch it (SSRF: 169.254.169.254). */
function checkMediaUrl(url: unknown, where: string, allowed: readonly string[]): void {
    if (typeof url !== "string") return; // vLLM refuses a non-string URL itself
    if (url.startsWith("data:")) return;
    let host: string;
    try {
        const u = new URL(url);
        if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error("scheme");
        host = u.hostname.toLowerCase();
    } catch {
        throw errors.badRequest(`'${where}' must be a data: URL (or an http(s) URL of an allowed domain)`, "invalid_media_url");
    }
    // Exact host match, as vLLM's --allowed-media-domains does (MediaConnector): no subdomains.
    const ok = allowed.some((d) => host === d.toLowerCase());
    if (!ok) {
        throw errors.badRequest(
            `'${where}': remote media URLs are refused (host '${clip(host, 64)}' is not in allowedMediaDomains); send the image inline as a data: URL`,
            "remote_media_refused",
        );
    }
}

export function parseChatRequest(raw: Buffer | undefined, bounds: RequestBounds, allowedMediaDomains: readonly string[] = []): ChatRequest {
    if (raw === undefined || raw.length === 0) throw errors.badRequest("The request body is empty; send a JSON chat completion request", "invalid_json");
    const shape = checkJsonShape(raw, bounds.maxDepth);
    if (shape !== undefined) throw errors.badRequest(`The request body is refused: ${shape}`, "request_too_complex");
    let body: unknown;
    try {
        body = JSON.parse(raw.toString("utf8"));
    } catch (e) {
        throw errors.badRequest(`The request body is not valid JSON: ${clip((e as Error).message, 200)}`, "invalid_json");
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw errors.badRequest("The request body must be a JSON object", "invalid_json");
    const b = body as Record<string, unknown>;
    if (typeof b.model !== "string" || b.model === "") throw errors.badRequest("'model' is required and must be a non-empty string", "missing_model");
    if (!Array.isArray(b.messages) || b.messages.length === 0) throw errors.badRequest("'messages' is required and must be a non-empty array", "missing_messages");
    const messages = b.messages as unknown[];
    if (messages.length > bounds.maxMessages) throw errors.badRequest(`'messages' has ${messages.length} entries; at most ${bounds.maxMessages} are accepted`, "too_many_messages");
    let parts = 0;
    let media = 0;
    for (let i = 0; i < messages.length; i++) {
        const m = messages[i];
        if (m === null || typeof m !== "object" || typeof (m as { role?: unknown }).role !== "string") {
            throw errors.badRequest(`'messages[${i}]' must be an object with a string 'role'`, "invalid_messages");
        }
        const content = (m as { content?: unknown }).content;
        if (!Array.isArray(content)) continue;
        parts += content.length;
        if (parts > bounds.maxParts) throw errors.badRequest(`The messages have more than ${bounds.maxParts} content parts`, "too_many_parts");
        for (let j = 0; j < content.length; j++) {
            const part: unknown = content[j];
            const type = (part as { type?: unknown } | null)?.type;
            if (part === null || typeof part !== "object" || typeof type !== "string") {
                throw errors.badRequest(`'messages[${i}].content[${j}]' must be an object with a string 'type'`, "invalid_messages");
            }
            const field = MEDIA_TYPES[type];
            if (field === undefined) continue;
            if (++media > bounds.maxMedia) throw errors.badRequest(`The messages have more than ${bounds.maxMedia} images, videos or audio parts`, "too_many_media");
            checkMediaUrl(mediaUrl(part as Record<string, unknown>, field), `messages[${i}].content[${j}].${field}.url`, allowedMediaDomains);
        }
    }
    if (b.stream !== undefined && typeof b.stream !== "boolean") throw errors.badRequest("'stream' must be a boolean", "invalid_stream");
    return { model: b.model, stream: b.stream === true, body: b };
}

const TOKEN_FIELDS = ["max_tokens", "max_completion_tokens", "min_tokens"] as const;

/**
 * Bounds the tokens a request may generate to the pool's maxTokens: a larger value is a 400;
 * without max_tokens/max_completion_tokens the bound is added to the body forwarded to vLLM
 * (its default is the whole context, which `ignore_eos` then really uses).
 */
export function boundTokens(chat: ChatRequest, raw: Buffer, maxTokens: number | undefined): Buffer {
    if (maxTokens === undefined) return raw;
    const b = chat.body;
    for (const f of TOKEN_FIELDS) {
        const v = b[f];
        if (v === undefined) continue;
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw errors.badRequest(`'${f}' must be a non-negative integer`, "invalid_max_tokens");
        if (v > maxTokens) throw errors.badRequest(`'${f}' is ${v}; this model generates at most ${maxTokens} tokens per request`, "max_tokens_exceeded");
    }
    if (typeof b.max_tokens === "number" || typeof b.max_completion_tokens === "number") return raw;
    // The body is a JSON object (checked): insert the field after its opening brace.
    const open = raw.indexOf(0x7b);
    b.max_tokens = maxTokens;
    return Buffer.concat([raw.subarray(0, open + 1), Buffer.from(`"max_tokens":${maxTokens},`), raw.subarray(open + 1)]);
}
