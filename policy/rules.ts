/**
 * Guardrails for every `pulumi preview`/`up` of a gpuserve stack (`--policy-pack policy`).
 * Each rule checks one resource as the engine sees it; all are mandatory.
 */
import { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";

const WORKLOADS = ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:Job"];
const GPU = "nvidia.com/gpu";
const MIN_NODES_REASON_TAG = "gpuserve.io/min-nodes-reason";
const PRODUCTION_TAG = "gpuserve.io/production";
const REQUIRED_COST_TAGS = ["team", "environment", "project"];

/** The fields the rules read, as the engine sends them: unchecked input, so every field is optional and unknown where it may be anything. */
interface ContainerProps {
    readonly name?: string;
    readonly image?: unknown;
    readonly resources?: { readonly requests?: Readonly<Record<string, string | number>>; readonly limits?: Readonly<Record<string, string | number>> };
}
interface PodSpecProps {
    readonly initContainers?: readonly ContainerProps[];
    readonly containers?: readonly ContainerProps[];
}
interface WorkloadProps {
    readonly spec?: {
        readonly template?: { readonly spec?: PodSpecProps };
        readonly jobTemplate?: { readonly spec?: { readonly template?: { readonly spec?: PodSpecProps } } };
    };
}
interface NodeGroupProps {
    readonly amiType?: string;
    readonly scalingConfig?: { readonly minSize?: unknown };
    readonly tags?: Readonly<Record<string, string>>;
}
interface VpcProps {
    readonly endpointPublicAccess?: boolean;
    readonly publicAccessCidrs?: readonly string[];
}
interface ClusterProps extends VpcProps {
    readonly clusterTags?: unknown;
    readonly tags?: unknown;
    readonly vpcConfig?: VpcProps;
}

function containersOf(props: WorkloadProps): readonly ContainerProps[] {
    const spec = props.spec?.template?.spec ?? props.spec?.jobTemplate?.spec?.template?.spec;
    return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

/** Provider config arrives as JSON strings for nested objects; accept both. */
function parsed<T>(value: unknown): T | undefined {
    if (typeof value === "string") {
        try {
            return JSON.parse(value) as T;
        } catch {
            return undefined;
        }
    }
    return value as T | undefined;
}

export const workersRequestOneGpu: ResourceValidationPolicy = {
    name: "workers-request-exactly-one-gpu",
    description: "A container that uses GPUs requests and limits exactly one nvidia.com/gpu (one-GPU vLLM workers).",
    enforcementLevel: "mandatory",
    validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
        if (!WORKLOADS.includes(args.type)) return;
        for (const c of containersOf(args.props as WorkloadProps)) {
            const req = c.resources?.requests?.[GPU];
            const lim = c.resources?.limits?.[GPU];
            if (req === undefined && lim === undefined) continue;
            if (String(req) !== "1" || String(lim) !== "1")
                report(
                    `container '${c.name}' requests ${String(req ?? "no")} and limits ${String(lim ?? "no")} ${GPU}; workers must request and limit exactly 1`,
                );
        }
    },
};

/** An image reference is pinned when it has a digest, or a tag that is not "latest". */
export function isPinnedImage(image: string): boolean {
    if (/@sha256:[a-f0-9]{64}$/.test(image)) return true;
    const lastSegment = image.split("/").pop() ?? "";
    const tag = lastSegment.includes(":") ? lastSegment.split(":").pop()! : "";
    return tag !== "" && tag !== "latest";
}

export const pinnedImages: ResourceValidationPolicy = {
    name: "no-unpinned-images",
    description: "Container images carry an explicit tag other than 'latest', or a digest.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (!WORKLOADS.includes(args.type)) return;
        for (const c of containersOf(args.props as WorkloadProps)) {
            if (typeof c.image === "string" && !isPinnedImage(c.image))
                report(`container '${c.name}' uses unpinned image '${c.image}': pin a version tag or a digest`);
        }
    },
};

export const gpuPoolsScaleFromZero: ResourceValidationPolicy = {
    name: "gpu-node-groups-scale-from-zero",
    description: `GPU node groups have minSize 0, or say why not in the '${MIN_NODES_REASON_TAG}' tag.`,
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const props = args.props as NodeGroupProps;
        if (args.type !== "aws:eks/nodeGroup:NodeGroup" || !String(props.amiType ?? "").includes("NVIDIA")) return;
        const min = Number(props.scalingConfig?.minSize ?? 0);
        const reason = props.tags?.[MIN_NODES_REASON_TAG];
        if (min > 0 && !reason)
            report(
                `GPU node group keeps ${min} node(s) at zero load; set minSize 0 or explain it in the '${MIN_NODES_REASON_TAG}' tag (gpuserve:gpuPools[].minNodesReason)`,
            );
    },
};

export const helmVersionsPinned: ResourceValidationPolicy = {
    name: "helm-releases-pin-a-version",
    description: "Every Helm release names an exact chart version.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (!args.type.startsWith("kubernetes:helm.sh/")) return;
        const { version, chart } = args.props as { readonly version?: unknown; readonly chart?: unknown };
        if (typeof version !== "string" || !/^v?\d+\.\d+\.\d+([-+][\w.]+)?$/.test(version))
            report(`Helm chart '${String(chart)}' has version ${JSON.stringify(version)}; pin an exact version`);
    },
};

export const noOpenEndpointInProd: ResourceValidationPolicy = {
    name: "no-public-eks-endpoint-open-to-the-world-in-prod",
    description: "A production EKS cluster's public API endpoint is not open to 0.0.0.0/0.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== "eks:index:Cluster" && args.type !== "aws:eks/cluster:Cluster") return;
        const props = args.props as ClusterProps;
        const tags = parsed<Record<string, string>>(props.clusterTags ?? props.tags) ?? {};
        if (tags[PRODUCTION_TAG] !== "true") return;
        const vpc = props.vpcConfig ?? props;
        if (vpc.endpointPublicAccess === false) return;
        const cidrs = vpc.publicAccessCidrs ?? ["0.0.0.0/0"];
        if (cidrs.includes("0.0.0.0/0"))
            report("the production cluster's public API endpoint is open to 0.0.0.0/0; restrict gpuserve:cluster.endpointPublicAccessCidrs");
    },
};

export const costAllocationTags: ResourceValidationPolicy = {
    name: "cost-allocation-tags",
    description: `AWS resources carry the ${REQUIRED_COST_TAGS.join(", ")} tags (directly or through the provider's default tags).`,
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const isProvider = args.type === "pulumi:providers:aws";
        if (!isProvider && !args.type.startsWith("aws:")) return;
        // Resources without tags in AWS's API are not checked (no `tags` input).
        if (!isProvider && !("tags" in args.props) && !args.provider) return;
        const providerProps = isProvider ? args.props : args.provider?.props;
        const defaults = parsed<{ tags?: Record<string, string> }>(providerProps?.defaultTags)?.tags ?? {};
        const own = (isProvider ? {} : parsed<Record<string, string>>(args.props.tags)) ?? {};
        const missing = REQUIRED_COST_TAGS.filter((t) => !defaults[t] && !own[t]);
        if (missing.length > 0) report(`missing cost-allocation tag(s) ${missing.join(", ")}; set gpuserve:tags (team) and use the stack's AWS provider`);
    },
};

export const POLICIES: ResourceValidationPolicy[] = [
    workersRequestOneGpu,
    pinnedImages,
    gpuPoolsScaleFromZero,
    helmVersionsPinned,
    noOpenEndpointInProd,
    costAllocationTags,
];
