/**
 * cost.json's cold-start figures per worker pool: from a request at zero (no worker, no node)
 * to its first answer, expected and pessimistic, and the phases they are made of, each with its
 * source. The same phases drive the simulator (cluster.ts), whose measured time-to-first-answer
 * is reported beside them (`timeToFirstAnswerSeconds`), and the gateway's hold bound (stacks/model/holdTime.ts).
 */
import type { StackConfig } from "../../stacks/resolved";
import { ColdStartPhase, coldStartPhases, firstAnswer, pessimisticTotalSeconds, totalSeconds } from "../../stacks/model/coldStartPhases";
import { SimInput } from "./types";

export interface WorkerColdStart {
    /** Expected seconds from a request at zero to its first answer: the sum of the phases' expected figures. */
    readonly coldStartSeconds: number;
    /** Pessimistic seconds: the sum of the phases' pessimistic figures (the hold bound's base). */
    readonly coldStartPessimisticSeconds: number;
    readonly coldStartPhases: readonly ColdStartPhase[];
}

export function workerColdStart(config: StackConfig, input: SimInput, wi: number): WorkerColdStart {
    const w = input.workerPools[wi];
    const phases = coldStartPhases(input.params, {
        mechanisms: w.coldStart,
        weightsGiB: w.weightsGiB,
        instanceType: input.gpuPools[w.gpuPool].instanceType,
        pollingIntervalSeconds: config.models[wi].scaling.pollingIntervalSeconds,
        firstAnswer: firstAnswer(w.service.image),
        measured: input.coldStartMeasured,
    });
    return { coldStartSeconds: totalSeconds(phases), coldStartPessimisticSeconds: pessimisticTotalSeconds(phases), coldStartPhases: phases };
}
