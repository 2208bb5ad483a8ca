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
import { GATEWAY_NAME, GATEWAY_PORT } from "./gatewayDeployment";
import { UI_NAME, UI_PORT } from "./ui";
import { VLLM_PORT } from "./workers";
import type { StackConfig } from "../../stacks/resolved";

export interface ServingNamespaceArgs {
    readonly name: string;
    /**
     * Where ALB traffic comes from: the CIDRs of the subnets the internet-facing ALB lives in (the public
     * ones). Not the whole VPC: pods have VPC addresses (VPC CNI) and the CNI's policy agent matches ipBlock
     * against pod IPs too, so a VPC-wide rule let every pod of the cluster, any namespace, past the ALB.
     */
    readonly albSourceCidrs: pulumi.Input<string>[];
    /** Other policies than a standalone stack's (a platform's shared pools). @default networkPolicySpecs(albSourceCidrs) */
    readonly specs?: PolicySpecs;
}

const app = (name: string) => ({ matchLabels: { "app.kubernetes.io/name": name } });
const workers = { matchLabels: { "app.kubernetes.io/component": "worker" } };
const tcp = (port: number) => ({ protocol: "TCP", port });

/** RFC 1918, carrier-grade NAT (RFC 6598) and link-local (169.254.169.254, the EKS Pod Identity agent). */
export const NON_PUBLIC_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"] as const;

type PolicySpecs = Record<string, k8s.types.input.networking.v1.NetworkPolicySpec>;

/** Every namespace of the product starts closed: nothing in or out but DNS. */
export function baselinePolicySpecs(): PolicySpecs {
    return {
        "default-deny": { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
        "allow-dns": {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [
                {
                    to: [
                        {
                            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                        },
                    ],
                    ports: [{ protocol: "UDP", port: 53 }, tcp(53)],
                },
            ],
        },
    };
}

/** The policies as plain specs (name -> spec), so tests can check them against Services. */
export function networkPolicySpecs(albSourceCidrs: pulumi.Input<string>[]): PolicySpecs {
    return { ...baselinePolicySpecs(), ...servingPolicySpecs({ albSources: albSourceCidrs }) };
}

export interface ServingPolicyOptions {
    /** Where ALB traffic comes from (ipBlocks): the ALB targets pod IPs directly. */
    readonly albSources: pulumi.Input<string>[];
    /** Namespace of the Prometheus that scrapes the gateway and workers. @default "monitoring" */
    readonly prometheusNamespace?: string;
    /** Workers run in the namespace. @default true */
    readonly workers?: boolean;
}

/** What a serving namespace opens on top of its baseline: the ALB to the UI and gateway, and what runs inside. */
function servingPolicySpecs(opts: ServingPolicyOptions): PolicySpecs {
    const alb = opts.albSources.map((cidr) => ({ ipBlock: { cidr } }));
    return {
        "allow-alb-to-ui": { podSelector: app(UI_NAME), policyTypes: ["Ingress"], ingress: [{ from: alb, ports: [tcp(UI_PORT)] }] },
        "allow-alb-to-gateway": { podSelector: app(GATEWAY_NAME), policyTypes: ["Ingress"], ingress: [{ from: alb, ports: [tcp(GATEWAY_PORT)] }] },
        ...internalPolicySpecs(opts.prometheusNamespace ?? MONITORING_NAMESPACE, opts.workers ?? true),
    };
}

/** Inside a serving namespace: gateway to workers, Prometheus scrapes, workers' model downloads (the worker rules only where workers run). */
function internalPolicySpecs(prometheusNamespace: string, withWorkers = true): PolicySpecs {
    const prometheus = {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": prometheusNamespace } },
        podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
    };
    const scrapeGateway = { podSelector: app(GATEWAY_NAME), policyTypes: ["Ingress"], ingress: [{ from: [prometheus], ports: [tcp(GATEWAY_PORT)] }] };
    // A team with only shared pools runs no workers: no rule for pods that never exist.
    if (!withWorkers) return { "allow-prometheus-scrape-gateway": scrapeGateway };
    return {
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
        "allow-prometheus-scrape-gateway": scrapeGateway,
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

/** The shared gateway's pods, seen from a team namespace. */
function sharedGateway(namespace: string) {
    return { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } }, podSelector: app(GATEWAY_NAME) };
}

/**
 * A team's namespace on a platform: the platform made its baseline (default-deny, DNS); the team
 * opens the ALB to its UI and gateway, its gateway to its workers, the platform's Prometheus to its
 * metrics, and, when it uses shared pools, its gateway to the platform's shared gateway.
 */
export function teamPolicySpecs(
    place: { readonly albSources: pulumi.Input<string>[]; readonly prometheusNamespace: string },
    cfg: Pick<StackConfig, "models">,
): PolicySpecs {
    const shared = [...new Set(cfg.models.flatMap((m) => (m.shared ? [m.shared.namespace] : [])))];
    return {
        ...servingPolicySpecs({ albSources: place.albSources, prometheusNamespace: place.prometheusNamespace, workers: cfg.models.some((m) => !m.shared) }),
        ...(shared.length > 0
            ? {
                  "allow-gateway-egress-to-shared-gateway": {
                      podSelector: app(GATEWAY_NAME),
                      policyTypes: ["Egress"],
                      egress: [{ to: shared.map(sharedGateway), ports: [tcp(GATEWAY_PORT)] }],
                  },
              }
            : {}),
    };
}

/** A platform's shared pools: not on the ALB; only the gateways of the teams that use them reach the shared gateway. */
export function sharedPolicySpecs(place: { readonly teamNamespaces: readonly string[]; readonly prometheusNamespace: string }): PolicySpecs {
    const teams = {
        namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [...place.teamNamespaces] }] },
        podSelector: app(GATEWAY_NAME),
    };
    return {
        ...baselinePolicySpecs(),
        ...(place.teamNamespaces.length > 0
            ? {
                  "allow-team-gateways-to-gateway": {
                      podSelector: app(GATEWAY_NAME),
                      policyTypes: ["Ingress"],
                      ingress: [{ from: [teams], ports: [tcp(GATEWAY_PORT)] }],
                  },
              }
            : {}),
        ...internalPolicySpecs(place.prometheusNamespace),
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
        for (const [policy, spec] of Object.entries(args.specs ?? networkPolicySpecs(args.albSourceCidrs))) {
            new k8s.networking.v1.NetworkPolicy(
                `${name}-${policy}`,
                { metadata: { name: policy, namespace: args.name }, spec },
                childOf(this, opts, [this.namespace]),
            );
        }
        this.registerOutputs({});
    }
}

/** NetworkPolicies added to a namespace someone else made (a team's, on a platform). */
export class ServingPolicies extends pulumi.ComponentResource {
    constructor(name: string, args: { readonly namespace: string; readonly specs: PolicySpecs }, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:serving:NetworkPolicies", name, {}, opts);
        for (const [policy, spec] of Object.entries(args.specs)) {
            new k8s.networking.v1.NetworkPolicy(`${name}-${policy}`, { metadata: { name: policy, namespace: args.namespace }, spec }, childOf(this, opts));
        }
        this.registerOutputs({});
    }
}
