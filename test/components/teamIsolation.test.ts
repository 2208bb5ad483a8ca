/**
 * Teams on one platform, isolated by what their NetworkPolicies allow (issue 25 point 4), with the
 * evaluator of test/helpers/networkPolicy.ts (k8s.io/api networking/v1 semantics; ipBlock matches pod
 * IPs, as the VPC CNI agent does). The lab platform and its three teams are rendered by the real
 * program; their pods take addresses in the VPC's private subnets, the ALB one in a public subnet.
 */
import * as assert from "assert";
import { MONITORING_NAMESPACE } from "../../components/addons";
import { VALKEY_PORT } from "../../components/serving/batchStore";
import { GATEWAY_PORT } from "../../components/serving/gatewayDeployment";
import { UI_PORT } from "../../components/serving/ui";
import { VLLM_PORT } from "../../components/serving/workers";
import { isKubernetesObject, manifestOf } from "../../scripts/engine/plan";
import { PlatformOutputs } from "../../stacks/platformOutputs";
import {
    Endpoint,
    ExternalEndpoint,
    PodEndpoint,
    Traffic,
    allowedSet,
    evaluate,
    inCidr,
    outsidePod,
    podsOf,
    policiesOf,
    weakenings,
} from "../helpers/networkPolicy";
import { StackRun } from "../helpers/program";
import { TEAMS, exampleConfig, platformOutputsOf, renderPlatform, renderTeam } from "../helpers/teams";

const tcp = (port: number): Traffic => ({ port, protocol: "TCP" });
const udp = (port: number): Traffic => ({ port, protocol: "UDP" });
const ext = (name: string, ip: string): ExternalEndpoint => ({ kind: "external", name, ip });
const objects = (run: StackRun) => run.resources.filter(isKubernetesObject).map(manifestOf) as any[];

describe("teams on one platform, isolated by what their NetworkPolicies allow", function () {
    this.timeout(120_000);
    let platform: PlatformOutputs;
    let all: any[];
    let own: PodEndpoint[];
    let endpoints: Endpoint[];
    const around = {
        prometheus: outsidePod("prometheus-kps-0", MONITORING_NAMESPACE, { "app.kubernetes.io/name": "prometheus" }, "10.0.129.1"),
        grafana: outsidePod("grafana", MONITORING_NAMESPACE, { "app.kubernetes.io/name": "grafana" }, "10.0.129.2", [{ name: "http", containerPort: 3000 }]),
        coredns: outsidePod("coredns", "kube-system", { "k8s-app": "kube-dns" }, "10.0.129.3", [{ name: "dns", containerPort: 53, protocol: "UDP" }]),
        lbc: outsidePod("aws-load-balancer-controller", "kube-system", { "app.kubernetes.io/name": "aws-load-balancer-controller" }, "10.0.129.4", [
            { name: "webhook", containerPort: 9443 },
        ]),
        // A namespace no team owns, and a pod in biology's namespace wearing the shared gateway's labels.
        research: outsidePod("notebook", "research", { app: "notebook" }, "10.0.129.5"),
        bioImpostor: outsidePod("impostor", "biology", { "app.kubernetes.io/name": "gateway", "app.kubernetes.io/component": "gateway" }, "10.0.129.6"),
        // A pod a team adds to its namespace later (a notebook): default-deny covers it too.
        physicsNotebook: outsidePod("notebook", "physics", { app: "notebook" }, "10.0.129.9"),
        // Pods of another namespace wearing the labels the policies trust: the namespace check must stop them.
        fakeDns: outsidePod("fake-dns", "research", { "k8s-app": "kube-dns" }, "10.0.129.7", [{ name: "dns", containerPort: 53, protocol: "UDP" }]),
        fakePrometheus: outsidePod("fake-prometheus", "research", { "app.kubernetes.io/name": "prometheus" }, "10.0.129.8"),
    };
    const outside = {
        internet: ext("internet client", "203.0.113.7"),
        s3: ext("S3 (us-east-1)", "52.216.8.14"),
        hub: ext("huggingface.co", "18.239.50.1"),
        imds: ext("instance metadata", "169.254.169.254"),
        podIdentity: ext("EKS Pod Identity agent", "169.254.170.23"),
        apiServer: ext("Kubernetes API (private endpoint)", "10.0.3.44"),
    };
    let alb: ExternalEndpoint;

    before(async () => {
        const lab = await renderPlatform();
        platform = platformOutputsOf(lab);
        const teams: StackRun[] = [];
        for (const t of TEAMS) teams.push(await renderTeam(exampleConfig(t), platform));
        all = [...objects(lab), ...teams.flatMap(objects)];
        own = podsOf(all, (_n, i) => `10.0.128.${10 + i}`);
        alb = ext("ALB (public subnet)", `${platform.loadBalancerSourceCidrs[0].split("/")[0].split(".").slice(0, 3).join(".")}.20`);
        endpoints = [...own, ...Object.values(around), ...Object.values(outside), alb];
        assert.ok(
            platform.loadBalancerSourceCidrs.some((c) => inCidr(alb.ip, c)) && own.every((p) => !platform.loadBalancerSourceCidrs.some((c) => inCidr(p.ip, c))),
            "pods in private subnets, the ALB in a public one",
        );
    });

    const named = (name: string): PodEndpoint => {
        const p = own.find((x) => x.name === name);
        assert.ok(p, `no pod ${name}: ${own.map((x) => x.name).join(", ")}`);
        return p;
    };
    const gateway = (ns: string) => named(`Deployment ${ns}/gateway`);
    const workers = (ns: string) => own.filter((p) => p.namespace === ns && p.labels["app.kubernetes.io/component"] === "worker");
    const policies = () => policiesOf(all);
    const check = (want: boolean, from: Endpoint, to: Endpoint, t: Traffic) => {
        const v = evaluate(policies(), from, to, t);
        assert.strictEqual(
            v.allowed,
            want,
            `${from.name} -> ${to.name} ${t.port}/${t.protocol}: ${v.allowed ? `allowed (egress by ${v.egress.allowedBy.join(", ") || "no policy"}, ingress by ${v.ingress.allowedBy.join(", ") || "no policy"})` : "denied"}`,
        );
    };
    const yes = (from: Endpoint, to: Endpoint, t: Traffic) => check(true, from, to, t);
    const no = (from: Endpoint, to: Endpoint, t: Traffic) => check(false, from, to, t);

    it("isolates every pod of every team namespace and of the shared pools in both directions", () => {
        const namespaces = new Set(own.map((p) => p.namespace));
        assert.deepStrictEqual([...namespaces].sort(), ["biology", "chemistry", "physics", "serving"]);
        for (const p of own) {
            const v = evaluate(policies(), p, p, tcp(1));
            assert.deepStrictEqual([v.egress.isolated, v.ingress.isolated], [true, true], p.name);
        }
    });

    it("allows what each team needs: the ALB to its gateway and UI, its gateway to its workers and batch store, DNS, Prometheus, S3 over HTTPS", () => {
        for (const ns of TEAMS) {
            yes(alb, gateway(ns), tcp(GATEWAY_PORT));
            yes(alb, named(`Deployment ${ns}/ui`), tcp(UI_PORT));
            yes(around.prometheus, gateway(ns), tcp(GATEWAY_PORT));
            yes(gateway(ns), around.coredns, udp(53));
        }
        for (const ns of ["biology", "chemistry"]) {
            assert.ok(workers(ns).length > 0, ns);
            yes(gateway(ns), named(`StatefulSet ${ns}/valkey`), tcp(VALKEY_PORT));
            for (const w of workers(ns)) {
                yes(gateway(ns), w, tcp(VLLM_PORT));
                yes(around.prometheus, w, tcp(VLLM_PORT));
                yes(w, outside.s3, tcp(443));
                yes(w, outside.podIdentity, tcp(80));
            }
        }
    });

    it("a team's gateway reaches the shared gateway only when the platform shares a pool with it; only the shared gateway reaches the shared workers", () => {
        const shared = gateway("serving");
        yes(gateway("physics"), shared, tcp(GATEWAY_PORT));
        // The shared gateway's own ingress admits only the teams it serves (not relying on the other team's egress).
        for (const ns of ["biology", "chemistry"])
            assert.strictEqual(evaluate(policies(), gateway(ns), shared, tcp(GATEWAY_PORT)).ingress.allowed, false, `ingress ${ns} -> shared gateway`);
        no(gateway("biology"), shared, tcp(GATEWAY_PORT));
        no(gateway("chemistry"), shared, tcp(GATEWAY_PORT));
        no(named("Deployment physics/ui"), shared, tcp(GATEWAY_PORT));
        no(around.bioImpostor, shared, tcp(GATEWAY_PORT));
        no(alb, shared, tcp(GATEWAY_PORT));
        no(around.research, shared, tcp(GATEWAY_PORT));
        for (const w of workers("serving")) {
            yes(shared, w, tcp(VLLM_PORT));
            yes(around.prometheus, w, tcp(VLLM_PORT));
            no(gateway("physics"), w, tcp(VLLM_PORT));
        }
    });

    it("denies every connection between two teams: workers, gateway, UI and batch store", () => {
        const pairs: [string, string][] = [
            ["biology", "chemistry"],
            ["chemistry", "biology"],
            ["physics", "biology"],
            ["physics", "chemistry"],
        ];
        for (const [a, b] of pairs) {
            for (const from of own.filter((p) => p.namespace === a)) {
                for (const to of own.filter((p) => p.namespace === b)) {
                    for (const port of [GATEWAY_PORT, UI_PORT, VLLM_PORT, VALKEY_PORT]) no(from, to, tcp(port));
                }
            }
        }
        no(around.research, gateway("biology"), tcp(GATEWAY_PORT));
        no(around.physicsNotebook, gateway("biology"), tcp(GATEWAY_PORT));
        no(gateway("biology"), around.physicsNotebook, tcp(8888));
        no(outside.internet, gateway("biology"), tcp(GATEWAY_PORT));
        no(alb, workers("biology")[0], tcp(VLLM_PORT));
    });

    it("denies a team the platform's internals beyond DNS, and any private address, metadata or the API server from its workers", () => {
        for (const ns of TEAMS) {
            no(gateway(ns), around.grafana, tcp(3000));
            no(gateway(ns), around.lbc, tcp(9443));
            no(gateway(ns), outside.apiServer, tcp(443));
        }
        for (const w of [...workers("biology"), ...workers("chemistry")]) {
            no(w, outside.imds, tcp(80));
            no(w, outside.apiServer, tcp(443));
            no(w, around.prometheus, tcp(9090));
            no(w, gateway("serving"), tcp(GATEWAY_PORT));
        }
    });

    it("changes what is allowed when any one team or shared-pool policy is deleted, any one peer widened, or any one rule opened to every port", () => {
        const probes = [udp(53), ...[53, 80, 443, 3000, VALKEY_PORT, VLLM_PORT, GATEWAY_PORT, 9090, 9443].map(tcp)];
        const ps = policies();
        const base = allowedSet(ps, endpoints, probes);
        const cases = weakenings(ps);
        const unnoticed = cases.filter((c) => {
            const after = allowedSet(c.policies, endpoints, probes);
            return after.size === base.size && [...after].every((x) => base.has(x));
        });
        assert.deepStrictEqual(
            unnoticed.map((c) => c.what),
            [],
        );
    });
});
