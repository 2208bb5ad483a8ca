/**
 * cost.json's cold-start figures per worker pool: the modelled median from a request at
 * zero (no worker, no node) to its first answer, and the phases it is made of, each with
 * its source. The same phases drive the simulator (cluster.ts), whose measured
 * time-to-first-answer is reported beside them (`timeToFirstAnswerSeconds`).
 */
import type { StackConfig } from "../../stacks/validate";
import { ColdStartPhase, coldStartPhases, totalSeconds } from "./coldStart";
import { SimInput } from "./types";

export interface WorkerColdStart {
    /** Median seconds from a request at zero to its first answer (modelled: the sum of the phases). */
    readonly coldStartSeconds: number;
    readonly coldStartPhases: readonly ColdStartPhase[];
}

export function workerColdStart(config: StackConfig, input: SimInput, wi: number): WorkerColdStart {
    const w = input.workerPools[wi];
    const phases = coldStartPhases(input.params, {
        mechanisms: w.coldStart,
        weightsGiB: w.weightsGiB,
        instanceType: input.gpuPools[w.gpuPool].instanceType,
        pollingIntervalSeconds: config.models[wi].scaling.pollingIntervalSeconds,
        firstAnswerSeconds: w.service.image.medianSeconds,
    });
    return { coldStartSeconds: totalSeconds(phases), coldStartPhases: phases };
}
