/**
 * The "csv" profile: a recorded trace, one request per line `timestamp,kind[,model]`.
 * - timestamp: ISO 8601 with a zone (2026-03-02T09:15:00Z) or seconds from the trace start;
 * - kind: `image` (image + question) or `text` (aliases: image+question, text-only);
 * - model: optional worker pool name or model id; absent, `traffic.modelShares` decide.
 * ISO timestamps are converted to local time in the stack's time zone, because warm
 * windows and the rest of the simulation run on that clock. A header line (the first line that
 * is not a `#` comment) is allowed. Example: examples/traffic/arrivals.csv.
 * The simulated span is the trace's whole days; `days` does not apply.
 */
import { DAY } from "../../stacks/calendar/clock";
import { zoneFormatter } from "../../stacks/calendar/zones";
import { KIND_IMAGE, KIND_TEXT, TrafficTarget } from "./trace";

export interface CsvTrace {
    readonly times: Float64Array;
    readonly kinds: Uint8Array;
    /** Pool index per request, or -1 where the line named none. */
    readonly pools: Int32Array;
    readonly startWeekday: number;
    readonly days: number;
}

const KINDS: Record<string, number> = { image: KIND_IMAGE, "image+question": KIND_IMAGE, text: KIND_TEXT, "text-only": KIND_TEXT };
const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** Local wall-clock of an instant in a time zone: ms since the epoch as if the zone were UTC, and the weekday. */
function localClock(epochMs: number, fmt: Intl.DateTimeFormat): { wallMs: number; weekday: number } {
    const parts: Record<string, string> = {};
    for (const p of fmt.formatToParts(new Date(epochMs))) parts[p.type] = p.value;
    const wallMs =
        Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second)) +
        (epochMs % 1000);
    return { wallMs, weekday: WEEKDAYS[parts.weekday] };
}

export function parseTraceCsv(text: string, timezone: string, targets: readonly TrafficTarget[], file = "trace.csv"): CsvTrace {
    const fmt = zoneFormatter(timezone);
    const rows: { t: number; kind: number; pool: number; iso: boolean }[] = [];
    const lines = text.split(/\r?\n/);
    lines.forEach((raw, i) => {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) return;
        const [ts, kindRaw, model] = line.split(",").map((f) => f.trim());
        const where = `${file}:${i + 1}`;
        const seconds = Number(ts);
        const iso = !Number.isFinite(seconds);
        const t = iso ? Date.parse(ts) : seconds;
        if (!Number.isFinite(t)) {
            if (rows.length === 0 && i === lines.findIndex((l) => l.trim() !== "" && !l.trim().startsWith("#"))) return; // header (after any comments)
            throw new Error(`${where}: '${ts}' is not an ISO 8601 timestamp or a number of seconds`);
        }
        const kind = KINDS[(kindRaw ?? "").toLowerCase()];
        if (kind === undefined) throw new Error(`${where}: kind '${kindRaw ?? ""}' must be one of ${Object.keys(KINDS).join(", ")}`);
        let pool = -1;
        if (model) {
            pool = targets.findIndex((m) => m.name === model);
            if (pool < 0) pool = targets.findIndex((m) => m.id === model);
            if (pool < 0) throw new Error(`${where}: model '${model}' is not a worker pool of this stack (${targets.map((m) => m.name).join(", ")})`);
        }
        rows.push({ t, kind, pool, iso });
    });
    if (rows.length === 0) throw new Error(`${file}: no requests`);
    if (rows.some((r) => r.iso) && rows.some((r) => !r.iso)) throw new Error(`${file}: mixes ISO timestamps and seconds; use one form`);

    let startWeekday = 1;
    let local: number[];
    if (rows[0].iso) {
        const clocks = rows.map((r) => localClock(r.t, fmt));
        const first = clocks.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
        const midnight = Math.floor(first.wallMs / (DAY * 1000)) * DAY * 1000;
        startWeekday = first.weekday;
        local = clocks.map((c) => (c.wallMs - midnight) / 1000);
    } else {
        const min = rows.reduce((m, r) => Math.min(m, r.t), Infinity);
        if (min < 0) throw new Error(`${file}: negative seconds`);
        local = rows.map((r) => r.t);
    }
    const order = local.map((_, i) => i).sort((a, b) => local[a] - local[b]);
    const last = local[order[order.length - 1]];
    return {
        times: Float64Array.from(order.map((i) => local[i])),
        kinds: Uint8Array.from(order.map((i) => rows[i].kind)),
        pools: Int32Array.from(order.map((i) => rows[i].pool)),
        startWeekday,
        days: Math.max(1, Math.ceil((last + 1e-9) / DAY)),
    };
}
