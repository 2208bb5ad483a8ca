/**
 * Every shipped dashboard against Grafana's own published types (@grafana/schema 13.2.3,
 * Apache-2.0, generated from the dashboard schema in grafana/grafana packages/grafana-schema):
 * the JSON is compiled as a TypeScript object literal typed `Dashboard`, and each panel's
 * `options` (and `fieldConfig.defaults.custom`) as its panel plugin's `Options` (`FieldConfig`),
 * so an unknown key, a misspelt field or a value of the wrong type is a compile error (object
 * literals get TypeScript's excess-property check). Panel types must be Grafana core panels.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { readDashboards } from "../../components/addons/monitoring";
import { ROOT } from "../helpers/program";

const SCHEMA = path.join(ROOT, "node_modules", "@grafana", "schema");

/** Core panel plugins with a published options schema: panel type -> import path of its types. */
function panelTypes(): Map<string, string> {
    const exportsMap = (JSON.parse(fs.readFileSync(path.join(SCHEMA, "package.json"), "utf8")) as { exports: Record<string, unknown> }).exports;
    const out = new Map<string, string>();
    for (const k of Object.keys(exportsMap)) {
        const m = /^\.\/dist\/esm\/raw\/composable\/([a-z0-9]+)\/panelcfg\/x\/\w+_types\.gen$/.exec(k);
        if (m) out.set(m[1], `@grafana/schema${k.slice(1)}`);
    }
    return out;
}

function exportsFieldConfig(importPath: string): boolean {
    const dir = importPath.replace("@grafana/schema/dist/esm/", "").replace(/\/[^/]+$/, "");
    return /export interface FieldConfig\b/.test(fs.readFileSync(path.join(SCHEMA, "dist", "types", dir, "types.gen.d.ts"), "utf8"));
}

/** Compile errors of the dashboard typed against Grafana's schema ([] when it conforms). */
function typeErrors(file: string, json: string): string[] {
    const d = JSON.parse(json) as { panels?: Array<{ type: string; options?: unknown; fieldConfig?: { defaults?: { custom?: unknown } } }> };
    const types = panelTypes();
    // Grafana's string enums (displayMode: BarGaugeDisplayMode...) are written as their string values in JSON.
    const lines = [
        'import type { Dashboard } from "@grafana/schema";',
        "type Json<T> = T extends string ? `${T}` : T extends Array<infer U> ? Array<Json<U>> : T extends object ? { [K in keyof T]: Json<T[K]> } : T;",
    ];
    const used = [...new Set((d.panels ?? []).map((p) => p.type))];
    used.forEach((t, i) => {
        const from = types.get(t);
        if (from) lines.push(`import type * as P${i} from "${from}";`);
    });
    lines.push(`export const dashboard: Json<Dashboard> = ${json};`);
    (d.panels ?? []).forEach((p, i) => {
        const k = used.indexOf(p.type);
        const from = types.get(p.type);
        if (!from) return;
        lines.push(`export const options${i}: Partial<Json<P${k}.Options>> = ${JSON.stringify(p.options ?? {})};`);
        if (exportsFieldConfig(from))
            lines.push(`export const custom${i}: Partial<Json<P${k}.FieldConfig>> = ${JSON.stringify(p.fieldConfig?.defaults?.custom ?? {})};`);
    });
    const virtual = path.join(ROOT, "test", "components", `__dashboard_${file.replace(/\W/g, "_")}.ts`);
    const text = lines.join("\n");
    const options: ts.CompilerOptions = {
        strict: true,
        noEmit: true,
        module: ts.ModuleKind.Node16,
        moduleResolution: ts.ModuleResolutionKind.Node16,
        target: ts.ScriptTarget.ES2022,
        skipLibCheck: true,
        types: [],
    };
    const host = ts.createCompilerHost(options);
    const read = host.readFile.bind(host);
    const getSource = host.getSourceFile.bind(host);
    host.readFile = (f) => (path.resolve(f) === virtual ? text : read(f));
    host.fileExists = (
        (exists) => (f: string) =>
            path.resolve(f) === virtual || exists(f)
    )(host.fileExists.bind(host));
    host.getSourceFile = (f, lang, ...rest) => (path.resolve(f) === virtual ? ts.createSourceFile(f, text, lang, true) : getSource(f, lang, ...rest));
    const program = ts.createProgram([virtual], options, host);
    return ts.getPreEmitDiagnostics(program).map((diag) => {
        const where = diag.file && diag.start !== undefined ? diag.file.getLineAndCharacterOfPosition(diag.start) : undefined;
        const line = where ? text.split("\n")[where.line].slice(Math.max(0, where.character - 40), where.character + 80) : "";
        return `${file}: ${ts.flattenDiagnosticMessageText(diag.messageText, "\n")}${line ? `\n    at: ${line}` : ""}`;
    });
}

describe("Grafana dashboards against Grafana's schema (@grafana/schema types)", function () {
    this.timeout(60_000);
    const dashboards = readDashboards();

    for (const [file, json] of Object.entries(dashboards)) {
        it(`${file} conforms: dashboard, panel options and field config; core panel types; panels within the 24-column grid`, () => {
            assert.deepStrictEqual(typeErrors(file, json), []);
            const d = JSON.parse(json) as {
                panels: Array<{ type: string; title: string; gridPos: { x: number; w: number }; targets?: Array<{ refId: string }> }>;
            };
            const core = panelTypes();
            for (const p of d.panels) {
                assert.ok(core.has(p.type), `${file}: panel '${p.title}' has type '${p.type}', not a core panel (${[...core.keys()].join(", ")})`);
                assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${file}: panel '${p.title}' is wider than the grid`);
                const refs = (p.targets ?? []).map((t) => t.refId);
                assert.strictEqual(new Set(refs).size, refs.length, `${file}: panel '${p.title}' repeats a refId`);
            }
        });
    }

    it("catches what Grafana would not accept (the check can fail)", () => {
        const d = JSON.parse(dashboards["serving.json"]);
        d.panels[0].options = {
            legend: { displayMode: "table", placement: "right", showLegend: true, calcs: [] },
            tooltip: { mode: "multi", sort: "desc" },
            legendd: true,
        };
        d.panels[1].fieldConfig.defaults.unitt = "short";
        d.refresh = 30;
        const errors = typeErrors("broken.json", JSON.stringify(d)).join("\n");
        assert.match(errors, /'"legendd"' does not exist/);
        assert.match(errors, /'"unitt"' does not exist/);
        assert.match(errors, /Type 'number' is not assignable to type 'string'/);
    });
});
