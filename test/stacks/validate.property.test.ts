import * as assert from "assert";
import * as fc from "fast-check";
import { DEFAULT_INSTANCE_TYPES, GPU_TYPES, GpuType, INSTANCE_CATALOG } from "../../stacks/catalog/instances";
import { MODEL_CATALOG } from "../../stacks/catalog/models";
import { ConfigError } from "../../stacks/errors";
import { parseStackConfig } from "../../stacks/validate";

const gpuMemory = (t: GpuType) => INSTANCE_CATALOG[DEFAULT_INSTANCE_TYPES[t][0]].gpu!.memoryGiB;
const gpusPerNode = (t: GpuType) => Math.min(...DEFAULT_INSTANCE_TYPES[t].map((i) => INSTANCE_CATALOG[i].gpu!.count));

/** Random valid configs: 1-3 pools, models that fit their pool, capacity that covers maxReplicas. */
const validConfig = fc
    .record({
        pools: fc.uniqueArray(fc.record({ gpuType: fc.constantFrom(...GPU_TYPES), spot: fc.boolean(), minNodes: fc.nat(2) }), {
            minLength: 1,
            maxLength: 3,
            selector: (p) => p.gpuType,
        }),
        models: fc.array(fc.record({ pick: fc.nat(), modelPick: fc.nat(), minReplicas: fc.nat(2), extra: fc.nat(4), warm: fc.boolean() }), {
            minLength: 1,
            maxLength: 4,
        }),
        region: fc.constantFrom("us-east-1", "us-west-2"),
        production: fc.boolean(),
        azs: fc.constantFrom(2, 3),
    })
    .map(({ pools, models, region, production, azs }) => {
        const gpuPools = pools.map((p, i) => ({
            name: `pool${i}`,
            gpuType: p.gpuType,
            capacityType: p.spot ? "spot" : "on-demand",
            minNodes: p.minNodes,
            maxNodes: 1,
            ...(p.minNodes > 0 ? { minNodesReason: "warm for the morning clinic" } : {}),
        }));
        const replicas = new Map<string, number>();
        const modelEntries = models.flatMap((m, i) => {
            const pool = gpuPools[m.pick % gpuPools.length];
            const fitting = Object.values(MODEL_CATALOG).filter((s) => s.minGpuMemoryGiB <= gpuMemory(pool.gpuType));
            if (fitting.length === 0) return [];
            const spec = fitting[m.modelPick % fitting.length];
            const maxReplicas = m.minReplicas + m.extra + 1;
            replicas.set(pool.name, (replicas.get(pool.name) ?? 0) + maxReplicas);
            const scaling = { minReplicas: m.minReplicas, maxReplicas, warmWindows: m.warm ? [{ start: "08:00", end: "17:30", replicas: 1 }] : [] };
            return [
                { id: spec.id, pool: pool.name, name: `w${i}`, scaling, ...(spec.revision ? {} : { revision: "0123456789abcdef0123456789abcdef01234567" }) },
            ];
        });
        for (const pool of gpuPools) {
            pool.maxNodes = Math.max(pool.minNodes, 1, Math.ceil((replicas.get(pool.name) ?? 0) / gpusPerNode(pool.gpuType)));
            // A volume for the image and every GPU of the node holding the pool's largest weights copy plus 21 GiB of cache.
            const largest = Math.max(0, ...modelEntries.filter((m) => m.pool === pool.name).map((m) => MODEL_CATALOG[m.id].weightsGiB));
            (pool as Record<string, unknown>).diskSizeGiB = Math.max(200, Math.ceil((40 + gpusPerNode(pool.gpuType) * (largest + 22)) / 0.9));
        }
        // The image-cache initialization rate the Region's EBS quota (5,000 MiB/s) allows for every node launching at once.
        const nodes = gpuPools.reduce((n, p) => n + p.maxNodes, 0);
        const initRate = nodes * 300 <= 5000 ? 300 : Math.floor(5000 / nodes) >= 100 ? Math.floor(5000 / nodes) : 0;
        return {
            coldStart: { imageCacheInitRateMiBps: initRate },
            region,
            environment: "prop",
            tags: { team: "props" },
            production,
            network: { availabilityZoneCount: azs },
            cluster: production ? { endpointPublicAccessCidrs: ["198.51.100.0/24"] } : {},
            gpuPools,
            models: modelEntries.length > 0 ? modelEntries : [{ id: "Qwen/Qwen3-VL-2B-Instruct", pool: "big", scaling: {} }],
            serving: production
                ? { domain: "x.example.org", certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/abc-123", gateway: { replicas: 2 } }
                : { allowInsecureHttp: true },
        } as Record<string, any>;
    })
    // Keep only configs whose fallback model entry has a pool (always true unless no model fit).
    .filter((c) => c.models.every((m: any) => c.gpuPools.some((p: any) => p.name === m.pool)));

/** Mutations that each make a valid config invalid, and the key the error must name. */
const mutations: { name: string; key: RegExp; apply: (c: Record<string, any>) => void }[] = [
    { name: "negative maxNodes", key: /gpuserve:gpuPools\[0\]\.maxNodes/, apply: (c) => (c.gpuPools[0].maxNodes = -1) },
    { name: "unknown pool", key: /gpuserve:models\[0\]\.pool/, apply: (c) => (c.models[0].pool = "nope") },
    { name: "max < min replicas", key: /gpuserve:models\[0\]\.scaling\.maxReplicas/, apply: (c) => (c.models[0].scaling = { minReplicas: 5, maxReplicas: 1 }) },
    { name: "typo key", key: /gpuserve:gpuPools\[0\]\.capacityTyp/, apply: (c) => (c.gpuPools[0].capacityTyp = "spot") },
    { name: "bad CIDR", key: /gpuserve:network\.vpcCidr/, apply: (c) => (c.network.vpcCidr = "10.0.0.0/33") },
    { name: "string for number", key: /gpuserve:models\[0\]\.scaling\.maxReplicas/, apply: (c) => (c.models[0].scaling.maxReplicas = "4") },
    { name: "unknown model", key: /gpuserve:models\[0\]\.id/, apply: (c) => (c.models[0].id = "acme/unknown-model") },
    { name: "bad time zone", key: /gpuserve:timezone/, apply: (c) => (c.timezone = "Mars/Olympus") },
    { name: "bad region", key: /aws:region/, apply: (c) => (c.region = "moon-1") },
];

describe("parseStackConfig (properties)", () => {
    it("never throws for random valid configs", () => {
        fc.assert(
            fc.property(validConfig, (c) => {
                const parsed = parseStackConfig(c);
                assert.strictEqual(parsed.gpuPools.length, c.gpuPools.length);
            }),
            { numRuns: 300 },
        );
    });

    it("always throws a ConfigError naming the broken key for a random valid config with one mutation", () => {
        fc.assert(
            fc.property(validConfig, fc.constantFrom(...mutations), (c, m) => {
                m.apply(c);
                try {
                    parseStackConfig(c);
                } catch (e) {
                    assert.ok(e instanceof ConfigError, `${m.name}: not a ConfigError: ${String(e)}`);
                    assert.match(e.message, m.key, `${m.name}: ${e.message}`);
                    assert.match(e.message, /Fix: /);
                    return;
                }
                assert.fail(`${m.name} was accepted`);
            }),
            { numRuns: 300 },
        );
    });
});
