/** A comparison's columns (one per stack) and rows (one per figure): what table.ts renders and each row builder returns. */
import type { StackConfig } from "../../../stacks/resolved";
import type { StackSimulation } from "../expected";

export interface StackColumn {
    readonly stack: string;
    readonly config: StackConfig;
    readonly sim: StackSimulation;
    readonly floorUsdPerMonth: number;
    readonly ceilingUsdPerMonth: number;
}

export interface Row {
    readonly label: string;
    /** One cell per stack; a cell may have several lines. */
    readonly cells: readonly (readonly string[])[];
    /**
     * Where the terminal shows the row (the Markdown report shows every row in the table):
     * "legend" below the table, one entry per column saying what differs from a similar
     * column; "markdown" not at all (too long for a terminal; the output names the report).
     */
    readonly terminal?: "legend" | "markdown";
}
