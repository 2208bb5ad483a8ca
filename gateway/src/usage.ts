/**
 * Reads token usage from upstream answers without holding them back: a JSON body is
 * parsed once it is complete anyway; an SSE stream is scanned line by line as it passes
 * (the chunks themselves are forwarded untouched). The scanner also notices `data: [DONE]`,
 * so a stream that ends without it is reported as interrupted, not as complete.
 */
import { StringDecoder } from "string_decoder";

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

const USAGE = /"usage"\s*:\s*\{/;

export class SseScanner {
    usage: Usage | undefined;
    sawDone = false;
    private readonly decoder = new StringDecoder("utf8");
    private partial = "";

    push(chunk: Buffer): void {
        const text = this.partial + this.decoder.write(chunk);
        let start = 0;
        let nl: number;
        while ((nl = text.indexOf("\n", start)) !== -1) {
            this.line(text.slice(start, nl));
            start = nl + 1;
        }
        this.partial = text.slice(start);
    }

    private line(raw: string): void {
        const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
        if (!line.startsWith("data:")) return;
        const data = line.slice(5).trim();
        if (data === "[DONE]") {
            this.sawDone = true;
        } else if (USAGE.test(data)) {
            try {
                this.usage = toUsage((JSON.parse(data) as { usage?: unknown }).usage) ?? this.usage;
            } catch {
                // not JSON: nothing to count
            }
        }
    }
}
