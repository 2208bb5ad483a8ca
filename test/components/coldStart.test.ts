/**
 * The cold-start mechanisms the plan deploys (weights bucket, sync Job, read-only role,
 * streamer load format, image cache, compile cache) and the check that what cost.json
 * claims per worker pool (capacity/sim/coldStart.ts mechanismsFor) is what the manifests
 * and resources really do: switching a mechanism off in the code while the config still
 * claims it fails here.
 */
import * as assert from "assert";
import { ColdStartMechanisms, mechanismsFor } from "../../capacity/sim/coldStart";
import { parseStackConfig } from "../../stacks/validate";
import { StackRun, clone, runStack, stackConfig } from "../helpers/program";

const DEPLOY = "kubernetes:apps/v1:Deployment";
const inputs = (r: { inputs: unknown }) => r.inputs as any;

/** The mechanisms a worker pool really gets, read back from what the program registered. */
function deployed(run: StackRun, pool: string, model: string): ColdStartMechanisms {
    const ng = inputs(run.get("aws:eks/nodeGroup:NodeGroup", `gpuserve-test-gpu-${pool}-ng`));
    const lt = inputs(run.get("aws:ec2/launchTemplate:LaunchTemplate", `gpuserve-test-gpu-${pool}-lt`));
    const spec = inputs(run.get(DEPLOY, `gpuserve-test-${model}-deployment`)).spec.template.spec;
    const args: string[] = spec.containers[0].args;
    const modelArg = args[0]; // vllm serve's positional model
    const init: string[] = (spec.initContainers ?? []).map((c: any) => c.name);
    const data = lt.blockDeviceMappings.find((b: any) => b.deviceName === "/dev/xvdb");
    const cache = spec.volumes.find((v: any) => v.name === "cache");
    return {
        ami: ng.amiType === "BOTTLEROCKET_x86_64_NVIDIA" ? "bottlerocket" : "al2023",
        imageCache: typeof data?.ebs?.snapshotId === "string" && data.ebs.snapshotId.startsWith("snap-"),
        weightsFromS3: modelArg.startsWith("s3://") && args[args.indexOf("--load-format") + 1] === "runai_streamer",
        compileCache: init.includes("compile-cache-restore") && init.includes("compile-cache-save") ? "s3" : cache.persistentVolumeClaim ? "shared-volume" : "none",
    };
}

function claimed(raw: Record<string, any>, model: string): ColdStartMechanisms {
    const { "aws:region": region, ...rest } = clone(raw);
    const cfg = parseStackConfig({ ...rest, region, environment: "test" });
    const m = cfg.models.find((x) => x.name === model)!;
    return mechanismsFor(cfg, cfg.gpuPools.find((p) => p.name === m.pool)!, m);
}

describe("cold start: what the plan deploys", () => {
    let dev: StackRun;
    let off: StackRun;
    const offConfig = () => {
        const cfg = clone(stackConfig("dev"));
        cfg.gpuPools = cfg.gpuPools.map((p: Record<string, unknown>) => ({ ...p, ami: "al2023" }));
        cfg.coldStart = { weights: "huggingface", imageCache: "none", compileCache: "none" };
        return cfg;
    };
    before(async () => {
        dev = await runStack(stackConfig("dev"));
        off = await runStack(offConfig());
    });

    it("deploys exactly the mechanisms cost.json claims, with every mechanism on (dev) and every one off", () => {
        assert.deepStrictEqual(deployed(dev, "a10g", "qwen3-vl-2b"), claimed(stackConfig("dev"), "qwen3-vl-2b"));
        assert.deepStrictEqual(deployed(dev, "a10g", "qwen3-vl-2b"), { ami: "bottlerocket", imageCache: true, weightsFromS3: true, compileCache: "s3" });
        assert.deepStrictEqual(deployed(off, "a10g", "qwen3-vl-2b"), claimed(offConfig(), "qwen3-vl-2b"));
        assert.deepStrictEqual(deployed(off, "a10g", "qwen3-vl-2b"), { ami: "al2023", imageCache: false, weightsFromS3: false, compileCache: "none" });
    });

    it("creates a private, encrypted, TLS-only weights bucket that only the sync role may write models into", () => {
        const bucket = inputs(dev.get("aws:s3/bucket:Bucket", "gpuserve-test-weights-store-bucket"));
        assert.match(bucket.bucketPrefix, /^gpuserve-test-weights-$/);
        const pab = inputs(dev.find("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0]);
        assert.deepStrictEqual([pab.blockPublicAcls, pab.blockPublicPolicy, pab.ignorePublicAcls, pab.restrictPublicBuckets], [true, true, true, true]);
        const sse = inputs(dev.find("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[0]);
        assert.strictEqual(sse.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
        assert.strictEqual(inputs(dev.find("aws:s3/bucketOwnershipControls:BucketOwnershipControls")[0]).rule.objectOwnership, "BucketOwnerEnforced");
        const policy = JSON.parse(inputs(dev.find("aws:s3/bucketPolicy:BucketPolicy")[0]).policy);
        const bySid = Object.fromEntries(policy.Statement.map((s: any) => [s.Sid, s]));
        assert.deepStrictEqual(bySid.DenyInsecureTransport.Condition, { Bool: { "aws:SecureTransport": "false" } });
        assert.strictEqual(bySid.DenyInsecureTransport.Effect, "Deny");
        assert.match(bySid.OnlyTheSyncJobWritesModels.Condition.ArnNotEquals["aws:PrincipalArn"], /^arn:aws:iam::123456789012:role\/gpuserve-test-weights-sync-role/);
        assert.strictEqual(off.find("aws:s3/bucket:Bucket").length, 0, "no bucket when neither weights nor compile caches use S3");
    });

    it("copies each model's pinned revision once, from a Job on the system nodes with the HF token, behind a completion marker", () => {
        const job = inputs(dev.find("kubernetes:batch/v1:Job")[0]);
        assert.strictEqual(job.metadata.name, "weights-sync-qwen3-vl-2b-89644892");
        const pod = job.spec.template.spec;
        assert.deepStrictEqual(pod.nodeSelector, { "gpuserve.io/role": "system" });
        assert.strictEqual(pod.serviceAccountName, "weights-sync");
        assert.deepStrictEqual(pod.initContainers.map((c: any) => c.name), ["check", "download"]);
        const env = Object.fromEntries(pod.initContainers[1].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
        assert.strictEqual(env.REVISION, "89644892e4d85e24eaac8bacfd4f463576704203");
        assert.strictEqual(env.PREFIX, "models/Qwen/Qwen3-VL-2B-Instruct/89644892e4d85e24eaac8bacfd4f463576704203");
        // The check writes /work/done when the marker exists; the download and upload then do nothing.
        assert.match(pod.initContainers[0].command[2], /head-object .*\.gpuserve-complete.*touch \/work\/done/s);
        assert.match(pod.initContainers[1].command[2], /if os\.path\.exists\("\/work\/done"\): sys\.exit\(0\)/);
        assert.match(pod.containers[0].command[2], /\[ -e \/work\/done \] && exit 0[\s\S]*aws s3 sync[\s\S]*\.gpuserve-complete/);
        assert.strictEqual(off.find("kubernetes:batch/v1:Job").length, 0);
    });

    it("gives each worker pool a role that reads only its model's revision prefix and writes only its own compile cache", () => {
        const doc = JSON.parse(inputs(dev.get("aws:iam/rolePolicy:RolePolicy", "gpuserve-test-qwen3-vl-2b-s3-inline")).policy);
        const bySid = Object.fromEntries(doc.Statement.map((s: any) => [s.Sid, s]));
        const bucketArn = /^arn:aws:s3:::gpuserve-test-weights-[0-9a-f]+/.exec(bySid.ReadPinnedWeights.Resource)![0];
        assert.deepStrictEqual(bySid.ReadPinnedWeights, { Sid: "ReadPinnedWeights", Effect: "Allow", Action: "s3:GetObject", Resource: `${bucketArn}/models/Qwen/Qwen3-VL-2B-Instruct/89644892e4d85e24eaac8bacfd4f463576704203/*` });
        assert.deepStrictEqual(bySid.ListPinnedWeights.Condition.StringLike["s3:prefix"], ["models/Qwen/Qwen3-VL-2B-Instruct/89644892e4d85e24eaac8bacfd4f463576704203", "models/Qwen/Qwen3-VL-2B-Instruct/89644892e4d85e24eaac8bacfd4f463576704203/*"]);
        for (const s of doc.Statement) {
            const actions = [s.Action].flat();
            if (actions.includes("s3:PutObject")) assert.match(s.Resource, /\/compile-cache\/qwen3-vl-2b\/[0-9a-f]{16}\/\*$/, "writes only its compile cache");
        }
        const assoc = dev.find("aws:eks/podIdentityAssociation:PodIdentityAssociation").map((a) => inputs(a)).find((a) => a.serviceAccount === "worker-qwen3-vl-2b");
        assert.strictEqual(assoc.namespace, "serving");
        const spec = inputs(dev.get(DEPLOY, "gpuserve-test-qwen3-vl-2b-deployment")).spec.template.spec;
        assert.strictEqual(spec.serviceAccountName, "worker-qwen3-vl-2b");
        const env = Object.fromEntries(spec.containers[0].env.map((e: any) => [e.name, e.value]));
        assert.strictEqual(env.AWS_REGION, "us-east-1");
        // Streamed weights never touch the disk: the cache volume holds config, tokenizer and compile caches only.
        assert.strictEqual(spec.volumes.find((v: any) => v.name === "cache").emptyDir.sizeLimit, "20Gi");
    });

    it("opens egress to the EKS Pod Identity agent for workers and the sync Job only", () => {
        const np = inputs(dev.get("kubernetes:networking.k8s.io/v1:NetworkPolicy", "gpuserve-test-weights-allow-pod-identity-agent")).spec;
        assert.deepStrictEqual(np.egress, [{ to: [{ ipBlock: { cidr: "169.254.170.23/32" } }], ports: [{ protocol: "TCP", port: 80 }] }]);
        assert.deepStrictEqual(np.podSelector.matchExpressions[0].values, ["worker", "weights-sync"]);
    });

    it("pins the Hub download to the revision when weights do not come from S3", () => {
        const args: string[] = inputs(off.get(DEPLOY, "gpuserve-test-qwen3-vl-2b-deployment")).spec.template.spec.containers[0].args;
        assert.strictEqual(args[0], "Qwen/Qwen3-VL-2B-Instruct");
        assert.strictEqual(args[args.indexOf("--revision") + 1], "89644892e4d85e24eaac8bacfd4f463576704203");
        assert.strictEqual(args[args.indexOf("--tokenizer-revision") + 1], "89644892e4d85e24eaac8bacfd4f463576704203");
        assert.ok(!args.includes("--load-format"));
    });

    it("sets Cluster Autoscaler flags that bound a failed GPU launch at 5 minutes instead of 15", () => {
        const release = dev.find("kubernetes:helm.sh/v3:Release").find((r) => inputs(r).chart === "cluster-autoscaler")!;
        const a = inputs(release).values.extraArgs;
        assert.deepStrictEqual([a["max-node-provision-time"], a["scan-interval"], a["scale-down-delay-after-add"], a["scale-down-unneeded-time"]], ["5m", "10s", "5m", "5m"]);
    });
});
