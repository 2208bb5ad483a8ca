/**
 * The committed prod stack follows its own traffic profile: every worker pool is warm in every
 * hour the profile has requests (no cold start for the first user of the day), and not for long
 * outside them (no GPU kept for nobody). Its plan's figures: test/scripts/plan.test.ts.
 */
import * as assert from "assert";
import { RATE_TABLE_PROFILES } from "../../capacity/traffic/builtins";
import { hhmmToMinutes, parseCronDays } from "../../stacks/calendar/clock";
import { stackConfigFromFile } from "../../scripts/engine/stackFile";
import { ROOT } from "../helpers/program";

/** Minutes of the week (0 = Sunday 00:00) each model keeps a replica warm. */
function warmMinutes(windows: readonly { days: string; start: string; end: string }[]): Set<number> {
    const warm = new Set<number>();
    for (const w of windows) {
        const days = parseCronDays(w.days);
        for (let d = 0; d < 7; d++) if (days[d]) for (let m = hhmmToMinutes(w.start); m < hhmmToMinutes(w.end); m++) warm.add(d * 1440 + m);
    }
    return warm;
}

describe("the committed prod stack", () => {
    const prod = stackConfigFromFile(ROOT, "prod", "gpuserve");

    it("is warm in every hour its traffic profile has users, and at most 30 minutes outside them", () => {
        assert.strictEqual(prod.traffic.profile, "office-hours");
        const week = RATE_TABLE_PROFILES["office-hours"]();
        const busy = (minute: number) => week[Math.floor(minute / 1440)][Math.floor((minute % 1440) / 60)] > 0;
        for (const m of prod.models) {
            const warm = warmMinutes(m.scaling.warmWindows);
            const cold = [...Array(7 * 1440).keys()].filter((minute) => busy(minute) && !warm.has(minute));
            assert.deepStrictEqual(cold.slice(0, 3), [], `${m.name}: users but no warm replica at minute-of-week ${cold.slice(0, 3)}`);
            const idle = [...warm].filter((minute) => ![-30, 0, 30].some((d) => busy((minute + d + 7 * 1440) % (7 * 1440))));
            assert.deepStrictEqual(idle.slice(0, 3), [], `${m.name}: warm more than 30 min away from any user`);
        }
    });

    it("runs every pool on nodes whose GPUs its workers can use (one GPU per worker)", () => {
        for (const pool of prod.gpuPools) {
            const workers = prod.models.filter((m) => m.pool === pool.name).reduce((n, m) => n + m.scaling.maxReplicas, 0);
            assert.ok(pool.gpusPerNode <= workers, `${pool.name}: ${pool.gpusPerNode} GPUs per node for at most ${workers} workers`);
        }
    });
});
