/** Where add-on pods run: controllers on the system nodes, GPU agents only on GPU nodes. */
import { GPU_TAINT, SYSTEM_LABEL } from "../cluster";
import { HelmValues } from "./values";

export const SYSTEM_NODE_SELECTOR: HelmValues = { [SYSTEM_LABEL]: "system" };

/** Tolerates the taint every GPU node carries (k8s spelling of GPU_TAINT). */
export const GPU_TOLERATION: HelmValues = { key: GPU_TAINT.key, operator: "Exists", effect: "NoSchedule" };

/** Node affinity to GPU nodes only: they carry nvidia.com/gpu.present=true. */
export const GPU_NODE_AFFINITY: HelmValues = {
    nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: "nvidia.com/gpu.present", operator: "In", values: ["true"] }] }],
        },
    },
};
