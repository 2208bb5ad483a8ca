/**
 * Loaded by .mocharc in every mocha worker: installs Pulumi's mock engine (process-global) before
 * any test imports the program (tests run stacks through test/helpers/program.ts), and is the root
 * hook plugin that runs each test's registered teardown (test/helpers/cleanup.ts) in every file.
 */
import { runCleanups } from "./helpers/cleanup";
import { installMocks } from "../scripts/engine/mocks";
import { PROJECT } from "../stacks/schema";

installMocks(PROJECT, "test");

export const mochaHooks = { afterEach: runCleanups };
