/**
 * Records the key skeleton of each pinned chart's values.yaml (from the reference copies
 * in ../shared/reference/charts) into test/fixtures/chart-keys/<chart>.json, so tests can
 * check that every value we set exists in the chart: Helm silently ignores unknown keys.
 * Run again after bumping a chart version in components/addons/versions.ts:
 *   npx tsx scripts/chart-keys.ts [<charts dir>]
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

/** "map" = object with known keys (recursed); "open" = {} free-form map; "list"; "scalar". */
export type KeyKind = "map" | "open" | "list" | "scalar";

export function skeleton(value: unknown, prefix = "", out: Record<string, KeyKind> = {}): Record<string, KeyKind> {
    for (const [k, v] of Object.entries((value ?? {}) as Record<string, unknown>)) {
        const p = prefix ? `${prefix}.${k}` : k;
        if (Array.isArray(v)) out[p] = "list";
        else if (v && typeof v === "object") {
            if (Object.keys(v).length === 0) out[p] = "open";
            else {
                out[p] = "map";
                skeleton(v, p, out);
            }
        } else out[p] = "scalar";
    }
    return out;
}

if (require.main === module) {
    const root = path.resolve(__dirname, "..");
    const chartsDir = path.resolve(process.argv[2] ?? path.join(root, "..", "shared", "reference", "charts"));
    const outDir = path.join(root, "test", "fixtures", "chart-keys");
    fs.mkdirSync(outDir, { recursive: true });
    for (const chart of fs.readdirSync(chartsDir).filter((d) => fs.existsSync(path.join(chartsDir, d, "values.yaml")))) {
        const chartYaml = parse(fs.readFileSync(path.join(chartsDir, chart, "Chart.yaml"), "utf8")) as { version: string };
        const keys = skeleton(parse(fs.readFileSync(path.join(chartsDir, chart, "values.yaml"), "utf8")));
        fs.writeFileSync(path.join(outDir, `${chart}.json`), JSON.stringify({ chart, version: chartYaml.version, keys }, null, 1) + "\n");
        console.log(`${chart} ${chartYaml.version}: ${Object.keys(keys).length} keys`);
    }
}
