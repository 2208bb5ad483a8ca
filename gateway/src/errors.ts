/** Errors in the OpenAI shape, `{"error":{"message","type","code"}}`, so OpenAI SDKs surface them. */

export type ErrorType = "invalid_request_error" | "rate_limit_error" | "server_error" | "upstream_error" | "service_unavailable" | "insufficient_quota";

export class GatewayError extends Error {
    constructor(
        readonly status: number,
        readonly type: ErrorType,
        readonly code: string,
        message: string,
        /** Seconds for the Retry-After header, when the client should come back. */
        readonly retryAfter?: number,
    ) {
        super(message);
        this.name = "GatewayError";
    }

    body(): OpenAIError {
        return errorBody(this.message, this.type, this.code);
    }

    /**
     * Whether sending the same request again can succeed: the `x-should-retry` header,
     * which the OpenAI SDKs obey before their own rules (openai-node 6.x `client.ts`
     * shouldRetry(): 'true'/'false' first, else 408/409/429/5xx retry). True for capacity
     * (429, 503: a worker may be ready after Retry-After), a failed or silent worker (502,
     * 504: another may answer) and a request that arrived too slowly (408); false for a
     * request that is wrong (other 4xx) or a gateway fault (500).
     */
    get shouldRetry(): boolean {
        return [408, 429, 502, 503, 504].includes(this.status);
    }
}

export interface OpenAIError {
    error: { message: string; type: string; code: string; param: null };
}

function errorBody(message: string, type: string, code: string): OpenAIError {
    return { error: { message, type, code, param: null } };
}

/** One SSE event carrying an error: ends a stream that cannot be completed, so it is never a silent truncation. */
export function sseErrorEvent(err: GatewayError): Buffer {
    return Buffer.from(`data: ${JSON.stringify(err.body())}\n\n`);
}

export const errors = {
    badRequest: (msg: string, code = "invalid_request") => new GatewayError(400, "invalid_request_error", code, msg),
    /**
     * As OpenAI answers a missing or wrong key: 401 with type `invalid_request_error`, code
     * `invalid_api_key` (the API's body as reported verbatim in continuedev/continue#11409; the
     * openai-node 6.30.1 SDK maps any 401 to AuthenticationError by status alone, src/core/error.ts).
     */
    unauthorized: (msg: string) => new GatewayError(401, "invalid_request_error", "invalid_api_key", msg),
    modelNotFound: (model: string) =>
        new GatewayError(404, "invalid_request_error", "model_not_found", `The model '${model}' does not exist or is not served by this gateway`),
    requestTimeout: (seconds: number, what = "The request") =>
        new GatewayError(
            408,
            "invalid_request_error",
            "request_timeout",
            `${what} did not arrive within ${seconds} s; send it again (a slow link: a smaller body, or ask for a longer timeout)`,
        ),
    tooLarge: (limit: number) => new GatewayError(413, "invalid_request_error", "request_too_large", `Request body exceeds the limit of ${limit} bytes`),
    rateLimited: (msg: string, retryAfter: number, code = "rate_limit_exceeded") => new GatewayError(429, "rate_limit_error", code, msg, retryAfter),
    queueFull: (pool: string, retryAfter: number) =>
        new GatewayError(429, "rate_limit_error", "queue_full", `Pool '${pool}' has too many waiting requests; retry later`, retryAfter),
    poolStarting: (pool: string, waited: number, retryAfter: number) =>
        new GatewayError(
            503,
            "service_unavailable",
            "pool_starting",
            `Pool '${pool}' is starting: no worker became ready within ${waited} s; retry later`,
            retryAfter,
        ),
    poolBusy: (pool: string, waited: number, retryAfter: number) =>
        new GatewayError(
            503,
            "service_unavailable",
            "pool_busy",
            `Pool '${pool}' is at capacity: no worker was free within ${waited} s; retry later`,
            retryAfter,
        ),
    shuttingDown: () => new GatewayError(503, "service_unavailable", "shutting_down", "The gateway is shutting down; retry on another replica", 1),
    upstreamFailed: (pool: string, detail: string) => new GatewayError(502, "upstream_error", "upstream_failed", `Pool '${pool}' failed to answer: ${detail}`),
    upstreamTimeout: (pool: string, detail: string) =>
        new GatewayError(504, "upstream_error", "upstream_timeout", `The worker of pool '${pool}' did not answer in time (${detail})`),
    tooBusy: (what: string, retryAfter: number) =>
        new GatewayError(503, "service_unavailable", "gateway_busy", `The gateway is holding too many ${what}; retry later`, retryAfter),
    streamInterrupted: (pool: string, detail: string) =>
        new GatewayError(502, "upstream_error", "stream_interrupted", `The worker of pool '${pool}' failed mid-stream (${detail}); the answer is incomplete`),
};
