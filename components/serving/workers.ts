/**
 * One worker pool: a vLLM Deployment serving one model on one GPU per pod, with its
 * headless Service (the gateway resolves pod IPs from it), PDB, ServiceMonitor and KEDA
 * ScaledObject. The Deployment has no `spec.replicas`: KEDA owns it, so a second
 * `pulumi up` never scales anything.
 *
 * Pod security: workers run under the "restricted" standard like everything else here
 * (non-root, no capabilities, read-only root). vLLM needs only writable scratch space
 * (/tmp, caches), a large /dev/shm, and the GPU the device plugin hands it.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { normalizeImageRef } from "../../stacks/imageRef";
import type { ResolvedGpuPool, ResolvedModel } from "../../stacks/resolved";
import { GPU_POOL_LABEL, GPU_TAINT } from "../cluster";
import { childOf } from "../deps";
import { podDisruptionBudget, serviceMonitor } from "./monitoring";
import { MetricScope, scaledObjectSpec } from "./scaling";
import type { CronTrigger } from "../../stacks/cronTriggers";
import { workerSecondsPerRequest } from "../../capacity/bounds/clairvoyant";
import { RESTRICTED_CONTAINER_SECURITY, RESTRICTED_POD_SECURITY, componentLabels } from "./security";
import { VLLM_COMMAND, VLLM_PORT, vllmArgs, vllmEnv } from "./vllm/args";
import { WorkerMemory, workerMemory } from "./vllm/memory";

export { VLLM_PORT } from "./vllm/args";
import type { ColdStartConfig } from "../../stacks/schema";
import { workerColdStart } from "./vllm/coldStartPod";
import { workerIdentity } from "./vllm/identity";

export const WORKER_POOL_LABEL = "gpuserve.io/worker-pool";
/** Time budget for a cold model load before the startup probe gives up (download + load + compile). */
export const STARTUP_BUDGET_SECONDS = 1800;
/** How long a terminating worker keeps serving what it has (the gateway stops sending at once). */
const WORKER_GRACE_SECONDS = 120;

export interface WorkerPoolArgs {
    readonly namespace: string;
    readonly model: ResolvedModel;
    readonly gpuPool: ResolvedGpuPool;
    readonly image: string;
    /** Name of the Secret holding the Hugging Face token (key `token`), if any. */
    readonly hfTokenSecret?: string;
    readonly prometheusUrl: string;
    readonly timezone: string;
    /** ServiceMonitor CRD available (Prometheus Operator installed). */
    readonly serviceMonitor: boolean;
    /** KEDA (CRDs) must be installed before the ScaledObject. */
    readonly keda: pulumi.Input<pulumi.Resource>[];
    /** How pods start fast (weights from S3, compile cache): vllm/coldStartPod.ts. */
    readonly coldStart: ColdStartConfig;
    /** The pool's modelled cold start (capacity/bounds/clairvoyant.ts estimatedColdStartSeconds): the predictive warm-up's lead. */
    readonly coldStartSeconds: number;
    /** GPU seconds a restart of the pool costs (capacity/bounds/clairvoyant.ts restartSeconds): the recent-requests trigger's activation. */
    readonly restartSeconds: number;
    /** The ScaledObject's cron triggers: warm windows and timetable sessions (capacity/timetableWarm.ts cronTriggersFor). */
    readonly cronTriggers: readonly CronTrigger[];
    /** The recent-requests trigger's window outside the timetable's sessions (capacity/timetableWarm.ts sessionGateFor); absent: one window. */
    readonly afterSessionLookbackSeconds?: number;
    readonly region: string;
    readonly clusterName: pulumi.Input<string>;
    readonly clusterArn: pulumi.Input<string>;
    /** The gateway runs batch jobs (serving.batch.enabled): the pool gets the batch-backlog trigger. @default true */
    readonly batchEnabled?: boolean;
    /** The weights bucket (when coldStart uses S3) and the sync Job pods wait for. */
    readonly weights?: { readonly bucketName: pulumi.Input<string>; readonly bucketArn: pulumi.Input<string>; readonly syncJob?: pulumi.Resource };
    /** Whose metrics the pool scales on, on a platform (components/serving/scaling.ts). @default the pool label alone */
    readonly metricScope?: MetricScope;
    /** Permissions boundary of the pool's AWS role (a team's, from its platform). @default none */
    readonly permissionsBoundary?: string;
    /** Labels that select the GPU pool's nodes (a team's platform states them). @default {gpuserve.io/gpu-pool: <pool>} */
    readonly nodeSelector?: Record<string, string>;
}

export function workerName(model: Pick<ResolvedModel, "name">): string {
    return `worker-${model.name}`;
}

/**
 * CPU and memory per worker, from the pool's one instance shape (vllm/memory.ts has the arithmetic), and the node
 * disk its volumes may fill (stacks/workerDisk.ts), so the scheduler never packs more weights copies on a node than
 * its volume holds.
 */
function workerResources(m: WorkerMemory, diskGiB: number) {
    return {
        requests: { cpu: String(m.cpu), memory: `${m.limitGiB}Gi`, "ephemeral-storage": `${diskGiB}Gi`, "nvidia.com/gpu": "1" },
        limits: { memory: `${m.limitGiB}Gi`, "nvidia.com/gpu": "1" },
    };
}

export class WorkerPool extends pulumi.ComponentResource {
    readonly deploymentName: string;
    readonly serviceName: string;

    constructor(name: string, args: WorkerPoolArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:serving:WorkerPool", name, {}, opts);
        const m = args.model;
        // The name the image-cache snapshot stores it under (components/cluster/imageCache) and the kubelet asks for.
        const image = normalizeImageRef(args.image);
        this.deploymentName = workerName(m);
        this.serviceName = workerName(m);
        const labels = componentLabels("worker", { "app.kubernetes.io/name": "vllm", [WORKER_POOL_LABEL]: m.name });
        const meta = (objName: string) => ({ name: objName, namespace: args.namespace, labels });
        const child = childOf(this, opts);

        const memory = workerMemory(args.gpuPool, m);
        const env = vllmEnv(args.hfTokenSecret);
        const cold = workerColdStart({
            model: m,
            gpuPool: args.gpuPool,
            coldStart: args.coldStart,
            image,
            vllmArgs: vllmArgs(m, { mmProcessorCacheGiB: memory.mmProcessorCacheGiB }),
            region: args.region,
            bucket: args.weights?.bucketName,
            memory,
        });
        env.push(...cold.env);
        const identity = args.weights
            ? workerIdentity(
                  name,
                  {
                      namespace: args.namespace,
                      clusterName: args.clusterName,
                      clusterArn: args.clusterArn,
                      bucketArn: args.weights.bucketArn,
                      coldStart: cold,
                      labels,
                      permissionsBoundary: args.permissionsBoundary,
                  },
                  child,
              )
            : [];
        const deployment = new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                // Don't wait for readiness: a first pod needs a GPU node and a model load (minutes),
                // and KEDA scales the pool to zero as soon as its ScaledObject exists.
                metadata: { ...meta(this.deploymentName), annotations: { "pulumi.com/skipAwait": "true" } },
                spec: {
                    // No replicas: KEDA owns the count.
                    selector: { matchLabels: { [WORKER_POOL_LABEL]: m.name } },
                    // A new image or model version rolls out one extra pod at a time, never below ready capacity.
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template: {
                        metadata: { labels, annotations: { "cluster-autoscaler.kubernetes.io/safe-to-evict": "true" } },
                        spec: {
                            securityContext: RESTRICTED_POD_SECURITY,
                            nodeSelector: args.nodeSelector ?? { [GPU_POOL_LABEL]: args.gpuPool.name },
                            tolerations: [{ key: GPU_TAINT.key, operator: "Equal", value: GPU_TAINT.value, effect: "NoSchedule" }],
                            terminationGracePeriodSeconds: WORKER_GRACE_SECONDS,
                            enableServiceLinks: false,
                            automountServiceAccountToken: false,
                            ...(cold.serviceAccountName ? { serviceAccountName: cold.serviceAccountName } : {}),
                            ...(cold.initContainers.length > 0 ? { initContainers: cold.initContainers } : {}),
                            containers: [
                                {
                                    name: "vllm",
                                    image,
                                    command: [...VLLM_COMMAND],
                                    // The model source and load format follow gpuserve:coldStart (vllm/coldStartPod.ts).
                                    args: cold.args,
                                    env,
                                    ports: [{ name: "http", containerPort: VLLM_PORT, protocol: "TCP" }],
                                    resources: workerResources(memory, cold.disk.requestGiB),
                                    securityContext: RESTRICTED_CONTAINER_SECURITY,
                                    // /v1/models answers only once the model is loaded; /health only says the process lives.
                                    startupProbe: {
                                        httpGet: { path: "/v1/models", port: "http" },
                                        periodSeconds: 10,
                                        timeoutSeconds: 5,
                                        failureThreshold: STARTUP_BUDGET_SECONDS / 10,
                                    },
                                    readinessProbe: { httpGet: { path: "/v1/models", port: "http" }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
                                    livenessProbe: { httpGet: { path: "/health", port: "http" }, periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 4 },
                                    // Leave the endpoints (and the gateway's rotation) before vLLM gets SIGTERM.
                                    lifecycle: { preStop: { sleep: { seconds: 15 } } },
                                    volumeMounts: [
                                        { name: "dshm", mountPath: "/dev/shm" },
                                        { name: "cache", mountPath: "/cache" },
                                        { name: "tmp", mountPath: "/tmp" },
                                        ...cold.volumeMounts,
                                    ],
                                },
                            ],
                            volumes: [
                                { name: "dshm", emptyDir: { medium: "Memory", sizeLimit: `${memory.shmGiB}Gi` } },
                                m.cacheClaimName
                                    ? { name: "cache", persistentVolumeClaim: { claimName: m.cacheClaimName } }
                                    : { name: "cache", emptyDir: { sizeLimit: `${cold.disk.cacheGiB}Gi` } },
                                { name: "tmp", emptyDir: { sizeLimit: "10Gi" } },
                                ...cold.volumes,
                            ],
                        },
                    },
                },
            },
            childOf(this, opts, [...identity, ...(args.weights?.syncJob ? [args.weights.syncJob] : [])]),
        );

        new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: meta(this.serviceName),
                spec: {
                    clusterIP: "None", // headless: the gateway balances across pod IPs itself
                    selector: { [WORKER_POOL_LABEL]: m.name },
                    ports: [{ name: "http", port: VLLM_PORT, targetPort: "http", protocol: "TCP" }],
                },
            },
            child,
        );

        const selector = { [WORKER_POOL_LABEL]: m.name };
        podDisruptionBudget(`${name}-pdb`, meta(this.deploymentName), selector, child);
        // Every vLLM series carries the worker pool, which dashboards and KEDA select on.
        if (args.serviceMonitor)
            serviceMonitor(`${name}-monitor`, meta(this.serviceName), selector, child, [{ action: "replace", targetLabel: "pool", replacement: m.name }]);

        new k8s.apiextensions.CustomResource(
            `${name}-scaler`,
            {
                apiVersion: "keda.sh/v1alpha1",
                kind: "ScaledObject",
                metadata: meta(this.deploymentName),
                spec: scaledObjectSpec({
                    poolName: m.name,
                    deploymentName: this.deploymentName,
                    namespace: args.namespace,
                    prometheusUrl: args.prometheusUrl,
                    timezone: args.timezone,
                    scaling: m.scaling,
                    coldStartSeconds: args.coldStartSeconds,
                    workerSecondsPerRequest: workerSecondsPerRequest(m, args.gpuPool),
                    cron: args.cronTriggers,
                    afterSessionLookbackSeconds: args.afterSessionLookbackSeconds,
                    restartSeconds: args.restartSeconds,
                    scope: args.metricScope,
                    batchEnabled: args.batchEnabled,
                }),
            },
            childOf(this, opts, [deployment, ...args.keda]),
        );
        this.registerOutputs({ deployment: this.deploymentName });
    }
}
