/**
 * Every container image the plan emits is in the one form containerd stores and the kubelet asks
 * for (stacks/imageRef.ts normalizeImageRef), and the image-cache build pulls the workers' image
 * under exactly that string.
 */
import * as assert from "assert";
import { normalizeImageRef } from "../../stacks/imageRef";
import { isKubernetesObject, manifestOf } from "../../scripts/engine/plan";
import { StackRun, runStack, stackConfig } from "../helpers/program";

function containerImages(run: StackRun): Array<{ where: string; image: string }> {
    return run.resources
        .filter(isKubernetesObject)
        .map(manifestOf)
        .flatMap((o: any) => {
            const pod = o.spec?.template?.spec ?? o.spec?.jobTemplate?.spec?.template?.spec;
            if (!pod) return [];
            return [...(pod.initContainers ?? []), ...pod.containers].map((c: any) => ({
                where: `${o.kind} ${o.metadata.namespace}/${o.metadata.name} ${c.name}`,
                image: c.image,
            }));
        });
}

describe("container images in the plan", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: every pod's image is normalized (docker.io/..., the kubelet's lookup key), and the snapshot build pulls the workers' image string`, async () => {
            const run = await runStack(
                stackConfig(stack),
                stack === "prod"
                    ? {
                          hfToken: "hf_offlineTestTokenThatMustNeverLeak123",
                          gatewayApiKeys: JSON.stringify([{ team: "radiology", key: "radiology-key-that-must-never-leak-0123456789" }]),
                      }
                    : {},
            );
            const images = containerImages(run).filter((i) => typeof i.image === "string");
            assert.ok(images.length >= 5, JSON.stringify(images));
            const notNormal = images.filter((i) => normalizeImageRef(i.image) !== i.image);
            assert.deepStrictEqual(notNormal, []);
            const workers = images.filter((i) => /^Deployment \S+\/worker-\S+ vllm$/.test(i.where)).map((i) => i.image);
            assert.ok(workers.length > 0);
            for (const a of run.find("aws:ssm/association:Association"))
                assert.ok(workers.includes((a.inputs as any).parameters.Image), "the build pulls what the workers ask for");
        });
    }
});
