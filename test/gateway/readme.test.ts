/**
 * gateway/README.md's config table documents every field the gateway's config schema accepts
 * (gateway/src/config.ts, batch/config.ts): a field added without its row fails here.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { configSchema } from "../../gateway/src/config";

interface ZodLike {
    _zod: { def: { type: string; shape?: Record<string, ZodLike>; innerType?: ZodLike; element?: ZodLike; valueType?: ZodLike } };
}

/** Every leaf field of the schema as a path: pools[].name, limits.teams.<team>.burst, ... */
function fields(s: ZodLike, at: string, out: string[]): string[] {
    const def = s._zod.def;
    if (def.type === "object") for (const [k, v] of Object.entries(def.shape!)) fields(v, at ? `${at}.${k}` : k, out);
    else if (["optional", "default", "prefault", "nullable"].includes(def.type)) fields(def.innerType!, at, out);
    else if (def.type === "array" && ["object", "optional", "default"].includes(def.element!._zod.def.type)) fields(def.element!, `${at}[]`, out);
    else if (def.type === "record") fields(def.valueType!, `${at}.<team>`, out);
    else out.push(at);
    return out;
}

/** The rows of the README's "## Config" table: each row's backticked words. */
function configRows(): { first: string[]; all: string[] }[] {
    const text = fs.readFileSync(path.resolve(__dirname, "../../gateway/README.md"), "utf8");
    const section = text.slice(text.indexOf("## Config"), text.indexOf("\n## ", text.indexOf("## Config") + 1));
    // A record's key is written by what it names (`<team>`, `<pool>`); the schema walk calls every one `<team>`.
    const ticks = (s: string) => [...s.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/<[a-z]+>/g, "<team>"));
    return section
        .split("\n")
        .filter((l) => l.startsWith("| `"))
        .map((l) => ({ first: ticks(l.split(" | ")[0]), all: ticks(l).flatMap((t) => t.split(/[^A-Za-z0-9_]+/)) }));
}

describe("gateway/README.md config table", () => {
    it("has a row for every field of the gateway config, batch and permissions included", () => {
        const rows = configRows();
        const all = fields(configSchema, "", []);
        assert.ok(all.includes("batch.limits.teams.<team>.maxStoredBytes") && all.includes("auth.keys[].permissions"), "the walk reaches nested fields");
        const missing = all.filter((f) => {
            const cut = f.lastIndexOf(".");
            const parent = f.slice(0, cut);
            const leaf = f.slice(cut + 1);
            // A team's entry and the default share rows: `batch.limits.*.x`.
            const parents = [parent, parent.replace(/\.(default|teams\.<team>)$/, ".*")];
            return !rows.some(
                (r) =>
                    r.first.some((t) => t === f || t.startsWith(`${f} `)) ||
                    (r.first.some((t) => parents.some((p) => t === p || t.startsWith(`${p}.`))) && r.all.includes(leaf)),
            );
        });
        assert.deepStrictEqual(missing, []);
    });
});
