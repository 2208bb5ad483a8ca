import * as assert from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { expanderPriorities } from "../../components/addons/clusterAutoscaler";
import { LBC_OMITTED_ACTIONS } from "../../components/addons/loadBalancerController/iam";
import { devicePluginValues } from "../../components/addons/nvidiaDevicePlugin";
import { deepMerge, valuePaths } from "../../components/addons/values";
import { CHARTS } from "../../components/addons/versions";
import { ConfigError } from "../../stacks/errors";
import { ResourceRecord } from "../../scripts/engine/mocks";
import { StackRun, ROOT, clone, runStack, stackConfig } from "../helpers/program";

const RELEASE = "kubernetes:helm.sh/v3:Release";

const releaseOf = (run: StackRun, chart: string): ResourceRecord => {
    const found = run.find(RELEASE).filter((r) => (r.inputs as any).chart === chart);
    assert.strictEqual(found.length, 1, `expected one ${chart} release, got ${found.length}`);
    return found[0];
};
const valuesOf = (run: StackRun, chart: string) => (releaseOf(run, chart).inputs as any).values;

/** IAM policy documents of the inline role policies, by role component name. */
function policies(run: StackRun): Record<string, any> {
    return Object.fromEntries(run.find("aws:iam/rolePolicy:RolePolicy").map((p) => [p.name, JSON.parse((p.inputs as any).policy)]));
}

const READ_ONLY = /^[a-z0-9-]+:(Describe|Get|List)[A-Za-z]*$/;

/** prod with AL2023 GPU pools (no image cache): the stack installs the device plugin chart for them. */
export function al2023Config(stack = "prod"): Record<string, any> {
    const cfg = clone(stackConfig(stack));
    cfg.gpuPools = cfg.gpuPools.map((p: Record<string, unknown>) => ({ ...p, ami: "al2023" }));
    cfg.coldStart = { imageCache: "none" };
    return cfg;
}

describe("PlatformAddons", () => {
    let prod: StackRun;
    let al2023: StackRun;
    before(async function () {
        this.timeout(120_000); // renders stacks: 1-2 s of CPU each, several times that on a busy machine
        prod = await runStack(stackConfig("prod"));
        al2023 = await runStack(al2023Config());
    });

    it("installs one pinned release per chart from its repository, and no ingress-nginx", () => {
        for (const ref of Object.values(CHARTS)) {
            const r = releaseOf(al2023, ref.chart).inputs as any;
            assert.strictEqual(r.version, ref.version);
            assert.match(r.version, /^\d+\.\d+\.\d+$/);
            assert.deepStrictEqual(r.repositoryOpts, { repo: ref.repo });
        }
        assert.strictEqual(al2023.find(RELEASE).length, Object.keys(CHARTS).length);
        assert.ok(!JSON.stringify(al2023.resources).includes("ingress-nginx"));
    });

    it("does not install the device plugin chart when every GPU pool runs Bottlerocket (its NVIDIA variant has the plugin built in)", () => {
        assert.strictEqual(prod.find(RELEASE).filter((r) => (r.inputs as any).chart === "nvidia-device-plugin").length, 0);
        assert.strictEqual(prod.find(RELEASE).length, Object.keys(CHARTS).length - 1);
    });

    it("runs the device plugin and DCGM exporter only on GPU nodes, tolerating the GPU taint; the plugin chart never on Bottlerocket nodes", () => {
        for (const chart of ["nvidia-device-plugin", "dcgm-exporter"]) {
            const v = valuesOf(al2023, chart);
            const expressions = [{ key: "nvidia.com/gpu.present", operator: "In", values: ["true"] }];
            if (chart === "nvidia-device-plugin") expressions.push({ key: "gpuserve.io/os", operator: "NotIn", values: ["bottlerocket"] });
            assert.deepStrictEqual(v.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms, [
                { matchExpressions: expressions },
            ]);
            assert.ok(
                v.tolerations.some((t: any) => t.key === "nvidia.com/gpu" && t.operator === "Exists" && t.effect === "NoSchedule"),
                chart,
            );
            assert.strictEqual(v.priorityClassName, "system-node-critical");
        }
        assert.strictEqual(valuesOf(prod, "dcgm-exporter").serviceMonitor.enabled, true);
        assert.strictEqual(
            valuesOf(prod, "dcgm-exporter").serviceMonitor.honorLabels,
            true,
            "keep DCGM's pod label (the GPU's workload) for the GPU-utilization trigger",
        );
        assert.strictEqual(valuesOf(al2023, "nvidia-device-plugin").config, undefined, "time-slicing must be off by default");
    });

    it("configures GPU time-slicing only when asked", () => {
        const v = devicePluginValues({ timeSlicingReplicas: 4 }) as any;
        assert.strictEqual(v.config.default, "default");
        assert.match(v.config.map.default, /timeSlicing:\n\s+resources:\n\s+- name: nvidia.com\/gpu\n\s+replicas: 4/);
    });

    it("has Prometheus select every ServiceMonitor and PodMonitor, with encrypted persistent storage", () => {
        const spec = valuesOf(prod, "kube-prometheus-stack").prometheus.prometheusSpec;
        assert.strictEqual(spec.serviceMonitorSelectorNilUsesHelmValues, false);
        assert.strictEqual(spec.podMonitorSelectorNilUsesHelmValues, false);
        assert.strictEqual(spec.ruleSelectorNilUsesHelmValues, false);
        assert.strictEqual(spec.retention, "15d");
        assert.strictEqual(spec.storageSpec.volumeClaimTemplate.spec.storageClassName, "gp3-encrypted");
        assert.strictEqual(spec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage, "50Gi");
    });

    it("gives Grafana an admin password from a secret that never appears in plain text", async () => {
        const grafana = valuesOf(prod, "kube-prometheus-stack").grafana;
        assert.strictEqual(grafana.admin.existingSecret, "grafana-admin");
        const secret = prod.get("kubernetes:core/v1:Secret", "gpuserve-test-monitoring-grafana-admin");
        assert.deepStrictEqual((secret.inputs as any).stringData, { "admin-user": "[secret]", "admin-password": "[secret]" });
        const password = prod.outputs.grafanaAdminPassword as string;
        assert.ok(password.length >= 16);
        assert.ok(!JSON.stringify(prod.resources).includes(password));
        assert.ok(grafana.sidecar.dashboards.enabled);
        assert.strictEqual(grafana.sidecar.dashboards.searchNamespace, "ALL");
    });

    it("auto-discovers this cluster's node groups and prefers the cheapest pool", () => {
        const v = valuesOf(prod, "cluster-autoscaler");
        assert.deepStrictEqual(v.autoDiscovery, { clusterName: "gpuserve-test" });
        assert.strictEqual(v.awsRegion, "us-east-1");
        assert.strictEqual(v.extraArgs.expander, "priority,least-waste");
        assert.strictEqual(v.extraArgs["balance-similar-node-groups"], true);
        assert.strictEqual(v.extraArgs["scale-down-unneeded-time"], "5m");
        assert.strictEqual(v.extraArgs["scale-down-utilization-threshold"], 0.5);
        // prod: a10g (1.006/h) is cheaper than l40s (1.861/h): a higher priority number.
        const prio = v.expanderPriorities as Record<string, string[]>;
        const of = (pool: string) => Number(Object.entries(prio).find(([, r]) => r.some((x) => x.includes(`gpu-${pool}-ng`)))![0]);
        assert.ok(of("a10g") > of("l40s"), JSON.stringify(prio));
        assert.deepStrictEqual(prio["1"], [".*"]);
    });

    it("orders priorities by price whatever the input order", () => {
        const p = expanderPriorities([
            { nodeGroupPrefix: "x-gpu-b-ng", usdPerHour: 5 },
            { nodeGroupPrefix: "x-gpu-a-ng", usdPerHour: 1 },
            { nodeGroupPrefix: "x-gpu-c-ng", usdPerHour: 3 },
        ]);
        assert.deepStrictEqual(p, { "1": [".*"], "11": [".*x-gpu-b-ng.*"], "21": [".*x-gpu-c-ng.*"], "31": [".*x-gpu-a-ng.*"] });
    });

    it("lets Cluster Autoscaler change only ASGs tagged as owned by this cluster", () => {
        const policy = policies(prod)["gpuserve-test-cluster-autoscaler-identity-inline"];
        const mutating = policy.Statement.find((s: any) => s.Action.includes("autoscaling:SetDesiredCapacity"));
        assert.deepStrictEqual(mutating.Action, ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]);
        assert.deepStrictEqual(mutating.Condition.StringEquals, {
            "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
            "aws:ResourceTag/k8s.io/cluster-autoscaler/gpuserve-test": "owned",
        });
        assert.match(mutating.Resource, /^arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:/);
    });

    it("never grants a mutating IAM action on Resource '*'", () => {
        const all = policies(prod);
        assert.deepStrictEqual(Object.keys(all).sort(), [
            "gpuserve-test-cluster-autoscaler-identity-inline",
            "gpuserve-test-image-cache-automation",
            "gpuserve-test-image-cache-instance-pluto",
            "gpuserve-test-lbc-identity-inline",
            "gpuserve-test-medgemma-4b-s3-inline",
            "gpuserve-test-qwen3-vl-2b-s3-inline",
            "gpuserve-test-qwen3-vl-8b-s3-inline",
            "gpuserve-test-weights-sync-inline",
        ]);
        for (const [name, doc] of Object.entries(all)) {
            for (const s of doc.Statement) {
                const actions: string[] = Array.isArray(s.Action) ? s.Action : [s.Action];
                const resources: string[] = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
                // The one write IAM cannot scope: aws:runCommand cancels its timed-out command, and ssm:CancelCommand has no
                // resource types or condition keys (Service Authorization Reference, AWS Systems Manager): "*" or nothing.
                const unscopable = name === "gpuserve-test-image-cache-automation" ? ["ssm:CancelCommand"] : [];
                const mutating = actions.filter((a) => !READ_ONLY.test(a) && !unscopable.includes(a));
                if (mutating.length > 0) assert.ok(!resources.includes("*"), `${name} ${s.Sid}: ${mutating.join(", ")} on *`);
                for (const r of resources) assert.ok(r === "*" || r.startsWith("arn:aws:"), `${name} ${s.Sid}: ${r}`);
            }
        }
    });

    it("scopes the Load Balancer Controller to load balancers and security groups tagged for this cluster", () => {
        const doc = policies(prod)["gpuserve-test-lbc-identity-inline"];
        const bySid = Object.fromEntries(doc.Statement.map((s: any) => [s.Sid, s]));
        assert.strictEqual(bySid.ManageOwnLoadBalancers.Condition.StringEquals["aws:ResourceTag/elbv2.k8s.aws/cluster"], "gpuserve-test");
        assert.strictEqual(bySid.CreateTaggedLoadBalancers.Condition.StringEquals["aws:RequestTag/elbv2.k8s.aws/cluster"], "gpuserve-test");
        assert.strictEqual(bySid.ManageOwnSecurityGroups.Condition.StringEquals["aws:ResourceTag/elbv2.k8s.aws/cluster"], "gpuserve-test");
        assert.match(bySid.CreateSecurityGroupsInOurVpc.Resource[1], /^arn:aws:ec2:us-east-1:123456789012:vpc\/gpuserve-test-vpc-id$/);
        assert.ok(!JSON.stringify(doc).match(/waf|shield|cognito/i), "WAF/Shield/Cognito are disabled, so not granted");
        assert.strictEqual(bySid.RegisterTargetsInOwnTargetGroups.Condition.StringEquals["aws:ResourceTag/elbv2.k8s.aws/cluster"], "gpuserve-test");
        assert.deepStrictEqual(bySid.TagListenersAndRules.Action, ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]);
        assert.ok(bySid.TagListenersAndRules.Resource.every((r: string) => /^arn:aws:elasticloadbalancing:us-east-1:123456789012:listener(-rule)?\//.test(r)));
        // The security group EKS attaches to managed nodes (as the mock reports it), not pulumi-eks's own.
        const eksManagedSg = `sg-${createHash("sha256").update("gpuserve-test-eks-eks-managed").digest("hex").slice(0, 8)}`;
        assert.strictEqual(bySid.OpenNodesToOwnLoadBalancers.Resource, `arn:aws:ec2:us-east-1:123456789012:security-group/${eksManagedSg}`);
        const v = valuesOf(prod, "aws-load-balancer-controller");
        assert.deepStrictEqual([v.clusterName, v.region, v.vpcId], ["gpuserve-test", "us-east-1", "gpuserve-test-vpc-id"]);
        assert.deepStrictEqual([v.enableShield, v.enableWaf, v.enableWafv2], [false, false, false]);
        assert.strictEqual(v.enableServiceMutatorWebhook, false, "its Service webhook would reject other charts' Services while it starts");
        assert.deepStrictEqual(v.defaultTags, { project: "gpuserve", environment: "test", team: "platform" });
    });

    it("grants every action of upstream's v3.5.0 policy except the documented omissions, and nothing else", () => {
        const upstream: string[] = JSON.parse(fs.readFileSync(path.join(ROOT, "test/fixtures/lbc/iam-policy-actions-v3.5.0.json"), "utf8")).actions;
        const doc = policies(prod)["gpuserve-test-lbc-identity-inline"];
        const granted = new Set<string>(doc.Statement.flatMap((s: any) => (Array.isArray(s.Action) ? s.Action : [s.Action])));
        const missing = upstream.filter((a) => !granted.has(a) && !(a in LBC_OMITTED_ACTIONS));
        assert.deepStrictEqual(missing, [], "upstream actions neither granted nor listed (with a reason) in LBC_OMITTED_ACTIONS");
        assert.deepStrictEqual(
            [...granted].filter((a) => !upstream.includes(a)),
            [],
            "granted actions upstream does not ask for",
        );
        assert.deepStrictEqual(
            Object.keys(LBC_OMITTED_ACTIONS).filter((a) => granted.has(a) || !upstream.includes(a)),
            [],
            "omitted list out of date",
        );
        const reorder = doc.Statement.find((s: any) => s.Action.includes("elasticloadbalancing:SetRulePriorities"));
        assert.ok(
            reorder.Resource.some((r: string) => r.includes(":listener-rule/app/")),
            "SetRulePriorities acts on listener rules",
        );
    });

    it("binds each controller's role to its service account through EKS Pod Identity", () => {
        const assoc = prod.find("aws:eks/podIdentityAssociation:PodIdentityAssociation").map((a) => a.inputs as any);
        assert.deepStrictEqual(assoc.map((a) => `${a.namespace}/${a.serviceAccount}`).sort(), [
            "kube-system/aws-load-balancer-controller",
            "kube-system/cluster-autoscaler",
            "serving/weights-sync",
            "serving/worker-medgemma-4b",
            "serving/worker-qwen3-vl-2b",
            "serving/worker-qwen3-vl-8b",
        ]);
        assert.strictEqual(valuesOf(prod, "cluster-autoscaler").rbac.serviceAccount.name, "cluster-autoscaler");
        assert.strictEqual(valuesOf(prod, "aws-load-balancer-controller").serviceAccount.name, "aws-load-balancer-controller");
        for (const role of prod.find("aws:iam/role:Role").filter((r) => r.name.includes("identity"))) {
            const trust = JSON.parse((role.inputs as any).assumeRolePolicy);
            assert.deepStrictEqual(trust.Statement[0].Principal, { Service: "pods.eks.amazonaws.com" });
            const [stmt] = trust.Statement;
            assert.deepStrictEqual(stmt.Action, ["sts:AssumeRole", "sts:TagSession"]);
            // EKS user guide, pod-id-role: scope with the session tags EKS Pod Identity sets, not aws:SourceArn.
            const assocOf = prod
                .find("aws:eks/podIdentityAssociation:PodIdentityAssociation")
                .map((a) => a.inputs as any)
                .find((a) => role.name.startsWith(a.serviceAccount === "cluster-autoscaler" ? "gpuserve-test-cluster-autoscaler" : "gpuserve-test-lbc"))!;
            assert.deepStrictEqual(stmt.Condition, {
                StringEquals: {
                    "aws:SourceAccount": "123456789012",
                    "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:us-east-1:123456789012:cluster/gpuserve-test",
                    "aws:RequestTag/kubernetes-namespace": assocOf.namespace,
                    "aws:RequestTag/kubernetes-service-account": assocOf.serviceAccount,
                },
            });
        }
    });

    it("orders installs: cluster first, Prometheus before every chart with a ServiceMonitor, roles before controllers", () => {
        const deps = (chart: string) => releaseOf(al2023, chart).options.dependsOn ?? [];
        for (const ref of Object.values(CHARTS)) assert.ok(deps(ref.chart).includes("gpuserve:cluster:NodePool::gpuserve-test-system"), ref.chart);
        for (const chart of ["dcgm-exporter", "keda", "cluster-autoscaler", "aws-load-balancer-controller"]) {
            assert.ok(deps(chart).includes("gpuserve:addons:Monitoring::gpuserve-test-monitoring"), chart);
        }
        assert.ok(deps("cluster-autoscaler").includes("gpuserve:iam:PodIdentityRole::gpuserve-test-cluster-autoscaler-identity"));
        assert.ok(deps("aws-load-balancer-controller").includes("gpuserve:iam:PodIdentityRole::gpuserve-test-lbc-identity"));
        const rules = al2023.get("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "gpuserve-test-monitoring-cost-rules");
        assert.ok(rules.options.dependsOn?.includes(`${RELEASE}::gpuserve-test-monitoring-release`));
    });

    it("merges user overrides last, deeply, without touching computed values it does not name", async () => {
        const cfg = clone(stackConfig("prod"));
        cfg.addons = { keda: { values: { prometheus: { operator: { enabled: false } }, resources: { operator: { limits: { memory: "512Mi" } } } } } };
        const run = await runStack(cfg);
        const v = valuesOf(run, "keda");
        assert.strictEqual(v.prometheus.operator.enabled, false);
        assert.strictEqual(v.prometheus.metricServer.enabled, true);
        assert.deepStrictEqual(v.resources, { operator: { limits: { memory: "512Mi" } } });
        assert.deepStrictEqual(v.nodeSelector, { "gpuserve.io/role": "system" });
    });

    it("uses an existing Prometheus when kube-prometheus-stack is turned off", async () => {
        const cfg = clone(stackConfig("dev"));
        cfg.addons = { prometheus: { enabled: false, url: "http://prometheus.observability:9090" } };
        const run = await runStack(cfg);
        assert.strictEqual(run.find(RELEASE).filter((r) => (r.inputs as any).chart === "kube-prometheus-stack").length, 0);
        assert.strictEqual(run.outputs.prometheusUrl, "http://prometheus.observability:9090");
        assert.strictEqual(valuesOf(run, "keda").prometheus.operator.serviceMonitor.enabled, true);
    });

    it("refuses to turn off an add-on another component needs, naming the key", async () => {
        const cases: [Record<string, unknown>, RegExp][] = [
            [{ prometheus: { enabled: false } }, /gpuserve:addons\.prometheus\.url: kube-prometheus-stack is disabled and no existing Prometheus is given/],
            [{ keda: { enabled: false } }, /gpuserve:addons\.keda\.enabled: cannot be false: every worker pool's scale policy is a KEDA ScaledObject/],
            [
                { clusterAutoscaler: { enabled: false } },
                /gpuserve:addons\.clusterAutoscaler\.enabled: cannot be false: GPU pools a10g scale between minNodes and maxNodes/,
            ],
            [{ loadBalancerController: { enabled: false } }, /gpuserve:addons\.loadBalancerController\.enabled: cannot be false/],
            [{ nvidiaDevicePlugin: { enabled: false } }, /gpuserve:addons\.nvidiaDevicePlugin\.enabled: cannot be false: AL2023 GPU pools \(a10g\) need it/],
        ];
        for (const [addons, message] of cases) {
            const cfg = al2023Config("dev");
            cfg.addons = addons;
            await assert.rejects(runStack(cfg), (e: unknown) => e instanceof ConfigError && message.test(e.message));
        }
    });
});

describe("chart values keys", () => {
    /** Keys a chart documents as free-form although its values.yaml shows example entries. */
    const FREE_FORM: Record<string, string[]> = {
        // The chart renders every extraArgs entry as --key=value (templates/deployment.yaml).
        "cluster-autoscaler": ["extraArgs"],
    };

    function unknownKeys(chart: string, values: Record<string, unknown>): string[] {
        const file = path.join(ROOT, "test", "fixtures", "chart-keys", `${chart}.json`);
        const recorded = JSON.parse(fs.readFileSync(file, "utf8")) as { version: string; keys: Record<string, string> };
        const ref = Object.values(CHARTS).find((c) => c.chart === chart)!;
        assert.strictEqual(
            recorded.version,
            ref.version,
            `${chart}: recorded keys are for ${recorded.version}, pinned ${ref.version}; rerun scripts/chart-keys.ts`,
        );
        return valuePaths(values).filter((p) => {
            if (recorded.keys[p]) return false;
            const parts = p.split(".");
            for (let i = parts.length - 1; i > 0; i--) {
                const prefix = parts.slice(0, i).join(".");
                if ((FREE_FORM[chart] ?? []).includes(prefix)) return false;
                const kind = recorded.keys[prefix];
                if (kind) return kind !== "open" && kind !== "list"; // inside a documented map: must be known
            }
            return true;
        });
    }

    it("sets only keys that exist in each pinned chart's values.yaml", async () => {
        const cfg = al2023Config();
        cfg.addons = { nvidiaDevicePlugin: { timeSlicingReplicas: 2 } };
        const run = await runStack(cfg);
        for (const ref of Object.values(CHARTS)) {
            assert.deepStrictEqual(unknownKeys(ref.chart, valuesOf(run, ref.chart)), [], ref.chart);
        }
    });

    it("catches a misspelt key (the check can fail)", () => {
        assert.deepStrictEqual(unknownKeys("keda", { prometheus: { operater: { enabled: true } } }), ["prometheus.operater", "prometheus.operater.enabled"]);
        assert.deepStrictEqual(unknownKeys("cluster-autoscaler", { extraArgs: { "any-flag": 1 }, autoDiscovery: { clustername: "x" } }), [
            "autoDiscovery.clustername",
        ]);
    });

    it("deepMerge replaces lists and scalars, merges maps, and leaves its inputs alone", () => {
        const base = { a: { b: 1, c: [1, 2] }, d: "x" };
        const merged = deepMerge(base, { a: { c: [3] }, e: true });
        assert.deepStrictEqual(merged, { a: { b: 1, c: [3] }, d: "x", e: true });
        assert.deepStrictEqual(base, { a: { b: 1, c: [1, 2] }, d: "x" });
    });
});
