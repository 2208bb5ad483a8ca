/**
 * The desired size Pulumi sends for a node group: what the group runs now, kept within
 * [minSize, maxSize]. Never lower than minSize, so raising `minNodes` works.
 *
 * Why not `ignoreChanges: ["scalingConfig.desiredSize"]` (what this replaced): with it,
 * every update of the node group sent the desired size recorded in Pulumi's state, not the
 * live one (pulumi up does not refresh). Raising minNodes above that stale value made EKS
 * reject the update (desired < min), and any other change to the group (a new launch template
 * version) set the Cluster Autoscaler's scale-up back to the stale value, draining busy GPU
 * nodes. Reading the live size at `pulumi up` and sending it makes the update a no-op for the
 * autoscaler; a preview shows a desiredSize change only when the autoscaler moved since the
 * last up, which is the truth. The window between the read and the update is seconds.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export function desiredSizeFor(minSize: number, maxSize: number, liveDesired: number | undefined): number {
    return Math.min(maxSize, Math.max(minSize, liveDesired ?? minSize));
}

/** EKS's answer when the cluster does not exist yet (first `pulumi up`). */
const NOT_FOUND = /ResourceNotFound|No cluster found|not found/i;

/**
 * Live desired sizes of this cluster's node groups, by the node group resource's name prefix
 * (`<component>-ng`: Pulumi auto-names the group `<resource name>-<random>`). Empty before the
 * cluster exists. Any other failure stops the deployment: guessing would resize busy groups.
 */
export async function liveDesiredSizes(clusterName: string, prefixes: string[], provider: pulumi.ProviderResource): Promise<Record<string, number>> {
    let names: string[];
    try {
        names = (await aws.eks.getNodeGroups({ clusterName }, { provider })).names ?? [];
    } catch (e) {
        if (NOT_FOUND.test(String(e))) return {};
        throw new Error(
            `cannot read the node groups of EKS cluster ${clusterName} (needed to keep their current sizes): ${String(e)}. Fix: check the credentials allow eks:ListNodegroups and eks:DescribeNodegroup`,
            { cause: e },
        );
    }
    const sizes: Record<string, number> = {};
    for (const prefix of prefixes) {
        const name = names.find((n) => n.startsWith(`${prefix}-`) && /^[a-z0-9]+$/i.test(n.slice(prefix.length + 1)));
        if (!name) continue;
        const ng = await aws.eks.getNodeGroup({ clusterName, nodeGroupName: name }, { provider });
        const desired = ng.scalingConfigs?.[0]?.desiredSize;
        if (typeof desired === "number") sizes[prefix] = desired;
    }
    return sizes;
}
