import * as assert from "assert";
import { validateManifest, validateManifests } from "./k8sSchema";

describe("validateManifest (the schema helper itself)", () => {
    const deployment = () => ({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "default" },
        spec: { selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 8080 }] }] } } },
    });

    it("accepts a valid object", async () => {
        await validateManifest(deployment());
    });

    it("rejects a wrongly typed field, naming the object and the path", async () => {
        const bad = deployment() as any;
        bad.spec.template.spec.containers[0].ports[0].containerPort = "http";
        await assert.rejects(validateManifest(bad), /Deployment\/web \(apps\/v1\) fails schema validation: .*containerPort must be integer/);
    });

    it("rejects kinds it has no schema for instead of skipping them", async () => {
        await assert.rejects(validateManifest({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }), /no schema package for apiVersion example\.com\/v1/);
        await assert.rejects(validateManifest({ apiVersion: "apps/v1", kind: "Widget", metadata: { name: "w" } }), /no schema for Widget in apps\/v1/);
    });

    it("validates CRDs: a KEDA ScaledObject without scaleTargetRef is rejected", async () => {
        await assert.rejects(
            validateManifests([{ apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "s" }, spec: { triggers: [] } }]),
            /1 invalid Kubernetes object\(s\):\nScaledObject\/s/,
        );
    });
});
