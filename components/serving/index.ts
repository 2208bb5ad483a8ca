/**
 * ServingStack: what users touch. Namespace and network policies, one worker pool per
 * model, the gateway in front of them, the UI, and the ALB ingress. Serving objects wait
 * for the add-ons they need (KEDA CRDs, the Load Balancer Controller's webhook,
 * Prometheus Operator CRDs).
 */
import { estimatedColdStartSeconds } from "../../capacity/bounds/clairvoyant";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "../../stacks/validate";
import { childOf } from "../deps";
import { cooldownSecondsFor } from "../../stacks/scalePolicy";
import { BatchStore } from "./batchStore";
import { Gateway, gatewayMemoryMiB } from "./gateway";
import { ApiKey, apiKeysCommand, drainSeconds, gatewayConfig, parseApiKeys } from "./gatewayConfig";
import { ServingIngress } from "./ingress";
import { ServingNamespace } from "./namespace";
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
}

export interface PoolSummary {
    readonly model: string;
    readonly gpuPool: string;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly scaleToZero: boolean;
    readonly warmWindows: string[];
    readonly cooldownSeconds: number;
}

export class ServingStack extends pulumi.ComponentResource {
    readonly url: pulumi.Output<string>;
    readonly scaling: Record<string, PoolSummary>;

    constructor(name: string, args: ServingStackArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:serving:ServingStack", name, {}, opts);
        const cfg = args.config;
        const ns = cfg.serving.namespace;
        const namespace = new ServingNamespace(`${name}-ns`, { name: ns, albSourceCidrs: args.albSubnetCidrs ?? [args.vpcCidr] }, childOf(this, opts));
        const inNs = (extra: pulumi.Input<pulumi.Resource>[] = []) => childOf(this, opts, [namespace, ...extra]);

        let hfTokenSecret: string | undefined;
        if (args.hfToken) {
            hfTokenSecret = "hf-token";
            new k8s.core.v1.Secret(`${name}-hf-token`, { metadata: { name: hfTokenSecret, namespace: ns }, type: "Opaque", stringData: { token: args.hfToken } }, inNs());
        } else {
            const gated = cfg.models.filter((m) => m.spec.gated).map((m) => m.id);
            if (gated.length > 0) pulumi.log.warn(`${gated.join(", ")} ${gated.length > 1 ? "are" : "is"} gated on Hugging Face and gpuserve:hfToken is not set: those workers cannot download weights. Fix: pulumi config set --secret hfToken hf_...`, this);
        }

        // Weights (and compile caches) in the stack's S3 bucket: gpuserve:coldStart.
        const cs = cfg.coldStart;
        const weights =
            cs.weights === "s3" || cs.compileCache === "s3"
                ? new ModelWeights(
                      `${name}-weights`,
                      {
                          namespace: ns,
                          namePrefix: args.namePrefix,
                          clusterName: args.clusterName,
                          clusterArn: args.clusterArn,
                          region: cfg.region,
                          models: cs.weights === "s3" ? cfg.models.map((m) => ({ id: m.id, name: m.name, revision: m.revision, weightsGiB: m.spec.weightsGiB })) : [],
                          hfTokenSecret,
                          retain: cfg.production,
                      },
                      inNs(),
                  )
                : undefined;

        const poolsByName = new Map(cfg.gpuPools.map((p) => [p.name, p]));
        for (const model of cfg.models) {
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
                    batchEnabled: cfg.serving.batch.enabled,
                    region: cfg.region,
                    clusterName: args.clusterName,
                    clusterArn: args.clusterArn,
                    weights: weights ? { bucketName: weights.bucketName, bucketArn: weights.bucketArn, syncJob: weights.syncJobs[model.name] } : undefined,
                },
                inNs(),
            );
        }

        if (cfg.serving.gateway.requireApiKey && !args.gatewayApiKeys) {
            pulumi.log.warn(`gpuserve:gatewayApiKeys is not set: the gateway will refuse every /v1 request. Fix: ${apiKeysCommand(cfg.tags.team)}`, this);
        }
        const keys: pulumi.Output<ApiKey[] | undefined> = args.gatewayApiKeys ? args.gatewayApiKeys.apply((json) => parseApiKeys(json, cfg.tags.team)) : pulumi.output(undefined);
        const batchStore = cfg.serving.batch.enabled ? new BatchStore(`${name}-batch-store`, { config: cfg, vpcCidr: args.vpcCidr, externalPassword: args.batchStorePassword }, inNs()) : undefined;
        const configJson = pulumi.secret(keys.apply((k) => JSON.stringify(gatewayConfig(cfg, k), null, 2)));
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
                env: batchStore?.gatewayEnv,
                memoryMiB: gatewayMemoryMiB(cfg.serving.batch.enabled),
            },
            inNs(batchStore ? [batchStore] : []),
        );
        const ui = new Ui(`${name}-ui`, { namespace: ns, image: cfg.serving.uiImage, replicas: cfg.production ? 2 : 1, tls: cfg.serving.certificateArn !== undefined }, inNs());
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
            },
            inNs([...args.loadBalancerController, gateway, ui]),
        );

        const scheme = cfg.serving.certificateArn ? "https" : "http";
        this.url = cfg.serving.domain ? pulumi.output(`${scheme}://${cfg.serving.domain}`) : ingress.hostname.apply((h) => (h ? `${scheme}://${h}` : "(pending: the ALB has no address yet)"));
        this.scaling = Object.fromEntries(
            cfg.models.map((m) => [
                workerName(m),
                {
                    model: m.id,
                    gpuPool: m.pool,
                    minReplicas: m.scaling.minReplicas,
                    maxReplicas: m.scaling.maxReplicas,
                    scaleToZero: m.scaling.minReplicas === 0,
                    warmWindows: m.scaling.warmWindows.map((w) => `${w.days} ${w.start}-${w.end} ${cfg.timezone}: ${w.replicas}`),
                    cooldownSeconds: cooldownSecondsFor(m.scaling, estimatedColdStartSeconds(cfg, m)),
                },
            ]),
        );
        this.registerOutputs({ url: this.url });
    }
}
