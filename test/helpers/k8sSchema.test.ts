import * as assert from "assert";
import { validateManifest, validateManifests } from "./k8sSchema";

describe("validateManifest (the schema helper itself)", () => {
    const deployment = () => ({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "default" },
        spec: {
            selector: { matchLabels: { app: "web" } },
            template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 8080 }] }] } },
        },
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
        await assert.rejects(
            validateManifest({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }),
            /no schema package for apiVersion example\.com\/v1/,
        );
        await assert.rejects(validateManifest({ apiVersion: "apps/v1", kind: "Widget", metadata: { name: "w" } }), /no schema for Widget in apps\/v1/);
    });

    it("validates CRDs: a KEDA ScaledObject without scaleTargetRef is rejected", async () => {
        await assert.rejects(
            validateManifests([{ apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "s" }, spec: { triggers: [] } }]),
            /1 invalid Kubernetes object\(s\):\nScaledObject\/s/,
        );
    });

    it("validates an IngressClassParams against the CRD of the pinned Load Balancer Controller: types, enums and unknown fields", async () => {
        const params = (spec: Record<string, unknown>) => ({ apiVersion: "elbv2.k8s.aws/v1beta1", kind: "IngressClassParams", metadata: { name: "p" }, spec });
        await validateManifest(
            params({ group: { name: "g" }, scheme: "internet-facing", loadBalancerAttributes: [{ key: "idle_timeout.timeout_seconds", value: "60" }] }),
        );
        await assert.rejects(
            validateManifest(params({ scheme: "public" })),
            /IngressClassParams\/p .*\.spec\.scheme: "public" is not one of internal, internet-facing/,
        );
        await assert.rejects(validateManifest(params({ groupName: "g" })), /\.spec\.groupName: unknown field/);
        await assert.rejects(validateManifest(params({ group: {} })), /\.spec\.group\.name: required/);
        await assert.rejects(
            validateManifest(params({ loadBalancerAttributes: [{ key: "k", value: 60 }] })),
            /\.spec\.loadBalancerAttributes\[0\]\.value: expected string, got integer/,
        );
    });
});
