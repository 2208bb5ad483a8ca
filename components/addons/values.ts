/** Helm values plumbing shared by the add-ons: typed values, deep merge of user overrides. */
import * as pulumi from "@pulumi/pulumi";

/** A Helm values tree; leaves may be Outputs (resolved by the engine). User overrides merge last. */
export type HelmValues = { [key: string]: HelmValue };
export type HelmValue = string | number | boolean | null | undefined | pulumi.Output<string> | HelmValue[] | HelmValues;

function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v) && !pulumi.Output.isInstance(v);
}

/** Copies plain objects and arrays; Outputs and scalars are kept as they are. */
function copy<T>(v: T): T {
    if (Array.isArray(v)) return v.map(copy) as T;
    if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)])) as T;
    return v;
}

/**
 * Deep-merges `override` into a copy of `base`: objects merge key by key, anything else
 * (scalars, lists) is replaced, as Helm does with `-f` files. Neither input is changed.
 */
export function deepMerge(base: HelmValues, override: Record<string, unknown>): HelmValues {
    const out: HelmValues = copy(base);
    for (const [k, v] of Object.entries(override)) {
        const current = out[k];
        out[k] = isPlainObject(current) && isPlainObject(v) ? deepMerge(current, v) : (copy(v) as HelmValue);
    }
    return out;
}

/** Leaf paths of a values tree ("a.b.c"), for checking keys against a chart's values.yaml. */
export function valuePaths(values: Record<string, unknown>, prefix = ""): string[] {
    return Object.entries(values).flatMap(([k, v]) => {
        const p = prefix ? `${prefix}.${k}` : k;
        return isPlainObject(v) && Object.keys(v).length > 0 ? [p, ...valuePaths(v, p)] : [p];
    });
}
