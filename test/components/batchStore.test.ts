/**
 * The batch store in the plan: Valkey in the cluster by default (pinned image, encrypted gp3
 * volume, AOF on, password as a Pulumi secret in a Secret, only gateways reach it), or an
 * external endpoint by config; the gateway's batch config and password env; the batch trigger.
 */
import * as assert from "assert";
import { parseConfig } from "../../gateway/src/config";
import { gatewayConfig } from "../../components/serving/gatewayConfig";
import { valkeyConf } from "../../components/serving/batchStore";
import { parseStackConfig } from "../../stacks/validate";
import { ConfigError } from "../../stacks/errors";
import { validateManifest } from "../helpers/k8sSchema";
import { StackRun, clone, runStack, stackConfig } from "../helpers/program";
import { startRedis } from "../helpers/redis";
import { tempDir } from "../helpers/tmp";
import { Redis } from "ioredis";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

const SECRET = "kubernetes:core/v1:Secret";
const STS = "kubernetes:apps/v1:StatefulSet";
const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const SCALED = "kubernetes:keda.sh/v1alpha1:ScaledObject";
const inputs = (r: { inputs: unknown }) => r.inputs as any;

function withBatch(stack: string, batch: Record<string, unknown>) {
    const cfg = clone(stackConfig(stack));
    cfg.serving = { ...cfg.serving, batch };
    return cfg;
}

describe("batch store (Valkey) in the plan", () => {
    let dev: StackRun;
    before(async () => {
        dev = await runStack(stackConfig("dev"));
    });

    it("runs Valkey as a non-root StatefulSet, pinned by digest, on an encrypted gp3 volume with the append-only file on", () => {
        const [sts] = dev.find(STS).map(inputs);
        assert.strictEqual(sts.metadata.name, "valkey");
        const pod = sts.spec.template.spec;
        assert.match(pod.containers[0].image, /^docker\.io\/valkey\/valkey@sha256:[0-9a-f]{64}$/);
        assert.deepStrictEqual(pod.containers[0].args, ["valkey-server", "/etc/valkey/valkey.conf"]);
        assert.strictEqual(pod.securityContext.runAsNonRoot, true);
        assert.notStrictEqual(pod.securityContext.runAsUser, 0);
        assert.strictEqual(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
        assert.strictEqual(pod.containers[0].securityContext.allowPrivilegeEscalation, false);
        const [claim] = sts.spec.volumeClaimTemplates;
        const sc = dev
            .find("kubernetes:storage.k8s.io/v1:StorageClass")
            .map(inputs)
            .find((c) => c.metadata.name === claim.spec.storageClassName);
        assert.ok(sc, `no StorageClass ${claim.spec.storageClassName}`);
        assert.deepStrictEqual([sc.parameters.type, sc.parameters.encrypted], ["gp3", "true"]);
        assert.strictEqual(claim.spec.resources.requests.storage, "20Gi");
        const conf = valkeyConf("pw", 2048);
        for (const line of ["appendonly yes", "appendfsync everysec", "requirepass pw", "maxmemory-policy noeviction", "dir /data"])
            assert.ok(conf.split("\n").includes(line), line);
        // The config it mounts is the Secret's valkey.conf.
        assert.deepStrictEqual(pod.volumes.find((v: any) => v.name === "config").secret, {
            secretName: "valkey-auth",
            items: [{ key: "valkey.conf", path: "valkey.conf" }],
        });
    });

    it("writes a valkey.conf a real server accepts: maxmemory 75 % of the pod's memory limit, no eviction, AOF, a password", async function () {
        this.timeout(20_000);
        // redis-server reads the same directives as Valkey (valkey.conf "MEMORY MANAGEMENT": maxmemory, maxmemory-policy).
        const dir = tempDir("valkey-conf-");
        const file = path.join(dir, "valkey.conf");
        // Its data dir is the pod's volume (/data); here a temp dir (the server changes into it while reading the file).
        fs.writeFileSync(file, valkeyConf("s3cret-pw", 2048).replace("dir /data\n", `dir ${dir}\n`));
        const server = await startRedis({ conf: file });
        const r = new Redis(server.url, { password: "s3cret-pw", lazyConnect: true, maxRetriesPerRequest: 1 });
        try {
            await r.connect();
            assert.deepStrictEqual(await r.config("GET", "maxmemory"), ["maxmemory", String(1536 * 1024 * 1024)]);
            assert.deepStrictEqual(await r.config("GET", "maxmemory-policy"), ["maxmemory-policy", "noeviction"]);
            assert.deepStrictEqual(await r.config("GET", "appendonly"), ["appendonly", "yes"]);
            // Without the password: refused.
            const reply = await new Promise<string>((resolve, reject) => {
                const sock = net.connect(server.port, "127.0.0.1", () => sock.write("PING\r\n"));
                sock.once("data", (d) => (resolve(d.toString()), sock.destroy()));
                sock.once("error", reject);
            });
            assert.match(reply, /^-NOAUTH/);
        } finally {
            r.disconnect();
            await server.stop();
        }
        // The pod's memory limit is the same memoryMiB.
        const [sts] = dev.find(STS).map(inputs);
        assert.strictEqual(sts.spec.template.spec.containers[0].resources.limits.memory, "2048Mi");
    });

    it("emits schema-valid objects", async () => {
        await validateManifest({ apiVersion: "apps/v1", kind: "StatefulSet", ...inputs(dev.find(STS)[0]) });
        for (const p of dev
            .find(NETPOL)
            .map(inputs)
            .filter((x) => /valkey/.test(x.metadata.name)))
            await validateManifest({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", ...p });
    });

    it("keeps the password a Pulumi secret: random, in a Secret, passed to the gateway by secretKeyRef", () => {
        assert.strictEqual(dev.find("random:index/randomPassword:RandomPassword", "gpuserve-test-batch-store-password").length, 1);
        const auth = inputs(dev.get(SECRET, "gpuserve-test-batch-store-auth"));
        assert.deepStrictEqual(auth.stringData, { password: "[secret]", "valkey.conf": "[secret]" });
        const gw = inputs(dev.find("kubernetes:apps/v1:Deployment").find((d) => inputs(d).metadata.name === "gateway")!);
        const env = gw.spec.template.spec.containers[0].env;
        assert.deepStrictEqual(env.find((e: any) => e.name === "GATEWAY_BATCH_REDIS_PASSWORD").valueFrom, {
            secretKeyRef: { name: "valkey-auth", key: "password" },
        });
    });

    it("lets only gateway pods reach Valkey, and gateways reach only its port", () => {
        const policies = dev.find(NETPOL).map(inputs);
        const ingress = policies.find((p) => p.metadata.name === "allow-gateway-to-valkey").spec;
        assert.deepStrictEqual(ingress.podSelector, { matchLabels: { "app.kubernetes.io/name": "valkey" } });
        assert.deepStrictEqual(ingress.ingress, [
            { from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "gateway" } } }], ports: [{ protocol: "TCP", port: 6379 }] },
        ]);
        // Nothing else lets anyone in to the Valkey pod.
        const others = policies.filter(
            (p) => p.metadata.name !== "allow-gateway-to-valkey" && p.spec.policyTypes.includes("Ingress") && (p.spec.ingress ?? []).length > 0,
        );
        const valkeyLabels = { "app.kubernetes.io/name": "valkey", "app.kubernetes.io/component": "batch-store", "app.kubernetes.io/part-of": "gpuserve" };
        const selecting = others.filter(
            (p) =>
                Object.entries(p.spec.podSelector.matchLabels ?? {}).every(([k, v]) => (valkeyLabels as Record<string, string>)[k] === v) &&
                (p.spec.podSelector.matchExpressions ?? []).every(
                    (e: any) => e.operator === "In" && e.values.includes((valkeyLabels as Record<string, string>)[e.key]),
                ),
        );
        assert.deepStrictEqual(
            selecting.map((p) => p.metadata.name),
            [],
        );
        const egress = policies.find((p) => p.metadata.name === "allow-gateway-egress-to-valkey").spec;
        assert.deepStrictEqual(egress.egress, [
            { to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "valkey" } } }], ports: [{ protocol: "TCP", port: 6379 }] },
        ]);
    });

    it("gives the gateway a batch config it accepts, pointing at the in-cluster Valkey", () => {
        const cfg = clone(stackConfig("dev"));
        const { "aws:region": region, ...rest } = cfg;
        const g = parseConfig(gatewayConfig(parseStackConfig({ ...rest, region, environment: "dev" }), undefined));
        assert.strictEqual(g.batch?.redisUrl, "redis://valkey.serving.svc.cluster.local:6379");
        assert.deepStrictEqual(g.batch?.limits.default, {
            maxLinesPerBatch: 50000,
            maxFileBytes: 200 * 1024 * 1024,
            maxBatchesInProgress: 10,
            maxStoredFiles: 1000,
        });
        assert.deepStrictEqual(g.batch?.retention, { inputFileDays: 30, outputFileDays: 30, batchDays: 30 });
        // The store's size is Valkey's maxmemory (valkeyConf), so per-team quotas derive from it; a warm-up asks at most the pool's max replicas.
        assert.strictEqual(g.batch?.storage.storeBytes, 1536 * 1024 * 1024);
        assert.match(valkeyConf("x", 2048), /^maxmemory 1536mb$/m);
        for (const p of g.pools)
            assert.strictEqual(
                p.maxWarmupReplicas,
                parseStackConfig({ ...rest, region, environment: "dev" }).models.find((m) => m.name === p.name)!.scaling.maxReplicas,
            );
        const week = withBatch("dev", { retentionDays: 7 });
        const { "aws:region": r2, ...rest2 } = week;
        assert.deepStrictEqual(parseConfig(gatewayConfig(parseStackConfig({ ...rest2, region: r2, environment: "dev" }), undefined)).batch?.retention, {
            inputFileDays: 7,
            outputFileDays: 7,
            batchDays: 7,
        });
    });

    it("rejects an in-cluster Valkey too small for the largest upload under its upload line, naming the key and the size that fits", () => {
        const cfg = withBatch("dev", { memoryMiB: 256 });
        const { "aws:region": region, ...rest } = cfg;
        assert.throws(
            () => parseStackConfig({ ...rest, region, environment: "dev" }),
            (e: unknown) =>
                e instanceof ConfigError && /gpuserve:serving\.batch\.memoryMiB/.test(e.message) && /is 256/.test(e.message) && /at least 356/.test(e.message),
        );
        const ok = withBatch("dev", { memoryMiB: 256, maxFileBytes: 100 * 1024 * 1024 });
        const { "aws:region": r2, ...rest2 } = ok;
        assert.strictEqual(parseStackConfig({ ...rest2, region: r2, environment: "dev" }).serving.batch.memoryMiB, 256);
    });

    it("writes per-team storage quotas into the gateway config, each team entry complete, and refuses a quota below one largest upload", () => {
        const teamBatch = (cfg: any, teams: Record<string, unknown>) => {
            cfg.serving.gateway = { ...cfg.serving.gateway, limits: { teams: Object.fromEntries(Object.entries(teams).map(([t, b]) => [t, { batch: b }])) } };
            return cfg;
        };
        const cfg = teamBatch(withBatch("dev", { storagePerTeamMiB: 800, filesPerTeam: 300 }), {
            radiology: { storageMiB: 4096 },
            anatomy: { files: 50, maxLinesPerBatch: 10 },
        });
        const { "aws:region": region, ...rest } = cfg;
        const g = parseConfig(gatewayConfig(parseStackConfig({ ...rest, region, environment: "dev" }), undefined));
        const MiB = 1024 * 1024;
        const base = { maxLinesPerBatch: 50000, maxFileBytes: 200 * MiB, maxBatchesInProgress: 10 };
        assert.deepStrictEqual(g.batch?.limits.default, { ...base, maxStoredBytes: 800 * MiB, maxStoredFiles: 300 });
        assert.deepStrictEqual(g.batch?.limits.teams, {
            radiology: { ...base, maxStoredBytes: 4096 * MiB, maxStoredFiles: 300 },
            anatomy: { ...base, maxLinesPerBatch: 10, maxStoredBytes: 800 * MiB, maxStoredFiles: 50 },
        });
        const low = teamBatch(withBatch("dev", {}), { anatomy: { storageMiB: 100 } });
        const { "aws:region": r2, ...rest2 } = low;
        assert.throws(
            () => parseStackConfig({ ...rest2, region: r2, environment: "dev" }),
            (e: unknown) =>
                e instanceof ConfigError &&
                /gpuserve:serving\.gateway\.limits\.teams\.anatomy\.batch\.storageMiB/.test(e.message) &&
                /is 100/.test(e.message) &&
                /at least 200/.test(e.message),
        );
    });

    it("sizes the gateway's memory limit for bounded batch work (512 + 128 MiB), not for whole files", () => {
        const gw = inputs(dev.find("kubernetes:apps/v1:Deployment").find((d) => inputs(d).metadata.name === "gateway")!);
        assert.strictEqual(gw.spec.template.spec.containers[0].resources.limits.memory, "640Mi");
    });

    it("wakes and sizes each worker pool on its batch backlog through its own KEDA trigger", () => {
        for (const so of dev
            .find(SCALED)
            .map(inputs)
            .filter((s) => s.metadata.name.startsWith("worker-"))) {
            const pool = so.metadata.name.slice("worker-".length);
            const t = so.spec.triggers.find((x: any) => x.name === "batch-backlog");
            assert.ok(t, `${so.metadata.name} has no batch-backlog trigger`);
            assert.strictEqual(t.metadata.query, `max(gateway_batch_backlog{pool="${pool}"}) or vector(0)`);
            assert.strictEqual(t.metadata.activationThreshold, "0");
            assert.strictEqual(t.metadata.threshold, "200");
            assert.strictEqual(t.metricType, "AverageValue");
        }
    });

    it("uses an external endpoint (e.g. ElastiCache for Valkey) instead, with its password secret and an egress policy", async () => {
        const run = await runStack(withBatch("dev", { store: "external", endpoint: "rediss://master.batch.abc123.use1.cache.amazonaws.com:6379" }), {
            batchStorePassword: "external-store-password-0123456789",
        });
        assert.strictEqual(run.find(STS).length, 0);
        assert.strictEqual(run.find("random:index/randomPassword:RandomPassword", "gpuserve-test-batch-store-password").length, 0);
        assert.ok(!JSON.stringify(run.resources).includes("external-store-password-0123456789"), "password leaked");
        assert.deepStrictEqual(inputs(run.get(SECRET, "gpuserve-test-batch-store-auth")).stringData, { password: "[secret]" });
        const egress = run
            .find(NETPOL)
            .map(inputs)
            .find((p) => p.metadata.name === "allow-gateway-egress-to-batch-store").spec;
        assert.deepStrictEqual(egress.egress[0].ports, [{ protocol: "TCP", port: 6379 }]);
        assert.ok(egress.egress[0].to[0].ipBlock.cidr);
    });

    it("rejects an external store without an endpoint, naming the key", () => {
        const cfg = withBatch("dev", { store: "external" });
        const { "aws:region": region, ...rest } = cfg;
        assert.throws(
            () => parseStackConfig({ ...rest, region, environment: "dev" }),
            (e: unknown) =>
                e instanceof ConfigError && /gpuserve:serving\.batch\.endpoint/.test(e.message) && /store is "external" but no endpoint is set/.test(e.message),
        );
        const bad = withBatch("dev", { store: "external", endpoint: "redis://:pw@host:6379" });
        const { "aws:region": r2, ...rest2 } = bad;
        assert.throws(
            () => parseStackConfig({ ...rest2, region: r2, environment: "dev" }),
            (e: unknown) => e instanceof ConfigError && /serving\.batch\.endpoint/.test(e.message) && /no password in the URL/.test(e.message),
        );
    });
});
