/**
 * Reads `Pulumi.<stack>.yaml` into the flat config map Pulumi's runtime uses
 * (`namespace:key` -> string, objects as JSON). Encrypted (`secure:`) values cannot be
 * decrypted offline: they get a placeholder of the key's shape (stacks/secrets.ts), stay
 * marked secret, and are listed.
 */
import * as fs from "fs";
import * as path from "path";
import { StackFileError, parseStackYaml } from "./cliErrors";
import { ConfigError, closest } from "../../stacks/errors";
import { rawStackConfig } from "../../stacks/load";
import { offlinePlaceholder } from "../../stacks/secrets";
import { parseStackConfig } from "../../stacks/validate";
import type { StackConfig } from "../../stacks/resolved";
import type { PlatformOutputs } from "../../stacks/platformOutputs";

export interface StackFile {
    readonly config: Record<string, string>;
    readonly secretKeys: string[];
    /** Keys whose value was encrypted and replaced by a placeholder. */
    readonly placeholders: string[];
}

export function stackFilePath(root: string, stack: string): string {
    return path.join(root, `Pulumi.${stack}.yaml`);
}

export function listStacks(root: string): string[] {
    return fs
        .readdirSync(root)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

/** The known stack closest to a mistyped name ("Biology", "biolgy" -> "biology"), if any is close. */
export function stackHint(stack: string, known: readonly string[]): string | undefined {
    return known.find((k) => k.toLowerCase() === stack.toLowerCase()) ?? closest(stack, known);
}

export function readStackFile(root: string, stack: string, project: string): StackFile {
    const file = stackFilePath(root, stack);
    if (!fs.existsSync(file)) {
        const known = listStacks(root);
        const hint = stackHint(stack, known);
        throw new StackFileError(
            file,
            `no stack file ${path.basename(file)}; stacks here: ${known.join(", ") || "none"}`,
            hint
                ? `did you mean '${hint}'? (--stack ${hint}; names are case-sensitive)`
                : known.length > 0
                  ? `use one of those, or create it: cp Pulumi.${known.includes("dev") ? "dev" : known[0]}.yaml Pulumi.${stack}.yaml, then set its team tag, pools and models (README: team stacks)`
                  : `run from the project root, or pass --dir <folder with Pulumi.${stack}.yaml>`,
        );
    }
    const { doc: parsed } = parseStackYaml(file, fs.readFileSync(file, "utf8"));
    const doc = (parsed.toJS() ?? {}) as { config?: Record<string, unknown> };
    if (
        typeof doc !== "object" ||
        Array.isArray(doc) ||
        (doc.config !== undefined && (doc.config === null || typeof doc.config !== "object" || Array.isArray(doc.config)))
    ) {
        throw new StackFileError(
            file,
            "the file has no 'config:' mapping",
            "start it with 'config:' and indent each key under it, e.g. '  aws:region: us-east-1'",
            { line: 1, col: 1 },
        );
    }
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    const placeholders: string[] = [];
    for (const [rawKey, value] of Object.entries(doc.config ?? {})) {
        const key = rawKey.includes(":") ? rawKey : `${project}:${rawKey}`;
        if (value && typeof value === "object" && !Array.isArray(value) && "secure" in value && Object.keys(value).length === 1) {
            config[key] = offlinePlaceholder(key, project);
            secretKeys.push(key);
            placeholders.push(key);
        } else {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    return { config, secretKeys, placeholders };
}

/**
 * A stack's validated config from its Pulumi.<stack>.yaml, without the Pulumi engine (compare,
 * dev): the same keys, defaults and errors as the program's own load; timetable calendars are read
 * relative to `root`, the stack file's directory. `platformFor` gives a team stack its platform's
 * outputs (compare: the platform's plan or the team's existingCluster).
 */
export function stackConfigFromFile(
    root: string,
    stack: string,
    project: string,
    platformFor?: (raw: Record<string, unknown>) => PlatformOutputs | undefined,
): StackConfig {
    const file = readStackFile(root, stack, project);
    const { raw, issues } = rawStackConfig(file.config);
    if (issues.length > 0) throw new ConfigError(issues);
    if (raw.environment === undefined) raw.environment = stack;
    return parseStackConfig(raw, platformFor?.(raw), { root });
}
