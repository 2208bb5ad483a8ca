/**
 * The batch store: where the gateway keeps batch files, the per-pool queues of batch lines
 * and their results (gateway/src/batch/store.ts). By default a Valkey StatefulSet in the
 * serving namespace; or an existing Valkey/Redis (Amazon ElastiCache for Valkey) by config.
 *
 * In cluster: one replica, the official image pinned by digest, non-root (the image's own
 * `valkey` user, uid 999 / gid 1000), read-only root filesystem, data on an encrypted gp3
 * volume (the cluster's STORAGE_CLASS) with the append-only file on (fsync every second),
 * no eviction (a queue must never silently lose lines), a random password kept as a Pulumi
 * secret in a Secret (also holding valkey.conf, so the password is never in args or env of
 * Valkey), and NetworkPolicies so only gateway pods reach port 6379.
 *
 * Image: valkey/valkey 9.1.2-alpine by its multi-arch index digest sha256:48332870...8d11. Not
 * checked against Docker Hub from here (no registry access); the digest was found in two
 * independent public configs that pin it as 9.1.2-alpine (a NixOS quadlet config tagged
 * "9-alpine, 9.1.2-alpine, 9.1.2-alpine3.24" and a Kubernetes lab's version table). Verify with
 * `docker buildx imagetools inspect valkey/valkey:9.1.2-alpine` before the first deploy.
 * Image layout (user valkey 999:1000, WORKDIR /data, entrypoint that runs as the given user when
 * started non-root if /data is writable): valkey-io/valkey-container 9.1/alpine/Dockerfile and
 * docker-entrypoint.sh. Directives (bind, protected-mode, requirepass, appendonly, appendfsync,
 * dir, save, maxmemory, maxmemory-policy): valkey.conf of valkey-io/valkey 9.0.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createHash } from "crypto";
import { normalizeImageRef } from "../../stacks/imageRef";
import type { StackConfig } from "../../stacks/resolved";
import { STORAGE_CLASS } from "../cluster";
import { childOf } from "../deps";
import { VALKEY_CPU, k8sRequests } from "../../stacks/catalog/systemPods";
import { GATEWAY_NAME } from "./gatewayDeployment";
import { RESTRICTED_CONTAINER_SECURITY, componentLabels } from "./security";

const VALKEY_NAME = "valkey";
export const VALKEY_PORT = 6379;
const VALKEY_AUTH_SECRET = "valkey-auth";
/** Env var the gateway reads the store's password from (gateway/src/batch/store.ts). */
const PASSWORD_ENV = "GATEWAY_BATCH_REDIS_PASSWORD";

/** The URL the gateway connects to (no password: that comes from the Secret by env). */
export function batchRedisUrl(cfg: StackConfig): string {
    const b = cfg.serving.batch;
    return b.store === "external" ? b.endpoint! : `redis://${VALKEY_NAME}.${cfg.serving.namespace}.svc.cluster.local:${VALKEY_PORT}`;
}

/** Valkey's maxmemory (MiB) in a container of memoryMiB: headroom under the limit for the AOF rewrite buffer and client buffers. */
export function valkeyMaxMemoryMiB(memoryMiB: number): number {
    return Math.floor(memoryMiB * 0.75);
}

/** valkey.conf for the in-cluster store. */
export function valkeyConf(password: string, memoryMiB: number): string {
    return [
        `port ${VALKEY_PORT}`,
        // All interfaces: clients come over the pod network (the NetworkPolicy limits them to gateways).
        "bind * -::*",
        "protected-mode yes",
        `requirepass ${password}`,
        "dir /data",
        "appendonly yes",
        "appendfsync everysec",
        // AOF only: no RDB snapshots on top.
        'save ""',
        `maxmemory ${valkeyMaxMemoryMiB(memoryMiB)}mb`,
        "maxmemory-policy noeviction",
        "",
    ].join("\n");
}

export interface BatchStoreArgs {
    readonly config: StackConfig;
    /** The VPC (an external store such as ElastiCache lives in it). */
    readonly vpcCidr: pulumi.Input<string>;
    /** Password of an external store (secret config batchStorePassword). */
    readonly externalPassword?: pulumi.Output<string>;
}

export class BatchStore extends pulumi.ComponentResource {
    readonly redisUrl: string;
    /** Env vars the gateway container needs (the password from the Secret). */
    readonly gatewayEnv: k8s.types.input.core.v1.EnvVar[];

    constructor(name: string, args: BatchStoreArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:serving:BatchStore", name, {}, opts);
        const cfg = args.config;
        const b = cfg.serving.batch;
        const ns = cfg.serving.namespace;
        const child = childOf(this, opts);
        const labels = componentLabels("batch-store", { "app.kubernetes.io/name": VALKEY_NAME });
        const meta = (n: string) => ({ name: n, namespace: ns, labels });
        this.redisUrl = batchRedisUrl(cfg);
        const fromSecret = { name: PASSWORD_ENV, valueFrom: { secretKeyRef: { name: VALKEY_AUTH_SECRET, key: "password" } } };
        const gateways = { podSelector: { matchLabels: { "app.kubernetes.io/name": GATEWAY_NAME } } };

        if (b.store === "external") {
            const port = Number(/:(\d+)$/.exec(b.endpoint!)![1]);
            if (args.externalPassword) {
                new k8s.core.v1.Secret(
                    `${name}-auth`,
                    { metadata: meta(VALKEY_AUTH_SECRET), type: "Opaque", stringData: { password: args.externalPassword } },
                    child,
                );
            }
            this.gatewayEnv = args.externalPassword ? [fromSecret] : [];
            new k8s.networking.v1.NetworkPolicy(
                `${name}-gateway-egress`,
                {
                    metadata: meta("allow-gateway-egress-to-batch-store"),
                    spec: { ...gateways, policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: args.vpcCidr } }], ports: [{ protocol: "TCP", port }] }] },
                },
                child,
            );
            this.registerOutputs({ redisUrl: this.redisUrl });
            return;
        }

        const password = new random.RandomPassword(`${name}-password`, { length: 40, special: false }, { parent: this });
        const conf = pulumi.secret(password.result.apply((p) => valkeyConf(p, b.memoryMiB)));
        const auth = new k8s.core.v1.Secret(
            `${name}-auth`,
            { metadata: meta(VALKEY_AUTH_SECRET), type: "Opaque", stringData: { password: pulumi.secret(password.result), "valkey.conf": conf } },
            child,
        );
        // Roll the pod when the config (or password) changes; the hash itself reveals nothing.
        const checksum = pulumi.unsecret(conf.apply((c) => createHash("sha256").update(c).digest("hex").slice(0, 16)));
        this.gatewayEnv = [fromSecret];

        const selector = { "app.kubernetes.io/name": VALKEY_NAME };
        // Headless: the StatefulSet's governing Service; valkey.<ns>.svc resolves to the pod.
        const service = new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: meta(VALKEY_NAME),
                spec: { clusterIP: "None", selector, ports: [{ name: "redis", port: VALKEY_PORT, targetPort: "redis", protocol: "TCP" }] },
            },
            child,
        );
        new k8s.apps.v1.StatefulSet(
            `${name}-statefulset`,
            {
                metadata: meta(VALKEY_NAME),
                spec: {
                    serviceName: VALKEY_NAME,
                    replicas: 1,
                    selector: { matchLabels: selector },
                    template: {
                        metadata: { labels, annotations: { "gpuserve.io/config-checksum": checksum } },
                        spec: {
                            // The image's own user and group; fsGroup makes the volume writable for it.
                            securityContext: {
                                runAsNonRoot: true,
                                runAsUser: 999,
                                runAsGroup: 1000,
                                fsGroup: 1000,
                                fsGroupChangePolicy: "OnRootMismatch",
                                seccompProfile: { type: "RuntimeDefault" },
                            },
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            // SIGTERM makes Valkey flush the AOF before exit.
                            terminationGracePeriodSeconds: 60,
                            containers: [
                                {
                                    name: VALKEY_NAME,
                                    image: normalizeImageRef(b.image),
                                    args: ["valkey-server", "/etc/valkey/valkey.conf"],
                                    ports: [{ name: "redis", containerPort: VALKEY_PORT, protocol: "TCP" }],
                                    resources: { requests: k8sRequests({ cpu: VALKEY_CPU, memoryMiB: b.memoryMiB }), limits: { memory: `${b.memoryMiB}Mi` } },
                                    securityContext: RESTRICTED_CONTAINER_SECURITY,
                                    // TCP probes: a PING would need the password in the probe command.
                                    readinessProbe: { tcpSocket: { port: "redis" }, periodSeconds: 5 },
                                    livenessProbe: { tcpSocket: { port: "redis" }, periodSeconds: 10, failureThreshold: 6, initialDelaySeconds: 30 },
                                    volumeMounts: [
                                        { name: "data", mountPath: "/data" },
                                        { name: "config", mountPath: "/etc/valkey", readOnly: true },
                                    ],
                                },
                            ],
                            volumes: [{ name: "config", secret: { secretName: VALKEY_AUTH_SECRET, items: [{ key: "valkey.conf", path: "valkey.conf" }] } }],
                        },
                    },
                    volumeClaimTemplates: [
                        {
                            metadata: { name: "data", labels },
                            spec: {
                                accessModes: ["ReadWriteOnce"],
                                storageClassName: STORAGE_CLASS,
                                resources: { requests: { storage: `${b.storageGiB}Gi` } },
                            },
                        },
                    ],
                },
            },
            childOf(this, opts, [auth, service]),
        );
        const valkeyPods = { matchLabels: selector };
        new k8s.networking.v1.NetworkPolicy(
            `${name}-ingress`,
            {
                metadata: meta("allow-gateway-to-valkey"),
                spec: { podSelector: valkeyPods, policyTypes: ["Ingress"], ingress: [{ from: [gateways], ports: [{ protocol: "TCP", port: VALKEY_PORT }] }] },
            },
            child,
        );
        new k8s.networking.v1.NetworkPolicy(
            `${name}-gateway-egress`,
            {
                metadata: meta("allow-gateway-egress-to-valkey"),
                spec: {
                    ...gateways,
                    policyTypes: ["Egress"],
                    egress: [{ to: [{ podSelector: valkeyPods }], ports: [{ protocol: "TCP", port: VALKEY_PORT }] }],
                },
            },
            child,
        );
        this.registerOutputs({ redisUrl: this.redisUrl });
    }
}
