/** docs/config.md's key table is generated from stacks/schema.ts and must match it (scripts/engine/configReference.ts). */
import * as assert from "assert";
import * as fs from "fs";
import {
    CONFIG_DOC,
    ConfigReferenceError,
    REGENERATE,
    generatedBlock,
    keyRows,
    readKeyDocs,
    tagLiteral,
    typeText,
    withGeneratedBlock,
} from "../../scripts/engine/configReference";
import { CONFIG_KEYS } from "../../stacks/schema";

describe("config reference (docs/config.md)", function () {
    this.timeout(60000);
    // The TypeScript program is built once for the file (about a second).
    const docs = readKeyDocs();

    it("is in sync with stacks/schema.ts and stacks/catalog/", () => {
        const committed = fs.readFileSync(CONFIG_DOC, "utf8");
        const fresh = withGeneratedBlock(committed, generatedBlock(keyRows(docs)));
        if (fresh !== committed) {
            const a = committed.split("\n");
            const b = fresh.split("\n");
            const i = a.findIndex((l, n) => l !== b[n]);
            assert.fail(
                `docs/config.md is out of date with stacks/schema.ts (first difference at line ${i + 1}:\n  committed: ${a[i]}\n  generated: ${b[i]}).\nRun \`${REGENERATE}\` and commit docs/config.md.`,
            );
        }
    });

    it("has a row with a description for every config key, nested keys included", () => {
        const rows = keyRows(docs);
        const keys = rows.map((r) => r.key);
        for (const k of CONFIG_KEYS) assert.ok(keys.includes(k), `no row for ${k}`);
        assert.ok(keys.includes("aws:region"));
        for (const k of [
            "gpuPools[].capacityType",
            "models[].scaling.warmWindows[].start",
            "traffic.service.<name>.image.p95Seconds",
            "addons.prometheus.retention",
            "serving.batch.maxFileBytes",
        ]) {
            assert.ok(keys.includes(k), `no row for ${k}`);
        }
        for (const r of rows) assert.ok(r.meaning.length >= 10, `${r.key}: description '${r.meaning}' is too short`);
    });

    it("takes defaults from the schema, JSDoc where the default is computed, and marks required keys", () => {
        const row = (k: string) => {
            const r = keyRows(docs).find((x) => x.key === k);
            assert.ok(r, `no row ${k}`);
            return r;
        };
        assert.deepStrictEqual(row("gpuPools[].capacityType"), {
            key: "gpuPools[].capacityType",
            type: "one of `spot`, `on-demand`",
            default: "`spot`",
            meaning: "Spot is 50-70 % cheaper but can be reclaimed with 2 minutes' notice.",
        });
        assert.strictEqual(row("gpuPools[].maxNodes").default, "**required**");
        assert.strictEqual(row("gpuPools[].maxNodes").type, "integer > 0");
        assert.strictEqual(row("environment").default, "the stack name");
        assert.strictEqual(row("serving.batch.maxFileBytes").default, "`209715200` (200 MiB)");
        assert.strictEqual(row("traffic.hourly[].rates").type, "list of number >= 0 (exactly 24)");
        assert.strictEqual(row("traffic.classroom.sessionsPerDay").default, "`[2,4]`");
        assert.strictEqual(row("network").default, "see its keys");
    });

    it("names every key without a description, and where to write it", () => {
        const partial = new Map(docs);
        partial.delete("gpuPools[].ami");
        partial.set("cluster.version", { text: "" });
        assert.throws(
            () => keyRows(partial),
            (e: unknown) =>
                e instanceof ConfigReferenceError &&
                assert.deepStrictEqual(e.problems, [
                    "cluster.version: no description; write a JSDoc comment above it in stacks/schema.ts",
                    "gpuPools[].ami: no description; write a JSDoc comment above it in stacks/schema.ts",
                ]) === undefined,
        );
    });

    it("refuses a @default tag that contradicts the schema's default", () => {
        const drift = new Map(docs);
        drift.set("models[].scaling.maxReplicas", { text: "Most replicas.", defaultTag: "8" });
        drift.set("gpuPools[].capacityType", { text: "Spot or on-demand.", defaultTag: '"on-demand"' });
        assert.throws(
            () => keyRows(drift),
            (e: unknown) =>
                e instanceof ConfigReferenceError &&
                assert.deepStrictEqual(e.problems, [
                    `gpuPools[].capacityType: its JSDoc says @default "on-demand" but the schema's default is "spot"; correct the comment in stacks/schema.ts`,
                    `models[].scaling.maxReplicas: its JSDoc says @default 8 but the schema's default is 4; correct the comment in stacks/schema.ts`,
                ]) === undefined,
        );
    });

    it("reads a literal at the start of a @default tag, and nothing else", () => {
        assert.deepStrictEqual(tagLiteral("200"), { value: 200, rest: "" });
        assert.deepStrictEqual(tagLiteral('"1-5"'), { value: "1-5", rest: "" });
        assert.deepStrictEqual(tagLiteral("30 (OpenAI's default)"), { value: 30, rest: "(OpenAI's default)" });
        assert.deepStrictEqual(tagLiteral('["api","audit"]'), { value: ["api", "audit"], rest: "" });
        assert.strictEqual(tagLiteral("the catalog's short name"), undefined);
    });

    it("writes types a reader understands", () => {
        assert.strictEqual(typeText({ type: "integer", minimum: 0, maximum: 9007199254740991 }), "integer >= 0");
        assert.strictEqual(typeText({ type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1 }), "number > 0, < 1");
        assert.strictEqual(typeText({ type: "array", items: { type: "string" }, minItems: 2 }), "list of string (at least 2)");
        assert.strictEqual(typeText({ type: "object", additionalProperties: { type: "number" } }), "map of name to number");
        assert.strictEqual(typeText({ type: "string", enum: ["a", "b"] }), "one of `a`, `b`");
    });

    it("replaces only the generated block", () => {
        const text = "intro\n\n<!-- generated by `npm run docs:config` x -->\nold\n<!-- end of generated block -->\n\nafter\n";
        assert.strictEqual(withGeneratedBlock(text, "NEW"), "intro\n\nNEW\n\nafter\n");
    });
});
