/** The service model: log-normal fit, GPU scaling, documented defaults, overrides. */
import * as assert from "assert";
import { GPU_TYPES } from "../../stacks/catalog/instances";
import { MODEL_CATALOG } from "../../stacks/catalog/models";
import { defaultServiceProfile, logNormal, serviceSeconds, withOverride } from "../../capacity/sim/service";

describe("service model", () => {
    it("fits the log-normal so that z = 0 gives the median and z = 1.645 the P95", () => {
        const t = { medianSeconds: 1.8, p95Seconds: 2.2 };
        assert.ok(Math.abs(serviceSeconds(t, 0) - 1.8) < 1e-12);
        assert.ok(Math.abs(serviceSeconds(t, 1.6448536269514722) - 2.2) < 1e-9);
        assert.strictEqual(logNormal({ medianSeconds: 1, p95Seconds: 1 }).sigma, 0);
    });

    it("reproduces the published anchors on their GPU: Qwen3-VL-2B P95 0.98 s image, 0.41 s text; MedGemma 1.8 s", () => {
        const qwen = defaultServiceProfile(MODEL_CATALOG["Qwen/Qwen3-VL-2B-Instruct"], "a10g");
        assert.deepStrictEqual([qwen.image.p95Seconds, qwen.text.p95Seconds], [0.98, 0.41]);
        const medgemma = defaultServiceProfile(MODEL_CATALOG["google/medgemma-1.5-4b-it"], "a10g");
        assert.strictEqual(medgemma.image.medianSeconds, 1.8);
    });

    it("is slower on a GPU with less memory bandwidth and faster on one with more", () => {
        const spec = MODEL_CATALOG["Qwen/Qwen3-VL-2B-Instruct"];
        const a10g = defaultServiceProfile(spec, "a10g").image.medianSeconds;
        assert.ok(defaultServiceProfile(spec, "l4").image.medianSeconds > a10g);
        assert.ok(defaultServiceProfile(spec, "a100-80gb").image.medianSeconds < a10g);
    });

    it("documents a source for every catalog model on every GPU type", () => {
        for (const spec of Object.values(MODEL_CATALOG)) {
            for (const gpu of GPU_TYPES) {
                const p = defaultServiceProfile(spec, gpu);
                assert.ok(p.sources.length > 0 && p.concurrency >= 1 && p.image.medianSeconds > 0, `${spec.id} on ${gpu}`);
            }
        }
    });

    it("takes overrides field by field", () => {
        const base = defaultServiceProfile(MODEL_CATALOG["Qwen/Qwen3-VL-2B-Instruct"], "a10g");
        const o = withOverride(base, { concurrency: 3 });
        assert.strictEqual(o.concurrency, 3);
        assert.deepStrictEqual(o.image, base.image);
    });
});
