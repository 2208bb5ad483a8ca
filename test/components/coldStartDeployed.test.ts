/**
 * The cold-start mechanisms the plan deploys (weights bucket, sync Job, read-only role,
 * streamer load format, image cache, compile cache) and the check that what cost.json
 * claims per worker pool (stacks/model/coldStartPhases.ts mechanismsFor) is what the manifests
 * and resources really do: switching a mechanism off in the code while the config still
 * claims it fails here.
 */
import * as assert from "assert";
import { ColdStartMechanisms, mechanismsFor } from "../../stacks/model/coldStartPhases";
import { API_CALL_SECONDS, BUILD_TIMEOUT_SECONDS, IMAGE_PATTERN, imageCacheRunbook, runbookApiCalls } from "../../components/cluster/imageCache/runbook";
import { HUB_DOWNLOAD_SCRIPT } from "../../components/serving/weights/hubDownload";
import { parseStackConfig } from "../../stacks/validate";
import { poolNodePrice } from "../../capacity/cost";
import { diskMiBps } from "../../stacks/podStorage";
import { kubeletOnInstanceStore } from "../helpers/userData";
import { INSTANCE_CATALOG } from "../../stacks/catalog/instances";
import { StackRun, clone, prodWithA100, runStack, stackConfig } from "../helpers/program";

const DEPLOY = "kubernetes:apps/v1:Deployment";
const inputs = (r: { inputs: unknown }) => r.inputs as any;

const ASSOC = "aws:ssm/association:Association";
const LOOKUP = "aws:ebs/getSnapshotIds:getSnapshotIds";

/**
 * The mechanisms a worker pool really gets, read back from what the program registered. The image cache
 * counts only when the data volume is restored from a snapshot AND that snapshot is either configured
 * (no lookup) or looked up after an association that builds it for the worker's image.
 */
function deployed(run: StackRun, pool: string, model: string): ColdStartMechanisms {
    const ng = inputs(run.get("aws:eks/nodeGroup:NodeGroup", `gpuserve-test-gpu-${pool}-ng`));
    const lt = inputs(run.get("aws:ec2/launchTemplate:LaunchTemplate", `gpuserve-test-gpu-${pool}-lt`));
    const spec = inputs(run.get(DEPLOY, `gpuserve-test-${model}-deployment`)).spec.template.spec;
    const args: string[] = spec.containers[0].args;
    const modelArg = args[0]; // vllm serve's positional model
    const init: string[] = (spec.initContainers ?? []).map((c: any) => c.name);
    const data = lt.blockDeviceMappings.find((b: any) => b.deviceName === "/dev/xvdb");
    const cache = spec.volumes.find((v: any) => v.name === "cache");
    const lookup = run.calls.find((c) => c.token === LOOKUP);
    const builds = run.find(ASSOC).filter((a) => inputs(a).parameters?.Image === spec.containers[0].image);
    const snapshotBuilt = !lookup || builds.some((a) => lookup.createdBefore.includes(`${ASSOC}::${a.name}`));
    return {
        ami: ng.amiType === "BOTTLEROCKET_x86_64_NVIDIA" ? "bottlerocket" : "al2023",
        imageCache: typeof data?.ebs?.snapshotId === "string" && data.ebs.snapshotId.startsWith("snap-") && snapshotBuilt,
        // EBS Provisioned Rate for Volume Initialization of the data volume; none: lazy (0).
        imageInitRateMiBps: data?.ebs?.volumeInitializationRate ?? 0,
        weightsFromS3: fromS3Copy(spec, modelArg) && args[args.indexOf("--load-format") + 1] === "runai_streamer",
        // The weights emptyDir is on the instance store exactly when the node binds the kubelet's directory there.
        podStorage: kubeletOnInstanceStore(ng.amiType, lt) ? "instanceStore" : "volume",
        compileCache:
            init.includes("compile-cache-restore") && init.includes("compile-cache-save") ? "s3" : cache.persistentVolumeClaim ? "shared-volume" : "none",
    };
}

/** vLLM's model argument is a directory an init container filled from the model's S3 prefix (weights/fetch.ts). */
function fromS3Copy(spec: any, modelArg: string): boolean {
    const vllm = spec.containers[0];
    const mount = vllm.volumeMounts.find((v: any) => modelArg.startsWith(v.mountPath + "/"));
    const fetch = (spec.initContainers ?? []).find(
        (i: any) => i.command?.join(" ").includes("aws s3 sync") && i.volumeMounts.some((v: any) => v.name === mount?.name),
    );
    return !!fetch && /^models\//.test(fetch.env.find((e: any) => e.name === "PREFIX")?.value ?? "");
}

function claimed(raw: Record<string, any>, model: string): ColdStartMechanisms {
    const { "aws:region": region, ...rest } = clone(raw);
    const cfg = parseStackConfig({ ...rest, region, environment: "test" });
    const m = cfg.models.find((x) => x.name === model)!;
    return mechanismsFor(
        cfg,
        cfg.gpuPools.find((p) => p.name === m.pool)!,
        m,
    );
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
        assert.deepStrictEqual(deployed(dev, "a10g", "qwen3-vl-2b"), {
            ami: "bottlerocket",
            imageCache: true,
            imageInitRateMiBps: 300,
            weightsFromS3: true,
            podStorage: "volume",
            compileCache: "s3",
        });
        assert.deepStrictEqual(deployed(off, "a10g", "qwen3-vl-2b"), claimed(offConfig(), "qwen3-vl-2b"));
        assert.deepStrictEqual(deployed(off, "a10g", "qwen3-vl-2b"), {
            ami: "al2023",
            imageCache: false,
            imageInitRateMiBps: 0,
            weightsFromS3: false,
            podStorage: "volume",
            compileCache: "none",
        });
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
        assert.match(
            bySid.OnlyTheSyncJobWritesModels.Condition.ArnNotEquals["aws:PrincipalArn"],
            /^arn:aws:iam::123456789012:role\/gpuserve-test-weights-sync-role/,
        );
        assert.strictEqual(off.find("aws:s3/bucket:Bucket").length, 0, "no bucket when neither weights nor compile caches use S3");
    });

    it("copies each model's pinned revision once, from a Job on the system nodes with the HF token, behind a completion marker", () => {
        const job = inputs(dev.find("kubernetes:batch/v1:Job")[0]);
        assert.strictEqual(job.metadata.name, "weights-sync-qwen3-vl-2b-89644892");
        const pod = job.spec.template.spec;
        assert.deepStrictEqual(pod.nodeSelector, { "gpuserve.io/role": "system" });
        assert.strictEqual(pod.serviceAccountName, "weights-sync");
        assert.deepStrictEqual(
            pod.initContainers.map((c: any) => c.name),
            ["check", "download"],
        );
        const env = Object.fromEntries(pod.initContainers[1].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
        assert.strictEqual(env.REVISION, "89644892e4d85e24eaac8bacfd4f463576704203");
        assert.strictEqual(env.PREFIX, "models/Qwen/Qwen3-VL-2B-Instruct/89644892e4d85e24eaac8bacfd4f463576704203");
        // The check writes /work/done when the marker exists; the download and upload then do nothing.
        assert.match(pod.initContainers[0].command[2], /head-object .*\.gpuserve-complete.*touch \/work\/done/s);
        // The download itself runs against a Hub on loopback in test/components/hubDownload.test.ts.
        assert.deepStrictEqual(pod.initContainers[1].command, ["python3", "-c", HUB_DOWNLOAD_SCRIPT]);
        assert.ok(!pod.initContainers[1].env.some((e: any) => e.name === "WORK_DIR"), "the script's default /work is the Job's volume");
        assert.match(pod.containers[0].command[2], /\[ -e \/work\/done \] && exit 0[\s\S]*aws s3 sync[\s\S]*\.gpuserve-complete/);
        assert.strictEqual(off.find("kubernetes:batch/v1:Job").length, 0);
    });

    it("gives each worker pool a role that reads only its model's revision prefix and writes only its own compile cache", () => {
        const doc = JSON.parse(inputs(dev.get("aws:iam/rolePolicy:RolePolicy", "gpuserve-test-qwen3-vl-2b-s3-inline")).policy);
        const bySid = Object.fromEntries(doc.Statement.map((s: any) => [s.Sid, s]));
        const bucketArn = /^arn:aws:s3:::gpuserve-test-weights-[0-9a-f]+/.exec(bySid.ReadPinnedWeights.Resource)![0];
        assert.deepStrictEqual(bySid.ReadPinnedWeights, {
            Sid: "ReadPinnedWeights",
            Effect: "Allow",
            Action: "s3:GetObject",
            Resource: `${bucketArn}/models/Qwen/Qwen3-VL-2B-Instruct/89644892e4d85e24eaac8bacfd4f463576704203/*`,
        });
        assert.deepStrictEqual(bySid.ListPinnedWeights.Condition.StringLike["s3:prefix"], [
            "models/Qwen/Qwen3-VL-2B-Instruct/89644892e4d85e24eaac8bacfd4f463576704203",
            "models/Qwen/Qwen3-VL-2B-Instruct/89644892e4d85e24eaac8bacfd4f463576704203/*",
        ]);
        for (const s of doc.Statement) {
            const actions = [s.Action].flat();
            if (actions.includes("s3:PutObject")) assert.match(s.Resource, /\/compile-cache\/qwen3-vl-2b\/[0-9a-f]{16}\/\*$/, "writes only its compile cache");
        }
        const assoc = dev
            .find("aws:eks/podIdentityAssociation:PodIdentityAssociation")
            .map((a) => inputs(a))
            .find((a) => a.serviceAccount === "worker-qwen3-vl-2b");
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
        assert.deepStrictEqual(
            [a["max-node-provision-time"], a["scan-interval"], a["scale-down-delay-after-add"], a["scale-down-unneeded-time"]],
            ["5m", "10s", "5m", "5m"],
        );
    });
});

describe("cold start: the stack builds the image-cache snapshot", () => {
    let dev: StackRun;
    let pinned: StackRun;
    const SNAP = "snap-0123456789abcdef0";
    before(async () => {
        dev = await runStack(stackConfig("dev"));
        const cfg = clone(stackConfig("dev"));
        cfg.coldStart = { ...cfg.coldStart, imageCacheSnapshotId: SNAP };
        pinned = await runStack(cfg);
    });
    const runbook = () => JSON.parse(inputs(dev.find("aws:ssm/document:Document")[0]).content);
    const policy = (run: StackRun) => JSON.parse(inputs(run.get("aws:iam/rolePolicy:RolePolicy", "gpuserve-test-image-cache-automation")).policy);

    it("runs the build runbook with the pinned image before the node groups look the snapshot up", () => {
        const doc = inputs(dev.get("aws:ssm/document:Document", "gpuserve-test-image-cache-runbook"));
        assert.strictEqual(doc.documentType, "Automation");
        const assoc = dev.get(ASSOC, "gpuserve-test-image-cache-build");
        const a = inputs(assoc);
        const image = inputs(dev.get(DEPLOY, "gpuserve-test-qwen3-vl-2b-deployment")).spec.template.spec.containers[0].image;
        // The name the build stores is the name the kubelet asks containerd for: fully qualified, as in the pod spec.
        assert.strictEqual(image, "docker.io/vllm/vllm-openai:v0.33.0");
        assert.strictEqual(a.parameters.Image, image);
        assert.ok(new RegExp(IMAGE_PATTERN).test(a.parameters.Image), "SSM admits the Image parameter");
        assert.strictEqual(a.parameters.ClusterName, "gpuserve-test");
        assert.match(a.parameters.AutomationAssumeRole, /^arn:aws:iam::123456789012:role\/gpuserve-test-image-cache-automation/);
        assert.ok(a.waitForSuccessTimeoutSeconds >= 3600, "the deploy waits for the snapshot");
        assert.strictEqual(a.targets, undefined, "an Automation association with no targets runs once");
        // The provider waits for Success on create only: a new image must be a new association.
        assert.deepStrictEqual(assoc.options.replaceOnChanges, ["parameters"]);
        assert.ok(assoc.options.dependsOn?.includes("aws:iam/rolePolicy:RolePolicy::gpuserve-test-image-cache-automation"), "runs once its role may act");
        const lookups = dev.calls.filter((c) => c.token === LOOKUP);
        assert.strictEqual(lookups.length, 1);
        assert.deepStrictEqual((lookups[0].inputs as any).filters[0], { name: "tag:gpuserve.io/image", values: [image] });
        assert.ok(lookups[0].createdBefore.includes(`${ASSOC}::${assoc.name}`), "the lookup waits for the build");
    });

    it("launches the builder hardened: private subnet, no public IP, IMDSv2, encrypted volumes, HTTPS egress only; its role pulls Bottlerocket's host containers from ECR", () => {
        const lt = inputs(dev.get("aws:ec2/launchTemplate:LaunchTemplate", "gpuserve-test-image-cache-lt"));
        assert.strictEqual(lt.metadataOptions.httpTokens, "required");
        assert.strictEqual(lt.networkInterfaces[0].associatePublicIpAddress, "false");
        assert.match(lt.imageId, /^resolve:ssm:\/aws\/service\/bottlerocket\/aws-k8s-1\.\d+\/x86_64\/latest\/image_id$/);
        assert.deepStrictEqual(
            lt.blockDeviceMappings.map((b: any) => [b.deviceName, b.ebs.encrypted]),
            [
                ["/dev/xvda", "true"],
                ["/dev/xvdb", "true"],
            ],
        );
        assert.strictEqual(Buffer.from(lt.userData, "base64").toString(), "[settings.host-containers.admin]\nenabled = true\n");
        const gpuData = inputs(dev.get("aws:ec2/launchTemplate:LaunchTemplate", "gpuserve-test-gpu-a10g-lt")).blockDeviceMappings.find(
            (b: any) => b.deviceName === "/dev/xvdb",
        );
        assert.ok(lt.blockDeviceMappings[1].ebs.volumeSize <= gpuData.ebs.volumeSize, "the snapshot fits the GPU nodes' data volume");
        const sg = inputs(dev.get("aws:ec2/securityGroup:SecurityGroup", "gpuserve-test-image-cache-sg"));
        assert.deepStrictEqual([sg.ingress ?? [], sg.egress.map((e: any) => [e.protocol, e.fromPort, e.toPort])], [[], [["tcp", 443, 443]]]);
        const attached = dev.find("aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((r) => r.name.startsWith("gpuserve-test-image-cache-instance"));
        // SSM agent, and the ECR pulls of Bottlerocket's control (SSM agent) and admin containers: without them SSM never comes online.
        assert.deepStrictEqual(attached.map((r) => inputs(r).policyArn).sort(), [
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        ]);
        // Instead of the sample's AmazonEKSWorkerNodePolicy: only pluto's hostname lookup.
        const inline = dev.find("aws:iam/rolePolicy:RolePolicy").filter((r) => r.name === "gpuserve-test-image-cache-instance-pluto");
        assert.deepStrictEqual(JSON.parse(inputs(inline[0]).policy).Statement, [
            { Sid: "BottlerocketPlutoHostname", Effect: "Allow", Action: "ec2:DescribeInstances", Resource: "*" },
        ]);
        const assoc = dev.get(ASSOC, "gpuserve-test-image-cache-build");
        for (const r of [...attached, ...inline]) assert.ok(assoc.options.dependsOn?.includes(`${r.type}::${r.name}`), `the build waits for ${r.name}`);
    });

    it("pulls into containerd's k8s.io namespace, snapshots the data volume with the image tag, and terminates the builder on every path", () => {
        const doc = runbook();
        assert.deepStrictEqual(doc, JSON.parse(JSON.stringify(imageCacheRunbook())));
        assert.strictEqual(doc.schemaVersion, "0.3");
        const steps: any[] = doc.mainSteps;
        const pull = steps.find((s) => s.action === "aws:runCommand");
        // The script itself runs against a real containerd in test/components/imageCachePull.test.ts.
        assert.ok(pull.inputs.Parameters.commands.includes("image='{{ Image }}'"));
        const snap = steps.find((s) => s.inputs.Api === "CreateSnapshot");
        assert.deepStrictEqual(snap.inputs.TagSpecifications[0].Tags[0], { Key: "gpuserve.io/image", Value: "{{ Image }}" });
        const volume = steps.find((s) => s.inputs.Api === "DescribeVolumes");
        assert.deepStrictEqual(volume.inputs.Filters[1], { Name: "attachment.device", Values: ["/dev/xvdb"] });
        // After the launch every step either ends in a termination or, failing, goes to one.
        const names = steps.map((s) => s.name);
        for (const s of steps.slice(1)) {
            if (s.inputs.Api === "TerminateInstances") assert.strictEqual(s.isEnd, true);
            else {
                assert.strictEqual(s.onFailure, "step:terminateOnFailure", `${s.name} cleans up on failure`);
                // isCritical counts only where a step says it (automation-actions.md): else the clean-up step's Success could end the run.
                assert.strictEqual(s.isCritical, true, `${s.name}: a failed build must fail the execution and the association`);
            }
        }
        assert.ok(
            names.indexOf("stop") < names.indexOf("snapshot") && names.indexOf("waitSnapshot") < names.indexOf("terminate"),
            "snapshot of a stopped instance, terminated once completed",
        );
        // Exactly these steps leave isCritical unsaid: the launch (no onFailure, so its failure aborts the run) and the two terminations.
        assert.deepStrictEqual(
            steps.filter((s) => s.isCritical !== true).map((s) => s.name),
            ["launch", "terminate", "terminateOnFailure"],
            "a failed build must fail the association",
        );
        assert.strictEqual(steps[0].onFailure, undefined, "a failed launch aborts the run");
        // The image is spliced into a shell command: the parameter admits no shell metacharacters.
        const re = new RegExp(doc.parameters.Image.allowedPattern);
        assert.strictEqual(doc.parameters.Image.allowedPattern, IMAGE_PATTERN);
        assert.ok(
            re.test("docker.io/vllm/vllm-openai:v0.33.0") &&
                re.test("docker.io/vllm/vllm-openai@sha256:" + "a".repeat(64)) &&
                re.test("localhost:5000/x:1") &&
                re.test("123456789012.dkr.ecr.us-east-1.amazonaws.com/gw:1"),
        );
        // Short names (ctr would dial `vllm` as a registry) and shell metacharacters are refused before the run.
        for (const bad of [
            "vllm/vllm-openai:v0.33.0",
            "busybox",
            "docker.io/x; rm -rf /",
            "docker.io/x$(id)",
            "docker.io/x`id`",
            "docker.io/x && y",
            "docker.io/x|y",
            "docker.io/x'y",
        ])
            assert.ok(!re.test(bad), bad);
    });

    it("ends every build, successful or not, before the association stops waiting for it", () => {
        const steps: any[] = runbook().mainSteps;
        // Worst case: every waiting step at its bound, every API call at 25 s with its retries, one of the two terminations.
        const worst = steps
            .filter((s) => s.name !== "terminateOnFailure")
            .reduce((t, s) => t + (s.timeoutSeconds ?? 0) + (s.action === "aws:executeAwsApi" ? API_CALL_SECONDS * (s.maxAttempts ?? 1) : 0), 0);
        for (const s of steps) if (s.action !== "aws:executeAwsApi") assert.ok(s.timeoutSeconds > 0, `${s.name} is bounded`);
        const pull = steps.find((s) => s.action === "aws:runCommand");
        assert.strictEqual(pull.inputs.Parameters.executionTimeout, String(pull.timeoutSeconds), "the script stops when the step does");
        const assoc = inputs(dev.get(ASSOC, "gpuserve-test-image-cache-build"));
        assert.strictEqual(assoc.waitForSuccessTimeoutSeconds, BUILD_TIMEOUT_SECONDS);
        assert.ok(worst <= BUILD_TIMEOUT_SECONDS, `the steps may take ${worst} s, the association waits ${BUILD_TIMEOUT_SECONDS} s`);
    });

    it("gives the automation role exactly the runbook's API calls (plus tagging, PassRole of the builder role, the AMI parameter), scoped to the builder", () => {
        const doc = policy(dev);
        const granted = new Set<string>(doc.Statement.flatMap((s: any) => [s.Action].flat()));
        const needed = new Set([...runbookApiCalls().map((c) => c.replace(/^(\w+):/, "$1:")), "ec2:CreateTags", "iam:PassRole", "ssm:GetParameters"]);
        assert.deepStrictEqual([...granted].sort(), [...needed].sort());
        for (const s of doc.Statement) assert.strictEqual(s.Effect, "Allow");
        const bySid = Object.fromEntries(doc.Statement.map((s: any) => [s.Sid, s]));
        assert.match(bySid.LaunchOnlyFromTheBuilderTemplate.Condition.ArnEquals["ec2:LaunchTemplate"], /gpuserve-test-image-cache-lt/);
        assert.match(bySid.LaunchOnlyFromTheBuilderTemplate.Resource, /^arn:aws:ec2:us-east-1:123456789012:instance\/\*$/);
        const subnet = inputs(dev.get("aws:ec2/launchTemplate:LaunchTemplate", "gpuserve-test-image-cache-lt")).networkInterfaces[0].subnetId;
        assert.ok(bySid.LaunchWithTheBuilderResources.Resource.includes(`arn:aws:ec2:us-east-1:123456789012:subnet/${subnet}`), "only the builder's subnet");
        assert.match(bySid.PassOnlyTheBuilderRole.Resource, /^arn:aws:iam::123456789012:role\/gpuserve-test-image-cache-instance/);
        assert.deepStrictEqual(bySid.PassOnlyTheBuilderRole.Condition, { StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } });
        assert.deepStrictEqual(bySid.StopAndTerminateTheBuilder.Condition, {
            StringEquals: { "aws:ResourceTag/gpuserve.io/image-cache-builder": "gpuserve-test" },
        });
        // aws:runCommand also reads each invocation and cancels a timed-out command.
        for (const a of ["ssm:GetCommandInvocation", "ssm:CancelCommand"]) assert.ok(granted.has(a), a);
        // On "*" unconditioned only what has no resource-level permissions (Service Authorization Reference): reads, and CancelCommand.
        for (const s of doc.Statement)
            if (s.Resource === "*" && !s.Condition)
                for (const a of [s.Action].flat()) assert.match(a, /:(Describe|List|GetCommandInvocation$|CancelCommand$)/, a);
        const trust = JSON.parse(inputs(dev.get("aws:iam/role:Role", "gpuserve-test-image-cache-automation")).assumeRolePolicy);
        assert.deepStrictEqual(trust.Statement[0].Principal, { Service: "ssm.amazonaws.com" });
        assert.deepStrictEqual(trust.Statement[0].Condition, { StringEquals: { "aws:SourceAccount": "123456789012" } });
    });

    it("builds nothing when a snapshot id is given (and restores that one) or the cache is off", async () => {
        assert.deepStrictEqual(pinned.find(ASSOC), []);
        assert.deepStrictEqual(pinned.find("aws:ssm/document:Document"), []);
        assert.deepStrictEqual(
            pinned.calls.filter((c) => c.token === LOOKUP),
            [],
            "no lookup either",
        );
        const data = inputs(pinned.get("aws:ec2/launchTemplate:LaunchTemplate", "gpuserve-test-gpu-a10g-lt")).blockDeviceMappings.find(
            (b: any) => b.deviceName === "/dev/xvdb",
        );
        assert.strictEqual(data.ebs.snapshotId, SNAP);
        const cfg = clone(stackConfig("dev"));
        cfg.coldStart = { ...cfg.coldStart, imageCache: "none" };
        const off = await runStack(cfg);
        assert.deepStrictEqual(off.find(ASSOC), []);
        assert.strictEqual(off.resources.filter((r) => r.name.includes("image-cache")).length, 0);
        assert.strictEqual(off.calls.filter((c) => c.token === LOOKUP).length, 0);
        assert.deepStrictEqual(deployed(off, "a10g", "qwen3-vl-2b").imageCache, false);
        assert.deepStrictEqual(claimed(cfg, "qwen3-vl-2b").imageCache, false);
        assert.deepStrictEqual(deployed(pinned, "a10g", "qwen3-vl-2b").imageCache, true);
    });
});

describe("cold start: GPU node volumes as fast as their instance's EBS bandwidth, priced per node", () => {
    let prod: StackRun;
    before(async () => {
        prod = await runStack(prodWithA100());
    });
    const volume = (pool: string) =>
        inputs(prod.get("aws:ec2/launchTemplate:LaunchTemplate", `gpuserve-test-gpu-${pool}-lt`)).blockDeviceMappings.find(
            (b: any) => b.deviceName === "/dev/xvdb",
        ).ebs;

    it("gives the data volume (images, weights copies) the instance's maximum EBS throughput, not gp3's 125 MiB/s", () => {
        // g5.xlarge: up to 437.5 MB/s = 417 MiB/s -> 400; p4de.24xlarge: 2,375 MB/s -> gp3's 1,000 MiB/s, which needs 4,000 IOPS.
        assert.deepStrictEqual([volume("a10g").throughput, volume("a10g").iops], [400, 3000]);
        assert.deepStrictEqual([volume("a100").throughput, volume("a100").iops], [1000, 4000]);
        // g6e.xlarge: up to 5,000 Mbps = 625 MB/s = 596 MiB/s (DescribeInstanceTypes, as Karpenter tabulates it) -> 575.
        assert.deepStrictEqual([volume("l40s").throughput, volume("l40s").iops], [575, 3000]);
        for (const pool of ["a10g", "l40s", "a100"]) assert.ok(volume(pool).throughput <= volume(pool).iops * 0.25, "gp3 allows 0.25 MiB/s per IOPS");
        const system = inputs(prod.get("aws:ec2/launchTemplate:LaunchTemplate", "gpuserve-test-system-lt")).blockDeviceMappings[0].ebs;
        assert.strictEqual(system.throughput, undefined, "system nodes keep gp3's default");
    });

    it("models each pool's weights on the disk its nodes really keep the pods on: the instance store on p4de, the volume elsewhere", () => {
        for (const [pool, model, storage] of [
            ["a10g", "medgemma-4b", "volume"],
            ["l40s", "qwen3-vl-8b", "volume"],
            ["a100", "medgemma-27b", "instanceStore"],
        ] as const) {
            assert.deepStrictEqual(deployed(prod, pool, model), claimed(prodWithA100(), model), pool);
            assert.strictEqual(deployed(prod, pool, model).podStorage, storage, pool);
        }
    });

    it("models the weights copy at the throughput the launch template provisions (within the instance's EBS bandwidth)", () => {
        // g5.xlarge: the volume's 400 MiB/s is under the instance's 437.5 MB/s maximum; p4de: 1,000 MiB/s under 2,375 MB/s.
        for (const [pool, type] of [
            ["a10g", "g5.xlarge"],
            ["l40s", "g6e.xlarge"],
            ["a100", "p4de.24xlarge"],
        ] as const)
            assert.strictEqual(diskMiBps(type, "volume").writeMiBps, volume(pool).throughput, pool);
    });

    it("adds exactly what the launch template provisions to each GPU node's hourly price ($0.040 per MiB/s-month over 125, $0.005 per IOPS-month over 3,000)", () => {
        const { "aws:region": region, ...rest } = clone(prodWithA100());
        const cfg = parseStackConfig({ ...rest, region, environment: "test" });
        for (const pool of cfg.gpuPools) {
            const v = volume(pool.name);
            const perMonth = (v.throughput - 125) * 0.04 + (v.iops - 3000) * 0.005;
            const node = poolNodePrice(cfg, pool);
            assert.ok(
                Math.abs(node.usdPerHour - (INSTANCE_CATALOG[node.instanceType].usdPerHour["us-east-1"] + perMonth / 730)) < 1e-9,
                `${pool.name}: ${node.usdPerHour}`,
            );
        }
    });
});
