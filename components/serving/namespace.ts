/**
 * The serving namespace: Pod Security "restricted" enforced for everything in it, and
 * default-deny NetworkPolicies (enforced by the VPC CNI's network policy agent) with
 * explicit allows:
 *   ALB (its subnets)    -> UI and gateway, port 8080
 *   gateway              -> workers, port 8000
 *   Prometheus           -> gateway and worker metrics ports
 *   workers              -> HTTPS anywhere (model download from Hugging Face)
 *   every pod            -> cluster DNS
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MONITORING_NAMESPACE, podSecurityLabels } from "../addons";
import { childOf } from "../deps";
import { GATEWAY_NAME, GATEWAY_PORT } from "./gateway";
import { UI_NAME, UI_PORT } from "./ui";
import { VLLM_PORT } from "./workers";

export interface ServingNamespaceArgs {
    readonly name: string;
    /**
     * Where ALB traffic comes from: the CIDRs of the subnets the internet-facing ALB lives in (the public
     * ones). Not the whole VPC: pods have VPC addresses (VPC CNI) and the CNI's policy agent matches ipBlock
     * against pod IPs too, so a VPC-wide rule let every pod of the cluster, any namespace, past the ALB.
     */
    readonly albSourceCidrs: pulumi.Input<string>[];
}

const app = (name: string) => ({ matchLabels: { "app.kubernetes.io/name": name } });
const workers = { matchLabels: { "app.kubernetes.io/component": "worker" } };
const tcp = (port: number) => ({ protocol: "TCP", port });

/** RFC 1918, carrier-grade NAT (RFC 6598) and link-local (169.254.169.254, the EKS Pod Identity agent). */
export const NON_PUBLIC_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"] as const;

/** The policies as plain specs (name -> spec), so tests can check them against Services. */
export function networkPolicySpecs(albSourceCidrs: pulumi.Input<string>[]): Record<string, k8s.types.input.networking.v1.NetworkPolicySpec> {
    const alb = albSourceCidrs.map((cidr) => ({ ipBlock: { cidr } }));
    const prometheus = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": MONITORING_NAMESPACE } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } } };
    return {
        "default-deny": { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
        "allow-dns": {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [
                {
                    to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
                    ports: [{ protocol: "UDP", port: 53 }, tcp(53)],
                },
            ],
        },
        "allow-alb-to-ui": { podSelector: app(UI_NAME), policyTypes: ["Ingress"], ingress: [{ from: alb, ports: [tcp(UI_PORT)] }] },
        "allow-alb-to-gateway": { podSelector: app(GATEWAY_NAME), policyTypes: ["Ingress"], ingress: [{ from: alb, ports: [tcp(GATEWAY_PORT)] }] },
        "allow-gateway-to-workers": {
            podSelector: workers,
            policyTypes: ["Ingress"],
            ingress: [{ from: [{ podSelector: app(GATEWAY_NAME) }], ports: [tcp(VLLM_PORT)] }],
        },
        "allow-gateway-egress-to-workers": {
            podSelector: app(GATEWAY_NAME),
            policyTypes: ["Egress"],
            egress: [{ to: [{ podSelector: workers }], ports: [tcp(VLLM_PORT)] }],
        },
        // Prometheus scrapes each component on its own metrics port only (one policy for both opened both ports on both).
        "allow-prometheus-scrape-gateway": { podSelector: app(GATEWAY_NAME), policyTypes: ["Ingress"], ingress: [{ from: [prometheus], ports: [tcp(GATEWAY_PORT)] }] },
        "allow-prometheus-scrape-workers": { podSelector: workers, policyTypes: ["Ingress"], ingress: [{ from: [prometheus], ports: [tcp(VLLM_PORT)] }] },
        // Model loading (Hugging Face Hub, S3) is public HTTPS. Nothing private: not the Kubernetes API, other
        // pods or VPC services, nor link-local (instance metadata) - a media URL must not reach them (issue 13).
        "allow-workers-https-egress": {
            podSelector: workers,
            policyTypes: ["Egress"],
            egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: [...NON_PUBLIC_RANGES] } }], ports: [tcp(443)] }],
        },
    };
}

export class ServingNamespace extends pulumi.ComponentResource {
    readonly namespace: k8s.core.v1.Namespace;

    constructor(name: string, args: ServingNamespaceArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:serving:Namespace", name, {}, opts);
        const labels = {
            ...podSecurityLabels("restricted"),
            // Pods become Ready only once the ALB target is healthy, so rollouts never outrun the ALB.
            "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
        };
        this.namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: args.name, labels } }, childOf(this, opts));
        for (const [policy, spec] of Object.entries(networkPolicySpecs(args.albSourceCidrs))) {
            new k8s.networking.v1.NetworkPolicy(`${name}-${policy}`, { metadata: { name: policy, namespace: args.name }, spec }, childOf(this, opts, [this.namespace]));
        }
        this.registerOutputs({});
    }
}
