/** Config errors in the program's own words (stacks/issueText.ts), with the key and a fix, and examples for missing inputs. */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { buildTrace } from "../../capacity/traffic";
import { parseApiKeys } from "../../components/serving/gatewayConfig";
import { stackConfigFromFile } from "../../scripts/engine/stackFile";
import { ConfigError, ConfigIssue } from "../../stacks/errors";
import { parseStackConfig } from "../../stacks/validate";
import { ROOT } from "../helpers/program";

const base = () => ({
    region: "us-east-1",
    environment: "t",
    tags: { team: "radiology" },
    gpuPools: [{ name: "a10g", gpuType: "a10g", maxNodes: 2 }],
    models: [{ id: "Qwen/Qwen3-VL-2B-Instruct", pool: "a10g" }],
});

function issues(raw: Record<string, unknown>): ConfigIssue[] {
    try {
        parseStackConfig(raw);
    } catch (e) {
        if (e instanceof ConfigError) return [...e.issues];
        throw e;
    }
    return assert.fail("no error");
}

describe("config errors in the program's own words", () => {
    it("says what a number must be, with the key, the value and what to set, never zod's 'Too small: expected number to be >0'", () => {
        const raw = base();
        raw.gpuPools[0].maxNodes = 0;
        Object.assign(raw, { prices: { spotDiscount: 0.99 }, traffic: { rateScale: 0 }, cluster: { logRetentionDays: 1.5 } });
        const got = issues(raw).map((i) => `${i.key}: ${i.message}. Fix: ${i.fix}`);
        assert.deepStrictEqual(got.sort(), [
            "gpuserve:cluster.logRetentionDays: must be a whole number (got 1.5). Fix: write a whole number",
            "gpuserve:gpuPools[0].maxNodes: must be a whole number, at least 1 (got 0). Fix: set it to 1 or more",
            "gpuserve:prices.spotDiscount: must be at most 0.95 (got 0.99). Fix: set it to 0.95 or less",
            "gpuserve:traffic.rateScale: must be more than 0 (got 0). Fix: set it above 0",
        ]);
        for (const g of got) assert.doesNotMatch(g, /Too (small|big)|Invalid input|expected number/);
    });

    it("words lists, text and types, and keeps the schema's own messages", () => {
        const raw = base();
        Object.assign(raw, {
            cluster: { endpointPublicAccessCidrs: [] },
            gpuPools: [{ name: "a10g", gpuType: "a10g", maxNodes: 2, minNodesReason: "short" }],
            production: "yes",
            traffic: { profile: "hourly", hourly: [{ rates: [1, 2] }] },
        });
        const byKey = Object.fromEntries(issues(raw).map((i) => [i.key, `${i.message}. Fix: ${i.fix}`]));
        assert.strictEqual(byKey["gpuserve:cluster.endpointPublicAccessCidrs"], "must list at least 1 entry (got []). Fix: add entries until there are 1");
        assert.strictEqual(
            byKey["gpuserve:gpuPools[0].minNodesReason"],
            'must be at least 10 characters long (got "short"). Fix: write at least 10 characters',
        );
        assert.strictEqual(byKey["gpuserve:production"], 'must be true or false (got "yes"). Fix: write true or false');
        // The schema's own words stay: "must list 24 hourly rates (hours 0..23)".
        assert.match(byKey["gpuserve:traffic.hourly[0].rates"], /^must list 24 hourly rates \(hours 0\.\.23\)/);
    });

    it("shows an example for traffic.csvFile and traffic.hourly, and the example files exist", () => {
        const csv = issues({ ...base(), traffic: { profile: "csv" } });
        assert.strictEqual(csv.length, 1);
        assert.match(csv[0].fix, /timestamp,kind\[,model\].*csvFile: examples\/traffic\/arrivals\.csv.*examples\/Pulumi\.csv-trace\.yaml/);
        const hourly = issues({ ...base(), traffic: { profile: "hourly" } });
        assert.match(hourly[0].fix, /rates: \[0, 0, .*\]\}\]\}; see examples\/Pulumi\.hourly\.yaml/);
        for (const f of ["examples/traffic/arrivals.csv", "examples/Pulumi.csv-trace.yaml", "examples/Pulumi.hourly.yaml"])
            assert.ok(fs.existsSync(path.join(ROOT, f)), f);
    });

    it("suggests the API-key command with the stack's own team, and a key made by openssl", () => {
        assert.throws(
            () => parseApiKeys("nope", "cardiology"),
            (e: Error) =>
                /Fix: pulumi config set --secret gatewayApiKeys "\[\{\\"team\\":\\"cardiology\\",\\"key\\":\\"\$\(openssl rand -base64 32\)\\"\}\]"$/.test(
                    e.message,
                ),
        );
    });
});

describe("examples/: traffic from a recorded trace or an hourly table", () => {
    const EXAMPLES = path.join(ROOT, "examples");

    it("reads the example CSV trace (comments and a header before the data) as a week of classes in the stack's time zone", () => {
        const cfg = stackConfigFromFile(EXAMPLES, "csv-trace", "gpuserve");
        const trace = buildTrace(cfg.traffic, cfg.models, { days: 7, timezone: cfg.timezone, root: ROOT });
        const lines = fs
            .readFileSync(path.join(ROOT, "examples/traffic/arrivals.csv"), "utf8")
            .split("\n")
            .filter((l) => /^\d{4}-/.test(l));
        assert.strictEqual(trace.times.length, lines.length, "every data line is a request");
        // 2026-03-02T08:00Z is 09:00 in Berlin: the first request is in the first class, on day 0 (a Monday).
        assert.ok(trace.times[0] >= 9 * 3600 && trace.times[0] < 9 * 3600 + 600, `first request at ${trace.times[0]} s`);
        assert.strictEqual(trace.startWeekday, 1);
    });

    it("builds the hourly example's rates: weekday peaks, a quiet Saturday, nothing at night", () => {
        const cfg = stackConfigFromFile(EXAMPLES, "hourly", "gpuserve");
        const trace = buildTrace(cfg.traffic, cfg.models, { days: 7, timezone: cfg.timezone, root: ROOT, startWeekday: 1 });
        const hourOf = (t: number) => Math.floor((t % 86400) / 3600);
        const night = [...trace.times].filter((t) => hourOf(t) < 7 || hourOf(t) >= 20);
        assert.deepStrictEqual(night, []);
        const weekday = [...trace.times].filter((t) => t < 5 * 86400).length;
        const saturday = [...trace.times].filter((t) => t >= 5 * 86400 && t < 6 * 86400).length;
        assert.ok(weekday > 2000 && saturday > 0 && saturday < weekday / 50, `weekdays ${weekday}, Saturday ${saturday}`);
    });
});
