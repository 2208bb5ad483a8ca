/**
 * The public entry: one ALB (AWS Load Balancer Controller) routing /v1 to the gateway and
 * everything else to the UI. HTTPS with the ACM certificate, HTTP redirected to HTTPS, a
 * modern TLS policy, and an idle timeout longer than the gateway may hold a request (a
 * held request sends no bytes until a worker answers). Plain HTTP only when the stack
 * explicitly allows it (dev).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ALB_INGRESS_CLASS } from "../addons/loadBalancerController";
import { childOf } from "../deps";
import { componentLabels } from "./security";

export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

export interface IngressArgs {
    readonly namespace: string;
    readonly domain?: string;
    readonly certificateArn?: string;
    readonly gatewayService: string;
    readonly uiService: string;
    /** The gateway's longest hold; the ALB must not cut a silent connection before it. */
    readonly maxWaitSeconds: number;
    readonly tags: Record<string, string>;
    /**
     * A team on a platform: the Ingress joins the platform's ALB through its IngressClass, whose
     * IngressClassParams hold the ALB-wide settings (components/platform/ingressClass.ts). @default its own ALB
     */
    readonly group?: { readonly className: string; readonly name: string; readonly tls: boolean };
    /** IngressClass of an ALB of its own (a team on an existing cluster). @default "alb" */
    readonly className?: string;
}

/**
 * A team's Ingress on the platform's ALB: only annotations whose MergeBehavior is "Merge" or "N/A"
 * (AWS Load Balancer Controller v3.5.0 docs/guide/ingress/annotations.md): listen-ports and tags
 * merge across the IngressGroup; the group comes from the class (the annotation states it too); the
 * Exclusive ones (scheme, attributes, TLS policy, redirect) are the platform's, on its IngressClassParams.
 */
function groupIngressAnnotations(group: NonNullable<IngressArgs["group"]>, tags: Record<string, string>, certificateArn?: string): Record<string, string> {
    return {
        // A team's own certificate is added to the listener's (certificate-arn merges, the ALB picks by SNI).
        ...(certificateArn ? { "alb.ingress.kubernetes.io/certificate-arn": certificateArn } : {}),
        "alb.ingress.kubernetes.io/group.name": group.name,
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/listen-ports": JSON.stringify(group.tls ? [{ HTTP: 80 }, { HTTPS: 443 }] : [{ HTTP: 80 }]),
        "alb.ingress.kubernetes.io/tags": Object.entries(tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(","),
    };
}

export function idleTimeoutSeconds(maxWaitSeconds: number): number {
    return Math.min(4000, maxWaitSeconds + 120); // ALB maximum is 4000 s
}

function ingressAnnotations(args: Pick<IngressArgs, "certificateArn" | "maxWaitSeconds" | "tags">): Record<string, string> {
    const tls = args.certificateArn !== undefined;
    const annotations: Record<string, string> = {
        "alb.ingress.kubernetes.io/scheme": "internet-facing",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/listen-ports": JSON.stringify(tls ? [{ HTTP: 80 }, { HTTPS: 443 }] : [{ HTTP: 80 }]),
        "alb.ingress.kubernetes.io/load-balancer-attributes": [
            `idle_timeout.timeout_seconds=${idleTimeoutSeconds(args.maxWaitSeconds)}`,
            "routing.http.drop_invalid_header_fields.enabled=true",
            "routing.http2.enabled=true",
        ].join(","),
        "alb.ingress.kubernetes.io/tags": Object.entries(args.tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(","),
    };
    if (tls) {
        annotations["alb.ingress.kubernetes.io/certificate-arn"] = args.certificateArn!;
        annotations["alb.ingress.kubernetes.io/ssl-policy"] = TLS_POLICY;
        annotations["alb.ingress.kubernetes.io/ssl-redirect"] = "443";
    }
    return annotations;
}

export class ServingIngress extends pulumi.ComponentResource {
    /** The ALB's DNS name, once the controller has created it. */
    readonly hostname: pulumi.Output<string | undefined>;

    constructor(name: string, args: IngressArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:serving:Ingress", name, {}, opts);
        const backend = (service: string) => ({ service: { name: service, port: { name: "http" } } });
        const ingress = new k8s.networking.v1.Ingress(
            `${name}-ingress`,
            {
                metadata: {
                    name: "gpuserve",
                    namespace: args.namespace,
                    labels: componentLabels("ingress"),
                    annotations: args.group ? groupIngressAnnotations(args.group, args.tags, args.certificateArn) : ingressAnnotations(args),
                },
                spec: {
                    ingressClassName: args.group?.className ?? args.className ?? ALB_INGRESS_CLASS,
                    rules: [
                        {
                            ...(args.domain ? { host: args.domain } : {}),
                            http: {
                                paths: [
                                    { path: "/v1", pathType: "Prefix", backend: backend(args.gatewayService) },
                                    { path: "/", pathType: "Prefix", backend: backend(args.uiService) },
                                ],
                            },
                        },
                    ],
                },
            },
            childOf(this, opts),
        );
        this.hostname = ingress.status.apply((s) => s?.loadBalancer?.ingress?.[0]?.hostname);
        this.registerOutputs({ hostname: this.hostname });
    }
}
