/**
 * The stack's side of the per-team bill: the gateway config it writes prices each pool from the
 * plan's price table (capacity/cost.ts), bills the plan's floor, and carries the stack's budget as
 * the gateway's account.
 */
import * as assert from "assert";
import { nodeVolumeUsdPerHour } from "../../capacity/cacheCost";
import { floorNodes, natGatewayCount, poolNodePrice, staticCost } from "../../capacity/cost";
import { gatewayConfig } from "../../components/serving/gatewayConfig";
import { parseConfig } from "../../gateway/src/config";
import { HOURS_PER_MONTH } from "../../stacks/catalog/instances";
import { parseStackConfig } from "../../stacks/validate";
import { stackConfig } from "../helpers/program";

function stack(name: string, extra: Record<string, unknown> = {}) {
    const { "aws:region": region, ...rest } = stackConfig(name);
    return parseStackConfig({ ...rest, region, environment: name, ...extra });
}

describe("gateway config: the per-team bill's prices, floor and budget", () => {
    it("prices every pool at its node group's price from the plan's table, and bills the plan's floor", () => {
        for (const name of ["dev", "prod"]) {
            const cfg = stack(name);
            const g = parseConfig(gatewayConfig(cfg, undefined));
            for (const m of cfg.models) {
                const pool = cfg.gpuPools.find((p) => p.name === m.pool)!;
                const billing = g.pools.find((p) => p.name === m.name)!.billing;
                assert.deepStrictEqual(
                    billing,
                    {
                        nodePool: pool.name,
                        nodeUsdPerHour: Math.round(poolNodePrice(cfg, pool).usdPerHour * 1e6) / 1e6,
                        gpusPerNode: pool.gpusPerNode,
                        minNodes: pool.minNodes,
                        floorNodes: floorNodes(cfg, pool),
                    },
                    `${name} ${m.name}`,
                );
            }
            const floor = staticCost(cfg, natGatewayCount(cfg)).floorUsdPerMonth;
            assert.ok(Math.abs(g.billing.floorUsdPerHour * HOURS_PER_MONTH - floor) < 0.01, `${name}: ${g.billing.floorUsdPerHour} x 730 vs ${floor}`);
            assert.strictEqual(g.billing.account, undefined, "no budget: no account");
        }
        // dev: g5.xlarge spot, 60 % off $1.006, plus its root volume.
        assert.strictEqual(
            parseConfig(gatewayConfig(stack("dev"), undefined)).pools[0].billing?.nodeUsdPerHour,
            Math.round((1.006 * 0.4 + nodeVolumeUsdPerHour("g5.xlarge")) * 1e6) / 1e6,
        );
    });

    it("carries gpuserve:billing's budget as the gateway's account, named after the stack", () => {
        const g = parseConfig(gatewayConfig(stack("dev", { billing: { budgetUsdPerMonth: 300, budgetHardStop: true, floorSplit: "usage" } }), undefined));
        assert.deepStrictEqual(g.billing.account, { name: "dev", budgetUsdPerMonth: 300, budgetHardStop: true, elsewhere: [] });
        assert.strictEqual(g.billing.floorSplit, "usage");
    });
});
