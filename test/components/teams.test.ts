/**
 * The lab platform and its three team stacks, rendered by the real program: what a team stack
 * creates (only its own, in its namespace), what the platform creates for each team (namespace,
 * quota, baseline policies), the shared pool, and that every object validates against its schema.
 */
import * as assert from "assert";
import { parseConfig } from "../../gateway/src/config";
import { PLATFORM_OUTPUT, PlatformOutputs } from "../../stacks/platformOutputs";
import { validateManifests } from "../helpers/k8sSchema";
import { placementGatewayOptions } from "../../components/serving";
import { ApiKey, gatewayConfig } from "../../components/serving/gatewayConfig";
import { sharedPlacement } from "../../components/platform";
import { teamPlacement } from "../../components/team";
import { parseStackConfig } from "../../stacks/validate";
import * as pulumi from "@pulumi/pulumi";
import { StackRun } from "../helpers/program";
import { TEAMS, exampleConfig, exampleRaw, platformOutputsOf, renderPlatform, renderTeam } from "../helpers/teams";

const inputs = (r: { inputs: unknown }) => r.inputs as any;
const isK8s = (t: string) => t.startsWith("kubernetes:") && !t.startsWith("kubernetes:helm.sh/") && !t.startsWith("pulumi:providers:");
/** Kubernetes kinds that are cluster-scoped (Kubernetes API reference: Namespace, StorageClass, IngressClass, ...). */
const CLUSTER_SCOPED = [
    "Namespace",
    "StorageClass",
    "IngressClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PriorityClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "IngressClassParams",
];

function manifests(run: StackRun): any[] {
    return run.resources.filter((r) => isK8s(r.type)).map((r) => inputs(r));
}

/**
 * A gateway's config as the stack writes it into its (secret) gateway-config Secret: the render
 * redacts secrets, so it is rebuilt with the functions the stack calls, from the same config.
 */
function teamGatewayConfig(team: string, platform: PlatformOutputs, keys?: ApiKey[]) {
    const cfg = parseStackConfig(exampleRaw(team), platform);
    return parseConfig(gatewayConfig(cfg, keys, placementGatewayOptions(teamPlacement(platform), platform.loadBalancerSourceCidrs)));
}

describe("a platform and its team stacks", function () {
    this.timeout(120_000);
    let lab: StackRun;
    let outputs: PlatformOutputs;
    const teams: Record<string, StackRun> = {};
    const KEYS: ApiKey[] = [
        { team: "biology-teachers", key: "teachers-key-0123456789abcdefghijklmnopqrstuv" },
        { team: "biology-students", key: "students-key-0123456789abcdefghijklmnopqrstuv", permissions: ["warmup"] },
    ];
    before(async () => {
        lab = await renderPlatform();
        outputs = platformOutputsOf(lab);
        for (const t of TEAMS) teams[t] = await renderTeam(exampleConfig(t), outputs, t === "biology" ? { gatewayApiKeys: JSON.stringify(KEYS) } : {});
    });

    it("a team stack has no VPC, cluster, node group, namespace or other cluster-scoped object", () => {
        for (const [team, run] of Object.entries(teams)) {
            const types = new Set(run.resources.map((r) => r.type));
            for (const t of types) {
                assert.doesNotMatch(
                    t,
                    /^aws:ec2\/|^eks:|^aws:eks\/(cluster|nodeGroup|addon|accessEntry|accessPolicyAssociation)|^aws:autoscaling|^aws:kms|^kubernetes:helm\.sh/,
                    `${team} creates a ${t}`,
                );
            }
            for (const m of manifests(run)) {
                assert.ok(!CLUSTER_SCOPED.includes(m.kind), `${team} creates the cluster-scoped ${m.kind} ${m.metadata.name}`);
                assert.strictEqual(m.metadata.namespace, team, `${team}'s ${m.kind} ${m.metadata.name} is outside its namespace`);
            }
            // It reads its platform through a StackReference, and builds its own kubeconfig (its own credentials).
            assert.deepStrictEqual(
                run.find("pulumi:pulumi:StackReference").map((r) => inputs(r).name),
                ["acme/gpuserve/lab"],
            );
            const provider = run.find("pulumi:providers:kubernetes");
            assert.strictEqual(provider.length, 1);
            const kubeconfig = JSON.parse(inputs(provider[0]).kubeconfig);
            assert.deepStrictEqual(kubeconfig.users[0].user.exec.args, [
                "eks",
                "get-token",
                "--cluster-name",
                "gpuserve-lab",
                "--region",
                "us-east-1",
                "--output",
                "json",
            ]);
            assert.strictEqual(kubeconfig.clusters[0].cluster.server, outputs.cluster.endpoint);
        }
    });

    it("the platform gives each team its namespace, quota, defaults and baseline policies, and protects the namespace", () => {
        const ms = manifests(lab);
        const want: Record<string, string> = { biology: "2", chemistry: "1", physics: "0" };
        for (const team of TEAMS) {
            const ns = lab.find("kubernetes:core/v1:Namespace").find((r) => inputs(r).metadata.name === team)!;
            assert.ok(ns, `no namespace ${team}`);
            assert.strictEqual(ns.options.protect, true, `${team}'s namespace is protected while the team is registered`);
            assert.strictEqual(inputs(ns).metadata.labels["gpuserve.io/platform"], "lab");
            assert.strictEqual(inputs(ns).metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
            const quota = ms.find((m) => m.kind === "ResourceQuota" && m.metadata.namespace === team);
            assert.strictEqual(quota.spec.hard["requests.nvidia.com/gpu"], want[team]);
            assert.ok(Number(quota.spec.hard["requests.cpu"]) > 0 && /^\d+Mi$/.test(quota.spec.hard["requests.memory"]), JSON.stringify(quota.spec.hard));
            assert.ok(ms.some((m) => m.kind === "LimitRange" && m.metadata.namespace === team));
            assert.deepStrictEqual(
                ms
                    .filter((m) => m.kind === "NetworkPolicy" && m.metadata.namespace === team)
                    .map((m) => m.metadata.name)
                    .sort(),
                ["allow-dns", "default-deny"],
            );
            assert.deepStrictEqual(outputs.teams[team].quota.gpus, Number(want[team]));
        }
        // biology's quota: 2 A10G workers (g5.xlarge: 2 CPU, 12 GiB each + 2 sidecars) + the serving footprint.
        // cpu: 2 x (2 + 0.1) + (4 x 0.25 + 2 x 0.05 + 0.1 + 0.25: the sync Job's download container) = 5.65;
        // memory: 2 x (12 + 0.25) + (4 x 256 + 2 x 32 + 2048 + 256) / 1024 = 27.8125 GiB.
        assert.deepStrictEqual(outputs.teams.biology.quota, { gpus: 2, cpu: 5.65, memoryGiB: 27.82 });
    });

    it("each team's pods, every one at its most replicas, fit the quota the platform gave it (requests as the quota counts them)", () => {
        const limitRange = manifests(lab).find((m) => m.kind === "LimitRange" && m.metadata.namespace === "biology").spec.limits[0];
        for (const [team, run] of Object.entries(teams)) {
            const ms = manifests(run);
            const scaled = new Map<string, number>(
                ms.filter((m) => m.kind === "ScaledObject").map((m) => [m.spec.scaleTargetRef.name, m.spec.maxReplicaCount]),
            );
            const total = { cpu: 0, memoryGiB: 0, gpus: 0 };
            for (const w of ms.filter((m) => ["Deployment", "StatefulSet", "Job"].includes(m.kind))) {
                const replicas = w.kind === "Job" ? 1 : (scaled.get(w.metadata.name) ?? w.spec.replicas ?? 1);
                const pod = podRequests(w.spec.template.spec, limitRange.defaultRequest);
                // Every container states its requests and memory limit: the LimitRange's defaults (a 512Mi limit) never decide.
                for (const c of [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers]) {
                    assert.ok(
                        c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory,
                        `${team}: ${w.metadata.name}/${c.name} leaves its resources to the LimitRange`,
                    );
                }
                total.cpu += replicas * pod.cpu;
                total.memoryGiB += replicas * pod.memoryGiB;
                total.gpus += replicas * pod.gpus;
            }
            const quota = outputs.teams[team].quota;
            assert.ok(total.gpus <= quota.gpus, `${team}: ${total.gpus} GPUs > quota ${quota.gpus}`);
            assert.ok(total.cpu <= quota.cpu + 1e-9, `${team}: ${total.cpu} CPU requested at most > quota ${quota.cpu}`);
            assert.ok(total.memoryGiB <= quota.memoryGiB + 1e-9, `${team}: ${total.memoryGiB.toFixed(2)} GiB requested at most > quota ${quota.memoryGiB}`);
            if (team === "biology") assert.strictEqual(total.gpus, quota.gpus, "biology's workers at their maximum use its 2 GPUs");
        }
    });

    it("a team's deploy and preview roles get EKS access to its namespace only, and the roles its stack creates carry its boundary", () => {
        const policies = lab.find("aws:eks/accessPolicyAssociation:AccessPolicyAssociation").map((r) => inputs(r));
        assert.deepStrictEqual(
            policies.map((p) => [p.principalArn.split("/").pop(), p.policyArn.split("/").pop(), p.accessScope]),
            [
                ["gpuserve-biology-deploy", "AmazonEKSAdminPolicy", { type: "namespace", namespaces: ["biology"] }],
                ["gpuserve-biology-preview", "AmazonEKSEditPolicy", { type: "namespace", namespaces: ["biology"] }],
            ],
        );
        const roles = teams.biology.find("aws:iam/role:Role").map((r) => inputs(r));
        assert.ok(roles.length >= 2, "the workers' and the sync Job's roles");
        for (const r of roles) assert.strictEqual(r.permissionsBoundary, "arn:aws:iam::123456789012:policy/gpuserve-biology-boundary", r.description);
        for (const r of teams.chemistry.find("aws:iam/role:Role").map((x) => inputs(x)))
            assert.strictEqual(r.permissionsBoundary, undefined, "chemistry registered no boundary");
    });

    it("a team leaving the platform (offboard) has its namespace unprotected, so the platform's next update may delete it", async () => {
        const cfg = exampleConfig("lab");
        cfg.teams.physics.offboard = true;
        const run = await renderPlatform(cfg);
        const protect = (r: StackRun, ns: string) => r.find("kubernetes:core/v1:Namespace").find((x) => inputs(x).metadata.name === ns)!.options.protect;
        assert.deepStrictEqual([protect(run, "physics"), protect(run, "biology")], [false, true]);
        assert.deepStrictEqual([protect(lab, "physics"), protect(lab, "biology")], [true, true]);
    });

    it("every team joins the platform's ALB through its IngressClass, with only the annotations an IngressGroup merges", () => {
        const params = manifests(lab).find((m) => m.kind === "IngressClassParams");
        assert.deepStrictEqual(params.spec.group, { name: "gpuserve-lab" });
        assert.deepStrictEqual(params.spec.namespaceSelector, { matchLabels: { "gpuserve.io/platform": "lab" } });
        assert.ok(params.spec.loadBalancerAttributes.some((a: any) => a.key === "idle_timeout.timeout_seconds" && a.value === "3720"));
        const klass = manifests(lab).find((m) => m.kind === "IngressClass");
        assert.deepStrictEqual(klass.spec, {
            controller: "ingress.k8s.aws/alb",
            parameters: { apiGroup: "elbv2.k8s.aws", kind: "IngressClassParams", name: "gpuserve-lab" },
        });
        for (const [team, run] of Object.entries(teams)) {
            const ing = manifests(run).find((m) => m.kind === "Ingress");
            assert.strictEqual(ing.spec.ingressClassName, "gpuserve-lab");
            assert.strictEqual(ing.spec.rules[0].host, `${team}.lab.example.org`);
            const annotations = Object.keys(ing.metadata.annotations).sort();
            assert.deepStrictEqual(annotations, [
                "alb.ingress.kubernetes.io/group.name",
                "alb.ingress.kubernetes.io/listen-ports",
                "alb.ingress.kubernetes.io/tags",
                "alb.ingress.kubernetes.io/target-type",
            ]);
        }
    });

    it("each team's gateway has its keys and limits; a shared pool goes to the platform's shared gateway with the team's key", () => {
        const bio = teamGatewayConfig("biology", outputs, KEYS);
        assert.deepStrictEqual(bio.limits.default, { maxConcurrent: 100, requestsPerMinute: 300 });
        assert.deepStrictEqual(bio.limits.teams["biology-students"], { maxConcurrent: 40, requestsPerMinute: 240 });
        assert.deepStrictEqual(bio.limits.teams["biology-teachers"], { maxConcurrent: 100, requestsPerMinute: 600 });
        assert.deepStrictEqual(bio.batch?.limits.teams["biology-students"].maxBatchesInProgress, 2);
        // biology-teachers: warmup granted by the team's limits; biology-students keeps its key's own.
        assert.deepStrictEqual(
            bio.auth?.keys.map((k) => [k.team, k.permissions]),
            [
                ["biology-teachers", ["warmup"]],
                ["biology-students", ["warmup"]],
            ],
        );
        assert.deepStrictEqual(bio.trustedProxies, outputs.loadBalancerSourceCidrs);
        assert.strictEqual(
            bio.keepAliveTimeoutSeconds,
            outputs.ingress.idleTimeoutSeconds + 5,
            "the gateway keeps connections open longer than the platform's ALB",
        );

        const physics = teamGatewayConfig("physics", outputs);
        assert.deepStrictEqual(
            physics.pools.map((p) => [p.name, p.dns, p.upstreamApiKeyEnv, p.maxConcurrentPerUpstream]),
            [["qwen3-vl-2b", "gateway.serving.svc.cluster.local:80", "GATEWAY_SHARED_POOL_KEY", undefined]],
        );
        assert.ok(physics.upstream.headersTimeoutSeconds > outputs.sharedPools[0].maxWaitSeconds, "waits for the shared gateway's hold");
        const gw = manifests(teams.physics).find((m) => m.kind === "Deployment" && m.metadata.name === "gateway");
        assert.deepStrictEqual(
            gw.spec.template.spec.containers[0].env.find((e: any) => e.name === "GATEWAY_SHARED_POOL_KEY"),
            { name: "GATEWAY_SHARED_POOL_KEY", valueFrom: { secretKeyRef: { name: "gpuserve-shared-pool-key", key: "key" } } },
        );
        assert.ok(!manifests(teams.physics).some((m) => m.metadata.name?.startsWith("worker-")), "physics runs no workers of its own");
        assert.deepStrictEqual(
            manifests(teams.physics).filter((m) => m.kind === "Job"),
            [],
            "nor syncs the shared model's weights: they are the platform's",
        );
        assert.deepStrictEqual(
            teams.physics.resources.filter((r) => r.type === "aws:s3/bucket:Bucket" || r.type === "aws:iam/role:Role").map((r) => r.name),
            [],
            "no bucket and no AWS role without workers of its own",
        );

        // The platform: the key's Secret in physics's namespace, the shared gateway's limits per team.
        const secret = manifests(lab).find((m) => m.kind === "Secret" && m.metadata.namespace === "physics");
        assert.strictEqual(secret.metadata.name, "gpuserve-shared-pool-key");
        const labCfg = parseStackConfig(exampleRaw("lab"));
        const place = sharedPlacement(labCfg, pulumi.output([]));
        const shared = parseConfig(
            gatewayConfig(
                labCfg,
                [{ team: "physics", key: "physics-shared-key-0123456789abcdefghijklmn", permissions: ["warmup"] }],
                placementGatewayOptions(place),
            ),
        );
        assert.deepStrictEqual(place.teamNamespaces, ["physics"]);
        assert.deepStrictEqual(
            shared.auth?.keys.map((k) => [k.team, k.permissions]),
            [["physics", ["warmup"]]],
        );
        assert.deepStrictEqual(shared.limits.teams.physics, { maxConcurrent: 40, requestsPerMinute: 600 });
        assert.ok(!manifests(lab).some((m) => m.kind === "Ingress"), "the shared gateway is not on the ALB");
    });

    it("a team's pools scale on its own gateway's series; the shared pool counts warm-ups of the teams allowed to warm it", () => {
        const scaler = manifests(teams.biology).find((m) => m.kind === "ScaledObject" && m.metadata.name === "worker-medgemma-1-5-4b");
        for (const t of scaler.spec.triggers.filter((x: any) => x.type === "prometheus")) {
            assert.match(t.metadata.query, /\{pool="medgemma-1-5-4b",namespace="biology"\}/, t.name);
            assert.strictEqual(t.metadata.serverAddress, outputs.prometheus.url);
        }
        const gw = manifests(teams.biology).find((m) => m.kind === "ScaledObject" && m.metadata.name === "gateway");
        assert.deepStrictEqual(
            gw.spec.triggers.map((t: any) => t.metadata.query),
            ['sum(gateway_inflight_requests{namespace="biology"}) or vector(0)', 'sum(rate(gateway_requests_total{namespace="biology"}[1m])) or vector(0)'],
        );
        const shared = manifests(lab).find((m) => m.kind === "ScaledObject" && m.metadata.name === "worker-qwen3-vl-2b");
        const warmup = shared.spec.triggers.find((t: any) => t.name === "warmup");
        assert.strictEqual(warmup.metadata.query, 'max(gateway_warmup_replicas{pool="qwen3-vl-2b",namespace=~"physics|serving"}) or vector(0)');
        const demand = shared.spec.triggers.find((t: any) => t.name === "demand");
        assert.match(demand.metadata.query, /gateway_queue_depth\{pool="qwen3-vl-2b",namespace="serving"\}/);
    });

    it("the platform exports its outputs; every object of the platform and the teams validates against its schema", async () => {
        assert.strictEqual((lab.outputs[PLATFORM_OUTPUT] as any).version, 1);
        assert.deepStrictEqual(Object.keys(outputs.teams), [...TEAMS]);
        await validateManifests([...manifests(lab), ...Object.values(teams).flatMap(manifests)]);
    });
});

/** "250m" -> 0.25, "2" -> 2. */
function cpuOf(q: string | number | undefined): number {
    if (q === undefined) return 0;
    const t = String(q);
    return t.endsWith("m") ? Number(t.slice(0, -1)) / 1000 : Number(t);
}

/** "256Mi" -> 0.25 (GiB), "12Gi" -> 12, bytes as a plain number. */
function gibOf(q: string | number | undefined): number {
    if (q === undefined) return 0;
    const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti)?$/.exec(String(q));
    if (!m) throw new Error(`unhandled quantity ${q}`);
    const unit = { Ki: 1 / 1024 ** 2, Mi: 1 / 1024, Gi: 1, Ti: 1024 }[m[2] as "Ki" | "Mi" | "Gi" | "Ti"] ?? 1 / 1024 ** 3;
    return Number(m[1]) * unit;
}

/**
 * A pod's requests as a ResourceQuota counts them (Kubernetes "Resource Management for Pods and Containers",
 * init containers and sidecars): the larger of any init container (plus the sidecars started before it) and
 * the app containers plus every sidecar (init containers with restartPolicy Always). A container without
 * requests gets the namespace LimitRange's defaultRequest.
 */
function podRequests(spec: any, defaults: Record<string, string>): { cpu: number; memoryGiB: number; gpus: number } {
    const of = (c: any) => {
        const r = c.resources?.requests ?? defaults;
        const lim = c.resources?.limits ?? {};
        return { cpu: cpuOf(r.cpu), memoryGiB: gibOf(r.memory), gpus: Number(r["nvidia.com/gpu"] ?? lim["nvidia.com/gpu"] ?? 0) };
    };
    const add = (a: any, b: any) => ({ cpu: a.cpu + b.cpu, memoryGiB: a.memoryGiB + b.memoryGiB, gpus: a.gpus + b.gpus });
    const max = (a: any, b: any) => ({ cpu: Math.max(a.cpu, b.cpu), memoryGiB: Math.max(a.memoryGiB, b.memoryGiB), gpus: Math.max(a.gpus, b.gpus) });
    const zero = { cpu: 0, memoryGiB: 0, gpus: 0 };
    let sidecars = zero;
    let init = zero;
    for (const c of spec.initContainers ?? []) {
        if (c.restartPolicy === "Always") sidecars = add(sidecars, of(c));
        else init = max(init, add(of(c), sidecars));
    }
    const app = (spec.containers as any[]).map(of).reduce(add, zero);
    return max(init, add(app, sidecars));
}
