/**
 * stacks/imageRef.ts against containerd's normalisation rules, as a table (the same rows run
 * against the real containerd's CRI lookup in test/components/imageCachePull.test.ts), and the
 * config keys that take an image.
 */
import * as assert from "assert";
import { ImageRefError, imageRepository, normalizeImageRef, parseImageRef } from "../../stacks/imageRef";
import { ConfigError } from "../../stacks/errors";
import { parseStackConfig } from "../../stacks/validate";
import { INVALID, NORMALIZED } from "../helpers/imageRefTable";
import { clone, stackConfig } from "../helpers/program";

describe("normalizeImageRef (containerd ParseDockerRef)", () => {
    for (const [input, expected] of NORMALIZED) {
        it(`${input} -> ${expected}`, () => {
            assert.strictEqual(normalizeImageRef(input), expected);
            // Normal form: normalizing it again changes nothing.
            assert.strictEqual(normalizeImageRef(expected), expected);
        });
    }

    for (const input of INVALID) {
        it(`refuses ${JSON.stringify(input)}`, () => {
            assert.throws(
                () => normalizeImageRef(input),
                (e: unknown) => e instanceof ImageRefError && e.ref === input && e.message.startsWith(`invalid image reference '${input}': `),
            );
        });
    }

    it("keeps the registry's case, lower-cases nothing, and names the repository", () => {
        assert.strictEqual(normalizeImageRef("Registry.Example.com:5000/team/app:v1"), "Registry.Example.com:5000/team/app:v1");
        assert.deepStrictEqual(parseImageRef("vllm/vllm-openai:v0.33.0"), { domain: "docker.io", path: "vllm/vllm-openai", tag: "v0.33.0" });
        assert.strictEqual(imageRepository("vllm/vllm-openai:v0.33.0"), "docker.io/vllm/vllm-openai");
        assert.throws(() => normalizeImageRef("x/" + "a".repeat(260)), /longer than 255/);
    });
});

describe("image config keys", () => {
    const withServing = (serving: Record<string, unknown>) => {
        const { "aws:region": region, ...rest } = clone(stackConfig("dev"));
        return () => parseStackConfig({ ...rest, region, environment: "t", serving: { ...rest.serving, ...serving } });
    };
    const rejects = (serving: Record<string, unknown>, key: string, message: RegExp) =>
        assert.throws(
            withServing(serving),
            (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.key === key && message.test(i.message)),
            `${JSON.stringify(serving)}`,
        );

    it("take any reference containerd accepts, pinned by tag or digest", () => {
        for (const vllmImage of [
            "vllm/vllm-openai:v0.33.0",
            "docker.io/vllm/vllm-openai:v0.33.0",
            "localhost:5000/vllm/vllm-openai:dev",
            `vllm/vllm-openai:v0.33.0@sha256:${"a".repeat(64)}`,
        ]) {
            assert.doesNotThrow(withServing({ vllmImage }), vllmImage);
        }
    });

    it("name the key, the value and the reason for a reference containerd refuses or one not pinned", () => {
        rejects(
            { vllmImage: "vllm/vLLM-openai:v1" },
            "gpuserve:serving.vllmImage",
            /is not an image reference containerd accepts: repository name 'vllm\/vLLM-openai' must be lower case \(got "vllm\/vLLM-openai:v1"\)/,
        );
        rejects({ uiImage: "nginxinc/nginx-unprivileged" }, "gpuserve:serving.uiImage", /must be pinned: add :<tag> or @sha256:<digest>/);
        rejects({ gateway: { image: "Registry/gw:1" } }, "gpuserve:serving.gateway.image", /upper-case letters/);
        rejects({ batch: { image: "valkey/valkey:9.1.2-alpine" } }, "gpuserve:serving.batch.image", /must be pinned by digest/);
    });
});
