/**
 * The page's JavaScript as ES modules (ui/): each type-checked (`// @ts-check`, tsconfig.ui.json),
 * one concern and under ~300 lines each, every import a file the UI serves (a missing one would
 * fail only in the browser), and no import cycles.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { readUiFiles } from "../../components/serving/ui";

const UI_DIR = path.resolve(__dirname, "../../ui");
/** Classic scripts: the UMD DICOM reader (also loaded by the worker and Node), the worker, and the worker's client. */
const CLASSIC = ["dicom.js", "dicom-worker.js", "dicom-client.js"];
const MAX_LINES = 310;

/** Static imports of a module: `import ... from "./x.js"` and `import "./x.js"`. */
function importsOf(text: string): string[] {
    return [...text.matchAll(/^import\s+(?:[^"';]+\s+from\s+)?["']([^"']+)["'];?$/gm)].map((m) => m[1]);
}

describe("ui: the page's modules", () => {
    const files = readUiFiles();
    const scripts = Object.keys(files).filter((f) => f.endsWith(".js") && f !== "dicom-parser.min.js");
    const modules = scripts.filter((f) => !CLASSIC.includes(f));

    it("type-checks every script (// @ts-check on its first line) and keeps each under ~300 lines", () => {
        assert.ok(modules.length >= 10, `only ${modules.length} modules`);
        for (const f of scripts) {
            const text = files[f];
            assert.match(text, /^\/\/ @ts-check\n/, `${f}: first line must be // @ts-check`);
            const lines = text.split("\n").length;
            if (f !== "dicom.js") assert.ok(lines <= MAX_LINES, `${f} has ${lines} lines; split it by concern`);
        }
        const tsconfig = fs.readFileSync(path.join(UI_DIR, "..", "tsconfig.ui.json"), "utf8");
        assert.match(tsconfig, /"checkJs": true/);
        assert.match(tsconfig, /"include": \["ui\/\*\.js", "ui\/\*\.d\.ts"\]/);
    });

    it("loads one entry module; every import is a served file, every module is reached, and no import cycle exists", () => {
        const html = files["index.html"];
        assert.deepStrictEqual(
            [...html.matchAll(/<script type="module" src="([^"]+)"/g)].map((m) => m[1]),
            ["main.js"],
        );
        const graph = new Map<string, string[]>();
        for (const f of modules) {
            const deps = importsOf(files[f]).map((spec) => {
                assert.match(spec, /^\.\/[\w-]+\.js$/, `${f} imports '${spec}': only sibling files of the page (no bare names, no CDN)`);
                const dep = spec.slice(2);
                assert.ok(dep in files, `${f} imports ${dep}, which the UI does not serve`);
                assert.ok(!CLASSIC.includes(dep), `${f} imports the classic script ${dep}`);
                return dep;
            });
            graph.set(f, deps);
        }
        const reached = new Set<string>();
        const visiting: string[] = [];
        const visit = (f: string) => {
            assert.ok(!visiting.includes(f), `import cycle: ${[...visiting.slice(visiting.indexOf(f)), f].join(" -> ")}`);
            if (reached.has(f)) return;
            visiting.push(f);
            for (const d of graph.get(f) ?? []) visit(d);
            visiting.pop();
            reached.add(f);
        };
        visit("main.js");
        assert.deepStrictEqual(
            modules.filter((m) => !reached.has(m)),
            [],
            "modules nothing imports",
        );
    });

    it("finds imports the way a browser reads them", () => {
        assert.deepStrictEqual(
            importsOf('import { a, b } from "./x.js";\nimport "./y.js";\n// import { no } from "./z.js";\nconst s = "import q from \'./w.js\'";'),
            ["./x.js", "./y.js"],
        );
    });
});
