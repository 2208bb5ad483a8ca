/**
 * The platform's IngressClass: every team's Ingress of this class joins one ALB (the class's
 * IngressGroup), and the ALB-wide settings are the platform's.
 *
 * AWS Load Balancer Controller v3.5.0 (docs/guide/ingress/ingress_class.md, annotations.md):
 *  - IngressClassParams `group.name`: "all Ingresses with this IngressClass will belong to the same
 *    IngressGroup specified and result in a single ALB";
 *  - `namespaceSelector`: "only Ingresses in selected namespaces can use IngressClasses with this
 *    parameter": only the platform's team namespaces (a team cannot label its namespace: the platform
 *    owns it);
 *  - annotations of MergeBehavior "Exclusive" (scheme, load-balancer-attributes, ssl-policy,
 *    ssl-redirect) fail the whole IngressGroup when two Ingresses disagree: the platform sets them
 *    here once (scheme, loadBalancerAttributes, sslPolicy, sslRedirectPort, certificateArn,
 *    targetType, tags), and a team's Ingress carries only its rules and "Merge" annotations.
 * Field names and types: config/crd/bases/elbv2.k8s.aws_ingressclassparams.yaml at v3.5.0.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { childOf } from "../deps";
import { TLS_POLICY, idleTimeoutSeconds } from "../serving/ingress";
import { PLATFORM_LABEL } from "./teamSpace";
import { MAX_HOLD_SECONDS } from "../../stacks/schema";

/** The controller name of the AWS Load Balancer Controller's IngressClasses. */
const ALB_CONTROLLER = "ingress.k8s.aws/alb";

export interface PlatformIngressClassArgs {
    /** The platform's environment: class, group and namespace selector. */
    readonly platform: string;
    readonly certificateArn?: string;
    readonly tags: Record<string, string>;
}

/**
 * The shared ALB's idle timeout: above the longest hold any team's gateway may choose (each team picks
 * its own serving.gateway.maxWaitSeconds, up to MAX_HOLD_SECONDS), so the ALB never cuts a held
 * request; team gateways keep connections open 5 s longer still (gatewayConfig.ts).
 */
export function platformIdleTimeoutSeconds(): number {
    return idleTimeoutSeconds(MAX_HOLD_SECONDS);
}

function ingressClassName(platform: string): string {
    return `gpuserve-${platform}`;
}

function ingressClassParamsSpec(args: PlatformIngressClassArgs): Record<string, unknown> {
    const tls = args.certificateArn !== undefined;
    return {
        group: { name: ingressClassName(args.platform) },
        namespaceSelector: { matchLabels: { [PLATFORM_LABEL]: args.platform } },
        scheme: "internet-facing",
        targetType: "ip",
        loadBalancerAttributes: [
            { key: "idle_timeout.timeout_seconds", value: String(platformIdleTimeoutSeconds()) },
            { key: "routing.http.drop_invalid_header_fields.enabled", value: "true" },
            { key: "routing.http2.enabled", value: "true" },
        ],
        tags: Object.entries(args.tags).map(([key, value]) => ({ key, value })),
        ...(tls ? { certificateArn: [args.certificateArn], sslPolicy: TLS_POLICY, sslRedirectPort: "443" } : {}),
    };
}

export class PlatformIngressClass extends pulumi.ComponentResource {
    readonly className: string;

    constructor(name: string, args: PlatformIngressClassArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:platform:IngressClass", name, {}, opts);
        this.className = ingressClassName(args.platform);
        const params = new k8s.apiextensions.CustomResource(
            `${name}-params`,
            { apiVersion: "elbv2.k8s.aws/v1beta1", kind: "IngressClassParams", metadata: { name: this.className }, spec: ingressClassParamsSpec(args) },
            childOf(this, opts),
        );
        new k8s.networking.v1.IngressClass(
            `${name}-class`,
            {
                metadata: { name: this.className },
                spec: { controller: ALB_CONTROLLER, parameters: { apiGroup: "elbv2.k8s.aws", kind: "IngressClassParams", name: this.className } },
            },
            childOf(this, opts, [params]),
        );
        this.registerOutputs({});
    }
}
