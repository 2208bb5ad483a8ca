import * as assert from "assert";
import { createHash } from "crypto";
import { parseConfig } from "../../gateway/src/config";
import { gatewayConfig, parseApiKeys } from "../../components/serving/gatewayConfig";
import { networkPolicySpecs } from "../../components/serving/namespace";
import { predictiveQuery, scaledObjectSpec } from "../../components/serving/scaling";
import { buildSimInput } from "../../capacity/sim/setup";
import { restartSeconds } from "../../capacity/bounds/clairvoyant";
import { uiNginxConf } from "../../components/serving/ui";
import { parseStackConfig } from "../../stacks/validate";
import { STARTUP_BUDGET_SECONDS } from "../../components/serving/workers";
import { LOCAL_MODEL_DIR, WEIGHTS_FETCH_SCRIPT } from "../../components/serving/weights/fetch";
import { MODEL_CATALOG } from "../../stacks/catalog/models";
import { scalingSchema } from "../../stacks/schema";
import { knownMetricNames, promqlMetricNames } from "../helpers/metrics";
import { StackRun, clone, runStack, stackConfig } from "../helpers/program";

const DEPLOY = "kubernetes:apps/v1:Deployment";
const SCALED = "kubernetes:keda.sh/v1alpha1:ScaledObject";
const inputs = (r: { inputs: unknown }) => r.inputs as any;

const HF_TOKEN = "hf_offlineTestTokenThatMustNeverLeak123";
const API_KEY = "radiology-key-that-must-never-leak-0123456789";

describe("ServingStack", () => {
    let dev: StackRun;
    let prod: StackRun;
    before(async function () {
        this.timeout(120_000); // renders stacks: 1-2 s of CPU each, several times that on a busy machine
        dev = await runStack(stackConfig("dev"));
        prod = await runStack(stackConfig("prod"), { hfToken: HF_TOKEN, gatewayApiKeys: JSON.stringify([{ team: "radiology", key: API_KEY }]) });
    });

    const workers = (run: StackRun) => run.find(DEPLOY).filter((d) => inputs(d).metadata.name.startsWith("worker-"));

    it("creates one worker Deployment per model, each with exactly one GPU", () => {
        assert.deepStrictEqual(
            workers(prod)
                .map((d) => inputs(d).metadata.name)
                .sort(),
            ["worker-medgemma-4b", "worker-qwen3-vl-2b", "worker-qwen3-vl-8b"],
        );
        for (const d of workers(prod)) {
            const [c] = inputs(d).spec.template.spec.containers;
            assert.strictEqual(c.resources.requests["nvidia.com/gpu"], "1");
            assert.strictEqual(c.resources.limits["nvidia.com/gpu"], "1");
            assert.strictEqual(inputs(d).spec.template.spec.containers.length, 1);
        }
    });

    it("schedules workers on their pool's GPU nodes, tolerating exactly the pool's taint", () => {
        const byPool: Record<string, string> = { "worker-qwen3-vl-2b": "a10g", "worker-medgemma-4b": "a10g", "worker-qwen3-vl-8b": "l40s" };
        for (const d of workers(prod)) {
            const spec = inputs(d).spec.template.spec;
            const pool = byPool[inputs(d).metadata.name];
            assert.deepStrictEqual(spec.nodeSelector, { "gpuserve.io/gpu-pool": pool });
            const ng = prod.get("aws:eks/nodeGroup:NodeGroup", `gpuserve-test-gpu-${pool}-ng`);
            const [taint] = inputs(ng).taints;
            assert.deepStrictEqual(spec.tolerations, [{ key: taint.key, operator: "Equal", value: taint.value, effect: "NoSchedule" }]);
            assert.strictEqual(inputs(ng).labels["gpuserve.io/gpu-pool"], pool);
        }
    });

    it("leaves replica counts to the autoscalers: no spec.replicas on workers or the gateway", () => {
        for (const d of [...workers(prod), prod.get(DEPLOY, "gpuserve-test-gateway-deployment")]) {
            assert.ok(!("replicas" in inputs(d).spec), `${inputs(d).metadata.name} sets replicas`);
        }
        const gw = inputs(prod.get(SCALED, "gpuserve-test-gateway-scaler")).spec;
        assert.deepStrictEqual([gw.minReplicaCount, gw.maxReplicaCount, gw.scaleTargetRef.name], [2, 4, "gateway"]);
        assert.deepStrictEqual(
            gw.triggers.map((t: any) => t.name),
            ["inflight", "request-rate"],
        );
        assert.deepStrictEqual(gw.fallback, { failureThreshold: 3, replicas: 2, behavior: "currentReplicasIfHigher" });
    });

    it("starts vLLM with the catalog's arguments and keeps serving through rollouts and shutdowns", () => {
        const d = inputs(prod.get(DEPLOY, "gpuserve-test-qwen3-vl-2b-deployment"));
        const [c] = d.spec.template.spec.containers;
        const arg = (flag: string) => c.args[c.args.indexOf(flag) + 1];
        assert.deepStrictEqual(c.command, ["vllm", "serve"]);
        // The positional model: the node-disk copy of the stack's S3 copy of the pinned revision, which an init container
        // made before vLLM starts, streamed to the GPU by the Run:ai streamer (gpuserve:coldStart.weights "s3").
        assert.strictEqual(c.args[0], LOCAL_MODEL_DIR, "the model is vllm serve's positional argument");
        assert.strictEqual(arg("--load-format"), "runai_streamer");
        const pod = d.spec.template.spec;
        const fetch = pod.initContainers.find((i: any) => i.name === "weights-fetch");
        const env = (name: string) => fetch.env.find((e: any) => e.name === name)?.value;
        assert.strictEqual(pod.initContainers[0].name, "weights-fetch", "the weights are on disk before anything else runs");
        assert.deepStrictEqual(fetch.command, ["/bin/sh", "-c", WEIGHTS_FETCH_SCRIPT]);
        assert.match(env("BUCKET"), /^gpuserve-test-weights-[0-9a-f]+$/);
        assert.strictEqual(env("PREFIX"), "models/Qwen/Qwen3-VL-2B-Instruct/89644892e4d85e24eaac8bacfd4f463576704203");
        // The copy lands in the volume vLLM reads the model from (read-only there), on the node's disk, sized for the weights.
        const writes = fetch.volumeMounts.find((v: any) => LOCAL_MODEL_DIR.startsWith(v.mountPath + "/"));
        const reads = c.volumeMounts.find((v: any) => LOCAL_MODEL_DIR.startsWith(v.mountPath + "/"));
        assert.ok(writes && reads && writes.name === reads.name && writes.mountPath === reads.mountPath, "the init container writes where vLLM reads");
        assert.strictEqual(reads.readOnly, true);
        const volume = pod.volumes.find((v: any) => v.name === reads.name);
        assert.deepStrictEqual(volume, {
            name: reads.name,
            emptyDir: { sizeLimit: `${Math.ceil(MODEL_CATALOG["Qwen/Qwen3-VL-2B-Instruct"].weightsGiB + 1)}Gi` },
        });
        // The scheduler counts the weights and the cache volume against the node's disk.
        const cache = pod.volumes.find((v: any) => v.name === "cache");
        assert.strictEqual(c.resources.requests["ephemeral-storage"], `${parseInt(volume.emptyDir.sizeLimit) + parseInt(cache.emptyDir.sizeLimit)}Gi`);
        assert.strictEqual(arg("--max-model-len"), "16384");
        assert.strictEqual(arg("--gpu-memory-utilization"), "0.9");
        assert.strictEqual(arg("--limit-mm-per-prompt"), '{"image":4,"video":0}');
        assert.strictEqual(arg("--allowed-media-domains"), "media.invalid", "no remote media URLs (issue 13)");
        assert.deepStrictEqual(c.args.slice(c.args.indexOf("--served-model-name") + 1, c.args.indexOf("--served-model-name") + 3), [
            "Qwen/Qwen3-VL-2B-Instruct",
            "qwen3-vl-2b",
        ]);
        assert.match(c.image, /^docker\.io\/vllm\/vllm-openai:v\d+\.\d+\.\d+$/);
        assert.strictEqual(c.startupProbe.httpGet.path, "/v1/models");
        assert.strictEqual(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold, STARTUP_BUDGET_SECONDS);
        assert.strictEqual(c.readinessProbe.httpGet.path, "/v1/models");
        assert.strictEqual(c.livenessProbe.httpGet.path, "/health");
        assert.ok(c.lifecycle.preStop.sleep.seconds > 0);
        assert.ok(d.spec.template.spec.terminationGracePeriodSeconds > c.lifecycle.preStop.sleep.seconds);
        assert.deepStrictEqual(d.spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
        const shm = d.spec.template.spec.volumes.find((v: any) => v.name === "dshm");
        assert.strictEqual(shm.emptyDir.medium, "Memory");
        assert.strictEqual(c.securityContext.runAsNonRoot, true);
        assert.strictEqual(c.securityContext.readOnlyRootFilesystem, true);
        assert.strictEqual(c.env.find((e: any) => e.name === "USER").value, "vllm", "a uid without passwd entry needs USER for getpass");
        assert.strictEqual(d.metadata.annotations["pulumi.com/skipAwait"], "true", "pulumi up must not wait for a GPU cold start");
    });

    it("gives each worker pool a headless Service, a PDB and a ServiceMonitor that labels series with the pool", () => {
        const svc = inputs(prod.get("kubernetes:core/v1:Service", "gpuserve-test-qwen3-vl-2b-service"));
        assert.strictEqual(svc.spec.clusterIP, "None");
        assert.strictEqual(inputs(prod.get("kubernetes:policy/v1:PodDisruptionBudget", "gpuserve-test-qwen3-vl-2b-pdb")).spec.maxUnavailable, 1);
        const mon = inputs(prod.get("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "gpuserve-test-qwen3-vl-2b-monitor"));
        assert.deepStrictEqual(mon.spec.endpoints[0].relabelings, [{ action: "replace", targetLabel: "pool", replacement: "qwen3-vl-2b" }]);
    });

    it("emits the idle holds and the predictive query the simulator models: cooldownPeriod, the predictive trigger and each GPU node group's scale-down-unneeded tag", () => {
        const { "aws:region": region, ...rest } = stackConfig("prod");
        const config = parseStackConfig({ ...rest, region, environment: "test" });
        const input = buildSimInput(config, { days: 1, historyDays: 0 });
        let derived = 0;
        let fast = 0;
        for (const w of input.workerPools) {
            const spec = inputs(prod.get(SCALED, `gpuserve-test-${w.name}-scaler`)).spec;
            // The deployed cooldown and the recent-requests trigger's rate threshold are the simulator's.
            assert.strictEqual(spec.cooldownPeriod, w.policy.cooldownSeconds, w.name);
            derived += config.models.find((x) => x.name === w.name)!.scaling.cooldownSeconds === undefined ? 1 : 0;
            const m = config.models.find((x) => x.name === w.name)!;
            // With the recent-requests trigger on, the default cooldown only bridges polls: a minute.
            assert.strictEqual(w.policy.cooldownSeconds, m.scaling.cooldownSeconds ?? 60);
            const recent = spec.triggers.find((t: any) => t.name === "recent-requests");
            const activation = w.policy.metrics.find((x) => x.source === "recentRequests")!.activation;
            assert.strictEqual(Number(recent.metadata.activationThreshold), activation, w.name);
            assert.strictEqual(activation, Math.round((m.scaling.activityLookbackSeconds / restartSeconds(config, m)) * 100) / 100);
            // A pool that restarts within the look-back needs two requests in it (a single one must not hold it for 5
            // minutes); one that takes longer (prod's L40S pool: its volume reads at gp3's 125 MiB/s) keeps its GPU
            // after one (rate x restart >= 1).
            const restart = restartSeconds(config, m);
            assert.strictEqual(activation > 1, restart < m.scaling.activityLookbackSeconds, `${w.name}: restart ${restart} s, activation ${activation}`);
            fast += restart < m.scaling.activityLookbackSeconds ? 1 : 0;
            const h = w.policy.history!;
            assert.strictEqual(
                spec.triggers.find((t: any) => t.name === "predictive").metadata.query,
                predictiveQuery(w.name, h.lookbackSeconds / 86400, h.leadSeconds),
            );
            assert.strictEqual(h.windowSeconds, h.leadSeconds);
        }
        assert.ok(derived > 0, "some prod pool should use the derived cooldown");
        assert.ok(fast > 0, "some prod pool restarts within the look-back");
        for (const g of input.gpuPools) {
            const tag = prod
                .find("aws:autoscaling/tag:Tag")
                .find(
                    (t) =>
                        t.parent === `gpuserve:cluster:NodePool::gpuserve-test-gpu-${g.name}` &&
                        (t.inputs as any).tag.key === "k8s.io/cluster-autoscaler/node-template/autoscaling-options/scaledownunneededtime",
                );
            assert.ok(tag, `no scale-down-unneeded tag on ${g.name}`);
            assert.strictEqual((tag.inputs as any).tag.value, `${g.scaleDownUnneededSeconds}s`);
            assert.ok(g.scaleDownUnneededSeconds < 300, "a GPU node is kept about its launch time, below the global 5m");
        }
    });

    it("scales each pool with KEDA from the gateway's demand, which exists at zero workers", () => {
        for (const so of prod.find(SCALED).filter((s) => inputs(s).metadata.name.startsWith("worker-"))) {
            const spec = inputs(so).spec;
            const pool = inputs(so).metadata.name.replace(/^worker-/, "");
            const demand = spec.triggers.find((t: any) => t.name === "demand");
            assert.match(demand.metadata.query, new RegExp(`gateway_queue_depth\\{pool="${pool}"\\}`));
            assert.strictEqual(demand.metadata.activationThreshold, "0");
            assert.strictEqual(demand.metadata.serverAddress, "http://kps-prometheus.monitoring.svc.cluster.local:9090");
            // Demand (and a batch backlog) wakes the pool; recent requests keep it awake; warm-ups (explicit, predictive) wake it ahead; the sizing triggers never activate.
            for (const t of spec.triggers.filter(
                (t: any) => t.type === "prometheus" && !["demand", "recent-requests", "warmup", "predictive", "batch-backlog"].includes(t.name),
            ))
                assert.ok(Number(t.metadata.activationThreshold) >= 1e6);
            const recent = spec.triggers.find((t: any) => t.name === "recent-requests");
            assert.strictEqual(recent.metadata.query, `sum(increase(gateway_upstream_requests_total{pool="${pool}"}[300s])) or vector(0)`);
            assert.ok(Number(recent.metadata.threshold) >= 1e6, "recent-requests must not size the pool");
            assert.strictEqual(spec.scaleTargetRef.name, `worker-${pool}`);
            assert.strictEqual(spec.minReplicaCount, 0);
            // No fallback block: with one, KEDA >= 2.19 starts every pool at zero during a Prometheus outage (components/serving/scaling.ts).
            assert.strictEqual(spec.fallback, undefined);
            assert.strictEqual(spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds, 300);
        }
    });

    it("queries only metrics the gateway, vLLM and DCGM really export", async () => {
        const known = await knownMetricNames();
        const spec = scaledObjectSpec({
            poolName: "p",
            deploymentName: "worker-p",
            namespace: "serving",
            prometheusUrl: "http://prom:9090",
            timezone: "UTC",
            scaling: scalingSchema.parse({ latencyP95Seconds: 5, gpuUtilizationPercent: 70, warmWindows: [{ start: "08:00", end: "18:00" }] }),
        }) as any;
        const queries = [...prod.find(SCALED).flatMap((so) => inputs(so).spec.triggers), ...spec.triggers]
            .filter((t: any) => t.type === "prometheus")
            .map((t: any) => t.metadata.query);
        assert.ok(queries.length >= 8);
        for (const q of queries)
            assert.deepStrictEqual(
                promqlMetricNames(q).filter((n) => !known.has(n)),
                [],
                q,
            );
    });

    it("keeps the prod pools warm on weekdays 05:45-22:00 and weekends 10:00-18:00 New York time, and dev cold", () => {
        const warm = inputs(prod.get(SCALED, "gpuserve-test-qwen3-vl-2b-scaler")).spec.triggers.filter((t: any) => t.type === "cron");
        assert.ok(inputs(dev.find(SCALED).find((s) => inputs(s).metadata.name.startsWith("worker-"))!).spec.triggers.every((t: any) => t.type !== "cron"));
        assert.deepStrictEqual(warm, [
            { type: "cron", name: "warm-0", metadata: { timezone: "America/New_York", start: "45 5 * * 1-5", end: "0 22 * * 1-5", desiredReplicas: "1" } },
            { type: "cron", name: "warm-1", metadata: { timezone: "America/New_York", start: "0 10 * * 0,6", end: "0 18 * * 0,6", desiredReplicas: "1" } },
        ]);
    });

    it("creates ScaledObjects after KEDA and the Deployment they scale", () => {
        const so = prod.get(SCALED, "gpuserve-test-qwen3-vl-2b-scaler");
        assert.ok(so.options.dependsOn?.includes("kubernetes:helm.sh/v3:Release::gpuserve-test-keda-release"));
        assert.ok(so.options.dependsOn?.includes(`${DEPLOY}::gpuserve-test-qwen3-vl-2b-deployment`));
    });

    it("serves HTTPS with the ACM certificate and redirects HTTP in prod; plain HTTP only where allowed", () => {
        const a = inputs(prod.find("kubernetes:networking.k8s.io/v1:Ingress")[0]).metadata.annotations;
        assert.strictEqual(a["alb.ingress.kubernetes.io/certificate-arn"], stackConfig("prod").serving.certificateArn);
        assert.strictEqual(a["alb.ingress.kubernetes.io/ssl-redirect"], "443");
        assert.deepStrictEqual(JSON.parse(a["alb.ingress.kubernetes.io/listen-ports"]), [{ HTTP: 80 }, { HTTPS: 443 }]);
        assert.match(a["alb.ingress.kubernetes.io/ssl-policy"], /^ELBSecurityPolicy-TLS13/);
        const idle = Number(/idle_timeout\.timeout_seconds=(\d+)/.exec(a["alb.ingress.kubernetes.io/load-balancer-attributes"])![1]);
        const { "aws:region": region, ...rest } = clone(stackConfig("prod"));
        const held = parseStackConfig({ ...rest, region, environment: "prod" }).serving.gateway.maxWaitSeconds;
        assert.ok(idle > held, `idle timeout ${idle} <= hold bound ${held}`);
        const d = inputs(dev.find("kubernetes:networking.k8s.io/v1:Ingress")[0]).metadata.annotations;
        assert.deepStrictEqual(JSON.parse(d["alb.ingress.kubernetes.io/listen-ports"]), [{ HTTP: 80 }]);
        assert.strictEqual(d["alb.ingress.kubernetes.io/certificate-arn"], undefined);
        const rules = inputs(prod.find("kubernetes:networking.k8s.io/v1:Ingress")[0]).spec.rules[0];
        assert.strictEqual(rules.host, "vision.example.org");
        assert.deepStrictEqual(
            rules.http.paths.map((p: any) => [p.path, p.backend.service.name]),
            [
                ["/v1", "gateway"],
                ["/", "ui"],
            ],
        );
        assert.strictEqual(prod.outputs.url, "https://vision.example.org");
    });

    it("keeps the ALB's connections to a deregistered gateway pod open for its whole drain, inside its grace period", () => {
        const svc = inputs(prod.get("kubernetes:core/v1:Service", "gpuserve-test-gateway-service")).metadata.annotations;
        const m = /^deregistration_delay\.timeout_seconds=(\d+)$/.exec(svc["alb.ingress.kubernetes.io/target-group-attributes"]);
        assert.ok(m, "the gateway's target group needs a deregistration delay (ALB default 300 s cuts held requests)");
        const delay = Number(m[1]);
        const pod = inputs(prod.get(DEPLOY, "gpuserve-test-gateway-deployment")).spec.template.spec;
        const preStop = pod.containers[0].lifecycle.preStop.sleep.seconds;
        const { "aws:region": region, ...rest } = stackConfig("prod");
        const g = parseConfig(gatewayConfig(parseStackConfig({ ...rest, region, environment: "prod" }), undefined));
        assert.ok(
            delay >= preStop + g.drainTimeoutSeconds && delay <= 3600,
            `delay ${delay} s vs drain ${preStop} + ${g.drainTimeoutSeconds} s (ALB max 3600)`,
        );
        assert.ok(pod.terminationGracePeriodSeconds > delay && pod.terminationGracePeriodSeconds > preStop + g.drainTimeoutSeconds);
        assert.strictEqual(svc["alb.ingress.kubernetes.io/healthcheck-path"], "/readyz");
        const ui = inputs(prod.get("kubernetes:core/v1:Service", "gpuserve-test-ui-service")).metadata.annotations ?? {};
        assert.strictEqual(ui["alb.ingress.kubernetes.io/target-group-attributes"], undefined, "the UI answers at once and keeps the default");
    });

    it("lets pulumi destroy delete the gateway's ECR repository with its images", () => {
        const [repo] = prod.find("aws:ecr/repository:Repository").map(inputs);
        assert.strictEqual(repo.imageTagMutability, "IMMUTABLE");
        assert.strictEqual(repo.forceDelete, true, "ECR refuses to delete a repository that holds images");
    });

    it("never writes secrets in plain text: HF token, API keys and their hashes stay secret", () => {
        const all = JSON.stringify(prod.resources);
        assert.ok(!all.includes(HF_TOKEN), "HF token leaked");
        assert.ok(!all.includes(API_KEY), "API key leaked");
        assert.ok(!all.includes(createHash("sha256").update(API_KEY).digest("hex")), "API key hash leaked");
        const hf = inputs(prod.get("kubernetes:core/v1:Secret", "gpuserve-test-hf-token"));
        assert.deepStrictEqual(hf.stringData, { token: "[secret]" });
        const env = inputs(prod.get(DEPLOY, "gpuserve-test-medgemma-4b-deployment")).spec.template.spec.containers[0].env;
        assert.deepStrictEqual(env.find((e: any) => e.name === "HF_TOKEN").valueFrom, { secretKeyRef: { name: "hf-token", key: "token" } });
    });

    it("writes a gateway config the gateway itself accepts, with one pool per worker pool", () => {
        const cfg = clone(stackConfig("prod"));
        const { "aws:region": region, ...rest } = cfg;
        const stack = parseStackConfig({ ...rest, region, environment: "prod" });
        const g = parseConfig(gatewayConfig(stack, [{ team: "radiology", key: API_KEY }]));
        assert.deepStrictEqual(
            g.pools.map((p) => [p.name, p.dns]),
            [
                ["qwen3-vl-2b", "worker-qwen3-vl-2b.serving.svc.cluster.local:8000"],
                ["medgemma-4b", "worker-medgemma-4b.serving.svc.cluster.local:8000"],
                ["qwen3-vl-8b", "worker-qwen3-vl-8b.serving.svc.cluster.local:8000"],
            ],
        );
        assert.strictEqual(g.auth?.keys[0].sha256, createHash("sha256").update(API_KEY).digest("hex"));
        // The hold bound follows the modelled worst-case cold start (+25 % + 60 s), not a flat 1200 s.
        assert.strictEqual(g.queue.maxWaitSeconds, stack.serving.gateway.maxWaitSeconds);
        assert.ok(g.queue.maxWaitSeconds < 1200 && g.queue.maxWaitSeconds >= 300, `hold bound ${g.queue.maxWaitSeconds}`);
        // Without keys the gateway refuses every /v1 request (no auth section), never runs open.
        assert.strictEqual(parseConfig(gatewayConfig(stack, undefined)).auth, undefined);
    });

    it("emits per-team default limits, a max_tokens bound per pool and the VPC as trusted proxy (issue 13)", () => {
        const { "aws:region": region, ...rest } = clone(stackConfig("prod"));
        const stack = parseStackConfig({ ...rest, region, environment: "prod" });
        const g = parseConfig(gatewayConfig(stack, [{ team: "radiology", key: API_KEY }]));
        const depth = g.queue.maxDepth;
        assert.ok(g.limits.default?.maxConcurrent !== undefined && g.limits.default.maxConcurrent < depth, "one team cannot hold a whole queue");
        assert.ok(g.limits.default?.requestsPerMinute !== undefined);
        for (const p of g.pools) assert.ok(p.maxTokens !== undefined && p.maxTokens <= 4096, `${p.name}: maxTokens ${p.maxTokens}`);
        assert.deepStrictEqual(g.trustedProxies, [stack.network.vpcCidr]);
        assert.deepStrictEqual(g.allowedMediaDomains, [], "no remote media by default");
    });

    it("lets workers reach only public HTTPS (model downloads), not the metadata service, the API server or the VPC", () => {
        const policy = networkPolicySpecs(["10.0.0.0/24"])["allow-workers-https-egress"];
        assert.deepStrictEqual(policy.egress, [
            {
                to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"] } }],
                ports: [{ protocol: "TCP", port: 443 }],
            },
        ]);
    });

    it("refuses API keys shorter than 32 characters or with few distinct characters, naming the team and the fix", () => {
        assert.throws(
            () => parseApiKeys(JSON.stringify([{ team: "radiology", key: "sk-radiology-16ch" }])),
            /team 'radiology'.*32\+ random characters.*openssl rand/,
        );
        assert.throws(() => parseApiKeys(JSON.stringify([{ team: "t", key: "ab".repeat(20) }])), /too weak/);
        assert.strictEqual(parseApiKeys(JSON.stringify([{ team: "t", key: API_KEY }])).length, 1);
    });

    it("runs the gateway image's own command with the config mounted where GATEWAY_CONFIG points", () => {
        const pod = inputs(prod.get(DEPLOY, "gpuserve-test-gateway-deployment")).spec.template.spec;
        const [c] = pod.containers;
        assert.strictEqual(c.args, undefined, "args would replace the image's command (node /app/main.js)");
        const configPath = c.env.find((e: any) => e.name === "GATEWAY_CONFIG").value;
        // The V8 heap is bounded under the container's memory limit, so garbage is collected before an OOM kill.
        const heap = Number(/--max-old-space-size=(\d+)/.exec(c.env.find((e: any) => e.name === "NODE_OPTIONS")?.value ?? "")?.[1]);
        assert.ok(heap > 0 && heap * 1.5 <= parseInt(c.resources.limits.memory, 10), `heap ${heap} MiB vs limit ${c.resources.limits.memory}`);
        const mount = c.volumeMounts.find((m: any) => configPath.startsWith(m.mountPath + "/"));
        assert.ok(mount, `no volume mounted at ${configPath}`);
        assert.strictEqual(pod.volumes.find((v: any) => v.name === mount.name).secret.secretName, "gateway-config");
        assert.ok(inputs(prod.get("kubernetes:core/v1:Secret", "gpuserve-test-gateway-config")).stringData[configPath.split("/").pop()!]);
        assert.match(pod.containers[0].image, /dkr\.ecr\.us-east-1\.amazonaws\.com\/[^:@]+@sha256:[0-9a-f]{64}$/);
    });

    it("pushes the gateway image by digest and runs that digest (no immutable tag a rebuild could collide with)", () => {
        const [image] = prod.find("docker-build:index:Image");
        const build = inputs(image);
        assert.deepStrictEqual(build.tags ?? [], [], "a tag from the source would point at a new digest after a rebuild");
        assert.strictEqual(build.push, false);
        assert.deepStrictEqual(
            build.exports.map((e: any) => e.registry?.pushByDigest),
            [true],
        );
        assert.match(build.labels["org.opencontainers.image.revision"], /^[0-9a-f]{16}$/);
        const repo = inputs(prod.get(DEPLOY, "gpuserve-test-gateway-deployment")).spec.template.spec.containers[0].image.split("@")[0];
        assert.deepStrictEqual(build.exports[0].registry.names, [repo]);
        // No checkout path in the inputs: another clone of the same source is the same build.
        assert.deepStrictEqual([build.context.location, build.dockerfile.location], [".", "gateway/Dockerfile"]);
    });

    it("drains the gateway for a full hold, keeps connections longer than the ALB, and deregisters before SIGTERM", () => {
        const pod = inputs(prod.get(DEPLOY, "gpuserve-test-gateway-deployment")).spec.template.spec;
        const preStop = pod.containers[0].lifecycle.preStop.sleep.seconds;
        const { "aws:region": region, ...rest } = stackConfig("prod");
        const g = parseConfig(gatewayConfig(parseStackConfig({ ...rest, region, environment: "prod" }), undefined));
        assert.ok(g.drainTimeoutSeconds >= g.queue.maxWaitSeconds, "a held request must be able to finish during a drain");
        assert.ok(pod.terminationGracePeriodSeconds > preStop + g.drainTimeoutSeconds);
        const a = inputs(prod.find("kubernetes:networking.k8s.io/v1:Ingress")[0]).metadata.annotations;
        const idle = Number(/idle_timeout\.timeout_seconds=(\d+)/.exec(a["alb.ingress.kubernetes.io/load-balancer-attributes"])![1]);
        assert.ok(g.keepAliveTimeoutSeconds > idle, `keep-alive ${g.keepAliveTimeoutSeconds} s must exceed the ALB idle timeout ${idle} s`);
        const ns = inputs(prod.get("kubernetes:core/v1:Namespace", "gpuserve-test-ns-namespace"));
        assert.strictEqual(ns.metadata.labels["elbv2.k8s.aws/pod-readiness-gate-inject"], "enabled");
        const ui = inputs(prod.get(DEPLOY, "gpuserve-test-ui-deployment")).spec.template.spec.containers[0];
        assert.ok(ui.lifecycle.preStop.sleep.seconds > 0);
    });

    it("rolls the UI when the page changes (content checksum annotation)", () => {
        const d = inputs(prod.get(DEPLOY, "gpuserve-test-ui-deployment"));
        assert.match(d.spec.template.metadata.annotations["gpuserve.io/content-checksum"], /^[0-9a-f]{16}$/);
        assert.match(d.spec.template.spec.containers[0].image, /^docker\.io\/nginxinc\/nginx-unprivileged:\d+\.\d+\.\d+/);
        assert.strictEqual(d.spec.replicas, 2);
        const content = inputs(prod.get("kubernetes:core/v1:ConfigMap", "gpuserve-test-ui-content"));
        assert.ok(content.data["index.html"].includes("<html"));
    });

    it("ships the UI's nginx config with HSTS exactly when the ALB has a certificate", () => {
        const conf = (run: StackRun) => inputs(run.get("kubernetes:core/v1:ConfigMap", "gpuserve-test-ui-nginx")).data["default.conf"];
        assert.strictEqual(conf(prod), uiNginxConf({ tls: true }));
        assert.strictEqual(conf(dev), uiNginxConf({ tls: false }));
        assert.match(conf(prod), /Strict-Transport-Security/);
        assert.doesNotMatch(conf(dev), /Strict-Transport-Security/);
    });

    it("enforces the restricted Pod Security Standard in the serving namespace", () => {
        const ns = inputs(prod.get("kubernetes:core/v1:Namespace", "gpuserve-test-ns-namespace"));
        assert.strictEqual(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
        for (const d of prod.find(DEPLOY)) {
            const pod = inputs(d).spec.template.spec;
            assert.strictEqual(pod.securityContext.runAsNonRoot, true, inputs(d).metadata.name);
            assert.strictEqual(pod.securityContext.seccompProfile.type, "RuntimeDefault");
            for (const c of pod.containers) {
                assert.deepStrictEqual(c.securityContext.capabilities, { drop: ["ALL"] });
                assert.strictEqual(c.securityContext.allowPrivilegeEscalation, false);
            }
        }
    });
});

/** Label selector matching (matchLabels and In/NotIn/Exists/DoesNotExist expressions). */
function selects(selector: any, labels: Record<string, string>): boolean {
    if (!selector) return true;
    for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
    for (const e of selector.matchExpressions ?? []) {
        const has = e.key in labels;
        if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
        if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
        if (e.operator === "Exists" && !has) return false;
        if (e.operator === "DoesNotExist" && has) return false;
    }
    return true;
}

describe("serving NetworkPolicies", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: every port a Service exposes is allowed in by some policy, behind a default deny`, async () => {
            const run = await runStack(stackConfig(stack));
            const policies = run.find("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((p) => inputs(p).spec);
            assert.ok(
                policies.some(
                    (p) =>
                        Object.keys(p.podSelector).length === 0 &&
                        p.policyTypes.includes("Ingress") &&
                        p.policyTypes.includes("Egress") &&
                        !p.ingress &&
                        !p.egress,
                ),
                "no default deny",
            );
            const deployments = [...run.find(DEPLOY), ...run.find("kubernetes:apps/v1:StatefulSet")].map(inputs);
            const services = run
                .find("kubernetes:core/v1:Service")
                .map(inputs)
                .filter((s) => s.metadata.namespace === "serving");
            assert.ok(services.length >= 3);
            for (const svc of services) {
                for (const port of svc.spec.ports) {
                    const backends = deployments.filter((d) => selects({ matchLabels: svc.spec.selector }, d.spec.template.metadata.labels));
                    assert.ok(backends.length > 0, `${svc.metadata.name} selects no Deployment`);
                    for (const d of backends) {
                        const podLabels = d.spec.template.metadata.labels;
                        const containerPort = d.spec.template.spec.containers
                            .flatMap((c: any) => c.ports)
                            .find((p: any) => p.name === port.targetPort || p.containerPort === port.targetPort).containerPort;
                        const allowed = policies.some(
                            (p) =>
                                p.policyTypes.includes("Ingress") &&
                                selects(p.podSelector, podLabels) &&
                                (p.ingress ?? []).some((rule: any) => (rule.ports ?? []).some((rp: any) => rp.port === containerPort)),
                        );
                        assert.ok(allowed, `${stack}: nothing allows ingress to ${svc.metadata.name}:${port.name} (pod port ${containerPort})`);
                    }
                }
            }
        });
    }
});
