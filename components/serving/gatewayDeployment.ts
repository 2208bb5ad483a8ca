/**
 * The gateway: Deployment (a KEDA ScaledObject owns the replica count; spread across zones), Service,
 * PDB, ServiceMonitor. Its config (with API key hashes) lives in a Secret; a checksum
 * annotation rolls the pods when it changes. Image from config, or built from gateway/
 * and pushed to an ECR repository the stack creates.
 */
import * as aws from "@pulumi/aws";
import * as dockerBuild from "@pulumi/docker-build";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { normalizeImageRef } from "../../stacks/imageRef";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { childOf } from "../deps";
import { GATEWAY_REQUESTS, k8sRequests } from "../../stacks/catalog/systemPods";
import { podDisruptionBudget, serviceMonitor } from "./monitoring";
import { ALB_MAX_DEREGISTRATION_DELAY_SECONDS, MAX_WAIT_WITHIN_ALB_DRAIN, deregistrationDelaySeconds, gatewayGraceSeconds } from "./drain";
import { fallbackSpec } from "./scaling";
import { PRE_STOP_SECONDS, RESTRICTED_CONTAINER_SECURITY, RESTRICTED_POD_SECURITY, componentLabels } from "./security";

export const GATEWAY_NAME = "gateway";
export const GATEWAY_PORT = 8080;
/** V8 old-space bound of the gateway (MiB), under its 512Mi memory limit with room for buffers outside the heap. */
export const GATEWAY_HEAP_MIB = 320;
/** Memory the gateway's batch work may add (MiB): creations (a 1 MiB piece of the file, one line, the custom_id digests), lines in flight and downloads, each bounded (gateway/README.md, "Memory"). */
const GATEWAY_BATCH_MEMORY_MIB = 128;

/** The gateway's memory limit (MiB): 512, plus GATEWAY_BATCH_MEMORY_MIB with batch on. Uploads are streamed: no file is ever held whole. */
export function gatewayMemoryMiB(batchEnabled: boolean): number {
    return 512 + (batchEnabled ? GATEWAY_BATCH_MEMORY_MIB : 0);
}
const GATEWAY_DIR = path.resolve(__dirname, "..", "..", "gateway");

export interface GatewayArgs {
    readonly namespace: string;
    /** The gateway config JSON (secret: it carries API key hashes). */
    readonly configJson: pulumi.Output<string>;
    /** Image to run; when absent one is built from gateway/ and pushed to ECR. */
    readonly image?: string;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    /** How long a terminating gateway may take to answer what it holds (gateway drainTimeoutSeconds). */
    readonly drainSeconds: number;
    /** The gateway's longest hold (serving.gateway.maxWaitSeconds): sizes the ALB deregistration delay. */
    readonly maxWaitSeconds: number;
    readonly serviceMonitor: boolean;
    readonly prometheusUrl: string;
    /** KEDA (CRDs) must be installed before the ScaledObject. */
    readonly keda: pulumi.Input<pulumi.Resource>[];
    /** Extra env vars (the batch store's password from its Secret). @default [] */
    readonly env?: k8s.types.input.core.v1.EnvVar[];
    /** Memory limit (gatewayMemoryMiB). @default 512 */
    readonly memoryMiB?: number;
    /** On a platform: scale on this namespace's gateways only (every team runs one). @default all gateways */
    readonly metricsNamespace?: string;
}

/**
 * Annotations of the gateway Service read by the Load Balancer Controller for this backend's
 * target group (docs/guide/ingress/annotations.md at v3.5.0: `target-group-attributes` and
 * `healthcheck-path` apply on Ingress or Service; the Service's win for its own target group).
 */
function gatewayServiceAnnotations(maxWaitSeconds: number): Record<string, string> {
    return {
        "alb.ingress.kubernetes.io/healthcheck-path": "/readyz",
        "alb.ingress.kubernetes.io/target-group-attributes": `deregistration_delay.timeout_seconds=${deregistrationDelaySeconds(maxWaitSeconds)}`,
    };
}

/** Replica targets for the gateway's ScaledObject: in-flight requests (streams) and request rate per replica. */
const GATEWAY_TARGETS = { inflightPerReplica: 200, requestsPerSecondPerReplica: 200 } as const;

/** Hash of the gateway sources, as the image tag: same code, same tag. */
function gatewaySourceHash(dir = GATEWAY_DIR): string {
    const hash = createHash("sha256");
    const walk = (d: string) => {
        for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
            if (entry.name === "dist" || entry.name === "node_modules") continue;
            const p = path.join(d, entry.name);
            if (entry.isDirectory()) walk(p);
            else hash.update(path.relative(dir, p)).update(fs.readFileSync(p));
        }
    };
    walk(dir);
    // The bundle also depends on the locked dependencies.
    for (const f of ["package.json", "package-lock.json"]) hash.update(f).update(fs.readFileSync(path.join(dir, "..", f)));
    return hash.digest("hex").slice(0, 16);
}

export class Gateway extends pulumi.ComponentResource {
    readonly serviceName = GATEWAY_NAME;
    readonly image: pulumi.Output<string>;

    constructor(name: string, args: GatewayArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:serving:Gateway", name, {}, opts);
        const child = childOf(this, opts);
        const labels = componentLabels("gateway", { "app.kubernetes.io/name": GATEWAY_NAME });
        const meta = (n: string) => ({ name: n, namespace: args.namespace, labels });
        // As the kubelet asks containerd for it (stacks/imageRef.ts); the built image is <ECR repository>@<digest> already.
        this.image = args.image ? pulumi.output(normalizeImageRef(args.image)) : this.buildImage(name);
        if (args.maxWaitSeconds > MAX_WAIT_WITHIN_ALB_DRAIN) {
            void pulumi.log.warn(
                `serving.gateway.maxWaitSeconds (${args.maxWaitSeconds}) makes a gateway drain longer than the ALB's longest deregistration delay (${ALB_MAX_DEREGISTRATION_DELAY_SECONDS} s): a request held that long when its gateway pod stops is cut. Fix: set it to at most ${MAX_WAIT_WITHIN_ALB_DRAIN}`,
                this,
            );
        }

        const config = new k8s.core.v1.Secret(
            `${name}-config`,
            { metadata: meta(`${GATEWAY_NAME}-config`), type: "Opaque", stringData: { "config.json": args.configJson } },
            child,
        );
        // A hash of the config is not secret, and a secret annotation would hide the whole pod spec from previews.
        const checksum = pulumi.unsecret(args.configJson.apply((c) => createHash("sha256").update(c).digest("hex").slice(0, 16)));

        const deployment = new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: meta(GATEWAY_NAME),
                spec: {
                    // No replicas: the ScaledObject below owns the count.
                    selector: { matchLabels: { "app.kubernetes.io/name": GATEWAY_NAME } },
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template: {
                        metadata: { labels, annotations: { "gpuserve.io/config-checksum": checksum } },
                        spec: {
                            securityContext: RESTRICTED_POD_SECURITY,
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            // Held and streaming requests finish before the pod goes (the gateway drains on SIGTERM).
                            terminationGracePeriodSeconds: gatewayGraceSeconds(args.maxWaitSeconds),
                            topologySpreadConstraints: [
                                {
                                    maxSkew: 1,
                                    topologyKey: "topology.kubernetes.io/zone",
                                    whenUnsatisfiable: "ScheduleAnyway",
                                    labelSelector: { matchLabels: { "app.kubernetes.io/name": GATEWAY_NAME } },
                                },
                                {
                                    maxSkew: 1,
                                    topologyKey: "kubernetes.io/hostname",
                                    whenUnsatisfiable: "ScheduleAnyway",
                                    labelSelector: { matchLabels: { "app.kubernetes.io/name": GATEWAY_NAME } },
                                },
                            ],
                            containers: [
                                {
                                    name: GATEWAY_NAME,
                                    image: this.image,
                                    // No args: the image's command runs the bundle; the config path comes by env.
                                    env: [
                                        { name: "PORT", value: String(GATEWAY_PORT) },
                                        { name: "GATEWAY_CONFIG", value: "/etc/gateway/config.json" },
                                        // V8 heap bound well under the 512Mi limit: request bodies parsed into strings are
                                        // garbage the heap must collect before the OOM killer comes (issue 13).
                                        { name: "NODE_OPTIONS", value: `--max-old-space-size=${GATEWAY_HEAP_MIB}` },
                                        ...(args.env ?? []),
                                    ],
                                    ports: [{ name: "http", containerPort: GATEWAY_PORT, protocol: "TCP" }],
                                    resources: { requests: k8sRequests(GATEWAY_REQUESTS), limits: { memory: `${args.memoryMiB ?? 512}Mi` } },
                                    securityContext: RESTRICTED_CONTAINER_SECURITY,
                                    readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 2, failureThreshold: 1 },
                                    // Keep accepting while the ALB deregisters the pod; SIGTERM (drain) comes after.
                                    lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
                                    livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 10, failureThreshold: 3 },
                                    volumeMounts: [
                                        { name: "config", mountPath: "/etc/gateway", readOnly: true },
                                        { name: "tmp", mountPath: "/tmp" },
                                    ],
                                },
                            ],
                            volumes: [
                                { name: "config", secret: { secretName: `${GATEWAY_NAME}-config` } },
                                { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
                            ],
                        },
                    },
                },
            },
            childOf(this, opts, [config]),
        );

        new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: { ...meta(GATEWAY_NAME), annotations: gatewayServiceAnnotations(args.maxWaitSeconds) },
                spec: { selector: { "app.kubernetes.io/name": GATEWAY_NAME }, ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }] },
            },
            child,
        );
        // KEDA (no metrics-server needed): more gateways as streams or request rate grow; never below minReplicas.
        const ns = args.metricsNamespace ? `{namespace="${args.metricsNamespace}"}` : "";
        new k8s.apiextensions.CustomResource(
            `${name}-scaler`,
            {
                apiVersion: "keda.sh/v1alpha1",
                kind: "ScaledObject",
                metadata: meta(GATEWAY_NAME),
                spec: {
                    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: GATEWAY_NAME },
                    minReplicaCount: args.minReplicas,
                    maxReplicaCount: args.maxReplicas,
                    pollingInterval: 15,
                    fallback: fallbackSpec(args.minReplicas),
                    triggers: [
                        {
                            type: "prometheus",
                            name: "inflight",
                            metricType: "AverageValue",
                            metadata: {
                                serverAddress: args.prometheusUrl,
                                query: `sum(gateway_inflight_requests${ns}) or vector(0)`,
                                threshold: String(GATEWAY_TARGETS.inflightPerReplica),
                            },
                        },
                        {
                            type: "prometheus",
                            name: "request-rate",
                            metricType: "AverageValue",
                            metadata: {
                                serverAddress: args.prometheusUrl,
                                query: `sum(rate(gateway_requests_total${ns}[1m])) or vector(0)`,
                                threshold: String(GATEWAY_TARGETS.requestsPerSecondPerReplica),
                            },
                        },
                    ],
                },
            },
            childOf(this, opts, [deployment, ...args.keda]),
        );
        const selector = { "app.kubernetes.io/name": GATEWAY_NAME };
        podDisruptionBudget(`${name}-pdb`, meta(GATEWAY_NAME), selector, child);
        if (args.serviceMonitor) serviceMonitor(`${name}-monitor`, meta(GATEWAY_NAME), selector, child);
        this.registerOutputs({ image: this.image });
    }

    /**
     * ECR repository (immutable tags, scan on push, encrypted) and the image built from gateway/,
     * pushed by digest and run as `<repo>@sha256:<digest>`. Two builds of the same source differ
     * in file timestamps (another checkout, another day), so a tag derived from the source would
     * point at a new digest and the push to an immutable tag would fail; a digest names exactly
     * one image. The source hash stays visible as the image's revision label.
     * forceDelete: `pulumi destroy` deletes the repository with its images; without it ECR refuses
     * to delete a non-empty repository and the destroy stops there. The image is rebuilt from
     * gateway/ on the next `pulumi up`, so nothing is lost.
     */
    private buildImage(name: string): pulumi.Output<string> {
        const repo = new aws.ecr.Repository(
            `${name}-repo`,
            {
                imageTagMutability: "IMMUTABLE",
                imageScanningConfiguration: { scanOnPush: true },
                encryptionConfigurations: [{ encryptionType: "KMS" }],
                forceDelete: true,
            },
            { parent: this },
        );
        const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repo.registryId }, { parent: this });
        const image = new dockerBuild.Image(
            `${name}-image`,
            {
                // Relative to the project directory, the working directory of the program and of
                // the provider (which resolves them with filepath.Abs, provider/internal/context.go
                // at v0.0.22): the same source from another checkout path is the same input, no rebuild.
                context: { location: path.relative(process.cwd(), path.resolve(GATEWAY_DIR, "..")) || "." },
                dockerfile: { location: path.relative(process.cwd(), path.join(GATEWAY_DIR, "Dockerfile")) },
                platforms: ["linux/amd64"],
                labels: { "org.opencontainers.image.revision": gatewaySourceHash() },
                // No tags: the registry exporter pushes the manifest by digest (buildx
                // `type=registry,name=<repo>,push-by-digest=true`; ExportRegistryArgs of @pulumi/docker-build 0.0.22).
                push: false,
                exports: [{ registry: { names: [repo.repositoryUrl], pushByDigest: true } }],
                registries: [{ address: repo.repositoryUrl, username: auth.userName, password: pulumi.secret(auth.password) }],
            },
            { parent: this },
        );
        return pulumi.unsecret(pulumi.interpolate`${repo.repositoryUrl}@${image.digest}`);
    }
}
