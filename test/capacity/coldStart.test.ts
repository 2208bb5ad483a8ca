/**
 * Cold start in the simulator: every phase follows the stack's config, the fidelity fixes
 * (Cluster Autoscaler's GPU buffer, the device plugin counted once, the 15 s scrape, the
 * scale-down times as deployed), the reported breakdown, and the dev and prod targets.
 */
import * as assert from "assert";
import { IMAGE_CACHE_BUILD, imageCacheBuildUsd } from "../../capacity/cacheCost";
import { BUILDER_INSTANCE_TYPE } from "../../components/cluster/imageCache/runbook";
import { AWS_PRICES, instanceSpec } from "../../stacks/catalog/instances";
import { allocatableAfterLaunch, coldStartPhases, mechanismsFor, totalSeconds } from "../../capacity/sim/coldStart";
import { workerColdStart } from "../../capacity/sim/coldStartReport";
import { holdBoundSeconds } from "../../capacity/sim/holdBound";
import { DEFAULT_SIM_PARAMS } from "../../capacity/sim/params";
import { buildSimInput } from "../../capacity/sim/setup";
import { simulateStack } from "../../capacity/sim";
import { loadStack } from "../../scripts/compare";
import { ROOT } from "../helpers/program";
import { UNOPTIMIZED, csvTrace, fixedService, oneStack } from "./helpers";

const p = DEFAULT_SIM_PARAMS;
const phase = (phases: { phase: string; seconds: number }[], re: RegExp) => phases.find((x) => re.test(x.phase))!.seconds;

describe("cold start phases follow the stack's config", () => {
    it("dev and prod: every worker pool's median cold start from zero is <= 180 s, the sum of phases that each cite a source", () => {
        for (const stack of ["dev", "prod"]) {
            const config = loadStack(ROOT, stack);
            const input = buildSimInput(config, { days: 1, root: ROOT });
            config.models.forEach((m, wi) => {
                const c = workerColdStart(config, input, wi);
                assert.ok(c.coldStartSeconds <= 180, `${stack} ${m.name}: ${c.coldStartSeconds} s`);
                assert.strictEqual(c.coldStartSeconds, totalSeconds(c.coldStartPhases));
                for (const x of c.coldStartPhases) assert.ok(x.source.length > 10 && x.seconds >= 0, `${stack} ${m.name} ${x.phase}`);
            });
        }
    });

    it("the simulated dev month answers the first request after a cold start within 180 s at the median", () => {
        // Warm-ups off (predictive and the teacher's), so the month has cold starts to measure.
        const dev = loadStack(ROOT, "dev");
        const cold = {
            ...dev,
            traffic: { ...dev.traffic, warmupMinutesBefore: 0 },
            models: dev.models.map((m) => ({ ...m, scaling: { ...m.scaling, predictiveWarmup: { ...m.scaling.predictiveWarmup, enabled: false } } })),
        };
        const sim = simulateStack(cold, { days: 7, root: ROOT });
        const t = sim.expected.timeToFirstAnswerSeconds!;
        assert.ok(t.median <= 180, `median ${t.median} s`);
        assert.strictEqual(sim.expected.requests.rejected503, 0);
    });

    it("each mechanism switched off puts its slow phase back", () => {
        const at = (o: Parameters<typeof oneStack>[0]) => {
            const config = oneStack(o);
            return coldStartPhases(p, { mechanisms: mechanismsFor(config, config.gpuPools[0], config.models[0]), weightsGiB: 4.3, instanceType: "g5.xlarge", pollingIntervalSeconds: 15, firstAnswerSeconds: 1 });
        };
        const on = at({});
        assert.strictEqual(phase(on, /^weights streamed from S3/), 3.7); // 4.3 GiB at 1.25 GB/s (g5.xlarge 10 Gbit/s)
        assert.strictEqual(phase(on, /^vLLM image \(pre-pulled/), 5);
        assert.strictEqual(phase(on, /^torch\.compile \(cached, restored from S3\)/), 28);
        assert.strictEqual(phase(on, /^node boot to Ready \(bottlerocket\)/), 45);
        assert.strictEqual(phase(at({ coldStart: { weights: "huggingface" } }), /^weights downloaded from Hugging Face/), 24.5);
        assert.strictEqual(phase(at({ coldStart: { imageCache: "none" } }), /^vLLM image pull/), 300);
        assert.strictEqual(phase(at({ coldStart: { compileCache: "none" } }), /uncached/), 200);
        const al = at({ ami: "al2023", coldStart: { imageCache: "none" } });
        assert.strictEqual(phase(al, /^node boot to Ready \(al2023\)/), 135);
        assert.strictEqual(phase(al, /^GPU advertised/), 10);
        assert.ok(totalSeconds(at(UNOPTIMIZED)) > 700, "all off: the ~12 minutes of the issue");
    });

    it("rejects an image cache on an AL2023 pool: the snapshot is a Bottlerocket data volume", () => {
        assert.throws(() => oneStack({ ami: "al2023" }), /gpuserve:gpuPools\[0\]\.ami: pool 'gpu' uses "al2023", but gpuserve:coldStart\.imageCache is "snapshot"/);
    });
});

describe("cold start fidelity", () => {
    it("counts the device plugin once: ~90 s from launch overlaps an AL2023 boot; Bottlerocket's built-in plugin adds seconds", () => {
        assert.strictEqual(allocatableAfterLaunch(p, "al2023", 120), 130);
        assert.strictEqual(allocatableAfterLaunch(p, "al2023", 60), 90);
        assert.strictEqual(allocatableAfterLaunch(p, "bottlerocket", 45), 50);
    });

    it("the autoscaler launches a node only once the pending GPU pod is 30 s old", () => {
        const { root, file } = csvTrace(["1000,image"]);
        const config = oneStack({ gateway: { maxWaitSeconds: 3600 }, traffic: { profile: "csv", csvFile: file, service: fixedService(1, 4) } });
        const fixed = { nodeBootBottlerocketSeconds: { min: 40, max: 40 } };
        const withBuffer = simulateStack(config, { root, params: fixed }).result.completion[0];
        const without = simulateStack(config, { root, params: { ...fixed, caGpuBufferSeconds: 0 } }).result.completion[0];
        assert.strictEqual(withBuffer - without, 30);
    });

    it("scrapes every 15 s like the ServiceMonitors, and scales down after the times the stack deploys", () => {
        assert.strictEqual(p.scrapeSeconds, 15);
        const input = buildSimInput(oneStack(), { days: 1 });
        assert.deepStrictEqual([input.params.caUnneededSeconds, input.params.caDelayAfterAddSeconds, input.params.caScanSeconds], [300, 300, 10]);
        const config = oneStack();
        const slow = { ...config, addons: { ...config.addons, clusterAutoscaler: { ...config.addons.clusterAutoscaler, scaleDownUnneededTime: "7m" } } };
        assert.strictEqual(buildSimInput(slow, { days: 1 }).params.caUnneededSeconds, 420);
    });
});

describe("gateway hold bound", () => {
    it("defaults to the modelled worst-case cold start plus margin, follows the mechanisms, and yields to an explicit value", () => {
        const fast = oneStack();
        const slow = oneStack(UNOPTIMIZED);
        assert.strictEqual(fast.serving.gateway.maxWaitSeconds, holdBoundSeconds(fast));
        assert.ok(fast.serving.gateway.maxWaitSeconds < slow.serving.gateway.maxWaitSeconds, `${fast.serving.gateway.maxWaitSeconds} vs ${slow.serving.gateway.maxWaitSeconds}`);
        // Fast stack, worst case: full scrape, poll, buffer, scan, a 60 s boot, first compile (200 s): ~ 365 s -> x1.25 + 60 -> 540.
        assert.strictEqual(fast.serving.gateway.maxWaitSeconds, 540);
        const input = buildSimInput(fast, { days: 1 });
        assert.ok(fast.serving.gateway.maxWaitSeconds > 2 * workerColdStart(fast, input, 0).coldStartSeconds);
        assert.strictEqual(oneStack({ gateway: { maxWaitSeconds: 900 } }).serving.gateway.maxWaitSeconds, 900);
    });
});

describe("image-cache build cost", () => {
    it("is the builder's minutes at its catalog price plus the pull through the NAT, and names the type when a region has no price", () => {
        const b = imageCacheBuildUsd("us-east-1");
        assert.strictEqual(b.instanceUsd, (instanceSpec(BUILDER_INSTANCE_TYPE)!.usdPerHour["us-east-1"] * IMAGE_CACHE_BUILD.minutes) / 60);
        assert.strictEqual(b.natUsd, IMAGE_CACHE_BUILD.pullGb * AWS_PRICES.natGatewayPerGb);
        assert.ok(b.totalUsd > 0.1 && b.totalUsd < 2, `${b.totalUsd}`);
        assert.throws(() => imageCacheBuildUsd("sa-east-1"), /no price for the image-cache builder m6i\.large in sa-east-1/);
    });
});
