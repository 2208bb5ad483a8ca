/**
 * How long a terminating gateway pod keeps answering, and what around it must wait as long:
 * the ALB target group's deregistration delay and the pod's termination grace. Pure (the
 * config validation uses it before any resource exists).
 */
import { PRE_STOP_SECONDS } from "./security";

/** ALB maximum for a target group's deregistration delay (ELB docs, target group attributes: 0-3600 s). */
export const ALB_MAX_DEREGISTRATION_DELAY_SECONDS = 3600;

/** On SIGTERM the gateway finishes what it holds: up to a full wait plus an answer. */
export function drainSeconds(maxWaitSeconds: number): number {
    return maxWaitSeconds + 120;
}

/**
 * How long the ALB keeps a deregistered gateway pod's connections open: the whole time the pod
 * may still answer them (pre-stop sleep, then the drain). The default, 300 s, cut requests held
 * through a cold start at every scale-in and rollout. Validation keeps it under the ALB cap.
 */
export function deregistrationDelaySeconds(maxWaitSeconds: number): number {
    return Math.min(ALB_MAX_DEREGISTRATION_DELAY_SECONDS, PRE_STOP_SECONDS + drainSeconds(maxWaitSeconds));
}

/** Termination grace of a gateway pod: longer than both the drain and the ALB's deregistration delay. */
export function gatewayGraceSeconds(maxWaitSeconds: number): number {
    return Math.max(PRE_STOP_SECONDS + drainSeconds(maxWaitSeconds), deregistrationDelaySeconds(maxWaitSeconds)) + 15;
}

/** Largest maxWaitSeconds whose drain still fits in the ALB's deregistration delay. */
export const MAX_WAIT_WITHIN_ALB_DRAIN = ALB_MAX_DEREGISTRATION_DELAY_SECONDS - PRE_STOP_SECONDS - drainSeconds(0);
