/**
 * No import cycles, and arrows that point one way (issue 27 point 11; /work/shared/style.md "Layout"): the
 * import graph of the TypeScript tree (test/structure/importGraph.ts) against two baselines of what the tree
 * had when the check was added. Both may only shrink: a new cycle or a new upward arrow fails, and so does a
 * baseline entry that no longer exists (remove it, so it cannot come back unnoticed).
 */
import * as assert from "assert";
import { ROOT } from "../helpers/program";
import { cyclePath, cycles, importGraph, layerViolation, type ImportGraph } from "./importGraph";

/**
 * Import cycles allowed: none (issue 27 point 11 broke the last ones: the cold-start and hold-time model config
 * validation needs is a leaf in stacks/model/, the resolved config types are in stacks/resolved.ts, and the
 * simulator's batch lines read only the part of its state they use). Kept as a list so the test's shape stays.
 */
const KNOWN_CYCLES: readonly (readonly string[])[] = [];

/** Upward arrows allowed (file -> file it imports): none. */
const KNOWN_UPWARD: readonly string[] = [];

const key = (files: readonly string[]) => files.join(" ");

describe("import graph", () => {
    let graph: ImportGraph;
    before(() => {
        graph = importGraph(ROOT);
    });

    it("covers the tree: the program, the gateway, the simulator, scripts, tests and the policy pack", () => {
        for (const f of [
            "index.ts",
            "gateway/src/main.ts",
            "capacity/sim/index.ts",
            "stacks/validate.ts",
            "scripts/plan.ts",
            "policy/index.ts",
            "test/structure/imports.test.ts",
        ]) {
            assert.ok(graph.has(f), `${f} is not in the graph`);
        }
        assert.ok(graph.get("index.ts")!.size > 0, "index.ts imports nothing?");
        assert.ok(graph.size > 250, `only ${graph.size} files`);
    });

    it("has no import cycle beyond the known ones (which may only shrink)", () => {
        const found = cycles(graph);
        const known = new Set(KNOWN_CYCLES.map(key));
        const fresh = found.filter((c) => !known.has(key(c)) && !KNOWN_CYCLES.some((k) => c.every((f) => k.includes(f))));
        assert.deepStrictEqual(
            fresh.map((c) => cyclePath(graph, c).join(" -> ")),
            [],
            "new import cycle(s): put what both sides need in a module both import (a leaf), or pass it in",
        );
        const now = new Set(found.map(key));
        const gone = KNOWN_CYCLES.filter((k) => !now.has(key(k)));
        assert.deepStrictEqual(
            gone.map((k) => k.join(" ")),
            [],
            `a known cycle shrank or went: write KNOWN_CYCLES in test/structure/imports.test.ts as\n${JSON.stringify(found, null, 4)}`,
        );
    });

    it("has arrows that point one way (test, scripts -> index.ts -> components -> capacity -> stacks; gateway/src and policy import only themselves)", () => {
        const upward: string[] = [];
        const why: string[] = [];
        for (const [from, tos] of graph) {
            for (const to of tos) {
                const reason = layerViolation(from, to);
                if (reason === undefined) continue;
                upward.push(`${from} -> ${to}`);
                if (!KNOWN_UPWARD.includes(`${from} -> ${to}`)) why.push(`${from} -> ${to}: ${reason}`);
            }
        }
        assert.deepStrictEqual(why, [], "new upward import(s)");
        const gone = KNOWN_UPWARD.filter((a) => !upward.includes(a));
        assert.deepStrictEqual(gone, [], "a known upward import went: remove it from KNOWN_UPWARD in test/structure/imports.test.ts");
    });
});

describe("cycles()", () => {
    const g = (edges: Record<string, string[]>): ImportGraph => new Map(Object.entries(edges).map(([k, v]) => [k, new Set(v)]));

    it("finds each strongly connected component once, sorted, and a path around it", () => {
        const graph = g({ a: ["b"], b: ["c"], c: ["a", "d"], d: ["e"], e: ["d"], f: ["a"], s: ["s"] });
        assert.deepStrictEqual(cycles(graph), [["a", "b", "c"], ["d", "e"], ["s"]]);
        assert.deepStrictEqual(cyclePath(graph, ["a", "b", "c"]), ["a", "b", "c", "a"]);
    });

    it("finds none in a tree with shared leaves", () => {
        assert.deepStrictEqual(cycles(g({ a: ["b", "c"], b: ["d"], c: ["d"], d: [] })), []);
    });
});

describe("layerViolation()", () => {
    it("allows downward arrows and refuses upward ones", () => {
        assert.strictEqual(layerViolation("components/x.ts", "stacks/y.ts"), undefined);
        assert.strictEqual(layerViolation("capacity/x.ts", "stacks/y.ts"), undefined);
        assert.strictEqual(layerViolation("components/x.ts", "gateway/src/config.ts"), undefined);
        assert.strictEqual(layerViolation("stacks/validate.ts", "capacity/sim/engine.ts"), "capacity/ is a layer above stacks/: stacks/ must not import it");
        assert.strictEqual(layerViolation("gateway/src/a.ts", "stacks/b.ts"), "gateway/src/ imports only itself");
        assert.strictEqual(layerViolation("policy/rules.ts", "components/cluster/index.ts"), "policy/ imports only itself");
        assert.strictEqual(layerViolation("scripts/bench/gateway.bench.ts", "test/fakes/vllm.ts"), undefined);
        assert.strictEqual(layerViolation("scripts/dev/workers.ts", "test/fakes/vllm.ts"), undefined);
        assert.strictEqual(layerViolation("scripts/engine/plan.ts", "test/fakes/vllm.ts"), "test/ is a layer above scripts/: scripts/ must not import it");
    });
});
