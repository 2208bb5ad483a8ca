/**
 * Per-team dollars in Prometheus (issue 26): recording rules that price the gateway's billed
 * worker-seconds (gateway_team_attributed_seconds_total, by the attribution rule in
 * gateway/src/billing/rule.ts) at each worker pool's node price, the same price table as the
 * plan (capacity/cost.ts), plus each team's share of the floor; and the budget alerts.
 *
 * Series the gateway exports from its books are the same on every replica sharing a usage store
 * (aggregated with max); the rules never add replicas up.
 *
 * Every series is per serving namespace (a stack's gateway and workers), labelled `namespace`.
 * - gpuserve:pool_worker_usd_per_hour{pool}: one worker of the pool, above the floor, when the
 *   node group runs W workers (W = vLLM pods of its worker pools): the nodes W keeps up beyond the
 *   floor's, shared by the W (gateway/src/billing/rule.ts workerUsdPerSecond, at least one worker).
 * - gpuserve:team_gpu_usd_per_hour{team,pool}: the team's billed worker-seconds per second x that price.
 * - gpuserve:floor_usd_per_hour: cost.json's floor per hour; gpuserve:team_floor_usd_per_hour{team}:
 *   the team's part (gateway_team_floor_share: equal, or by GPU spend, billing.floorSplit).
 * - gpuserve:team_usd_per_hour{team}: both.
 * Month so far and forecast: a calendar month is not a PromQL range, so the alerts read the
 * gateway's own month figures (gateway_team_month_usd, gateway_team_month_forecast_usd), the
 * ones GET /v1/usage answers and the budget refusals use.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { floorNodes, poolNodePrice } from "../../capacity/cost";
import type { StackConfig } from "../../stacks/resolved";
import type { GpuPoolCost } from "../addons/monitoring";

const BILLING_RULE_GROUP = "gpuserve-team-cost";
const BUDGET_ALERT_GROUP = "gpuserve-team-budgets";

/** Worker pools of one GPU node group, priced as the gateway prices them (gatewayConfig.ts poolBilling). */
export interface NodeGroupBilling extends GpuPoolCost {
    /** The group's nodes in the floor (capacity/cost.ts floorNodes). */
    readonly floorNodes: number;
}

const regexQuote = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&");
const num = (n: number) => String(Math.round(n * 1e6) / 1e6);

/** How long a budget condition holds before its alert fires: spend only grows; the forecast moves with each class. */
const BUDGET_ALERT_FOR = { actual: "5m", forecast: "30m" } as const;

/**
 * The rules of one serving namespace (its gateway and workers): every selector and every recorded
 * series carries `namespace`, so several stacks' rules on one Prometheus (teams on a platform, whose
 * pools may have the same names) never collide.
 */
export function billingRecordingRules(groups: readonly NodeGroupBilling[], floorUsdPerHour: number, namespace: string) {
    const sorted = [...groups].sort((a, b) => a.name.localeCompare(b.name));
    const ns = `namespace="${namespace}"`;
    const rules: Array<{ record: string; expr: string; labels?: Record<string, string> }> = [];
    for (const g of sorted) {
        const pools = [...g.workerPools].sort();
        if (pools.length === 0) continue;
        // The namespace's workers on the group, at least one (a cold start on an empty group brings up a node).
        const w = `clamp_min((count(count by (namespace, pod) (vllm:num_requests_running{${ns},pool=~"${pools.map(regexQuote).join("|")}"})) or vector(0)), 1)`;
        const nodes = `clamp_min(ceil(${w} / ${Math.max(1, g.gpusPerNode)}), ${g.minNodes})`;
        const expr = `clamp_min(${nodes} - ${g.floorNodes}, 0) * ${num(g.nodeUsdPerHour)} / ${w}`;
        for (const pool of pools) rules.push({ record: "gpuserve:pool_worker_usd_per_hour", expr, labels: { namespace, pool } });
    }
    rules.push(
        {
            record: "gpuserve:team_gpu_usd_per_hour",
            expr: `sum by (namespace, team, pool) (max by (namespace, team, pool, kind) (rate(gateway_team_attributed_seconds_total{${ns}}[5m]))) * on (namespace, pool) group_left () gpuserve:pool_worker_usd_per_hour{${ns}}`,
        },
        { record: "gpuserve:floor_usd_per_hour", expr: `vector(${num(floorUsdPerHour)})`, labels: { namespace } },
        {
            record: "gpuserve:team_floor_usd_per_hour",
            expr: `max by (namespace, team) (gateway_team_floor_share{${ns}}) * on (namespace) group_left () gpuserve:floor_usd_per_hour{${ns}}`,
        },
        {
            record: "gpuserve:team_usd_per_hour",
            expr: `(sum by (namespace, team) (gpuserve:team_gpu_usd_per_hour{${ns}}) or 0 * gpuserve:team_floor_usd_per_hour{${ns}}) + on (namespace, team) (gpuserve:team_floor_usd_per_hour{${ns}} or 0 * sum by (namespace, team) (gpuserve:team_gpu_usd_per_hour{${ns}}))`,
        },
    );
    return rules;
}

/** Budget alerts at 80 % and 100 %, of the month's spend so far and of its forecast (labelled namespace and team). */
function budgetAlertRules(namespace: string) {
    const ns = `{namespace="${namespace}"}`;
    const spend = `max by (namespace, team) (gateway_team_month_usd${ns})`;
    const forecast = `max by (namespace, team) (gateway_team_month_forecast_usd${ns})`;
    const budget = `max by (namespace, team) (gateway_team_budget_usd${ns})`;
    const alert = (name: string, what: string, share: number, severity: string, summary: string, description: string) => ({
        alert: name,
        expr: `${what} >= ${share} * ${budget}`,
        for: what === spend ? BUDGET_ALERT_FOR.actual : BUDGET_ALERT_FOR.forecast,
        labels: { severity },
        annotations: { summary, description },
    });
    return [
        alert(
            "GpuserveTeamBudgetForecast80",
            forecast,
            0.8,
            "info",
            "Team {{ $labels.team }} is forecast to use 80 % of its monthly budget",
            'At the last 7 days\' pace team {{ $labels.team }} ends the month at ${{ $value | printf "%.2f" }}, 80 % or more of its budget (limits.teams.{{ $labels.team }}.budgetUsdPerMonth).',
        ),
        alert(
            "GpuserveTeamBudgetForecast100",
            forecast,
            1,
            "warning",
            "Team {{ $labels.team }} is forecast to exceed its monthly budget",
            'At the last 7 days\' pace team {{ $labels.team }} ends the month at ${{ $value | printf "%.2f" }}, over its budget: past 100 % its warm-ups and new batches will be refused.',
        ),
        alert(
            "GpuserveTeamBudget80",
            spend,
            0.8,
            "warning",
            "Team {{ $labels.team }} has used 80 % of its monthly budget",
            'Team {{ $labels.team }} has spent ${{ $value | printf "%.2f" }} this month, 80 % or more of its budget.',
        ),
        alert(
            "GpuserveTeamBudget100",
            spend,
            1,
            "critical",
            "Team {{ $labels.team }} has used its monthly budget",
            'Team {{ $labels.team }} has spent ${{ $value | printf "%.2f" }} this month, its whole budget: its warm-ups and new batches are refused (and its requests too with budgetHardStop) until the month ends or the budget is raised.',
        ),
        ...accountAlertRules(ns),
    ];
}

/** The same four for the gateway's account (billing.account: every team of the gateway together). */
function accountAlertRules(ns: string) {
    const spend = `max by (namespace, account) (gateway_account_month_usd${ns})`;
    const forecast = `max by (namespace, account) (gateway_account_month_forecast_usd${ns})`;
    const budget = `max by (namespace, account) (gateway_account_budget_usd${ns})`;
    const alert = (name: string, what: string, share: number, severity: string, summary: string) => ({
        alert: name,
        expr: `${what} >= ${share} * ${budget}`,
        for: what === spend ? BUDGET_ALERT_FOR.actual : BUDGET_ALERT_FOR.forecast,
        labels: { severity },
        annotations: {
            summary,
            description: `${summary}: $\{{ $value | printf "%.2f" }} (billing.account.budgetUsdPerMonth); past 100 % every team's warm-ups and new batches are refused.`,
        },
    });
    return [
        alert("GpuserveAccountBudgetForecast80", forecast, 0.8, "info", "Account {{ $labels.account }} is forecast to use 80 % of its monthly budget"),
        alert("GpuserveAccountBudgetForecast100", forecast, 1, "warning", "Account {{ $labels.account }} is forecast to exceed its monthly budget"),
        alert("GpuserveAccountBudget80", spend, 0.8, "warning", "Account {{ $labels.account }} has used 80 % of its monthly budget"),
        alert("GpuserveAccountBudget100", spend, 1, "critical", "Account {{ $labels.account }} has used its monthly budget"),
    ];
}

/** The PrometheusRule spec: the recording group every minute, the alerts beside it. */
export function billingRuleGroups(groups: readonly NodeGroupBilling[], floorUsdPerHour: number, namespace: string) {
    return [
        { name: BILLING_RULE_GROUP, interval: "1m", rules: billingRecordingRules(groups, floorUsdPerHour, namespace) },
        { name: BUDGET_ALERT_GROUP, interval: "1m", rules: budgetAlertRules(namespace) },
    ];
}

/** The stack's GPU node groups with the worker pools on each, priced from capacity/cost.ts. */
export function nodeGroupBilling(cfg: StackConfig): NodeGroupBilling[] {
    return cfg.gpuPools.map((p) => ({
        name: p.name,
        nodeUsdPerHour: poolNodePrice(cfg, p).usdPerHour,
        gpusPerNode: p.gpusPerNode,
        minNodes: p.minNodes,
        floorNodes: floorNodes(cfg, p),
        // Its own worker pools (a shared pool's workers are the platform's, billed by its shared gateway).
        workerPools: cfg.models.filter((m) => m.pool === p.name && !m.shared).map((m) => m.name),
    }));
}

/** The PrometheusRule object (needs the Prometheus Operator's CRDs). */
export function billingPrometheusRule(
    name: string,
    namespace: string,
    groups: readonly NodeGroupBilling[],
    floorUsdPerHour: number,
    opts: pulumi.CustomResourceOptions,
) {
    return new k8s.apiextensions.CustomResource(
        name,
        {
            apiVersion: "monitoring.coreos.com/v1",
            kind: "PrometheusRule",
            metadata: { name: "gpuserve-team-cost", namespace },
            spec: { groups: billingRuleGroups(groups, floorUsdPerHour, namespace) },
        },
        opts,
    );
}
