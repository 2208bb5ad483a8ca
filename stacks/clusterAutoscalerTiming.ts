/**
 * Cluster Autoscaler timing flags as deployed (chart cluster-autoscaler 9.59.0 `extraArgs`, app 1.35.0;
 * flag names and defaults: kubernetes/autoscaler cluster-autoscaler/FAQ.md "What are the parameters to CA?"
 * and config/flags/flags.go). Plain values, no Pulumi: the chart (components/addons/clusterAutoscaler) and the
 * simulator (capacity/sim/setup.ts) read the same ones, so they live with the config both depend on.
 */
export const CA_TIMING = {
    /** How often CA re-evaluates scale-up and scale-down. Upstream default 10s, kept: GPU scale-up waits 30 s for its pod anyway. */
    scanInterval: "10s",
    /** No scale-down this long after a scale-up (upstream default 10m). */
    scaleDownDelayAfterAdd: "5m",
    /**
     * A node that has not registered and become Ready after this long is given up and another group tried
     * (upstream default 15m). GPU nodes are Ready in 0.5-3 min (facts.md), so a failed launch (no spot
     * capacity) is noticed three times sooner; image pull and model load come after Ready and do not count.
     */
    maxNodeProvisionTime: "5m",
} as const;
