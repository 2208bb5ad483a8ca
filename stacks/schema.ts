/**
 * The stack config schema: one runtime-validated shape for the whole product.
 *
 * Every top-level field is one Pulumi config key in the `gpuserve` namespace
 * (`gpuserve:gpuPools`, `gpuserve:models`, ...). Every field has a default or is
 * required; unknown keys are rejected so a typo never silently falls back to a default.
 * Cross-field rules (a model fits its GPU, a pool can host its replicas, ...) live in
 * `validate.ts`.
 */
import { z } from "zod";
import { timeZoneSchema } from "../gateway/src/wallClock";
import { planSubnets } from "./subnets";
import { GPU_TYPES } from "./catalog/instances";
import { isAwsRegion } from "./catalog/regions";
import { ImageRefError, parseImageRef } from "./imageRef";
import { POD_STORAGE } from "./podStorage";

/** The Pulumi project name, which is also the config namespace. */
export const PROJECT = "gpuserve";

const CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;
const DNS_LABEL = /^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$/;
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
/**
 * AWS tag value characters: letters, numbers and spaces representable in UTF-8, and
 * _ . : / = + - @ (AWS Tagging docs, "Tag naming limits and requirements"; EKS and EC2 use it).
 */
const AWS_TAG_VALUE = /^[\p{L}\p{N}\p{Zs}_.:/=+\-@]*$/u;
const TAG_VALUE_MESSAGE = "becomes an AWS tag value: use letters, digits, spaces and _ . : / = + - @ only";

const cidr = z.string().regex(CIDR, "must be an IPv4 CIDR such as 10.0.0.0/16");
const dnsLabel = z.string().regex(DNS_LABEL, "must be a DNS label: lowercase letters, digits and '-', start with a letter, at most 32 characters");
const positiveInt = z.int().positive();

/**
 * A container image containerd accepts (stacks/imageRef.ts), pinned by a tag or digest; `digestOnly`: by digest.
 * Components emit it normalized (docker.io/..., normalizeImageRef), the form the kubelet asks containerd for.
 */
function pinnedImage(opts: { digestOnly?: boolean } = {}) {
    return z.string().superRefine((s, ctx) => {
        try {
            const r = parseImageRef(s);
            if (opts.digestOnly ? r.digest === undefined : r.tag === undefined && r.digest === undefined) {
                ctx.addIssue({
                    code: "custom",
                    message: opts.digestOnly ? "must be pinned by digest: <image>[:<tag>]@sha256:<64 hex>" : "must be pinned: add :<tag> or @sha256:<digest>",
                });
            }
        } catch (e) {
            if (!(e instanceof ImageRefError)) throw e;
            ctx.addIssue({ code: "custom", message: `is not an image reference containerd accepts: ${e.reason}` });
        }
    });
}
const nonNegativeInt = z.int().nonnegative();

/** Kubernetes versions whose EKS managed add-on versions are pinned in components/cluster/versions.ts. */
export const KUBERNETES_VERSIONS = ["1.34", "1.35"] as const;
/** GPU node operating systems (gpuPools[].ami). */
export const GPU_AMIS = ["bottlerocket", "al2023"] as const;

const networkSchema = z.strictObject({
    /** CIDR of the new VPC, /16 to /20; private subnets get 1/8 of it each, the public ones share the last 1/8. @default "10.0.0.0/16" */
    vpcCidr: cidr
        .refine((c) => {
            try {
                planSubnets(c, 3);
                return true;
            } catch {
                return false;
            }
        }, "must be a /16 to /20 block with no host bits set, e.g. 10.0.0.0/16")
        .default("10.0.0.0/16"),
    /** Availability zones to spread subnets over. @default 2 */
    availabilityZoneCount: z.int().min(2).max(3).default(2),
    /** "single" NAT gateway (cheap, one AZ) or one per AZ ("perAz", survives an AZ outage, costs more). @default "single" */
    natGateways: z.enum(["single", "perAz"]).default("single"),
    /** Use an existing VPC instead of creating one. */
    existing: z
        .strictObject({
            /** The VPC's id. */
            vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, "must be a VPC id such as vpc-0abc12345def67890"),
            /** Public subnets (the ALB and NAT), in at least two availability zones. */
            publicSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "must be a subnet id")).min(2),
            /** Private subnets (nodes), in at least two availability zones. */
            privateSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "must be a subnet id")).min(2),
        })
        .optional(),
});

const clusterSchema = z.strictObject({
    /** Kubernetes minor version (the EKS add-on versions are pinned per version). @default "1.35" */
    version: z.enum(KUBERNETES_VERSIONS).default("1.35"),
    /** CIDRs allowed to reach the public API endpoint. Production stacks may not use 0.0.0.0/0. @default ["0.0.0.0/0"] */
    endpointPublicAccessCidrs: z.array(cidr).min(1).default(["0.0.0.0/0"]),
    /** IAM principals (users or roles) given cluster-admin through EKS access entries (the deployer has it too). @default [] */
    adminPrincipalArns: z.array(z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/.+$/, "must be an IAM role or user ARN")).default([]),
    /** Control-plane log types sent to CloudWatch. @default ["api","audit","authenticator"] */
    logTypes: z.array(z.enum(["api", "audit", "authenticator", "controllerManager", "scheduler"])).default(["api", "audit", "authenticator"]),
    /** Days to keep control-plane logs. @default 30 */
    logRetentionDays: positiveInt.default(30),
});

const systemNodesSchema = z.strictObject({
    /** CPU instance types for add-ons, gateway and UI. @default the cheapest catalogued type that holds the system pods' summed requests (stacks/systemNodes.ts; `npm run plan` prints the arithmetic) */
    instanceTypes: z.array(z.string().min(1)).min(1).optional(),
    /** Nodes kept at zero load (the gateway, UI and add-ons run here). @default the nodes the system pods' requests need, at least 2 */
    minSize: positiveInt.optional(),
    /** Most nodes Cluster Autoscaler may run. @default the larger of 4 and minSize + 1 */
    maxSize: positiveInt.optional(),
    /** Root volume size in GiB. @default 50 */
    diskSizeGiB: z.int().min(20).default(50),
});

export const gpuPoolSchema = z.strictObject({
    /** Pool name (a DNS label): node group name suffix and the `gpuserve.io/gpu-pool` node label. */
    name: dnsLabel,
    /** GPU model of the pool (the catalog's instance types per GPU: see below). */
    gpuType: z.enum(GPU_TYPES),
    /** Instance types for the node group; all must carry `gpuType` and have one shape (vCPU, memory, GPUs). @default the catalog's types for gpuType */
    instanceTypes: z.array(z.string().min(1)).min(1).optional(),
    /** Spot is 50-70 % cheaper but can be reclaimed with 2 minutes' notice. @default "spot" */
    capacityType: z.enum(["spot", "on-demand"]).default("spot"),
    /** Nodes kept running at zero load. Scale-from-zero pools use 0. @default 0 */
    minNodes: nonNegativeInt.default(0),
    /** Upper bound for Cluster Autoscaler; maxNodes x GPUs per node must cover the pool's models' maxReplicas. */
    maxNodes: positiveInt,
    /**
     * Encrypted gp3 volume in GiB for images and, unless podStorage puts them on the instance store, pod storage
     * (Bottlerocket: the data volume): the vLLM image (~35 GB on disk) and, per worker on the node, its weights copied
     * from S3 and vLLM's caches; validation says when it is too small for the node's workers (stacks/workerDisk.ts).
     * @default 200
     */
    diskSizeGiB: z.int().min(100).default(200),
    /**
     * Where the pods' emptyDirs (the kubelet's directory: the workers' weights copies and vLLM's caches) live:
     * "instanceStore" (the instance's NVMe instance store, striped; Bottlerocket's ephemeral-storage bootstrap command or
     * AL2023's nodeadm localStorage: components/cluster/userData.ts), "volume" (the node's EBS volume, diskSizeGiB), or
     * "auto": the instance store where it copies and reads the weights faster than the volume (stacks/podStorage.ts;
     * today p4d/p4de, not the single-GPU G types). containerd's images stay on the volume either way. @default "auto"
     */
    podStorage: z.enum(POD_STORAGE).default("auto"),
    /** Why this pool keeps nodes at zero load (required by the policy pack when minNodes > 0). A node group tag value: AWS tag characters only. */
    minNodesReason: z.string().min(10).max(200).regex(AWS_TAG_VALUE, TAG_VALUE_MESSAGE).optional(),
    /**
     * Node OS: "bottlerocket" (EKS BOTTLEROCKET_x86_64_NVIDIA: NVIDIA device plugin built in, a separate data
     * volume that can be restored from an image-cache snapshot) or "al2023" (AL2023_x86_64_NVIDIA + the device
     * plugin chart). @default "bottlerocket"
     */
    ami: z.enum(GPU_AMIS).default("bottlerocket"),
    /**
     * Seconds Cluster Autoscaler keeps an empty GPU node of this pool before removing it (the node group's
     * ASG tag .../autoscaling-options/scaledownunneededtime; the simulator uses the same figure). Whole
     * seconds, 10-3600 (validate.ts). @default the node's modelled launch time: 110 s on Bottlerocket, 150 s on AL2023 (stacks/model/coldStartPhases.ts)
     */
    scaleDownUnneededSeconds: z.number({ error: "must be whole seconds as a number, e.g. 120 (not a duration string)" }).optional(),
});

const warmWindowSchema = z.strictObject({
    /** Days of week in cron syntax, e.g. "1-5" for Monday to Friday. @default "1-5" */
    days: z
        .string()
        .regex(/^[0-6](-[0-6])?(,[0-6](-[0-6])?)*$/, "must be cron day-of-week syntax such as 1-5 or 1,3,5")
        .default("1-5"),
    /** Start time, HH:MM in the stack's time zone. */
    start: z.string().regex(HHMM, "must be HH:MM (24h)"),
    /** End time, HH:MM in the stack's time zone. */
    end: z.string().regex(HHMM, "must be HH:MM (24h)"),
    /** Replicas kept warm inside the window. @default 1 */
    replicas: positiveInt.default(1),
});

/** Predictive warm-up from last week's traffic (a KEDA Prometheus trigger with `offset`, components/serving/scaling.ts). */
const predictiveWarmupSchema = z.strictObject({
    /**
     * Ask for replicas ahead of the slot that had traffic `lookbackDays` ago. Without history the query reads 0 (off).
     * A pool the timetable warms (gpuserve:timetable, warm) has it off unless set: the timetable's cron triggers
     * already warm its sessions from the schedule, and last week's slots, asked for a longer lead (a class may start
     * earlier than last week's), would only add GPU time. @default true, false for a pool the timetable warms
     */
    enabled: z.boolean().optional(),
    /** How far back the query looks; Prometheus retention must exceed it by a day. @default 7 */
    lookbackDays: z.int().min(1).max(28).default(7),
    /** Seconds ahead of last week's slot the replica is asked for. @default the pool's estimated cold start + 420 s (stacks/scalePolicy.ts PREDICTIVE_MARGIN_SECONDS) */
    leadSeconds: positiveInt.max(4 * 3600).optional(),
    /** Last week's requests/second one warm replica stands for (the trigger's per-replica target). @default 1 */
    requestsPerSecondPerReplica: z.number().positive().default(1),
});

export const scalingSchema = z.strictObject({
    /** Replicas outside warm windows. 0 scales the worker pool, and its GPU nodes, to zero. @default 0 */
    minReplicas: nonNegativeInt.default(0),
    /** Most replicas (one GPU each). @default 4 */
    maxReplicas: positiveInt.default(4),
    /** Target gateway queue depth per replica (held + in-flight requests). @default 4 */
    queueDepthPerReplica: positiveInt.default(4),
    /** Target vLLM waiting requests per pod. @default 8 */
    waitingPerReplica: positiveInt.default(8),
    /** Optional: also scale up when the gateway's P95 latency for the pool exceeds this many seconds. */
    latencyP95Seconds: z.number().positive().optional(),
    /** Optional: also scale on DCGM GPU utilization (percent). Not recommended alone: batching keeps it near 100 %. */
    gpuUtilizationPercent: z.int().min(1).max(100).optional(),
    /** KEDA polling interval. @default 15 */
    pollingIntervalSeconds: positiveInt.default(15),
    /**
     * Idle seconds before the pool scales from 1 to 0 (KEDA cooldownPeriod), counted from the last poll at which a trigger
     * was active. @default 60 with the recent-requests trigger (it does the holding), else the pool's estimated cold start
     * (ski-rental; stacks/scalePolicy.ts cooldownSecondsFor)
     */
    cooldownSeconds: positiveInt.optional(),
    /**
     * Window of the recent-requests trigger: the pool stays active while the requests its workers answered in the last
     * this-many seconds come often enough to expect one within a cold start (more than window / restart seconds of them;
     * stacks/scalePolicy.ts recentRequestsActivation), even when scrapes see an empty queue between them. 0 = off. @default 300
     */
    activityLookbackSeconds: nonNegativeInt.max(3600).default(300),
    /**
     * KEDA fallback while Prometheus is unreachable. 0: none, so an outage neither starts nor stops anything
     * (pools at zero stay there, running pools keep their replicas; components/serving/scaling.ts). N > 0: once
     * more than 3 reads failed, every pool at zero starts and runs at least N replicas for the rest of the outage
     * (KEDA >= 2.19 counts a trigger on fallback as active). @default 0
     */
    fallbackReplicas: nonNegativeInt.default(0),
    /** Windows that keep replicas warm, e.g. class hours. @default [] */
    warmWindows: z.array(warmWindowSchema).default([]),
    /** Warm replicas ahead of the slots that had traffic a week ago. @default enabled, 7 days, lead = cold start + 120 s */
    predictiveWarmup: predictiveWarmupSchema.default(predictiveWarmupSchema.parse({})),
    /** Batch lines waiting (gateway_batch_backlog) per replica: the batch trigger wakes the pool from zero and sizes it by backlog. 0 = no batch trigger. @default 200 */
    batchBacklogPerReplica: nonNegativeInt.default(200),
});

export const modelSchema = z.strictObject({
    /** Hugging Face model id from the model catalog (see "Models in the catalog" below), e.g. "Qwen/Qwen3-VL-2B-Instruct". */
    id: z.string().min(1),
    /** GPU pool (a `gpuPools[].name`) the workers run on; the model must fit one of its GPUs. */
    pool: dnsLabel,
    /** Worker pool name: Kubernetes object names and the gateway's `pool` label. @default the catalog's short name */
    name: dnsLabel.optional(),
    /** vLLM --max-model-len. @default catalog */
    maxModelLen: positiveInt.optional(),
    /** vLLM --gpu-memory-utilization. @default catalog */
    gpuMemoryUtilization: z.number().min(0.5).max(0.98).optional(),
    /** vLLM --limit-mm-per-prompt image count. @default catalog */
    maxImagesPerPrompt: positiveInt.optional(),
    /** vLLM --max-num-seqs (concurrent sequences per worker). @default catalog */
    maxNumSeqs: positiveInt.optional(),
    /** Extra vLLM arguments, appended last. @default [] */
    extraArgs: z.array(z.string()).default([]),
    /** Hugging Face revision (40-hex commit) every pod loads. @default the catalog's pinned revision */
    revision: z
        .string()
        .regex(/^[0-9a-f]{40}$/, "must be a 40-character Hugging Face commit SHA")
        .optional(),
    /** Existing PersistentVolumeClaim (ReadWriteMany, e.g. EFS) caching weights and compile artefacts across pods (when coldStart.compileCache is "none"); emptyDir when absent. */
    cacheClaimName: dnsLabel.optional(),
    /** Scale policy of this worker pool. */
    scaling: scalingSchema.default(scalingSchema.parse({})),
});

/** One team's limits on a gateway (the gateway config's `limits.teams` and `batch.limits.teams` entries). */
export const teamGatewayLimitsSchema = z.strictObject({
    /** Requests the team may hold at once (queued or in flight). @default serving.gateway.limits.default, else half the queue */
    maxConcurrent: positiveInt.optional(),
    /** Sustained requests per minute (token bucket). @default serving.gateway.limits.default, else 600 */
    requestsPerMinute: z.number().positive().optional(),
    /** Requests allowed in one burst. @default requestsPerMinute */
    burst: positiveInt.optional(),
    /** The team's keys may warm pools up (POST /v1/warmup): true grants it to all of them, false takes it from all of them. @default each key's own permissions */
    warmup: z.boolean().optional(),
    /** Monthly budget in USD (GPU time billed to the team plus its floor share, docs/billing.md); past it the team's warm-ups and new batches are refused. No budget when absent. */
    budgetUsdPerMonth: z.number().positive().optional(),
    /** Past the budget, refuse the team's chat requests too (otherwise they go on). @default false */
    budgetHardStop: z.boolean().optional(),
    /** The team's batch limits (OpenAI Batch API). @default serving.batch's */
    batch: z
        .strictObject({
            /** Lines one batch of the team may have. @default serving.batch.maxLinesPerBatch */
            maxLinesPerBatch: positiveInt.optional(),
            /** Bytes of one file the team uploads. @default serving.batch.maxFileBytes */
            maxFileBytes: positiveInt.optional(),
            /** Batches of the team in progress at once. @default serving.batch.maxBatchesInProgress */
            maxBatchesInProgress: positiveInt.optional(),
            /** MiB the team may keep in the batch store (its files and its running batches' results). @default serving.batch.storagePerTeamMiB */
            storageMiB: positiveInt.optional(),
            /** Files the team may keep in the batch store. @default serving.batch.filesPerTeam */
            files: positiveInt.optional(),
        })
        .optional(),
});

/** Team names as the gateway knows them (the `team` of each API key). */
const GATEWAY_TEAM = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The longest a gateway may hold a request (serving.gateway.maxWaitSeconds); a platform's ALB idle timeout covers it. */
export const MAX_HOLD_SECONDS = 3600;

const gatewaySchema = z.strictObject({
    /** Minimum gateway replicas (production requires >= 2); KEDA adds more on in-flight requests and request rate. @default 1 */
    replicas: positiveInt.default(1),
    /** Most gateway replicas the HPA may run (it adds one per 200 in-flight requests or 200 requests/s). @default 4 */
    maxReplicas: positiveInt.default(4),
    /** Refuse /v1 requests without a valid API key (keys: the `gatewayApiKeys` secret). @default true */
    requireApiKey: z.boolean().default(true),
    /** Opt-in exact-match response cache for deterministic requests (temperature 0). @default true */
    responseCache: z.boolean().default(true),
    /** Gateway image; when absent the stack builds `gateway/` into an ECR repository. */
    image: pinnedImage().optional(),
    /** Requests held per pool while workers start. @default 200 */
    maxQueueDepth: positiveInt.default(200),
    /**
     * Seconds a request may wait for a worker before a 503; the ALB idle timeout and the gateway's drain follow it.
     * @default the pessimistic cold start of the stack's slowest pool (every phase at its slow figure, stacks/model/coldStartPhases.ts) x 1.25 + 60 s, rounded up to 30 s (stacks/model/holdTime.ts; `npm run plan` prints it)
     */
    maxWaitSeconds: positiveInt.max(MAX_HOLD_SECONDS).optional(),
    /** Per-team limits of the gateway (a team is the `team` of an API key in gatewayApiKeys). @default {"teams":{}} */
    limits: z
        .strictObject({
            /** Limits of every team without an entry of its own. @default half the queue (maxQueueDepth / 2) and 600 requests per minute */
            default: teamGatewayLimitsSchema.omit({ warmup: true, batch: true }).optional(),
            /** One team's limits, by the team named in gatewayApiKeys; unset fields take `default`. @default {} */
            teams: z.record(z.string().regex(GATEWAY_TEAM, "team names are letters, digits, '.', '_' or '-'"), teamGatewayLimitsSchema).default({}),
        })
        .default({ teams: {} }),
});

/** The official Valkey image, multi-arch index digest of valkey/valkey:9.1.2-alpine (see components/serving/batchStore.ts for the source). */
const VALKEY_IMAGE = "valkey/valkey:9.1.2-alpine@sha256:48332870af354a799964c0012ae1194a0bf2bf894eb508f945810596dc2d8d11";
const REDIS_URL = /^rediss?:\/\/[A-Za-z0-9.-]+:\d{1,5}$/;

export const batchSchema = z.strictObject({
    /** The OpenAI Batch API on the gateway (/v1/files, /v1/batches). @default true */
    enabled: z.boolean().default(true),
    /** Where batch state lives: "inCluster" (a Valkey StatefulSet on an encrypted gp3 volume) or "external" (an existing Valkey/Redis, e.g. Amazon ElastiCache for Valkey, at `endpoint`). @default "inCluster" */
    store: z.enum(["inCluster", "external"]).default("inCluster"),
    /** External store only: redis://host:port or rediss://host:port (TLS; ElastiCache with in-transit encryption). Its password, if any: the `batchStorePassword` secret. */
    endpoint: z
        .string()
        .regex(REDIS_URL, "must be redis://host:port or rediss://host:port (no password in the URL: set the batchStorePassword secret)")
        .optional(),
    /** In-cluster Valkey image, pinned by digest. @default VALKEY_IMAGE */
    image: pinnedImage({ digestOnly: true }).default(VALKEY_IMAGE),
    /** In-cluster Valkey volume size (append-only file). @default 20 */
    storageGiB: z.int().min(1).default(20),
    /** In-cluster Valkey memory limit (batch inputs with images are large: ~1 MB per image line); at least maxFileBytes / 0.75 / 0.75 (Valkey's maxmemory is 75 % of it, and uploads may fill 75 % of that). @default 2048 */
    memoryMiB: z.int().min(256).default(2048),
    /** Lines per batch a team may submit. @default 50000 */
    maxLinesPerBatch: positiveInt.default(50_000),
    /** Bytes per uploaded batch file. @default 209715200 (200 MiB) */
    maxFileBytes: positiveInt.default(200 * 1024 * 1024),
    /** Batches per team in progress at once. @default 10 */
    maxBatchesInProgress: positiveInt.default(10),
    /** Days uploaded files, batch outputs and finished batches stay in the store (Redis TTLs; a running batch never expires). @default 30 (OpenAI's default for batch files) */
    retentionDays: z.number().positive().max(365).default(30),
    /**
     * MiB one team may keep in the store (its files and the results of its running batches); over it, its uploads and new
     * batches are refused (403), so one team cannot fill the store for the others. @default the store's usable memory
     * (75 % of Valkey's maxmemory) shared equally by the teams of gatewayApiKeys
     */
    storagePerTeamMiB: positiveInt.optional(),
    /** Files one team may keep in the store. @default 1000 */
    filesPerTeam: positiveInt.default(1000),
});

export const servingSchema = z.strictObject({
    /** Kubernetes namespace of the serving stack. @default "serving" */
    namespace: dnsLabel.default("serving"),
    /** Public host name, e.g. "vision.example.org". */
    domain: z
        .string()
        .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$/, "must be a fully qualified domain name")
        .optional(),
    /** ACM certificate ARN for the ALB (HTTPS). Required in production. */
    certificateArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/, "must be an ACM certificate ARN")
        .optional(),
    /** Allow plain HTTP without a certificate (dev only). @default false */
    allowInsecureHttp: z.boolean().default(false),
    /** The gateway: replicas, API keys, how many requests it holds while workers start and for how long. */
    gateway: gatewaySchema.default(gatewaySchema.parse({})),
    /** vLLM image, pinned. @default "vllm/vllm-openai:v0.33.0" */
    vllmImage: pinnedImage().default("vllm/vllm-openai:v0.33.0"),
    /** Unprivileged nginx image serving the UI, pinned. @default "nginxinc/nginx-unprivileged:1.29.3-alpine" */
    uiImage: pinnedImage().default("nginxinc/nginx-unprivileged:1.29.3-alpine"),
    /** Batch jobs (OpenAI Batch API) and their Valkey store. */
    batch: batchSchema.default(batchSchema.parse({})),
});

const phaseSeconds = z
    .number({ error: "must be seconds as a number, e.g. 95" })
    .min(0, "must be >= 0 seconds")
    .max(3600, "must be at most 3600 seconds: a phase that takes longer is a failed start, not a slow one");

/** One measured phase: what a typical start took and what a slow one took (seconds). */
const phaseFigureSchema = z.strictObject({
    /** Seconds a typical start took (the median of your measurements). */
    expected: phaseSeconds,
    /** Seconds a slow start took (the slowest you measured, or a high percentile): the gateway's hold bound covers it. */
    pessimistic: phaseSeconds,
});

/** Cold-start phases a team can measure on its own cluster (stacks/model/coldStartPhases.ts uses them in place of its model). */
const coldStartPhasesSchema = z.strictObject({
    /** GPU node: launch to kubelet Ready, {expected, pessimistic} seconds. @default modelled by the node OS */
    nodeBoot: phaseFigureSchema.optional(),
    /** Node Ready to its GPU allocatable (device plugin registered). @default modelled by the node OS */
    gpuAdvertised: phaseFigureSchema.optional(),
    /** The vLLM image ready on a new node (pulled, or read from the image-cache volume). @default modelled from coldStart.imageCache */
    image: phaseFigureSchema.optional(),
    /** Weights into GPU memory. @default modelled from coldStart.weights, the model's size and the instance's network */
    weights: phaseFigureSchema.optional(),
    /** vLLM process start: imports, CUDA context, API server. @default 24 / 30 s (vLLM #20264) */
    engineStart: phaseFigureSchema.optional(),
    /** vLLM engine init: KV-cache profiling, torch.compile, CUDA graph capture. @default modelled from coldStart.compileCache */
    engineInit: phaseFigureSchema.optional(),
    /** vLLM serving to the gateway routing to it (probes, DNS). @default 11 / 21 s */
    routable: phaseFigureSchema.optional(),
});

/** The measurable phases' names, in the order a cold start goes through them. */
export const COLD_START_PHASES = Object.keys(coldStartPhasesSchema.shape) as (keyof typeof coldStartPhasesSchema.shape)[];

/** What makes a GPU pool at zero answer fast (components/serving/weights, components/serving/vllm/coldStartPod.ts, stacks/model/coldStartPhases.ts). */
export const coldStartSchema = z.strictObject({
    /**
     * "s3": weights copied once per pinned revision into the stack's private bucket by a sync Job; each worker copies
     * them from there onto its node's disk before vLLM starts, and vLLM's Run:ai streamer (`--load-format
     * runai_streamer`) loads that copy; "huggingface": every pod start downloads them from the Hub. @default "s3"
     */
    weights: z.enum(["s3", "huggingface"]).default("s3"),
    /**
     * "snapshot": the vLLM image pre-pulled on a Bottlerocket data volume restored from an EBS snapshot that the stack
     * builds (components/cluster/imageCache) and finds by its tag gpuserve.io/image=<serving.vllmImage, normalized as the
     * kubelet asks for it: docker.io/vllm/vllm-openai:...>, or
     * `imageCacheSnapshotId` (no build); "none": every new node pulls it. @default "snapshot"
     */
    imageCache: z.enum(["snapshot", "none"]).default("snapshot"),
    /**
     * EBS Provisioned Rate for Volume Initialization of a GPU node's image-cache data volume, MiB/s (100-300), or 0
     * for EBS's default lazy restore, where every first read of a block waits for S3 (EBS user guide, "Initialize
     * Amazon EBS volumes"). Billed once per node launch, per GiB of snapshot data per MiB/s (~$0.12 at 300 MiB/s for
     * the ~35 GB image; capacity/cacheCost.ts). The region's quota is 5,000 MiB/s for volumes initializing at once.
     * @default 300
     */
    imageCacheInitRateMiBps: z
        .int()
        .refine((v) => v === 0 || (v >= 100 && v <= 300), "must be 0 (lazy, EBS default) or 100-300 MiB/s")
        .default(300),
    /** Explicit image-cache snapshot (built for serving.vllmImage, encrypted); the stack then builds none. @default built by the stack */
    imageCacheSnapshotId: z
        .string()
        .regex(/^snap-[0-9a-f]{8,17}$/, "must be an EBS snapshot id such as snap-0123456789abcdef0")
        .optional(),
    /**
     * "s3": vLLM's torch.compile cache restored from and saved to the bucket, keyed by vLLM image, model revision,
     * GPU type and vLLM arguments; "none": every start compiles. @default "s3"
     */
    compileCache: z.enum(["s3", "none"]).default("s3"),
    /**
     * Cold-start phases you measured on your cluster, replacing the modelled figures for every pool, each
     * `{expected, pessimistic}` seconds, e.g. `{nodeBoot: {expected: 95, pessimistic: 140}}`. Keys: nodeBoot (GPU node
     * launch to Ready), gpuAdvertised (Ready to GPU allocatable), image (vLLM image ready on the node), weights,
     * engineStart (vLLM process start), engineInit (profiling, torch.compile, CUDA graphs), routable (vLLM serving to
     * the gateway routing to it). @default {} (the sourced figures; the plan prints them per phase)
     */
    phases: coldStartPhasesSchema.default({}),
});

/** Extra Helm values, deep-merged over the computed ones (last wins). */
const helmValues = z.record(z.string(), z.unknown()).default({});
/** Every add-on's switch; turning off one that another part needs is refused (validate.ts). */
const enabled = z.boolean().default(true);

export const addonsSchema = z.strictObject({
    /** NVIDIA device plugin (AL2023 GPU nodes; Bottlerocket's NVIDIA variant has it built in). */
    nvidiaDevicePlugin: z
        .strictObject({
            /** Install the chart. @default true */
            enabled,
            /** GPU time-slicing replicas per physical GPU; 1 = off (each worker owns a whole GPU). @default 1 */
            timeSlicingReplicas: z.int().min(1).max(16).default(1),
            /** Extra Helm values, deep-merged over the computed ones (last wins). @default {} */
            values: helmValues,
        })
        .default({ enabled: true, timeSlicingReplicas: 1, values: {} }),
    /** Cluster Autoscaler: adds GPU nodes for pending workers, removes empty ones. */
    clusterAutoscaler: z
        .strictObject({
            /** Install the chart (GPU pools cannot scale without it). @default true */
            enabled,
            /** How long a node must be unneeded before removal (GPU nodes cost by the hour). @default "5m" */
            scaleDownUnneededTime: z
                .string()
                .regex(/^\d+[smh]$/, "must be a duration such as 5m")
                .default("5m"),
            /** Node utilization (requests/allocatable) below which a node is a scale-down candidate. @default 0.5 */
            scaleDownUtilizationThreshold: z.number().gt(0).lt(1).default(0.5),
            /** Extra Helm values, deep-merged over the computed ones (last wins). @default {} */
            values: helmValues,
        })
        .default({ enabled: true, scaleDownUnneededTime: "5m", scaleDownUtilizationThreshold: 0.5, values: {} }),
    /** KEDA: scales each worker pool on the gateway's queue, from and to zero. */
    keda: z
        .strictObject({
            /** Install the chart (the scale policies need it). @default true */
            enabled,
            /** Extra Helm values, deep-merged over the computed ones (last wins). @default {} */
            values: helmValues,
        })
        .default({ enabled: true, values: {} }),
    /** DCGM exporter: GPU metrics for the dashboards and the optional GPU-utilization trigger. */
    dcgmExporter: z
        .strictObject({
            /** Install the chart. @default true */
            enabled,
            /** Extra Helm values, deep-merged over the computed ones (last wins). @default {} */
            values: helmValues,
        })
        .default({ enabled: true, values: {} }),
    /** kube-prometheus-stack: the Prometheus KEDA reads, and Grafana. */
    prometheus: z
        .strictObject({
            /** Install kube-prometheus-stack. When false, set `url` to an existing Prometheus (with the Prometheus Operator CRDs). @default true */
            enabled,
            /** URL of an existing Prometheus, used by KEDA when `enabled` is false. */
            url: z.url().optional(),
            /** How long Prometheus keeps samples (predictive warm-up needs its look-back + 1 day). @default "15d" */
            retention: z
                .string()
                .regex(/^\d+[dhw]$/, "must be a duration such as 15d")
                .default("15d"),
            /** Persistent volume size (encrypted gp3). @default 50 */
            storageGiB: positiveInt.default(50),
            /** Install Grafana with the project's dashboards. @default true */
            grafana: z.boolean().default(true),
            /** Extra Helm values, deep-merged over the computed ones (last wins). @default {} */
            values: helmValues,
        })
        .default({ enabled: true, retention: "15d", storageGiB: 50, grafana: true, values: {} }),
    /** AWS Load Balancer Controller: the ALB in front of the UI and the gateway. */
    loadBalancerController: z
        .strictObject({
            /** Install the chart. @default true */
            enabled,
            /** Extra Helm values, deep-merged over the computed ones (last wins). @default {} */
            values: helmValues,
        })
        .default({ enabled: true, values: {} }),
});

export type AddonsConfig = z.output<typeof addonsSchema>;

/**
 * Traffic profiles the cost estimate can simulate (capacity/traffic/). Built-ins: "steady",
 * "classroom" (a weekly timetable of classes), "classroom-random" (independent random
 * sessions every class day, `traffic.classroom`), "office-hours", "batch-night"; custom:
 * "hourly" (rates per hour and weekday, `traffic.hourly`), "timetable" (the user's weekly
 * sessions, `traffic.timetable`) and "csv" (a recorded arrival trace, `traffic.csvFile`).
 */
const TRAFFIC_PROFILES = ["steady", "classroom", "classroom-random", "office-hours", "batch-night", "hourly", "timetable", "csv"] as const;

const CRON_DAYS = /^[0-6](-[0-6])?(,[0-6](-[0-6])?)*$/;
const cronDays = z.string().regex(CRON_DAYS, "must be cron day-of-week syntax such as 1-5 or 1,3,5 (0 = Sunday)");
const positiveNumber = z.number().positive();
/** [min, max] with min <= max. */
const intRange = (max: number) =>
    z.tuple([z.int().nonnegative().max(max), z.int().nonnegative().max(max)]).refine(([a, b]) => a <= b, "must be [min, max] with min <= max");

const serviceTimeSchema = z
    .strictObject({
        /** Median seconds of one answer on one worker. */
        medianSeconds: positiveNumber,
        /** 95th percentile seconds of one answer on one worker (>= median). */
        p95Seconds: positiveNumber,
    })
    .refine((s) => s.p95Seconds >= s.medianSeconds, "p95Seconds must be >= medianSeconds");

const serviceOverrideSchema = z.strictObject({
    /** Image + question answer time. @default the service model of the model and GPU type (capacity/sim/service.ts) */
    image: serviceTimeSchema.optional(),
    /** Text-only answer time. @default the service model of the model and GPU type */
    text: serviceTimeSchema.optional(),
    /** Requests one worker serves at once at full speed (max useful concurrency). @default the service model of the model and GPU type */
    concurrency: positiveInt.max(1024).optional(),
});

const hourlyRatesSchema = z.strictObject({
    /** Days of week these rates apply to, cron syntax (0 = Sunday). Later entries win. @default "0-6" */
    days: cronDays.default("0-6"),
    /** Requests per hour for each local hour 0..23. */
    rates: z.array(z.number().nonnegative()).length(24, "must list 24 hourly rates (hours 0..23)"),
});

export const classroomSchema = z.strictObject({
    /** Days with classes, cron syntax. @default "1-5" */
    days: cronDays.default("1-5"),
    /** Class sessions per class day, [min, max]. @default [2, 4] */
    sessionsPerDay: intRange(48).default([2, 4]),
    /** Users in one session, [min, max]. @default [10, 30] */
    usersPerSession: intRange(10000).default([10, 30]),
    /** Session length in minutes, [min, max]. @default [45, 90] */
    sessionMinutes: intRange(24 * 60).default([45, 90]),
    /** Earliest and latest session start, local HH:MM. @default ["08:00", "16:00"] */
    startBetween: z
        .tuple([z.string().regex(HHMM, "must be HH:MM (24h)"), z.string().regex(HHMM, "must be HH:MM (24h)")])
        .refine(([a, b]) => a <= b, "must be [earliest, latest] with earliest <= latest")
        .default(["08:00", "16:00"]),
    /** Mean seconds between two questions of one user (Poisson). @default 60 */
    thinkSeconds: positiveNumber.default(60),
});

/** One weekly session of a timetable (profile "timetable"); times in the stack's `timezone`. */
export const timetableSessionSchema = z.strictObject({
    /** Days of week the session repeats on, cron syntax (0 = Sunday), e.g. "1,3". */
    days: cronDays,
    /** Start time, local HH:MM. */
    start: z.string().regex(HHMM, "must be HH:MM (24h), e.g. 09:00"),
    /** Length in minutes. */
    minutes: positiveInt.max(12 * 60),
    /** Students in the session. */
    students: positiveInt.max(10000),
    /** Questions (requests) one student asks in a session, on average. */
    questionsPerStudent: positiveNumber.max(1000),
    /** Model id or worker pool name the class uses. @default the stack's first model */
    model: z.string().min(1).optional(),
});

/** Worker pool, warm replicas and simulated load of a timetabled session (shared by sessions and calendars). */
const sessionUse = {
    /** Model id or worker pool name the session uses. @default the stack's first model */
    model: z.string().min(1).optional(),
    /** Replicas the pool is warmed to for the session (sessions of one pool at the same time do not add up: the highest wins). @default 1 */
    replicas: positiveInt.default(1),
    /** Students in the session: the simulated load of traffic profile "timetable" when traffic.timetable is empty (an assumption until set). @default 20 */
    students: positiveInt.max(10000).default(20),
    /** Questions (requests) one student asks in the session, on average, for the simulated load. @default 6 */
    questionsPerStudent: positiveNumber.max(1000).default(6),
};

/** A weekly session of the stack's timetable (gpuserve:timetable.sessions), in the stack's `timezone`. */
const courseSessionSchema = z.strictObject({
    /** Days of week the session repeats on, cron syntax (0 = Sunday), e.g. "1,3". */
    days: cronDays,
    /** Start time, local HH:MM. */
    start: z.string().regex(HHMM, "must be HH:MM (24h), e.g. 09:00"),
    /** Length in minutes. */
    minutes: positiveInt.max(12 * 60),
    ...sessionUse,
});

/** An iCalendar file exported from a course calendar (gpuserve:timetable.calendars). */
const calendarSchema = z.strictObject({
    /** Path of the .ics file (RFC 5545), relative to the folder of the stack file (the project root, or `npm run plan -- --dir <folder>`): its timed events are sessions (recurring, with time zones and exceptions). */
    file: z.string().min(1),
    ...sessionUse,
});

/**
 * The courses' timetable, given to the scale policy: each session's worker pool is warmed one (pessimistic) cold
 * start before it by KEDA cron triggers (stacks/cronTriggers.ts), held while the session runs, then released once
 * the session is over and the pool idle.
 */
const timetableSchema = z.strictObject({
    /** Weekly sessions `{days, start, minutes, model?, replicas?, students?, questionsPerStudent?}`. @default [] */
    sessions: z.array(courseSessionSchema).default([]),
    /** iCalendar files `{file, model?, replicas?, students?, questionsPerStudent?}`; every timed event is a session. @default [] */
    calendars: z.array(calendarSchema).default([]),
    /** Deploy the cron triggers that warm the pools; false: the timetable is only the simulated load. @default true */
    warm: z.boolean().default(true),
    /** Seconds before a session's start its pool is asked for. @default the pool's pessimistic warm-up, so the first question finds a worker */
    leadSeconds: positiveInt.max(3600).optional(),
    /**
     * How long the triggers hold a session's pool: "start", its first 10 minutes, then the pool stays while the class
     * asks questions and goes once it is idle (a session cancelled at short notice costs 10 minutes); "session", to its
     * end (lectures with long silent parts; a cancelled session warms the pool for its whole length). @default "start"
     */
    hold: z.enum(["start", "session"]).default("start"),
    /**
     * Outside its sessions, a pool the timetable warms is held by the requests of the last this-many seconds instead
     * of scaling.activityLookbackSeconds: the gateway exports whether a session is in progress
     * (gateway_timetable_session), and the recent-requests trigger reads the long window during a session (a class's
     * lulls) and this short one after it (its count scaled by long / short against the same threshold: with the usual
     * threshold near 1, one request in it holds the pool), so the GPU goes soon after the class has gone quiet. 0: the
     * same window in and out of sessions; else at least 60. @default 120
     */
    afterSessionLookbackSeconds: nonNegativeInt
        .max(3600)
        .refine((s) => s === 0 || s >= 60, "must be 0 (off) or at least 60: increase() over a shorter range than four 15 s scrapes is mostly empty")
        .default(120),
});

/** A recurring batch job: `lines` images submitted at once through the Batch API (e.g. 100 scans at 14:00). */
export const batchJobSchema = z.strictObject({
    /** Days it is submitted, cron syntax. @default "1-5" */
    days: cronDays.default("1-5"),
    /** Submission time, HH:MM local. */
    at: z.string().regex(HHMM, "must be HH:MM (24h)"),
    /** Lines (requests, one image + prompt each). */
    lines: positiveInt.max(50_000),
    /** Worker pool (model `name` or `id`). @default the first model */
    model: z.string().min(1).optional(),
});

export const trafficSchema = z
    .strictObject({
        /**
         * Traffic profile the cost estimate simulates: "classroom" (a weekly timetable of 20-student classes), "classroom-random"
         * (random sessions, `traffic.classroom`), "office-hours", "steady", "batch-night", or your own: "timetable" (`traffic.timetable`,
         * or gpuserve:timetable's sessions), "hourly" (`traffic.hourly`), "csv" (a recorded trace, `traffic.csvFile`); a stack with
         * gpuserve:timetable sessions and no profile gets "timetable". @default "classroom"
         */
        profile: z.enum(TRAFFIC_PROFILES).default("classroom"),
        /** Random seed, so estimates are reproducible. @default 1 */
        seed: nonNegativeInt.default(1),
        /** Multiplies the arrival rate of every profile except "csv". @default 1 */
        rateScale: positiveNumber.max(1000).default(1),
        /** Share of requests that carry an image and a question; the rest are text only. @default 0.8 */
        imageShare: z.number().min(0).max(1).default(0.8),
        /** Relative share of requests per worker pool (a model's `name` or `id`); pools not listed get none. @default {} (equal shares) */
        modelShares: z.record(z.string(), z.number().nonnegative()).default({}),
        /**
         * Profile "hourly": requests per hour for each local hour, per group of weekdays, e.g. `[{days: "1-5", rates: [0, 0, 0, 0, 0, 0, 0, 5, 40, ...24 numbers]}]`
         * (example: examples/Pulumi.hourly.yaml). @default []
         */
        hourly: z.array(hourlyRatesSchema).default([]),
        /**
         * Profile "csv": a recorded trace, relative to the folder of the stack file (the project root, or `--dir`); one request per line `timestamp,kind[,model]`: an ISO 8601 time
         * with a zone or seconds from the trace's start, `image` or `text`, optionally the worker pool or model id; a header line and
         * `#` comments are allowed (example: examples/traffic/arrivals.csv). @default none (required by profile "csv")
         */
        csvFile: z.string().min(1).optional(),
        /**
         * Profile "timetable": weekly sessions `{days: "1,3", start: "09:00", minutes: 50, students: 20, questionsPerStudent: 6, model?}` in `timezone`,
         * repeated every week with noise (start -2..+5 min, length ±10 %, 5 % cancelled, 90 % attendance, late arrivals). Empty: the sessions of
         * gpuserve:timetable (with their dates). @default []
         */
        timetable: z.array(timetableSessionSchema).default([]),
        /**
         * Profiles "classroom" and "timetable": the teacher presses "Get GPUs ready for class"
         * (POST /v1/warmup for the class's length) this many minutes before each class; 0 = never. @default 5
         */
        warmupMinutesBefore: nonNegativeInt.max(240).default(5),
        /** Shape of the "classroom-random" profile. @default 2-4 sessions of 10-30 users for 45-90 min, weekdays 08:00-16:00 starts, 60 s think time */
        classroom: classroomSchema.default(classroomSchema.parse({})),
        /** Service time and concurrency per worker pool (model `name` or `id`), overriding the service model. @default {} */
        service: z.record(z.string(), serviceOverrideSchema).default({}),
        /** Batch jobs next to the interactive profile (run on spare capacity, scaled by the batch-backlog trigger). @default [] */
        batches: z.array(batchJobSchema).default([]),
        /**
         * First simulated day, "YYYY-MM-DD" (the history week comes before it): places the span in the term of the
         * timetable's calendars. Without calendars the simulation is weekly and needs no date. @default the Monday on
         * or before the first session of gpuserve:timetable's calendars
         */
        startDate: z.iso.date({ error: "must be a date YYYY-MM-DD, e.g. 2026-09-07" }).optional(),
    })
    .superRefine((t, ctx) => {
        if (t.profile === "hourly" && t.hourly.length === 0) {
            ctx.addIssue({ code: "custom", path: ["hourly"], message: 'profile "hourly" needs at least one entry of 24 rates in traffic.hourly' });
        }
        if (t.profile === "csv" && t.csvFile === undefined) {
            ctx.addIssue({ code: "custom", path: ["csvFile"], message: 'profile "csv" needs traffic.csvFile (path of the arrival trace)' });
        }
        if (Object.keys(t.modelShares).length > 0 && Object.values(t.modelShares).every((w) => w === 0)) {
            ctx.addIssue({ code: "custom", path: ["modelShares"], message: "at least one share must be > 0" });
        }
    });

export const pricesSchema = z.strictObject({
    /** On-demand USD/hour per instance type, overriding the catalog (and required for regions it lacks). @default {} */
    instances: z.record(z.string(), z.number().positive()).default({}),
    /** Spot discount off on-demand, 0-0.95. @default 0.6 */
    spotDiscount: z.number().min(0).max(0.95).default(0.6),
});

/** Per-team bills (gateway/src/billing): how the platform floor is shared. */
const billingSchema = z.strictObject({
    /**
     * How the teams share the floor (control plane, NAT, load balancer, system nodes, GPU nodes kept
     * at zero load): "equal" parts, or by "usage" (each team's GPU spend). @default "equal"
     */
    floorSplit: z.enum(["equal", "usage"]).default("equal"),
    /**
     * The stack's monthly budget in USD: everything its gateway bills (all its keys' teams, their floor
     * share, idle time nobody used). Past it every team's warm-ups and new batches are refused (per-team
     * budgets: the gateway's limits.teams, docs/billing.md). No budget when absent.
     */
    budgetUsdPerMonth: z.number().positive().optional(),
    /** Past that budget, refuse chat requests too. @default false */
    budgetHardStop: z.boolean().default(false),
});

/** What a stack is (docs/teams.md): one whole cluster, a shared platform, or a team on a platform. */
export const STACK_ROLES = ["standalone", "platform", "team"] as const;
export type StackRole = (typeof STACK_ROLES)[number];

/** A Pulumi stack reference: <org>/<project>/<stack>. */
const STACK_REFERENCE = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** IAM role ARN (deploy and preview roles of a team). */
const ROLE_ARN = z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, "must be an IAM role ARN, e.g. arn:aws:iam::210987654321:role/gpuserve-biology-deploy");
const FQDN = z.string().regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$/, "must be a fully qualified domain name");

/**
 * A team registered on a platform (`gpuserve:teams.<team>` of the platform stack). The platform creates the
 * team's namespace with its ResourceQuota, LimitRange and baseline NetworkPolicies, and the EKS access of the
 * team's deploy roles; the team stack creates everything inside the namespace (docs/teams.md).
 */
export const teamRegistrationSchema = z.strictObject({
    /** Kubernetes namespace of the team. @default the team's name */
    namespace: dnsLabel.optional(),
    /** Host of the team on the platform's load balancer (its UI at /, its gateway at /v1). */
    host: FQDN,
    /** GPUs the team's own worker pools may request at once, per GPU type of the platform's pools, e.g. {a10g: 2}. @default {} (shared pools only) */
    gpus: z.partialRecord(z.enum(GPU_TYPES), nonNegativeInt).default({}),
    /** CPU cores all the team's pods may request (requests.cpu of its ResourceQuota). @default its GPUs' workers plus the serving footprint */
    cpu: z.number().positive().optional(),
    /** Memory all the team's pods may request, GiB (requests.memory). @default its GPUs' workers plus the serving footprint */
    memoryGiB: z.number().positive().optional(),
    /** Shared pools (worker pool names of the platform's models) the team may use. @default [] */
    sharedPools: z.array(dnsLabel).default([]),
    /** The team's limits on the shared gateway (its fair share of the shared pools). @default the platform's serving.gateway.limits.default */
    sharedLimits: teamGatewayLimitsSchema.omit({ batch: true, budgetUsdPerMonth: true, budgetHardStop: true }).optional(),
    /** IAM role the team's CI deploys with: EKS access (admin) limited to the team's namespace. */
    deployRoleArn: ROLE_ARN.optional(),
    /** IAM role the team's CI previews with: EKS access (edit) limited to the team's namespace. */
    previewRoleArn: ROLE_ARN.optional(),
    /**
     * IAM policy every role the team's stack creates carries as its permissions boundary (its pods' Pod Identity
     * roles): the deploy role may create roles only with it (docs/teams.md). Required with deployRoleArn.
     */
    permissionsBoundaryArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\/.+$/, "must be an IAM policy ARN, e.g. arn:aws:iam::210987654321:policy/gpuserve-biology-boundary")
        .optional(),
    /**
     * Leaving the platform: the namespace is no longer protected, so the next `pulumi up` after removing the
     * entry deletes it (destroy the team stack first). @default false
     */
    offboard: z.boolean().default(false),
});

/** A team stack on a cluster this program did not create (a university's central platform). */
export const existingClusterSchema = z.strictObject({
    /** EKS cluster name. */
    name: z.string().regex(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/, "must be an EKS cluster name"),
    /** Its region (must equal aws:region). */
    region: z.string().refine(isAwsRegion, "is not an AWS region"),
    /** The team's namespace, created (with its quota) by the cluster's admins. */
    namespace: dnsLabel,
    /** Prometheus that scrapes ServiceMonitors and that KEDA queries. */
    prometheusUrl: z.url(),
    /** Namespace of that Prometheus (NetworkPolicies admit its scrapes). @default "monitoring" */
    prometheusNamespace: dnsLabel.default("monitoring"),
    /** IngressClass of the AWS Load Balancer Controller the team's Ingress uses. @default "alb" */
    ingressClassName: dnsLabel.default("alb"),
    /** Where the ALB reaches pods from: the CIDRs of the load balancer's subnets (NetworkPolicy ipBlocks). */
    loadBalancerSourceCidrs: z.array(cidr).min(1),
    /** The cluster's VPC (an external batch store lives in it). */
    vpcCidr: cidr,
    /** How long that Prometheus keeps samples (predictive warm-up looks back a week). @default "15d" */
    prometheusRetention: z
        .string()
        .regex(/^\d+[dhw]$/, "must be a duration such as 15d")
        .default("15d"),
    /** GPU node groups the team may schedule on, as the cluster labels them. */
    gpuPools: z
        .array(
            gpuPoolSchema.omit({ minNodesReason: true, diskSizeGiB: true, scaleDownUnneededSeconds: true, podStorage: true }).extend({
                /** Labels that select the pool's nodes (the workers' nodeSelector). */
                nodeSelector: z.record(z.string(), z.string()).refine((m) => Object.keys(m).length > 0, "must select the pool's nodes by at least one label"),
                /** GPUs the team may request on it at once. @default maxNodes x GPUs per node */
                quota: nonNegativeInt.optional(),
            }),
        )
        .min(1),
});

export const stackConfigSchema = z.strictObject({
    /** AWS region code, set as `aws:region` (checked against the pinned @pulumi/aws region list); the catalog prices some regions (see below), others need `prices.instances`. */
    region: z.string().refine(isAwsRegion, "is not an AWS region"),
    /** "standalone": one stack = one cluster and its serving stack; "platform": the cluster teams share; "team": a team on a platform (docs/teams.md). @default "standalone" */
    role: z.enum(STACK_ROLES).default("standalone"),
    /** Team stacks: the platform stack, <org>/<project>/<stack> (a Pulumi StackReference; offline, plan/<stack>/outputs.json). */
    platformStack: z.string().regex(STACK_REFERENCE, "must be <org>/<project>/<stack>, e.g. acme/gpuserve/lab").optional(),
    /** Team stacks on a cluster this program did not create, instead of platformStack. */
    existingCluster: existingClusterSchema.optional(),
    /** Platform stacks: the teams on the platform, by team name. @default {} */
    teams: z.record(dnsLabel, teamRegistrationSchema).default({}),
    /** Team stacks: shared pools of the platform the team uses (its gateway forwards them to the platform's shared gateway). @default [] */
    sharedPools: z.array(dnsLabel).default([]),
    /** Environment name used in resource names and tags (`gpuserve-<environment>` is the cluster name; a team's name on its platform). @default the stack name */
    environment: dnsLabel,
    /** Turns on production guardrails: TLS required, API endpoint not open to 0.0.0.0/0, >= 2 gateway replicas, cluster deletion protection. @default false */
    production: z.boolean().default(false),
    /** IANA time zone for warm windows and the traffic profile. @default "UTC" */
    timezone: timeZoneSchema.default("UTC"),
    /** Cost-allocation tags on every AWS resource (added to `project`, `environment`, `managed-by`); `team` is required (AWS Cost Explorer groups by it), e.g. `{team: radiology}`. */
    tags: z
        .record(
            z.string().regex(/^[\w.:/=+@-]{1,127}$/, "tag keys use letters, digits and _.:/=+@-"),
            z.string().min(1).max(255).regex(AWS_TAG_VALUE, TAG_VALUE_MESSAGE),
        )
        .refine((t) => t.team !== undefined, "must include a 'team' tag for cost allocation, e.g. {team: radiology}"),
    /** The VPC: a new one (CIDR, availability zones, NAT gateways) or an existing one. */
    network: networkSchema.default(networkSchema.parse({})),
    /** The EKS control plane: version, who may reach and administer it, its logs. */
    cluster: clusterSchema.default(clusterSchema.parse({})),
    /** The CPU node group for add-ons, gateway and UI. */
    systemNodes: systemNodesSchema.default(systemNodesSchema.parse({})),
    /** GPU node groups, one per entry, each scaled by Cluster Autoscaler (from zero when minNodes is 0); at least one in standalone and platform stacks, none in a team stack (it uses its platform's). */
    gpuPools: z.array(gpuPoolSchema).default([]),
    /** Worker pools, one vLLM Deployment each (one GPU per worker), with their scale policy; at least one in a standalone stack; a platform's are the pools it shares with its teams. */
    models: z.array(modelSchema).default([]),
    /** The serving stack: namespace, public host name and TLS, gateway, images, batch jobs. */
    serving: servingSchema.default(servingSchema.parse({})),
    /** What makes a pool at zero answer fast: weights from S3, a pre-pulled image, a compile cache. */
    coldStart: coldStartSchema.default(coldStartSchema.parse({})),
    /** The platform add-ons (pinned Helm charts): each can be turned off or given extra Helm values. */
    addons: addonsSchema.default(addonsSchema.parse({})),
    /** The traffic the cost estimate simulates (`npm run plan`, `npm run compare`); it creates no resource. */
    traffic: trafficSchema.default(trafficSchema.parse({})),
    /** Price overrides for the cost estimate. */
    prices: pricesSchema.default(pricesSchema.parse({})),
    /** The courses' timetable as a scaling input (weekly sessions and .ics calendars). @default no timetable */
    timetable: timetableSchema.default(timetableSchema.parse({})),
    /** Per-team bills: how the teams share the platform floor, and the stack's budget (docs/billing.md). @default {floorSplit: "equal", budgetHardStop: false} */
    billing: billingSchema.default(billingSchema.parse({})),
});

/**
 * The raw shape a user writes (before defaults).
 * @public read by name with the type checker by scripts/engine/configReference.ts (npm run docs:config)
 */
export type StackConfigInput = z.input<typeof stackConfigSchema>;
/** The parsed shape with defaults applied (before catalog resolution). */
export type ParsedStackConfig = z.output<typeof stackConfigSchema>;
export type GpuPoolConfig = z.output<typeof gpuPoolSchema>;
export type ModelConfig = z.output<typeof modelSchema>;
export type ScalingConfig = z.output<typeof scalingSchema>;
export type ColdStartConfig = z.output<typeof coldStartSchema>;
export type TeamRegistration = z.output<typeof teamRegistrationSchema>;
export type ExistingCluster = z.output<typeof existingClusterSchema>;
export type TeamGatewayLimits = z.output<typeof teamGatewayLimitsSchema>;

/** Config keys the user sets as `gpuserve:<key>`; `region` comes from `aws:region`. */
export const CONFIG_KEYS = Object.keys(stackConfigSchema.shape).filter((k) => k !== "region");
/** Secret config keys, read with requireSecret and never part of the schema above. */
export const SECRET_KEYS = ["hfToken", "gatewayApiKeys", "batchStorePassword"] as const;
