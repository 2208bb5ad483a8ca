import * as assert from "assert";
import { natGatewayCount, staticCost } from "../../capacity/cost";
import { ConfigError } from "../../stacks/errors";
import { INSTANCE_CATALOG, REGIONAL_PRICE_REGIONS } from "../../stacks/catalog/instances";
import { parseStackConfig } from "../../stacks/validate";
import { clone, stackConfig } from "../helpers/program";

/** A committed stack file as parseStackConfig's raw input, moved to `region`. */
function stackIn(name: "dev" | "prod", region: string): Record<string, any> {
    const { "aws:region": _region, ...rest } = stackConfig(name);
    return { ...clone(rest), region, environment: name };
}

/**
 * The (region, type) pairs the catalog leaves unpriced on purpose, as its header explains:
 * not offered there, or the only regional table we found lists P4 prices from before AWS's
 * June 2025 reduction. Any other gap is a missing price.
 */
const UNPRICED = new Set([
    "eu-west-1 g6.xlarge",
    "eu-west-1 g6e.xlarge",
    ...REGIONAL_PRICE_REGIONS.flatMap((r) => [`${r} p4d.24xlarge`, `${r} p4de.24xlarge`]),
]);

describe("regional prices (stacks/catalog/instances.ts)", () => {
    it("price every catalog type in eu-west-1, eu-central-1, eu-north-1 and ap-northeast-1, except the documented gaps", () => {
        assert.deepStrictEqual([...REGIONAL_PRICE_REGIONS], ["eu-west-1", "eu-central-1", "eu-north-1", "ap-northeast-1"]);
        for (const [type, spec] of Object.entries(INSTANCE_CATALOG)) {
            for (const region of ["us-east-1", "us-west-2", ...REGIONAL_PRICE_REGIONS]) {
                const price = spec.usdPerHour[region];
                if (UNPRICED.has(`${region} ${type}`)) assert.strictEqual(price, undefined, `${type} in ${region} should stay unpriced`);
                else assert.ok(Number.isFinite(price) && price > 0, `${type} has no price in ${region}`);
            }
        }
    });

    it("cost more outside the US than in us-east-1 for every type (a digit typed wrong shows up here)", () => {
        for (const [type, spec] of Object.entries(INSTANCE_CATALOG)) {
            const us = spec.usdPerHour["us-east-1"];
            for (const region of REGIONAL_PRICE_REGIONS) {
                const price = spec.usdPerHour[region];
                if (price === undefined) continue;
                // AWS's regional premiums for these families run from +6 % (eu-north-1) to +46 % (ap-northeast-1).
                assert.ok(price > us && price < us * 1.5, `${type} in ${region}: ${price} vs ${us} in us-east-1`);
            }
        }
    });

    it("let the dev stack validate and plan in each priced region without gpuserve:prices, and cost more than in us-east-1", () => {
        const cost = (region: string) => {
            const cfg = parseStackConfig(stackIn("dev", region));
            return staticCost(cfg, natGatewayCount(cfg));
        };
        const us = cost("us-east-1");
        assert.ok(!us.assumptions.some((a) => /use us-east-1\/us-west-2 prices/.test(a)), us.assumptions.join("\n"));
        for (const region of REGIONAL_PRICE_REGIONS) {
            const there = cost(region);
            assert.ok(there.floorUsdPerMonth > us.floorUsdPerMonth, `${region}: floor ${there.floorUsdPerMonth} vs ${us.floorUsdPerMonth}`);
            assert.ok(there.ceilingUsdPerMonth > us.ceilingUsdPerMonth, `${region}: ceiling ${there.ceilingUsdPerMonth} vs ${us.ceilingUsdPerMonth}`);
            // The non-instance lines still use US prices: the estimate says so.
            assert.ok(
                there.assumptions.some((a) => a.includes(`use us-east-1/us-west-2 prices`) && a.includes(region)),
                there.assumptions.join("\n"),
            );
        }
    });

    it("keep the clear 'no price' error where a type is not offered (prod's L40S pool in eu-west-1)", () => {
        const raw = stackIn("prod", "eu-west-1");
        assert.throws(
            () => parseStackConfig(raw),
            (e: unknown) =>
                e instanceof ConfigError &&
                /gpuserve:gpuPools\[1\]\.instanceTypes\[0\]: instance type 'g6e\.xlarge' has no price for region 'eu-west-1' \(the catalog covers ap-northeast-1, eu-central-1, eu-north-1, us-east-1, us-west-2\)\. Fix: .*gpuserve:prices\.instances\.g6e\.xlarge/.test(
                    e.message,
                ),
        );
        assert.doesNotThrow(() => parseStackConfig(stackIn("prod", "eu-central-1")));
    });
});
