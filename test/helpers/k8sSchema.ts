/**
 * Validates Kubernetes objects against the upstream OpenAPI schemas (kubernetes-models
 * and its CRD packages). An object the API server would reject fails here. Kinds with no
 * schema package are an error too, so nothing slips through unvalidated.
 */
type ModelClass = new (data: Record<string, unknown>) => { validate(): void };

/** apiVersion -> module that exports one class per kind. */
function moduleFor(apiVersion: string): string {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
    if (group === "") return `kubernetes-models/${version}`;
    if (group === "keda.sh") return `@kubernetes-models/keda/keda.sh/${version}`;
    if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}`;
    return `kubernetes-models/${group}/${version}`;
}

/** One OpenAPI v3 schema node of a CRD (the parts CRDs of the pinned charts use). */
interface CrdSchema {
    type?: string;
    properties?: Record<string, CrdSchema>;
    additionalProperties?: CrdSchema | boolean;
    items?: CrdSchema;
    required?: string[];
    enum?: unknown[];
    pattern?: string;
    minItems?: number;
}

/**
 * CRDs with no kubernetes-models package, validated against the CRD's own openAPIV3Schema from the
 * pinned release (test/fixtures: the file says where it comes from). Unknown fields are errors here:
 * the API server would prune them silently, which is how a misspelt setting is lost.
 */
const CRD_SCHEMAS: Record<string, string> = {
    "elbv2.k8s.aws/v1beta1/IngressClassParams": "../fixtures/lbc/ingressclassparams-v3.5.0.json",
};

function checkCrd(schema: CrdSchema, value: unknown, at: string, errors: string[]): void {
    const type = Array.isArray(value)
        ? "array"
        : value === null
          ? "null"
          : typeof value === "number"
            ? Number.isInteger(value)
                ? "integer"
                : "number"
            : typeof value;
    if (schema.type && !(schema.type === type || (schema.type === "number" && type === "integer"))) {
        errors.push(`${at}: expected ${schema.type}, got ${type}`);
        return;
    }
    if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} is not one of ${schema.enum.join(", ")}`);
    if (schema.pattern && typeof value === "string" && !new RegExp(schema.pattern).test(value)) errors.push(`${at}: does not match ${schema.pattern}`);
    if (Array.isArray(value)) {
        if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: fewer than ${schema.minItems} items`);
        value.forEach((v, i) => schema.items && checkCrd(schema.items, v, `${at}[${i}]`, errors));
    } else if (value && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        for (const r of schema.required ?? []) if (!(r in obj)) errors.push(`${at}.${r}: required`);
        for (const [k, v] of Object.entries(obj)) {
            const sub = schema.properties?.[k] ?? (typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined);
            if (sub) checkCrd(sub, v, `${at}.${k}`, errors);
            else if (schema.properties && k !== "metadata") errors.push(`${at}.${k}: unknown field`);
        }
    }
}

function crdModel(file: string): ModelClass {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const schema = (require(file) as { openAPIV3Schema: CrdSchema }).openAPIV3Schema;
    return class {
        constructor(private readonly data: Record<string, unknown>) {}
        validate(): void {
            const errors: string[] = [];
            checkCrd(schema, this.data, "", errors);
            if (errors.length > 0) throw new Error(errors.join("; "));
        }
    };
}

async function schemaFor(apiVersion: string, kind: string): Promise<ModelClass> {
    const crd = CRD_SCHEMAS[`${apiVersion}/${kind}`];
    if (crd) return crdModel(crd);
    let mod: Record<string, unknown>;
    try {
        mod = (await import(moduleFor(apiVersion))) as Record<string, unknown>;
    } catch (e) {
        throw new Error(`no schema package for apiVersion ${apiVersion} (${(e as Error).message})`, { cause: e });
    }
    const cls = mod[kind];
    if (typeof cls !== "function") throw new Error(`no schema for ${kind} in ${apiVersion}`);
    return cls as ModelClass;
}

/** Throws with the object's kind/name and the schema errors when invalid. */
export async function validateManifest(m: Record<string, unknown>): Promise<void> {
    const apiVersion = String(m.apiVersion);
    const kind = String(m.kind);
    const name = (m.metadata as { name?: string } | undefined)?.name ?? "<unnamed>";
    const Model = await schemaFor(apiVersion, kind);
    try {
        new Model(m).validate();
    } catch (e) {
        throw new Error(`${kind}/${name} (${apiVersion}) fails schema validation: ${(e as Error).message}`, { cause: e });
    }
}

export async function validateManifests(ms: Record<string, unknown>[]): Promise<void> {
    const errors: string[] = [];
    for (const m of ms) {
        try {
            await validateManifest(m);
        } catch (e) {
            errors.push((e as Error).message);
        }
    }
    if (errors.length > 0) throw new Error(`${errors.length} invalid Kubernetes object(s):\n${errors.join("\n")}`);
}
