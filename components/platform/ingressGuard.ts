/**
 * Keeps each team to its own host on the shared ALB. AWS Load Balancer Controller v3.5.0 warns
 * (docs/guide/ingress/annotations.md, IngressGroup): "other Kubernetes users may create/modify their
 * Ingresses to belong to the same IngressGroup, and can thus add more rules or overwrite existing rules
 * with higher priority": a team could route another team's host to its own gateway. The platform
 * therefore admits, in a team's namespace, only Ingresses of the platform's class whose every rule and
 * TLS entry names the team's registered host and that set no default backend (which would answer for
 * hosts no rule names). A ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, GA since
 * Kubernetes 1.30; CEL as in the Kubernetes docs "Validating Admission Policy"), one per team with its
 * host inlined: the team cannot edit it (cluster-scoped; EKS's namespace-scoped admin access writes
 * no cluster-scoped object).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { childOf } from "../deps";

export interface IngressGuardArgs {
    readonly namespace: string;
    readonly host: string;
    readonly ingressClassName: string;
}

/** The policy's validations: each a CEL expression over the admitted Ingress (`object`) and its message. */
function ingressGuardValidations(args: IngressGuardArgs): { expression: string; message: string }[] {
    const host = `'${args.host}'`;
    return [
        {
            expression: `has(object.spec.ingressClassName) && object.spec.ingressClassName == '${args.ingressClassName}'`,
            message: `a team's Ingress uses the platform's IngressClass '${args.ingressClassName}'`,
        },
        {
            expression: `!has(object.spec.rules) || object.spec.rules.all(r, has(r.host) && r.host == ${host})`,
            message: `every rule of this namespace's Ingresses names its host ${args.host} (a rule without a host answers for every host on the shared ALB)`,
        },
        {
            expression: `!has(object.spec.tls) || object.spec.tls.all(t, !has(t.hosts) || t.hosts.all(h, h == ${host}))`,
            message: `TLS entries name only ${args.host}`,
        },
        { expression: `!has(object.spec.defaultBackend)`, message: "no default backend: on the shared ALB it would answer for hosts no rule names" },
    ];
}

function ingressGuardSpec(args: IngressGuardArgs) {
    return {
        failurePolicy: "Fail",
        matchConstraints: {
            resourceRules: [{ apiGroups: ["networking.k8s.io"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["ingresses"] }],
            // The API server sets this label to the namespace's name; nobody can change it.
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": args.namespace } },
        },
        validations: ingressGuardValidations(args),
    };
}

export class IngressGuard extends pulumi.ComponentResource {
    constructor(name: string, args: IngressGuardArgs & { readonly policyName: string }, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:platform:IngressGuard", name, {}, opts);
        const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            `${name}-policy`,
            { metadata: { name: args.policyName }, spec: ingressGuardSpec(args) },
            childOf(this, opts),
        );
        new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            `${name}-binding`,
            { metadata: { name: args.policyName }, spec: { policyName: args.policyName, validationActions: ["Deny"] } },
            childOf(this, opts, [policy]),
        );
        this.registerOutputs({});
    }
}
