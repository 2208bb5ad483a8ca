/**
 * gpuserve: GPU serving clusters on AWS EKS. Loads and validates the stack config
 * (throws before any resource is created on bad input), then builds the stack.
 */
import { deployStack, COST_KEY } from "./components/stack";
import { loadStackConfig } from "./stacks/load";

const { [COST_KEY]: _cost, ...outputs } = deployStack(loadStackConfig());
export = outputs;
