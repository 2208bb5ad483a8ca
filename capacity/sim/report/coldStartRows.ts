/**
 * Cold-start lines for the plan summary and rows for `compare`: per worker pool the
 * modelled expected and pessimistic seconds from a request at zero to its first answer, and
 * its phases (stacks/model/coldStartPhases.ts).
 */
import type { ExpectedCost } from "../expected";
import type { Row, StackColumn } from "./rows";

const s0 = (n: number) => `${Math.round(n)} s`;

function workerPools(e: ExpectedCost) {
    return e.perPool.flatMap((p) => p.workerPools.map((w) => ({ pool: p.pool, w })));
}

/** Per worker pool: both totals, then each phase's expected and pessimistic seconds, for the plan summary. */
export function coldStartSummaryLines(e: ExpectedCost): string[] {
    // One line per phase, so the summary stays readable (no line over 200 characters).
    return workerPools(e).flatMap(({ pool, w }) => {
        const width = Math.max(...w.coldStartPhases.map((p) => p.phase.length));
        return [
            `  cold start of ${w.name} (${pool}) from a request at zero workers to its first answer: ${s0(w.coldStartSeconds)} expected, ${s0(w.coldStartPessimisticSeconds)} pessimistic (the gateway holds requests ${e.gatewayLimits.maxWaitSeconds} s), made of:`,
            `    ${"phase".padEnd(width)}  ${"expected".padStart(8)}  ${"pessimistic".padStart(11)}`,
            ...w.coldStartPhases.map((p) => `    ${p.phase.padEnd(width)}  ${`${p.seconds} s`.padStart(8)}  ${`${p.pessimisticSeconds} s`.padStart(11)}`),
        ];
    });
}

export function coldStartRows(columns: readonly StackColumn[]): Row[] {
    return [
        {
            label: "Cold start from zero, expected / pessimistic (modelled)",
            cells: columns.map((c) =>
                workerPools(c.sim.expected).map(({ w }) => `${w.name}: ${s0(w.coldStartSeconds)} / ${s0(w.coldStartPessimisticSeconds)}`),
            ),
        },
        {
            label: "Cold start phases, expected / pessimistic",
            cells: columns.map((c) =>
                workerPools(c.sim.expected).flatMap(({ w }) => [
                    `${w.name}:`,
                    ...w.coldStartPhases.map((p) => `  ${p.phase}: ${p.seconds} / ${p.pessimisticSeconds} s`),
                ]),
            ),
            terminal: "markdown",
        },
    ];
}
