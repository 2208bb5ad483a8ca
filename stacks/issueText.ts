/**
 * zod's generic issue texts ("Too small: expected number to be >0", "Invalid input: expected
 * int, received number") in the program's own words, for the key they are about: what the value
 * must be and what to set instead. Messages the schema writes itself are left as they are.
 */
import { z } from "zod";

/** Fixes with an example for keys whose problem is "missing for this choice" (a superRefine issue). */
export const EXAMPLE_FIXES: Readonly<Record<string, string>> = {
    "traffic.csvFile":
        "add the recorded trace, one request per line `timestamp,kind[,model]` (ISO 8601 time with a zone or seconds; kind image or text), e.g. traffic: {profile: csv, csvFile: examples/traffic/arrivals.csv}; see examples/Pulumi.csv-trace.yaml",
    "traffic.hourly":
        'add requests per hour for each local hour 0..23, e.g. traffic: {profile: hourly, hourly: [{days: "1-5", rates: [0, 0, 0, 0, 0, 0, 0, 5, 40, 60, 60, 50, 30, 50, 60, 60, 40, 10, 5, 2, 0, 0, 0, 0]}]}; see examples/Pulumi.hourly.yaml',
};

const GENERIC = /^(Too small|Too big|Invalid input): /;

function plural(n: number, word: string, many = `${word}s`): string {
    return `${n} ${n === 1 ? word : many}`;
}

/** A value as the user writes it: strings quoted, the rest as JSON. */
function shown(v: unknown): string {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const KINDS: Record<string, string> = {
    int: "a whole number",
    number: "a number",
    boolean: "true or false",
    string: "text",
    array: "a list, e.g. [a, b]",
    object: "a mapping of keys, e.g. {name: value}",
};

/**
 * `{message, fix}` for a zod issue with a generic text; undefined for the schema's own messages.
 * `schema` is the schema at the issue's path (to tell whole numbers from others).
 */
export function ownWords(issue: z.core.$ZodIssue, value: unknown, schema: z.ZodType | undefined): { message: string; fix: string } | undefined {
    if (!GENERIC.test(issue.message)) return undefined;
    const whole = schema instanceof z.ZodNumber && schema.isInt;
    const got = value === undefined ? "" : ` (got ${shown(value)})`;
    if (issue.code === "too_small" || issue.code === "too_big") {
        const small = issue.code === "too_small";
        const bound = Number(small ? issue.minimum : issue.maximum);
        const inclusive = issue.inclusive !== false;
        if (issue.origin === "number") {
            // Whole numbers: "> 0" is "at least 1".
            const edge = inclusive || !whole ? bound : small ? bound + 1 : bound - 1;
            const strict = !inclusive && !whole;
            const what = whole ? "a whole number, " : "";
            const message = small
                ? `must be ${what}${strict ? "more than" : "at least"} ${edge}${got}`
                : `must be ${what}${strict ? "less than" : "at most"} ${edge}${got}`;
            const fix = small ? (strict ? `set it above ${edge}` : `set it to ${edge} or more`) : strict ? `set it below ${edge}` : `set it to ${edge} or less`;
            return { message, fix };
        }
        if (issue.origin === "array" || issue.origin === "set") {
            const n = plural(bound, "entry", "entries");
            if ("exact" in issue && issue.exact)
                return { message: `must list exactly ${n}${Array.isArray(value) ? ` (it lists ${value.length})` : ""}`, fix: `list exactly ${n}` };
            return small
                ? { message: `must list at least ${n}${got}`, fix: `add entries until there are ${bound}` }
                : { message: `must list at most ${n}`, fix: `remove entries until there are ${bound}` };
        }
        if (issue.origin === "string") {
            const n = plural(bound, "character");
            return small
                ? { message: `must be at least ${n} long${got}`, fix: `write at least ${n}` }
                : { message: `must be at most ${n} long`, fix: `shorten it to ${n}` };
        }
        return undefined;
    }
    if (issue.code === "invalid_type") {
        const want = KINDS[issue.expected] ?? issue.expected;
        if (value === undefined) return { message: `is required: ${want}`, fix: "set it: it has no default (see docs/config.md)" };
        const kind = whole && issue.expected === "number" ? KINDS.int : want;
        return { message: `must be ${kind}${got}`, fix: `write ${kind}${issue.expected === "string" && typeof value !== "string" ? " (quote it)" : ""}` };
    }
    return undefined;
}
