/**
 * GET /v1/usage: the calling team's month (never another team's: the team comes from the API
 * key, and the route takes no parameter). Spend so far (GPU time billed to the team plus its
 * floor share), forecast to the month's end, budget, and the parts by pool.
 */
import type { FastifyInstance } from "fastify";
import type { Billing } from "./index";
import type { AccountUsage, TeamUsage } from "./books";

const usd = (n: number) => Math.round(n * 1e4) / 1e4;
const sec = (n: number) => Math.round(n * 1e3) / 1e3;
const iso = (t: number) => new Date(Math.round(t * 1000)).toISOString();

/** The JSON answer of GET /v1/usage. */
function usageBody(u: TeamUsage, floor: { usdPerHour: number; split: string; teams: number }, a?: AccountUsage) {
    const accountOver = a !== undefined && a.spentUsd >= a.budgetUsd;
    const over = u.budgetUsd !== undefined && u.spentUsd >= u.budgetUsd;
    const refusing = over || accountOver;
    const hardStop = (over && u.hardStop) || (accountOver && a.hardStop);
    return {
        object: "usage",
        team: u.team,
        currency: "usd",
        period: { start: iso(u.month.start), end: iso(u.month.end) },
        as_of: iso(u.asOf),
        spent_usd: usd(u.spentUsd),
        gpu_usd: usd(u.gpuUsd),
        floor_usd: usd(u.floorUsd),
        forecast_usd: usd(u.forecastUsd),
        budget_usd: u.budgetUsd ?? null,
        budget_used: u.budgetUsd === undefined ? null : Math.round((u.spentUsd / u.budgetUsd) * 1e4) / 1e4,
        over_budget: over,
        hard_stop: u.hardStop,
        /** What the gateway refuses this team now. */
        refused: refusing ? (hardStop ? ["warmup", "batch", "chat"] : ["warmup", "batch"]) : [],
        pools: Object.entries(u.pools)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([pool, c]) => ({
                pool,
                usd: usd(c.usd),
                worker_seconds: { busy: sec(c.busy), warmup: sec(c.warmup), idle: sec(c.idle), cold_start: sec(c.coldStart) },
            })),
        floor: { usd_per_hour: floor.usdPerHour, split: floor.split, teams: floor.teams },
        // Everything this gateway bills together, when it has a budget of its own (billing.account).
        ...(a
            ? {
                  account: {
                      name: a.name,
                      spent_usd: usd(a.spentUsd),
                      // Of it, what other gateways (a platform's shared pools) bill the account.
                      elsewhere_usd: usd(a.elsewhereUsd ?? 0),
                      forecast_usd: usd(a.forecastUsd),
                      budget_usd: a.budgetUsd,
                      budget_used: Math.round((a.spentUsd / a.budgetUsd) * 1e4) / 1e4,
                      over_budget: accountOver,
                      hard_stop: a.hardStop,
                  },
              }
            : {}),
    };
}

/** Registers GET /usage on the /v1 scope (after its admission hook, which sets request.gw.team). */
export function registerUsageRoutes(v1: FastifyInstance, billing: Billing): void {
    v1.get("/usage", async (request) => {
        const team = request.gw.team ?? "anonymous";
        const b = billing.books;
        const cfg = billing.config.billing;
        const u = await billing.usage(team);
        return usageBody(u, { usdPerHour: cfg.floorUsdPerHour, split: cfg.floorSplit, teams: b.teams.length }, billing.account());
    });
}
