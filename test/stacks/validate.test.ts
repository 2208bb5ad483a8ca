import * as assert from "assert";
import { ConfigError } from "../../stacks/errors";
import { rawStackConfig } from "../../stacks/load";
import { parseStackConfig } from "../../stacks/validate";
import { INSTANCE_STORE } from "../../stacks/catalog/instanceStore";
import { clone, stackConfig } from "../helpers/program";

/** The dev stack file as parseStackConfig's raw input. */
function devRaw(): Record<string, any> {
    const { "aws:region": region, ...rest } = stackConfig("dev");
    return { ...clone(rest), region, environment: "dev" };
}

function prodRaw(): Record<string, any> {
    const { "aws:region": region, ...rest } = stackConfig("prod");
    return { ...clone(rest), region, environment: "prod" };
}

/** The one message a single-problem ConfigError carries. */
function errorOf(raw: Record<string, unknown>): string {
    try {
        parseStackConfig(raw);
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
        return e.message;
    }
    assert.fail("config was accepted");
}

describe("parseStackConfig", () => {
    it("accepts the dev and prod stack files and resolves catalog defaults", () => {
        const dev = parseStackConfig(devRaw());
        assert.strictEqual(dev.gpuPools[0].gpuMemoryGiB, 24);
        assert.strictEqual(dev.gpuPools[0].gpusPerNode, 1);
        assert.strictEqual(dev.models[0].name, "qwen3-vl-2b");
        assert.strictEqual(dev.models[0].maxModelLen, 16384);
        assert.strictEqual(dev.cluster.version, "1.35");
        const prod = parseStackConfig(prodRaw());
        assert.deepStrictEqual(prod.gpuPools[1].instanceTypes, ["g6e.xlarge"]);
        assert.strictEqual(prod.gpuPools[1].gpuMemoryGiB, 48);
    });

    it("rejects a model that does not fit the pool's GPU memory", () => {
        const raw = devRaw();
        raw.models[0].id = "google/medgemma-27b-it";
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: gpuserve:models[0].pool: model 'google/medgemma-27b-it' needs a GPU with >= 80 GiB, but pool 'a10g' has a10g GPUs with 24 GiB. Fix: move it to a pool with gpuType a100-80gb (the cheapest GPU in the catalog with >= 80 GiB: p4de.24xlarge, 8 GPUs of 80 GiB, $27.45/hour on demand in us-east-1), or serve 'ig1/medgemma-27b-it-FP8-Dynamic' (needs 40 GiB, fits l40s g6e.xlarge at $1.861/hour, with models[].revision set to the Hugging Face commit you checked (the catalog pins none for it))",
        );
    });

    it("rejects a time zone KEDA's cron scaler would not load: unknown, or spelled in another case than the tz database", () => {
        const raw = devRaw();
        raw.timezone = "europe/berlin";
        assert.match(errorOf(raw), /gpuserve:timezone: must be spelled as the tz database spells it: 'Europe\/Berlin'/);
        raw.timezone = "Mars/Olympus";
        assert.match(errorOf(raw), /gpuserve:timezone: must be an IANA time zone such as Europe\/Berlin/);
        raw.timezone = "Europe/Berlin";
        assert.strictEqual(parseStackConfig(raw).timezone, "Europe/Berlin");
    });

    it("rejects a GPU pool that mixes instance shapes, naming the instance type's key", () => {
        const raw = devRaw();
        raw.gpuPools[0].instanceTypes = ["g5.xlarge", "g5.2xlarge"];
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: gpuserve:gpuPools[0].instanceTypes[1]: 'g5.2xlarge' (8 vCPU, 32 GiB, 1 GPU) has another shape than 'g5.xlarge' (4 vCPU, 16 GiB, 1 GPU); Cluster Autoscaler needs equal CPU and memory within a node group. Fix: keep one shape per pool (instanceTypes: [g5.xlarge]) and put 'g5.2xlarge' in a pool of its own",
        );
    });

    it("rejects a minNodesReason that AWS would refuse as a tag value", () => {
        const raw = devRaw();
        Object.assign(raw.gpuPools[0], { minNodes: 1, minNodesReason: "first answer < 5 s in clinic hours" });
        assert.strictEqual(
            errorOf(raw),
            'Invalid stack config: gpuserve:gpuPools[0].minNodesReason: becomes an AWS tag value: use letters, digits, spaces and _ . : / = + - @ only (got "first answer < 5 s in clinic hours"). Fix: set a valid value (see docs/config.md)',
        );
        raw.gpuPools[0].minNodesReason = "Klinik öffnet 7:00 - erste Antwort in 5 s";
        assert.doesNotThrow(() => parseStackConfig(raw));
    });

    it("rejects a GPU pool's scaleDownUnneededSeconds outside whole seconds 10-3600, naming the key and the derived default", () => {
        const raw = devRaw();
        raw.gpuPools[0].scaleDownUnneededSeconds = 5;
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: gpuserve:gpuPools[0].scaleDownUnneededSeconds: pool 'a10g' keeps an empty GPU node 5 s: it must be whole seconds from 10 to 3600. Fix: set a whole number of seconds from 10 (Cluster Autoscaler's scan interval) to 3600 (an hour), or remove it for the derived 110 s",
        );
        raw.gpuPools[0].scaleDownUnneededSeconds = 90.5;
        assert.match(errorOf(raw), /scaleDownUnneededSeconds: pool 'a10g' keeps an empty GPU node 90\.5 s: it must be whole seconds/);
        raw.gpuPools[0].scaleDownUnneededSeconds = 7200;
        assert.match(errorOf(raw), /from 10 to 3600/);
        raw.gpuPools[0].scaleDownUnneededSeconds = "5m";
        assert.strictEqual(
            errorOf(raw),
            'Invalid stack config: gpuserve:gpuPools[0].scaleDownUnneededSeconds: must be whole seconds as a number, e.g. 120 (not a duration string) (got "5m"). Fix: set a valid value (see docs/config.md)',
        );
        raw.gpuPools[0].scaleDownUnneededSeconds = 300;
        assert.strictEqual(parseStackConfig(raw).gpuPools[0].scaleDownUnneededSeconds, 300);
    });

    it("rejects maxReplicas below minReplicas", () => {
        const raw = devRaw();
        raw.models[0].scaling = { minReplicas: 3, maxReplicas: 2 };
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: gpuserve:models[0].scaling.maxReplicas: 'maxReplicas' (2) must be >= 'minReplicas' (3). Fix: set maxReplicas to at least 3",
        );
    });

    it("rejects a node group whose max size cannot host the pool's max replicas", () => {
        const raw = devRaw();
        raw.gpuPools[0].maxNodes = 1;
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: gpuserve:gpuPools[0].maxNodes: pool 'a10g' can host 1 one-GPU workers (1 nodes x 1 GPUs), but its models' maxReplicas add up to 2. Fix: set maxNodes to at least 2, or lower the models' scaling.maxReplicas",
        );
    });

    it("counts GPUs per node when checking capacity (one 8-GPU node hosts 8 workers)", () => {
        const raw = prodRaw();
        Object.assign(raw.gpuPools[1], { name: "a100", gpuType: "a100-80gb", instanceTypes: ["p4de.24xlarge"], maxNodes: 1 });
        raw.models[2].pool = "a100";
        const parsed = parseStackConfig(raw);
        assert.strictEqual(parsed.gpuPools[1].gpusPerNode, 8);
        raw.models[2].scaling.maxReplicas = 8;
        raw.gpuPools[1].diskSizeGiB = 712; // eight 27B weights copies on the node's disk
        assert.doesNotThrow(() => parseStackConfig(raw));
        raw.models[2].scaling.maxReplicas = 9;
        assert.match(
            errorOf(raw),
            /gpuserve:gpuPools\[1\]\.maxNodes: pool 'a100' can host 8 one-GPU workers \(1 nodes x 8 GPUs\), but its models' maxReplicas add up to 9/,
        );
    });

    it("rejects an unknown GPU type naming the allowed values", () => {
        const raw = devRaw();
        raw.gpuPools[0].gpuType = "h100";
        assert.strictEqual(
            errorOf(raw),
            'Invalid stack config: gpuserve:gpuPools[0].gpuType: "h100" is not one of a10g, l4, l40s, a100-40gb, a100-80gb. Fix: use one of a10g, l4, l40s, a100-40gb, a100-80gb',
        );
    });

    it("rejects an unknown instance type with a did-you-mean hint", () => {
        const raw = devRaw();
        raw.gpuPools[0].instanceTypes = ["g5.xlarg"];
        assert.match(
            errorOf(raw),
            /^Invalid stack config: gpuserve:gpuPools\[0\]\.instanceTypes\[0\]: unknown instance type "g5\.xlarg"\. Fix: did you mean 'g5\.xlarge'\? use one of /,
        );
    });

    it("rejects an instance type whose GPU differs from the pool's gpuType", () => {
        const raw = devRaw();
        raw.gpuPools[0].instanceTypes = ["g6.xlarge"];
        assert.match(
            errorOf(raw),
            /gpuserve:gpuPools\[0\]\.instanceTypes\[0\]: 'g6\.xlarge' carries l4 GPUs, but the pool's gpuType is 'a10g'\. Fix: use an instance type with a10g GPUs/,
        );
    });

    it("rejects a region the catalog has no price for, unless prices are given", () => {
        const raw = devRaw();
        raw.region = "sa-east-1";
        assert.match(
            errorOf(raw),
            /gpuserve:systemNodes\.instanceTypes\[0\]: instance type 'm7i\.large' has no price for region 'sa-east-1' \(the catalog covers ap-northeast-1, eu-central-1, eu-north-1, eu-west-1, us-east-1, us-west-2\)\. Fix: .*gpuserve:prices\.instances\.m7i\.large/,
        );
        raw.prices = { instances: { "m7i.large": 0.115, "g5.xlarge": 1.2, "g5.2xlarge": 1.4 } };
        assert.doesNotThrow(() => parseStackConfig(raw));
    });

    it("rejects a production stack without TLS", () => {
        const raw = prodRaw();
        delete raw.serving.certificateArn;
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: gpuserve:serving.certificateArn: a production stack must serve HTTPS, but no TLS certificate and domain are set. Fix: set gpuserve:serving.certificateArn (an ACM certificate ARN) and gpuserve:serving.domain",
        );
    });

    it("rejects a non-production stack that neither has TLS nor allows plain HTTP explicitly", () => {
        const raw = devRaw();
        delete raw.serving;
        assert.match(
            errorOf(raw),
            /gpuserve:serving\.certificateArn: no TLS certificate is set and plain HTTP was not explicitly allowed\. Fix: .*allowInsecureHttp to true/,
        );
    });

    it("rejects production guardrail violations: open API endpoint, one gateway replica", () => {
        const raw = prodRaw();
        raw.cluster.endpointPublicAccessCidrs = ["0.0.0.0/0"];
        raw.serving.gateway.replicas = 1;
        const message = errorOf(raw);
        assert.match(message, /gpuserve:cluster\.endpointPublicAccessCidrs: the Kubernetes API endpoint is open to 0\.0\.0\.0\/0 in production/);
        assert.match(message, /gpuserve:serving\.gateway\.replicas: production needs >= 2 gateway replicas \(got 1\)/);
        assert.match(message, /^Invalid stack config \(2 problems\):/);
    });

    it("rejects zero and negative limits naming the key and the value", () => {
        const raw = devRaw();
        raw.gpuPools[0].maxNodes = 0;
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: gpuserve:gpuPools[0].maxNodes: must be a whole number, at least 1 (got 0). Fix: set it to 1 or more",
        );
        const raw2 = devRaw();
        raw2.models[0].scaling.minReplicas = -1;
        assert.match(
            errorOf(raw2),
            /^Invalid stack config: gpuserve:models\[0\]\.scaling\.minReplicas: must be a whole number, at least 0 \(got -1\)\. Fix: set it to 0 or more$/,
        );
    });

    it("rejects a model that references a pool that does not exist", () => {
        const raw = devRaw();
        raw.models[0].pool = "a100";
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: gpuserve:models[0].pool: GPU pool 'a100' does not exist (pools: a10g). Fix: set it to one of the pools in gpuserve:gpuPools, or add a pool named 'a100'",
        );
    });

    it("rejects unknown keys with a did-you-mean hint instead of ignoring them", () => {
        const raw = devRaw();
        raw.gpuPools[0].maxNode = 3;
        assert.match(errorOf(raw), /^Invalid stack config: gpuserve:gpuPools\[0\]\.maxNode: unknown key 'maxNode'\. Fix: did you mean 'maxNodes'\?/);
    });

    it("rejects a missing required field saying what it is for and the line to add", () => {
        const raw = devRaw();
        delete raw.gpuPools;
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: gpuserve:gpuPools: is missing: at least one GPU pool is needed. Fix: add to Pulumi.<stack>.yaml under config:  gpuserve:gpuPools: [{name: a10g, gpuType: a10g, maxNodes: 2}]",
        );
    });

    it("rejects missing tags saying a team tag is required and showing the line to add", () => {
        const raw = devRaw();
        delete raw.tags;
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: gpuserve:tags: is missing: the cost-allocation tags need at least a 'team' tag (AWS Cost Explorer groups spend by it). Fix: add to Pulumi.<stack>.yaml under config:  gpuserve:tags: {team: radiology}",
        );
    });

    it("rejects a tags map without team", () => {
        const raw = devRaw();
        raw.tags = { owner: "x" };
        assert.match(errorOf(raw), /gpuserve:tags: must include a 'team' tag/);
    });

    for (const [what, set, key, hint] of [
        ["GPU type", (r: any) => (r.gpuPools[0].gpuType = "A10G"), "gpuPools\\[0\\]\\.gpuType", "a10g"],
        ["capacity type", (r: any) => (r.gpuPools[0].capacityType = "Spot"), "gpuPools\\[0\\]\\.capacityType", "spot"],
        ["traffic profile", (r: any) => (r.traffic.profile = "office_hours"), "traffic\\.profile", "office-hours"],
        ["NAT gateway mode", (r: any) => (r.network = { natGateways: "perAZ" }), "network\\.natGateways", "perAz"],
        ["Kubernetes version", (r: any) => (r.cluster = { version: "v1.35" }), "cluster\\.version", "1.35"],
    ] as const) {
        it(`suggests the enum value a wrong ${what} was meant to be`, () => {
            const raw = devRaw();
            set(raw);
            assert.match(errorOf(raw), new RegExp(`^Invalid stack config: gpuserve:${key}: ".+" is not one of .+\\. Fix: did you mean '${hint}'\\?$`));
        });
    }

    it("rejects a region that is not an AWS region, with a did-you-mean", () => {
        const raw = devRaw();
        raw.region = "us-east-7";
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: aws:region: \"us-east-7\" is not an AWS region. Fix: did you mean 'us-east-1'? (pulumi config set aws:region us-east-1)",
        );
        raw.region = "moon-base-1";
        assert.match(
            errorOf(raw),
            /aws:region: "moon-base-1" is not an AWS region\. Fix: use an AWS region code such as us-east-1: .*\beu-central-1\b.*\bus-west-2\b/,
        );
    });

    it("accepts every AWS region of the pinned provider (priced through gpuserve:prices where the catalog has none)", () => {
        for (const region of ["eu-central-1", "ap-southeast-7", "mx-central-1", "us-gov-west-1", "cn-north-1"]) {
            const raw = devRaw();
            raw.region = region;
            raw.prices = { instances: { "m7i.large": 0.12, "g5.xlarge": 1.2, "g5.2xlarge": 1.4 } };
            assert.doesNotThrow(() => parseStackConfig(raw), region);
        }
    });

    it("rejects duplicate worker pool names", () => {
        const raw = devRaw();
        raw.models.push(clone(raw.models[0]));
        raw.gpuPools[0].maxNodes = 4;
        assert.match(errorOf(raw), /gpuserve:models: worker pool name 'qwen3-vl-2b' is used more than once/);
    });

    it("rejects a VPC CIDR that cannot hold the subnet layout", () => {
        const raw = devRaw();
        raw.network = { vpcCidr: "10.0.0.0/24" };
        assert.match(errorOf(raw), /^Invalid stack config: gpuserve:network\.vpcCidr: must be a \/16 to \/20 block with no host bits set/);
    });
});

describe("rawStackConfig", () => {
    it("rejects unknown top-level config keys with a did-you-mean hint", () => {
        const { issues } = rawStackConfig({ "aws:region": "us-east-1", "gpuserve:gpuPool": "[]", "other:key": "ignored" });
        assert.deepStrictEqual(issues, [{ key: "gpuserve:gpuPool", message: "unknown config key 'gpuPool'", fix: "did you mean 'gpuserve:gpuPools'?" }]);
    });

    it("parses JSON values and takes the region from aws:region", () => {
        const { raw, issues } = rawStackConfig({ "aws:region": "us-west-2", "gpuserve:production": "true", "gpuserve:timezone": "Europe/Berlin" });
        assert.deepStrictEqual(issues, []);
        assert.deepStrictEqual(raw, { region: "us-west-2", production: true, timezone: "Europe/Berlin" });
    });
});

describe("coldStart.imageCacheInitRateMiBps", () => {
    it("takes 0 (lazy) or 100-300 MiB/s", () => {
        for (const v of [0, 100, 300]) assert.doesNotThrow(() => parseStackConfig({ ...devRaw(), coldStart: { imageCacheInitRateMiBps: v } }), String(v));
        assert.strictEqual(
            errorOf({ ...devRaw(), coldStart: { imageCacheInitRateMiBps: 50 } }),
            "Invalid stack config: gpuserve:coldStart.imageCacheInitRateMiBps: must be 0 (lazy, EBS default) or 100-300 MiB/s (got 50). Fix: set a valid value (see docs/config.md)",
        );
    });

    it("refuses a rate the Region's EBS quota cannot give every GPU node launching at once (5,000 MiB/s)", () => {
        const raw = devRaw();
        raw.gpuPools[0].maxNodes = 20;
        raw.models[0].scaling.maxReplicas = 20;
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: gpuserve:coldStart.imageCacheInitRateMiBps: 300 MiB/s for up to 20 GPU nodes launching at once is 6000 MiB/s, over the Region's EBS volume initialization quota of 5000 MiB/s: launches over it fail. Fix: set it to at most 250 (or 0 for lazy restore), or raise the quota (Service Quotas, Amazon EBS) and keep it",
        );
        assert.doesNotThrow(() => parseStackConfig({ ...raw, coldStart: { imageCacheInitRateMiBps: 250 } }));
        assert.doesNotThrow(() => parseStackConfig({ ...raw, coldStart: { imageCache: "none" } }), "no snapshot, nothing to initialize");
    });
});

describe("gpuPools[].diskSizeGiB: the node's volume holds the image and its workers' weights copies", () => {
    it("refuses a volume too small for the workers one node can hold, naming the pool, what lands there and the size that fits", () => {
        const raw = prodRaw();
        // An 8-GPU p4de pool for two MedGemma 27B workers, their pods on the default 200 GiB volume.
        raw.gpuPools[1] = {
            name: "a100",
            gpuType: "a100-80gb",
            instanceTypes: ["p4de.24xlarge"],
            capacityType: "on-demand",
            minNodes: 0,
            maxNodes: 1,
            podStorage: "volume",
        };
        raw.models[2] = { id: "google/medgemma-27b-it", pool: "a100", scaling: { minReplicas: 0, maxReplicas: 2 } };
        assert.strictEqual(
            errorOf(raw),
            "Invalid stack config: gpuserve:gpuPools[1].diskSizeGiB: pool 'a100' volume of 200 GiB is too small for what one node can hold: 2 x google/medgemma-27b-it (76 GiB each), plus the vLLM image, within the 10 % the kubelet keeps free (weights copied from S3 and vLLM's caches: stacks/workerDisk.ts). Fix: set gpuPools[1].diskSizeGiB to at least 206, or lower the models' maxReplicas on this pool",
        );
        raw.gpuPools[1].diskSizeGiB = 206;
        assert.doesNotThrow(() => parseStackConfig(raw));
        // Fewer workers per node, or no weights copy on the node, need less.
        raw.gpuPools[1].diskSizeGiB = 200;
        raw.models[2].scaling.maxReplicas = 1;
        assert.doesNotThrow(() => parseStackConfig(raw));
    });

    it("needs only the image on the volume when the pods are on the instance store (auto picks it on p4de)", () => {
        const raw = prodRaw();
        raw.gpuPools[1] = {
            name: "a100",
            gpuType: "a100-80gb",
            instanceTypes: ["p4de.24xlarge"],
            capacityType: "on-demand",
            minNodes: 0,
            maxNodes: 1,
            diskSizeGiB: 100,
        };
        raw.models[2] = { id: "google/medgemma-27b-it", pool: "a100", scaling: { minReplicas: 0, maxReplicas: 2 } };
        const pool = parseStackConfig(raw).gpuPools[1];
        assert.strictEqual(pool.podStorage, "instanceStore");
        assert.strictEqual(
            pool.podStorageReason,
            "the weights copy and read are faster on the instance store (p4de.24xlarge: 0.3 s/GiB on the instance store, 2 s/GiB on the volume)",
        );
    });

    it("refuses an instance store too small for one node's workers, and one asked for where the type has none", () => {
        const raw = devRaw();
        raw.gpuPools[0].podStorage = "instanceStore";
        const real = INSTANCE_STORE["g5.xlarge"];
        const store = INSTANCE_STORE as Record<string, unknown>;
        try {
            store["g5.xlarge"] = { ...real, diskGB: 30 }; // 27.9 GiB; one Qwen3-VL-2B worker needs 6 + 20 GiB / 0.9
            assert.strictEqual(
                errorOf(raw),
                "Invalid stack config: gpuserve:gpuPools[0].podStorage: pool 'a10g' puts its pods on the instance store (set in gpuPools[].podStorage), but g5.xlarge's 27 GiB cannot hold what one node can run: 1 x Qwen/Qwen3-VL-2B-Instruct (26 GiB each), within the 10 % the kubelet keeps free (weights copied from S3 and vLLM's caches: stacks/workerDisk.ts). Fix: set gpuPools[0].podStorage to \"volume\" (its 200 GiB diskSizeGiB holds them), or lower the models' maxReplicas on this pool",
            );
            delete store["g5.xlarge"];
            assert.strictEqual(
                errorOf(raw),
                'Invalid stack config: gpuserve:gpuPools[0].podStorage: is "instanceStore", but g5.xlarge has no NVMe instance store we know of (stacks/catalog/instanceStore.ts). Fix: set it to "volume" or "auto", or use instance types with an instance store',
            );
            raw.gpuPools[0].podStorage = "auto";
            assert.strictEqual(parseStackConfig(raw).gpuPools[0].podStorage, "volume", "auto: no instance store, the volume");
        } finally {
            store["g5.xlarge"] = real;
        }
        raw.gpuPools[0].podStorage = "instanceStore";
        assert.strictEqual(parseStackConfig(raw).gpuPools[0].podStorage, "instanceStore", "the real 250 GB store holds it");
    });

    it("counts at most one worker per GPU of the node, whatever maxReplicas says", () => {
        const raw = devRaw();
        raw.models[0].scaling.maxReplicas = 8; // one GPU per g5.xlarge: one worker per node
        raw.gpuPools[0].maxNodes = 8;
        raw.gpuPools[0].diskSizeGiB = 100;
        assert.doesNotThrow(() => parseStackConfig(raw));
    });
});
