/**
 * What the per-team bill gets in the platform/team arrangement (the lab example): a team's gateway
 * prices only its own pools (a shared pool's upstream is the shared gateway, which bills it), bills
 * its keys an equal part of the platform's floor plus its own, carries its budgets; the platform's
 * shared gateway prices the shared pools and bills no floor; each stack's cost rules are its own
 * namespace's.
 */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { floorUsdPerHour, gatewayConfig } from "../../components/serving/gatewayConfig";
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
        raw.serving.gateway.limits.teams["physics-staff"] = { ...raw.serving.gateway.limits.teams["physics-staff"], budgetUsdPerMonth: 50, budgetHardStop: true };
        const cfg = parseStackConfig(raw, platform);
        const g = parseConfig(gatewayConfig(cfg, [{ team: "physics-staff", key: "physics-staff-key-0123456789abcdefghij" }], placementGatewayOptions(teamPlacement(platform), platform.loadBalancerSourceCidrs)));
        const shared = g.pools.find((p) => p.name === "qwen3-vl-2b")!;
        assert.strictEqual(shared.billing, undefined, "the shared pool is billed by the platform's shared gateway");
        const teams = Object.keys(platform.teams).length;
        assert.ok(Math.abs(g.billing.floorUsdPerHour - (floorUsdPerHour(cfg) + platform.floorUsdPerMonth / HOURS_PER_MONTH / teams)) < 1e-6, `floor ${g.billing.floorUsdPerHour}`);
        assert.deepStrictEqual([g.limits.teams["physics-staff"].budgetUsdPerMonth, g.limits.teams["physics-staff"].budgetHardStop], [50, true]);

        const bio = parseStackConfig(exampleRaw("biology"), platform);
        const gb = parseConfig(gatewayConfig(bio, undefined, placementGatewayOptions(teamPlacement(platform), platform.loadBalancerSourceCidrs)));
        const own = gb.pools.find((p) => p.models.includes("google/medgemma-1.5-4b-it"))!;
        assert.deepStrictEqual(own.billing, { nodePool: "a10g", nodeUsdPerHour: 1.006 * 0.4, gpusPerNode: 1, minNodes: 0, floorNodes: 0 });
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
