/**
 * gpuserve: GPU serving clusters on AWS EKS. Loads and validates the stack config
 * (throws before any resource is created on bad input), then builds the stack.
 */
import { deployStack, COST_KEY } from "./components/stack";
import { isTeamStack, loadStack, loadStackConfig } from "./stacks/load";

// A standalone or platform config is validated first, synchronously (errors before any resource). A
// team's is validated in two steps inside the entry point: its own keys, then against its platform's
// outputs, read through a StackReference. The stack then awaits two lookups (the caller's identity, the
// node groups' live sizes). Pulumi awaits an async entry point.
const config = isTeamStack() ? undefined : loadStackConfig();
export = async () => {
    const { [COST_KEY]: _cost, ...outputs } = await deployStack(config ?? (await loadStack()));
    return outputs;
};
