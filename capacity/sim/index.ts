/**
 * Cost and elasticity simulator: public entry points.
 * - expectedCost(config, { days }) -> the `expected` block of cost.json and of the
 *   `costEstimate` stack output (span.ts: 28 simulated days and the stack's traffic seed by default, as
 *   compare; monthly-normalized);
 * - simulateStack(config, opts) -> the full run (input, per-request outcomes, series) for compare;
 * - simulate(), buildSimInput(), oracleCost() -> the engine, its input and the clairvoyant bound, for tools.
 */
export type { StackSimulation } from "./expected";
export { expectedCost, fixedUsdPerMonth, simulateStack } from "./expected";
export { natGatewayCount } from "../cost";
export type { SimInput, SimResult } from "./types";
export { simulate } from "./engine";
export { oracleCost } from "./oracle";
export { buildSimInput } from "./setup";
export { DEFAULT_SIMULATED_DAYS, spanLabel } from "./span";
