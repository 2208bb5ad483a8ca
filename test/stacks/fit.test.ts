import * as assert from "assert";
import { fittingGpuTypes, idleGpuPools, idleGpuWarning, smallerVariants } from "../../stacks/catalog/fit";
import { instanceSpec } from "../../stacks/catalog/instances";
import { MODEL_CATALOG, modelSpec } from "../../stacks/catalog/models";
import { parseStackConfig } from "../../stacks/validate";
import { ConfigError } from "../../stacks/errors";
import { clone, stackConfig } from "../helpers/program";

const usEast1 = (t: string) => instanceSpec(t)?.usdPerHour["us-east-1"];

function devRaw(): Record<string, any> {
    const { "aws:region": region, ...rest } = stackConfig("dev");
    return { ...clone(rest), region, environment: "dev" };
}

function messageOf(raw: Record<string, unknown>): string {
    try {
        parseStackConfig(raw);
    } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.message;
    }
    return assert.fail("accepted");
}

describe("fittingGpuTypes", () => {
    it("orders the GPU types that fit by the price of their cheapest node", () => {
        assert.deepStrictEqual(
            fittingGpuTypes(40, usEast1).map((c) => `${c.gpuType} ${c.instanceType} ${c.usdPerHour}`),
            ["l40s g6e.xlarge 1.861", "a100-40gb p4d.24xlarge 21.96", "a100-80gb p4de.24xlarge 27.45"],
        );
        assert.deepStrictEqual(fittingGpuTypes(16, usEast1)[0].instanceType, "g6.xlarge");
    });

    it("leaves out GPU types without a price in the region", () => {
        assert.deepStrictEqual(
            fittingGpuTypes(40, (t) => (t.startsWith("g6e") ? undefined : usEast1(t))).map((c) => c.gpuType),
            ["a100-40gb", "a100-80gb"],
        );
    });
});

describe("too-big-model hint", () => {
    it("suggests the cheapest GPU that fits, not the costliest (8B model: l40s)", () => {
        const raw = devRaw();
        raw.models[0].id = "Qwen/Qwen3-VL-8B-Instruct";
        assert.match(
            messageOf(raw),
            /Fix: move it to a pool with gpuType l40s \(the cheapest GPU in the catalog with >= 40 GiB: g6e\.xlarge, 1 GPU of 48 GiB, \$1\.861\/hour on demand in us-east-1\)/,
        );
    });

    it("offers MedGemma-27B's FP8 variant on an L40S next to the only bf16 fit", () => {
        const raw = devRaw();
        raw.models[0].id = "google/medgemma-27b-it";
        assert.match(
            messageOf(raw),
            /gpuType a100-80gb \(the cheapest GPU in the catalog with >= 80 GiB: p4de\.24xlarge, 8 GPUs of 80 GiB, \$27\.45\/hour.*\), or serve 'ig1\/medgemma-27b-it-FP8-Dynamic' \(needs 40 GiB, fits l40s g6e\.xlarge at \$1\.861\/hour, with models\[\]\.revision set to the Hugging Face commit you checked \(the catalog pins none for it\)\)$/,
        );
    });

    it("accepts the FP8 variant on an l40s pool", () => {
        const raw = devRaw();
        raw.gpuPools[0] = { name: "l40s", gpuType: "l40s", maxNodes: 2 };
        raw.models[0] = { id: "ig1/medgemma-27b-it-FP8-Dynamic", pool: "l40s", scaling: { maxReplicas: 2 } };
        // The catalog pins no revision for this third-party checkpoint: the stack must.
        assert.match(messageOf(raw), /gpuserve:models\[0\]\.revision: the catalog pins no Hugging Face revision/);
        raw.models[0].revision = "0123456789abcdef0123456789abcdef01234567";
        const cfg = parseStackConfig(raw);
        assert.strictEqual(cfg.models[0].name, "medgemma-27b-fp8");
        assert.deepStrictEqual(cfg.gpuPools[0].instanceTypes, ["g6e.xlarge"]);
    });
});

describe("catalog variants", () => {
    it("links every variant to a catalog model and makes it smaller", () => {
        for (const m of Object.values(MODEL_CATALOG).filter((x) => x.variantOf)) {
            const base = modelSpec(m.variantOf!);
            assert.ok(base, `${m.id}: unknown base ${m.variantOf}`);
            assert.ok(m.minGpuMemoryGiB < base.minGpuMemoryGiB && m.weightsGiB < base.weightsGiB, m.id);
            assert.ok((m.sources ?? []).length > 0, `${m.id} cites no source for its fit`);
        }
        assert.deepStrictEqual(
            smallerVariants(modelSpec("google/medgemma-27b-it")!).map((m) => m.id),
            ["ig1/medgemma-27b-it-FP8-Dynamic"],
        );
    });
});

describe("idle GPUs per node", () => {
    const pools = [
        { name: "a100", gpusPerNode: 8, instanceTypes: ["p4de.24xlarge"] },
        { name: "a10g", gpusPerNode: 1, instanceTypes: ["g5.xlarge"] },
    ];
    it("finds pools whose node has more GPUs than their models' maxReplicas add up to", () => {
        const models = [
            { pool: "a100", scaling: { maxReplicas: 2 } },
            { pool: "a10g", scaling: { maxReplicas: 4 } },
        ];
        assert.deepStrictEqual(idleGpuPools(pools, models), [{ pool: "a100", instanceType: "p4de.24xlarge", gpusPerNode: 8, usable: 2 }]);
        assert.deepStrictEqual(idleGpuPools(pools, [{ pool: "a100", scaling: { maxReplicas: 8 } }]), []);
    });

    it("says how many GPUs idle, what they cost and the cheaper shape", () => {
        const text = idleGpuWarning(
            { pool: "a100", instanceType: "p4de.24xlarge", gpusPerNode: 8, usable: 2 },
            [modelSpec("google/medgemma-27b-it")!],
            usEast1,
            {
                usdPerMonth: 11297.83,
                totalUsdPerMonth: 12759.62,
                peakWorkers: 1,
            },
        );
        assert.strictEqual(
            text,
            "GPU pool 'a100' runs p4de.24xlarge nodes with 8 GPUs each, but its models can use at most 2 (one GPU per worker, the sum of their maxReplicas): 6 of 8 GPUs per node are always idle and paid for. " +
                "In the expected month the pool costs $11,297.83 of the stack's $12,759.62 and runs at most 1 worker. Fix: serve 'ig1/medgemma-27b-it-FP8-Dynamic' on gpuType l40s (g6e.xlarge, $1.861/hour on demand), with models[].revision set to the Hugging Face commit you checked (the catalog pins none for it).",
        );
        // A model that fits a one-GPU node: the fix is that GPU type.
        assert.match(
            idleGpuWarning({ pool: "p", instanceType: "p4d.24xlarge", gpusPerNode: 8, usable: 1 }, [modelSpec("Qwen/Qwen3-VL-8B-Instruct")!], usEast1),
            /Fix: use gpuType l40s \(g6e\.xlarge, 1 GPU per node, \$1\.861\/hour on demand\)\.$/,
        );
    });
});
