/** ui/batch-results.js in Node: a finished batch's table and CSV. */
import * as assert from "assert";
import { resultRows, resultsCsv } from "../../ui/batch-results.js";

const ok = (n: number, text: string) =>
    JSON.stringify({
        id: `req_${n}`,
        custom_id: `image-${n}`,
        response: { status_code: 200, body: { choices: [{ message: { role: "assistant", content: text } }] } },
        error: null,
    });
const failed = (n: number, status: number, message: string) =>
    JSON.stringify({ id: `req_${n}`, custom_id: `image-${n}`, response: { status_code: status, body: { error: { message } } }, error: null });

describe("ui/batch-results.js: a finished batch as a table", () => {
    it("orders rows by image, names them from this browser's list, and says why a line failed", () => {
        const jsonl =
            [
                ok(10, "ten"),
                ok(2, "two"),
                failed(1, 400, "bad image"),
                JSON.stringify({ custom_id: "image-3", response: null, error: { code: "expired", message: "not run in time" } }),
            ].join("\n") + "\n";
        const rows = resultRows(jsonl, ["a.png", "b.dcm", "c.jpg"]);
        assert.deepStrictEqual(
            rows.map((r) => [r.n, r.image, r.answer, r.ok]),
            [
                [1, "a.png", "Failed: bad image", false],
                [2, "b.dcm", "two", true],
                [3, "c.jpg", "Failed: not run in time", false],
                [10, "image-10", "ten", true],
            ],
        );
    });

    it("quotes CSV cells that hold commas, quotes or line breaks (RFC 4180)", () => {
        const rows = resultRows(`${ok(1, 'He said "no", then\nleft')}\n`, ["x,y.png"]);
        assert.strictEqual(resultsCsv(rows), 'image,custom_id,answer\n"x,y.png",image-1,"He said ""no"", then\nleft"\n');
    });
});
