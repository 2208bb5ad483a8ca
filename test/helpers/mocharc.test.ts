/** The file order of `npm test` (.mocharc.cjs puts the longest files first) still runs every test file once. */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "./program";

describe("mocha config", () => {
    it("lists every test/**/*.test.ts exactly once, and nothing else", () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { spec } = require(path.join(ROOT, ".mocharc.cjs")) as { spec: string[] };
        const onDisk = (fs.readdirSync(path.join(ROOT, "test"), { recursive: true }) as string[])
            .filter((f) => f.endsWith(".test.ts"))
            .map((f) => `test/${f.split(path.sep).join("/")}`)
            .sort();
        assert.ok(onDisk.length > 50, `found only ${onDisk.length} test files`);
        const twice = spec.filter((f, i) => spec.indexOf(f) !== i);
        assert.deepStrictEqual(twice, [], "files listed twice run twice");
        assert.deepStrictEqual([...spec].sort(), onDisk);
    });
});
