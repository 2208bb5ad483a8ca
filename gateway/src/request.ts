/**
 * Validation of a chat completion request: just what the gateway needs to route and cache it,
 * with 400s that name the field. vLLM validates the rest and its 400s pass through unchanged.
 */
import { errors } from "./errors";

export interface ChatRequest {
    model: string;
    stream: boolean;
    /** The parsed body, for the cache key; dropped once the key is computed. */
    body: Record<string, unknown>;
}

export function parseChatRequest(raw: Buffer | undefined): ChatRequest {
    if (raw === undefined || raw.length === 0) throw errors.badRequest("The request body is empty; send a JSON chat completion request", "invalid_json");
    let body: unknown;
    try {
        body = JSON.parse(raw.toString("utf8"));
    } catch (e) {
        throw errors.badRequest(`The request body is not valid JSON: ${(e as Error).message}`, "invalid_json");
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw errors.badRequest("The request body must be a JSON object", "invalid_json");
    const b = body as Record<string, unknown>;
    if (typeof b.model !== "string" || b.model === "") throw errors.badRequest("'model' is required and must be a non-empty string", "missing_model");
    if (!Array.isArray(b.messages) || b.messages.length === 0) throw errors.badRequest("'messages' is required and must be a non-empty array", "missing_messages");
    const messages = b.messages as unknown[];
    for (let i = 0; i < messages.length; i++) {
        const m = messages[i];
        if (m === null || typeof m !== "object" || typeof (m as { role?: unknown }).role !== "string") {
            throw errors.badRequest(`'messages[${i}]' must be an object with a string 'role'`, "invalid_messages");
        }
        const content = (m as { content?: unknown }).content;
        if (!Array.isArray(content)) continue;
        for (let j = 0; j < content.length; j++) {
            const part: unknown = content[j];
            if (part === null || typeof part !== "object" || typeof (part as { type?: unknown }).type !== "string") {
                throw errors.badRequest(`'messages[${i}].content[${j}]' must be an object with a string 'type'`, "invalid_messages");
            }
        }
    }
    if (b.stream !== undefined && typeof b.stream !== "boolean") throw errors.badRequest("'stream' must be a boolean", "invalid_stream");
    return { model: b.model, stream: b.stream === true, body: b };
}
