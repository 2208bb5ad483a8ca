/**
 * The system node group sized from what runs on it (issue 25 point 6): the arithmetic on hand-summed
 * requests, the pods the plan really emits agreeing with the table, a platform growing with its teams,
 * and the floor's options priced.
 */
import * as assert from "assert";
import { floorOptions } from "../../capacity/cost";
import { natGatewayCount } from "../../capacity/cost";
import { ConfigError } from "../../stacks/errors";
import { allocatable, sizeSystemNodes } from "../../stacks/systemNodes";
import { parseStackConfig } from "../../stacks/validate";
import { exampleConfig, exampleRaw } from "../helpers/teams";
import { runStack } from "../helpers/program";

describe("system nodes sized from their pods' requests", function () {
    this.timeout(60_000);

    it("sums the dev stack's system pods and picks two c6i.large, with the arithmetic", () => {
        const dev = parseStackConfig(exampleRaw("dev"));
        const s = dev.systemNodes.sizing!;
        // CoreDNS 2 x 0.1, EBS CSI controller 2 x 0.06, KEDA 3 x 0.1, Prometheus 0.2 + reloader 0.2, its operator 0.1,
        // Cluster Autoscaler 0.1, LBC 2 x 0.1, gateway 0.25, UI 0.05, Valkey 0.1, sync Job 0.25 (its download container) = 2.07 CPU;
        // 2 x 70 + 2 x 240 + 3 x 100 + 1024 + 50 + 100 + 300 + 2 x 128 + 256 + 32 + 2048 + 256 = 5242 MiB; 16 pods.
        assert.deepStrictEqual(s.requests, { cpu: 2.07, memoryMiB: 5242, pods: 16 });
        // c6i.large: 2 vCPU - (6 % + 1 %) = 1.93 CPU; 4096 - (255 + 11 x 29 + 100) = 3422 MiB; 29 pods.
        assert.deepStrictEqual(allocatable("c6i.large"), { cpu: 1.93, memoryMiB: 3422, pods: 29 });
        // With 25 % headroom: 5242 x 1.25 = 6552.5 MiB over (3422 - 120 of DaemonSets) per node: 2 nodes; CPU 2.59 over 1.775: 2.
        assert.deepStrictEqual([dev.systemNodes.instanceTypes, dev.systemNodes.minSize, dev.systemNodes.maxSize], [["c6i.large"], 2, 4]);
        const t3 = s.candidates.find((c) => c.instanceType === "t3.large")!;
        assert.match(t3.why!, /^burstable: 2\.38 CPU requested > its 30 % baseline x 2 vCPU x 2 nodes/);
        assert.ok(
            s.candidates.find((c) => c.instanceType === "c6i.large")!.usdPerMonth < s.candidates.find((c) => c.instanceType === "m7i.large")!.usdPerMonth,
        );
        assert.match(s.arithmetic.join("\n"), /cheapest that fits: 2 x c6i\.large = \$124\.10\/month/);
    });

    it("a platform's system nodes grow with its teams (their gateways, UIs and batch stores run there)", () => {
        const lab = parseStackConfig(exampleRaw("lab"));
        const bare = exampleRaw("lab");
        bare.teams = {};
        const alone = parseStackConfig(bare);
        assert.strictEqual(lab.systemNodes.sizing!.requests.pods - alone.systemNodes.sizing!.requests.pods, 3 * 4, "4 pods per team");
        assert.strictEqual(lab.systemNodes.sizing!.requests.memoryMiB - alone.systemNodes.sizing!.requests.memoryMiB, 3 * (256 + 32 + 2048 + 256));
        assert.deepStrictEqual([lab.systemNodes.instanceTypes[0], lab.systemNodes.minSize], ["m6i.large", 3]);
        assert.ok(alone.systemNodes.minSize * 1 <= lab.systemNodes.minSize);
    });

    it("a configured type is kept and only sized; Graviton is refused with the reason", () => {
        const raw = exampleRaw("dev");
        raw.systemNodes = { instanceTypes: ["m7i.large"] };
        const dev = parseStackConfig(raw);
        assert.deepStrictEqual([dev.systemNodes.instanceTypes, dev.systemNodes.minSize], [["m7i.large"], 2]);
        raw.systemNodes = { instanceTypes: ["m7g.large"] };
        assert.throws(
            () => parseStackConfig(raw),
            (e: unknown) =>
                e instanceof ConfigError &&
                /gpuserve:systemNodes\.instanceTypes\[0\]: 'm7g\.large' is a Graviton \(arm64\) type, but the system node group runs the x86_64 AMI and the gateway image the stack builds is linux\/amd64 only/.test(
                    e.message,
                ),
        );
    });

    it("prices each of the floor's options against what the stack has", () => {
        const dev = parseStackConfig(exampleRaw("dev"));
        const options = floorOptions(dev, natGatewayCount(dev));
        const by = (re: RegExp) => options.find((o) => re.test(o.option))!;
        assert.deepStrictEqual(
            [by(/^system nodes sized/).usdPerMonth, by(/^system nodes sized/).insteadUsdPerMonth, by(/^system nodes sized/).taken],
            [124.1, 147.17, true],
        );
        // 8 endpoints x 2 AZs x $0.01 x 730 h = $116.80 against one NAT gateway's $32.85: not taken.
        assert.deepStrictEqual(
            [by(/interface VPC endpoints/).usdPerMonth, by(/interface VPC endpoints/).insteadUsdPerMonth, by(/interface VPC endpoints/).taken],
            [116.8, 32.85, false],
        );
        assert.deepStrictEqual([by(/on spot/).usdPerMonth, by(/on spot/).taken], [49.64, false]);
        assert.deepStrictEqual([by(/^Graviton/).usdPerMonth, by(/^Graviton/).taken], [119.14, false]);
    });

    it("the plan's system pods request what the sizing counted", async () => {
        const run = await runStack(exampleConfig("dev"));
        const requests = (name: string) => {
            const d = run.resources.find((r) => (r.inputs as any).metadata?.name === name && ["Deployment", "StatefulSet"].includes((r.inputs as any).kind));
            assert.ok(d, name);
            return (d.inputs as any).spec.template.spec.containers[0].resources.requests;
        };
        assert.deepStrictEqual(requests("gateway"), { cpu: "250m", memory: "256Mi" });
        assert.deepStrictEqual(requests("ui"), { cpu: "50m", memory: "32Mi" });
        assert.deepStrictEqual(requests("valkey"), { cpu: "100m", memory: "2048Mi" });
        const values = (chart: string) =>
            JSON.parse(JSON.stringify(run.resources.find((r) => r.type === "kubernetes:helm.sh/v3:Release" && (r.inputs as any).chart === chart)!.inputs))
                .values;
        assert.deepStrictEqual(values("cluster-autoscaler").resources, { requests: { cpu: "100m", memory: "300Mi" } });
        assert.deepStrictEqual(values("aws-load-balancer-controller").resources, { requests: { cpu: "100m", memory: "128Mi" } });
        const kps = values("kube-prometheus-stack");
        assert.deepStrictEqual(
            [kps.prometheusOperator.resources.requests, kps.prometheusOperator.prometheusConfigReloader.resources.requests],
            [
                { cpu: "100m", memory: "100Mi" },
                { cpu: "200m", memory: "50Mi" },
            ],
        );
        assert.deepStrictEqual(kps.prometheus.prometheusSpec.resources.requests, { cpu: "200m", memory: "1Gi" });
    });

    it("needs no sizing for a team stack (its platform's nodes), and falls back when nothing is priced in the region", () => {
        assert.strictEqual(sizeSystemNodes({ ...parseStackConfig(exampleRaw("dev")), region: "eu-south-2" }), undefined);
    });
});
