import * as assert from "assert";
import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import {
    POLICIES,
    costAllocationTags,
    gpuPoolsScaleFromZero,
    helmVersionsPinned,
    isPinnedImage,
    noOpenEndpointInProd,
    pinnedImages,
    workersRequestOneGpu,
} from "../../policy/rules";
import { ResourceRecord } from "../../scripts/engine/mocks";
import { StackRun, runStack, stackConfig } from "../helpers/program";
import { TEAMS, exampleConfig, platformOutputsOf, renderPlatform, renderTeam } from "../helpers/teams";

/** The engine's view of a planned resource, as a policy sees it. */
function argsOf(r: ResourceRecord, provider?: ResourceRecord): ResourceValidationArgs {
    return {
        type: r.type,
        props: r.inputs,
        urn: `urn:pulumi:test::gpuserve::${r.type}::${r.name}`,
        name: r.name,
        opts: {
            protect: false,
            ignoreChanges: [],
            aliases: [],
            customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
            additionalSecretOutputs: [],
        } as any,
        provider: provider ? ({ type: provider.type, props: provider.inputs, urn: `urn:${provider.name}`, name: provider.name } as any) : undefined,
        stackTags: new Map(),
    } as unknown as ResourceValidationArgs;
}

function violations(policy: ResourceValidationPolicy, args: ResourceValidationArgs): string[] {
    const out: string[] = [];
    const validate = policy.validateResource as (a: ResourceValidationArgs, report: (m: string) => void) => void;
    validate(args, (m) => out.push(m));
    return out;
}

const resource = (type: string, inputs: Record<string, unknown>): ResourceRecord => ({ type, name: "x", inputs, options: {}, custom: true });
const deployment = (container: Record<string, unknown>) =>
    resource("kubernetes:apps/v1:Deployment", { spec: { template: { spec: { containers: [{ name: "c", ...container }] } } } });

/** Every violation of every rule on a rendered stack. */
function allViolations(run: StackRun): string[] {
    const provider = run.resources.find((r) => r.type === "pulumi:providers:aws")!;
    const found: string[] = [];
    for (const r of run.resources) {
        for (const p of POLICIES)
            found.push(...violations(p, argsOf(r, r.type.startsWith("aws:") ? provider : undefined)).map((v) => `${p.name} on ${r.type} ${r.name}: ${v}`));
    }
    return found;
}

describe("policy pack", () => {
    it("passes every rule on the lab platform and its three team stacks", async function () {
        this.timeout(120_000);
        const lab = await renderPlatform();
        assert.deepStrictEqual(allViolations(lab), []);
        for (const t of TEAMS) assert.deepStrictEqual(allViolations(await renderTeam(exampleConfig(t), platformOutputsOf(lab))), [], t);
    });

    for (const stack of ["dev", "prod"]) {
        it(`passes every rule on the ${stack} plan`, async () => {
            const run = await runStack(stackConfig(stack), { gatewayApiKeys: JSON.stringify([{ team: "t", key: "0123456789abcdef0123456789abcdef" }]) });
            const provider = run.resources.find((r) => r.type === "pulumi:providers:aws")!;
            const found: string[] = [];
            for (const r of run.resources) {
                for (const p of POLICIES)
                    found.push(
                        ...violations(p, argsOf(r, r.type.startsWith("aws:") ? provider : undefined)).map((v) => `${p.name} on ${r.type} ${r.name}: ${v}`),
                    );
            }
            assert.deepStrictEqual(found, []);
        });
    }

    it("workers-request-exactly-one-gpu fails on two GPUs or a request without a limit", () => {
        assert.deepStrictEqual(
            violations(workersRequestOneGpu, argsOf(deployment({ resources: { requests: { "nvidia.com/gpu": "1" }, limits: { "nvidia.com/gpu": "1" } } }))),
            [],
        );
        assert.match(
            violations(workersRequestOneGpu, argsOf(deployment({ resources: { requests: { "nvidia.com/gpu": "2" }, limits: { "nvidia.com/gpu": "2" } } })))[0],
            /requests 2 and limits 2/,
        );
        assert.strictEqual(violations(workersRequestOneGpu, argsOf(deployment({ resources: { requests: { "nvidia.com/gpu": "1" } } }))).length, 1);
        assert.deepStrictEqual(violations(workersRequestOneGpu, argsOf(deployment({ resources: { requests: { cpu: "1" } } }))), []);
    });

    it("no-unpinned-images fails on latest and on a missing tag", () => {
        for (const image of ["nginx", "nginx:latest", "registry:5000/team/app", "ghcr.io/x/y:latest"]) {
            assert.strictEqual(isPinnedImage(image), false, image);
            assert.strictEqual(violations(pinnedImages, argsOf(deployment({ image }))).length, 1, image);
        }
        for (const image of ["vllm/vllm-openai:v0.33.0", "registry:5000/team/app:1.2", `app@sha256:${"a".repeat(64)}`])
            assert.strictEqual(isPinnedImage(image), true, image);
    });

    it("gpu-node-groups-scale-from-zero fails on warm GPU nodes without a reason", () => {
        const ng = (minSize: number, tags?: Record<string, string>) =>
            argsOf(resource("aws:eks/nodeGroup:NodeGroup", { amiType: "AL2023_x86_64_NVIDIA", scalingConfig: { minSize }, tags }));
        assert.strictEqual(violations(gpuPoolsScaleFromZero, ng(1)).length, 1);
        assert.deepStrictEqual(violations(gpuPoolsScaleFromZero, ng(1, { "gpuserve.io/min-nodes-reason": "clinic SLO" })), []);
        assert.deepStrictEqual(violations(gpuPoolsScaleFromZero, ng(0)), []);
    });

    it("helm-releases-pin-a-version fails on a range or no version", () => {
        for (const version of ["^2.0.0", "2.x", undefined, ""])
            assert.strictEqual(
                violations(helmVersionsPinned, argsOf(resource("kubernetes:helm.sh/v3:Release", { chart: "keda", version }))).length,
                1,
                String(version),
            );
        assert.deepStrictEqual(violations(helmVersionsPinned, argsOf(resource("kubernetes:helm.sh/v3:Release", { chart: "keda", version: "2.20.2" }))), []);
    });

    it("no-public-eks-endpoint-open-to-the-world-in-prod fails only for production clusters", () => {
        const cluster = (production: boolean, cidrs: string[]) =>
            argsOf(
                resource("eks:index:Cluster", {
                    clusterTags: { "gpuserve.io/production": String(production) },
                    endpointPublicAccess: true,
                    publicAccessCidrs: cidrs,
                }),
            );
        assert.strictEqual(violations(noOpenEndpointInProd, cluster(true, ["0.0.0.0/0"])).length, 1);
        assert.deepStrictEqual(violations(noOpenEndpointInProd, cluster(true, ["203.0.113.0/24"])), []);
        assert.deepStrictEqual(violations(noOpenEndpointInProd, cluster(false, ["0.0.0.0/0"])), []);
    });

    it("cost-allocation-tags fails when neither the resource nor its provider carries team and environment", () => {
        const provider = (tags: Record<string, string>) => resource("pulumi:providers:aws", { defaultTags: JSON.stringify({ tags }) });
        const vpc = resource("aws:ec2/vpc:Vpc", { tags: { Name: "x" } });
        assert.match(violations(costAllocationTags, argsOf(vpc, provider({ project: "gpuserve" })))[0], /missing cost-allocation tag\(s\) team, environment/);
        assert.deepStrictEqual(violations(costAllocationTags, argsOf(vpc, provider({ project: "gpuserve", team: "a", environment: "dev" }))), []);
        assert.strictEqual(violations(costAllocationTags, argsOf(provider({}))).length, 1);
    });
});
