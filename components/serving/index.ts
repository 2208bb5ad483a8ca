/**
 * ServingStack: what users touch. Namespace and network policies, one worker pool per
 * model, the gateway in front of them, the UI, and the ALB ingress. Serving objects wait
 * for the add-ons they need (KEDA CRDs, the Load Balancer Controller's webhook,
 * Prometheus Operator CRDs).
 */
import { estimatedColdStartSeconds, restartSeconds } from "../../capacity/bounds/clairvoyant";
import { cronTriggersFor, sessionGateFor, timetableWarnings } from "../../capacity/timetableWarm";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/resolved";
import { childOf } from "../deps";
import { cooldownSecondsFor } from "../../stacks/scalePolicy";
import { BatchStore } from "./batchStore";
import { GATEWAY_NAME, Gateway, gatewayMemoryMiB } from "./gatewayDeployment";
import { billingPrometheusRule, nodeGroupBilling } from "./billingRules";
import {
    ApiKey,
    GatewayConfigOptions,
    SHARED_POOL_KEY_ENV,
    SHARED_POOL_KEY_SECRET,
    apiKeysCommand,
    billingFloorUsdPerHour,
    drainSeconds,
    gatewayConfig,
    parseApiKeys,
} from "./gatewayConfig";
import { ServingIngress } from "./ingress";
import { ServingNamespace, ServingPolicies, sharedPolicySpecs, teamPolicySpecs } from "./namespace";
import type { TeamGatewayLimits } from "../../stacks/schema";
import { Ui } from "./ui";
import { WorkerPool, workerName } from "./workers";
import { ModelWeights } from "./weights";

export interface ServingStackArgs {
    readonly config: StackConfig;
    readonly vpcCidr: pulumi.Input<string>;
    /** Where ALB traffic comes from: the subnets of the internet-facing ALB (NetworkPolicies). @default [vpcCidr] */
    readonly albSubnetCidrs?: pulumi.Input<string>[];
    readonly prometheusUrl: string;
    readonly serviceMonitors: boolean;
    readonly hfToken?: pulumi.Output<string>;
    readonly gatewayApiKeys?: pulumi.Output<string>;
    readonly batchStorePassword?: pulumi.Output<string>;
    readonly keda: pulumi.Input<pulumi.Resource>[];
    readonly loadBalancerController: pulumi.Input<pulumi.Resource>[];
    readonly tags: Record<string, string>;
    /** EKS cluster, for the Pod Identity roles of the weights bucket. */
    readonly clusterName: pulumi.Input<string>;
    readonly clusterArn: pulumi.Input<string>;
    /** Prefix of the weights bucket's name. */
    readonly namePrefix: string;
    /** Where it runs: its own namespace and ALB (standalone), a team's namespace on a platform, or a platform's shared pools. @default standalone */
    readonly placement?: ServingPlacement;
}

/**
 * A team's serving stack on a platform: in the namespace the platform made for it (which has its quota
 * and baseline policies), reached through the platform's ALB, scaled on its own gateway's metrics.
 */
export interface TeamPlacement {
    readonly kind: "team";
    /** The ALB's subnets (NetworkPolicy ipBlocks and the gateway's trusted proxies). */
    readonly albSources: pulumi.Input<string>[];
    /** The platform's IngressClass and its group (absent on an existing cluster: the team's Ingress gets its own ALB). */
    readonly ingress: { readonly className: string; readonly groupName?: string; readonly tls: boolean; readonly idleTimeoutSeconds: number };
    readonly prometheusNamespace: string;
}

/** A platform's shared pools: their workers and the gateway that queues them fairly per team, reached only by the teams' gateways. */
export interface SharedPlacement {
    readonly kind: "shared";
    /** Namespaces of the teams that use the shared pools (their gateways may call the shared gateway). */
    readonly teamNamespaces: readonly string[];
    /** Namespaces whose gateways' warm-up gauges wake the shared pools (teams with sharedLimits.warmup). */
    readonly warmupNamespaces: readonly string[];
    /** The teams' keys to the shared gateway (team = the registered team name) and their limits. */
    readonly teamKeys: pulumi.Output<ApiKey[]>;
    readonly teamLimits: Readonly<Record<string, TeamGatewayLimits>>;
    readonly prometheusNamespace: string;
}

export type ServingPlacement = TeamPlacement | SharedPlacement;

/** The gateway config's options for where it runs (the ALB's subnets as resolved, for a team). */
export function placementGatewayOptions(place: ServingPlacement | undefined, albSources?: readonly string[]): GatewayConfigOptions {
    if (place?.kind === "team") return { albIdleTimeoutSeconds: place.ingress.idleTimeoutSeconds, ...(albSources ? { trustedProxies: albSources } : {}) };
    if (place?.kind === "shared") return { teamLimits: place.teamLimits };
    return {};
}

export interface PoolSummary {
    readonly model: string;
    readonly gpuPool: string;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly scaleToZero: boolean;
    readonly warmWindows: string[];
    /** The timetable's KEDA cron triggers (gpuserve:timetable): "start -> end (timezone): replicas". */
    readonly timetableTriggers: string[];
    readonly cooldownSeconds: number;
}

export class ServingStack extends pulumi.ComponentResource {
    readonly url: pulumi.Output<string>;
    readonly scaling: Record<string, PoolSummary>;

    constructor(name: string, args: ServingStackArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:serving:ServingStack", name, {}, opts);
        const cfg = args.config;
        const ns = cfg.serving.namespace;
        const place = args.placement;
        // A team's namespace is the platform's (with its quota): the team adds its policies to it.
        const namespace =
            place?.kind === "team"
                ? new ServingPolicies(`${name}-policies`, { namespace: ns, specs: teamPolicySpecs(place, cfg) }, childOf(this, opts))
                : new ServingNamespace(
                      `${name}-ns`,
                      {
                          name: ns,
                          albSourceCidrs: args.albSubnetCidrs ?? [args.vpcCidr],
                          specs: place?.kind === "shared" ? sharedPolicySpecs(place) : undefined,
                      },
                      childOf(this, opts),
                  );
        const inNs = (extra: pulumi.Input<pulumi.Resource>[] = []) => childOf(this, opts, [namespace, ...extra]);
        const scope = place ? { namespace: ns, ...(place.kind === "shared" ? { warmup: [ns, ...place.warmupNamespaces] } : {}) } : undefined;
        /** A team's AWS roles carry its platform's permissions boundary (docs/teams.md). */
        const boundary = cfg.platform?.teams[cfg.environment]?.permissionsBoundaryArn;
        /** The stack's own worker pools (a team's shared pools run on the platform). */
        const own = cfg.models.filter((m) => !m.shared);

        let hfTokenSecret: string | undefined;
        if (args.hfToken) {
            hfTokenSecret = "hf-token";
            new k8s.core.v1.Secret(
                `${name}-hf-token`,
                { metadata: { name: hfTokenSecret, namespace: ns }, type: "Opaque", stringData: { token: args.hfToken } },
                inNs(),
            );
        } else {
            const gated = own.filter((m) => m.spec.gated).map((m) => m.id);
            if (gated.length > 0)
                void pulumi.log.warn(
                    `${gated.join(", ")} ${gated.length > 1 ? "are" : "is"} gated on Hugging Face and gpuserve:hfToken is not set: those workers cannot download weights. Fix: pulumi config set --secret hfToken hf_...`,
                    this,
                );
        }

        // Weights (and compile caches) in the stack's S3 bucket: gpuserve:coldStart. Only for its own workers:
        // a shared pool's weights are the platform's.
        const cs = cfg.coldStart;
        const weights =
            own.length > 0 && (cs.weights === "s3" || cs.compileCache === "s3")
                ? new ModelWeights(
                      `${name}-weights`,
                      {
                          namespace: ns,
                          namePrefix: args.namePrefix,
                          clusterName: args.clusterName,
                          clusterArn: args.clusterArn,
                          region: cfg.region,
                          models: cs.weights === "s3" ? own.map((m) => ({ id: m.id, name: m.name, revision: m.revision, weightsGiB: m.spec.weightsGiB })) : [],
                          hfTokenSecret,
                          retain: cfg.production,
                          permissionsBoundary: boundary,
                      },
                      inNs(),
                  )
                : undefined;

        const poolsByName = new Map(cfg.gpuPools.map((p) => [p.name, p]));
        // A shared pool's workers are the platform's: a team's gateway forwards to them.
        for (const model of own) {
            new WorkerPool(
                `${name}-${model.name}`,
                {
                    namespace: ns,
                    model,
                    gpuPool: poolsByName.get(model.pool)!,
                    image: cfg.serving.vllmImage,
                    hfTokenSecret,
                    prometheusUrl: args.prometheusUrl,
                    timezone: cfg.timezone,
                    serviceMonitor: args.serviceMonitors,
                    keda: args.keda,
                    coldStart: cs,
                    coldStartSeconds: estimatedColdStartSeconds(cfg, model),
                    cronTriggers: cronTriggersFor(cfg, model),
                    afterSessionLookbackSeconds: sessionGateFor(cfg, model)?.afterSessionLookbackSeconds,
                    restartSeconds: restartSeconds(cfg, model),
                    batchEnabled: cfg.serving.batch.enabled,
                    region: cfg.region,
                    clusterName: args.clusterName,
                    clusterArn: args.clusterArn,
                    weights: weights ? { bucketName: weights.bucketName, bucketArn: weights.bucketArn, syncJob: weights.syncJobs[model.name] } : undefined,
                    metricScope: scope,
                    nodeSelector: cfg.platform?.gpuPools.find((p) => p.name === model.pool)?.nodeSelector,
                    permissionsBoundary: boundary,
                },
                inNs(),
            );
        }

        for (const w of timetableWarnings(cfg)) void pulumi.log.warn(w, this);
        if (place?.kind !== "shared" && cfg.serving.gateway.requireApiKey && !args.gatewayApiKeys) {
            void pulumi.log.warn(`gpuserve:gatewayApiKeys is not set: the gateway will refuse every /v1 request. Fix: ${apiKeysCommand(cfg.tags.team)}`, this);
        }
        const keys: pulumi.Output<ApiKey[] | undefined> =
            place?.kind === "shared"
                ? place.teamKeys
                : args.gatewayApiKeys
                  ? args.gatewayApiKeys.apply((json) => parseApiKeys(json, cfg.tags.team))
                  : pulumi.output(undefined);
        // The shared pools run no batches of their own: a team's batch lines come through its gateway.
        const batchStore =
            cfg.serving.batch.enabled && place?.kind !== "shared"
                ? new BatchStore(`${name}-batch-store`, { config: cfg, vpcCidr: args.vpcCidr, externalPassword: args.batchStorePassword }, inNs())
                : undefined;
        const trusted = place?.kind === "team" ? pulumi.all(place.albSources) : pulumi.output(undefined);
        const configJson = pulumi.secret(
            pulumi.all([keys, trusted]).apply(([k, proxies]) => JSON.stringify(gatewayConfig(cfg, k, placementGatewayOptions(place, proxies)), null, 2)),
        );
        // A team gateway's key to the platform's shared gateway, from the Secret the platform put in the namespace.
        const sharedKey = cfg.models.some((m) => m.shared)
            ? [{ name: SHARED_POOL_KEY_ENV, valueFrom: { secretKeyRef: { name: SHARED_POOL_KEY_SECRET, key: "key" } } }]
            : [];
        const gateway = new Gateway(
            `${name}-gateway`,
            {
                namespace: ns,
                configJson,
                image: cfg.serving.gateway.image,
                minReplicas: cfg.serving.gateway.replicas,
                maxReplicas: cfg.serving.gateway.maxReplicas,
                drainSeconds: drainSeconds(cfg.serving.gateway.maxWaitSeconds),
                maxWaitSeconds: cfg.serving.gateway.maxWaitSeconds,
                serviceMonitor: args.serviceMonitors,
                prometheusUrl: args.prometheusUrl,
                keda: args.keda,
                env: [...(batchStore?.gatewayEnv ?? []), ...sharedKey],
                metricsNamespace: place ? ns : undefined,
                memoryMiB: gatewayMemoryMiB(cfg.serving.batch.enabled),
            },
            inNs(batchStore ? [batchStore] : []),
        );
        const tls = cfg.serving.certificateArn !== undefined || (place?.kind === "team" && place.ingress.tls);
        const scheme = tls ? "https" : "http";
        if (place?.kind === "shared") {
            // Not on the ALB: only the teams' gateways reach it (sharedPolicySpecs).
            this.url = pulumi.output(`http://${GATEWAY_NAME}.${ns}.svc.cluster.local`);
        } else {
            const ui = new Ui(`${name}-ui`, { namespace: ns, image: cfg.serving.uiImage, replicas: cfg.production ? 2 : 1, tls }, inNs());
            const ingress = new ServingIngress(
                `${name}-ingress`,
                {
                    namespace: ns,
                    domain: cfg.serving.domain,
                    certificateArn: cfg.serving.certificateArn,
                    gatewayService: gateway.serviceName,
                    uiService: ui.serviceName,
                    maxWaitSeconds: cfg.serving.gateway.maxWaitSeconds,
                    tags: args.tags,
                    ...(place?.kind === "team"
                        ? place.ingress.groupName
                            ? { group: { className: place.ingress.className, name: place.ingress.groupName, tls: place.ingress.tls } }
                            : { className: place.ingress.className }
                        : {}),
                },
                inNs([...args.loadBalancerController, gateway, ui]),
            );
            this.url = cfg.serving.domain
                ? pulumi.output(`${scheme}://${cfg.serving.domain}`)
                : ingress.hostname.apply((h) => (h ? `${scheme}://${h}` : "(pending: the ALB has no address yet)"));
        }

        // Per-team dollars and budget alerts from the gateway's bill (components/serving/billingRules.ts): its own
        // pools (a shared pool is billed by the platform's shared gateway, whose rules cover it).
        if (args.serviceMonitors) billingPrometheusRule(`${name}-team-cost-rules`, ns, nodeGroupBilling(cfg), billingFloorUsdPerHour(cfg), inNs());
        this.scaling = Object.fromEntries(
            own.map((m) => [
                workerName(m),
                {
                    model: m.id,
                    gpuPool: m.pool,
                    minReplicas: m.scaling.minReplicas,
                    maxReplicas: m.scaling.maxReplicas,
                    scaleToZero: m.scaling.minReplicas === 0,
                    warmWindows: m.scaling.warmWindows.map((w) => `${w.days} ${w.start}-${w.end} ${cfg.timezone}: ${w.replicas}`),
                    timetableTriggers: cronTriggersFor(cfg, m)
                        .filter((c) => c.name.startsWith("class-"))
                        .map((c) => `${c.start} -> ${c.end} (${c.timezone}): ${c.desiredReplicas}`),
                    cooldownSeconds: cooldownSecondsFor(m.scaling, estimatedColdStartSeconds(cfg, m)),
                },
            ]),
        );
        this.registerOutputs({ url: this.url });
    }
}
