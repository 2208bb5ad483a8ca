/** Programmatic API: tests and tools start a gateway in-process with these. */
export { createGateway, startGateway } from "./server";
export type { Gateway, GatewayOptions } from "./server";
export { ConfigError, loadConfigFile, parseConfig } from "./config";
export type { GatewayConfig, GatewayConfigInput, PoolConfig } from "./config";
export { sha256Hex } from "./auth";
export type { Resolver } from "./pool";
