/**
 * Per-team bills in the gateway (issue 26): each pool's meter (meter.ts) records what the
 * pool's workers did and which team held them; every few seconds this replica writes its
 * closed steps to the usage store (store.ts) and folds all replicas' steps into the books
 * (books.ts) with the attribution rule (rule.ts). Budgets: past 100 % a team's warm-ups and
 * new batches are refused, and with `budgetHardStop` its chat requests too.
 * Metrics: billing/metrics.ts.
 */
import { randomUUID } from "crypto";
import { Redis } from "ioredis";
import { request } from "undici";
import type { GatewayConfig, PoolConfig } from "../config";
import { teamLimits } from "../config";
import { GatewayError } from "../errors";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import type { WarmupEntry } from "../warmupStore";
import { AccountUsage, Books, TeamUsage } from "./books";
import { BillingMetrics } from "./metrics";
import { PoolMeter, PoolStep } from "./meter";
import { Charge } from "./rule";
import { MemoryUsage, RedisUsage, UsageStore } from "./store";

/** What a pool tells its meter (gateway/src/pool.ts calls these). */
export interface PoolUsageHooks {
    take(team: string): void;
    release(team: string): void;
    enqueue(team: string): void;
    dequeue(team: string): void;
    workers(n: number): void;
}

/** Refused because of the budget: an OpenAI spend-limit error (429 insufficient_quota) that retrying does not fix. */
class BudgetError extends GatewayError {
    constructor(message: string) {
        super(429, "insufficient_quota", "budget_exceeded", message);
    }

    override get shouldRetry(): boolean {
        return false;
    }
}

export interface BillingOptions {
    /** Clock, ms (tests). @default Date.now */
    readonly now?: () => number;
    /** @default Valkey when config.batch is set, else memory */
    readonly store?: UsageStore;
    /** Active warm-ups (warmupStore.ts), read at every flush. */
    readonly warmups?: (now: number) => Promise<readonly WarmupEntry[]>;
}

/** The store of a gateway config: the batch store's Valkey when there is one. */
function usageStoreFor(config: GatewayConfig): UsageStore {
    if (!config.batch) return new MemoryUsage();
    const redis = new Redis(config.batch.redisUrl, {
        password: process.env.GATEWAY_BATCH_REDIS_PASSWORD || undefined,
        connectionName: "gpuserve-gateway-usage",
        maxRetriesPerRequest: 1,
        commandTimeout: 5000,
    });
    redis.on("error", () => undefined); // failures reach the fold as rejected commands
    return new RedisUsage(redis, config.batch.keyPrefix);
}

const KIND_LABEL = { busy: "busy", warmup: "warmup", idle: "idle", coldStart: "cold_start" } as const;
/** Steps this replica keeps while the store does not answer (a day of minutes per pool). */
const MAX_PENDING_STEPS = 1440;

const money = (n: number) => `$${n.toFixed(2)}`;

export class Billing {
    readonly replica = randomUUID().slice(0, 12);
    readonly books: Books;
    private readonly store: UsageStore;
    private readonly meters = new Map<string, PoolMeter>();
    private readonly pending = new Map<string, PoolStep[]>();
    private readonly now: () => number;
    private timer: NodeJS.Timeout | undefined;
    private running: Promise<void> | undefined;
    private failing = false;
    private readyResolve!: () => void;
    /** Resolves once the books hold the month (the first fold). */
    readonly ready = new Promise<void>((r) => (this.readyResolve = r));
    private readonly m: BillingMetrics;

    constructor(
        readonly config: GatewayConfig,
        metrics: Metrics,
        private readonly log: Logger,
        private readonly opts: BillingOptions = {},
    ) {
        this.now = opts.now ?? Date.now;
        this.store = opts.store ?? usageStoreFor(config);
        this.m = new BillingMetrics(metrics);
        this.books = new Books(config, this.store, {
            charged: (team, pool, c) => this.count(team, pool, c),
            unattributed: (pool, seconds) => this.m.unattributed.inc({ pool }, seconds),
        });
        // Series from zero for every configured team and pool, so rates and dashboards work before the first request.
        for (const p of config.pools) {
            this.m.unattributed.inc({ pool: p.name }, 0);
            for (const team of this.books.teams) this.count(team, p.name, { busy: 0, warmup: 0, idle: 0, coldStart: 0, usd: 0 }, true);
        }
        this.m.floor.set(config.billing.floorUsdPerHour);
        this.m.collector = () => this.collect();
    }

    private collect(): void {
        const now = this.now() / 1000;
        for (const team of this.books.knownTeams()) {
            const u = this.books.usage(team, now);
            this.m.month.set({ team }, u.spentUsd);
            this.m.forecast.set({ team }, u.forecastUsd);
            if (u.budgetUsd !== undefined) this.m.budget.set({ team }, u.budgetUsd);
        }
        for (const [team, share] of Object.entries(this.books.floorShares(now))) this.m.floorShare.set({ team }, share);
        const a = this.account();
        if (a) {
            this.m.accountMonth.set({ account: a.name }, a.spentUsd);
            this.m.accountForecast.set({ account: a.name }, a.forecastUsd);
            this.m.accountBudget.set({ account: a.name }, a.budgetUsd);
        }
    }

    private count(team: string, pool: string, c: Charge, zero = false): void {
        for (const [kind, label] of Object.entries(KIND_LABEL))
            this.m.attributed.inc({ team, pool, kind: label }, zero ? 0 : c[kind as keyof typeof KIND_LABEL]);
        this.m.usd.inc({ team, pool }, zero ? 0 : c.usd);
        if (zero) this.m.workerSeconds.inc({ team, pool }, 0);
    }

    private get stepSeconds(): number {
        return this.config.billing.stepSeconds;
    }

    /** How often this replica writes its steps and folds the store. */
    private get flushSeconds(): number {
        return Math.min(15, Math.max(0.05, this.stepSeconds / 4));
    }

    /** The hooks a pool calls (gateway/src/pool.ts). */
    hooks(pool: PoolConfig): PoolUsageHooks {
        const meter = new PoolMeter(pool.maxConcurrentPerUpstream ?? 1, this.stepSeconds, this.now() / 1000);
        this.meters.set(pool.name, meter);
        const t = () => this.now() / 1000;
        return {
            take: (team) => meter.take(team, t()),
            release: (team) => meter.release(team, t()),
            enqueue: (team) => meter.enqueue(team, t()),
            dequeue: (team) => meter.dequeue(team, t()),
            workers: (n) => meter.setWorkers(n, t()),
        };
    }

    start(): void {
        const tick = () => {
            this.timer = setTimeout(() => void this.cycle(this.flushSeconds * 2).finally(tick), this.flushSeconds * 1000);
            this.timer.unref();
        };
        void this.cycle(this.flushSeconds * 2).finally(tick);
    }

    /** Writes this replica's closed steps, then folds what every replica has written up to now (tests). */
    settle(): Promise<void> {
        return this.cycle(0);
    }

    /** Writes this replica's closed steps without folding (tests: several replicas write before any folds). */
    write(): Promise<void> {
        return this.cycle(undefined);
    }

    /** One flush and fold; folds only steps that ended `graceSeconds` ago (other replicas write theirs every flush). */
    private cycle(graceSeconds: number | undefined): Promise<void> {
        const run = async () => {
            const now = this.now() / 1000;
            try {
                await this.flush(now);
                if (graceSeconds !== undefined) {
                    await this.books.fold(now - graceSeconds, now);
                    await this.readElsewhere();
                }
                if (this.failing) this.log.info("usage store answers again: bills are current");
                this.failing = false;
            } catch (e) {
                if (!this.failing)
                    this.log.warn(
                        { err: (e as Error).message },
                        "usage store unreachable: bills and budgets use the last steps folded; this replica keeps its steps until it answers",
                    );
                this.failing = true;
            } finally {
                if (this.books.asOf !== undefined) this.readyResolve();
            }
        };
        // One cycle at a time; a caller arriving during one waits for it, then runs its own.
        const next = (this.running ?? Promise.resolve()).then(run);
        this.running = next;
        return next;
    }

    private async flush(now: number, last = false): Promise<void> {
        let warm: readonly WarmupEntry[] = [];
        if (this.opts.warmups) {
            try {
                warm = await this.opts.warmups(now * 1000);
            } catch {
                // The warm-up store is down: warm-ups are billed from the next read.
            }
        }
        for (const [pool, meter] of this.meters) {
            meter.setWarmups(
                warm.filter((w) => w.pool === pool).map((w) => w.team),
                now,
            );
            const steps = meter.flush(now, last);
            for (const st of steps) for (const [team, b] of Object.entries(st.busy)) this.m.workerSeconds.inc({ team, pool }, b);
            // Steps at zero with nothing going on are not stored: the rule reads a gap as exactly that.
            const worth = steps.filter(
                (st) =>
                    st.workerSeconds > 0 || !st.zeroAtEnd || st.warmups.length > 0 || Object.keys(st.busy).length > 0 || Object.keys(st.heldAtZero).length > 0,
            );
            const queue = [...(this.pending.get(pool) ?? []), ...worth].slice(-MAX_PENDING_STEPS);
            this.pending.set(pool, queue);
        }
        for (const [pool, queue] of this.pending) {
            if (queue.length === 0) continue;
            await this.store.write(pool, this.replica, queue);
            this.pending.set(pool, []);
        }
    }

    /** Everything this gateway bills together (billing.account) and its spend elsewhere, as of the last fold. */
    account(): AccountUsage | undefined {
        const a = this.books.account(this.now() / 1000);
        if (!a) return undefined;
        const month = a.month.start;
        const other = this.elsewhere.filter((e) => e.month === month);
        const spent = other.reduce((s, e) => s + e.spentUsd, 0);
        const forecast = other.reduce((s, e) => s + e.forecastUsd, 0);
        return { ...a, spentUsd: a.spentUsd + spent, forecastUsd: a.forecastUsd + forecast, elsewhereUsd: spent };
    }

    /** The account's last spend read from each other gateway (billing.account.elsewhere). */
    private elsewhere: Array<{ url: string; month: number; spentUsd: number; forecastUsd: number }> = [];
    private elsewhereFailing = new Set<string>();

    /** Reads the account's spend on the other gateways; a gateway that does not answer keeps its last figure. */
    private async readElsewhere(): Promise<void> {
        const list = this.config.billing.account?.elsewhere ?? [];
        await Promise.all(
            list.map(async ({ url, apiKeyEnv }) => {
                try {
                    const key = process.env[apiKeyEnv];
                    if (!key) throw new Error(`${apiKeyEnv} is not set`);
                    const res = await request(`${url}/v1/usage`, { headers: { authorization: `Bearer ${key}` }, headersTimeout: 5000, bodyTimeout: 5000 });
                    const body = (await res.body.json()) as { spent_usd?: unknown; forecast_usd?: unknown; period?: { start?: unknown } };
                    if (
                        res.statusCode !== 200 ||
                        typeof body.spent_usd !== "number" ||
                        typeof body.forecast_usd !== "number" ||
                        typeof body.period?.start !== "string"
                    ) {
                        throw new Error(`GET /v1/usage answered ${res.statusCode}`);
                    }
                    const entry = { url, month: Date.parse(body.period.start) / 1000, spentUsd: body.spent_usd, forecastUsd: body.forecast_usd };
                    this.elsewhere = [...this.elsewhere.filter((e) => e.url !== url), entry];
                    if (this.elsewhereFailing.delete(url)) this.log.info({ url }, "the account's other gateway answers again");
                } catch (e) {
                    if (!this.elsewhereFailing.has(url))
                        this.log.warn({ url, err: (e as Error).message }, "cannot read the account's spend on another gateway: its last figure stands");
                    this.elsewhereFailing.add(url);
                }
            }),
        );
    }

    /** The calling team's month; waits a moment for the first fold. */
    async usage(team: string): Promise<TeamUsage> {
        await Promise.race([this.ready, new Promise((r) => setTimeout(r, 5000).unref())]);
        return this.books.usage(team, this.now() / 1000);
    }

    /** The refusal for a team past its budget (or past its account's), or undefined. `what`: the request it is about. */
    refusal(team: string, what: "warmup" | "batch" | "chat"): GatewayError | undefined {
        const refused = what === "warmup" ? "warm-ups are refused" : what === "batch" ? "new batches are refused" : "its requests are refused (budgetHardStop)";
        const still = what === "chat" ? "" : " Requests to models that are already running still work.";
        const account = this.config.billing.account;
        if (account && (what !== "chat" || account.budgetHardStop)) {
            const a = this.account()!;
            if (a.spentUsd >= a.budgetUsd) {
                const until = new Date(a.month.end * 1000).toISOString().slice(0, 10);
                return new BudgetError(
                    `'${a.name}' (every team of this gateway) has spent ${money(a.spentUsd)} of its ${money(a.budgetUsd)} monthly budget (billing.account.budgetUsdPerMonth): ${refused.replace("its requests", "requests")} until the month ends (${until} UTC) or the budget is raised.${still}`,
                );
            }
        }
        const limits = teamLimits(this.config, team);
        const budget = limits.budgetUsdPerMonth;
        if (budget === undefined) return undefined;
        if (what === "chat" && !limits.budgetHardStop) return undefined;
        const u = this.books.usage(team, this.now() / 1000);
        if (u.spentUsd < budget) return undefined;
        const key =
            this.config.limits.teams[team]?.budgetUsdPerMonth !== undefined ? `limits.teams.${team}.budgetUsdPerMonth` : "limits.default.budgetUsdPerMonth";
        const until = new Date(u.month.end * 1000).toISOString().slice(0, 10);
        return new BudgetError(
            `Team '${team}' has spent ${money(u.spentUsd)} of its ${money(budget)} monthly budget (${key}): ${refused} until the month ends (${until} UTC) or the budget is raised.${still}`,
        );
    }

    async close(): Promise<void> {
        clearTimeout(this.timer);
        await this.running?.catch(() => undefined);
        // The minute in progress too: another replica, or this one after a restart, bills the rest of it.
        await this.flush(this.now() / 1000, true).catch(() => undefined);
        await this.store.close();
    }
}
