/**
 * A team's place on the platform, created by the platform from its registry (gpuserve:teams):
 * the namespace (Pod Security "restricted", labelled for the platform's IngressClass), its
 * ResourceQuota (GPUs, CPU, memory) and LimitRange, the baseline NetworkPolicies (default-deny,
 * DNS), the admission policy that keeps its Ingresses to its host (ingressGuard.ts), and the EKS
 * access of the team's deploy and preview roles, limited to the namespace.
 *
 * Why the platform and not the team stack: a quota the team's own credentials could edit would not
 * bound anything. EKS's AmazonEKSAdminPolicy and AmazonEKSEditPolicy map to Kubernetes' `admin` and
 * `edit` ClusterRoles, which write neither ResourceQuotas nor the namespace itself (Kubernetes RBAC
 * docs, "User-facing roles"; EKS user guide, "Review access policy permissions"), so the team stack
 * creates everything inside the namespace and nothing the quota depends on.
 *
 * The namespace is `protect`ed while the team is registered (Pulumi resource option `protect`:
 * "it will be an error to do a Pulumi deployment which tries to delete a protected resource"), so
 * `pulumi destroy` of a platform that still has teams stops, naming the team's namespace, before
 * anything is deleted. `offboard: true` lifts it; the entry's removal then deletes the namespace.
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { TeamRegistration } from "../../stacks/schema";
import { podSecurityLabels } from "../addons";
import { childOf } from "../deps";
import { baselinePolicySpecs } from "../serving/namespace";
import { TeamQuota } from "./teamQuota";
import { IngressGuard } from "./ingressGuard";

/** Labels of a team namespace: the platform's IngressClass admits only namespaces with PLATFORM_LABEL. */
export const TEAM_LABEL = "gpuserve.io/team";
export const PLATFORM_LABEL = "gpuserve.io/platform";

/** EKS access policies (EKS user guide, "Associate access policies with access entries"). */
const ACCESS_POLICIES = {
    deploy: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy",
    preview: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
} as const;

/** Defaults for a container that states no requests or limits (every container of this product does). */
const CONTAINER_DEFAULTS = { defaultRequest: { cpu: "100m", memory: "128Mi" }, default: { memory: "512Mi" } } as const;

export interface TeamSpaceArgs {
    readonly team: string;
    readonly namespace: string;
    /** The platform's environment (its IngressClass selects namespaces by it). */
    readonly platform: string;
    readonly registration: TeamRegistration;
    readonly quota: TeamQuota;
    readonly clusterName: pulumi.Input<string>;
    /** The platform's IngressClass: the team's Ingresses must use it, for its registered host only. */
    readonly ingressClassName: string;
}

/** The ResourceQuota's `hard`: GPUs, CPU and memory requests of all the team's pods together. */
function quotaHard(q: TeamQuota): Record<string, string> {
    return { "requests.nvidia.com/gpu": String(q.gpus), "requests.cpu": String(q.cpu), "requests.memory": `${Math.ceil(q.memoryGiB * 1024)}Mi` };
}

export class TeamSpace extends pulumi.ComponentResource {
    readonly namespace: k8s.core.v1.Namespace;

    constructor(name: string, args: TeamSpaceArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:platform:TeamSpace", name, {}, opts);
        const r = args.registration;
        const labels = {
            ...podSecurityLabels("restricted"),
            // Pods become Ready only once the ALB target is healthy, so rollouts never outrun the ALB.
            "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
            [TEAM_LABEL]: args.team,
            [PLATFORM_LABEL]: args.platform,
        };
        this.namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            { metadata: { name: args.namespace, labels } },
            { ...childOf(this, opts), protect: !r.offboard },
        );
        const inNs = childOf(this, opts, [this.namespace]);
        const meta = (n: string) => ({ name: n, namespace: args.namespace, labels: { [TEAM_LABEL]: args.team } });
        new k8s.core.v1.ResourceQuota(`${name}-quota`, { metadata: meta("team-quota"), spec: { hard: quotaHard(args.quota) } }, inNs);
        new k8s.core.v1.LimitRange(
            `${name}-limits`,
            { metadata: meta("team-defaults"), spec: { limits: [{ type: "Container", ...CONTAINER_DEFAULTS }] } },
            inNs,
        );
        for (const [policy, spec] of Object.entries(baselinePolicySpecs())) {
            new k8s.networking.v1.NetworkPolicy(`${name}-${policy}`, { metadata: meta(policy), spec }, inNs);
        }
        new IngressGuard(
            `${name}-ingress-guard`,
            { namespace: args.namespace, host: r.host, ingressClassName: args.ingressClassName, policyName: `gpuserve-${args.platform}-${args.team}-ingress` },
            childOf(this, opts),
        );
        const roles = [
            ["deploy", r.deployRoleArn],
            ["preview", r.previewRoleArn],
        ] as const;
        for (const [kind, principalArn] of roles) {
            if (!principalArn) continue;
            const entry = new aws.eks.AccessEntry(`${name}-${kind}`, { clusterName: args.clusterName, principalArn, type: "STANDARD" }, { parent: this });
            new aws.eks.AccessPolicyAssociation(
                `${name}-${kind}`,
                {
                    clusterName: args.clusterName,
                    principalArn,
                    policyArn: ACCESS_POLICIES[kind],
                    accessScope: { type: "namespace", namespaces: [args.namespace] },
                },
                { parent: this, dependsOn: [entry] },
            );
        }
        this.registerOutputs({});
    }
}
