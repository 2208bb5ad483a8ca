/**
 * Per-team bill metrics, registered on the gateway's registry (metrics.ts stays as it was).
 * - gateway_team_worker_seconds_total{team,pool}: worker-seconds this replica's requests of the
 *   team held (slot-seconds / slots per worker). Per replica: aggregate with sum().
 * - The rest come from the books (books.ts), the same on every replica sharing a usage store:
 *   aggregate with max(). gateway_team_attributed_seconds_total{team,pool,kind} (kind busy |
 *   warmup | idle | cold_start, the attribution rule's reasons), gateway_team_usd_total{team,pool}
 *   (GPU USD), gateway_pool_unattributed_seconds_total{pool}, and per team this month's
 *   gateway_team_month_usd, gateway_team_month_forecast_usd, gateway_team_budget_usd (teams with a
 *   budget), gateway_team_floor_share (0-1); gateway_billing_floor_usd_per_hour; with billing.account,
 *   gateway_account_month_usd, gateway_account_month_forecast_usd, gateway_account_budget_usd{account}.
 */
import { Counter, Gauge } from "prom-client";
import type { Metrics } from "../metrics";

export class BillingMetrics {
    readonly workerSeconds: Counter;
    readonly attributed: Counter;
    readonly usd: Counter;
    readonly unattributed: Counter;
    readonly month: Gauge;
    readonly forecast: Gauge;
    readonly budget: Gauge;
    readonly floorShare: Gauge;
    readonly floor: Gauge;
    readonly accountMonth: Gauge;
    readonly accountForecast: Gauge;
    readonly accountBudget: Gauge;
    /** Set by the books' owner (index.ts): refreshes the month gauges at scrape time. */
    collector?: () => void;

    constructor(metrics: Metrics) {
        const registers = [metrics.registry];
        this.workerSeconds = new Counter({
            name: "gateway_team_worker_seconds_total",
            help: "Worker-seconds the team's requests held on this replica: seconds holding a worker slot / slots per worker (billing/meter.ts)",
            labelNames: ["team", "pool"],
            registers,
        });
        this.attributed = new Counter({
            name: "gateway_team_attributed_seconds_total",
            help: "Worker-seconds billed to the team by the attribution rule (billing/rule.ts), by kind: busy, warmup, idle, cold_start; the same on every replica sharing a usage store",
            labelNames: ["team", "pool", "kind"],
            registers,
        });
        this.usd = new Counter({
            name: "gateway_team_usd_total",
            help: "GPU USD billed to the team (attributed worker-seconds at the node group's price above the floor); the same on every replica sharing a usage store",
            labelNames: ["team", "pool"],
            registers,
        });
        this.unattributed = new Counter({
            name: "gateway_pool_unattributed_seconds_total",
            help: "Idle worker-seconds of the pool nobody used it around (the platform's)",
            labelNames: ["pool"],
            registers,
        });
        this.month = new Gauge({
            name: "gateway_team_month_usd",
            help: "USD the team spent this calendar month (UTC): GPU time billed to it plus its floor share",
            labelNames: ["team"],
            registers,
            collect: () => this.collector?.(),
        });
        this.forecast = new Gauge({
            name: "gateway_team_month_forecast_usd",
            help: "Forecast of the team's USD at the month's end: the last 7 days' GPU spend rate and the floor to the month's end",
            labelNames: ["team"],
            registers,
        });
        this.budget = new Gauge({
            name: "gateway_team_budget_usd",
            help: "The team's monthly budget in USD (limits.teams.<team>.budgetUsdPerMonth); absent without one",
            labelNames: ["team"],
            registers,
        });
        this.floorShare = new Gauge({
            name: "gateway_team_floor_share",
            help: "The team's part of the floor (0-1; billing.floorSplit: equal, or by this month's GPU spend)",
            labelNames: ["team"],
            registers,
        });
        this.floor = new Gauge({
            name: "gateway_billing_floor_usd_per_hour",
            help: "USD/hour of the platform floor the gateway's teams share (billing.floorUsdPerHour)",
            registers,
        });
        this.accountMonth = new Gauge({
            name: "gateway_account_month_usd",
            help: "USD everything this gateway billed this month (billing.account: its teams, their floor, idle time nobody used)",
            labelNames: ["account"],
            registers,
        });
        this.accountForecast = new Gauge({
            name: "gateway_account_month_forecast_usd",
            help: "Forecast of the account's USD at the month's end",
            labelNames: ["account"],
            registers,
        });
        this.accountBudget = new Gauge({
            name: "gateway_account_budget_usd",
            help: "The account's monthly budget in USD (billing.account.budgetUsdPerMonth)",
            labelNames: ["account"],
            registers,
        });
    }
}
