/** scripts/system-deps.sh: what `npm test` (pretest) and .ci/run do about the Debian packages the tests use. */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../helpers/program";
import { tempDir } from "../helpers/tmp";

const SCRIPT = path.join(ROOT, "scripts", "system-deps.sh");
const PACKAGES = "awscli chromium containerd curl docker-registry nginx prometheus python3 redis-server skopeo";

function run(args: string[], env: Record<string, string> = {}) {
    const r = spawnSync("bash", [SCRIPT, ...args], { encoding: "utf8", env: { ...process.env, GPUSERVE_NO_INSTALL: "", ...env } });
    return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe("scripts/system-deps.sh", () => {
    const tmp = tempDir("sysdeps-");
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));
    /** A stand-in for apt-get that records its arguments. */
    const fakeApt = path.join(tmp, "apt-get");
    const calls = path.join(tmp, "calls");
    fs.writeFileSync(fakeApt, `#!/bin/sh\necho "$@" >> ${calls}\n`, { mode: 0o755 });

    it("is what npm test runs first, and what .ci/run installs from", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        assert.strictEqual(pkg.scripts.pretest, "bash scripts/system-deps.sh --auto");
        assert.strictEqual(pkg.scripts["test:deps"], "bash scripts/system-deps.sh --install");
        assert.match(fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8"), /bash scripts\/system-deps\.sh --install/);
    });

    it("reports nothing and exits 0 when every program is installed (this machine)", () => {
        const r = run([]);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.strictEqual(r.stderr, "");
    });

    it("names the missing packages and the exact command, exit 1, in report mode", () => {
        const r = run([], { SYSTEM_DEPS_ROOT: path.join(tmp, "empty") });
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, new RegExp(`need the Debian packages: ${PACKAGES}\\n`));
        assert.match(r.stderr, new RegExp(`sudo apt-get install -y ${PACKAGES} +\\(or: npm run test:deps\\)`));
    });

    it("--auto installs the missing packages when allowed without a prompt, else says what to run", () => {
        fs.rmSync(calls, { force: true });
        const r = run(["--auto"], { SYSTEM_DEPS_ROOT: path.join(tmp, "empty"), APT_GET: fakeApt });
        const mayInstall = process.getuid?.() === 0 || spawnSync("sudo", ["-n", "true"]).status === 0;
        if (mayInstall) {
            assert.strictEqual(r.status, 0, r.stderr);
            assert.match(r.stderr, new RegExp(`installing Debian packages for the tests: ${PACKAGES}`));
            assert.deepStrictEqual(fs.readFileSync(calls, "utf8").trim().split("\n"), ["update -qq", `install -y -qq ${PACKAGES}`]);
        } else {
            assert.strictEqual(r.status, 1);
            assert.match(r.stderr, /sudo apt-get install -y/);
            assert.strictEqual(fs.existsSync(calls), false);
        }
    });

    it("--auto with GPUSERVE_NO_INSTALL=1 only reports", () => {
        fs.rmSync(calls, { force: true });
        const r = run(["--auto"], { SYSTEM_DEPS_ROOT: path.join(tmp, "empty"), APT_GET: fakeApt, GPUSERVE_NO_INSTALL: "1" });
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /sudo apt-get install -y awscli chromium/);
        assert.strictEqual(fs.existsSync(calls), false, "nothing installed");
    });

    it("lists every program a test runs by name (batchLoad uploads with curl)", () => {
        const listed = /^DEPS=\(([^)]*)\)/m
            .exec(fs.readFileSync(SCRIPT, "utf8"))![1]
            .split(/\s+/)
            .map((d) => path.basename(d.split(":")[1]));
        // Node, npm and what Debian installs everywhere (sh, bash, apt-get, util-linux's taskset, sudo where it is used).
        const base = ["node", "npm", "sh", "bash", "sudo", "apt-get", "taskset"];
        const run = /\b(?:execFile|execFileSync|spawn|spawnSync)\("([^"]+)"/g;
        const files = fs.readdirSync(path.join(ROOT, "test"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
        const unlisted = files.flatMap((f) =>
            [...fs.readFileSync(path.join(ROOT, "test", f), "utf8").matchAll(run)]
                .map((m) => path.basename(m[1]))
                .filter((b) => !listed.includes(b) && !base.includes(b))
                .map((b) => `${b} (test/${f})`),
        );
        assert.deepStrictEqual(unlisted, [], "add these to DEPS in scripts/system-deps.sh");
        assert.ok(listed.includes("curl"));
    });

    it("without apt-get, lists the paths the tests need", () => {
        const r = run(["--auto"], { SYSTEM_DEPS_ROOT: path.join(tmp, "empty"), APT_GET: path.join(tmp, "no-such-apt") });
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, new RegExp(`no apt-get: install ${PACKAGES} with your package manager so that these exist:\n  /usr/bin/chromium\n`));
    });
});
