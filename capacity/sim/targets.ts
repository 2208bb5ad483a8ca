/**
 * The policy targets of issue 24 point 6, measured the way `npm run compare -- --reference`
 * prints them: 28 simulated days, seeds 1-5, every figure against the bounds of
 * capacity/bounds (the clairvoyant bound charged as the platform charges, the optimal
 * online rule).
 *
 * Scenarios (one A10G on-demand pool from zero, g5.xlarge, at most 4 nodes, MedGemma 1.5
 * 4B, the schema's default scaling):
 * - "timetable": the built-in classroom week (4 courses of 20 students, 11 sessions a week)
 *   with the stack given that timetable (gpuserve:timetable), the teacher pressing "Get GPUs
 *   ready for class" 5 minutes before each class (traffic default);
 * - "timetable, no teacher": the same without the teacher's button, measured after the
 *   history week (the predictive trigger has learned last week);
 * - "no teacher, no timetable": neither the button nor the stack's timetable, the predictive
 *   trigger alone (a stack without gpuserve:timetable), with the same target;
 * - "office-hours": the built-in office-hours profile;
 * - "dev": Pulumi.dev.yaml as it is (its own seed replaced).
 */
import { CLASSROOM_TIMETABLE } from "../traffic/timetable";
import { parseStackConfig } from "../../stacks/validate";
import type { StackConfig } from "../../stacks/resolved";
import { simulateStack } from "./expected";

export const TARGET_DAYS = 28;
const TARGET_SEEDS = [1, 2, 3, 4, 5] as const;

export interface SeedFigures {
    readonly seed: number;
    readonly gpuUsdPerMonth: number;
    readonly clairvoyantUsdPerMonth: number;
    readonly onlineRuleUsdPerMonth: number;
    /** Unrounded ratios of the GPU cost to the clairvoyant bound and the optimal online rule. */
    readonly clairvoyantRatio: number;
    readonly onlineRuleRatio: number;
    readonly p95LatencySeconds: number | null;
    readonly p99LatencySeconds: number | null;
    readonly refusedPerMonth: number;
    readonly coldStartsPerMonth: number;
}

export interface Target {
    readonly label: string;
    /** The figure each seed must keep within the limit. */
    readonly figure: (f: SeedFigures) => number | null;
    readonly limit: number;
    readonly unit: "x" | "s" | "";
}

export interface ScenarioResult {
    readonly name: string;
    readonly description: string;
    readonly seeds: readonly SeedFigures[];
    readonly targets: readonly (Target & { readonly worst: number | null; readonly met: boolean })[];
}

interface Scenario {
    readonly name: string;
    readonly description: string;
    readonly config: (seed: number) => StackConfig;
    readonly targets: readonly Target[];
}

const clairvoyant = (limit: number): Target => ({ label: "GPU cost / clairvoyant bound", figure: (f) => f.clairvoyantRatio, limit, unit: "x" });
const p95 = (limit: number): Target => ({ label: "P95", figure: (f) => f.p95LatencySeconds, limit, unit: "s" });
const p99 = (limit: number): Target => ({ label: "P99", figure: (f) => f.p99LatencySeconds, limit, unit: "s" });
const refused: Target = { label: "refused per month", figure: (f) => f.refusedPerMonth, limit: 0, unit: "" };

/** The scenarios' stack: one A10G pool from zero serving MedGemma 1.5 4B, default scaling. */
export function targetStack(seed: number, o: { profile: string; timetable?: boolean; teacherMinutes?: number }): StackConfig {
    return parseStackConfig({
        region: "us-east-1",
        environment: "targets",
        tags: { team: "targets" },
        serving: { allowInsecureHttp: true },
        gpuPools: [{ name: "a10g", gpuType: "a10g", instanceTypes: ["g5.xlarge"], capacityType: "on-demand", maxNodes: 4 }],
        models: [{ id: "google/medgemma-1.5-4b-it", pool: "a10g" }],
        traffic: { profile: o.profile, seed, ...(o.teacherMinutes !== undefined ? { warmupMinutesBefore: o.teacherMinutes } : {}) },
        ...(o.timetable
            ? {
                  timetable: {
                      sessions: CLASSROOM_TIMETABLE.map((s) => ({
                          days: s.days,
                          start: s.start,
                          minutes: s.minutes,
                          students: s.students,
                          questionsPerStudent: s.questionsPerStudent,
                      })),
                  },
              }
            : {}),
    });
}

function scenarios(dev: (seed: number) => StackConfig): Scenario[] {
    return [
        {
            name: "timetable",
            description: "classroom week, the stack given its timetable, the teacher presses warm-up 5 min before class",
            config: (seed) => targetStack(seed, { profile: "classroom", timetable: true }),
            targets: [clairvoyant(1.1), p95(2.5), p99(10), refused],
        },
        {
            name: "timetable, no teacher",
            description: "the same without the teacher's button, after a week of history",
            config: (seed) => targetStack(seed, { profile: "classroom", timetable: true, teacherMinutes: 0 }),
            targets: [p99(30)],
        },
        {
            name: "no teacher, no timetable",
            description: "neither the button nor the stack's timetable: the predictive trigger alone, after a week of history",
            config: (seed) => targetStack(seed, { profile: "classroom", teacherMinutes: 0 }),
            targets: [p99(30)],
        },
        {
            name: "office-hours",
            description: "the office-hours profile",
            config: (seed) => targetStack(seed, { profile: "office-hours" }),
            targets: [clairvoyant(1.15), { label: "GPU cost / optimal online rule", figure: (f) => f.onlineRuleRatio, limit: 1.05, unit: "x" }],
        },
        { name: "dev", description: "Pulumi.dev.yaml", config: dev, targets: [p95(5)] },
    ];
}

/** Simulates every scenario for every seed and checks its targets (worst seed against the limit). */
export function measureTargets(dev: StackConfig, o: { days?: number; seeds?: readonly number[]; only?: readonly string[] } = {}): ScenarioResult[] {
    const days = o.days ?? TARGET_DAYS;
    const withSeed = (seed: number): StackConfig => ({ ...dev, traffic: { ...dev.traffic, seed } });
    return scenarios(withSeed)
        .filter((s) => o.only === undefined || o.only.includes(s.name))
        .map((s) => {
            const seeds = (o.seeds ?? TARGET_SEEDS).map((seed): SeedFigures => {
                const e = simulateStack(s.config(seed), { days }).expected;
                return {
                    seed,
                    gpuUsdPerMonth: e.gpuUsdPerMonth,
                    clairvoyantUsdPerMonth: e.clairvoyantUsdPerMonth,
                    onlineRuleUsdPerMonth: e.onlineRuleUsdPerMonth,
                    clairvoyantRatio: e.gpuUsdPerMonth / e.clairvoyantUsdPerMonth,
                    onlineRuleRatio: e.gpuUsdPerMonth / e.onlineRuleUsdPerMonth,
                    p95LatencySeconds: e.p95LatencySeconds,
                    p99LatencySeconds: e.p99LatencySeconds,
                    refusedPerMonth: e.requests.rejected,
                    coldStartsPerMonth: e.coldStarts,
                };
            });
            const targets = s.targets.map((t) => {
                const values = seeds.map(t.figure);
                // A missing figure (nothing answered) fails the target.
                const worst = values.some((v) => v === null) ? null : Math.max(...(values as number[]));
                return { ...t, worst, met: worst !== null && worst <= t.limit };
            });
            return { name: s.name, description: s.description, seeds, targets };
        });
}
