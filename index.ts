/**
 * gpuserve: GPU serving clusters on AWS EKS. Loads and validates the stack config
 * (throws before any resource is created on bad input), then builds the stack.
 */
import { deployStack, COST_KEY } from "./components/stack";
import { loadStackConfig } from "./stacks/load";

// Config is validated first, synchronously (errors before any resource); the stack then awaits
// two lookups (the caller's identity, the node groups' live sizes). Pulumi awaits an async entry point.
const config = loadStackConfig();
export = async () => {
    const { [COST_KEY]: _cost, ...outputs } = await deployStack(config);
    return outputs;
};
