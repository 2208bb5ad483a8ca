/**
 * What the CLIs (plan, compare) print when they fail: the file, line and column, the
 * problem and one line of fix, never a stack trace (unless --debug). Config problems are
 * located in the stack file by their key; YAML syntax errors by the parser's position.
 */
import * as path from "path";
import { Document, LineCounter, Node, isMap, isScalar, isSeq, parseDocument } from "yaml";
import { ConfigError, ConfigIssue } from "../../stacks/errors";

/** A problem with a stack file itself (missing, not YAML, no config mapping). */
export class StackFileError extends Error {
    constructor(
        readonly file: string,
        readonly problem: string,
        readonly fix: string,
        readonly position?: { line: number; col: number },
        readonly excerpt?: string,
    ) {
        super(`${path.basename(file)}${position ? `:${position.line}:${position.col}` : ""}: ${problem}. Fix: ${fix}`);
        this.name = "StackFileError";
    }
}

/** One line of fix per YAML error code (yaml 2.x `ErrorCode`). */
const YAML_FIXES: Record<string, string> = {
    BAD_INDENT: "indent the keys of one mapping by the same number of spaces",
    TAB_AS_INDENT: "indent with spaces; YAML does not allow tabs",
    MISSING_CHAR: "close the bracket, brace or quote that was opened before this point",
    DUPLICATE_KEY: "keep one of the repeated keys",
    MULTILINE_IMPLICIT_KEY: "put the key and its ':' on one line, or quote a value that spans lines",
    UNEXPECTED_TOKEN: "check the punctuation here (a ':' needs a space after it; quote values that contain ': ' or '#')",
    BLOCK_AS_IMPLICIT_KEY: "a key cannot hold a nested block; put ':' after the key and the block on the next lines",
};

/** Parses a stack file, throwing StackFileError at the first YAML syntax error. */
export function parseStackYaml(file: string, text: string): { doc: Document; lines: LineCounter } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
    const [first] = doc.errors;
    if (first) {
        const unclosed = unclosedOpener(first.message, text, first.pos[0]);
        if (unclosed) {
            const pos = lines.linePos(unclosed.offset);
            const line = (text.split(/\r?\n/)[pos.line - 1] ?? "").trim();
            const fix =
                unclosed.char === '"' || unclosed.char === "'"
                    ? `close it with ${unclosed.closer} at the end of the value`
                    : `close it with '${unclosed.closer}' on the same line: ${line}${unclosed.closer}`;
            throw new StackFileError(file, `YAML syntax: the '${unclosed.char}' here is never closed`, fix, pos, sourceExcerpt(text, pos.line, pos.col));
        }
        const pos = first.linePos?.[0];
        const problem = `YAML syntax: ${first.message.split(/ at line \d+/)[0].split("\n")[0]}`;
        const excerpt = pos ? sourceExcerpt(text, pos.line, pos.col) : undefined;
        throw new StackFileError(file, problem, YAML_FIXES[first.code] ?? "correct the YAML at this position", pos, excerpt);
    }
    return { doc, lines };
}

/**
 * A flow collection or quoted string left open: the yaml parser notices only where the next
 * line breaks the structure ("... must be sufficiently indented and end with a ]", "Missing
 * closing "quote") and reports that line, whose keys are fine. The culprit is the last
 * unclosed '[', '{' or quote before that point.
 */
export function unclosedOpener(message: string, text: string, at: number): { offset: number; char: string; closer: string } | undefined {
    const flow = /end with an? ([\]}])/.exec(message);
    const quote = /Missing closing ("|')quote/.exec(message);
    if (!flow && !quote) return undefined;
    const open: Array<{ char: string; offset: number }> = [];
    let inQuote: { char: string; offset: number } | undefined;
    let comment = false;
    for (let i = 0; i < Math.min(at, text.length); i++) {
        const c = text[i];
        if (comment) {
            if (c === "\n") comment = false;
            continue;
        }
        if (inQuote) {
            if (inQuote.char === "'" && c === "'" && text[i + 1] === "'")
                i++; // '' is a quote inside '...'
            else if (inQuote.char === '"' && c === "\\") i++;
            else if (c === inQuote.char) inQuote = undefined;
            continue;
        }
        if (c === "#" && (i === 0 || /\s/.test(text[i - 1]))) comment = true;
        else if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:]/.test(text[i - 1]))) inQuote = { char: c, offset: i };
        else if (c === "[" || c === "{") open.push({ char: c, offset: i });
        else if ((c === "]" || c === "}") && open.length) open.pop();
    }
    if (quote) return inQuote ? { ...inQuote, closer: inQuote.char } : undefined;
    const want = flow![1] === "]" ? "[" : "{";
    const opener = [...open].reverse().find((o) => o.char === want);
    return opener ? { ...opener, closer: flow![1] } : undefined;
}

function sourceExcerpt(text: string, line: number, col: number): string {
    const src = text.split(/\r?\n/)[line - 1] ?? "";
    const gutter = String(line);
    return `  ${gutter} | ${src}\n  ${" ".repeat(gutter.length)} | ${" ".repeat(Math.max(0, col - 1))}^`;
}

/** Splits `gpuserve:models[0].pool` into the YAML key and the path inside its value. */
function issuePath(key: string, project: string): { top: string[]; rest: (string | number)[] } {
    const colon = key.indexOf(":");
    const ns = key.slice(0, colon);
    const tail = key.slice(colon + 1);
    const parts: (string | number)[] = [];
    for (const m of tail.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) parts.push(m[2] !== undefined ? Number(m[2]) : m[1]);
    const head = String(parts.shift() ?? "");
    // Pulumi accepts `gpuserve:key` and, for the project's own namespace, plain `key`.
    return { top: ns === project ? [`${ns}:${head}`, head] : [`${ns}:${head}`], rest: parts };
}

/** Line and column of the deepest node of the stack file an issue's key reaches. */
function locate(doc: Document, lines: LineCounter, key: string, project: string): { line: number; col: number } | undefined {
    const config = doc.get("config", true) as Node | undefined;
    if (!isMap(config)) return undefined;
    const { top, rest } = issuePath(key, project);
    const pair = config.items.find((p) => isScalar(p.key) && top.includes(String(p.key.value)));
    if (!pair) return undefined;
    let node: Node | undefined = (pair.value as Node | undefined) ?? (pair.key as Node);
    let at: Node = isScalar(pair.key) ? pair.key : node;
    for (const part of rest) {
        if (isMap(node)) {
            const p = node.items.find((i) => isScalar(i.key) && String(i.key.value) === String(part));
            if (!p) break;
            at = p.key as Node;
            node = p.value as Node | undefined;
        } else if (isSeq(node) && typeof part === "number") {
            const item = node.items[part] as Node | undefined;
            if (!item) break;
            at = item;
            node = item;
        } else break;
        if (node && isScalar(node)) at = node;
    }
    if (!at.range) return undefined;
    const { line, col } = lines.linePos(at.range[0]);
    return { line, col };
}

export interface CliErrorOptions {
    readonly debug: boolean;
    /** The stack file, to locate config problems in it. */
    readonly stackFile?: { readonly file: string; readonly text: string; readonly project: string };
}

function formatIssues(issues: readonly ConfigIssue[], opts: CliErrorOptions): string {
    let where: (i: ConfigIssue) => string = () => "";
    let name = "the stack config";
    if (opts.stackFile) {
        const { file, text, project } = opts.stackFile;
        name = path.basename(file);
        try {
            const { doc, lines } = parseStackYaml(file, text);
            where = (i) => {
                const pos = locate(doc, lines, i.key, project);
                return pos ? `${name}:${pos.line}:${pos.col}: ` : `${name}: `;
            };
        } catch {
            /* the file parsed before; keep messages without positions */
        }
    }
    const head = issues.length === 1 ? `invalid config in ${name}:` : `invalid config in ${name} (${issues.length} problems):`;
    return [head, ...issues.map((i) => `  ${where(i)}${i.key}: ${i.message}\n    fix: ${i.fix}`)].join("\n");
}

/** Relative to the working directory when below it, else absolute. */
function displayPath(file: string): string {
    const rel = path.relative(process.cwd(), file);
    return rel && !rel.startsWith("..") ? rel : file;
}

/** The first frame of a stack trace that is this project's code (not node_modules, not node:). */
function ownFrame(stack: string | undefined): string | undefined {
    const root = path.resolve(__dirname, "..", "..");
    for (const line of (stack ?? "").split("\n").slice(1)) {
        const m = /\(?((?:file:\/\/)?\/[^()]+?):(\d+):(\d+)\)?$/.exec(line.trim());
        if (!m) continue;
        const file = m[1].replace(/^file:\/\//, "");
        if (file.includes("node_modules") || !file.startsWith(root)) continue;
        return `${displayPath(file)}:${m[2]}:${m[3]}`;
    }
    return undefined;
}

/** The text a CLI prints on stderr for an error (without the trailing newline). */
export function formatCliError(e: unknown, opts: CliErrorOptions): string {
    const err = e instanceof Error ? e : new Error(String(e));
    const trace = opts.debug ? `\n--debug: stack trace\n${err.stack ?? "(none)"}` : "";
    if (err instanceof ConfigError) return `error: ${formatIssues(err.issues, opts)}${trace}`;
    if (err instanceof StackFileError) {
        const where = `${displayPath(err.file)}${err.position ? `:${err.position.line}:${err.position.col}` : ""}`;
        return [`error: ${where}: ${err.problem}`, ...(err.excerpt ? [err.excerpt] : []), `  fix: ${err.fix}`].join("\n") + trace;
    }
    if (opts.debug) return `error: ${err.stack ?? err.message}`;
    const frame = ownFrame(err.stack);
    return [
        `error: ${frame ? `${frame}: ` : ""}${err.message.split("\n")[0]}`,
        "  fix: this is not a config problem we recognise; rerun with --debug for the stack trace and report it if the config is right",
    ].join("\n");
}
