/**
 * npm run bench -- timetableFrontier: what the timetable's settings trade on the classroom week (issue 24
 * point 6), 28 days, seeds 1-5: the teacher scenario's GPU cost against the clairvoyant bound and its P99,
 * and the no-teacher scenario's P99, for each session lead (timetable.leadSeconds; "pessimistic" is the
 * default, the pool's pessimistic warm-up), window after a session (timetable.afterSessionLookbackSeconds;
 * 0 = the 300 s look-back throughout) and KEDA cooldown (scaling.cooldownSeconds). Prints numbers only; the
 * targets are <= 1.10x and P99 <= 10 s with the teacher, P99 <= 30 s without.
 */
import { targetStack } from "../../capacity/sim/targets";
import type { StackConfig } from "../../stacks/resolved";
import { simulateStack } from "../../capacity/sim";

const SEEDS = [1, 2, 3, 4, 5];
const LEADS: (number | "pessimistic")[] = ["pessimistic", 390, 300, 240, 180];
const AFTER = [0, 120, 90];
const COOLDOWNS = [60, 30];

function variant(c: StackConfig, lead: number | "pessimistic", after: number, cooldown: number): StackConfig {
    return {
        ...c,
        timetable: { ...c.timetable, afterSessionLookbackSeconds: after, ...(lead === "pessimistic" ? {} : { leadSeconds: lead }) },
        models: c.models.map((m) => ({ ...m, scaling: { ...m.scaling, cooldownSeconds: cooldown } })),
    };
}

function worst(teacher: boolean, lead: number | "pessimistic", after: number, cooldown: number): { ratio: number; p99: number } {
    let ratio = 0;
    let p99 = 0;
    for (const seed of SEEDS) {
        const base = targetStack(seed, { profile: "classroom", timetable: true, ...(teacher ? {} : { teacherMinutes: 0 }) });
        const e = simulateStack(variant(base, lead, after, cooldown), { days: 28 }).expected;
        ratio = Math.max(ratio, e.gpuUsdPerMonth / e.clairvoyantUsdPerMonth);
        p99 = Math.max(p99, e.p99LatencySeconds ?? Infinity);
    }
    return { ratio, p99 };
}

console.log("lead         after  cooldown | teacher: x clairvoyant  P99 s | no teacher: x clairvoyant  P99 s | targets");
for (const lead of LEADS)
    for (const after of AFTER)
        for (const cooldown of COOLDOWNS) {
            const t = worst(true, lead, after, cooldown);
            const n = worst(false, lead, after, cooldown);
            const met = t.ratio <= 1.1 && t.p99 <= 10 && n.p99 <= 30;
            console.log(
                `${String(lead).padEnd(12)} ${String(after).padStart(5)}  ${String(cooldown).padStart(8)} | ${t.ratio.toFixed(3).padStart(21)}  ${t.p99
                    .toFixed(1)
                    .padStart(5)} | ${n.ratio.toFixed(3).padStart(24)}  ${n.p99.toFixed(1).padStart(5)} | ${met ? "all met" : "missed"}`,
            );
        }
