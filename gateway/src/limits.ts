/**
 * Per-team admission: a concurrency cap (requests held: queued or in flight) and a
 * token-bucket request rate. One team's burst cannot crowd out the others.
 */
import type { GatewayConfig } from "./config";
import { teamLimits } from "./config";
import { errors, GatewayError } from "./errors";

interface Bucket {
    tokens: number;
    updatedMs: number;
}

export class TeamLimiter {
    private readonly held = new Map<string, number>();
    private readonly buckets = new Map<string, Bucket>();

    constructor(
        private readonly config: GatewayConfig,
        private readonly now: () => number = Date.now,
    ) {}

    /** Admits one request: returns a release function, or the 429 to send. */
    admit(team: string): (() => void) | GatewayError {
        const limits = teamLimits(this.config, team);
        const held = this.held.get(team) ?? 0;
        if (limits.maxConcurrent !== undefined && held >= limits.maxConcurrent) {
            return errors.rateLimited(
                `Team '${team}' already has ${held} requests in progress (limit ${limits.maxConcurrent})`,
                1,
                "concurrency_limit_exceeded",
            );
        }
        if (limits.requestsPerMinute !== undefined) {
            const perMs = limits.requestsPerMinute / 60_000;
            const capacity = limits.burst ?? Math.max(1, Math.floor(limits.requestsPerMinute));
            const t = this.now();
            const b = this.buckets.get(team) ?? { tokens: capacity, updatedMs: t };
            b.tokens = Math.min(capacity, b.tokens + (t - b.updatedMs) * perMs);
            b.updatedMs = t;
            this.buckets.set(team, b);
            if (b.tokens < 1) {
                const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
                return errors.rateLimited(`Team '${team}' exceeded ${limits.requestsPerMinute} requests per minute`, retryAfter);
            }
            b.tokens -= 1;
        }
        this.held.set(team, held + 1);
        let released = false;
        return () => {
            if (released) return;
            released = true;
            const n = (this.held.get(team) ?? 1) - 1;
            if (n <= 0) this.held.delete(team);
            else this.held.set(team, n);
        };
    }
}
