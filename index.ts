/**
 * gpuserve: GPU serving clusters on AWS EKS. Loads and validates the stack config
 * (throws before any resource is created on bad input), then builds the stack.
 */
import { deployStack, COST_KEY } from "./components/stack";
import { loadStackConfig } from "./stacks/load";

// Config is validated synchronously (errors before any resource); the stack awaits one lookup (the caller's identity).
const config = loadStackConfig();
export = deployStack(config).then(({ [COST_KEY]: _cost, ...outputs }) => outputs);
