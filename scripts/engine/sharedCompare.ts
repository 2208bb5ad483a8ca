/**
 * `npm run compare -- --shared <platform> <team>...`: the teams of a platform in two arrangements,
 * side by side, before anyone spends money (issue 26 point 4).
 *
 * - **Standalone**: each team as a stack of its own (its own cluster, the platform's GPU node
 *   groups its models use, the shared models as pools of its own), simulated like any stack: what
 *   the team would pay alone.
 * - **Shared**: the teams on the platform. Each team's own pools are simulated with its traffic and
 *   are its own; the platform's shared pools are simulated once with every team's traffic on them
 *   (capacity/bill/jointTrace.ts) and split by the gateway's attribution rule; the platform's fixed
 *   cost (control plane, NAT, load balancer, system nodes, caches) plus what the rule leaves of the
 *   shared nodes is the floor, shared equally or by GPU spend (gpuserve:billing.floorSplit of the
 *   platform). A team's own weights bucket is its own.
 *
 * The same span and seeds for both arrangements; the team bills add up to the totals in cents.
 */
import { sharedMonth, type OwnPools, type PlannedBill, type SharedMonth } from "../../capacity/bill/sharedMonth";
import { jointInput, type TeamPart } from "../../capacity/bill/jointTrace";
import { estimatedColdStartSeconds } from "../../capacity/bounds/clairvoyant";
import { buildSimInput, fixedUsdPerMonth, simulate, simulateStack } from "../../capacity/sim";
import { OUTCOME } from "../../capacity/sim/types";
import type { BatchTrace } from "../../capacity/traffic/batch";
import { ConfigError } from "../../stacks/errors";
import { rawStackConfig } from "../../stacks/load";
import { PROJECT } from "../../stacks/schema";
import { standaloneEquivalent } from "../../stacks/standaloneEquivalent";
import { parseStackConfig } from "../../stacks/validate";
import type { StackConfig } from "../../stacks/resolved";
import { readStackFile } from "./stackFile";

/** The shape of plan/compare/compare.json (shared/design.md "Per-team cost"): exactly these keys. */
export interface CompareJson {
    readonly standalone: {
        readonly totalUsdPerMonth: number;
        readonly teams: Record<string, { usdPerMonth: number; p95LatencySeconds: number | null; p99LatencySeconds: number | null }>;
    };
    readonly shared: {
        readonly totalUsdPerMonth: number;
        readonly floorUsdPerMonth: number;
        readonly teams: Record<
            string,
            { usdPerMonth: number; gpuUsdPerMonth: number; floorShareUsdPerMonth: number; p95LatencySeconds: number | null; p99LatencySeconds: number | null }
        >;
    };
}

export interface SharedComparison {
    readonly platform: string;
    readonly teams: readonly string[];
    readonly days: number;
    readonly floorSplit: "equal" | "usage";
    readonly standalone: CompareJson["standalone"];
    readonly shared: SharedMonth;
    /** What the reader should know (batch lines of shared pools left out, ...). */
    readonly notes: readonly string[];
}

export interface CompareSharedOptions {
    readonly days: number;
    /** Loads a stack's validated config (scripts/compare.ts loadStack: a team with its platform's planned outputs). */
    readonly load: (stack: string) => StackConfig;
    /** Where the stack files are (the standalone equivalent reads the team's own file). */
    readonly root: string;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Latencies of a run's answered interactive requests (batch lines have none). */
function answeredLatencies(input: ReturnType<typeof buildSimInput>, result: ReturnType<typeof simulate>): number[] {
    const flags = (input.trace as BatchTrace).batch;
    const out: number[] = [];
    for (let r = 0; r < input.trace.times.length; r++)
        if (result.outcome[r] === OUTCOME.answered && !(flags && flags[r] > 0)) out.push(result.completion[r] - input.trace.times[r]);
    return out;
}

/**
 * A team as a stack of its own (D's stacks/standaloneEquivalent.ts: the platform's node groups its models
 * use and the shared models as its own pools, its own cluster), read from the team's own stack file.
 */
function standaloneOf(root: string, team: string, config: StackConfig): StackConfig {
    const p = config.platform;
    if (!p)
        throw new ConfigError([
            {
                key: `${PROJECT}:platformStack`,
                message: `stack '${team}' is not a team on a platform`,
                fix: "compare --shared takes a platform and its team stacks",
            },
        ]);
    const { raw } = rawStackConfig(readStackFile(root, team, PROJECT).config);
    return parseStackConfig({ ...standaloneEquivalent(raw, p), environment: raw.environment ?? team });
}

export function compareShared(platformStack: string, teams: readonly string[], opts: CompareSharedOptions): SharedComparison {
    const platform = opts.load(platformStack);
    const configs = teams.map((t) => ({ team: t, config: opts.load(t) }));
    const notes: string[] = [];
    for (const { team, config } of configs) {
        if (config.role !== "team" || config.platform?.stack !== platformStack) {
            throw new ConfigError([
                {
                    key: `${PROJECT}:platformStack`,
                    message: `stack '${team}' is not a team of platform '${platformStack}'`,
                    fix: `list only the platform's teams: npm run compare -- --shared ${platformStack} <team>...`,
                },
            ]);
        }
    }
    const outputs = configs[0]?.config.platform;
    const registered = outputs ? Object.keys(outputs.teams).sort() : [];
    const missing = registered.filter((t) => !teams.includes(t));
    if (missing.length > 0) {
        throw new ConfigError([
            {
                key: `${PROJECT}:teams`,
                message: `platform '${platformStack}' registers ${registered.join(", ")}; the floor is shared by all of them, so the bills add up only with every one: ${missing.join(", ")} missing`,
                fix: `npm run compare -- --shared ${platformStack} ${registered.join(" ")}`,
            },
        ]);
    }
    const days = opts.days;

    // Standalone: each team alone, a whole stack.
    const standaloneTeams: CompareJson["standalone"]["teams"] = {};
    for (const { team, config } of configs) {
        const alone = simulateStack(standaloneOf(opts.root, team, config), { days, root: opts.root });
        standaloneTeams[team] = {
            usdPerMonth: alone.expected.usdPerMonth,
            p95LatencySeconds: alone.expected.p95LatencySeconds,
            p99LatencySeconds: alone.expected.p99LatencySeconds,
        };
    }
    const standaloneTotal = Math.round(Object.values(standaloneTeams).reduce((s, t) => s + t.usdPerMonth * 100, 0)) / 100;

    const { month: shared, notes: sharedNotes } = sharedArrangement(platform, configs, registered, { days, root: opts.root });
    notes.push(...sharedNotes);
    return {
        platform: platformStack,
        teams: [...teams],
        days,
        floorSplit: platform.billing.floorSplit,
        standalone: { totalUsdPerMonth: standaloneTotal, teams: standaloneTeams },
        shared,
        notes,
    };
}

/**
 * The teams on the platform: each team's own pools simulated alone (its own), the shared pools
 * once with the traffic of every team given, split by the rule; the floor among the `registered`.
 */
function sharedArrangement(
    platform: StackConfig,
    configs: ReadonlyArray<{ team: string; config: StackConfig }>,
    registered: readonly string[],
    opts: { days: number; root: string },
): { month: SharedMonth; notes: string[] } {
    const { days } = opts;
    const notes: string[] = [];
    const own: OwnPools[] = [];
    const parts: TeamPart[] = [];
    for (const { team, config } of configs) {
        const mine = config.models.filter((m) => !m.shared);
        // Its own storage (weights bucket, compile cache) is its own: the team cost.json's fixed part.
        const storage = fixedUsdPerMonth(config);
        if (mine.length > 0) {
            const sim = simulateStack({ ...config, models: mine }, { days, root: opts.root });
            own.push({ team, gpuUsdPerMonth: sim.expected.gpuUsdPerMonth + storage, latencies: answeredLatencies(sim.input, sim.result) });
        } else own.push({ team, gpuUsdPerMonth: storage, latencies: [] });
        const poolMap = new Map<number, number>();
        config.models.forEach((m, i) => {
            if (!m.shared) return;
            const j = platform.models.findIndex((pm) => pm.name === m.name);
            if (j >= 0) poolMap.set(i, j);
        });
        if (poolMap.size > 0) parts.push({ team, input: buildSimInput(config, { days, root: opts.root }), poolMap });
    }
    let sharedRun;
    if (parts.length > 0) {
        const base = buildSimInput(platform, { days, root: opts.root });
        const joint = jointInput(base, parts);
        if (joint.skippedBatchLines > 0)
            notes.push(
                `${joint.skippedBatchLines} batch lines to shared pools are not in the shared simulation (batch runs on spare capacity; it is billed as busy time when it runs)`,
            );
        const quiet = new Map(platform.models.map((m) => [m.name, Math.round(estimatedColdStartSeconds(platform, m))]));
        sharedRun = { input: joint.input, result: simulate(joint.input), quietSeconds: (pool: string) => quiet.get(pool) ?? 600 };
    }
    const month = sharedMonth({
        platformFloorUsdPerMonth: fixedUsdPerMonth(platform),
        floorSplit: platform.billing.floorSplit,
        teams: registered,
        own,
        shared: sharedRun,
    });
    if (month.sharedPools.unattributedUsdPerMonth !== 0) {
        notes.push(
            `shared pools: $${round2(month.sharedPools.nodeUsdPerMonth)}/month of nodes, $${round2(month.sharedPools.attributedUsdPerMonth)} billed to teams by the rule; the $${round2(month.sharedPools.unattributedUsdPerMonth)} difference (${month.sharedPools.unattributedUsdPerMonth < 0 ? "the rule bills a cold start from the first waiting request, before the node bills" : "node boot, the autoscaler's scale-down delay, idle time nobody used"}) is shared with the floor`,
        );
    }
    return { month, notes };
}

/**
 * The bill of a team stack, at plan time: the platform's registered teams whose stack files are here
 * (their traffic on the shared pools counts), the same rule as the gateway. A registered team without
 * a stack file here still shares the floor; its use of the shared pools is unknown (a note says so).
 */
export function plannedBill(team: string, config: StackConfig, opts: CompareSharedOptions & { readonly stacksHere: readonly string[] }): PlannedBill {
    const p = config.platform!;
    const platform = opts.load(p.stack);
    const registered = Object.keys(p.teams).sort();
    const present = registered.filter((t) => t === team || opts.stacksHere.includes(t));
    const configs = present.map((t) => ({ team: t, config: t === team ? config : opts.load(t) }));
    const { month, notes } = sharedArrangement(platform, configs, registered, opts);
    const absent = registered.filter((t) => !present.includes(t));
    if (absent.length > 0) notes.push(`no stack file here for ${absent.join(", ")}: they share the floor, their use of shared pools is not simulated`);
    const mine = month.teams[team];
    return {
        team,
        platform: p.stack,
        usdPerMonth: mine.usdPerMonth,
        ownGpuUsdPerMonth: mine.ownGpuUsdPerMonth,
        sharedPoolsUsdPerMonth: mine.sharedPoolsUsdPerMonth,
        floorShareUsdPerMonth: mine.floorShareUsdPerMonth,
        floorUsdPerMonth: month.floorUsdPerMonth,
        floorSplit: platform.billing.floorSplit,
        teams: registered,
        days: opts.days,
        notes,
    };
}

/** compare.json: exactly the shape of shared/design.md. */
export function compareJson(c: SharedComparison): CompareJson {
    return {
        standalone: { totalUsdPerMonth: c.standalone.totalUsdPerMonth, teams: c.standalone.teams },
        shared: {
            totalUsdPerMonth: c.shared.totalUsdPerMonth,
            floorUsdPerMonth: c.shared.floorUsdPerMonth,
            teams: Object.fromEntries(
                Object.entries(c.shared.teams).map(([t, m]) => [
                    t,
                    {
                        usdPerMonth: m.usdPerMonth,
                        gpuUsdPerMonth: m.gpuUsdPerMonth,
                        floorShareUsdPerMonth: m.floorShareUsdPerMonth,
                        p95LatencySeconds: m.p95LatencySeconds,
                        p99LatencySeconds: m.p99LatencySeconds,
                    },
                ]),
            ),
        },
    };
}

const usd = (n: number) => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const secs = (n: number | null) => (n === null ? "n/a" : `${n.toFixed(2)} s`);

/** The side-by-side table (Markdown, or aligned text for a terminal). */
export function renderShared(c: SharedComparison, markdown: boolean): string {
    const head = ["team", "alone: USD/month", "P95", "P99", "on the platform: USD/month", "own GPU", "shared pools", "floor share", "P95", "P99"];
    const rows = c.teams.map((t) => {
        const a = c.standalone.teams[t];
        const s = c.shared.teams[t];
        return [
            t,
            usd(a.usdPerMonth),
            secs(a.p95LatencySeconds),
            secs(a.p99LatencySeconds),
            usd(s.usdPerMonth),
            usd(s.ownGpuUsdPerMonth),
            usd(s.sharedPoolsUsdPerMonth),
            usd(s.floorShareUsdPerMonth),
            secs(s.p95LatencySeconds),
            secs(s.p99LatencySeconds),
        ];
    });
    const sum = (f: (t: string) => number) => usd(Math.round(c.teams.reduce((s, t) => s + f(t) * 100, 0)) / 100);
    rows.push([
        "total",
        usd(c.standalone.totalUsdPerMonth),
        "",
        "",
        usd(c.shared.totalUsdPerMonth),
        sum((t) => c.shared.teams[t].ownGpuUsdPerMonth),
        sum((t) => c.shared.teams[t].sharedPoolsUsdPerMonth),
        usd(c.shared.floorUsdPerMonth),
        "",
        "",
    ]);
    const title = `Teams of platform '${c.platform}': each alone (a stack of its own) and all on the platform (${c.days} simulated days, floor split ${c.floorSplit})`;
    let table: string;
    if (markdown) {
        table = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join(
            "\n",
        );
    } else {
        const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
        const line = (r: string[]) => r.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join("  ");
        table = [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
    }
    return [title, "", table, ...(c.notes.length > 0 ? ["", ...c.notes.map((n) => `- ${n}`)] : [])].join("\n");
}
