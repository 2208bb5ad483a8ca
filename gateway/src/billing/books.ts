/**
 * The gateway's books: folds the pools' stored steps (store.ts) through the attribution rule
 * (rule.ts) into each team's month: GPU dollars by pool, its share of the floor, a forecast to
 * the month's end, and its budget.
 *
 * Every replica folds the same stored steps with the same rule, so every replica's books agree
 * (with a shared store). Months are calendar months in UTC, as AWS bills. The floor is billed
 * from the first metered step (a stack created mid-month pays from then). The forecast adds to
 * what was spent the last 7 days' GPU spend rate (a week of timetabled classes) times the time
 * left, and the floor until the month's end.
 */
import type { GatewayConfig, PoolConfig } from "../config";
import { teamLimits } from "../config";
import type { PoolStep } from "./meter";
import { addCharges, billStep, Charge, NodePoolRates, PoolLedger, PricedPool, splitFloor, StepBill } from "./rule";
import type { UsageStore } from "./store";

const DAY = 86400;
/** Window of the spend rate the forecast extrapolates. */
const FORECAST_WINDOW_SECONDS = 7 * DAY;

/** [start, end) of the UTC calendar month holding t (seconds). */
function monthOf(t: number): { start: number; end: number } {
    const d = new Date(t * 1000);
    return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000, end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000 };
}

/** The hourly key of idle time nobody used (team names never start with a NUL). */
const UNATTRIBUTED = "\u0000unattributed";

/** Everything a gateway billed together: its teams, their floor and the idle time nobody used (billing.account). */
export interface AccountUsage {
    readonly name: string;
    readonly month: { readonly start: number; readonly end: number };
    readonly asOf: number;
    readonly spentUsd: number;
    readonly forecastUsd: number;
    readonly budgetUsd: number;
    readonly hardStop: boolean;
    /** Of spentUsd: what other gateways bill the account (billing.account.elsewhere). */
    readonly elsewhereUsd?: number;
}

export interface TeamUsage {
    readonly team: string;
    readonly month: { readonly start: number; readonly end: number };
    /** Steps are billed up to here (seconds). */
    readonly asOf: number;
    readonly gpuUsd: number;
    readonly floorUsd: number;
    readonly spentUsd: number;
    readonly forecastUsd: number;
    readonly budgetUsd: number | undefined;
    readonly hardStop: boolean;
    readonly pools: Readonly<Record<string, Charge>>;
}

/** What a fold charged, for the metrics (billing/index.ts). */
export interface FoldListener {
    charged(team: string, pool: string, c: Charge): void;
    unattributed(pool: string, seconds: number, usd: number): void;
}

function ratesOf(p: PoolConfig): NodePoolRates | undefined {
    const b = p.billing;
    return b && { nodeUsdPerHour: b.nodeUsdPerHour, gpusPerNode: b.gpusPerNode, minNodes: b.minNodes, floorNodes: b.floorNodes ?? b.minNodes };
}

export class Books {
    private readonly ledgers = new Map<string, PoolLedger>();
    private readonly priced: ReadonlyMap<string, PricedPool>;
    private monthStart = -Infinity;
    /** This month's charges: team -> pool -> charge. */
    private month = new Map<string, Record<string, Charge>>();
    /** GPU USD per team per hour started, for the forecast's trailing window (UNATTRIBUTED: idle time nobody used). */
    private readonly hourly = new Map<number, Record<string, number>>();
    /** This month's USD of idle time nobody used (the account pays it). */
    private unattributedMonth = 0;
    /** Steps with start < foldedUntil are in the books. */
    private foldedUntil: number | undefined;
    private started: number | undefined;
    readonly teams: readonly string[];

    constructor(
        private readonly config: GatewayConfig,
        private readonly store: UsageStore,
        private readonly listener?: FoldListener,
    ) {
        for (const p of config.pools) this.ledgers.set(p.name, new PoolLedger({ quietSeconds: p.coldStartSecondsEstimate }));
        // A pool without a price is its own node group at $0.
        this.priced = new Map(config.pools.map((p) => [p.name, { nodePool: p.billing?.nodePool ?? `pool:${p.name}`, rates: ratesOf(p) }]));
        const keyed = config.auth?.disabled ? ["anonymous"] : (config.auth?.keys ?? []).map((k) => k.team);
        this.teams = [...new Set(config.billing.teams ?? keyed)].sort();
    }

    get step(): number {
        return this.config.billing.stepSeconds;
    }

    /** Seconds up to which steps are billed (undefined before the first fold). */
    get asOf(): number | undefined {
        return this.foldedUntil;
    }

    /**
     * Bills every stored step that ends by `until`. The first fold starts a week and an hour
     * back (the forecast's window and the idle rule's trailing hour), or at the month's start.
     */
    async fold(until: number, now = until): Promise<void> {
        const end = Math.floor(until / this.step) * this.step;
        if (this.started === undefined) this.started = await this.store.since(now);
        const from = this.foldedUntil ?? Math.floor(Math.min(monthOf(now).start - 3600, now - FORECAST_WINDOW_SECONDS) / this.step) * this.step;
        if (end <= from) return;
        const byStart = new Map<number, Map<string, PoolStep>>();
        for (const p of this.config.pools) {
            for (const st of await this.store.read(p.name, from, end)) {
                let m = byStart.get(st.start);
                if (m === undefined) byStart.set(st.start, (m = new Map<string, PoolStep>()));
                m.set(p.name, st);
            }
        }
        for (const start of [...byStart.keys()].sort((a, b) => a - b)) this.bill(start, byStart.get(start)!);
        this.foldedUntil = end;
        this.prune(now);
    }

    /** One step of every pool that has one (rule.ts billStep). */
    private bill(start: number, steps: Map<string, PoolStep>): void {
        const month = monthOf(start).start;
        if (month > this.monthStart) {
            this.monthStart = month;
            this.month = new Map();
            this.unattributedMonth = 0;
        }
        for (const [pool, bill] of billStep(steps, this.priced, this.ledgers)) this.record(pool, start, bill);
    }

    private record(pool: string, start: number, bill: StepBill): void {
        const hour = Math.floor(start / 3600) * 3600;
        for (const [team, c] of Object.entries(bill.teams)) {
            let byPool = this.month.get(team);
            if (byPool === undefined) this.month.set(team, (byPool = {}));
            addCharges(byPool, { [pool]: c });
            const h = this.hourly.get(hour) ?? {};
            h[team] = (h[team] ?? 0) + c.usd;
            this.hourly.set(hour, h);
            this.listener?.charged(team, pool, c);
        }
        if (bill.unattributed.seconds > 0) {
            this.listener?.unattributed(pool, bill.unattributed.seconds, bill.unattributed.usd);
            this.unattributedMonth += bill.unattributed.usd;
            const h = this.hourly.get(hour) ?? {};
            h[UNATTRIBUTED] = (h[UNATTRIBUTED] ?? 0) + bill.unattributed.usd;
            this.hourly.set(hour, h);
        }
    }

    private prune(now: number): void {
        for (const h of this.hourly.keys()) if (h < now - FORECAST_WINDOW_SECONDS - 3600) this.hourly.delete(h);
    }

    /** Every team's GPU USD this month. */
    private gpuByTeam(): Record<string, number> {
        const out: Record<string, number> = {};
        for (const [team, byPool] of this.month) out[team] = Object.values(byPool).reduce((s, c) => s + c.usd, 0);
        return out;
    }

    /** A team's month so far and forecast, as of the last fold. */
    usage(team: string, now: number): TeamUsage {
        const month = monthOf(now);
        const current = this.monthStart === month.start;
        const pools = current ? (this.month.get(team) ?? {}) : {};
        const gpu = current ? this.gpuByTeam() : {};
        const billedFrom = Math.max(month.start, this.started ?? now);
        const asOf = Math.max(billedFrom, Math.min(now, this.foldedUntil ?? now));
        const floor = this.config.billing;
        const floorSoFar = (floor.floorUsdPerHour * (asOf - billedFrom)) / 3600;
        const floorUsd = splitFloor(floorSoFar, floor.floorSplit, this.teams, gpu)[team] ?? 0;
        const gpuUsd = gpu[team] ?? 0;

        // Forecast: the last week's GPU spend rate to the month's end, and the floor to the month's end.
        const since = Math.max(this.started ?? now, now - FORECAST_WINDOW_SECONDS);
        const span = Math.max(3600, asOf - since);
        const left = Math.max(0, month.end - asOf);
        const recent: Record<string, number> = {};
        for (const [h, byTeam] of this.hourly) if (h >= since - 3600) for (const [t, v] of Object.entries(byTeam)) recent[t] = (recent[t] ?? 0) + v;
        const gpuForecast: Record<string, number> = {};
        for (const t of new Set([...Object.keys(gpu), ...this.teams])) gpuForecast[t] = (gpu[t] ?? 0) + ((recent[t] ?? 0) / span) * left;
        const floorMonth = (floor.floorUsdPerHour * (month.end - billedFrom)) / 3600;
        const floorForecast = splitFloor(floorMonth, floor.floorSplit, this.teams, gpuForecast)[team] ?? 0;
        const spentUsd = gpuUsd + floorUsd;
        const limits = teamLimits(this.config, team);
        return {
            team,
            month,
            asOf,
            gpuUsd,
            floorUsd,
            spentUsd,
            forecastUsd: Math.max(spentUsd, (gpuForecast[team] ?? 0) + floorForecast),
            budgetUsd: limits.budgetUsdPerMonth,
            hardStop: limits.budgetHardStop ?? false,
            pools,
        };
    }

    /** Each listed team's part of the floor now (sums to 1 over the teams; splitFloor with this month's GPU spend). */
    floorShares(now: number): Record<string, number> {
        const gpu = this.monthStart === monthOf(now).start ? this.gpuByTeam() : {};
        return splitFloor(1, this.config.billing.floorSplit, this.teams, gpu);
    }

    /**
     * Everything this gateway billed this month together (billing.account): every team's spend (its GPU
     * time and floor share; the shares add up to the floor), plus idle time nobody used. Undefined without
     * an account.
     */
    account(now: number): AccountUsage | undefined {
        const a = this.config.billing.account;
        if (a === undefined) return undefined;
        const month = monthOf(now);
        const teams = this.knownTeams().map((t) => this.usage(t, now));
        const current = this.monthStart === month.start;
        const unattributed = current ? this.unattributedMonth : 0;
        // The floor goes to listed teams only; with none listed it is the account's all the same.
        const floorless =
            this.teams.length === 0
                ? (this.config.billing.floorUsdPerHour * Math.max(0, (teams[0]?.asOf ?? now) - Math.max(month.start, this.started ?? now))) / 3600
                : 0;
        const spentUsd = teams.reduce((s, u) => s + u.spentUsd, 0) + unattributed + floorless;
        const asOf = teams[0]?.asOf ?? now;
        const since = Math.max(this.started ?? now, now - FORECAST_WINDOW_SECONDS);
        let recent = 0;
        for (const [h, byTeam] of this.hourly) if (h >= since - 3600) recent += byTeam[UNATTRIBUTED] ?? 0;
        const idleForecast = unattributed + (recent / Math.max(3600, asOf - since)) * Math.max(0, month.end - asOf);
        const forecastUsd = Math.max(spentUsd, teams.reduce((s, u) => s + u.forecastUsd, 0) + idleForecast + floorless);
        return { name: a.name, month, asOf, spentUsd, forecastUsd, budgetUsd: a.budgetUsdPerMonth, hardStop: a.budgetHardStop };
    }

    /** Teams the books know: configured ones and any that was charged this month. */
    knownTeams(): string[] {
        return [...new Set([...this.teams, ...this.month.keys()])].sort();
    }
}
