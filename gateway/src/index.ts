/** Programmatic API: tests and tools start a gateway in-process with these. */
export { startGateway } from "./server";
export type { Gateway, GatewayOptions } from "./server";
export { parseConfig } from "./config";
export type { GatewayConfigInput } from "./config";
export { sha256Hex } from "./auth";
