/**
 * A NetworkPolicy evaluator with the upstream semantics, for tests that check emitted policies by
 * what they allow rather than by their names (issue 22; reused for team-namespace isolation).
 *
 * Semantics, from the field comments of k8s.io/api networking/v1 types.go (kubernetes/api, read at
 * commit 1ff85247) and metav1 LabelSelector:
 * - A pod is isolated for ingress (egress) when some policy in its namespace selects it
 *   (spec.podSelector; empty selects every pod of the namespace) and has that direction in its
 *   policyTypes. policyTypes absent: Ingress always, Egress only when the policy has an egress section.
 * - Traffic between two endpoints is allowed when the source's egress allows it AND the
 *   destination's ingress allows it. Each direction allows it when not isolated, or when at least
 *   one rule of one policy selecting the pod for that direction matches ("combined additively").
 *   A policy with no rules for a direction only isolates.
 * - A rule matches when its peers match (from/to absent or empty: every peer) AND its ports match
 *   (absent or empty: every port).
 * - A peer: podSelector alone selects pods of the policy's own namespace; namespaceSelector alone
 *   every pod of the selected namespaces; both, the pods matching podSelector in those namespaces;
 *   empty selectors select everything; ipBlock an address in `cidr` and in none of `except`.
 *   ipBlock also matches pods by their IP: the spec leaves pod IPs implementation-defined, and the
 *   VPC CNI's network policy agent (eBPF on IP prefixes) does match them, so this evaluator does.
 * - A port: protocol (default TCP) AND port; no port: every port; `endPort`: the range port..endPort;
 *   a named port matches the destination pod's container port of that name and protocol.
 * Not modelled: traffic from the pod's own node (always allowed upstream), IPv6, SCTP specifics.
 *
 * API (small on purpose):
 *   evaluate(policies, from, to, { port, protocol }) -> Verdict   one connection
 *   selects(selector, labels)                                       metav1 LabelSelector semantics
 *   policiesOf(objects) / podsOf(objects, opts)                     from rendered Kubernetes objects
 */

export interface LabelSelector {
    readonly matchLabels?: Readonly<Record<string, string>>;
    readonly matchExpressions?: ReadonlyArray<{
        readonly key: string;
        readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
        readonly values?: readonly string[];
    }>;
}

export interface PolicyPeer {
    readonly podSelector?: LabelSelector;
    readonly namespaceSelector?: LabelSelector;
    readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] };
}

export interface PolicyPort {
    readonly protocol?: string;
    readonly port?: number | string;
    readonly endPort?: number;
}

export interface NetworkPolicy {
    readonly metadata: { readonly name: string; readonly namespace: string };
    readonly spec: {
        readonly podSelector?: LabelSelector;
        readonly policyTypes?: readonly string[];
        readonly ingress?: ReadonlyArray<{ readonly from?: readonly PolicyPeer[]; readonly ports?: readonly PolicyPort[] }>;
        readonly egress?: ReadonlyArray<{ readonly to?: readonly PolicyPeer[]; readonly ports?: readonly PolicyPort[] }>;
    };
}

export interface PodEndpoint {
    readonly kind: "pod";
    /** For messages, e.g. "Deployment serving/gateway". */
    readonly name: string;
    readonly namespace: string;
    /** The namespace's labels (kubernetes.io/metadata.name included). */
    readonly namespaceLabels: Readonly<Record<string, string>>;
    readonly labels: Readonly<Record<string, string>>;
    readonly ip: string;
    /** Container ports, for named ports in policies. */
    readonly ports?: ReadonlyArray<{ readonly name?: string; readonly containerPort: number; readonly protocol?: string }>;
}

export interface ExternalEndpoint {
    readonly kind: "external";
    readonly name: string;
    readonly ip: string;
}

export type Endpoint = PodEndpoint | ExternalEndpoint;

export interface Traffic {
    readonly port: number;
    /** @default "TCP" */
    readonly protocol?: "TCP" | "UDP" | "SCTP";
}

export interface DirectionVerdict {
    /** Some policy selects the pod for this direction. */
    readonly isolated: boolean;
    /** Policies with a rule that matched. */
    readonly allowedBy: string[];
    readonly allowed: boolean;
}

export interface Verdict {
    readonly allowed: boolean;
    readonly egress: DirectionVerdict;
    readonly ingress: DirectionVerdict;
}

/** metav1 LabelSelector: matchLabels AND every matchExpression; an empty selector selects everything. */
export function selects(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
    for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
    for (const e of selector.matchExpressions ?? []) {
        const has = Object.prototype.hasOwnProperty.call(labels, e.key);
        const ok =
            e.operator === "In"
                ? has && (e.values ?? []).includes(labels[e.key])
                : e.operator === "NotIn"
                  ? !has || !(e.values ?? []).includes(labels[e.key])
                  : e.operator === "Exists"
                    ? has
                    : !has;
        if (!ok) return false;
    }
    return true;
}

function ipv4(ip: string): number {
    const parts = ip.split(".").map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${ip}`);
    return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

/** An IPv4 address inside a CIDR. */
export function inCidr(ip: string, cidr: string): boolean {
    const [base, bits] = cidr.split("/");
    const n = Number(bits);
    const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
    return (ipv4(ip) & mask) >>> 0 === (ipv4(base) & mask) >>> 0;
}

function policyTypes(p: NetworkPolicy): string[] {
    if (p.spec.policyTypes && p.spec.policyTypes.length > 0) return [...p.spec.policyTypes];
    return p.spec.egress !== undefined ? ["Ingress", "Egress"] : ["Ingress"];
}

function peerMatches(peer: PolicyPeer, policyNamespace: string, other: Endpoint): boolean {
    if (peer.ipBlock) return inCidr(other.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(other.ip, c));
    if (other.kind !== "pod") return false;
    if (peer.namespaceSelector) {
        if (!selects(peer.namespaceSelector, other.namespaceLabels)) return false;
    } else if (other.namespace !== policyNamespace) return false;
    return peer.podSelector ? selects(peer.podSelector, other.labels) : true;
}

function portMatches(p: PolicyPort, t: Traffic, destination: Endpoint): boolean {
    if ((p.protocol ?? "TCP") !== (t.protocol ?? "TCP")) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === "number") return t.port >= p.port && t.port <= (p.endPort ?? p.port);
    // A named port is the destination pod's container port of that name and protocol.
    if (destination.kind !== "pod") return false;
    return (destination.ports ?? []).some((cp) => cp.name === p.port && (cp.protocol ?? "TCP") === (t.protocol ?? "TCP") && cp.containerPort === t.port);
}

function direction(
    policies: readonly NetworkPolicy[],
    self: Endpoint,
    other: Endpoint,
    t: Traffic,
    dir: "Ingress" | "Egress",
    destination: Endpoint,
): DirectionVerdict {
    if (self.kind !== "pod") return { isolated: false, allowedBy: [], allowed: true };
    const selecting = policies.filter(
        (p) => p.metadata.namespace === self.namespace && selects(p.spec.podSelector ?? {}, self.labels) && policyTypes(p).includes(dir),
    );
    const allowedBy = selecting
        .filter((p) => {
            const rules =
                dir === "Ingress"
                    ? (p.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports }))
                    : (p.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
            return rules.some(
                (r) =>
                    (!r.peers || r.peers.length === 0 || r.peers.some((peer) => peerMatches(peer, p.metadata.namespace, other))) &&
                    (!r.ports || r.ports.length === 0 || r.ports.some((port) => portMatches(port, t, destination))),
            );
        })
        .map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
    return { isolated: selecting.length > 0, allowedBy, allowed: selecting.length === 0 || allowedBy.length > 0 };
}

/** One connection from `from` to `to` on a port: allowed only if the source's egress and the destination's ingress allow it. */
export function evaluate(policies: readonly NetworkPolicy[], from: Endpoint, to: Endpoint, traffic: Traffic): Verdict {
    const egress = direction(policies, from, to, traffic, "Egress", to);
    const ingress = direction(policies, to, from, traffic, "Ingress", to);
    return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}

// --- rendered objects -> policies and endpoints -------------------------------------------------------------

/** The NetworkPolicy objects among rendered Kubernetes objects (manifests). */
export function policiesOf(objects: readonly any[]): NetworkPolicy[] {
    return objects
        .filter((o) => o?.kind === "NetworkPolicy")
        .map((o) => ({ metadata: { name: o.metadata.name, namespace: o.metadata.namespace }, spec: o.spec }));
}

/**
 * One pod endpoint per pod template (Deployment, StatefulSet, DaemonSet, Job), with the labels of its
 * namespace (the emitted Namespace object's, plus kubernetes.io/metadata.name, which the API server sets)
 * and an IP from `ipFor` (pods take VPC addresses with the VPC CNI).
 */
export function podsOf(objects: readonly any[], ipFor: (name: string, index: number) => string): PodEndpoint[] {
    const nsLabels = new Map<string, Record<string, string>>(
        objects.filter((o) => o?.kind === "Namespace").map((o) => [o.metadata.name, o.metadata.labels ?? {}]),
    );
    return objects
        .filter((o) => ["Deployment", "StatefulSet", "DaemonSet", "Job"].includes(o?.kind) && o.spec?.template)
        .map((o, i) => {
            const pod = o.spec.template;
            const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
            return {
                kind: "pod" as const,
                name: `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`,
                namespace: o.metadata.namespace,
                namespaceLabels: { ...(nsLabels.get(o.metadata.namespace) ?? {}), "kubernetes.io/metadata.name": o.metadata.namespace },
                labels: pod.metadata?.labels ?? {},
                ip: ipFor(o.metadata.name, i),
                ports: containers.flatMap((c: any) => c.ports ?? []),
            };
        });
}

/** A pod of a namespace the plan does not create (kube-system, monitoring, a team's), for tests. */
export function outsidePod(name: string, namespace: string, labels: Record<string, string>, ip: string, ports: PodEndpoint["ports"] = []): PodEndpoint {
    return { kind: "pod", name: `${namespace}/${name}`, namespace, namespaceLabels: { "kubernetes.io/metadata.name": namespace }, labels, ip, ports };
}

// --- mutation testing of policies (issue 22; team isolation, issue 25) ---------------------------------------

/**
 * What each side allows among the endpoints on the probe ports: "egress from -> to port/proto" when the
 * source's policies let it out, "ingress ..." when the destination's let it in. Per side, not only the
 * conjunction, so widening one side is seen even while the other side still blocks (defence in depth).
 */
export function allowedSet(policies: readonly NetworkPolicy[], endpoints: readonly Endpoint[], probes: readonly Traffic[]): Set<string> {
    const out = new Set<string>();
    for (const from of endpoints)
        for (const to of endpoints)
            for (const t of probes) {
                if (from === to) continue;
                const v = evaluate(policies, from, to, t);
                const key = `${from.name} -> ${to.name} ${t.port}/${t.protocol}`;
                if (v.egress.allowed) out.add(`egress ${key}`);
                if (v.ingress.allowed) out.add(`ingress ${key}`);
            }
    return out;
}

/** Every way to make one policy weaker: delete it, widen one peer of one rule, drop one rule's port list. */
export function weakenings(policies: readonly NetworkPolicy[]): Array<{ what: string; policies: NetworkPolicy[] }> {
    const out: Array<{ what: string; policies: NetworkPolicy[] }> = [];
    const clone = (x: NetworkPolicy[]) => JSON.parse(JSON.stringify(x)) as any[];
    policies.forEach((p, i) => {
        const id = `${p.metadata.namespace}/${p.metadata.name}`;
        out.push({ what: `delete ${id}`, policies: policies.filter((_, j) => j !== i) });
        for (const dir of ["ingress", "egress"] as const) {
            const rules: any[] = (p.spec as any)[dir] ?? [];
            rules.forEach((rule, r) => {
                const peersKey = dir === "ingress" ? "from" : "to";
                (rule[peersKey] ?? []).forEach((peer: any, k: number) => {
                    const wider: any[] = [];
                    if (peer.ipBlock?.except?.length) wider.push({ label: "drop except", peer: { ipBlock: { cidr: peer.ipBlock.cidr } } });
                    if (peer.ipBlock && peer.ipBlock.cidr !== "0.0.0.0/0")
                        wider.push({ label: "cidr 0.0.0.0/0", peer: { ipBlock: { ...peer.ipBlock, cidr: "0.0.0.0/0" } } });
                    if (peer.podSelector && Object.keys(peer.podSelector).length > 0) {
                        const { podSelector: _drop, ...rest } = peer;
                        wider.push({ label: "podSelector {}", peer: { ...rest, podSelector: {} } });
                    }
                    if (peer.namespaceSelector && Object.keys(peer.namespaceSelector).length > 0)
                        wider.push({ label: "namespaceSelector {}", peer: { ...peer, namespaceSelector: {} } });
                    for (const w of wider) {
                        const copy = clone(policies as NetworkPolicy[]);
                        copy[i].spec[dir][r][peersKey][k] = w.peer;
                        out.push({ what: `${id} ${dir}[${r}].${peersKey}[${k}]: ${w.label}`, policies: copy });
                    }
                });
                if (rule.ports?.length) {
                    const copy = clone(policies as NetworkPolicy[]);
                    delete copy[i].spec[dir][r].ports;
                    out.push({ what: `${id} ${dir}[${r}]: every port`, policies: copy });
                }
            });
        }
    });
    return out;
}
