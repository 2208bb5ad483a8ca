/** A config problem: the key, what is wrong with the value, and how to fix it. */
export interface ConfigIssue {
    /** Full config path, e.g. `gpuserve:models[0].pool`. */
    readonly key: string;
    readonly message: string;
    readonly fix: string;
}

function formatIssue(issue: ConfigIssue): string {
    return `${issue.key}: ${issue.message}. Fix: ${issue.fix}`;
}

/** Thrown before any resource is created; lists every problem, not only the first. */
export class ConfigError extends Error {
    constructor(readonly issues: readonly ConfigIssue[]) {
        super(
            issues.length === 1
                ? `Invalid stack config: ${formatIssue(issues[0])}`
                : `Invalid stack config (${issues.length} problems):\n${issues.map((i) => `  - ${formatIssue(i)}`).join("\n")}`,
        );
        this.name = "ConfigError";
    }
}

/** Renders a config path: ["models", 0, "pool"] -> "gpuserve:models[0].pool". */
export function configKey(namespace: string, path: readonly PropertyKey[]): string {
    let out = "";
    for (const part of path) {
        if (typeof part === "number") out += `[${part}]`;
        else out += out === "" ? String(part) : `.${String(part)}`;
    }
    if (path[0] === "region") return "aws:region";
    return `${namespace}:${out}`;
}

/** Short JSON of a value for error messages. */
export function showValue(value: unknown): string {
    const s = JSON.stringify(value);
    if (s === undefined) return String(value);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** The closest candidate by edit distance, for "did you mean" hints. */
export function closest(word: string, candidates: readonly string[], maxDistance = Math.max(2, Math.floor(word.length / 3))): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const c of candidates) {
        const d = editDistance(word.toLowerCase(), c.toLowerCase());
        if (d < bestDistance) {
            best = c;
            bestDistance = d;
        }
    }
    return bestDistance <= maxDistance ? best : undefined;
}

function editDistance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let prev = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const tmp = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
            prev = tmp;
        }
    }
    return row[b.length];
}
