/**
 * What the plan (cost.json `expected`) and `npm run compare` simulate by default, one figure for
 * both so they print the same month for the same stack (issue 24 point 2: dev's GPU cost was
 * $25.68 in the plan's 7 days and $23.83 in compare's 28):
 * - four whole weeks: the built-in profiles repeat weekly, so the month normalizes without a
 *   weekday counted more often than another, and a month of sessions averages the day-to-day noise;
 * - one seed, the stack's own `traffic.seed` (default 1): the same arrivals in both.
 * Both print the span and the seed with their figures.
 */
export const DEFAULT_SIMULATED_DAYS = 28;

/** "28 days simulated, traffic seed 1": how the plan summary and the compare table name a run. */
export function spanLabel(e: { readonly days: number; readonly seed: number }): string {
    return `${e.days} days simulated, traffic seed ${e.seed}`;
}
