/**
 * Explicit dependency forwarding: a component's `dependsOn` is passed on to the custom
 * resources inside it, so a Helm release really waits for what its component waits for
 * (and the offline plan shows the edge on the resource itself).
 */
import * as pulumi from "@pulumi/pulumi";

type Deps = pulumi.Input<pulumi.Resource>[];

function dependsOnOf(opts?: pulumi.ResourceOptions): Deps {
    const d = opts?.dependsOn;
    if (d === undefined) return [];
    return Array.isArray(d) ? [...d] : [d as pulumi.Input<pulumi.Resource>];
}

/** `{ parent, dependsOn }` for a child: the component's own dependencies plus `extra`. */
export function childOf(parent: pulumi.ComponentResource, opts: pulumi.ResourceOptions | undefined, extra: Deps = []): pulumi.CustomResourceOptions {
    return { parent, dependsOn: [...dependsOnOf(opts), ...extra] };
}
