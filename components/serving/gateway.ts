/**
 * The gateway: Deployment (HPA on CPU owns the replica count, spread across zones), Service,
 * PDB, ServiceMonitor. Its config (with API key hashes) lives in a Secret; a checksum
 * annotation rolls the pods when it changes. Image from config, or built from gateway/
 * and pushed to an ECR repository the stack creates.
 */
import * as aws from "@pulumi/aws";
import * as dockerBuild from "@pulumi/docker-build";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { childOf } from "../deps";
import { GATEWAY_DRAIN_SECONDS } from "./gatewayConfig";
import { podDisruptionBudget, serviceMonitor } from "./monitoring";
import { RESTRICTED_CONTAINER_SECURITY, RESTRICTED_POD_SECURITY, componentLabels } from "./security";

export const GATEWAY_NAME = "gateway";
export const GATEWAY_PORT = 8080;
export const GATEWAY_DIR = path.resolve(__dirname, "..", "..", "gateway");

export interface GatewayArgs {
    readonly namespace: string;
    /** The gateway config JSON (secret: it carries API key hashes). */
    readonly configJson: pulumi.Output<string>;
    /** Image to run; when absent one is built from gateway/ and pushed to ECR. */
    readonly image?: string;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly serviceMonitor: boolean;
}

/** Hash of the gateway sources, as the image tag: same code, same tag. */
export function gatewaySourceHash(dir = GATEWAY_DIR): string {
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
        this.image = args.image ? pulumi.output(args.image) : this.buildImage(name);

        const config = new k8s.core.v1.Secret(`${name}-config`, { metadata: meta(`${GATEWAY_NAME}-config`), type: "Opaque", stringData: { "config.json": args.configJson } }, child);
        // A hash of the config is not secret, and a secret annotation would hide the whole pod spec from previews.
        const checksum = pulumi.unsecret(args.configJson.apply((c) => createHash("sha256").update(c).digest("hex").slice(0, 16)));

        const deployment = new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: meta(GATEWAY_NAME),
                spec: {
                    // No replicas: the HPA below owns the count.
                    selector: { matchLabels: { "app.kubernetes.io/name": GATEWAY_NAME } },
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template: {
                        metadata: { labels, annotations: { "gpuserve.io/config-checksum": checksum } },
                        spec: {
                            securityContext: RESTRICTED_POD_SECURITY,
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            // Held and streaming requests finish before the pod goes (the gateway drains on SIGTERM).
                            terminationGracePeriodSeconds: GATEWAY_DRAIN_SECONDS + 15,
                            topologySpreadConstraints: [
                                { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: { "app.kubernetes.io/name": GATEWAY_NAME } } },
                                { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: { "app.kubernetes.io/name": GATEWAY_NAME } } },
                            ],
                            containers: [
                                {
                                    name: GATEWAY_NAME,
                                    image: this.image,
                                    // No args: the image's command runs the bundle; the config path comes by env.
                                    env: [
                                        { name: "PORT", value: String(GATEWAY_PORT) },
                                        { name: "GATEWAY_CONFIG", value: "/etc/gateway/config.json" },
                                    ],
                                    ports: [{ name: "http", containerPort: GATEWAY_PORT, protocol: "TCP" }],
                                    resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "512Mi" } },
                                    securityContext: RESTRICTED_CONTAINER_SECURITY,
                                    readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 2, failureThreshold: 1 },
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
                metadata: { ...meta(GATEWAY_NAME), annotations: { "alb.ingress.kubernetes.io/healthcheck-path": "/readyz" } },
                spec: { selector: { "app.kubernetes.io/name": GATEWAY_NAME }, ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }] },
            },
            child,
        );
        new k8s.autoscaling.v2.HorizontalPodAutoscaler(
            `${name}-hpa`,
            {
                metadata: meta(GATEWAY_NAME),
                spec: {
                    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: GATEWAY_NAME },
                    minReplicas: args.minReplicas,
                    maxReplicas: args.maxReplicas,
                    metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
                },
            },
            childOf(this, opts, [deployment]),
        );
        const selector = { "app.kubernetes.io/name": GATEWAY_NAME };
        podDisruptionBudget(`${name}-pdb`, meta(GATEWAY_NAME), selector, child);
        if (args.serviceMonitor) serviceMonitor(`${name}-monitor`, meta(GATEWAY_NAME), selector, child);
        this.registerOutputs({ image: this.image });
    }

    /** ECR repository (immutable tags, scan on push, encrypted) and the image built from gateway/. */
    private buildImage(name: string): pulumi.Output<string> {
        const repo = new aws.ecr.Repository(
            `${name}-repo`,
            { imageTagMutability: "IMMUTABLE", imageScanningConfiguration: { scanOnPush: true }, encryptionConfigurations: [{ encryptionType: "KMS" }], forceDelete: false },
            { parent: this },
        );
        const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repo.registryId }, { parent: this });
        const tag = pulumi.interpolate`${repo.repositoryUrl}:${gatewaySourceHash()}`;
        const image = new dockerBuild.Image(
            `${name}-image`,
            {
                context: { location: path.resolve(GATEWAY_DIR, "..") },
                dockerfile: { location: path.join(GATEWAY_DIR, "Dockerfile") },
                platforms: ["linux/amd64"],
                push: true,
                tags: [tag],
                registries: [{ address: repo.repositoryUrl, username: auth.userName, password: pulumi.secret(auth.password) }],
            },
            { parent: this },
        );
        return pulumi.unsecret(image.ref);
    }
}
