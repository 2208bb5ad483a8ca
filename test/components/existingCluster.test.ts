/**
 * A team stack on an EKS cluster this program did not create (gpuserve:existingCluster, issue 25
 * point 7): no StackReference, the cluster looked up by name, workers on the node labels the config
 * names, its own ALB through the cluster's IngressClass, nothing outside its namespace, and the
 * plan saying which add-ons it expects there.
 */
import * as assert from "assert";
import { summarize } from "../../scripts/engine/plan";
import { ConfigError } from "../../stacks/errors";
import { parseStackConfig } from "../../stacks/validate";
import { existingClusterOutputs } from "../../stacks/existingCluster";
import { existingClusterSchema } from "../../stacks/schema";
import { runStack } from "../helpers/program";

const CONFIG = {
    "aws:region": "us-east-1",
    environment: "radiology",
    role: "team",
    tags: { team: "radiology" },
    existingCluster: {
        name: "university-eks",
        region: "us-east-1",
        namespace: "radiology",
        prometheusUrl: "http://prometheus.observability.svc.cluster.local:9090",
        prometheusNamespace: "observability",
        ingressClassName: "alb",
        loadBalancerSourceCidrs: ["10.20.0.0/22", "10.20.4.0/22"],
        vpcCidr: "10.20.0.0/16",
        gpuPools: [
            {
                name: "a10g",
                gpuType: "a10g",
                instanceTypes: ["g5.xlarge"],
                capacityType: "on-demand",
                maxNodes: 4,
                nodeSelector: { "node.university.edu/gpu": "a10g" },
                quota: 2,
            },
        ],
    },
    models: [{ id: "Qwen/Qwen3-VL-2B-Instruct", pool: "a10g", scaling: { maxReplicas: 2 } }],
    serving: { domain: "radiology.university.edu", allowInsecureHttp: true },
};

describe("a team stack on an existing cluster", function () {
    this.timeout(60_000);

    it("creates only namespaced objects and roles, reaches the cluster by name, and runs workers on the cluster's own labels", async () => {
        const run = await runStack(CONFIG);
        assert.deepStrictEqual(run.find("pulumi:pulumi:StackReference"), [], "no platform stack to read");
        assert.ok(run.calls.some((c) => c.token === "aws:eks/getCluster:getCluster" && c.inputs.name === "university-eks"));
        const k8s = run.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers:")).map((r) => r.inputs as any);
        for (const m of k8s) assert.strictEqual(m.metadata.namespace, "radiology", `${m.kind} ${m.metadata.name}`);
        assert.ok(!k8s.some((m) => m.kind === "Namespace" || m.kind === "ResourceQuota"), "the cluster's admins own the namespace and its quota");
        const worker = k8s.find((m) => m.kind === "Deployment" && m.metadata.name === "worker-qwen3-vl-2b");
        assert.deepStrictEqual(worker.spec.template.spec.nodeSelector, { "node.university.edu/gpu": "a10g" });
        const ingress = k8s.find((m) => m.kind === "Ingress");
        assert.strictEqual(ingress.spec.ingressClassName, "alb");
        assert.strictEqual(ingress.metadata.annotations["alb.ingress.kubernetes.io/group.name"], undefined, "an ALB of its own");
        assert.strictEqual(ingress.metadata.annotations["alb.ingress.kubernetes.io/scheme"], "internet-facing");
        const alb = k8s.find((m) => m.kind === "NetworkPolicy" && m.metadata.name === "allow-alb-to-gateway");
        assert.deepStrictEqual(
            alb.spec.ingress[0].from.map((f: any) => f.ipBlock.cidr),
            ["10.20.0.0/22", "10.20.4.0/22"],
        );
        const scrape = k8s.find((m) => m.kind === "NetworkPolicy" && m.metadata.name === "allow-prometheus-scrape-gateway");
        assert.deepStrictEqual(scrape.spec.ingress[0].from[0].namespaceSelector, { matchLabels: { "kubernetes.io/metadata.name": "observability" } });
        const scaler = k8s.find((m) => m.kind === "ScaledObject" && m.metadata.name === "worker-qwen3-vl-2b");
        assert.strictEqual(scaler.spec.triggers[0].metadata.serverAddress, "http://prometheus.observability.svc.cluster.local:9090");
        assert.match(scaler.spec.triggers[0].metadata.query, /namespace="radiology"/);
    });

    it("says which add-ons and objects it expects on the cluster, in the stack outputs and the plan's summary", async () => {
        const run = await runStack(CONFIG);
        const expects = run.outputs.expectsOnCluster as string[];
        assert.match(expects.join("\n"), /the namespace 'radiology', with a ResourceQuota on requests\.nvidia\.com\/gpu/);
        assert.match(expects.join("\n"), /KEDA >= 2\.15/);
        assert.match(expects.join("\n"), /IngressClass 'alb'/);
        assert.match(expects.join("\n"), /EKS Pod Identity Agent/);
        const text = summarize(
            {
                stack: "radiology",
                resources: run.resources,
                manifests: [],
                cost: { floorUsdPerMonth: 0, ceilingUsdPerMonth: 0, floor: [], ceiling: [], expected: null } as any,
                outputs: run.outputs,
                placeholders: [],
                warnings: [],
            },
            "plan/radiology",
        );
        assert.match(text, /\n {2}expects on the existing cluster \(it creates none of these\):\n {4}- the namespace 'radiology'/);
    });

    it("holds the team's pools to its GPUs on the cluster, and refuses a region other than the cluster's", () => {
        const raw = { ...CONFIG, region: "us-east-1" } as any;
        delete raw["aws:region"];
        raw.models = [{ id: "Qwen/Qwen3-VL-2B-Instruct", pool: "a10g", scaling: { maxReplicas: 3 } }];
        const ec = existingClusterSchema.parse(raw.existingCluster);
        assert.throws(
            () => parseStackConfig(raw, existingClusterOutputs(raw, ec)),
            (e: unknown) =>
                e instanceof ConfigError &&
                /gpuserve:models\[0\]\.scaling\.maxReplicas: the team's a10g worker pools may run 3 workers at once .* but its quota on platform 'existing cluster university-eks' is 2 a10g GPUs/.test(
                    e.message,
                ),
        );
        raw.models[0].scaling.maxReplicas = 2;
        // Not our launch templates: the pods stay on the node's volume even where auto would bind the instance store (p4de).
        const p4de = existingClusterSchema.parse({
            ...raw.existingCluster,
            gpuPools: [{ ...raw.existingCluster.gpuPools[0], name: "a100", gpuType: "a100-80gb", instanceTypes: ["p4de.24xlarge"] }],
        });
        assert.deepStrictEqual(
            existingClusterOutputs(raw, p4de).gpuPools.map((p) => p.podStorage),
            ["volume"],
        );
        assert.throws(
            () => existingClusterSchema.parse({ ...raw.existingCluster, gpuPools: [{ ...raw.existingCluster.gpuPools[0], podStorage: "instanceStore" }] }),
            /podStorage/,
        );
        raw.region = "us-west-2";
        assert.throws(
            () => parseStackConfig(raw, existingClusterOutputs(raw, ec)),
            (e: unknown) =>
                e instanceof ConfigError && /aws:region: is "us-west-2", but platform 'existing cluster university-eks' runs in us-east-1/.test(e.message),
        );
    });
});
