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

export async function schemaFor(apiVersion: string, kind: string): Promise<ModelClass> {
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
