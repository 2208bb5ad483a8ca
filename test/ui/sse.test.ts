/** ui/sse.js in Node: reading a streamed chat answer, however the bytes are split. */
import * as assert from "assert";
import { readAnswer, takeEvents } from "../../ui/sse.js";

/** A response body that delivers these byte chunks, then ends (or fails with `error`). */
function body(chunks: string[], error?: Error): ReadableStream<Uint8Array<ArrayBuffer>> {
    const enc = new TextEncoder();
    let i = 0;
    return new ReadableStream({
        pull(c) {
            if (i < chunks.length) c.enqueue(enc.encode(chunks[i++]));
            else if (error) c.error(error);
            else c.close();
        },
    });
}

const chunk = (text: string) => `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: text } }] })}\n\n`;

describe("ui/sse.js: the streamed answer", () => {
    it("splits complete events off the buffer and keeps the incomplete tail", () => {
        assert.deepStrictEqual(takeEvents("data: a\n\n: comment\n\nevent: x\ndata: b\ndata: c\n\ndata: d"), { data: ["a", "b\nc"], rest: "data: d" });
        assert.deepStrictEqual(takeEvents("data:no-space\n\n"), { data: ["no-space"], rest: "" });
    });

    it("reassembles an answer split anywhere, CRLF line ends included", async () => {
        const text = chunk("Hel") + chunk("lo") + "data: [DONE]\n\n";
        const crlf = text.replace(/\n/g, "\r\n");
        for (const source of [text, crlf]) {
            for (const size of [1, 3, 7, 50]) {
                const parts: string[] = [];
                for (let i = 0; i < source.length; i += size) parts.push(source.slice(i, i + size));
                const deltas: string[] = [];
                const r = await readAnswer(body(parts), { onDelta: (d) => deltas.push(d) });
                assert.deepStrictEqual(r, { outcome: "done", text: "Hello" }, `pieces of ${size}`);
                assert.deepStrictEqual(deltas, ["Hel", "lo"]);
            }
        }
    });

    it("keeps a multi-line event whole when its CRLF is split between two chunks", async () => {
        const deltas: string[] = [];
        const line = JSON.stringify({ choices: [{ delta: { content: "x" } }] });
        // data: {"choices": \r | \n data: [{"delta"...}]}: one event whose data lines join with "\n" (JSON allows it).
        const [head, tail] = [line.slice(0, 12), line.slice(12)];
        const r = await readAnswer(body([`data: ${head}\r`, `\ndata: ${tail}\r\n\r\n`, "data: [DONE]\r\n\r\n"]), { onDelta: (d) => deltas.push(d) });
        assert.deepStrictEqual(r, { outcome: "done", text: "x" });
    });

    it("reports the gateway's error event and keeps the partial answer", async () => {
        const r = await readAnswer(body([chunk("Part"), `data: ${JSON.stringify({ error: { message: "worker failed", code: "stream_interrupted" } })}\n\n`]), {
            onDelta: () => undefined,
        });
        assert.deepStrictEqual(r, { outcome: "error", text: "Part", message: "The answer was interrupted: worker failed" });
    });

    it("calls a stream that ends without [DONE] incomplete, never done", async () => {
        const r = await readAnswer(body([chunk("cut")]), { onDelta: () => undefined });
        assert.deepStrictEqual(r, { outcome: "error", text: "cut", message: "The connection closed before the answer was complete." });
    });

    it("tells a lost connection from a stop", async () => {
        const lost = await readAnswer(body([chunk("a")], new Error("reset")), { onDelta: () => undefined });
        assert.deepStrictEqual(lost, { outcome: "error", text: "a", message: "The answer was interrupted: the connection was lost (reset)" });
        const controller = new AbortController();
        controller.abort();
        const stopped = await readAnswer(body([chunk("a")], new Error("aborted")), { onDelta: () => undefined, signal: controller.signal });
        assert.deepStrictEqual(stopped, { outcome: "stopped", text: "a" });
    });

    it("skips lines that are not JSON and deltas without text", async () => {
        const r = await readAnswer(
            body(["data: {not json\n\n", `data: ${JSON.stringify({ choices: [{ delta: { role: "assistant" } }] })}\n\n`, chunk("ok"), "data: [DONE]\n\n"]),
            { onDelta: () => undefined },
        );
        assert.deepStrictEqual(r, { outcome: "done", text: "ok" });
    });
});
