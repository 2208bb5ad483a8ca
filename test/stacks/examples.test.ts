import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { readStackFile } from "../../scripts/engine/stackFile";
import { ConfigError } from "../../stacks/errors";
import { checkExampleValues, engineMode, exampleValueIssues } from "../../stacks/examples";
import { rawStackConfig } from "../../stacks/load";
import { PROJECT } from "../../stacks/schema";
import { ROOT } from "../helpers/program";

const prodRaw = () => rawStackConfig(readStackFile(ROOT, "prod", PROJECT).config).raw;

describe("example values in stack files", () => {
    it("finds every example value of the committed prod stack, by key", () => {
        const keys = exampleValueIssues(prodRaw())
            .map((i) => i.key)
            .sort();
        assert.deepStrictEqual(keys, [
            "gpuserve:cluster.adminPrincipalArns[0]",
            "gpuserve:cluster.endpointPublicAccessCidrs[0]",
            "gpuserve:serving.certificateArn",
            "gpuserve:serving.domain",
        ]);
        assert.deepStrictEqual(
            exampleValueIssues({ serving: { domain: "vision.radiology-lab.org", certificateArn: "arn:aws:acm:us-east-1:210987654321:certificate/5e6f" } }),
            [],
        );
    });

    it("a real update refuses them with the key, the value and the fix; preview and the offline plan go on", () => {
        assert.throws(
            () => checkExampleValues(prodRaw(), "update"),
            (e: unknown) =>
                e instanceof ConfigError &&
                /gpuserve:serving\.certificateArn: .*example certificate ARN.*Fix: /.test(e.message) &&
                /gpuserve:serving\.domain: "vision\.example\.org"/.test(e.message),
        );
        const warnings: string[] = [];
        checkExampleValues(prodRaw(), "preview", (m) => warnings.push(m));
        assert.strictEqual(warnings.length, 4);
        assert.match(warnings.join("\n"), /gpuserve:serving\.domain: .*`pulumi up` will refuse it/);
        checkExampleValues(prodRaw(), "mock", (m) => warnings.push(m));
        assert.strictEqual(warnings.length, 4, "the offline plan does not warn");
    });

    it("the tests and the offline plan run under the mock engine (so prod's plan keeps working)", () => {
        assert.strictEqual(engineMode(), "mock");
    });

    it("loadStackConfig under a real engine connection refuses `up` and only warns on preview", function () {
        this.timeout(60_000);
        // A separate process: the runtime's settings are process-global. It points the SDK at
        // an engine address instead of the mocks (nothing is dialled before a resource).
        const script = `
            const pulumi = require("@pulumi/pulumi");
            const { loadStackConfig } = require(${JSON.stringify(path.join(ROOT, "stacks", "load.ts"))});
            for (const preview of [false, true]) {
                pulumi.runtime.resetOptions("${PROJECT}", "prod", -1, "", "127.0.0.1:1", preview, "");
                try { loadStackConfig(); console.log("loaded"); } catch (e) { console.log(e.name + ": " + e.message); }
            }`;
        const { config } = readStackFile(ROOT, "prod", PROJECT);
        const r = spawnSync(process.execPath, ["--import", "tsx", "-e", script], {
            cwd: ROOT,
            encoding: "utf8",
            env: { ...process.env, PULUMI_CONFIG: JSON.stringify(config) },
        });
        const [up, preview] = r.stdout.split(/\n(?=loaded|ConfigError)/);
        assert.match(up, /^ConfigError: Invalid stack config \(4 problems\)/, r.stdout + r.stderr);
        assert.match(up, /gpuserve:cluster\.adminPrincipalArns\[0\]: .*123456789012.*Fix: /);
        assert.match(preview, /^loaded/, r.stdout + r.stderr);
        assert.match(r.stdout + r.stderr, /gpuserve:serving\.domain: .*will refuse it/);
    });
});
