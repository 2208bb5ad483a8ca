/**
 * The import graph of the TypeScript tree (the files of tsconfig.json and policy/tsconfig.json), built with
 * the TypeScript compiler's own parser and module resolution: static imports and re-exports (type-only ones
 * too: a type import is still an arrow between two concerns), `import("...")` and `require("...")`. Only
 * files of this repository are nodes; packages are left out.
 */
import * as path from "path";
import ts from "typescript";

/** A file path relative to the repository, with "/". */
export type RepoPath = string;

/** Every file of the tree and the repository files it imports. */
export type ImportGraph = ReadonlyMap<RepoPath, ReadonlySet<RepoPath>>;

function projectFiles(root: string, tsconfig: string): { files: string[]; options: ts.CompilerOptions } {
    const file = path.join(root, tsconfig);
    const read = ts.readConfigFile(file, (p) => ts.sys.readFile(p));
    if (read.error) throw new Error(`${tsconfig}: ${ts.flattenDiagnosticMessageText(read.error.messageText, "\n")}`);
    const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, path.dirname(file));
    return { files: parsed.fileNames, options: parsed.options };
}

/** The module specifiers a file imports, by the compiler's pre-processor (no type check, so it is fast). */
function specifiers(text: string): string[] {
    const info = ts.preProcessFile(text, true, true);
    return info.importedFiles.map((f) => f.fileName);
}

/** The import graph of the projects given (tsconfig paths relative to root). */
export function importGraph(root: string, tsconfigs: readonly string[] = ["tsconfig.json", "policy/tsconfig.json"]): ImportGraph {
    const rel = (f: string): RepoPath => path.relative(root, f).split(path.sep).join("/");
    const graph = new Map<RepoPath, Set<RepoPath>>();
    for (const tsconfig of tsconfigs) {
        const { files, options } = projectFiles(root, tsconfig);
        for (const file of files) {
            if (file.includes("/node_modules/") || graph.has(rel(file))) continue;
            const to = new Set<RepoPath>();
            for (const spec of specifiers(ts.sys.readFile(file) ?? "")) {
                const resolved = ts.resolveModuleName(spec, file, options, ts.sys).resolvedModule;
                if (!resolved || resolved.isExternalLibraryImport || resolved.resolvedFileName.includes("/node_modules/")) continue;
                to.add(rel(resolved.resolvedFileName));
            }
            graph.set(rel(file), to);
        }
    }
    return graph;
}

/**
 * The graph's import cycles, as its strongly connected components of more than one file (or a file that
 * imports itself), each sorted, the list sorted by its first file (Tarjan's algorithm, iterative).
 */
export function cycles(graph: ImportGraph): RepoPath[][] {
    const index = new Map<RepoPath, number>();
    const low = new Map<RepoPath, number>();
    const onStack = new Set<RepoPath>();
    const stack: RepoPath[] = [];
    const out: RepoPath[][] = [];
    let next = 0;
    for (const start of [...graph.keys()].sort()) {
        if (index.has(start)) continue;
        const work: { node: RepoPath; edges: RepoPath[]; i: number }[] = [];
        const enter = (node: RepoPath) => {
            index.set(node, next);
            low.set(node, next);
            next++;
            stack.push(node);
            onStack.add(node);
            work.push({ node, edges: [...(graph.get(node) ?? [])].sort(), i: 0 });
        };
        enter(start);
        while (work.length > 0) {
            const top = work[work.length - 1];
            if (top.i < top.edges.length) {
                const to = top.edges[top.i++];
                if (!graph.has(to)) continue;
                if (!index.has(to)) enter(to);
                else if (onStack.has(to)) low.set(top.node, Math.min(low.get(top.node)!, index.get(to)!));
                continue;
            }
            work.pop();
            if (work.length > 0) {
                const parent = work[work.length - 1].node;
                low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
            }
            if (low.get(top.node) === index.get(top.node)) {
                const component: RepoPath[] = [];
                let n: RepoPath;
                do {
                    n = stack.pop()!;
                    onStack.delete(n);
                    component.push(n);
                } while (n !== top.node);
                if (component.length > 1 || graph.get(top.node)?.has(top.node)) out.push(component.sort());
            }
        }
    }
    return out.sort((a, b) => a[0].localeCompare(b[0]));
}

/** One import path around a cycle, for the failure message: a -> b -> ... -> a (breadth-first, shortest). */
export function cyclePath(graph: ImportGraph, component: readonly RepoPath[]): RepoPath[] {
    const inside = new Set(component);
    const start = component[0];
    const from = new Map<RepoPath, RepoPath>();
    const queue = [start];
    while (queue.length > 0) {
        const n = queue.shift()!;
        for (const to of [...(graph.get(n) ?? [])].sort()) {
            if (!inside.has(to)) continue;
            if (to === start) {
                const back = [n];
                while (back[0] !== start) back.unshift(from.get(back[0])!);
                return [...back, start];
            }
            if (!from.has(to)) {
                from.set(to, n);
                queue.push(to);
            }
        }
    }
    return [...component];
}

/**
 * The layer a file belongs to. Arrows point down: scripts/ and test/ may import anything (scripts/bench/ and
 * scripts/dev/ are test tooling: they may import the tests' fakes); index.ts imports
 * components/, which imports capacity/ (the cost model, the simulator), which imports stacks/ (config
 * schema, validation, catalogs, shared models). gateway/src and policy/ are packages of their own: they
 * import nothing outside themselves (anyone may import the gateway's types and pure functions).
 */
const LAYERS: readonly { readonly prefix: string; readonly rank: number }[] = [
    { prefix: "test/", rank: 6 },
    // The benches run the gateway against the tests' fakes (vLLM, redis) and print figures: test tooling. So is
    // `npm run dev` (scripts/dev.ts, scripts/dev/): it runs the gateway and UI on this machine against the tests' fake vLLM.
    { prefix: "scripts/bench/", rank: 6 },
    { prefix: "scripts/dev.ts", rank: 6 },
    { prefix: "scripts/dev/", rank: 6 },
    { prefix: "scripts/", rank: 5 },
    { prefix: "index.ts", rank: 4 },
    { prefix: "components/", rank: 3 },
    { prefix: "capacity/", rank: 2 },
    { prefix: "stacks/", rank: 1 },
];

/** Packages that import only themselves. */
const SELF_CONTAINED: readonly string[] = ["gateway/src/", "policy/", "ui/"];

/** Why the arrow a -> b breaks the layering, or undefined when it is allowed. */
export function layerViolation(from: RepoPath, to: RepoPath): string | undefined {
    const own = SELF_CONTAINED.find((p) => from.startsWith(p));
    if (own) return to.startsWith(own) ? undefined : `${own} imports only itself`;
    if (SELF_CONTAINED.some((p) => to.startsWith(p))) return undefined;
    const rank = (f: RepoPath) => LAYERS.find((l) => f.startsWith(l.prefix));
    const a = rank(from);
    const b = rank(to);
    if (!a || !b) return `${!a ? from : to} is in no layer (test/structure/importGraph.ts LAYERS)`;
    if (a.prefix === b.prefix) return undefined;
    return a.rank >= b.rank ? undefined : `${b.prefix} is a layer above ${a.prefix}: ${a.prefix} must not import it`;
}
