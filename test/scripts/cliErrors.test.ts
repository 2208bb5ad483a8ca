/** What plan and compare print when they fail: file:line:col, the problem, one line of fix, no stack frames. */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { formatCliError, unclosedOpener } from "../../scripts/engine/cliErrors";
import { readStackFile } from "../../scripts/engine/stackFile";
import { ConfigError } from "../../stacks/errors";
import { PROJECT } from "../../stacks/schema";
import { ROOT } from "../helpers/program";
import { tempDir } from "../helpers/tmp";

const FRAME = /^\s+at /m;

function errorOf(fn: () => unknown): unknown {
    try {
        fn();
    } catch (e) {
        return e;
    }
    return assert.fail("no error");
}

describe("CLI errors", function () {
    this.timeout(30000);
    const dir = tempDir("gpuserve-clierr-");
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const dev = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");

    it("points a YAML syntax error at file:line:col with the source line and a fix", () => {
        fs.writeFileSync(path.join(dir, "Pulumi.yaml1.yaml"), dev.replace("    team: platform\n", "    team: platform\n   owner: x\n"));
        const text = formatCliError(
            errorOf(() => readStackFile(dir, "yaml1", PROJECT)),
            { debug: false },
        );
        const line = dev.split("\n").findIndex((l) => l === "    team: platform") + 2;
        assert.match(
            text,
            new RegExp(
                `^error: .*Pulumi\\.yaml1\\.yaml:${line}:1: YAML syntax: All mapping items must start at the same column\\n  ${line} \\|    owner: x\\n .*\\^\\n  fix: indent the keys of one mapping by the same number of spaces$`,
            ),
        );
    });

    it("points an unclosed '[' at the bracket itself and says to close it (not at the next line, not 'indent')", () => {
        const text = dev.replace("instanceTypes: [g5.xlarge]", "instanceTypes: [g5.xlarge");
        fs.writeFileSync(path.join(dir, "Pulumi.open1.yaml"), text);
        const out = formatCliError(
            errorOf(() => readStackFile(dir, "open1", PROJECT)),
            { debug: false },
        );
        const line = text.split("\n").findIndex((l) => l.includes("instanceTypes: [g5.xlarge")) + 1;
        const col = text.split("\n")[line - 1].indexOf("[") + 1;
        assert.match(
            out,
            new RegExp(
                `^error: .*Pulumi\\.open1\\.yaml:${line}:${col}: YAML syntax: the '\\[' here is never closed\\n  ${line} \\|.*instanceTypes: \\[g5\\.xlarge\\n .*\\^\\n  fix: close it with '\\]' on the same line: instanceTypes: \\[g5\\.xlarge\\]$`,
            ),
        );
        assert.doesNotMatch(out, /indent/);
    });

    it("finds the unclosed '{' or quote, skipping brackets inside quotes and comments", () => {
        const text = 'config:\n  a: "[x"  # ] [ not counted\n  gpuserve:tags: {team: x, note: "}"\n  b: 1\n';
        const at = text.indexOf("  b:");
        assert.deepStrictEqual(unclosedOpener("Flow map in block collection must be sufficiently indented and end with a }", text, at), {
            char: "{",
            offset: text.indexOf("{team"),
            closer: "}",
        });
        const quoted = 'config:\n  aws:region: "us-east-1\n  b: 1\n';
        assert.deepStrictEqual(unclosedOpener('Missing closing "quote', quoted, quoted.length), { char: '"', offset: quoted.indexOf('"us'), closer: '"' });
        assert.strictEqual(unclosedOpener("All mapping items must start at the same column", text, at), undefined);
    });

    it("plan and compare: --help prints usage (exit 0); a bare stack name and a misspelt one get a did-you-mean", function () {
        this.timeout(120_000); // eight CLI starts (tsx): seconds each, more on a loaded machine
        const cli = (script: string, args: string[]) =>
            spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", script), ...args], { cwd: ROOT, encoding: "utf8" });
        for (const script of ["plan.ts", "compare.ts"]) {
            const help = cli(script, ["--help"]);
            assert.strictEqual(help.status, 0, help.stderr);
            assert.match(help.stdout, new RegExp(`^usage: npm run ${script.replace(".ts", "")} -- `));
        }
        const bare = cli("plan.ts", ["dev"]);
        assert.strictEqual(bare.status, 2);
        assert.match(bare.stderr, /^unknown argument 'dev': did you mean --stack dev\?\nusage: /);
        const cased = cli("plan.ts", ["--stack", "Dev", "--out", path.join(dir, "cased")]);
        assert.strictEqual(cased.status, 1);
        assert.match(cased.stderr, /fix: did you mean 'dev'\? \(--stack dev; names are case-sensitive\)/);
        const typo = cli("compare.ts", ["prdo"]);
        assert.strictEqual(typo.status, 1);
        assert.match(typo.stderr, /unknown stack 'prdo': did you mean 'prod'\? There is no Pulumi\.prdo\.yaml/);
    });

    it("names a missing stack file, the stacks that exist and how to create it", () => {
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), dev);
        const text = formatCliError(
            errorOf(() => readStackFile(dir, "cardiology", PROJECT)),
            { debug: false },
        );
        assert.match(
            text,
            /^error: .*Pulumi\.cardiology\.yaml: no stack file Pulumi\.cardiology\.yaml; stacks here: dev.*\n {2}fix: use one of those, or create it: cp Pulumi\.dev\.yaml Pulumi\.cardiology\.yaml/,
        );
        assert.doesNotMatch(text, FRAME);
    });

    it("rejects a file without a config mapping", () => {
        fs.writeFileSync(path.join(dir, "Pulumi.flat.yaml"), "config: [1, 2]\n");
        assert.match(
            formatCliError(
                errorOf(() => readStackFile(dir, "flat", PROJECT)),
                { debug: false },
            ),
            /Pulumi\.flat\.yaml:1:1: the file has no 'config:' mapping\n {2}fix: start it with 'config:'/,
        );
    });

    it("locates each config problem at its line and column in the stack file", () => {
        const text = dev.replace("capacityType: spot", "capacityType: Spot");
        const line = text.split("\n").findIndex((l) => l.includes("capacityType: Spot")) + 1;
        const col = text.split("\n")[line - 1].indexOf("Spot") + 1;
        const err = new ConfigError([
            { key: "gpuserve:gpuPools[0].capacityType", message: '"Spot" is not one of spot, on-demand', fix: "did you mean 'spot'?" },
            { key: "gpuserve:traffic.seed", message: "missing here", fix: "x" },
        ]);
        const out = formatCliError(err, { debug: false, stackFile: { file: "/x/Pulumi.t.yaml", text, project: PROJECT } });
        const trafficLine = text.split("\n").findIndex((l) => l.startsWith("  gpuserve:traffic:")) + 1;
        assert.strictEqual(
            out,
            [
                "error: invalid config in Pulumi.t.yaml (2 problems):",
                `  Pulumi.t.yaml:${line}:${col}: gpuserve:gpuPools[0].capacityType: "Spot" is not one of spot, on-demand`,
                "    fix: did you mean 'spot'?",
                // A key that is absent points at its nearest parent in the file.
                `  Pulumi.t.yaml:${trafficLine}:3: gpuserve:traffic.seed: missing here`,
                "    fix: x",
            ].join("\n"),
        );
    });

    it("prints an unexpected error as its first own frame and message, no node_modules frames; --debug prints the trace", () => {
        const err = new Error("boom\nsecond line");
        err.stack = `Error: boom\n    at f (${path.join(ROOT, "node_modules", "x", "y.js")}:1:2)\n    at g (${path.join(ROOT, "components", "stack.ts")}:12:7)\n    at h (node:internal/x:1:1)`;
        const text = formatCliError(err, { debug: false });
        assert.match(text, /^error: (.*\/)?components\/stack\.ts:12:7: boom\n {2}fix: .*--debug/);
        assert.doesNotMatch(text, /node_modules|\n\s+at /);
        assert.match(formatCliError(err, { debug: true }), /node_modules\/x\/y\.js:1:2/);
    });

    it("npm run plan: no stack trace for a YAML error, the trace with --debug", () => {
        fs.writeFileSync(path.join(dir, "Pulumi.yaml2.yaml"), "config:\n  aws:region: us-east-1\n\tgpuserve:tags: {}\n");
        const run = (extra: string[]) =>
            spawnSync(
                process.execPath,
                ["--import", "tsx", path.join(ROOT, "scripts", "plan.ts"), "--stack", "yaml2", "--dir", dir, "--out", path.join(dir, "out"), ...extra],
                { cwd: ROOT, encoding: "utf8" },
            );
        const plain = run([]);
        assert.strictEqual(plain.status, 1);
        assert.match(plain.stderr, /Pulumi\.yaml2\.yaml:3:1: YAML syntax: .*\n[\s\S]* {2}fix: /);
        assert.doesNotMatch(plain.stderr, FRAME);
        const debug = run(["--debug"]);
        assert.strictEqual(debug.status, 1);
        assert.match(debug.stderr, FRAME);
        assert.strictEqual(fs.existsSync(path.join(dir, "out")), false);
    });
});
