/** Stack side of the explicit warm-up: key permissions reach the gateway config; the pool's cold-start estimate too. */
import * as assert from "assert";
import { parseConfig } from "../../gateway/src/config";
import { gatewayConfig, parseApiKeys } from "../../components/serving/gatewayConfig";
import { parseStackConfig } from "../../stacks/validate";
import { clone, stackConfig } from "../helpers/program";

describe("gatewayApiKeys permissions", () => {
    const dev = () => {
        const { "aws:region": region, ...rest } = clone(stackConfig("dev"));
        return parseStackConfig({ ...rest, region, environment: "dev" });
    };

    it("passes a key's warmup permission to the gateway config, and none for plain keys", () => {
        const keys = parseApiKeys(
            '[{"team":"teaching","key":"Tq8vN2xLr5KpW9mZc3Hs7BdF4gJy6QaE","permissions":["warmup"]},{"team":"students","key":"Sx3Lm9Qw2Ez7Rt5Yu8Io1Pa4Sd6Fg0Hj"}]',
        );
        const g = parseConfig(gatewayConfig(dev(), keys));
        assert.deepStrictEqual(
            g.auth?.keys.map((k) => [k.team, k.permissions]),
            [
                ["teaching", ["warmup"]],
                ["students", []],
            ],
        );
    });

    it("refuses an unknown permission, naming the entry", () => {
        assert.throws(
            () => parseApiKeys('[{"team":"t","key":"Tq8vN2xLr5KpW9mZc3Hs7BdF4gJy6QaE","permissions":["admin"]}]'),
            /gpuserve:gatewayApiKeys\[0\]\.permissions: must be a list of permissions, only "warmup" exists \(got \["admin"\]\)/,
        );
    });

    it("tells the gateway the pool's estimated cold start (what POST /v1/warmup answers at zero workers)", () => {
        const g = parseConfig(gatewayConfig(dev(), undefined));
        assert.ok(g.pools[0].coldStartSecondsEstimate > 60 && g.pools[0].coldStartSecondsEstimate < 3600, `${g.pools[0].coldStartSecondsEstimate}`);
    });
});
