/**
 * Cost and elasticity simulator: public entry points.
 * - expectedCost(config, { days }) -> the `expected` block of cost.json and of the
 *   `costEstimate` stack output (span.ts: 28 simulated days and the stack's traffic seed by default, as
 *   compare; monthly-normalized);
 * - simulateStack(config, opts) -> the full run (input, per-request outcomes, series) for compare;
 * - classroomComparison() -> reference policy vs ours vs oracle on the classroom profile;
 * - the pieces (HPA, KEDA, engine, oracle, traffic) for tests and tools.
 */
export type { ExpectedCost, ExpectedCostOptions, PoolEstimate, RequestCounts, StackSimulation, WorkerPoolEstimate } from "./expected";
export { expectedCost, fixedUsdPerMonth, simulateStack } from "./expected";
export { natGatewayCount } from "../cost";
export type { GpuPoolSetup, SimInput, SimResult, WorkerPoolSetup } from "./types";
export { OUTCOME } from "./types";
export { simulate } from "./engine";
export type { OracleCost } from "./oracle";
export { oracleCost } from "./oracle";
export type { SimParams } from "./params";
export { DEFAULT_SIM_PARAMS, resolveParams } from "./params";
export type { PolicySpec } from "./policy";
export { K8S_DEFAULT_BEHAVIOR, REFERENCE_POLICY, describePolicy, policyFromScaling } from "./policy";
export type { SetupOptions } from "./setup";
export { buildSimInput } from "./setup";
export { classroomComparison } from "./reference";
export { DEFAULT_SIMULATED_DAYS, spanLabel } from "./span";
