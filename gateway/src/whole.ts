/**
 * A non-stream answer read whole through undici's dispatch API: the chunks go straight into
 * an array, with no body stream, async iteration or abort-listener bookkeeping per request
 * (undici's request() builds a Readable for every answer). This is the path every non-stream
 * chat answer takes, so its cost counts (issue 13 point 12). Streams keep request(): they
 * need its back-pressure, and per request the stream's setup is small next to its chunks.
 *
 * Handler callbacks as documented for undici 7.30 (docs/docs/api/Dispatcher.md,
 * "Parameter: DispatchHandler"): onRequestStart, onResponseStart (also for 1xx),
 * onResponseData, onResponseEnd, onResponseError. Timeouts (headersTimeout, bodyTimeout)
 * are the Pool's and arrive as errors with undici's codes, as with request().
 */
import type { Dispatcher } from "undici";
import type { Cancellation } from "./pool";

export interface WholeAnswer {
    readonly statusCode: number;
    readonly headers: Record<string, string | string[] | undefined>;
    readonly body: Buffer;
}

export interface WholeRequest {
    readonly path: string;
    readonly headers: Record<string, string>;
    readonly body: Buffer;
    readonly signal: Cancellation;
    /** Larger answers fail (the upstream call is aborted). */
    readonly maxBytes: number;
}

class AbortedByCaller extends Error {
    constructor() {
        super("request aborted");
        this.name = "AbortError";
    }
}

export function requestWhole(http: Dispatcher, req: WholeRequest): Promise<WholeAnswer> {
    return new Promise<WholeAnswer>((resolve, reject) => {
        if (req.signal.aborted) return reject(new AbortedByCaller());
        let controller: Dispatcher.DispatchController | undefined;
        let statusCode = 0;
        let headers: WholeAnswer["headers"] = {};
        const chunks: Buffer[] = [];
        let size = 0;
        let settled = false;
        const onAbort = () => controller?.abort(new AbortedByCaller());
        const settle = (err?: Error) => {
            if (settled) return false;
            settled = true;
            req.signal.off("abort", onAbort);
            if (err) reject(err);
            return true;
        };
        req.signal.once("abort", onAbort);
        http.dispatch(
            { method: "POST", path: req.path, headers: req.headers, body: req.body },
            {
                onRequestStart(c) {
                    controller = c;
                    if (req.signal.aborted) c.abort(new AbortedByCaller());
                },
                onResponseStart(_c, status, h) {
                    if (status < 200) return; // 1xx: the real answer follows
                    statusCode = status;
                    headers = h;
                },
                onResponseData(c, chunk) {
                    size += chunk.length;
                    if (size > req.maxBytes) return c.abort(new Error(`answer larger than ${req.maxBytes} bytes`));
                    chunks.push(chunk);
                },
                onResponseEnd() {
                    if (settle()) resolve({ statusCode, headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) });
                },
                onResponseError(_c, err) {
                    settle(err);
                },
            },
        );
    });
}
