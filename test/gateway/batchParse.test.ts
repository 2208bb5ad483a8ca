/** Pure parts of the Batch API: JSONL validation with line numbers, and the multipart parser. */
import * as assert from "assert";
import { parseConfig } from "../../gateway/src/config";
import { GatewayError } from "../../gateway/src/errors";
import { MultipartParser, PartHead } from "../../gateway/src/batch/multipart";
import { fileLines, LineRules, memoryReader, scanFile } from "../../gateway/src/batch/validate";

const gw = parseConfig({ pools: [{ name: "p", models: ["m"], upstreams: ["http://127.0.0.1:9"], maxTokens: 100 }], auth: { disabled: true } });
const rules: LineRules = {
    endpoint: "/v1/chat/completions",
    poolOf: (m) => (m === "m" ? gw.pools[0] : undefined),
    maxBodyBytes: 300,
    bounds: gw.requestBounds,
    allowedMediaDomains: [],
};
const ok = (id: string) =>
    JSON.stringify({ custom_id: id, method: "POST", url: "/v1/chat/completions", body: { model: "m", messages: [{ role: "user", content: "q" }] } });

/** The validation of a whole file held in memory, as a batch's creation runs it. */
async function validateLines(content: Buffer, opts: { maxLines: number }): Promise<{ count: number; errors: { line: number | null; code: string }[] }> {
    const r = await scanFile(fileLines(memoryReader(content), content.length, { offset: 0, no: 1 }, 300 + 4096), rules, opts.maxLines);
    return { count: [...r.perPool.values()].reduce((a, b) => a + b, 0), errors: r.errors };
}

/** Parses a whole body with the streaming parser, fed in chunks of `step` bytes. */
function parseMultipart(body: Buffer, contentType: string, step = 7): { name: string; filename?: string; data: Buffer }[] {
    const m = /boundary="?([^";]+)"?/.exec(contentType);
    if (!m) throw new GatewayError(400, "invalid_request_error", "invalid_multipart", "no boundary");
    const parts: { name: string; filename?: string; data: Buffer }[] = [];
    const p = new MultipartParser(m[1], {
        part: (h: PartHead) => parts.push({ name: h.name, filename: h.filename, data: Buffer.alloc(0) }),
        data: (b) => (parts.at(-1)!.data = Buffer.concat([parts.at(-1)!.data, b])),
    });
    for (let i = 0; i < body.length; i += step) p.push(body.subarray(i, i + step));
    p.end();
    return parts;
}

describe("validateLines", () => {
    const opts = { maxLines: 5 };
    it("accepts CRLF files and a trailing newline", async () => {
        assert.deepStrictEqual(await validateLines(Buffer.from(`${ok("a")}\r\n${ok("b")}\r\n`), opts), { count: 2, errors: [] });
    });

    it("reports each problem with its 1-based line number, and never throws", async () => {
        const file = [ok("a"), "", "[1]", ok("a"), JSON.stringify({ custom_id: "u", method: "POST", url: "/v1/embeddings", body: {} }), "\u0000garbage"].join(
            "\n",
        );
        const r = await validateLines(Buffer.from(file), opts);
        assert.deepStrictEqual(
            r.errors.map((e) => [e.line, e.code]),
            [
                [2, "invalid_json_line"],
                [3, "invalid_json_line"],
                [4, "duplicate_custom_id"],
                [5, "mismatched_endpoint"],
                [6, "invalid_json_line"],
            ],
        );
        assert.strictEqual(r.count, 1);
    });

    it("stops at the team's line limit and rejects an empty file", async () => {
        const r = await validateLines(Buffer.from(Array.from({ length: 7 }, (_, i) => ok(`l${i}`)).join("\n")), opts);
        assert.deepStrictEqual(
            r.errors.map((e) => [e.line, e.code]),
            [[6, "too_many_lines"]],
        );
        assert.deepStrictEqual(
            (await validateLines(Buffer.from("\n\n"), opts)).errors.map((e) => e.code),
            ["empty_file"],
        );
    });

    it("bounds the error list of a huge bad file at 100", async () => {
        assert.strictEqual((await validateLines(Buffer.from("x\n".repeat(1000)), { maxLines: 5000 })).errors.length, 100);
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
        assert.deepStrictEqual(
            parts.map((p) => [p.name, p.filename, p.data.toString()]),
            [
                ["purpose", undefined, "batch"],
                ["file", "in.jsonl", '{"a":1}\r\n{"b":2}\r\n'],
            ],
        );
    });

    it("answers 400 for a body that is not multipart or is cut short", () => {
        assert.throws(
            () => parseMultipart(Buffer.from("{}"), "application/json"),
            (e: unknown) => e instanceof GatewayError && e.status === 400 && e.code === "invalid_multipart",
        );
        assert.throws(
            () => parseMultipart(body("B").subarray(0, 60), "multipart/form-data; boundary=B"),
            (e: unknown) => e instanceof GatewayError && e.status === 400 && /unterminated|headers missing/.test(e.message),
        );
    });
});
