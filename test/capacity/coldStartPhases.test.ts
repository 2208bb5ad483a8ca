/**
 * Cold start in the simulator: every phase follows the stack's config, the fidelity fixes
 * (Cluster Autoscaler's GPU buffer, the device plugin counted once, the 15 s scrape, the
 * scale-down times as deployed), the reported breakdown, and the dev and prod targets.
 */
import * as assert from "assert";
import { IMAGE_CACHE_BUILD, imageCacheBuildUsd } from "../../capacity/cacheCost";
import { BUILDER_INSTANCE_TYPE } from "../../stacks/imageCache";
import { AWS_PRICES, instanceSpec } from "../../stacks/catalog/instances";
import {
    ColdStartPhase,
    allocatableAfterLaunch,
    coldStartPhases,
    imageInitSeconds,
    mechanismsFor,
    pessimisticTotalSeconds,
    totalSeconds,
} from "../../stacks/model/coldStartPhases";
import { ConfigError } from "../../stacks/errors";
import type { StackConfig } from "../../stacks/resolved";
import { workerColdStart } from "../../capacity/sim/coldStartFigures";
import { holdBoundSeconds } from "../../stacks/model/holdTime";
import { DEFAULT_SIM_PARAMS } from "../../stacks/model/params";
import { buildSimInput } from "../../capacity/sim/setup";
import { simulateStack } from "../../capacity/sim";
import { loadStack } from "../../scripts/compare";
import { ROOT, runStack, stackConfig } from "../helpers/program";
import { UNOPTIMIZED, csvTrace, fixedService, oneStack } from "./helpers";

const p = DEFAULT_SIM_PARAMS;

describe("cold start phases follow the stack's config", () => {
    it("dev and prod: every phase cites a source and has a pessimistic figure >= its expected one; the totals are their sums", () => {
        for (const stack of ["dev", "prod"]) {
            const config = loadStack(ROOT, stack);
            const input = buildSimInput(config, { days: 1, root: ROOT });
            config.models.forEach((m, wi) => {
                const c = workerColdStart(config, input, wi);
                assert.strictEqual(c.coldStartSeconds, totalSeconds(c.coldStartPhases));
                assert.strictEqual(c.coldStartPessimisticSeconds, pessimisticTotalSeconds(c.coldStartPhases));
                assert.deepStrictEqual(
                    c.coldStartPhases.map((x) => x.key),
                    ["trigger", "autoscaler", "nodeBoot", "gpuAdvertised", "image", "weights", "engineStart", "engineInit", "routable", "firstAnswer"],
                );
                for (const x of c.coldStartPhases) {
                    assert.ok(x.source.length > 10, `${stack} ${m.name} ${x.phase}: no source`);
                    assert.ok(x.seconds >= 0 && x.pessimisticSeconds >= x.seconds, `${stack} ${m.name} ${x.phase}: ${x.seconds} / ${x.pessimisticSeconds}`);
                }
                // The hold bound covers the slowest pool's pessimistic start (without the answer) with margin.
                assert.ok(
                    config.serving.gateway.maxWaitSeconds >= c.coldStartPessimisticSeconds,
                    `${stack} ${m.name}: hold ${config.serving.gateway.maxWaitSeconds} s < ${c.coldStartPessimisticSeconds} s`,
                );
            });
        }
    });

    it("the simulated month pays the modelled cold start: median time to first answer within the drawn phases' spread of the expected total", () => {
        // Warm-ups off (predictive and the teacher's), so the month has cold starts to measure.
        const dev = loadStack(ROOT, "dev");
        const cold = {
            ...dev,
            traffic: { ...dev.traffic, warmupMinutesBefore: 0 },
            models: dev.models.map((m) => ({ ...m, scaling: { ...m.scaling, predictiveWarmup: { ...m.scaling.predictiveWarmup, enabled: false } } })),
        };
        const sim = simulateStack(cold, { days: 7, root: ROOT });
        const t = sim.expected.timeToFirstAnswerSeconds!;
        const c = sim.expected.perPool[0].workerPools[0];
        // Drawn: the node's boot (80-120 s); the rest is expected figures. A pool already starting (a node
        // left over) answers sooner, so the median sits at most one boot spread above the expected total.
        assert.ok(t.median <= c.coldStartSeconds + 20 && t.median >= c.coldStartSeconds - 60, `median ${t.median} s vs modelled ${c.coldStartSeconds} s`);
        assert.ok(t.max <= c.coldStartPessimisticSeconds, `worst ${t.max} s vs pessimistic ${c.coldStartPessimisticSeconds} s`);
        assert.strictEqual(sim.expected.requests.rejected503, 0);
    });

    it("each mechanism switched off puts its slow phase back", () => {
        const inputOf = (o: Parameters<typeof oneStack>[0]) => {
            const config = oneStack(o);
            return {
                mechanisms: mechanismsFor(config, config.gpuPools[0], config.models[0]),
                weightsGiB: 4.3,
                instanceType: "g5.xlarge",
                pollingIntervalSeconds: 15,
                firstAnswer: { expected: 1, pessimistic: 1.3 },
            };
        };
        const at = (o: Parameters<typeof oneStack>[0]) => coldStartPhases(p, inputOf(o));
        const fig = (phases: ColdStartPhase[], key: string) => {
            const x = phases.find((y) => y.key === key)!;
            return [x.seconds, x.pessimisticSeconds];
        };
        const on = at({});
        // 4.3 GiB copied from S3 onto the node's volume by the AWS CLI's classic client at its measured 109.2 MiB/s
        // (aws/aws-cli#3910; slower than the volume's 400 MiB/s) = 40.3 s, read back at 400 MiB/s (g5.xlarge's 437.5 MB/s
        // EBS maximum, stacks/catalog/ebs.ts) = 11.0 s: 51.3 s. Pessimistic: both at the 87.5 MB/s EBS baseline (83.4 MiB/s,
        // under the CLI's rate): 105.5 s.
        assert.deepStrictEqual(fig(on, "weights"), [51.3, 105.5]);
        assert.deepStrictEqual(
            fig(coldStartPhases(p, { ...inputOf({}), instanceType: "g6.xlarge" }), "weights"),
            [48.9, 77.3],
            "g6.xlarge: copied at the CLI's 109.2 MiB/s, loaded no faster than the measured 2 s/GiB (its volume reads 575 MiB/s); read at the 125 MB/s EBS baseline pessimistic",
        );
        // On g5.xlarge's instance store: written at 20,313 IOPS x 4 KiB x 1.139 = 90.4 MiB/s (79.3 pessimistic), read at 40,625
        // x 4 KiB x 1.079 = 171.2 MiB/s (158.7): 74.4 s expected, 83.2 s pessimistic (stacks/catalog/instanceStore.ts).
        const nvme = coldStartPhases(p, { ...inputOf({}), mechanisms: { ...inputOf({}).mechanisms, podStorage: "instanceStore" } });
        assert.deepStrictEqual(fig(nvme, "weights"), [74.4, 83.2]);
        assert.match(nvme.find((x) => x.key === "weights")!.phase, /copied from S3 to the node's instance store/);
        assert.match(on.find((x) => x.key === "weights")!.phase, /copied from S3 to the node's volume/);
        // The 35 GB snapshot initialized at 300 MiB/s (the default): 111.3 s from launch, less boot and plugin (105 s), + 5 s
        // create; pessimistic 10 % slower: 123.6 s. Lazy (no published rate, taken as 100 MiB/s): 333.8 s and 370.9 s.
        assert.deepStrictEqual(fig(on, "image"), [11.3, 23.6]);
        assert.deepStrictEqual(fig(at({ coldStart: { imageCacheInitRateMiBps: 0 } }), "image"), [233.8, 270.9]);
        assert.deepStrictEqual(fig(on, "engineInit"), [37.1, 214.6]); // 9.6 profile + 24.5 cached compile and graphs + 3 restore; a cache miss: 200
        assert.deepStrictEqual(fig(on, "nodeBoot"), [100, 120]);
        assert.deepStrictEqual(fig(on, "routable"), [11, 21]);
        assert.deepStrictEqual(fig(at({ coldStart: { weights: "huggingface" } }), "weights"), [24.5, 24.5]);
        assert.deepStrictEqual(fig(at({ coldStart: { imageCache: "none" } }), "image"), [300, 480]);
        assert.deepStrictEqual(fig(at({ coldStart: { compileCache: "none" } }), "engineInit"), [209.6, 209.6]);
        const al = at({ ami: "al2023", coldStart: { imageCache: "none" } });
        assert.deepStrictEqual(fig(al, "nodeBoot"), [135, 180]);
        assert.deepStrictEqual(fig(al, "gpuAdvertised"), [10, 10]);
        assert.ok(totalSeconds(at(UNOPTIMIZED)) > 700, "all off: the ~12 minutes of the issue");
    });

    it("follows the EBS initialization rate of the image-cache volume: provisioned 300 MiB/s hides behind the boot, lazy does not", () => {
        const config = oneStack({});
        const m = mechanismsFor(config, config.gpuPools[0], config.models[0]);
        const image = (rate: number) =>
            coldStartPhases(p, {
                mechanisms: { ...m, imageInitRateMiBps: rate },
                weightsGiB: 4.3,
                instanceType: "g5.xlarge",
                pollingIntervalSeconds: 15,
                firstAnswer: { expected: 1, pessimistic: 1 },
            }).find((x) => x.key === "image")!;
        // 35 GB at 300 MiB/s = 111.3 s from launch (EBS user guide's example: 10 GiB at 300 MiB/s in 34.1 s), 6.3 s after the node's 105 s.
        assert.strictEqual(imageInitSeconds(p, 300), 35e9 / (300 * 1048576));
        assert.deepStrictEqual([image(300).seconds, image(300).pessimisticSeconds], [11.3, 23.6]);
        assert.deepStrictEqual([image(100).seconds, image(0).seconds], [233.8, 233.8]);
        assert.match(image(0).source, /lazy initialization, which has no published rate/);
    });

    it("takes a team's measured phases in place of the model, in the report, the hold bound and the simulation", () => {
        // Fixed boot and image figures (expected = pessimistic): the simulated start is then exact.
        const measured = {
            nodeBoot: { expected: 60, pessimistic: 60 },
            image: { expected: 20, pessimistic: 20 },
            engineInit: { expected: 30, pessimistic: 45 },
        };
        // Lazy initialization (333.8 s) outlasts any boot, so the modelled start does not depend on the boot draw.
        const base = oneStack({ coldStart: { imageCacheInitRateMiBps: 0 } });
        const mine = oneStack({ coldStart: { imageCacheInitRateMiBps: 0, phases: measured } });
        const phases = (cfg: StackConfig) => workerColdStart(cfg, buildSimInput(cfg, { days: 1 }), 0).coldStartPhases;
        for (const [key, f] of Object.entries(measured)) {
            const x = phases(mine).find((y) => y.key === key)!;
            assert.deepStrictEqual([x.seconds, x.pessimisticSeconds], [f.expected, f.pessimistic], key);
            assert.match(x.source, new RegExp(`measured by the team \\(gpuserve:coldStart\\.phases\\.${key}\\)`));
        }
        assert.deepStrictEqual(
            phases(mine).find((y) => y.key === "weights"),
            phases(base).find((y) => y.key === "weights"),
        );
        assert.ok(
            mine.serving.gateway.maxWaitSeconds < base.serving.gateway.maxWaitSeconds,
            `${mine.serving.gateway.maxWaitSeconds} vs ${base.serving.gateway.maxWaitSeconds}`,
        );
        // The simulated start follows: one request at zero, answered after the measured phases.
        const { root, file } = csvTrace(["1000,image"]);
        const run = (cfg: StackConfig) =>
            simulateStack({ ...cfg, traffic: { ...cfg.traffic, profile: "csv", csvFile: file, service: fixedService(1, 4) } } as StackConfig, { root }).result
                .completion[0];
        const faster = run(base) - run(mine);
        // Modelled: the pod waits for the lazily initialized volume (333.8 s from launch, whatever the 80-120 s boot) + 5 s
        // create, then weights, process start and engine init (37.1 s). Measured: the 60 s boot, 5 s plugin, 20 s image,
        // engine init 30 s.
        const vllm = (cfg: StackConfig) => buildSimInput(cfg, { days: 1 }).workerPools[0].start.vllmSeconds;
        const saved = imageInitSeconds(p, 0) + p.imagePullCachedSeconds + vllm(base) - (60 + 5 + 20 + vllm(mine));
        assert.ok(Math.abs(faster - saved) < 1e-6, `measured phases saved ${faster} s, expected ${saved} s`);
    });

    it("rejects measured phases that are not sourced figures: a pessimistic below the expected, a negative, an unknown phase, a missing figure", () => {
        const bad = (phases: Record<string, unknown>) => () => oneStack({ coldStart: { phases } });
        assert.throws(
            bad({ nodeBoot: { expected: 90, pessimistic: 60 } }),
            (e: unknown) =>
                e instanceof ConfigError &&
                e.message ===
                    "Invalid stack config: gpuserve:coldStart.phases.nodeBoot.pessimistic: 60 s is below the phase's expected 90 s: a slow start cannot be faster than a typical one. Fix: enter the slowest nodeBoot you measured (at least 90 s) as pessimistic, and the typical one as expected",
        );
        assert.throws(bad({ weights: { expected: -1, pessimistic: 5 } }), /gpuserve:coldStart\.phases\.weights\.expected: must be >= 0 seconds \(got -1\)/);
        assert.throws(
            bad({ nodeboot: { expected: 90, pessimistic: 120 } }),
            /gpuserve:coldStart\.phases\.nodeboot: unknown key 'nodeboot'\. Fix: did you mean 'nodeBoot'\?/,
        );
        assert.throws(
            bad({ image: { expected: 20 } }),
            /gpuserve:coldStart\.phases\.image\.pessimistic: must be seconds as a number, e\.g\. 95 \(it is missing\)/,
        );
        assert.throws(bad({ routable: { expected: 5, pessimistic: 7200 } }), /gpuserve:coldStart\.phases\.routable\.pessimistic: must be at most 3600 seconds/);
    });

    it("rejects an image cache on an AL2023 pool: the snapshot is a Bottlerocket data volume", () => {
        assert.throws(
            () => oneStack({ ami: "al2023" }),
            /gpuserve:gpuPools\[0\]\.ami: pool 'gpu' uses "al2023", but gpuserve:coldStart\.imageCache is "snapshot"/,
        );
    });

    it("models the startup probe period the workers deploy", async () => {
        const run = await runStack(stackConfig("dev"));
        const dep = run.resources.find(
            (r) => (r.inputs as { kind?: string }).kind === "Deployment" && (r.inputs as { metadata: { name: string } }).metadata.name.startsWith("worker-"),
        )!;
        const probe = (dep.inputs as { spec: { template: { spec: { containers: { startupProbe: { periodSeconds: number } }[] } } } }).spec.template.spec
            .containers[0].startupProbe;
        assert.strictEqual(probe.periodSeconds, p.startupProbePeriodSeconds);
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
        assert.ok(
            fast.serving.gateway.maxWaitSeconds < slow.serving.gateway.maxWaitSeconds,
            `${fast.serving.gateway.maxWaitSeconds} vs ${slow.serving.gateway.maxWaitSeconds}`,
        );
        // The pessimistic start without its answer: full scrape and poll (30), buffer and scan (40), a 120 s boot, 10 s plugin,
        // the image volume's initialization 10 % below 300 MiB/s (23.6), weights copied and read at the EBS baseline (105.5),
        // process start 30, a compile-cache miss (214.6), routable 21: 594.7 s -> x1.25 + 60 = 803.4 -> 810 (30 s steps).
        const input0 = buildSimInput(fast, { days: 1 });
        const worst = pessimisticTotalSeconds(workerColdStart(fast, input0, 0).coldStartPhases.filter((x) => x.key !== "firstAnswer"));
        assert.strictEqual(worst, 594.7);
        assert.strictEqual(fast.serving.gateway.maxWaitSeconds, 810);
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
