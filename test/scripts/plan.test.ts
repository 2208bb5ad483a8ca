import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { validateManifests } from "../helpers/k8sSchema";
import { ROOT } from "../helpers/program";

function plan(args: string[]): { status: number | null; stdout: string; stderr: string; seconds: number } {
    const start = Date.now();
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "plan.ts"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - start) / 1000 };
}

function readPlan(dir: string) {
    const manifests = fs.readdirSync(path.join(dir, "manifests")).map((f) => ({ file: f, doc: parse(fs.readFileSync(path.join(dir, "manifests", f), "utf8")) }));
    return {
        resources: JSON.parse(fs.readFileSync(path.join(dir, "resources.json"), "utf8")) as any[],
        cost: JSON.parse(fs.readFileSync(path.join(dir, "cost.json"), "utf8")),
        manifests,
    };
}

describe("npm run plan (end to end)", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gpuserve-plan-"));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    for (const stack of ["dev", "prod"]) {
        it(`plans the ${stack} stack in under 15 s and writes manifests, resources.json and cost.json`, async () => {
            const out = path.join(tmp, stack);
            const r = plan(["--stack", stack, "--out", out]);
            assert.strictEqual(r.status, 0, r.stderr);
            assert.ok(r.seconds < 15, `took ${r.seconds} s`);
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
                for (const label of Object.keys(g.inputs.labels)) assert.ok(mine.includes(`k8s.io/cluster-autoscaler/node-template/label/${label}`), `${g.name}: no ASG tag for ${label}`);
                assert.ok(mine.includes("k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"));
            }

            assert.ok(cost.floorUsdPerMonth > 0 && cost.ceilingUsdPerMonth > cost.floorUsdPerMonth, JSON.stringify(cost));
            assert.ok(manifests.length > 0);
            for (const m of manifests) {
                const meta = m.doc.metadata;
                assert.strictEqual(m.file, `${m.doc.kind.toLowerCase()}-${meta.namespace ?? "_cluster"}-${meta.name}.yaml`);
            }
            await validateManifests(manifests.map((m) => m.doc));
        });
    }

    it("prices the dev floor from its parts: control plane, NAT, ALB, two system nodes and the cold-start caches", () => {
        const { cost } = readPlan(path.join(tmp, "dev"));
        // Caches at rest: S3 (4.3 GiB of Qwen3-VL-2B weights + 0.5 GB compile cache) at $0.023/GB-month, the ~35 GB image snapshot at $0.05/GB-month.
        const caches = (4.3 * 1.073741824 + 0.5) * 0.023 + 35 * 0.05;
        // 730 h x (0.10 EKS + 0.045 NAT + 0.0225 ALB + 2 x 0.1008 m7i.large)
        assert.strictEqual(cost.floorUsdPerMonth, Math.round((730 * (0.1 + 0.045 + 0.0225 + 2 * 0.1008) + caches) * 100) / 100);
        assert.ok(cost.floor.some((l: any) => /^S3 weights/.test(l.item)) && cost.floor.some((l: any) => /^EBS snapshot/.test(l.item)), JSON.stringify(cost.floor));
        // ceiling: 3 system nodes + 2 g5.xlarge spot nodes at 60 % off
        assert.strictEqual(cost.ceilingUsdPerMonth, Math.round((730 * (0.1 + 0.045 + 0.0225 + 3 * 0.1008 + 2 * 1.006 * 0.4) + caches) * 100) / 100);
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

    it("substitutes a secret placeholder for encrypted values and says so", () => {
        const dir = fs.mkdtempSync(path.join(tmp, "secure-"));
        const dev = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
        fs.writeFileSync(path.join(dir, "Pulumi.sec.yaml"), `${dev}  gpuserve:hfToken:\n    secure: v1:c2VjcmV0:AAAA\n`);
        const r = plan(["--stack", "sec", "--dir", dir, "--out", path.join(dir, "out")]);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stdout, /gpuserve:hfToken is encrypted \(secure:\) and cannot be decrypted offline/);
        assert.ok(!fs.readFileSync(path.join(dir, "out", "resources.json"), "utf8").includes("v1:c2VjcmV0"));
    });

    it("names an unknown stack and lists the known ones", () => {
        const r = plan(["--stack", "nope", "--out", path.join(tmp, "nope")]);
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /no stack file Pulumi\.nope\.yaml; stacks here: dev, prod/);
    });
});
