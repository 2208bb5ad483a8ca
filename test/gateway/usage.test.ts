/** Reading token usage from answers as they pass (pure). */
import * as assert from "assert";
import fc from "fast-check";
import { SseScanner, usageOfJson } from "../../gateway/src/usage";

const completion = (content: string, usage: unknown) =>
    Buffer.from(
        JSON.stringify({
            id: "chatcmpl-1",
            object: "chat.completion",
            choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
            usage,
        }),
    );

describe("usage", () => {
    describe("usageOfJson", () => {
        it("reads prompt and completion tokens of a vLLM answer", () => {
            const body = completion("hi", { prompt_tokens: 12, total_tokens: 15, completion_tokens: 3, prompt_tokens_details: null });
            assert.deepStrictEqual(usageOfJson(body), { promptTokens: 12, completionTokens: 3 });
        });

        it("is not fooled by the word usage inside the answer text", () => {
            const body = completion('the "usage": {"prompt_tokens": 999} field', { prompt_tokens: 7, completion_tokens: 2 });
            assert.deepStrictEqual(usageOfJson(body), { promptTokens: 7, completionTokens: 2 });
            assert.strictEqual(usageOfJson(completion('"usage": {"prompt_tokens": 5}', null)), undefined);
        });

        it("returns undefined without usage", () => {
            assert.strictEqual(usageOfJson(Buffer.from('{"id":"x","choices":[]}')), undefined);
            assert.strictEqual(usageOfJson(completion("x", null)), undefined);
        });

        it("agrees with a full JSON parse for any answer text and counts (property)", () => {
            fc.assert(
                fc.property(fc.string(), fc.nat(), fc.nat(), (content, p, c) => {
                    const u = usageOfJson(completion(content, { prompt_tokens: p, total_tokens: p + c, completion_tokens: c }));
                    return u !== undefined && u.promptTokens === p && u.completionTokens === c;
                }),
            );
        });
    });

    describe("SseScanner", () => {
        const sse =
            'data: {"choices":[{"delta":{"content":"a"}}]}\n\n' +
            'data: {"choices":[{"delta":{"content":"usage: {\\"x\\"}"}}]}\n\n' +
            'data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}\n\n' +
            "data: [DONE]\n\n";

        it("finds the usage chunk and [DONE] however the stream is cut into chunks (property)", () => {
            fc.assert(
                fc.property(fc.array(fc.nat(sse.length), { maxLength: 12 }), (cuts) => {
                    const bytes = Buffer.from(sse);
                    const points = [...new Set([0, ...cuts, bytes.length])].sort((a, b) => a - b);
                    const s = new SseScanner();
                    for (let i = 1; i < points.length; i++) s.push(bytes.subarray(points[i - 1], points[i]));
                    return s.sawDone && s.usage?.promptTokens === 4 && s.usage.completionTokens === 2;
                }),
            );
        });

        it("reports a stream without [DONE] as not done", () => {
            const s = new SseScanner();
            s.push(Buffer.from('data: {"choices":[{"delta":{"content":"a"}}]}\n\n'));
            assert.strictEqual(s.sawDone, false);
            assert.strictEqual(s.usage, undefined);
        });
    });
});
