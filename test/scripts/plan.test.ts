import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { validateManifests } from "../helpers/k8sSchema";
import { ROOT } from "../helpers/program";
import { planStack, summarize } from "../../scripts/engine/plan";
import { listStacks } from "../../scripts/engine/stackFile";
import { SECRET_KEYS } from "../../stacks/schema";
import { OFFLINE_SECRET_PLACEHOLDERS } from "../../stacks/secrets";
import { tempDir } from "../helpers/tmp";

/** One CLI plan. How long it takes is a benchmark figure (npm run bench -- plan), not a test. */
function plan(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "plan.ts"), ...args], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 90_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function readPlan(dir: string) {
    const manifests = fs
        .readdirSync(path.join(dir, "manifests"))
        .map((f) => ({ file: f, doc: parse(fs.readFileSync(path.join(dir, "manifests", f), "utf8")) }));
    return {
        resources: JSON.parse(fs.readFileSync(path.join(dir, "resources.json"), "utf8")) as any[],
        cost: JSON.parse(fs.readFileSync(path.join(dir, "cost.json"), "utf8")),
        manifests,
    };
}

describe("npm run plan (end to end)", () => {
    const tmp = tempDir("gpuserve-plan-");
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    for (const stack of ["dev", "prod"]) {
        it(`plans the ${stack} stack and writes manifests, resources.json and cost.json`, async () => {
            const out = path.join(tmp, stack);
            const r = plan(["--stack", stack, "--out", out]);
            assert.strictEqual(r.status, 0, r.stderr);
            assert.match(r.stdout, new RegExp(`Offline plan of stack '${stack}'`));
            const { resources, cost, manifests } = readPlan(out);

            for (const r of resources) {
                assert.deepStrictEqual(Object.keys(r).sort(), ["inputs", "name", "options", "parent", "type"]);
            }
            const cluster = resources.find((r) => r.type === "eks:index:Cluster");
            assert.deepStrictEqual(cluster.inputs.upgradePolicy, { supportType: "STANDARD" });
            assert.strictEqual(cluster.inputs.skipDefaultNodeGroup, true);
            assert.match(cluster.inputs.encryptionConfigKeyArn, /^arn:aws:kms:/);

            const gpuGroups = resources.filter((r) => r.type === "aws:eks/nodeGroup:NodeGroup" && r.inputs.amiType === "BOTTLEROCKET_x86_64_NVIDIA");
            assert.strictEqual(gpuGroups.length, stack === "dev" ? 1 : 2);
            const tags = resources.filter((r) => r.type === "aws:autoscaling/tag:Tag");
            for (const g of gpuGroups) {
                assert.strictEqual(g.inputs.scalingConfig.minSize, 0);
                assert.strictEqual(g.inputs.scalingConfig.desiredSize, 0, "a new GPU group starts at zero (no live size offline)");
                assert.deepStrictEqual(g.inputs.taints, [{ effect: "NO_SCHEDULE", key: "nvidia.com/gpu", value: "true" }]);
                const mine = tags.filter((t) => t.parent === g.parent).map((t) => t.inputs.tag.key);
                for (const label of Object.keys(g.inputs.labels))
                    assert.ok(mine.includes(`k8s.io/cluster-autoscaler/node-template/label/${label}`), `${g.name}: no ASG tag for ${label}`);
                assert.ok(mine.includes("k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"));
            }

            assert.ok(cost.floorUsdPerMonth > 0 && cost.ceilingUsdPerMonth > cost.floorUsdPerMonth, JSON.stringify(cost));
            // No float noise and no citation of notes outside this repository.
            const costText = fs.readFileSync(path.join(out, "cost.json"), "utf8");
            assert.deepStrictEqual(costText.match(/-?\d+\.\d{7,}/g), null);
            assert.doesNotMatch(costText, /facts\.md|shared\//);
            // The summary: each worker pool's figures in words, lines of readable length.
            for (const label of [
                "time to answer (queue + service), P95:",
                "time to answer (queue + service), P99:",
                "refused per month (429/503):",
                "cold starts per month:",
            ]) {
                assert.strictEqual(
                    r.stdout.split("\n").filter((l) => l.includes(label)).length,
                    cost.expected.perPool.flatMap((p: any) => p.workerPools).length,
                    label,
                );
            }
            for (const l of r.stdout.split("\n").filter((x) => !x.startsWith("  warning:") && !x.startsWith("  note:")))
                assert.ok(l.length <= 200, `long summary line: ${l}`);
            // The floor's parts, each with its monthly amount, adding up to the floor; the gateway's hold limit.
            const floorLines = r.stdout.split("\n").filter((l) => /^ {4}floor = | {10}\+ /.test(l));
            assert.ok(floorLines.length > 0 && floorLines.every((l) => l.length <= 120), floorLines.join("\n"));
            const amounts = floorLines
                .join(" ")
                .match(/\$[\d,]+\.\d\d/g)!
                .map((a) => Number(a.slice(1).replace(/,/g, "")));
            assert.strictEqual(amounts.length, cost.floor.length, floorLines.join("\n"));
            assert.ok(Math.abs(amounts.reduce((a, b) => a + b, 0) - cost.floorUsdPerMonth) < 0.01 * cost.floor.length, floorLines.join("\n"));
            assert.ok(floorLines[0].startsWith(`    floor = system nodes ${cost.systemNodes.instanceType} x${cost.systemNodes.nodes} $`), floorLines[0]);
            // How the system nodes were sized, and every cheaper floor not taken with both prices (cost.json says why).
            assert.ok(
                r.stdout.includes(
                    `    system nodes: ${cost.systemNodes.nodes} x ${cost.systemNodes.instanceType}, the cheapest that holds what runs on them (${cost.systemNodes.requests.cpu} CPU,`,
                ),
                r.stdout,
            );
            const notTaken = cost.floorOptions.filter((o: any) => !o.taken);
            assert.ok(notTaken.length >= 2, JSON.stringify(cost.floorOptions));
            const usd = (n: number) => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
            for (const o of notTaken)
                assert.ok(r.stdout.includes(`\n      ${o.option}: ${usd(o.usdPerMonth)} instead of ${usd(o.insteadUsdPerMonth)}\n`), o.option);
            assert.ok(
                r.stdout.includes(
                    `  gateway: holds a request up to ${cost.expected.gatewayLimits.maxWaitSeconds} s for a worker to start (serving.gateway.maxWaitSeconds)`,
                ),
                r.stdout,
            );
            // README.md's cost table shows what this plan computes.
            const dollars = (n: number) => `$${Math.round(n).toLocaleString("en-US")}`;
            const range = (field: string) => {
                const all: number[] = cost.expected.perPool.flatMap((p: any) => p.workerPools.map((w: any) => Math.round(w[field])));
                return Math.min(...all) === Math.max(...all) ? `${all[0]}` : `${Math.min(...all)}-${Math.max(...all)}`;
            };
            const want = `| ${dollars(cost.floorUsdPerMonth)} | ${dollars(cost.expected.usdPerMonth)} | ${range("coldStartSeconds")} / ${range("coldStartPessimisticSeconds")} s |`;
            const readmeRow = fs
                .readFileSync(path.join(ROOT, "README.md"), "utf8")
                .split("\n")
                .find((l) => l.startsWith(`| ${stack} (`));
            assert.ok(
                readmeRow?.endsWith(want),
                `README.md's cost table is out of date for ${stack}: the plan gives floor, expected month and first answer ${want}; README has ${readmeRow}`,
            );
            // The committed stacks follow the plan's own advice: no pool with GPUs its workers can never use.
            assert.doesNotMatch(r.stdout, /GPUs per node are always idle/);
            // Program warnings are part of the summary, not "warning: [runtime]" lines on stderr.
            assert.doesNotMatch(r.stderr, /warning: \[runtime\]/);
            assert.match(
                r.stdout,
                /\n {2}warning: gpuserve:gatewayApiKeys is not set: the gateway will refuse every \/v1 request\. Fix: pulumi config set --secret gatewayApiKeys "\[\{\\"team\\":\\"platform\\",/,
            );
            assert.ok(manifests.length > 0);
            for (const m of manifests) {
                const meta = m.doc.metadata;
                assert.strictEqual(m.file, `${m.doc.kind.toLowerCase()}-${meta.namespace ?? "_cluster"}-${meta.name}.yaml`);
            }
            await validateManifests(manifests.map((m) => m.doc));
        });
    }

    it("prices the dev floor from its parts: control plane, NAT, ALB, two system nodes sized from their requests and the cold-start caches", () => {
        const { cost } = readPlan(path.join(tmp, "dev"));
        // Caches at rest: S3 (4.3 GiB of Qwen3-VL-2B weights + 0.5 GB compile cache) at $0.023/GB-month, the ~35 GB image snapshot at $0.05/GB-month.
        const caches = (4.3 * 1.073741824 + 0.5) * 0.023 + 35 * 0.05;
        // 730 h x (0.10 EKS + 0.045 NAT + 0.0225 ALB + 2 x 0.085 c6i.large): the system pods' requests fit two c6i.large
        // (test/stacks/systemNodes.test.ts has the arithmetic); before issue 25 the floor had 2 x 0.1008 m7i.large.
        assert.strictEqual(cost.floorUsdPerMonth, Math.round((730 * (0.1 + 0.045 + 0.0225 + 2 * 0.085) + caches) * 100) / 100);
        assert.deepStrictEqual([cost.systemNodes.instanceType, cost.systemNodes.nodes], ["c6i.large", 2]);
        assert.ok(
            cost.floor.some((l: any) => /^S3 weights/.test(l.item)) && cost.floor.some((l: any) => /^EBS snapshot/.test(l.item)),
            JSON.stringify(cost.floor),
        );
        // ceiling: 4 system nodes (the derived maxSize) + 2 g5.xlarge spot nodes at 60 % off, each with its 400 MiB/s volume ($0.04 per MiB/s-month over 125, not discounted)
        assert.strictEqual(
            cost.ceilingUsdPerMonth,
            Math.round((730 * (0.1 + 0.045 + 0.0225 + 4 * 0.085 + 2 * 1.006 * 0.4) + 2 * 275 * 0.04 + caches) * 100) / 100,
        );
    });

    it("exits 1 with the config error on stderr and writes nothing for a bad config", () => {
        const dir = fs.mkdtempSync(path.join(tmp, "bad-"));
        const dev = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
        fs.writeFileSync(path.join(dir, "Pulumi.bad.yaml"), dev.replace("pool: a10g", "pool: a100"));
        const out = path.join(dir, "out");
        const r = plan(["--stack", "bad", "--dir", dir, "--out", out]);
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /gpuserve:models\[0\]\.pool: GPU pool 'a100' does not exist/);
        assert.strictEqual(fs.existsSync(out), false);
    });

    it("plans a stack with every secret key encrypted, from the CLI, and names the placeholders", function () {
        this.timeout(90_000); // one CLI plan; seconds alone, longer on a loaded machine
        const dir = fs.mkdtempSync(path.join(tmp, "secure-"));
        const dev = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
        const secure = SECRET_KEYS.map((k) => `  gpuserve:${k}:\n    secure: v1:c2VjcmV0:AAAA${k}\n`).join("");
        fs.writeFileSync(path.join(dir, "Pulumi.sec.yaml"), `${dev}${secure}`);
        const r = plan(["--stack", "sec", "--dir", dir, "--out", path.join(dir, "out")]);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
        assert.match(r.stdout, new RegExp(`${SECRET_KEYS.map((k) => `gpuserve:${k}`).join(", ")} are encrypted \\(secure:\\) and cannot be decrypted offline`));
        assert.ok(!fs.readFileSync(path.join(dir, "out", "resources.json"), "utf8").includes("v1:c2VjcmV0"));
    });

    for (const secretKey of SECRET_KEYS) {
        it(`plans offline with only gpuserve:${secretKey} encrypted, its placeholder kept secret`, async () => {
            const dir = fs.mkdtempSync(path.join(tmp, `secure-${secretKey}-`));
            const dev = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
            fs.writeFileSync(path.join(dir, "Pulumi.one.yaml"), `${dev}  gpuserve:${secretKey}:\n    secure: v1:c2VjcmV0:AAAA\n`);
            const result = await planStack(dir, "one");
            assert.deepStrictEqual(result.placeholders, [`gpuserve:${secretKey}`]);
            assert.match(
                summarize(result, "out"),
                new RegExp(`gpuserve:${secretKey} is encrypted \\(secure:\\) and cannot be decrypted offline; a placeholder`),
            );
            const json = JSON.stringify(result.resources);
            assert.ok(!json.includes(OFFLINE_SECRET_PLACEHOLDERS[secretKey]), "the placeholder stays secret");
            // The secret reaches the resource that carries it (redacted): the HF token Secret, the gateway config.
            const carrier =
                secretKey === "hfToken"
                    ? result.resources.find((x) => x.type === "kubernetes:core/v1:Secret" && /hf-token/.test(x.name))
                    : result.resources.find((x) => x.type === "kubernetes:core/v1:Secret" && /gateway/.test(x.name));
            assert.ok(carrier, `no resource carries ${secretKey}`);
            assert.match(JSON.stringify(carrier.inputs), /\[secret\]/);
        });
    }

    it("names an unknown stack and lists the stacks that exist", () => {
        const r = plan(["--stack", "nope", "--out", path.join(tmp, "nope")]);
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, new RegExp(`no stack file Pulumi\\.nope\\.yaml; stacks here: ${listStacks(ROOT).join(", ")}\\b`));
        assert.match(r.stderr, /stacks here: .*\bdev\b.*\bprod\b/);
    });
});
