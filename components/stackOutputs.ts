/**
 * What every role's stack hands back besides its resources: the full cost estimate for the offline
 * plan (under COST_KEY, not a stack output) and the `costEstimate` stack output in brief.
 */
import * as path from "path";
import type { CostEstimate } from "../capacity/costEstimate";

/** Key under which deployStack hands the full cost estimate to the offline plan. */
export const COST_KEY = "__costEstimate";

/** The project root: a CSV trace path of the traffic profile is relative to it. */
export const PROJECT_ROOT = path.resolve(__dirname, "..");

/** The stack output `costEstimate`: the floor, the ceiling and the expected month in brief. */
export function costSummary(cost: CostEstimate) {
    const e = cost.expected;
    return {
        floorUsdPerMonth: cost.floorUsdPerMonth,
        ceilingUsdPerMonth: cost.ceilingUsdPerMonth,
        expected: e
            ? {
                  profile: e.profile,
                  usdPerMonth: e.usdPerMonth,
                  gpuHoursPerMonth: e.gpuHoursPerMonth,
                  p95LatencySeconds: e.p95LatencySeconds,
                  coldStarts: e.coldStarts,
                  usdPer1kRequests: e.usdPer1kRequests,
                  oracleUsdPerMonth: e.oracleUsdPerMonth,
                  clairvoyantUsdPerMonth: e.clairvoyantUsdPerMonth,
              }
            : null,
    };
}
