/**
 * Stack roles (docs/teams.md): which keys each role may set, the platform's registry against its
 * node groups, a team against its platform's outputs, and the outputs' own shape. Errors are
 * checked as the user sees them: the key, the value, the fix.
 */
import * as assert from "assert";
import { ConfigError } from "../../stacks/errors";
import { PLATFORM_OUTPUTS_VERSION, PlatformOutputs, parsePlatformOutputs } from "../../stacks/platformOutputs";
import { parseStackConfig } from "../../stacks/validate";
import { standaloneEquivalent } from "../../stacks/standaloneEquivalent";
import { natGatewayCount, staticCost } from "../../capacity/cost";
import { exampleRaw, platformOutputsOf, renderPlatform } from "../helpers/teams";
import { clone } from "../helpers/program";

function issuesOf(raw: Record<string, unknown>, platform?: PlatformOutputs): string[] {
    try {
        parseStackConfig(raw, platform);
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
        return e.issues.map((i) => `${i.key}: ${i.message}. Fix: ${i.fix}`);
    }
    assert.fail("config was accepted");
}

describe("stack roles", function () {
    this.timeout(60_000);
    let lab: PlatformOutputs;
    before(async () => {
        lab = platformOutputsOf(await renderPlatform());
    });

    describe("keys per role", () => {
        it("a team stack may not set what its platform owns, each named with where it belongs", () => {
            const raw = exampleRaw("biology");
            raw.network = { natGateways: "perAz" };
            raw.gpuPools = [{ name: "a10g", gpuType: "a10g", maxNodes: 4 }];
            raw.coldStart = { imageCache: "none" };
            const issues = issuesOf(raw, lab);
            assert.deepStrictEqual(issues.slice(0, 3), [
                "gpuserve:network: a team stack cannot set it: the platform's VPC serves every team. Fix: remove it from the team's stack file (set it in the platform stack's, if at all)",
                "gpuserve:gpuPools: a team stack cannot set it: the platform's GPU node groups (a team's models name one in models[].pool) serves every team. Fix: remove it from the team's stack file (set it in the platform stack's, if at all)",
                "gpuserve:coldStart.imageCache: a team stack cannot set it: the image cache is a property of the platform's GPU nodes. Fix: remove it (the platform's coldStart.imageCache applies)",
            ]);
        });

        it("a team stack names its platform, and standalone stacks take neither a platform nor teams", () => {
            const team = exampleRaw("biology");
            delete team.platformStack;
            assert.match(
                issuesOf(team, lab)[0],
                /^gpuserve:platformStack: a team stack needs its platform\. Fix: set gpuserve:platformStack: <org>\/<project>\/<platform stack>/,
            );
            const dev = exampleRaw("dev");
            dev.platformStack = "acme/gpuserve/lab";
            dev.teams = { biology: { host: "biology.lab.example.org" } };
            assert.deepStrictEqual(issuesOf(dev), [
                'gpuserve:platformStack: only a team stack sets it (this stack\'s role is "standalone"). Fix: remove it, or set gpuserve:role: team',
                'gpuserve:teams: only a platform stack registers teams (this stack\'s role is "standalone"). Fix: remove it, or set gpuserve:role: platform',
            ]);
        });

        it("refuses a malformed platformStack reference", () => {
            const raw = exampleRaw("biology");
            raw.platformStack = "lab";
            assert.ok(
                issuesOf(raw, lab).some((i) => i.startsWith('gpuserve:platformStack: must be <org>/<project>/<stack>, e.g. acme/gpuserve/lab (got "lab")')),
                issuesOf(raw, lab).join("\n"),
            );
        });
    });

    describe("the platform's registry against its node groups", () => {
        it("accepts the lab platform and its three teams", () => {
            const lab = parseStackConfig(exampleRaw("lab"));
            assert.deepStrictEqual(Object.keys(lab.teams), ["biology", "chemistry", "physics"]);
        });

        it("refuses team quotas its node groups cannot hold together, with the arithmetic and the fix", () => {
            const raw = exampleRaw("lab");
            raw.teams.chemistry.gpus = { a10g: 1, l40s: 1 };
            assert.deepStrictEqual(issuesOf(raw), [
                "gpuserve:teams: the teams' a10g quotas and shared pools (biology 2, chemistry 1) add up to 3 GPUs, but the platform's a10g node groups hold 2 (a10g: 2 nodes x 1). Fix: raise gpuserve:gpuPools[0].maxNodes to 3, or lower the teams' gpus.a10g",
            ]);
        });

        it("counts the shared pools' maxReplicas in the GPU type's capacity", () => {
            const raw = exampleRaw("lab");
            raw.teams.physics.gpus = { l4: 1 };
            assert.deepStrictEqual(issuesOf(raw), [
                "gpuserve:teams: the teams' l4 quotas and shared pools (physics 1, shared pool qwen3-vl-2b 2) add up to 3 GPUs, but the platform's l4 node groups hold 2 (l4: 2 nodes x 1). Fix: raise gpuserve:gpuPools[2].maxNodes to 3, or lower the teams' gpus.l4",
            ]);
        });

        it("refuses GPUs of a type the platform has no pool of, unknown shared pools, shared hosts and reserved namespaces", () => {
            const raw = exampleRaw("lab");
            raw.teams.biology.gpus = { a10g: 1, "a100-80gb": 1 };
            raw.teams.chemistry.sharedPools = ["medgemma-4b"];
            raw.teams.physics.host = "biology.lab.example.org";
            raw.teams.physics.namespace = "monitoring";
            const issues = issuesOf(raw);
            assert.deepStrictEqual(issues, [
                "gpuserve:teams.biology.gpus.a100-80gb: team 'biology' is given 1 a100-80gb GPU, but the platform has no a100-80gb pool (its pools: a10g (a10g), l40s (l40s), l4 (l4)). Fix: give the team GPUs of a type the platform has, or add a a100-80gb pool to gpuserve:gpuPools",
                "gpuserve:teams.chemistry.sharedPools[0]: the platform shares no pool 'medgemma-4b' (its shared pools, gpuserve:models: qwen3-vl-2b). Fix: name one of those, or add the model to the platform's gpuserve:models",
                'gpuserve:teams.physics.namespace: "monitoring" is a namespace the platform uses itself. Fix: choose another, e.g. team-physics',
                "gpuserve:teams.physics.host: host 'biology.lab.example.org' is already team 'biology''s. Fix: give every team its own host on the load balancer",
            ]);
        });
    });

    describe("a team's AWS identity", () => {
        it("a deploy role needs a permissions boundary, and a team's tags name the team", () => {
            const raw = exampleRaw("lab");
            delete raw.teams.biology.permissionsBoundaryArn;
            assert.deepStrictEqual(issuesOf(raw), [
                "gpuserve:teams.biology.permissionsBoundaryArn: team 'biology' has a deploy role but no permissions boundary: a role that may create IAM roles without one can give them, and so itself, any permission. Fix: create the boundary policy of docs/teams.md (\"The team's AWS roles\") and set its ARN here",
            ]);
            const bio = exampleRaw("biology");
            bio.tags = { team: "bio" };
            assert.deepStrictEqual(issuesOf(bio, lab), [
                `gpuserve:tags.team: is "bio", but the team is 'biology' on platform '${lab.stack}': the team's deploy role may only touch AWS resources tagged team=biology (docs/teams.md). Fix: set gpuserve:tags.team to biology`,
            ]);
        });
    });

    describe("a team against its platform", () => {
        it("adds the platform's pools, prices and add-ons, and the shared pools it uses after its own models", () => {
            const physics = parseStackConfig(exampleRaw("physics"), lab);
            assert.deepStrictEqual(
                physics.models.map((m) => [m.name, m.pool, m.shared?.namespace]),
                [["qwen3-vl-2b", "l4", "serving"]],
            );
            assert.deepStrictEqual(
                physics.gpuPools.map((p) => p.name),
                ["l4"],
                "only the pools its models run on",
            );
            assert.strictEqual(physics.serving.namespace, "physics");
            assert.strictEqual(physics.serving.domain, "physics.lab.example.org");
            const biology = parseStackConfig(exampleRaw("biology"), lab);
            assert.deepStrictEqual(
                biology.models.map((m) => [m.name, m.shared]),
                [["medgemma-1-5-4b", undefined]],
            );
            assert.strictEqual(biology.coldStart.imageCache, "snapshot", "the platform's image cache");
        });

        it("keeps the pods' disk its platform resolved for each pool (the platform's launch templates bind it or not)", () => {
            assert.deepStrictEqual(
                lab.gpuPools.map((p) => p.podStorage),
                lab.gpuPools.map(() => "volume"),
                "auto on the lab's G types",
            );
            const forced = clone(lab);
            forced.gpuPools = forced.gpuPools.map((p) => ({ ...p, podStorage: "instanceStore" as const }));
            const biology = parseStackConfig(exampleRaw("biology"), forced);
            assert.deepStrictEqual(
                biology.gpuPools.map((p) => [p.name, p.podStorage]),
                [["a10g", "instanceStore"]],
            );
            // A platform planned before the field existed: the team resolves "auto" as the platform did.
            const older = clone(lab);
            older.gpuPools = older.gpuPools.map(({ podStorage: _s, ...p }) => p);
            assert.deepStrictEqual(
                parseStackConfig(exampleRaw("biology"), older).gpuPools.map((p) => p.podStorage),
                ["volume"],
            );
        });

        it("refuses a team the platform has not registered, saying where to register it", () => {
            const raw = exampleRaw("biology");
            raw.environment = "geology";
            raw.tags = { team: "geology" };
            assert.deepStrictEqual(issuesOf(raw, lab), [
                `gpuserve:environment: team 'geology' is not registered on platform '${lab.stack}' (its teams: biology, chemistry, physics). Fix: add it to gpuserve:teams in Pulumi.${lab.stack}.yaml, e.g. geology: {host: geology.<your domain>, gpus: {a10g: 1}}, and run the platform's pulumi up (offline: npm run plan -- --stack ${lab.stack})`,
            ]);
        });

        it("refuses worker pools beyond the team's GPUs of that type, and a GPU type it has none of", () => {
            const raw = exampleRaw("biology");
            raw.models[0].scaling.maxReplicas = 3;
            raw.models.push({ id: "Qwen/Qwen3-VL-2B-Instruct", pool: "l4", scaling: { maxReplicas: 1 } });
            assert.deepStrictEqual(issuesOf(raw, lab), [
                `gpuserve:models[1].pool: pool 'l4' has l4 GPUs, and platform '${lab.stack}' gives team 'biology' none of that type (its GPUs: a10g 2). Fix: use a pool of a GPU type the team has, or add l4 GPUs to gpuserve:teams.biology.gpus in Pulumi.${lab.stack}.yaml`,
                `gpuserve:models[0].scaling.maxReplicas: the team's a10g worker pools may run 3 workers at once (medgemma-1-5-4b 3), but its quota on platform '${lab.stack}' is 2 a10g GPUs (one per worker). Fix: lower scaling.maxReplicas to fit 2, or raise gpuserve:teams.biology.gpus.a10g in Pulumi.${lab.stack}.yaml (the platform checks its node groups can hold it)`,
            ]);
        });

        it("refuses a pool the platform does not have, naming its pools", () => {
            const raw = exampleRaw("chemistry");
            raw.models[0].pool = "h100";
            assert.ok(
                issuesOf(raw, lab).includes(
                    `gpuserve:models[0].pool: platform '${lab.stack}' has no GPU pool 'h100' (its pools: a10g (a10g), l40s (l40s), l4 (l4)). Fix: set it to one of those pools; a team stack runs on its platform's node groups`,
                ),
                issuesOf(raw, lab).join("\n"),
            );
        });

        it("refuses a shared pool the platform does not share, or not with this team", () => {
            const raw = exampleRaw("biology");
            raw.sharedPools = ["qwen3-vl-2b", "llama"];
            assert.deepStrictEqual(issuesOf(raw, lab), [
                `gpuserve:sharedPools[0]: platform '${lab.stack}' shares 'qwen3-vl-2b', but not with team 'biology'. Fix: add 'qwen3-vl-2b' to gpuserve:teams.biology.sharedPools in Pulumi.${lab.stack}.yaml`,
                `gpuserve:sharedPools[1]: platform '${lab.stack}' shares no pool 'llama' (it shares: qwen3-vl-2b). Fix: name one of those, or run the model in a pool of the team's own (models: [{id, pool: <one of a10g (a10g), l40s (l40s), l4 (l4)>}])`,
            ]);
        });

        it("refuses another namespace, host or region than the platform gave the team", () => {
            const raw = exampleRaw("biology");
            raw.serving = { ...raw.serving, namespace: "bio", domain: "bio.example.org" };
            raw.region = "us-west-2";
            assert.deepStrictEqual(
                issuesOf(raw, lab).map((i) => i.split(":")[0] + ":" + i.split(":")[1]),
                [
                    'aws:region: is "us-west-2", but platform \'' + lab.stack + "' runs in us-east-1. Fix",
                    'gpuserve:serving.namespace: is "bio", but platform \'' + lab.stack + "' gave team 'biology' the namespace 'biology'. Fix",
                    'gpuserve:serving.domain: is "bio.example.org", but platform \'' +
                        lab.stack +
                        "' routes host 'biology.lab.example.org' to team 'biology'. Fix",
                ].map((s) => s.split(":")[0] + ":" + s.split(":")[1]),
            );
        });
    });

    describe("a team as a standalone stack of its own (compare's other arrangement)", () => {
        it("keeps the team's models, shared ones included, on the platform's pools as its own, with a cluster and a floor of its own", () => {
            const physics = parseStackConfig(standaloneEquivalent(exampleRaw("physics"), lab));
            assert.strictEqual(physics.role, "standalone");
            assert.deepStrictEqual(
                physics.models.map((m) => [m.name, m.pool, m.shared]),
                [["qwen3-vl-2b", "l4", undefined]],
            );
            assert.deepStrictEqual(
                physics.gpuPools.map((p) => [p.name, p.instanceTypes, p.capacityType, p.maxNodes]),
                [["l4", ["g6.xlarge"], "spot", 2]],
            );
            const own = staticCost(physics, natGatewayCount(physics));
            const onPlatform = staticCost(parseStackConfig(exampleRaw("physics"), lab), 0);
            assert.ok(own.floor.some((l) => l.item.startsWith("EKS control plane")) && !onPlatform.floor.some((l) => l.item.startsWith("EKS control plane")));
            assert.ok(own.floorUsdPerMonth > onPlatform.floorUsdPerMonth + 200, `${own.floorUsdPerMonth} vs ${onPlatform.floorUsdPerMonth}`);
        });
    });

    describe("platform outputs", () => {
        it("refuses another version, a stack that is no platform, and a broken shape, naming the source and the fix", () => {
            const check = (value: unknown, re: RegExp) =>
                assert.throws(
                    () => parsePlatformOutputs(value, "platform stack 'acme/gpuserve/lab'"),
                    (e: unknown) => e instanceof ConfigError && re.test(e.message),
                );
            check(
                undefined,
                /gpuserve:platformStack: platform stack 'acme\/gpuserve\/lab': has no 'platform' output: it is not a gpuserve platform stack, or it was never deployed\. Fix: set gpuserve:role: platform/,
            );
            check(
                { ...clone(lab), version: PLATFORM_OUTPUTS_VERSION + 1 },
                /its outputs are version 2, this program reads version 1\. Fix: run the platform's `pulumi up`/,
            );
            const broken = clone(lab) as any;
            broken.gpuPools[0].gpusPerNode = "one";
            check(broken, /output platform\.gpuPools\.0\.gpusPerNode /);
            assert.deepStrictEqual(parsePlatformOutputs(clone(lab), "x"), lab, "a platform's own outputs parse back to themselves");
        });
    });
});
