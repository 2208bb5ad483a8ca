/**
 * What the per-team bill gets in the platform/team arrangement (the lab example): a team's gateway
 * prices only its own pools (a shared pool's upstream is the shared gateway, which bills it), bills
 * its keys an equal part of the platform's floor plus its own, carries its budgets; the platform's
 * shared gateway prices the shared pools and bills no floor; each stack's cost rules are its own
 * namespace's.
 */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { nodeVolumeUsdPerHour } from "../../capacity/cacheCost";
import { SHARED_POOL_KEY_ENV, floorUsdPerHour, gatewayConfig } from "../../components/serving/gatewayConfig";
import { placementGatewayOptions } from "../../components/serving";
import { sharedPlacement } from "../../components/platform";
import { teamPlacement } from "../../components/team";
import { parseConfig } from "../../gateway/src/config";
import { HOURS_PER_MONTH } from "../../stacks/catalog/instances";
import type { PlatformOutputs } from "../../stacks/platformOutputs";
import { parseStackConfig } from "../../stacks/validate";
import { exampleRaw, platformOutputsOf, renderPlatform } from "../helpers/teams";

describe("per-team bills on a platform (lab and its teams)", function () {
    this.timeout(120_000);
    let platform: PlatformOutputs;
    before(async () => {
        platform = platformOutputsOf(await renderPlatform());
    });

    it("a team's gateway prices its own pools only, bills an equal part of the platform's floor, and carries its budgets", () => {
        const raw = exampleRaw("physics");
        raw.serving.gateway.limits.teams["physics-staff"] = {
            ...raw.serving.gateway.limits.teams["physics-staff"],
            budgetUsdPerMonth: 50,
            budgetHardStop: true,
        };
        const cfg = parseStackConfig(raw, platform);
        const g = parseConfig(
            gatewayConfig(
                cfg,
                [{ team: "physics-staff", key: "physics-staff-key-0123456789abcdefghij" }],
                placementGatewayOptions(teamPlacement(platform), platform.loadBalancerSourceCidrs),
            ),
        );
        const shared = g.pools.find((p) => p.name === "qwen3-vl-2b")!;
        assert.strictEqual(shared.billing, undefined, "the shared pool is billed by the platform's shared gateway");
        const teams = Object.keys(platform.teams).length;
        assert.ok(
            Math.abs(g.billing.floorUsdPerHour - (floorUsdPerHour(cfg) + platform.floorUsdPerMonth / HOURS_PER_MONTH / teams)) < 1e-6,
            `floor ${g.billing.floorUsdPerHour}`,
        );
        assert.deepStrictEqual([g.limits.teams["physics-staff"].budgetUsdPerMonth, g.limits.teams["physics-staff"].budgetHardStop], [50, true]);

        const bio = parseStackConfig(exampleRaw("biology"), platform);
        const gb = parseConfig(gatewayConfig(bio, undefined, placementGatewayOptions(teamPlacement(platform), platform.loadBalancerSourceCidrs)));
        const own = gb.pools.find((p) => p.models.includes("google/medgemma-1.5-4b-it"))!;
        // g5.xlarge spot, 60 % off $1.006, plus its root volume (capacity/cost.ts poolNodePrice).
        assert.deepStrictEqual(own.billing, {
            nodePool: "a10g",
            nodeUsdPerHour: Math.round((1.006 * 0.4 + nodeVolumeUsdPerHour("g5.xlarge")) * 1e6) / 1e6,
            gpusPerNode: 1,
            minNodes: 0,
            floorNodes: 0,
        });
    });

    it("a team stack's budget counts what the shared gateway bills it (read from its GET /v1/usage with the team's key there)", () => {
        const raw = exampleRaw("physics");
        raw.billing = { budgetUsdPerMonth: 40 };
        const cfg = parseStackConfig(raw, platform);
        const g = parseConfig(gatewayConfig(cfg, undefined, placementGatewayOptions(teamPlacement(platform), platform.loadBalancerSourceCidrs)));
        const sharedPool = platform.sharedPools.find((p) => p.name === "qwen3-vl-2b")!;
        assert.deepStrictEqual(g.billing.account, {
            name: "physics",
            budgetUsdPerMonth: 40,
            budgetHardStop: false,
            elsewhere: [{ url: `http://${sharedPool.gateway}`, apiKeyEnv: SHARED_POOL_KEY_ENV }],
        });
        // The key it reads with is the one the team's gateway already sends to the shared pool.
        assert.strictEqual(g.pools.find((p) => p.name === "qwen3-vl-2b")!.upstreamApiKeyEnv, SHARED_POOL_KEY_ENV);
        // Biology uses no shared pool: its account is its own gateway's alone.
        const bioRaw = exampleRaw("biology");
        bioRaw.billing = { budgetUsdPerMonth: 400, budgetHardStop: true };
        const bio = parseConfig(
            gatewayConfig(parseStackConfig(bioRaw, platform), undefined, placementGatewayOptions(teamPlacement(platform), platform.loadBalancerSourceCidrs)),
        );
        assert.deepStrictEqual(bio.billing.account, { name: "biology", budgetUsdPerMonth: 400, budgetHardStop: true, elsewhere: [] });
    });

    it("the platform's shared gateway prices the shared pool and bills no floor (the teams' gateways do)", () => {
        const lab = parseStackConfig(exampleRaw("lab"));
        const place = sharedPlacement(lab, pulumi.output([]));
        const g = parseConfig(gatewayConfig(lab, [{ team: "physics", key: "physics-shared-key-0123456789abcdefghijklmn" }], placementGatewayOptions(place)));
        assert.strictEqual(g.billing.floorUsdPerHour, 0);
        const pool = g.pools.find((p) => p.name === "qwen3-vl-2b")!;
        assert.strictEqual(pool.billing?.nodePool, "l4");
    });

    it("refuses a budget on the platform's shared limits (a team's budget is its own stack's)", () => {
        const raw = exampleRaw("lab");
        raw.teams.physics.sharedLimits = { ...raw.teams.physics.sharedLimits, budgetUsdPerMonth: 10 };
        assert.throws(() => parseStackConfig(raw), /teams\.physics\.sharedLimits\.budgetUsdPerMonth/);
    });
});
