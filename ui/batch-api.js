// @ts-check
/**
 * The batch view's calls to the gateway: each answer checked (an error becomes an ApiFailure with
 * the gateway's status and code), and the parts of an OpenAI batch object the view reads.
 */
import { authHeaders, readError } from "./api.js";

/**
 * The parts of an OpenAI batch object the view reads.
 * @typedef {object} Batch
 * @property {string} id
 * @property {string} status
 * @property {number} created_at
 * @property {{ total: number, completed: number, failed: number }} [request_counts]
 * @property {Record<string, string>} [metadata]
 * @property {string | null} [output_file_id]
 * @property {string | null} [error_file_id]
 * @property {{ data?: Array<{ message: string }> }} [errors]
 */

/** An API error with its status and code. */
export class ApiFailure extends Error {
    /**
     * @param {string} message
     * @param {number} status
     * @param {string} code
     */
    constructor(message, status, code) {
        super(message);
        this.status = status;
        this.code = code;
    }
}

/**
 * @param {string} path
 * @param {RequestInit} [init]
 */
export async function api(path, init = {}) {
    const res = await fetch(path, { ...init, headers: { ...authHeaders(), .../** @type {Record<string, string>} */ (init.headers ?? {}) } });
    if (!res.ok) {
        const err = await readError(res);
        throw new ApiFailure((res.status === 401 ? "The API key was refused. " : "") + (err.message || `HTTP ${res.status}`), res.status, err.code);
    }
    return res;
}
