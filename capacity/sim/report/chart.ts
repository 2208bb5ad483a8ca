/**
 * SVG chart of one stack over a representative day: load, queue, replicas and latency,
 * stacked on one time axis so cause and effect line up (a burst, the queue it builds,
 * the replicas it wakes, the latency users saw). Plain SVG strings: no dependency, and
 * the file renders in a pull request.
 */
import { SimInput, SimResult } from "../types";
import { quantileSorted, sortedCopy } from "../stats";

const WIDTH = 960;
const LEFT = 70;
const RIGHT = 20;
const PANEL = 130;
const GAP = 64;
const TOP = 60;
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#e377c2", "#bcbd22"];
/** GPU node lines, one per GPU pool: dark neutrals that no worker pool uses, dotted. */
const NODE_COLORS = ["#333333", "#8c564b", "#7f7f7f", "#5b4a8b"];
const BIN = 300;
/** Legend text: 10 px sans-serif, at most this wide per character (digits and capitals included). */
const CHAR_WIDTH = 6.2;
const LEGEND_ROW = 13;

/** Day (0-based) with the median number of arrivals among days that have any; day 0 if none. */
export function representativeDay(input: SimInput): number {
    const days = Math.round(input.trace.horizonSeconds / 86400);
    const counts = new Array<number>(days).fill(0);
    for (const t of input.trace.times) counts[Math.min(days - 1, Math.floor(t / 86400))]++;
    const busy = counts.map((c, d) => ({ c, d })).filter((x) => x.c > 0);
    if (busy.length === 0) return 0;
    busy.sort((a, b) => a.c - b.c || a.d - b.d);
    return busy[Math.floor((busy.length - 1) / 2)].d;
}

export interface Line {
    readonly label: string;
    readonly color: string;
    readonly points: readonly [number, number][];
    readonly dash?: string;
    readonly step?: boolean;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Tick values and the axis top: "nice" steps (1, 2, 5 x 10^k), whole numbers for counts, decades on a log axis. */
export function axisTicks(max: number, opts: { log?: boolean; integer?: boolean; min?: number }): { ticks: number[]; top: number; bottom: number } {
    if (opts.log) {
        const bottom = 10 ** Math.floor(Math.log10(Math.max(opts.min ?? 1, 1e-3)));
        const top = 10 ** Math.max(Math.ceil(Math.log10(Math.max(max, bottom * 10))), Math.log10(bottom) + 1);
        const ticks: number[] = [];
        for (let v = bottom; v <= top * 1.0001; v *= 10) ticks.push(v);
        return { ticks, top, bottom };
    }
    const span = Math.max(max, opts.integer ? 1 : 1e-9);
    const raw = span / 4;
    const mag = 10 ** Math.floor(Math.log10(raw));
    let step = [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= raw)!;
    if (opts.integer) step = Math.max(1, Math.round(step));
    const top = Math.ceil(span / step - 1e-9) * step;
    const ticks: number[] = [];
    for (let v = 0; v <= top + step / 1e6; v += step) ticks.push(Number(v.toPrecision(12)));
    return { ticks, top, bottom: 0 };
}

/** One tick label: the same format along an axis (no "1s / 10.0s / 100s"). */
export function tickLabel(v: number, unit: string): string {
    const text =
        v >= 1 || v === 0 ? v.toLocaleString("en-US", { maximumFractionDigits: v < 10 && !Number.isInteger(v) ? 1 : 0 }) : String(Number(v.toPrecision(2)));
    return unit ? `${text} ${unit}` : text;
}

/** Legend items laid out left to right, wrapping to a new row instead of running into each other. */
export function legendLayout(labels: readonly string[], width: number): { x: number; row: number }[] {
    const out: { x: number; row: number }[] = [];
    let x = 0;
    let row = 0;
    for (const label of labels) {
        const w = 22 + label.length * CHAR_WIDTH + 14;
        if (x > 0 && x + w > width) {
            x = 0;
            row++;
        }
        out.push({ x, row });
        x += w;
    }
    return out;
}

function panel(y0: number, title: string, lines: readonly Line[], opts: { log?: boolean; integer?: boolean; unit: string }): { svg: string; height: number } {
    const plotW = WIDTH - LEFT - RIGHT;
    const values = lines.flatMap((l) => l.points.map((p) => p[1])).filter((v) => Number.isFinite(v));
    const positive = values.filter((v) => v > 0);
    const log = opts.log === true && positive.length > 0;
    const axis = axisTicks(Math.max(0, ...values), { log, integer: opts.integer, min: log ? Math.min(...positive) : undefined });
    const legend = legendLayout(
        lines.map((l) => l.label),
        plotW,
    );
    const rows = Math.max(0, ...legend.map((l) => l.row)) + 1;
    const top = y0 + (rows - 1) * LEGEND_ROW;
    const ly = (v: number) => (log ? Math.log10(Math.max(v, axis.bottom)) : v);
    const [a, b] = [ly(axis.bottom), ly(axis.top)];
    const y = (v: number) => top + PANEL - ((ly(v) - a) / (b - a || 1)) * PANEL;
    const x = (t: number) => LEFT + (t / 86400) * plotW;
    const out: string[] = [];
    out.push(`<text x="${LEFT}" y="${y0 - 24}" font-size="13" font-weight="bold">${esc(title)}</text>`);
    out.push(`<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL}" fill="#fafafa" stroke="#ccc"/>`);
    for (const v of axis.ticks) {
        out.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
        out.push(`<text x="${LEFT - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="10" text-anchor="end">${esc(tickLabel(v, opts.unit))}</text>`);
    }
    for (let h = 0; h <= 24; h += 3) {
        const anchor = h === 0 ? "start" : h === 24 ? "end" : "middle";
        out.push(`<line x1="${x(h * 3600).toFixed(1)}" x2="${x(h * 3600).toFixed(1)}" y1="${top}" y2="${top + PANEL}" stroke="#eee"/>`);
        out.push(`<text x="${x(h * 3600).toFixed(1)}" y="${top + PANEL + 14}" font-size="10" text-anchor="${anchor}">${String(h).padStart(2, "0")}:00</text>`);
    }
    lines.forEach((l, li) => {
        if (l.points.length > 0) {
            // A path, not a polyline: a gap in the data (NaN) starts a new segment instead of bridging it.
            const d: string[] = [];
            let prev: [number, number] | undefined;
            const all = l.points;
            for (let k = 0; k < all.length; k++) {
                const p = all[k];
                if (!Number.isFinite(p[1])) {
                    prev = undefined;
                    continue;
                }
                // Drop points in the middle of a flat run: same picture, a fraction of the bytes.
                if (prev && k + 1 < all.length && p[1] === prev[1] && all[k + 1][1] === p[1]) continue;
                const xy = `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`;
                if (!prev) d.push(`M${xy}`);
                else {
                    if (l.step) d.push(`L${x(p[0]).toFixed(1)},${y(prev[1]).toFixed(1)}`);
                    d.push(`L${xy}`);
                }
                prev = p;
            }
            if (d.length > 0)
                out.push(`<path fill="none" stroke="${l.color}" stroke-width="1.5"${l.dash ? ` stroke-dasharray="${l.dash}"` : ""} d="${d.join(" ")}"/>`);
        }
        const at = legend[li];
        const lx = LEFT + at.x;
        const lyy = y0 - 9 + at.row * LEGEND_ROW;
        out.push(
            `<line x1="${lx}" x2="${lx + 18}" y1="${lyy}" y2="${lyy}" stroke="${l.color}" stroke-width="2"${l.dash ? ` stroke-dasharray="${l.dash}"` : ""}/>`,
        );
        out.push(`<text x="${lx + 22}" y="${lyy + 4}" font-size="10">${esc(l.label)}</text>`);
    });
    return { svg: out.join("\n"), height: PANEL + (rows - 1) * LEGEND_ROW };
}

/** Renders the chart; `result` must come from a run with `timeseries: true`. */
export function stackChart(title: string, input: SimInput, result: SimResult, day = representativeDay(input)): string {
    const series = result.series;
    if (!series) throw new Error("stackChart needs a simulation run with params.timeseries = true");
    const from = day * 86400;
    const to = from + 86400;
    const wpNames = input.workerPools.map((w) => w.name);
    const color = (i: number) => COLORS[i % COLORS.length];

    // Load: arrivals per minute, 5-minute bins, per worker pool.
    const bins = 86400 / BIN;
    const load = input.workerPools.map(() => new Array<number>(bins).fill(0));
    const lat = input.workerPools.map(() => Array.from({ length: bins }, () => [] as number[]));
    const { times, pools } = input.trace;
    for (let i = 0; i < times.length; i++) {
        if (times[i] >= from && times[i] < to) load[pools[i]][Math.floor((times[i] - from) / BIN)] += 60 / BIN;
        const c = result.completion[i];
        if (c >= from && c < to) lat[pools[i]][Math.floor((c - from) / BIN)].push(c - times[i]);
    }
    const binPoints = (v: number[]) => v.map((y, k) => [k * BIN + BIN / 2, y] as [number, number]);
    const idx: number[] = [];
    series.t.forEach((t, k) => {
        if (t >= from && t <= to) idx.push(k);
    });
    const seriesPoints = (arr: Float64Array) => idx.map((k) => [series.t[k] - from, arr[k]] as [number, number]);

    const panels: string[] = [];
    let y = TOP + 30;
    const add = (p: { svg: string; height: number }, after = GAP) => {
        panels.push(p.svg);
        y += p.height + after;
    };
    add(
        panel(
            y,
            "Load (requests/min)",
            load.map((v, i) => ({ label: wpNames[i], color: color(i), points: binPoints(v) })),
            { unit: "" },
        ),
    );
    add(
        panel(
            y,
            "Queue: held at the gateway (solid), in flight at workers (dashed)",
            series.perWorkerPool.flatMap((s, i) => [
                { label: `${wpNames[i]} held`, color: color(i), points: seriesPoints(s.held) },
                { label: `${wpNames[i]} in flight`, color: color(i), points: seriesPoints(s.inflight), dash: "4 3" },
            ]),
            { unit: "", integer: true },
        ),
    );
    add(
        panel(
            y,
            "Replicas: routable (solid), desired (dashed); GPU nodes per pool (dotted)",
            [
                ...series.perWorkerPool.flatMap((s, i) => [
                    { label: `${wpNames[i]} routable`, color: color(i), points: seriesPoints(s.ready), step: true },
                    { label: `${wpNames[i]} desired`, color: color(i), points: seriesPoints(s.desired), dash: "4 3", step: true },
                ]),
                ...series.nodes.map((n, g) => ({
                    label: `nodes ${input.gpuPools[g].name}`,
                    color: NODE_COLORS[g % NODE_COLORS.length],
                    points: seriesPoints(n),
                    dash: "1.5 2.5",
                    step: true,
                })),
            ],
            { unit: "", integer: true },
        ),
    );
    add(
        panel(
            y,
            "Latency P95 per 5 min (queue + service, log scale)",
            lat.map((bs, i) => ({
                label: wpNames[i],
                color: color(i),
                points: bs.map((v, k) => [k * BIN + BIN / 2, v.length ? quantileSorted(sortedCopy(v), 0.95) : NaN] as [number, number]),
            })),
            { unit: "s", log: true },
        ),
        30,
    );
    const weekday = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"][(input.trace.startWeekday + day) % 7];
    return [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif">`,
        `<rect width="100%" height="100%" fill="white"/>`,
        `<text x="${LEFT}" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`,
        `<text x="${LEFT}" y="40" font-size="11" fill="#555">profile ${esc(input.trace.profile)}, day ${day + 1} (${weekday}), local time; the day with the median load of the simulated span</text>`,
        ...panels,
        `</svg>`,
    ].join("\n");
}
