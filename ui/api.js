// @ts-check
/** The page's side of the gateway's API: the caller's key as a header, and errors in the OpenAI shape. */
import { byId } from "./dom.js";

/** The API key typed in Settings (trimmed; "" when none). */
export function apiKey() {
    return byId("api-key", HTMLInputElement).value.trim();
}

/** `Authorization: Bearer <key>` when a key is set. @returns {Record<string, string>} */
export function authHeaders() {
    const k = apiKey();
    return k ? { authorization: `Bearer ${k}` } : {};
}

/**
 * @typedef {object} ApiError
 * @property {string} message
 * @property {string} code
 */

/**
 * The OpenAI-shaped (or vLLM-shaped) error of a response, or its text.
 * @param {Response} res
 * @returns {Promise<ApiError>}
 */
export async function readError(res) {
    let text = "";
    try {
        text = await res.text();
    } catch {
        /* no body */
    }
    return parseError(text);
}

/**
 * `{"error": {"message", "code"}}` (OpenAI), `{"message"}` or `{"detail"}` (vLLM, fastify), else the text itself.
 * @param {string} text
 * @returns {ApiError}
 */
function parseError(text) {
    try {
        /** @typedef {{ error?: unknown, message?: string, detail?: string, code?: string | number }} ErrorBody */
        /** @type {unknown} */
        const parsed = JSON.parse(text);
        const body = /** @type {ErrorBody | null} */ (parsed);
        const err = body && body.error && typeof body.error === "object" ? /** @type {ErrorBody} */ (body.error) : body;
        if (!err) return { message: text.slice(0, 300).trim(), code: "" };
        return { message: String(err.message || err.detail || ""), code: String(err.code || "") };
    } catch {
        return { message: text.slice(0, 300).trim(), code: "" };
    }
}

/**
 * A response's JSON body as what it is until checked: unknown (the caller casts it to the shape it expects).
 * @param {Response} res
 * @returns {Promise<unknown>}
 */
export async function jsonOf(res) {
    /** @type {unknown} */
    const body = await res.json();
    return body;
}
