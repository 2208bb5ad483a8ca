/**
 * The plan's summary of the simulated month, per GPU pool and worker pool, every figure
 * labelled in words. Each line is one entry of a list: to report a new figure, add an
 * entry (a label and a function that returns the text, or null to skip the line).
 */
import type { ExpectedCost, PoolEstimate, WorkerPoolEstimate } from "../expected";
import { spanLabel } from "../span";

export interface SummaryLine<T> {
    readonly label: string;
    /** The value text; null leaves the line out. */
    readonly value: (x: T) => string | null;
}

export interface WorkerPoolContext {
    readonly expected: ExpectedCost;
    readonly pool: PoolEstimate;
    readonly wp: WorkerPoolEstimate;
}

const usd = (n: number) => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const count = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 1 });
const sec = (n: number | null) => (n === null ? "n/a" : `${n.toLocaleString("en-US", { maximumFractionDigits: n >= 100 ? 0 : 2 })} s`);
const share = (part: number, whole: number) => {
    if (whole <= 0 || part <= 0) return "";
    const pct = (100 * part) / whole;
    return ` (${pct < 0.1 ? "< 0.1" : pct.toLocaleString("en-US", { maximumFractionDigits: 1 })} % of arrivals)`;
};

const ratioText = (r: number | null) => (r === null ? "" : `; this policy: ${r.toFixed(2)}x`);
/** The release charge in words: one figure, or the range over worker pools. */
const releaseText = (e: ExpectedCost) => {
    const xs = [...new Set(Object.values(e.releaseChargeSeconds).map((x) => Math.round(x)))].sort((a, b) => a - b);
    return xs.length === 0 ? "nothing" : xs.length === 1 ? `${xs[0]} s` : `${xs[0]}-${xs[xs.length - 1]} s`;
};

/** Lines of the whole stack's simulated month. */
const EXPECTED_LINES: readonly SummaryLine<ExpectedCost>[] = [
    {
        label: "cost per month",
        value: (e) =>
            `${usd(e.usdPerMonth)} (${usd(e.fixedUsdPerMonth)} fixed + ${usd(e.gpuUsdPerMonth)} GPU nodes${e.nodeLaunchUsdPerMonth > 0 ? ` + ${usd(e.nodeLaunchUsdPerMonth)} image-cache volume initialization at node launches` : ""})`,
    },
    {
        label: "timetable",
        value: (e) => {
            const t = e.timetable;
            if (!t) return null;
            const files = t.calendars.map(
                (c) =>
                    `${c.file}: ${c.sessions} sessions${c.first ? ` ${c.first}..${c.last}` : ""}${c.weeklySeries > 0 ? `, ${c.weeklySeries} weekly series` : ""}${c.allDayEvents > 0 ? ` (${c.allDayEvents} all-day skipped)` : ""}`,
            );
            const triggers = Object.values(t.triggers).reduce((a, n) => a + n, 0);
            const dated = t.calendars.some((c) => c.sessions > 0);
            return (
                [...files, ...(t.weeklySessions > 0 ? [`${t.weeklySessions} weekly session${t.weeklySessions > 1 ? "s" : ""}`] : [])].join("; ") +
                `; ${triggers} cron trigger${triggers === 1 ? "" : "s"}${dated ? " (dated ones recur yearly: replace the calendar each term)" : ""}`
            );
        },
    },
    {
        label: "timetable warm-ups",
        value: (e) => {
            const t = e.timetable;
            if (!t) return null;
            const leads = [...new Set(Object.values(t.leadSeconds))].map((x) => `${x} s`).join(" / ");
            const w = t.without;
            const after = [...new Set(Object.values(t.afterSessionLookbackSeconds))].map((x) => `${x} s`).join(" / ");
            const released = after ? `, released once idle ${after} after a session` : "";
            return `${count(t.sessionsPerMonth)} sessions/month warmed ${leads} ahead${released}: GPU ${usd(e.gpuUsdPerMonth)}, P99 ${sec(e.p99LatencySeconds)}, ${count(e.coldStarts)} cold starts; without: ${usd(w.gpuUsdPerMonth)}, P99 ${sec(w.p99LatencySeconds)}, ${count(w.coldStarts)} cold starts`;
        },
    },
    { label: "GPU lower bound (oracle)", value: (e) => `${usd(e.oracleUsdPerMonth)} per month: GPU time for the answers alone, no idle GPU, no cold start` },
    {
        label: "GPU bound (clairvoyant)",
        value: (e) =>
            `${usd(e.clairvoyantUsdPerMonth)} per month: the best any policy knowing every arrival could do, paying cold starts and ${releaseText(e)} per node release${ratioText(e.clairvoyantRatio)}`,
    },
    {
        label: "GPU reference (optimal online rule)",
        value: (e) =>
            `${usd(e.onlineRuleUsdPerMonth)} per month: the best hold rule knowing the profile's rate, not the arrivals (latency ignored; not a bound)${ratioText(e.onlineRuleRatio)}`,
    },
    {
        label: "GPU reference (best hold in hindsight)",
        value: (e) =>
            `${usd(e.hindsightHoldUsdPerMonth)} per month: one hold time for every idle worker, the best in hindsight (latency ignored)${ratioText(e.hindsightHoldRatio)}`,
    },
];

/** Lines of one GPU pool (node group). */
const GPU_POOL_LINES: readonly SummaryLine<PoolEstimate>[] = [
    {
        label: "GPU node time per month",
        value: (p) =>
            `${count(p.nodeHoursPerMonth)} node-hours at ${usd(p.usdPerNodeHour)}/hour = ${usd(p.usdPerMonth)}; at most ${p.peakNodes} node(s) at once`,
    },
    { label: "node launches per month", value: (p) => count(p.nodeLaunchesPerMonth) },
    {
        label: "pods' disk (weights copies)",
        value: (p) => `${p.podStorage.disk === "instanceStore" ? "the NVMe instance store" : "the node's EBS volume"}: ${p.podStorage.reason}`,
    },
];

/** Lines of one worker pool (model Deployment): what its users see. */
const WORKER_POOL_LINES: readonly SummaryLine<WorkerPoolContext>[] = [
    {
        label: "requests per month",
        value: ({ wp }) =>
            `${count(wp.requests.arrived)} arrived, ${count(wp.requests.answered)} answered; ${count(wp.requests.held)} waited at the gateway for a worker`,
    },
    {
        label: "refused per month (429/503)",
        value: ({ wp, expected }) => {
            const r = wp.requests;
            const lim = expected.gatewayLimits;
            const parts = [
                `${count(r.rejected429)} with 429 (${lim.maxQueueDepth} requests already held)`,
                `${count(r.rejected503)} with 503 (held ${lim.maxWaitSeconds} s without a worker)`,
                ...(r.timedOut > 0 ? [`${count(r.timedOut)} with 504 (a worker did not start them in time)`] : []),
            ];
            return r.rejected === 0 ? "none" : `${count(r.rejected)}${share(r.rejected, r.arrived)}: ${parts.join(", ")}`;
        },
    },
    { label: "time to answer (queue + service), P95", value: ({ wp }) => `${sec(wp.p95LatencySeconds)}: 95 % of answered requests took at most this long` },
    { label: "time to answer (queue + service), P99", value: ({ wp }) => `${sec(wp.p99LatencySeconds)}: 99 % of answered requests took at most this long` },
    {
        label: "cold starts per month",
        value: ({ wp }) =>
            `${count(wp.coldStarts)} times a request found no worker ready and waited for one to start${wp.coldStartsUnanswered > 0 ? ` (${count(wp.coldStartsUnanswered)} of them with every waiting request refused)` : ""}`,
    },
    {
        label: "first request after a cold start",
        value: ({ wp }) =>
            wp.timeToFirstAnswerSeconds
                ? `waited ${sec(wp.timeToFirstAnswerSeconds.median)} for its answer (median; worst ${sec(wp.timeToFirstAnswerSeconds.max)})`
                : wp.coldStarts > 0
                  ? "never answered"
                  : null,
    },
];

function render<T>(lines: readonly SummaryLine<T>[], x: T, indent: string): string[] {
    const shown = lines.map((l) => [l.label, l.value(x)] as const).filter((l): l is readonly [string, string] => l[1] !== null);
    const width = Math.max(0, ...shown.map(([label]) => label.length));
    return shown.map(([label, value]) => `${indent}${`${label}:`.padEnd(width + 1)}  ${value}`);
}

/** The simulated month of a stack, as indented lines. */
export function expectedSummary(e: ExpectedCost, indent = "  "): string[] {
    const out = [`${indent}expected month for the '${e.profile}' traffic profile (${spanLabel(e)}, scaled to 730 hours; npm run compare simulates the same):`];
    out.push(...render(EXPECTED_LINES, e, indent + "  "));
    for (const pool of e.perPool) {
        out.push(`${indent}  GPU pool ${pool.pool} (${pool.gpuType}, ${pool.instanceType} ${pool.capacityType}):`);
        out.push(...render(GPU_POOL_LINES, pool, indent + "    "));
        for (const wp of pool.workerPools) {
            out.push(`${indent}    worker pool ${wp.name} (${wp.model}):`);
            out.push(...render(WORKER_POOL_LINES, { expected: e, pool, wp }, indent + "      "));
        }
    }
    return out;
}
