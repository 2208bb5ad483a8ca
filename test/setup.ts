/**
 * Loaded once by .mocharc: installs Pulumi's mock engine (process-global) before any
 * test imports the program. Tests run stacks through test/helpers/program.ts.
 */
import { installMocks } from "../scripts/engine/mocks";
import { PROJECT } from "../stacks/schema";

installMocks(PROJECT, "test");
