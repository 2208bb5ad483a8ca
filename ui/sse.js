// @ts-check
/**
 * Reads a streamed chat answer: server-sent events (WHATWG HTML "Server-sent events": events end
 * with a blank line, `data:` lines joined by "\n", other fields and `:` comments ignored), each
 * an OpenAI `chat.completion.chunk`, an `{"error": ...}` event, or `[DONE]`. Pure: runs in Node
 * too (test/ui/sse.test.ts).
 */

/**
 * Splits complete events off the front of `buffer`.
 * @param {string} buffer text received so far ("\r\n" and "\r" already turned into "\n")
 * @returns {{ data: string[], rest: string }} each event's data, and the incomplete tail
 */
export function takeEvents(buffer) {
    /** @type {string[]} */
    const data = [];
    let rest = buffer;
    let i;
    while ((i = rest.indexOf("\n\n")) >= 0) {
        const event = rest.slice(0, i);
        rest = rest.slice(i + 2);
        const lines = event
            .split("\n")
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).replace(/^ /, ""));
        if (lines.length) data.push(lines.join("\n"));
    }
    return { data, rest };
}

/**
 * @typedef {object} Answer
 * @property {"done" | "stopped" | "error"} outcome
 * @property {string} text what arrived (kept when the answer is cut)
 * @property {string} [message] why it is not complete (outcome "error")
 */

/**
 * Reads the answer, calling `onDelta` with each piece of text as it arrives.
 * @param {ReadableStream<Uint8Array<ArrayBuffer>>} body a fetch Response's body
 * @param {{ onDelta: (text: string) => void, signal?: AbortSignal }} opts
 * @returns {Promise<Answer>}
 */
export async function readAnswer(body, { onDelta, signal }) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    /** A chunk that ends with "\r" may be half of a "\r\n": the "\r" waits for the next chunk. */
    let cr = "";
    let text = "";
    let done = false;
    let failure = "";
    try {
        for (;;) {
            const r = await reader.read();
            if (r.done) break;
            const got = cr + r.value;
            cr = got.endsWith("\r") ? "\r" : "";
            const events = takeEvents(buf + (cr ? got.slice(0, -1) : got).replace(/\r\n?/g, "\n"));
            buf = events.rest;
            for (const data of events.data) {
                if (data === "[DONE]") {
                    done = true;
                    continue;
                }
                /** @type {{ error?: { message?: string } | string, choices?: { delta?: { content?: unknown } }[] } | null} */
                let obj;
                try {
                    /** @type {unknown} */
                    const parsed = JSON.parse(data);
                    obj = /** @type {typeof obj} */ (parsed);
                } catch {
                    continue;
                }
                if (obj && obj.error) {
                    failure = typeof obj.error === "string" ? obj.error : obj.error.message || JSON.stringify(obj.error);
                    continue;
                }
                const delta = obj?.choices?.[0]?.delta?.content;
                if (typeof delta === "string" && delta) {
                    text += delta;
                    onDelta(delta);
                }
            }
        }
    } catch (e) {
        if (signal?.aborted) return { outcome: "stopped", text };
        failure = `the connection was lost (${e instanceof Error ? e.message : String(e)})`;
    }
    if (failure) return { outcome: "error", text, message: `The answer was interrupted: ${failure}` };
    if (!done) return { outcome: "error", text, message: "The connection closed before the answer was complete." };
    return { outcome: "done", text };
}
