/**
 * Validation and rewriting of a chat completion request: just what the gateway needs to route,
 * bound and cache it, with 400s that name the field. vLLM validates the rest and its 400s pass
 * through. One function for both ways a request arrives: POST /v1/chat/completions (chat.ts)
 * and each line of a batch input file (batch/validate.ts), so a batch line is refused, or
 * rewritten, exactly as the same request sent interactively would be.
 *
 * The body goes through the bounded JSON parse (json.ts) first, and messages, parts and media
 * are counted before anything walks them: a hostile body is refused in time linear in its size
 * with a small constant, instead of stalling the event loop.
 */
import type { GatewayConfig } from "./config";
import { errors } from "./errors";
import { clip, parseJsonObject } from "./json";

export { clip };

/** The chat completions path, on the gateway and on vLLM alike. */
export const CHAT_PATH = "/v1/chat/completions";

export interface ChatRequest {
    model: string;
    stream: boolean;
    /** The parsed body, for the cache key; dropped once the key is computed. */
    body: Record<string, unknown>;
}

export type RequestBounds = GatewayConfig["requestBounds"];

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

/** A chat completion request as bytes (POST /v1/chat/completions): the bounded parse, then checkChatBody. */
export function parseChatRequest(raw: Buffer | undefined, bounds: RequestBounds, allowedMediaDomains: readonly string[] = []): ChatRequest {
    if (raw === undefined || raw.length === 0) throw errors.badRequest("The request body is empty; send a JSON chat completion request", "invalid_json");
    return checkChatBody(parseJsonObject(raw, bounds), bounds, allowedMediaDomains);
}

/**
 * The checks of a parsed chat completion body, on both paths (a chat request, a batch line's
 * `body`): model, messages (count, roles), content parts and media (count, remote URLs), stream,
 * and `n` (choices multiply the GPU work of one request).
 */
export function checkChatBody(b: Record<string, unknown>, bounds: RequestBounds, allowedMediaDomains: readonly string[] = []): ChatRequest {
    if (typeof b.model !== "string" || b.model === "") throw errors.badRequest("'model' is required and must be a non-empty string", "missing_model");
    if (!Array.isArray(b.messages) || b.messages.length === 0)
        throw errors.badRequest("'messages' is required and must be a non-empty array", "missing_messages");
    const messages = b.messages as unknown[];
    if (messages.length > bounds.maxMessages)
        throw errors.badRequest(`'messages' has ${messages.length} entries; at most ${bounds.maxMessages} are accepted`, "too_many_messages");
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
            if (++media > bounds.maxMedia)
                throw errors.badRequest(`The messages have more than ${bounds.maxMedia} images, videos or audio parts`, "too_many_media");
            checkMediaUrl(mediaUrl(part as Record<string, unknown>, field), `messages[${i}].content[${j}].${field}.url`, allowedMediaDomains);
        }
    }
    if (b.stream !== undefined && typeof b.stream !== "boolean") throw errors.badRequest("'stream' must be a boolean", "invalid_stream");
    // vLLM takes any n >= 1 and best_of >= n (ChatCompletionRequest `n: Optional[int] = 1`, `best_of: Optional[int] = None`,
    // vllm-project/vllm vllm/entrypoints/openai/protocol.py, read at commit 0052bed; the fields are the OpenAI API's):
    // each choice is generated in full, so n choices cost n times the GPU of one answer.
    for (const f of ["n", "best_of"] as const) {
        const v = b[f];
        if (v !== undefined && v !== null && (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > bounds.maxChoices)) {
            throw errors.badRequest(
                `'${f}' is ${clip(JSON.stringify(v), 40)}; it must be a whole number from 1 to ${bounds.maxChoices} (requestBounds.maxChoices)`,
                "invalid_n",
            );
        }
    }
    return { model: b.model, stream: b.stream === true, body: b };
}

const TOKEN_FIELDS = ["max_tokens", "max_completion_tokens", "min_tokens"] as const;

/**
 * Bounds the tokens a request may generate to the pool's maxTokens: a larger value is a 400.
 * Returns the max_tokens to add to the body forwarded to vLLM when it sets neither max_tokens
 * nor max_completion_tokens (vLLM's default is the whole context, which `ignore_eos` then
 * really uses), else undefined. Both paths apply it: boundTokens (chat bytes), batchBody.
 */
function tokensToAdd(body: Record<string, unknown>, maxTokens: number | undefined): number | undefined {
    if (maxTokens === undefined) return undefined;
    for (const f of TOKEN_FIELDS) {
        const v = body[f];
        if (v === undefined) continue;
        // null too: the chat path inserts max_tokens before the client's fields, and a later "max_tokens": null would win (last key).
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw errors.badRequest(`'${f}' must be a non-negative integer`, "invalid_max_tokens");
        if (v > maxTokens) throw errors.badRequest(`'${f}' is ${v}; this model generates at most ${maxTokens} tokens per request`, "max_tokens_exceeded");
    }
    return typeof body.max_tokens === "number" || typeof body.max_completion_tokens === "number" ? undefined : maxTokens;
}

/** The chat path: the client's bytes, with max_tokens inserted when tokensToAdd says so (nothing else is re-encoded). */
export function boundTokens(chat: ChatRequest, raw: Buffer, maxTokens: number | undefined): Buffer {
    const add = tokensToAdd(chat.body, maxTokens);
    if (add === undefined) return raw;
    // The body is a JSON object (checked): insert the field after its opening brace.
    const open = raw.indexOf(0x7b);
    chat.body.max_tokens = add;
    return Buffer.concat([raw.subarray(0, open + 1), Buffer.from(`"max_tokens":${add},`), raw.subarray(open + 1)]);
}

/** The batch path: the line's body as sent upstream, stream forced off (a batch answer is stored whole) and max_tokens as on the chat path. */
export function batchBody(chat: ChatRequest, maxTokens: number | undefined): string {
    const add = tokensToAdd(chat.body, maxTokens);
    const out: Record<string, unknown> = { ...chat.body, stream: false };
    // Only valid with stream: true: vLLM refuses it otherwise (ChatCompletionRequest.validate_stream_options, same file as above).
    delete out.stream_options;
    if (add !== undefined) out.max_tokens = add;
    return JSON.stringify(out);
}
