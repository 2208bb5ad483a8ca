/** Pure parts of the Batch API: JSONL validation with line numbers, and the multipart parser. */
import * as assert from "assert";
import { GatewayError } from "../../gateway/src/errors";
import { parseMultipart } from "../../gateway/src/batch/multipart";
import { validateLines } from "../../gateway/src/batch/validate";

const opts = { endpoint: "/v1/chat/completions", poolOf: (m: string) => (m === "m" ? "p" : undefined), maxLines: 5, maxBodyBytes: 300 };
const ok = (id: string) => JSON.stringify({ custom_id: id, method: "POST", url: "/v1/chat/completions", body: { model: "m", messages: [{ role: "user", content: "q" }] } });

describe("validateLines", () => {
    it("accepts CRLF files and a trailing newline", () => {
        assert.deepStrictEqual(validateLines(Buffer.from(`${ok("a")}\r\n${ok("b")}\r\n`), opts), { count: 2, errors: [] });
    });

    it("reports each problem with its 1-based line number, and never throws", () => {
        const file = [ok("a"), "", "[1]", ok("a"), JSON.stringify({ custom_id: "u", method: "POST", url: "/v1/embeddings", body: {} }), "\u0000garbage"].join("\n");
        const r = validateLines(Buffer.from(file), opts);
        assert.deepStrictEqual(r.errors.map((e) => [e.line, e.code]), [
            [2, "invalid_json_line"],
            [3, "invalid_json_line"],
            [4, "duplicate_custom_id"],
            [5, "mismatched_endpoint"],
            [6, "invalid_json_line"],
        ]);
        assert.strictEqual(r.count, 1);
    });

    it("stops at the team's line limit and rejects an empty file", () => {
        const r = validateLines(Buffer.from(Array.from({ length: 7 }, (_, i) => ok(`l${i}`)).join("\n")), opts);
        assert.deepStrictEqual(r.errors.map((e) => [e.line, e.code]), [[6, "too_many_lines"]]);
        assert.deepStrictEqual(validateLines(Buffer.from("\n\n"), opts).errors.map((e) => e.code), ["empty_file"]);
    });

    it("bounds the error list of a huge bad file at 100", () => {
        assert.strictEqual(validateLines(Buffer.from("x\n".repeat(1000)), { ...opts, maxLines: 5000 }).errors.length, 100);
    });
});

describe("parseMultipart", () => {
    const body = (b: string) =>
        Buffer.from(
            `--${b}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
                `--${b}\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n{"a":1}\r\n{"b":2}\r\n\r\n--${b}--\r\n`,
        );

    it("splits fields and the file, keeping the file's bytes exactly (CRLF inside included)", () => {
        const parts = parseMultipart(body("XyZ"), 'multipart/form-data; boundary="XyZ"');
        assert.deepStrictEqual(parts.map((p) => [p.name, p.filename, p.data.toString()]), [
            ["purpose", undefined, "batch"],
            ["file", "in.jsonl", '{"a":1}\r\n{"b":2}\r\n'],
        ]);
    });

    it("answers 400 for a body that is not multipart or is cut short", () => {
        assert.throws(() => parseMultipart(Buffer.from("{}"), "application/json"), (e: unknown) => e instanceof GatewayError && e.status === 400 && e.code === "invalid_multipart");
        assert.throws(() => parseMultipart(body("B").subarray(0, 60), "multipart/form-data; boundary=B"), (e: unknown) => e instanceof GatewayError && e.status === 400 && /unterminated/.test(e.message));
    });
});
