/**
 * Traffic profiles -> arrival trace. `buildTrace` is the one entry point: named built-ins,
 * "hourly" rate tables and "csv" traces all end as the same Trace, reproducible from
 * `traffic.seed`.
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../../stacks/errors";
import { PROJECT } from "../../stacks/schema";
import type { TrafficConfig } from "./config";
import { Rng } from "../sim/rng";
import { RATE_TABLE_PROFILES } from "./builtins";
import { classroomArrivals } from "./classroom";
import { parseTraceCsv } from "./csv";
import { Trace, TrafficTarget, finishTrace } from "./trace";
import { arrivalsFromWeek, weekFromEntries } from "./weekly";
import { loadSessions, timetableArrivals } from "./timetable";
import type { ResolvedTimetable } from "../../stacks/timetable";
import { weekdayOf } from "../../stacks/calendar/zones";

export type { TrafficConfig } from "./config";
export type { Trace, TrafficTarget } from "./trace";
export { KIND_IMAGE, countByPool } from "./trace";

export interface TraceOptions {
    /** Days to generate (ignored by "csv", whose span is the file's). */
    readonly days: number;
    /** The stack's time zone (used to read ISO timestamps of a CSV trace). */
    readonly timezone: string;
    /** Directory `traffic.csvFile` is relative to. @default process.cwd() */
    readonly root?: string;
    /** Weekday of day 0 for generated profiles, cron numbering. @default 1 (Monday), the weekday of startDate when given */
    readonly startWeekday?: number;
    /** Date ("YYYY-MM-DD") of day 0: the stack's calendar sessions fall on their dates. @default none (weekly profiles need no date) */
    readonly startDate?: string;
    /** The stack's timetable (gpuserve:timetable): the "timetable" profile's sessions when traffic.timetable is empty. */
    readonly timetable?: Pick<ResolvedTimetable, "slots">;
}

/** Relative request shares per worker pool from `traffic.modelShares` (by name, then by model id). */
export function poolShares(traffic: TrafficConfig, targets: readonly TrafficTarget[]): number[] {
    const entries = Object.entries(traffic.modelShares);
    if (entries.length === 0) return targets.map(() => 1);
    const shares = targets.map(() => 0);
    for (const [key, weight] of entries) {
        const byName = targets.findIndex((t) => t.name === key);
        const matches = byName >= 0 ? [byName] : targets.flatMap((t, i) => (t.id === key ? [i] : []));
        if (matches.length === 0) {
            throw new ConfigError([
                {
                    key: `${PROJECT}:traffic.modelShares.${key}`,
                    message: `'${key}' is not a worker pool of this stack`,
                    fix: `use a model name or id from gpuserve:models (${targets.map((t) => t.name).join(", ")})`,
                },
            ]);
        }
        for (const i of matches) shares[i] += weight;
    }
    return shares;
}

export function buildTrace(traffic: TrafficConfig, targets: readonly TrafficTarget[], opts: TraceOptions): Trace {
    if (!Number.isInteger(opts.days) || opts.days < 1) throw new Error(`days must be a whole number >= 1 (got ${opts.days})`);
    const shares = poolShares(traffic, targets);
    const startWeekday = opts.startDate !== undefined ? weekdayOf(opts.startDate) : (opts.startWeekday ?? 1);
    // "classroom-random" keeps the stream of the generator it was called "classroom" under, so its traces (and the figures computed on them) stay the same.
    const rng = new Rng(traffic.seed, `traffic:arrivals:${traffic.profile === "classroom-random" ? "classroom" : traffic.profile}`);
    const common = { profile: traffic.profile, seed: traffic.seed, imageShare: traffic.imageShare, shares, startDate: opts.startDate };
    switch (traffic.profile) {
        case "classroom-random":
            return finishTrace({
                ...common,
                horizonSeconds: opts.days * 86400,
                startWeekday,
                times: classroomArrivals(traffic.classroom, opts.days, startWeekday, traffic.rateScale, rng),
            });
        case "classroom":
        case "timetable": {
            const a = timetableArrivals(
                loadSessions(traffic, opts.timetable, targets)!,
                opts.days,
                startWeekday,
                traffic.rateScale,
                traffic.seed,
                opts.startDate,
            );
            return finishTrace({ ...common, horizonSeconds: opts.days * 86400, startWeekday, times: a.times, pools: a.pools });
        }
        case "hourly":
            return finishTrace({
                ...common,
                horizonSeconds: opts.days * 86400,
                startWeekday,
                times: arrivalsFromWeek(weekFromEntries(traffic.hourly), opts.days, startWeekday, traffic.rateScale, rng),
            });
        case "csv": {
            const file = path.resolve(opts.root ?? process.cwd(), traffic.csvFile!);
            if (!fs.existsSync(file)) {
                throw new ConfigError([
                    {
                        key: `${PROJECT}:traffic.csvFile`,
                        message: `file ${JSON.stringify(traffic.csvFile)} does not exist (looked in ${file})`,
                        fix: "give a path relative to the project root",
                    },
                ]);
            }
            const csv = parseTraceCsv(fs.readFileSync(file, "utf8"), opts.timezone, targets, traffic.csvFile);
            const trace = finishTrace({
                ...common,
                startDate: undefined,
                horizonSeconds: csv.days * 86400,
                startWeekday: csv.startWeekday,
                times: csv.times,
                kinds: csv.kinds,
            });
            csv.pools.forEach((p, i) => {
                if (p >= 0) trace.pools[i] = p;
            });
            return trace;
        }
        default:
            return finishTrace({
                ...common,
                horizonSeconds: opts.days * 86400,
                startWeekday,
                times: arrivalsFromWeek(RATE_TABLE_PROFILES[traffic.profile](), opts.days, startWeekday, traffic.rateScale, rng),
            });
    }
}
