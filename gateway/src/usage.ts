/**
 * Reads token usage from upstream answers without holding them back: a JSON body is
 * parsed once it is complete anyway; an SSE stream is scanned line by line as it passes
 * (the chunks themselves are forwarded untouched). The scanner also notices `data: [DONE]`,
 * so a stream that ends without it is reported as interrupted, not as complete.
 */
export interface Usage {
    promptTokens: number;
    completionTokens: number;
}

function toUsage(u: unknown): Usage | undefined {
    if (u === null || typeof u !== "object") return undefined;
    const { prompt_tokens: p, completion_tokens: c } = u as Record<string, unknown>;
    if (typeof p !== "number" && typeof c !== "number") return undefined;
    return { promptTokens: typeof p === "number" ? p : 0, completionTokens: typeof c === "number" ? c : 0 };
}

const PROMPT = /"prompt_tokens"\s*:\s*(\d+)/;
const COMPLETION = /"completion_tokens"\s*:\s*(\d+)/;

/**
 * Usage of a non-stream chat completion body, if it reports one. Reads only the `usage`
 * object (vLLM puts it after the choices) instead of parsing the whole answer.
 */
export function usageOfJson(body: Buffer): Usage | undefined {
    let at = body.lastIndexOf('"usage"');
    // A `"usage"` inside the answer text would be escaped (\"usage\"), so skip those.
    while (at > 0 && body[at - 1] === 0x5c) at = body.lastIndexOf('"usage"', at - 1);
    if (at < 0) return undefined;
    const open = body.indexOf(0x7b, at); // {
    const close = body.indexOf(0x7d, open); // }: usage's counters come before any nested object
    if (open < 0 || close < 0 || open - at > 16) return undefined;
    const text = body.toString("latin1", open, close + 1);
    const p = Number(PROMPT.exec(text)?.[1] ?? NaN);
    const c = Number(COMPLETION.exec(text)?.[1] ?? NaN);
    if (Number.isNaN(p) && Number.isNaN(c)) return undefined;
    return { promptTokens: Number.isNaN(p) ? 0 : p, completionTokens: Number.isNaN(c) ? 0 : c };
}

/** Longest SSE line the scanner keeps (vLLM's chunks are a few KB, with logprobs tens of KB). */
const MAX_SSE_LINE_BYTES = 1024 * 1024;

const DATA = Buffer.from("data:");
const USAGE_KEY = Buffer.from('"usage"');

/**
 * Scans an SSE stream line by line as it passes. Incremental: each byte is searched for a
 * newline once (an upstream that never sends one cannot make it rescan), and a line longer
 * than MAX_SSE_LINE_BYTES is not kept: `lineTooLong` tells the flight to end the stream.
 */
export class SseScanner {
    usage: Usage | undefined;
    sawDone = false;
    lineTooLong = false;
    private pending: Buffer[] = [];
    private pendingBytes = 0;

    constructor(private readonly maxLine = MAX_SSE_LINE_BYTES) {}

    /** The stream so far ends inside a line. */
    get midLine(): boolean {
        return this.pendingBytes > 0;
    }

    push(chunk: Buffer): void {
        let start = 0;
        let nl: number;
        while ((nl = chunk.indexOf(0x0a, start)) !== -1) {
            if (this.pendingBytes > 0) {
                this.pending.push(chunk.subarray(start, nl));
                this.line(Buffer.concat(this.pending));
                this.pending = [];
                this.pendingBytes = 0;
            } else {
                this.line(chunk.subarray(start, nl));
            }
            start = nl + 1;
        }
        if (start < chunk.length) {
            this.pendingBytes += chunk.length - start;
            if (this.pendingBytes > this.maxLine) {
                this.lineTooLong = true;
                this.pending = [];
                this.pendingBytes = 0;
            } else {
                this.pending.push(chunk.subarray(start));
            }
        }
    }

    private line(raw: Buffer): void {
        let end = raw.length;
        if (end > 0 && raw[end - 1] === 0x0d) end--;
        if (end < 5 || raw.compare(DATA, 0, 5, 0, 5) !== 0) return;
        if (end <= 32) {
            if (raw.toString("latin1", 5, end).trim() === "[DONE]") this.sawDone = true;
            return;
        }
        if (raw.indexOf(USAGE_KEY, 5) === -1) return;
        try {
            this.usage = toUsage((JSON.parse(raw.toString("utf8", 5, end)) as { usage?: unknown }).usage) ?? this.usage;
        } catch {
            // not JSON: nothing to count
        }
    }
}
