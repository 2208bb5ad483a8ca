import * as assert from "assert";
import { EKS_ADDON_VERSIONS } from "../../components/cluster/versions";
import { ConfigError } from "../../stacks/errors";
import { callerRoleArn, explicitAdminPrincipals, principalOf } from "../../components/cluster/accessEntries";
import { desiredSizeFor } from "../../components/cluster/nodeGroupSize";
import { MOCK_ACCOUNT, callOverrides, recorder } from "../../scripts/engine/mocks";
import { isKubernetesObject, manifestOf } from "../../scripts/engine/plan";
import { validateManifests } from "../helpers/k8sSchema";
import { StackRun, clone, prodWithA100, runStack, stackConfig } from "../helpers/program";
import { parseStackConfig } from "../../stacks/validate";
import { buildSimInput } from "../../capacity/sim/setup";

const NG = "aws:eks/nodeGroup:NodeGroup";
const TAG = "aws:autoscaling/tag:Tag";
const TEMPLATE = "k8s.io/cluster-autoscaler/node-template";

describe("GpuCluster and Network under mocks", () => {
    let dev: StackRun;
    let prod: StackRun;
    before(async function () {
        this.timeout(120_000); // renders stacks: 1-2 s of CPU each, several times that on a busy machine
        dev = await runStack(stackConfig("dev"));
        prod = await runStack(prodWithA100());
    });

    it("creates one scale-from-zero NVIDIA node group per GPU pool", () => {
        for (const [run, pools] of [
            [dev, ["a10g"]],
            [prod, ["a10g", "l40s", "a100"]],
        ] as const) {
            const groups = run.find(NG).filter((r) => r.name.includes("-gpu-"));
            assert.deepStrictEqual(groups.map((g) => g.name).sort(), pools.map((p) => `gpuserve-test-gpu-${p}-ng`).sort());
            for (const g of groups) {
                const i = g.inputs as any;
                assert.strictEqual(
                    i.amiType,
                    "BOTTLEROCKET_x86_64_NVIDIA",
                    "Bottlerocket NVIDIA by default: built-in device plugin, data volume for the image cache",
                );
                assert.strictEqual(i.labels["gpuserve.io/os"], "bottlerocket");
                assert.strictEqual(i.scalingConfig.minSize, 0);
                assert.strictEqual(i.scalingConfig.desiredSize, 0);
                assert.strictEqual(g.options.ignoreChanges, undefined, "desiredSize is the live size, not ignored (nodeGroupSize.ts)");
                assert.deepStrictEqual(i.taints, [{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }]);
                assert.strictEqual(i.labels["nvidia.com/gpu.present"], "true");
                assert.ok(i.labels["gpuserve.io/gpu-pool"]);
            }
        }
        assert.strictEqual((dev.get(NG, "gpuserve-test-gpu-a10g-ng").inputs as any).capacityType, "SPOT");
        assert.strictEqual((prod.get(NG, "gpuserve-test-gpu-a100-ng").inputs as any).capacityType, "ON_DEMAND");
        assert.deepStrictEqual((prod.get(NG, "gpuserve-test-gpu-a100-ng").inputs as any).instanceTypes, ["p4de.24xlarge"]);
    });

    it("tags each GPU node group's ASG with node-template tags for every label, the taint and the GPU count", () => {
        for (const pool of ["a10g", "l40s", "a100"]) {
            const ng = prod.get(NG, `gpuserve-test-gpu-${pool}-ng`);
            const tags = prod.find(TAG).filter((t) => t.parent === `gpuserve:cluster:NodePool::gpuserve-test-gpu-${pool}`);
            const byKey = Object.fromEntries(tags.map((t) => [(t.inputs as any).tag.key, (t.inputs as any).tag]));
            for (const [k, v] of Object.entries((ng.inputs as any).labels as Record<string, string>)) {
                assert.strictEqual(byKey[`${TEMPLATE}/label/${k}`]?.value, v, `label ${k} on ${pool}`);
            }
            assert.strictEqual(byKey[`${TEMPLATE}/taint/nvidia.com/gpu`]?.value, "true:NoSchedule");
            assert.strictEqual(byKey[`${TEMPLATE}/resources/nvidia.com/gpu`]?.value, pool === "a100" ? "8" : "1");
            for (const t of tags) {
                assert.strictEqual((t.inputs as any).tag.propagateAtLaunch, false);
                assert.match(String((t.inputs as any).autoscalingGroupName), new RegExp(`^eks-gpuserve-test-gpu-${pool}-ng-`));
            }
        }
    });

    it("requires IMDSv2 with hop limit 1 and an encrypted gp3 root volume on every node", () => {
        const lts = prod.find("aws:ec2/launchTemplate:LaunchTemplate");
        assert.strictEqual(lts.length, 5, "system, one per GPU pool (a10g, l40s, a100), the image-cache builder");
        for (const lt of lts) {
            const i = lt.inputs as any;
            assert.strictEqual(i.metadataOptions.httpTokens, "required");
            assert.strictEqual(i.metadataOptions.httpPutResponseHopLimit, 1);
            assert.deepStrictEqual(i.blockDeviceMappings[0].ebs.encrypted, "true");
            assert.strictEqual(i.blockDeviceMappings[0].ebs.volumeType, "gp3");
        }
        for (const lt of lts) {
            for (const spec of (lt.inputs as any).tagSpecifications) {
                assert.deepStrictEqual(
                    [spec.tags.team, spec.tags.environment, spec.tags.project],
                    ["platform", "test", "gpuserve"],
                    `${lt.name} ${spec.resourceType}`,
                );
            }
            assert.deepStrictEqual(
                (lt.inputs as any).tagSpecifications.map((t: any) => t.resourceType),
                ["instance", "volume", "network-interface"],
            );
        }
        const sc = prod.find("kubernetes:storage.k8s.io/v1:StorageClass")[0].inputs as any;
        assert.deepStrictEqual(
            Object.entries(sc.parameters)
                .filter(([k]) => k.startsWith("tagSpecification_"))
                .map(([, v]) => v)
                .sort(),
            ["environment=test", "project=gpuserve", "team=platform"],
        );
        const gpuLt = prod.get("aws:ec2/launchTemplate:LaunchTemplate", "gpuserve-test-gpu-a10g-lt").inputs as any;
        // Bottlerocket: a small OS volume and the data volume (containerd's images) restored from the image-cache snapshot.
        assert.deepStrictEqual(
            gpuLt.blockDeviceMappings.map((b: any) => b.deviceName),
            ["/dev/xvda", "/dev/xvdb"],
        );
        const data = gpuLt.blockDeviceMappings[1].ebs;
        assert.ok(data.volumeSize >= 100);
        assert.match(data.snapshotId, /^snap-[0-9a-f]+$/);
        assert.strictEqual(data.encrypted, undefined, "EC2 takes a restored volume's encryption from its snapshot");
    });

    it("restores the image-cache data volume at the provisioned initialization rate (not lazily), and only a restored one", async () => {
        const data = (run: StackRun) =>
            (run.get("aws:ec2/launchTemplate:LaunchTemplate", "gpuserve-test-gpu-a10g-lt").inputs as any).blockDeviceMappings.find(
                (b: any) => b.deviceName === "/dev/xvdb",
            ).ebs;
        assert.strictEqual(data(dev).volumeInitializationRate, 300, "coldStart.imageCacheInitRateMiBps default");
        assert.match(data(dev).snapshotId, /^snap-/);
        const lazy = clone(stackConfig("dev"));
        lazy.coldStart = { imageCacheInitRateMiBps: 0 };
        assert.strictEqual(data(await runStack(lazy)).volumeInitializationRate, undefined);
        const builder = (prod.get("aws:ec2/launchTemplate:LaunchTemplate", "gpuserve-test-image-cache-lt").inputs as any).blockDeviceMappings;
        assert.ok(
            builder.every((b: any) => b.ebs.volumeInitializationRate === undefined),
            "the builder's empty volumes have nothing to initialize",
        );
        const system = (prod.get("aws:ec2/launchTemplate:LaunchTemplate", "gpuserve-test-system-lt").inputs as any).blockDeviceMappings;
        assert.ok(system.every((b: any) => b.ebs.volumeInitializationRate === undefined));
    });

    it("configures EKS with STANDARD support, KMS secrets encryption, API auth and no default node group", () => {
        const c = prod.get("eks:index:Cluster", "gpuserve-test-eks").inputs as any;
        assert.deepStrictEqual(c.upgradePolicy, { supportType: "STANDARD" });
        assert.match(c.encryptionConfigKeyArn, /^arn:aws:kms:/);
        assert.strictEqual(c.skipDefaultNodeGroup, true);
        assert.strictEqual(c.authenticationMode, "API");
        assert.deepStrictEqual(c.publicAccessCidrs, ["203.0.113.0/24"]);
        assert.strictEqual(c.endpointPrivateAccess, true);
        assert.strictEqual(c.deletionProtection, true);
        assert.deepStrictEqual(
            Object.values(c.accessEntries).map((e: any) => e.principalArn),
            ["arn:aws:iam::123456789012:role/platform-admin"],
        );
        assert.strictEqual((dev.get("eks:index:Cluster", "gpuserve-test-eks").inputs as any).deletionProtection, false);
        const key = prod.find("aws:kms/key:Key")[0].inputs as any;
        assert.strictEqual(key.enableKeyRotation, true);
        assert.deepStrictEqual(prod.get("eks:index:Cluster", "gpuserve-test-eks").options.dependsOn, ["aws:cloudwatch/logGroup:LogGroup::gpuserve-test-logs"]);
    });

    it("pins every EKS managed add-on to the version table of the cluster's Kubernetes version", () => {
        const v = EKS_ADDON_VERSIONS["1.35"];
        const c = dev.get("eks:index:Cluster", "gpuserve-test-eks").inputs as any;
        assert.strictEqual(c.vpcCniOptions.addonVersion, v.vpcCni);
        assert.strictEqual(c.vpcCniOptions.enableNetworkPolicy, true);
        assert.strictEqual(c.corednsAddonOptions.enabled, false, "CoreDNS must wait for nodes: created as an add-on after them");
        assert.strictEqual(c.kubeProxyAddonOptions.version, v.kubeProxy);
        const addons = Object.fromEntries(dev.find("aws:eks/addon:Addon").map((a) => [(a.inputs as any).addonName, (a.inputs as any).addonVersion]));
        assert.deepStrictEqual(addons, { "eks-pod-identity-agent": v.podIdentityAgent, coredns: v.coredns, "aws-ebs-csi-driver": v.ebsCsiDriver });
        assert.ok(dev.get("aws:eks/addon:Addon", "gpuserve-test-coredns").options.dependsOn?.includes("gpuserve:cluster:NodePool::gpuserve-test-system"));
    });

    it("spreads the network over the configured AZs with one NAT (dev) or one per AZ (prod)", () => {
        const subnets = (run: StackRun) => run.find("aws:ec2/subnet:Subnet").map((s) => s.inputs as any);
        assert.strictEqual(subnets(dev).length, 4);
        assert.strictEqual(subnets(prod).length, 6);
        assert.strictEqual(dev.find("aws:ec2/natGateway:NatGateway").length, 1);
        assert.strictEqual(prod.find("aws:ec2/natGateway:NatGateway").length, 3);
        assert.deepStrictEqual(new Set(subnets(prod).map((s) => s.availabilityZone)), new Set(["us-east-1a", "us-east-1b", "us-east-1c"]));
        for (const s of subnets(prod)) {
            const role = s.tags["kubernetes.io/role/elb"] ?? s.tags["kubernetes.io/role/internal-elb"];
            assert.strictEqual(role, "1", `subnet ${s.cidrBlock} lacks a load balancer discovery tag`);
        }
        assert.strictEqual(dev.find("aws:ec2/vpcEndpoint:VpcEndpoint")[0].inputs.vpcEndpointType, "Gateway");
    });

    it("tags a GPU pool's ASG with its scaleDownUnneededSeconds override, and the simulator reads the same figure", async () => {
        const cfg = clone(stackConfig("dev"));
        cfg.gpuPools[0].scaleDownUnneededSeconds = 240;
        const run = await runStack(cfg);
        const unneeded = (r: StackRun) =>
            r
                .find(TAG)
                .filter((t) => t.parent === "gpuserve:cluster:NodePool::gpuserve-test-gpu-a10g")
                .map((t) => (t.inputs as any).tag)
                .find((t) => t.key === `${TEMPLATE}/autoscaling-options/scaledownunneededtime`)?.value;
        assert.strictEqual(unneeded(run), "240s");
        // Without the override: the derived Bottlerocket figure (100 s expected boot + 5 s plugin, up to the 10 s scan).
        assert.strictEqual(unneeded(dev), "110s");
        const { "aws:region": region, ...rest } = cfg;
        const input = buildSimInput(parseStackConfig({ ...rest, region, environment: "test" }), { days: 1, historyDays: 0 });
        assert.strictEqual(input.gpuPools[0].scaleDownUnneededSeconds, 240);
    });

    it("uses an existing VPC's subnets without creating network resources", async () => {
        const cfg = clone(stackConfig("dev"));
        cfg.network = {
            existing: {
                vpcId: "vpc-0123456789abcdef0",
                publicSubnetIds: ["subnet-0000000a", "subnet-0000000b"],
                privateSubnetIds: ["subnet-0000000c", "subnet-0000000d"],
            },
        };
        const run = await runStack(cfg);
        assert.strictEqual(run.find("aws:ec2/vpc:Vpc").length, 0);
        assert.strictEqual(run.find("aws:ec2/natGateway:NatGateway").length, 0);
        assert.deepStrictEqual((run.get("eks:index:Cluster", "gpuserve-test-eks").inputs as any).privateSubnetIds, ["subnet-0000000c", "subnet-0000000d"]);
    });

    it("tags every AWS resource for cost allocation through the provider's default tags", () => {
        const p = prod.get("pulumi:providers:aws", "aws").inputs as any;
        const tags = JSON.parse(p.defaultTags).tags;
        assert.deepStrictEqual(tags, { project: "gpuserve", environment: "test", "managed-by": "pulumi", team: "platform" });
    });

    it("emits only Kubernetes objects that pass the upstream schemas", async () => {
        const objects = [...dev.resources, ...prod.resources].filter(isKubernetesObject).map(manifestOf);
        assert.ok(objects.length > 0);
        await validateManifests(objects);
    });

    it("throws the config error before any resource is created", async () => {
        const cfg = clone(stackConfig("dev"));
        cfg.models[0].pool = "missing";
        await assert.rejects(runStack(cfg), (e: unknown) => e instanceof ConfigError && /gpuserve:models\[0\]\.pool/.test(e.message));
        const created = recorder.records().filter((r) => r.type !== "pulumi:pulumi:Stack");
        assert.deepStrictEqual(
            created.map((r) => r.type),
            [],
        );
    });
});

describe("admin access entries and the deployer", () => {
    const CALLER = "aws:index/getCallerIdentity:getCallerIdentity";
    const asCaller = (arn: string) => callOverrides.set(CALLER, () => ({ accountId: MOCK_ACCOUNT, arn, userId: "AROAOFFLINE:session", id: MOCK_ACCOUNT }));
    afterEach(() => callOverrides.delete(CALLER));
    const entries = (run: StackRun) =>
        Object.values((run.get("eks:index:Cluster", "gpuserve-test-eks").inputs as any).accessEntries ?? {}).map((e: any) => e.principalArn);

    it("skips the explicit entry for the deployer's own role, which EKS already makes admin (no 409)", async () => {
        asCaller(`arn:aws:sts::${MOCK_ACCOUNT}:assumed-role/platform-admin/pulumi-1732700000`);
        const cfg = clone(stackConfig("dev"));
        cfg.cluster = { adminPrincipalArns: [`arn:aws:iam::${MOCK_ACCOUNT}:role/platform-admin`, `arn:aws:iam::${MOCK_ACCOUNT}:role/oncall`] };
        assert.deepStrictEqual(entries(await runStack(cfg)), [`arn:aws:iam::${MOCK_ACCOUNT}:role/oncall`]);
    });

    it("matches roles with a path by account and name, and never another account's role of the same name", () => {
        const session = "arn:aws:sts::123456789012:assumed-role/platform-admin/alice";
        assert.deepStrictEqual(explicitAdminPrincipals(["arn:aws:iam::123456789012:role/team/platform-admin"], session), {
            entries: [],
            skipped: ["arn:aws:iam::123456789012:role/team/platform-admin"],
        });
        assert.deepStrictEqual(explicitAdminPrincipals(["arn:aws:iam::210987654321:role/platform-admin"], session).skipped, []);
        assert.deepStrictEqual(
            explicitAdminPrincipals(["arn:aws:iam::123456789012:user/platform-admin"], session).skipped,
            [],
            "a user is not the role of the same name",
        );
        assert.deepStrictEqual(explicitAdminPrincipals(["arn:aws:iam::123456789012:user/alice"], "arn:aws:iam::123456789012:user/alice").skipped, [
            "arn:aws:iam::123456789012:user/alice",
        ]);
        assert.strictEqual(callerRoleArn("arn:aws:sts::123456789012:assumed-role/platform-admin/alice"), "arn:aws:iam::123456789012:role/platform-admin");
        assert.deepStrictEqual(principalOf("arn:aws-us-gov:sts::123456789012:assumed-role/ops/x"), {
            partition: "aws-us-gov",
            account: "123456789012",
            kind: "role",
            name: "ops",
        });
        assert.strictEqual(principalOf("arn:aws:iam::123456789012:root"), undefined);
    });
});

describe("node group sizes on an existing cluster", () => {
    const LIST = "aws:eks/getNodeGroups:getNodeGroups";
    const GET = "aws:eks/getNodeGroup:getNodeGroup";
    afterEach(() => {
        callOverrides.delete(LIST);
        callOverrides.delete(GET);
    });
    /** The cluster exists with these live desired sizes, keyed by node group resource name. */
    const liveSizes = (sizes: Record<string, number>) => {
        const physical = (n: string) => `${n}-a1b2c3d`;
        callOverrides.set(LIST, () => ({ clusterName: "gpuserve-test", names: Object.keys(sizes).map(physical), id: "gpuserve-test" }));
        callOverrides.set(GET, (i) => {
            const name = Object.keys(sizes).find((n) => physical(n) === i.nodeGroupName)!;
            return { clusterName: i.clusterName, nodeGroupName: i.nodeGroupName, scalingConfigs: [{ desiredSize: sizes[name], minSize: 0, maxSize: 8 }] };
        });
    };
    const desired = (run: StackRun, ng: string) => (run.get(NG, ng).inputs as any).scalingConfig;

    it("raises desiredSize with minNodes (EKS rejects desired < min) and keeps the autoscaler's larger size", async () => {
        liveSizes({ "gpuserve-test-gpu-a10g-ng": 0, "gpuserve-test-gpu-l40s-ng": 0, "gpuserve-test-gpu-a100-ng": 1, "gpuserve-test-system-ng": 4 });
        const cfg = prodWithA100();
        cfg.gpuPools[0].minNodes = 1;
        cfg.gpuPools[0].minNodesReason = "clinic opens at 7: first answer within 5 s";
        const run = await runStack(cfg);
        assert.deepStrictEqual(desired(run, "gpuserve-test-gpu-a10g-ng"), { minSize: 1, maxSize: 8, desiredSize: 1 });
        assert.deepStrictEqual(desired(run, "gpuserve-test-gpu-a100-ng"), { minSize: 0, maxSize: 1, desiredSize: 1 }, "a running A100 node is kept");
        assert.deepStrictEqual(desired(run, "gpuserve-test-system-ng"), { minSize: 3, maxSize: 6, desiredSize: 4 });
    });

    it("clamps a live size into [min, max]", () => {
        assert.deepStrictEqual([desiredSizeFor(2, 5, undefined), desiredSizeFor(2, 5, 0), desiredSizeFor(2, 5, 3), desiredSizeFor(2, 5, 9)], [2, 2, 3, 5]);
    });
});
