/**
 * The vLLM command line the workers get, checked against the flag list extracted from
 * upstream (test/fixtures/vllm/serve-flags.json, source inside), and the memory and
 * multimodal bounds that keep a worker alive under many distinct images.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { MODEL_CATALOG } from "../../stacks/catalog/models";
import {
    VLLM_CHECKED_ONLY_IN_OLDER_COPIES,
    VLLM_ENV_NAMES,
    VLLM_FLAGS,
    VLLM_FORBIDDEN_FLAGS,
    VLLM_INTERFACE_CHECKS,
    flagsIn,
} from "../../components/serving/vllm/args";
import { STREAMER_MAX_GIB, VLLM_BASE_MEMORY_GIB, streamerLoaderConfig, workerMemory } from "../../components/serving/vllm/memory";
import { LOCAL_MODEL_DIR } from "../../components/serving/weights/fetch";
import { COMPILE_CACHE_DIRS } from "../../components/serving/vllm/coldStartPod";
import { DEFAULT_INSTANCE_TYPES, instanceSpec } from "../../stacks/catalog/instances";
import { fittingGpuTypes } from "../../stacks/catalog/fit";
import { ROOT, StackRun, prodWithA100, runStack } from "../helpers/program";

const DEPLOY = "kubernetes:apps/v1:Deployment";
const inputs = (r: { inputs: unknown }) => r.inputs as any;
const fixture = JSON.parse(fs.readFileSync(path.join(ROOT, "test/fixtures/vllm/serve-flags.json"), "utf8"));
const UPSTREAM_FLAGS = new Set<string>(Object.values(fixture.groups as Record<string, string[]>).flat());
const gib = (q: string) => {
    const m = /^(\d+(?:\.\d+)?)Gi$/.exec(q);
    assert.ok(m, `quantity ${q} is not in Gi`);
    return Number(m[1]);
};

describe("vLLM workers' command line", () => {
    let runs: Record<string, StackRun>;
    before(async function () {
        this.timeout(120_000); // renders stacks: 1-2 s of CPU each, several times that on a busy machine
        // prod with an A100 pool serves every model family (Qwen3-VL, MedGemma) on every pool shape (g5.xlarge, g6e.xlarge, p4de).
        runs = { prod: await runStack(prodWithA100()) };
    });
    const workers = () =>
        Object.entries(runs).flatMap(([stack, run]) =>
            run
                .find(DEPLOY)
                .filter((d) => inputs(d).metadata.name.startsWith("worker-"))
                .map((d) => ({ stack, name: inputs(d).metadata.name as string, spec: inputs(d).spec.template.spec })),
        );
    const arg = (c: any, flag: string) => c.args[c.args.indexOf(flag) + 1];

    it("passes only flags that exist upstream, and none that was removed", () => {
        for (const f of Object.values(VLLM_FLAGS)) assert.ok(UPSTREAM_FLAGS.has(f), `${f} is not in the upstream flag list`);
        for (const w of workers()) {
            const [c] = w.spec.containers;
            for (const f of flagsIn(c.args)) {
                assert.ok(!(f in VLLM_FORBIDDEN_FLAGS), `${w.stack}/${w.name} passes ${f}: ${VLLM_FORBIDDEN_FLAGS[f]}`);
                assert.ok(UPSTREAM_FLAGS.has(f), `${w.stack}/${w.name} passes ${f}, which vLLM does not register`);
            }
        }
        assert.ok(Object.keys(fixture._source.removed).every((f) => f in VLLM_FORBIDDEN_FLAGS));
    });

    it("has a record of where each flag and vLLM env var it passes was checked upstream, and docs/deploy.md names the ones checked only in older copies", () => {
        for (const w of workers()) {
            const [c] = w.spec.containers;
            for (const f of flagsIn(c.args)) assert.ok(f in VLLM_INTERFACE_CHECKS, `${w.name} passes ${f}, never checked against vLLM's sources`);
            for (const e of c.env.filter((x: any) => x.name.startsWith("VLLM_")))
                assert.ok(e.name in VLLM_INTERFACE_CHECKS, `${w.name} sets ${e.name}, never checked`);
        }
        for (const f of Object.values(VLLM_FLAGS)) assert.ok(f in VLLM_INTERFACE_CHECKS, f);
        const deploy = fs.readFileSync(path.join(ROOT, "docs/deploy.md"), "utf8");
        for (const f of VLLM_CHECKED_ONLY_IN_OLDER_COPIES) assert.ok(deploy.includes(`\`${f}\``), `docs/deploy.md does not name ${f}`);
    });

    it("runs `vllm serve` explicitly with the model as its positional argument", () => {
        for (const w of workers()) {
            const [c] = w.spec.containers;
            assert.deepStrictEqual(c.command, ["vllm", "serve"]);
            // The positional model: the Hub id, or the local copy of its pinned S3 copy when weights come from the bucket (vllm/coldStartPod.ts).
            const id = c.args[c.args.indexOf("--served-model-name") + 1];
            assert.ok(id in MODEL_CATALOG, `${w.name}: served model name ${id} is not a model id`);
            const fetch = (w.spec.initContainers ?? []).find((i: any) => i.name === "weights-fetch");
            if (c.args[0] === LOCAL_MODEL_DIR) {
                assert.ok(fetch, `${w.name} loads ${LOCAL_MODEL_DIR}, which no init container fills`);
                assert.strictEqual(
                    fetch.env.find((e: any) => e.name === "PREFIX").value,
                    `models/${id}/${MODEL_CATALOG[id].revision}`,
                    `${w.name} copies the pinned revision`,
                );
            } else assert.strictEqual(c.args[0], id, `${w.name}: first argument ${c.args[0]} is neither ${id} nor its local copy`);
            assert.ok(!c.args.includes("--model"));
        }
    });

    it("saves and restores exactly the compile caches vLLM leaves where we point them: its torch_compile_cache and Triton's, not Inductor's (vLLM moves it)", () => {
        let checked = 0;
        for (const w of workers()) {
            const [c] = w.spec.containers;
            const env = (name: string) => c.env.find((e: any) => e.name === name)?.value as string | undefined;
            const restore = (w.spec.initContainers ?? []).find((i: any) => i.name === "compile-cache-restore");
            if (!restore) continue;
            checked++;
            const under = (dir: string) => dir.replace(/^\/cache\//, "");
            // VLLM_CACHE_ROOT/torch_compile_cache holds vLLM's artefacts and Inductor's (vLLM sets TORCHINDUCTOR_CACHE_DIR inside it).
            assert.deepStrictEqual(
                [...COMPILE_CACHE_DIRS].sort(),
                [`${under(env("VLLM_CACHE_ROOT")!)}/torch_compile_cache`, under(env("TRITON_CACHE_DIR")!)].sort(),
            );
            assert.ok(
                !COMPILE_CACHE_DIRS.some((d) => `/cache/${d}` === env("TORCHINDUCTOR_CACHE_DIR")),
                "the directory vLLM overrides stays empty: nothing to save",
            );
            assert.ok(restore.command[2].includes(`for d in ${COMPILE_CACHE_DIRS.join(" ")}; do`));
        }
        assert.ok(checked > 0, "no worker restores a compile cache");
    });

    it("sets only vLLM environment variables that vllm/envs.py reads", () => {
        const known = new Set<string>(fixture.env.names);
        for (const n of VLLM_ENV_NAMES) assert.ok(known.has(n), n);
        for (const w of workers()) {
            for (const e of w.spec.containers[0].env.filter((x: any) => x.name.startsWith("VLLM_")))
                assert.ok(known.has(e.name), `${w.name} sets unknown ${e.name}`);
        }
    });

    it("fits both multimodal processor caches and /dev/shm inside the worker's memory limit", () => {
        for (const w of workers()) {
            const [c] = w.spec.containers;
            const cache = Number(arg(c, "--mm-processor-cache-gb"));
            assert.ok(c.args.includes("--mm-processor-cache-gb") && Number.isFinite(cache), `${w.name} leaves the cache at vLLM's default (4 GiB per process)`);
            const shm = gib(w.spec.volumes.find((v: any) => v.name === "dshm").emptyDir.sizeLimit);
            const limit = gib(c.resources.limits.memory);
            // API server and engine core each keep one cache (vLLM conserving_memory.md); tmpfs counts against the limit.
            assert.ok(VLLM_BASE_MEMORY_GIB + 2 * cache + shm <= limit, `${w.stack}/${w.name}: ${VLLM_BASE_MEMORY_GIB} + 2 x ${cache} + ${shm} > ${limit} GiB`);
        }
    });

    it("bounds the Run:ai streamer's buffer so loading fits the worker's memory limit, and never below the largest tensor", () => {
        for (const w of workers()) {
            const [c] = w.spec.containers;
            const spec = MODEL_CATALOG[c.args[c.args.indexOf("--served-model-name") + 1]];
            assert.strictEqual(arg(c, "--load-format"), "runai_streamer", `${w.name} streams its weights (prod's coldStart)`);
            const extra = JSON.parse(arg(c, "--model-loader-extra-config"));
            assert.ok(Number.isInteger(extra.memory_limit), "vLLM's loader takes only an int (runai_streamer_loader.py)");
            const buffer = extra.memory_limit / 2 ** 30;
            const shm = gib(w.spec.volumes.find((v: any) => v.name === "dshm").emptyDir.sizeLimit);
            const limit = gib(c.resources.limits.memory);
            assert.ok(
                VLLM_BASE_MEMORY_GIB + buffer + shm <= limit,
                `${w.stack}/${w.name}: loading ${VLLM_BASE_MEMORY_GIB} + ${buffer} + ${shm} > ${limit} GiB`,
            );
            assert.ok(buffer >= spec.largestTensorGiB, `${w.name}: ${buffer} GiB < the ${spec.largestTensorGiB} GiB largest tensor`);
        }
    });

    it("fits every catalog model on every instance type of every GPU type it fits: loading and serving peaks within the limit", () => {
        let checked = 0;
        for (const spec of Object.values(MODEL_CATALOG)) {
            for (const choice of fittingGpuTypes(spec.minGpuMemoryGiB, (t) => instanceSpec(t)?.usdPerHour["us-east-1"])) {
                for (const instanceType of DEFAULT_INSTANCE_TYPES[choice.gpuType]) {
                    const gpu = instanceSpec(instanceType)!.gpu!;
                    if (gpu.memoryGiB < spec.minGpuMemoryGiB) continue;
                    const m = workerMemory({ name: choice.gpuType, instanceTypes: [instanceType], gpusPerNode: gpu.count }, { id: spec.id, spec });
                    const where = `${spec.id} on ${instanceType}`;
                    assert.ok(m.peakGiB.loading <= m.limitGiB, `${where}: loading peak ${m.peakGiB.loading} > ${m.limitGiB} GiB`);
                    assert.ok(m.peakGiB.serving <= m.limitGiB, `${where}: serving peak ${m.peakGiB.serving} > ${m.limitGiB} GiB`);
                    assert.ok(
                        m.streamerBufferGiB >= spec.largestTensorGiB && m.streamerBufferGiB <= STREAMER_MAX_GIB,
                        `${where}: buffer ${m.streamerBufferGiB} GiB`,
                    );
                    assert.strictEqual(streamerLoaderConfig(m).memory_limit, Math.floor(m.streamerBufferGiB * 2 ** 30));
                    checked++;
                }
            }
        }
        assert.ok(checked >= 12, `${checked} model x instance combinations`);
        // MedGemma 1.5 4B on g5.xlarge (16 GiB): 12 GiB limit, 4 GiB buffer instead of the streamer's 40 GB default.
        const g5 = workerMemory(
            { name: "a10g", instanceTypes: ["g5.xlarge"], gpusPerNode: 1 },
            { id: "google/medgemma-1.5-4b-it", spec: MODEL_CATALOG["google/medgemma-1.5-4b-it"] },
        );
        assert.deepStrictEqual([g5.limitGiB, g5.streamerBufferGiB, g5.peakGiB.loading], [12, 4, 12]);
        // A model whose largest tensor cannot be buffered is refused with the pool, the figures and the ways out.
        const huge = { ...MODEL_CATALOG["google/medgemma-27b-it"], largestTensorGiB: 5 };
        assert.throws(
            () => workerMemory({ name: "a10g", instanceTypes: ["g5.xlarge"], gpusPerNode: 1 }, { id: huge.id, spec: huge }),
            /needs a 5 GiB buffer for its largest tensor, and a 12 GiB worker has 4 GiB left .* use an instance type with more memory per GPU or coldStart\.weights: huggingface/,
        );
    });

    it("bounds images per prompt and pixels per image per model, and turns video off where the model could take it", () => {
        const ui = JSON.parse(fs.readFileSync(path.join(ROOT, "ui/models.json"), "utf8"));
        for (const w of workers()) {
            const [c] = w.spec.containers;
            const spec = MODEL_CATALOG[c.args[c.args.indexOf("--served-model-name") + 1]];
            const limits = JSON.parse(arg(c, "--limit-mm-per-prompt"));
            const maxModelLen = Number(arg(c, "--max-model-len"));
            assert.ok(limits.image >= 1);
            if (spec.acceptsVideo) assert.strictEqual(limits.video, 0, `${w.name} accepts video nobody sends`);
            else assert.ok(!("video" in limits));
            const hint = ui.models[spec.id] ?? ui.default;
            assert.ok(hint.maxImages <= limits.image, `${w.name}: the UI may send ${hint.maxImages} images, vLLM accepts ${limits.image}`);
            if (spec.maxPixels !== undefined) {
                // The image processor resizes by size.longest_edge; a bare max_pixels is ignored (transformers#41955).
                const kwargs = JSON.parse(arg(c, "--mm-processor-kwargs"));
                assert.deepStrictEqual(kwargs, { size: { longest_edge: spec.maxPixels, shortest_edge: spec.minPixels } });
                assert.ok(hint.maxSide * hint.maxSide <= kwargs.size.longest_edge, `${w.name}: the UI's ${hint.maxSide} px images would be shrunk again`);
                assert.ok(kwargs.size.longest_edge < 16777216, "below Qwen3-VL's default bound (16,384 tokens per image)");
            } else {
                assert.ok(!c.args.includes("--mm-processor-kwargs"));
            }
            // A full prompt of images leaves at least half the context for text.
            assert.ok(
                limits.image * spec.maxImageTokens <= maxModelLen / 2,
                `${w.name}: ${limits.image} x ${spec.maxImageTokens} image tokens in ${maxModelLen}`,
            );
        }
        assert.ok(MODEL_CATALOG["google/medgemma-1.5-4b-it"].defaults.maxImagesPerPrompt > 1, "MedGemma 1.5 compares a current and a prior image");
    });
});
