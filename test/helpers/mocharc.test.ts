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

    it("npm run test:unit runs a subset: no browser, redis, Prometheus, nginx, gateway process or CLI", () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const all = (require(path.join(ROOT, ".mocharc.cjs")) as { spec: string[] }).spec;
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const unit = (require(path.join(ROOT, ".mocharc.unit.cjs")) as { spec: string[] }).spec;
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        assert.strictEqual(pkg.scripts["test:unit"], "mocha --config .mocharc.unit.cjs");
        assert.deepStrictEqual(
            unit.filter((f) => !all.includes(f)),
            [],
        );
        for (const f of [
            "test/ui/page.test.ts",
            "test/ui/nginx.test.ts",
            "test/prometheus/signals.test.ts",
            "test/gateway/batch.test.ts",
            "test/gateway/process.test.ts",
            "test/scripts/plan.test.ts",
            "test/capacity/properties.test.ts",
        ]) {
            assert.ok(!unit.includes(f), `${f} starts a program or runs long: not a unit test file`);
        }
        for (const f of ["test/stacks/validate.test.ts", "test/ui/sse.test.ts", "test/gateway/queue.test.ts", "test/capacity/coldStartPhases.test.ts"])
            assert.ok(unit.includes(f), f);
        assert.ok(unit.length > all.length / 2, `only ${unit.length} of ${all.length} files are unit tests`);
    });
});
