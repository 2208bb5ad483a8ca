/**
 * NetworkPolicies checked by what they allow (test/helpers/networkPolicy.ts, upstream semantics):
 * first the evaluator itself against the API's documented rules, then the policies the plan emits
 * for dev and prod, as the connections the issue lists (allowed and denied), and finally a
 * mutation test over every emitted policy: deleting it, widening any one of its peers, or dropping
 * any one rule's port list must change what is allowed somewhere in the cluster, so no policy is
 * dead weight to the tests and no widening goes unnoticed, however the policies change.
 */
import * as assert from "assert";
import { MONITORING_NAMESPACE } from "../../components/addons";
import { NON_PUBLIC_RANGES } from "../../components/serving/namespace";
import { VALKEY_PORT } from "../../components/serving/batchStore";
import { GATEWAY_PORT } from "../../components/serving/gatewayDeployment";
import { UI_PORT } from "../../components/serving/ui";
import { VLLM_PORT } from "../../components/serving/workers";
import { isKubernetesObject, manifestOf } from "../../scripts/engine/plan";
import {
    Endpoint,
    ExternalEndpoint,
    NetworkPolicy,
    PodEndpoint,
    Traffic,
    allowedSet,
    evaluate,
    inCidr,
    outsidePod,
    podsOf,
    policiesOf,
    selects,
    weakenings,
} from "../helpers/networkPolicy";
import { planSubnets } from "../../stacks/subnets";
import { parseStackConfig } from "../../stacks/validate";
import { runStack, stackConfig } from "../helpers/program";

const tcp = (port: number): Traffic => ({ port, protocol: "TCP" });
const udp = (port: number): Traffic => ({ port, protocol: "UDP" });
const pod = (name: string, namespace: string, labels: Record<string, string>, ip: string, ports: PodEndpoint["ports"] = []): PodEndpoint =>
    outsidePod(name, namespace, labels, ip, ports);
const ext = (name: string, ip: string): ExternalEndpoint => ({ kind: "external", name, ip });
const np = (namespace: string, name: string, spec: NetworkPolicy["spec"]): NetworkPolicy => ({ metadata: { namespace, name }, spec });

describe("NetworkPolicy evaluator (k8s.io/api networking/v1 semantics)", () => {
    const a = pod("a", "ns1", { app: "a" }, "10.0.1.1", [{ name: "http", containerPort: 8080 }]);
    const b = pod("b", "ns1", { app: "b" }, "10.0.1.2");
    const c = pod("c", "ns2", { app: "a" }, "10.0.2.1");
    const web = ext("internet", "203.0.113.5");

    it("allows everything with no policy, and a default-deny isolates both directions", () => {
        assert.strictEqual(evaluate([], a, b, tcp(80)).allowed, true);
        const deny = [np("ns1", "deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] })];
        const v = evaluate(deny, a, b, tcp(80));
        assert.deepStrictEqual([v.allowed, v.egress.isolated, v.ingress.isolated], [false, true, true]);
        assert.strictEqual(evaluate(deny, c, web, tcp(80)).allowed, true, "another namespace is not isolated");
    });

    it("defaults policyTypes to Ingress, plus Egress only with an egress section", () => {
        assert.strictEqual(evaluate([np("ns1", "p", { podSelector: {} })], a, web, tcp(443)).allowed, true, "no egress section: egress not isolated");
        assert.strictEqual(evaluate([np("ns1", "p", { podSelector: {}, egress: [] })], a, web, tcp(443)).allowed, false);
        assert.strictEqual(evaluate([np("ns1", "p", { podSelector: {} })], web, a, tcp(80)).allowed, false);
    });

    it("reads podSelector alone as the policy's namespace, namespaceSelector alone as whole namespaces, both as their intersection", () => {
        const only = (peer: any) => [np("ns1", "p", { podSelector: { matchLabels: { app: "b" } }, ingress: [{ from: [peer] }] })];
        assert.deepStrictEqual(
            [
                evaluate(only({ podSelector: { matchLabels: { app: "a" } } }), a, b, tcp(1)).allowed,
                evaluate(only({ podSelector: { matchLabels: { app: "a" } } }), c, b, tcp(1)).allowed,
            ],
            [true, false],
        );
        const ns2 = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ns2" } } };
        assert.deepStrictEqual([evaluate(only(ns2), c, b, tcp(1)).allowed, evaluate(only(ns2), a, b, tcp(1)).allowed], [true, false]);
        const both = { ...ns2, podSelector: { matchLabels: { app: "x" } } };
        assert.strictEqual(evaluate(only(both), c, b, tcp(1)).allowed, false);
        assert.strictEqual(evaluate(only({ namespaceSelector: {} }), c, b, tcp(1)).allowed, true, "an empty namespaceSelector selects every namespace");
        assert.strictEqual(evaluate(only({ podSelector: {} }), a, b, tcp(1)).allowed, true, "an empty podSelector selects every pod of the namespace");
        assert.strictEqual(evaluate(only({ podSelector: {} }), web, b, tcp(1)).allowed, false, "a pod peer never matches an external address");
    });

    it("matches ipBlock with except, for external addresses and pod IPs alike", () => {
        const p = [
            np("ns1", "p", {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "169.254.0.0/16"] } }] }],
            }),
        ];
        assert.strictEqual(evaluate(p, a, web, tcp(443)).allowed, true);
        assert.strictEqual(evaluate(p, a, ext("imds", "169.254.169.254"), tcp(80)).allowed, false);
        assert.strictEqual(evaluate(p, a, c, tcp(443)).allowed, false, "a pod's VPC address is in the except");
        assert.ok(inCidr("10.0.255.1", "10.0.0.0/16") && !inCidr("10.1.0.1", "10.0.0.0/16") && inCidr("1.2.3.4", "0.0.0.0/0"));
    });

    it("matches ports by protocol and number, ranges with endPort, and named ports on the destination pod", () => {
        const rule = (ports: any[]) => [np("ns1", "p", { podSelector: { matchLabels: { app: "a" } }, ingress: [{ ports }] })];
        assert.strictEqual(evaluate(rule([{ port: 8080 }]), b, a, tcp(8080)).allowed, true);
        assert.strictEqual(evaluate(rule([{ port: 8080 }]), b, a, udp(8080)).allowed, false, "protocol defaults to TCP");
        assert.strictEqual(evaluate(rule([{ port: 8000, endPort: 8100 }]), b, a, tcp(8050)).allowed, true);
        assert.strictEqual(evaluate(rule([{ port: 8000, endPort: 8100 }]), b, a, tcp(8101)).allowed, false);
        assert.strictEqual(evaluate(rule([{ port: "http" }]), b, a, tcp(8080)).allowed, true);
        assert.strictEqual(evaluate(rule([{ port: "http" }]), b, a, tcp(8081)).allowed, false);
        assert.strictEqual(evaluate(rule([{ protocol: "UDP" }]), b, a, udp(53)).allowed, true, "no port: every port of the protocol");
    });

    it("combines the rules of every policy selecting a pod additively, and reads matchExpressions", () => {
        const ps = [
            np("ns1", "deny", { podSelector: {}, policyTypes: ["Ingress"] }),
            np("ns1", "from-a", {
                podSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["b"] }] },
                ingress: [{ from: [{ podSelector: { matchLabels: { app: "a" } } }] }],
            }),
        ];
        const v = evaluate(ps, a, b, tcp(1));
        assert.deepStrictEqual([v.allowed, v.ingress.allowedBy], [true, ["ns1/from-a"]]);
        assert.strictEqual(evaluate(ps, b, a, tcp(1)).allowed, false);
        assert.ok(
            selects(
                {
                    matchExpressions: [
                        { key: "x", operator: "DoesNotExist" },
                        { key: "app", operator: "NotIn", values: ["c"] },
                    ],
                },
                { app: "a" },
            ),
        );
        assert.ok(!selects({ matchExpressions: [{ key: "app", operator: "Exists" }] }, {}));
    });
});

/**
 * The cluster a plan's policies govern: its own pods, the pods around them, and addresses outside.
 * Pods take addresses in the VPC's private subnets (planSubnets), the ALB in its public ones.
 */
function world(objects: any[], vpc: string, albSubnets: readonly string[]) {
    const policies = policiesOf(objects);
    const octets = vpc.split("/")[0].split(".").map(Number);
    const vpcIp = (third: number, fourth: number) => `${octets[0]}.${octets[1]}.${third}.${fourth}`;
    const own = podsOf(objects, (_n, i) => vpcIp(128, 10 + i));
    const named = (re: RegExp) => {
        const p = own.find((x) => re.test(x.name));
        assert.ok(p, `no pod ${re} in the plan: ${own.map((x) => x.name).join(", ")}`);
        return p;
    };
    const around = {
        prometheus: pod("prometheus-kps-0", MONITORING_NAMESPACE, { "app.kubernetes.io/name": "prometheus" }, vpcIp(129, 1), [
            { name: "http-web", containerPort: 9090 },
        ]),
        grafana: pod("grafana", MONITORING_NAMESPACE, { "app.kubernetes.io/name": "grafana" }, vpcIp(129, 2), [{ name: "http", containerPort: 3000 }]),
        coredns: pod("coredns", "kube-system", { "k8s-app": "kube-dns" }, vpcIp(129, 3), [
            { name: "dns", containerPort: 53, protocol: "UDP" },
            { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
        ]),
        lbc: pod("aws-load-balancer-controller", "kube-system", { "app.kubernetes.io/name": "aws-load-balancer-controller" }, vpcIp(129, 4), [
            { name: "webhook", containerPort: 9443 },
        ]),
        research: pod("notebook", "research", { app: "notebook" }, vpcIp(129, 5)),
        // Pods of another namespace wearing the labels the policies trust: a namespace check must stop them.
        fakeDns: pod("fake-dns", "research", { "k8s-app": "kube-dns" }, vpcIp(129, 6), [{ name: "dns", containerPort: 53, protocol: "UDP" }]),
        fakePrometheus: pod("fake-prometheus", "research", { "app.kubernetes.io/name": "prometheus" }, vpcIp(129, 7)),
    };
    const outside = {
        alb: ext("ALB (public subnet)", `${albSubnets[0].split("/")[0].split(".").slice(0, 3).join(".")}.20`),
        internet: ext("internet client", "203.0.113.7"),
        s3: ext("S3 (us-east-1)", "52.216.8.14"),
        hub: ext("huggingface.co", "18.239.50.1"),
        imds: ext("instance metadata", "169.254.169.254"),
        podIdentity: ext("EKS Pod Identity agent", "169.254.170.23"),
        apiServer: ext("Kubernetes API (private endpoint)", vpcIp(3, 44)),
    };
    const endpoints: Endpoint[] = [...own, ...Object.values(around), ...Object.values(outside)];
    const inAlbSubnet = (ip: string) => albSubnets.some((c) => inCidr(ip, c));
    assert.ok(
        inAlbSubnet(outside.alb.ip) && [...own, ...Object.values(around)].every((p) => inCidr(p.ip, vpc) && !inAlbSubnet(p.ip)),
        "pods in private subnets, the ALB in a public one",
    );
    return { policies, own, named, around, outside, endpoints, vpc, inAlbSubnet };
}

const PROBES: Traffic[] = [udp(53), ...[...new Set([53, 80, 443, 3000, VALKEY_PORT, VLLM_PORT, GATEWAY_PORT, UI_PORT, 9090, 9443])].map(tcp)];

const PUBLIC = (ip: string) => !NON_PUBLIC_RANGES.some((c) => inCidr(ip, c));
const role = (e: Endpoint) => (e.kind === "pod" && e.namespace === "serving" ? e.labels["app.kubernetes.io/component"] : undefined);

/**
 * The intended policy, written down independently of the code (docs/serving.md "NetworkPolicies"): for a
 * connection, whether the source's side lets it out and the destination's side lets it in. Only the
 * serving namespace is isolated; what the plan emits must equal this, side by side, on every probe.
 */
function intended(w: ReturnType<typeof world>, from: Endpoint, to: Endpoint, t: Traffic): { egress: boolean; ingress: boolean } {
    const tcpOn = (port: number) => (t.protocol ?? "TCP") === "TCP" && t.port === port;
    const isPod = (e: Endpoint, ns: string, labels: Record<string, string>) =>
        e.kind === "pod" && e.namespace === ns && Object.entries(labels).every(([k, v]) => e.labels[k] === v);
    const dns = isPod(to, "kube-system", { "k8s-app": "kube-dns" }) && t.port === 53;
    const prometheus = isPod(from, MONITORING_NAMESPACE, { "app.kubernetes.io/name": "prometheus" });
    const podIdentity = to.ip === "169.254.170.23" && tcpOn(80);
    let egress = true;
    switch (role(from)) {
        case "gateway":
            egress = dns || (role(to) === "worker" && tcpOn(VLLM_PORT)) || (role(to) === "batch-store" && tcpOn(VALKEY_PORT));
            break;
        case "worker":
        case "weights-sync":
            egress = dns || (PUBLIC(to.ip) && tcpOn(443)) || podIdentity;
            break;
        case undefined:
            break;
        default:
            egress = dns;
    }
    let ingress = true;
    switch (role(to)) {
        case "gateway":
            ingress = (w.inAlbSubnet(from.ip) || prometheus) && tcpOn(GATEWAY_PORT);
            break;
        case "ui":
            ingress = w.inAlbSubnet(from.ip) && tcpOn(UI_PORT);
            break;
        case "worker":
            ingress = (role(from) === "gateway" || prometheus) && tcpOn(VLLM_PORT);
            break;
        case "batch-store":
            ingress = role(from) === "gateway" && tcpOn(VALKEY_PORT);
            break;
        case undefined:
            break;
        default:
            ingress = false;
    }
    return { egress, ingress };
}

for (const stack of ["dev", "prod"] as const) {
    describe(`NetworkPolicies of ${stack}, by what they allow`, function () {
        this.timeout(60_000);
        let w: ReturnType<typeof world>;
        before(async () => {
            const run = await runStack(
                stackConfig(stack),
                stack === "prod"
                    ? {
                          hfToken: "hf_offlineTestTokenThatMustNeverLeak123",
                          gatewayApiKeys: JSON.stringify([{ team: "radiology", key: "radiology-key-that-must-never-leak-0123456789" }]),
                      }
                    : {},
            );
            const { "aws:region": region, ...rest } = stackConfig(stack);
            const cfg = parseStackConfig({ ...rest, region, environment: "test" });
            const subnets = planSubnets(cfg.network.vpcCidr, cfg.network.availabilityZoneCount);
            const albRule = run.resources
                .filter(isKubernetesObject)
                .map(manifestOf)
                .find((o: any) => o.kind === "NetworkPolicy" && o.metadata.name === "allow-alb-to-gateway") as any;
            assert.deepStrictEqual(
                albRule.spec.ingress[0].from.map((f: any) => f.ipBlock.cidr),
                subnets.publicCidrs,
                "the ALB rule names the public subnets, not the VPC",
            );
            w = world(run.resources.filter(isKubernetesObject).map(manifestOf), cfg.network.vpcCidr, subnets.publicCidrs);
        });
        const allowed = (from: Endpoint, to: Endpoint, t: Traffic) => evaluate(w.policies, from, to, t);
        const yes = (from: Endpoint, to: Endpoint, t: Traffic) =>
            assert.strictEqual(allowed(from, to, t).allowed, true, `${from.name} -> ${to.name} ${t.port}/${t.protocol ?? "TCP"} is denied`);
        const no = (from: Endpoint, to: Endpoint, t: Traffic) => {
            const v = allowed(from, to, t);
            assert.strictEqual(
                v.allowed,
                false,
                `${from.name} -> ${to.name} ${t.port}/${t.protocol ?? "TCP"} is allowed (egress by ${v.egress.allowedBy.join(", ") || "no policy"}, ingress by ${v.ingress.allowedBy.join(", ") || "no policy"})`,
            );
        };

        it("allows exactly the intended connections, side by side, among every endpoint on every probe port", () => {
            const diffs: string[] = [];
            for (const from of w.endpoints)
                for (const to of w.endpoints)
                    for (const t of PROBES) {
                        if (from === to) continue;
                        const v = allowed(from, to, t);
                        const want = intended(w, from, to, t);
                        const key = `${from.name} -> ${to.name} ${t.port}/${t.protocol}`;
                        if (v.egress.allowed !== want.egress)
                            diffs.push(
                                `egress ${key}: ${v.egress.allowed ? `allowed by ${v.egress.allowedBy.join(", ")}` : "denied"}, intended ${want.egress ? "allowed" : "denied"}`,
                            );
                        if (v.ingress.allowed !== want.ingress)
                            diffs.push(
                                `ingress ${key}: ${v.ingress.allowed ? `allowed by ${v.ingress.allowedBy.join(", ")}` : "denied"}, intended ${want.ingress ? "allowed" : "denied"}`,
                            );
                    }
            assert.deepStrictEqual(diffs, []);
        });

        it("isolates every pod of the serving namespace in both directions (default deny)", () => {
            for (const p of w.own) {
                const v = allowed(p, p, tcp(1));
                assert.deepStrictEqual([v.egress.isolated, v.ingress.isolated], [true, true], p.name);
                no(w.outside.internet, p, tcp(8080));
                no(w.around.research, p, tcp(9999));
            }
        });

        it("allows ALB -> gateway and UI, gateway -> workers and Valkey, Prometheus -> metrics ports, workers -> S3 over HTTPS and the Pod Identity agent, DNS for every pod", () => {
            const gateway = w.named(/^Deployment serving\/gateway$/);
            const ui = w.named(/^Deployment serving\/ui$/);
            const valkey = w.named(/^StatefulSet serving\/valkey$/);
            const workers = w.own.filter((p) => p.labels["app.kubernetes.io/component"] === "worker");
            assert.ok(workers.length >= 1);
            // A pod of any namespace, though in the VPC, is not the ALB.
            no(w.around.research, gateway, tcp(GATEWAY_PORT));
            no(w.around.research, ui, tcp(UI_PORT));
            yes(w.outside.alb, gateway, tcp(GATEWAY_PORT));
            yes(w.outside.alb, ui, tcp(UI_PORT));
            yes(gateway, valkey, tcp(VALKEY_PORT));
            yes(w.around.prometheus, gateway, tcp(GATEWAY_PORT));
            for (const worker of workers) {
                yes(gateway, worker, tcp(VLLM_PORT));
                yes(w.around.prometheus, worker, tcp(VLLM_PORT));
                yes(worker, w.outside.s3, tcp(443));
                yes(worker, w.outside.podIdentity, tcp(80));
            }
            for (const job of w.own.filter((p) => p.labels["app.kubernetes.io/component"] === "weights-sync")) {
                yes(job, w.outside.hub, tcp(443));
                yes(job, w.outside.s3, tcp(443));
                yes(job, w.outside.podIdentity, tcp(80));
            }
            for (const p of w.own) {
                yes(p, w.around.coredns, udp(53));
                yes(p, w.around.coredns, tcp(53));
                no(p, w.around.fakeDns, udp(53));
            }
        });

        it("denies workers -> gateway, UI -> workers, and anything -> Valkey but the gateway; workers reach no private address, no metadata, no plain HTTP", () => {
            const gateway = w.named(/^Deployment serving\/gateway$/);
            const ui = w.named(/^Deployment serving\/ui$/);
            const valkey = w.named(/^StatefulSet serving\/valkey$/);
            const workers = w.own.filter((p) => p.labels["app.kubernetes.io/component"] === "worker");
            for (const worker of workers) {
                no(worker, gateway, tcp(GATEWAY_PORT));
                no(ui, worker, tcp(VLLM_PORT));
                no(w.around.research, worker, tcp(VLLM_PORT));
                no(w.around.grafana, worker, tcp(VLLM_PORT));
                no(w.around.fakePrometheus, worker, tcp(VLLM_PORT));
                no(w.outside.internet, worker, tcp(VLLM_PORT));
                no(w.outside.alb, worker, tcp(VLLM_PORT));
                no(worker, w.outside.imds, tcp(80));
                no(worker, w.outside.apiServer, tcp(443));
                no(worker, w.outside.internet, tcp(80));
                for (const other of workers) if (other !== worker) no(worker, other, tcp(VLLM_PORT));
            }
            for (const from of w.endpoints.filter((e) => e !== gateway && e !== valkey)) no(from, valkey, tcp(VALKEY_PORT));
            no(ui, w.outside.internet, tcp(443));
            no(gateway, w.outside.internet, tcp(443));
            no(w.outside.internet, valkey, tcp(VALKEY_PORT));
        });

        it("changes what is allowed when any one policy is deleted, any one peer widened, or any one rule opened to every port", () => {
            const base = allowedSet(w.policies, w.endpoints, PROBES);
            const cases = weakenings(w.policies);
            assert.ok(cases.length > w.policies.length, `${cases.length} weakenings of ${w.policies.length} policies`);
            const unnoticed = cases.filter((c) => {
                const after = allowedSet(c.policies, w.endpoints, PROBES);
                return after.size === base.size && [...after].every((x) => base.has(x));
            });
            assert.deepStrictEqual(
                unnoticed.map((c) => c.what),
                [],
                "weakenings that change nothing: either the policy or peer is dead weight, or this test lacks an endpoint that shows the difference",
            );
        });
    });
}
