/** Pod and container security settings that satisfy the "restricted" Pod Security Standard. */

export const RESTRICTED_POD_SECURITY = {
    runAsNonRoot: true,
    runAsUser: 10001,
    runAsGroup: 10001,
    fsGroup: 10001,
    seccompProfile: { type: "RuntimeDefault" },
};

export const RESTRICTED_CONTAINER_SECURITY = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
};

/** Seconds a terminating pod behind the ALB keeps serving while the ALB deregisters it; SIGTERM comes after. */
export const PRE_STOP_SECONDS = 20;

/** Standard labels of one serving component. */
export function componentLabels(component: string, extra: Record<string, string> = {}): Record<string, string> {
    return { "app.kubernetes.io/part-of": "gpuserve", "app.kubernetes.io/component": component, ...extra };
}
