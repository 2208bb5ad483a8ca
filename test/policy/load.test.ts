/**
 * The policy pack loads the way the Pulumi CLI loads it, not through tsx: the engine starts
 * `pulumi-analyzer-policy <engine> .` with the pack directory as working directory
 * (NewPolicyAnalyzer in sdk/go/common/resource/plugin/analyzer_plugin.go), which runs
 * `@pulumi/pulumi/cmd/run-policy-pack`. Its run.js (3.270.0) registers ts-node with
 * `module`/`moduleResolution: nodenext` overridden by the pack's own tsconfig compilerOptions,
 * type-checks, and the PolicyPack prints its gRPC port. We run that same script, from policy/,
 * and ask the pack for its policies over gRPC.
 */
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { POLICIES } from "../../policy/rules";
import { ROOT } from "../helpers/program";
import { tempDir } from "../helpers/tmp";

const POLICY_DIR = path.join(ROOT, "policy");

/** The pack's own install when present (what the CLI uses), else the project's copy of the same versions. */
function moduleDir(name: string): string {
    for (const base of [path.join(POLICY_DIR, "node_modules"), path.join(ROOT, "node_modules")]) {
        if (fs.existsSync(path.join(base, name, "package.json"))) return path.join(base, name);
    }
    throw new Error(`${name} is not installed: run npm ci (and (cd policy && npm ci))`);
}

interface Loaded {
    port?: number;
    stderr: string;
    code: number | null;
}

/** Starts run-policy-pack in `dir` like the engine does; resolves with the port it serves on, or its exit. */
function startPack(dir: string): Promise<Loaded & { child: ChildProcess }> {
    const runner = path.join(moduleDir("@pulumi/pulumi"), "cmd", "run-policy-pack", "index.js");
    // 127.0.0.1:1 stands for the engine address: the pack does not dial it before serving.
    const child = spawn(process.execPath, [runner, "127.0.0.1:1", "."], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    return new Promise((resolve) => {
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => {
            stdout += d;
            const m = /^(\d+)\s*$/m.exec(stdout);
            if (m) resolve({ child, port: Number(m[1]), stderr, code: null });
        });
        child.stderr.on("data", (d) => (stderr += d));
        child.on("exit", (code) => resolve({ child, stderr, code }));
    });
}

async function policyNames(port: number): Promise<string[]> {
    // The gRPC stubs and runtime the SDK itself uses.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS stubs resolved from the SDK's own directory
    const from = (m: string) => require(require.resolve(m, { paths: [moduleDir("@pulumi/pulumi")] }));
    const grpc = from("@grpc/grpc-js");
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the SDK's generated CommonJS stub, by path
    const { AnalyzerClient } = require(path.join(moduleDir("@pulumi/pulumi"), "proto", "analyzer_grpc_pb.js"));
    const { Empty } = from("google-protobuf/google/protobuf/empty_pb");
    const client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
        const info: any = await new Promise((res, rej) => client.getAnalyzerInfo(new Empty(), (e: Error | null, r: unknown) => (e ? rej(e) : res(r))));
        return info.getPoliciesList().map((p: any) => p.getName());
    } finally {
        client.close();
    }
}

describe("policy pack loading (Pulumi's run-policy-pack)", function () {
    this.timeout(90_000);
    const children: ChildProcess[] = [];
    after(() => children.forEach((c) => c.kill()));

    it("uses the versions policy/package.json pins", () => {
        const pins = JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "package.json"), "utf8"));
        const deps = { ...pins.dependencies, ...pins.devDependencies };
        for (const name of ["@pulumi/pulumi", "@pulumi/policy"]) {
            const installed = JSON.parse(fs.readFileSync(path.join(moduleDir(name), "package.json"), "utf8")).version.replace(/^v/, "");
            assert.strictEqual(installed, deps[name], `${name}: policy/package.json pins ${deps[name]}, ${installed} is installed`);
        }
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the installed copy's package.json, by path
        assert.match(require(path.join(moduleDir("typescript"), "package.json")).version, /^5\.9\./);
    });

    it("starts from policy/, type-checks under the loader's compiler options and serves every rule", async () => {
        const r = await startPack(POLICY_DIR);
        children.push(r.child);
        assert.ok(r.port, `run-policy-pack exited ${r.code} without serving:\n${r.stderr}`);
        assert.deepStrictEqual((await policyNames(r.port)).sort(), POLICIES.map((p) => p.name).sort());
    });

    it("the same loader rejects a pack whose tsconfig sets module commonjs (TS5110, the old config)", async () => {
        const dir = tempDir("policy-old-");
        try {
            for (const f of fs.readdirSync(POLICY_DIR)) if (/\.(ts|json|yaml)$/.test(f)) fs.copyFileSync(path.join(POLICY_DIR, f), path.join(dir, f));
            fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
            const tsconfig = JSON.parse(fs.readFileSync(path.join(dir, "tsconfig.json"), "utf8"));
            tsconfig.compilerOptions = { ...tsconfig.compilerOptions, module: "commonjs" };
            delete tsconfig.compilerOptions.moduleResolution;
            fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
            const r = await startPack(dir);
            children.push(r.child);
            assert.strictEqual(r.port, undefined);
            assert.match(r.stderr, /TS5110/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
