/**
 * cost.json's estimate: the static bounds (capacity/cost.ts) and the simulated month for the stack's
 * traffic (capacity/sim/expected.ts), in a module of its own so that neither of those imports the other.
 */
import type { StaticCost } from "./cost";
import type { ExpectedCost } from "./sim/expected";

export interface CostEstimate extends Omit<StaticCost, "expected"> {
    /** The simulated month for the stack's traffic profile (capacity/sim); null in the static estimate alone. */
    readonly expected: ExpectedCost | null;
}
