/**
 * The body budget: bytes of request bodies the gateway holds at once (being received, queued,
 * in flight), all teams together bounded by `maxHeldBodyBytes`, with a share of it kept for
 * each team that the others cannot take.
 *
 * Each team has a reserve: `limits.teams.<t>.reservedBodyBytes`, by default
 * min(maxBodyBytes, maxHeldBodyBytes / (2 x teams)) for the teams of `auth.keys`. A team may
 * always use its own reserve; beyond it, it takes from the rest of the budget only while every
 * other team's unused reserve stays free. So a team that holds slow 19 MiB bodies up to the
 * limit can no longer make another team's image request wait for its own to time out: that
 * team's reserve is still there (issue 23 point 6). The reserves sum to at most half the budget
 * by default, so one team alone can still use most of it (a class sending images while its pool
 * starts).
 */
import { GatewayConfig, reserves } from "./config";

export class BodyBudget {
    private total = 0;
    private readonly held = new Map<string, number>();
    private readonly reserves: ReadonlyMap<string, number>;
    /** Sum over known teams of max(0, reserve - held): what other teams must leave free. */
    private unusedReserved = 0;

    constructor(private readonly config: GatewayConfig) {
        this.reserves = reserves(config);
        for (const r of this.reserves.values()) this.unusedReserved += r;
    }

    /** A team's reserve (0 for a team the config does not know). */
    reserveOf(team: string): number {
        return this.reserves.get(team) ?? 0;
    }

    /** Bytes a team holds now. */
    heldBy(team: string): number {
        return this.held.get(team) ?? 0;
    }

    get heldTotal(): number {
        return this.total;
    }

    /** Takes `bytes` for `team`; returns the release function, or undefined when it does not fit. */
    take(team: string, bytes: number): (() => void) | undefined {
        const budget = this.config.maxHeldBodyBytes;
        const mine = this.heldBy(team);
        const reserve = this.reserveOf(team);
        const myUnused = Math.max(0, reserve - mine);
        const othersUnused = this.unusedReserved - myUnused;
        if (this.total + bytes + othersUnused > budget) return undefined;
        this.set(team, mine + bytes);
        this.total += bytes;
        let released = false;
        return () => {
            if (released) return;
            released = true;
            this.total -= bytes;
            this.set(team, this.heldBy(team) - bytes);
        };
    }

    private set(team: string, bytes: number): void {
        const reserve = this.reserveOf(team);
        this.unusedReserved += Math.max(0, reserve - bytes) - Math.max(0, reserve - this.heldBy(team));
        if (bytes <= 0) this.held.delete(team);
        else this.held.set(team, bytes);
    }
}
