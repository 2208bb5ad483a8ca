/**
 * Cold-start lines for the plan summary and rows for `compare`: per worker pool the
 * modelled median from a request at zero to its first answer, and its phases.
 */
import type { ExpectedCost } from "../expected";
import type { Row, StackColumn } from "./table";

const s0 = (n: number) => `${Math.round(n)} s`;

function workerPools(e: ExpectedCost) {
    return e.perPool.flatMap((p) => p.workerPools.map((w) => ({ pool: p.pool, w })));
}

/** One line per worker pool: total, then each phase (short), for the plan summary. */
export function coldStartSummaryLines(e: ExpectedCost): string[] {
    // One line per phase, so the summary stays readable (no line over 200 characters).
    return workerPools(e).flatMap(({ pool, w }) => {
        const width = Math.max(...w.coldStartPhases.map((p) => p.phase.length));
        return [
            `  cold start of ${w.name} (${pool}): ${s0(w.coldStartSeconds)} median from a request at zero workers to its first answer, made of:`,
            ...w.coldStartPhases.map((p) => `    ${p.phase.padEnd(width)}  ${String(p.seconds).padStart(6)} s`),
        ];
    });
}

export function coldStartRows(columns: readonly StackColumn[]): Row[] {
    return [
        { label: "Cold start from zero, median (modelled)", cells: columns.map((c) => workerPools(c.sim.expected).map(({ w }) => `${w.name}: ${s0(w.coldStartSeconds)}`)) },
        {
            label: "Cold start phases",
            cells: columns.map((c) => workerPools(c.sim.expected).flatMap(({ w }) => [`${w.name}:`, ...w.coldStartPhases.map((p) => `  ${p.phase}: ${p.seconds} s`)])),
            terminal: "markdown",
        },
    ];
}
