/**
 * KEDA's part of the loop (pkg/scaling/executor/scale_scaledobjects.go, RequestScale):
 * every pollingInterval it asks each trigger "active?" and only ever moves the Deployment
 * between 0 and its first step; everything between 1 and N is the HPA's.
 * - active at 0 replicas: scale to max(minReplicaCount, 1) and remember the time;
 * - active above 0: remember the time (lastActiveTime);
 * - inactive, minReplicaCount 0, lastActiveTime + cooldownPeriod in the past: scale to 0;
 * - inactive because a trigger failed: do nothing, with a fallback configured (the log-only case) and
 *   without one (`isError && Fallback == nil`: TriggerError condition, no scale to zero). The stack emits
 *   no fallback block for fallbackReplicas 0 (components/serving/scaling.ts), so 0 means "none" here too;
 * - a trigger whose failures exceed `fallback.failureThreshold` (strictly: `>`,
 *   pkg/fallback/fallback.go GetMetricsWithFallback at v2.20.2) answers with the fallback
 *   metric and counts as ACTIVE (pkg/scaling/scale_handler.go at v2.20.2: "When fallback
 *   is active, the scaler should be considered active", isActiveOrFallback), so a pool at
 *   zero scales up to 1 during a metrics outage and the HPA then takes it to
 *   fallback.replicas.
 */

export interface KedaState {
    /** Last poll at which a trigger was active (seconds); -Infinity if never. */
    lastActive: number;
}

export interface KedaPoll {
    readonly now: number;
    readonly replicas: number;
    readonly minReplicas: number;
    readonly cooldownSeconds: number;
    /** Any trigger above its activation threshold (or a cron window open). */
    readonly active: boolean;
    /** Some trigger failed to read its metric this poll. */
    readonly error: boolean;
    readonly fallbackReplicas: number;
}

/** One poll; returns the replica count KEDA sets, or undefined when it leaves it alone. */
export function kedaPoll(state: KedaState, p: KedaPoll): number | undefined {
    if (p.active) {
        state.lastActive = p.now;
        return p.replicas === 0 ? Math.max(p.minReplicas, 1) : undefined;
    }
    if (p.error) return undefined;
    if (p.replicas > 0 && p.minReplicas === 0) {
        return state.lastActive + p.cooldownSeconds < p.now ? 0 : undefined;
    }
    if (p.replicas < p.minReplicas) return p.minReplicas;
    return undefined;
}

/**
 * KEDA's fallback rule (pkg/fallback/fallback.go at v2.20.2): with a fallback block (the stack emits
 * one only for fallbackReplicas > 0) a failing trigger falls back once its
 * consecutive failures are strictly above `failureThreshold`.
 */
export function fallbackActive(consecutiveFailures: number, failureThreshold: number, fallbackReplicas: number): boolean {
    return fallbackReplicas > 0 && consecutiveFailures > failureThreshold;
}

/** The trigger's activation test: strictly above the threshold (KEDA activationThreshold). */
export function isActivated(value: number, activationThreshold: number): boolean {
    return value > activationThreshold;
}
