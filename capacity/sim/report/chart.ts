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
const GAP = 52;
const TOP = 60;
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
const BIN = 300;

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

interface Line {
    readonly label: string;
    readonly color: string;
    readonly points: readonly [number, number][];
    readonly dash?: boolean;
    readonly step?: boolean;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2).replace(/\.?0+$/, "") || "0");

function panel(y0: number, title: string, lines: readonly Line[], opts: { log?: boolean; unit: string }): string {
    const plotW = WIDTH - LEFT - RIGHT;
    const values = lines.flatMap((l) => l.points.map((p) => p[1])).filter((v) => Number.isFinite(v));
    const positive = values.filter((v) => v > 0);
    const log = opts.log === true && positive.length > 0;
    const lo = log ? Math.min(1, ...positive) : 0;
    const hi = Math.max(log ? 10 : 1, ...values);
    const ly = (v: number) => (log ? Math.log10(Math.max(v, lo)) : v);
    const [a, b] = [ly(lo), ly(hi) === ly(lo) ? ly(lo) + 1 : ly(hi)];
    const y = (v: number) => y0 + PANEL - ((ly(v) - a) / (b - a)) * PANEL;
    const x = (t: number) => LEFT + (t / 86400) * plotW;
    const out: string[] = [];
    out.push(`<text x="${LEFT}" y="${y0 - 24}" font-size="13" font-weight="bold">${esc(title)}</text>`);
    out.push(`<rect x="${LEFT}" y="${y0}" width="${plotW}" height="${PANEL}" fill="#fafafa" stroke="#ccc"/>`);
    const ticks = log ? Array.from({ length: Math.floor(b) - Math.ceil(a) + 1 }, (_, i) => 10 ** (Math.ceil(a) + i)) : [0, hi / 2, hi];
    for (const v of ticks) {
        out.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
        out.push(`<text x="${LEFT - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="10" text-anchor="end">${fmt(v)}${esc(opts.unit)}</text>`);
    }
    for (let h = 0; h <= 24; h += 3) {
        out.push(`<line x1="${x(h * 3600).toFixed(1)}" x2="${x(h * 3600).toFixed(1)}" y1="${y0}" y2="${y0 + PANEL}" stroke="#eee"/>`);
        out.push(`<text x="${x(h * 3600).toFixed(1)}" y="${y0 + PANEL + 12}" font-size="10" text-anchor="middle">${String(h).padStart(2, "0")}:00</text>`);
    }
    let legendX = LEFT;
    for (const l of lines) {
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
            if (d.length > 0) out.push(`<path fill="none" stroke="${l.color}" stroke-width="1.5"${l.dash ? ' stroke-dasharray="4 3"' : ""} d="${d.join(" ")}"/>`);
        }
        out.push(`<line x1="${legendX}" x2="${legendX + 18}" y1="${y0 - 9}" y2="${y0 - 9}" stroke="${l.color}" stroke-width="2"${l.dash ? ' stroke-dasharray="4 3"' : ""}/>`);
        out.push(`<text x="${legendX + 22}" y="${y0 - 5}" font-size="10">${esc(l.label)}</text>`);
        legendX += 30 + l.label.length * 5.6;
    }
    return out.join("\n");
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
    panels.push(panel(y, "Load (requests/min)", load.map((v, i) => ({ label: wpNames[i], color: color(i), points: binPoints(v) })), { unit: "" }));
    y += PANEL + GAP;
    panels.push(
        panel(
            y,
            "Queue: held at the gateway (solid), in flight at workers (dashed)",
            series.perWorkerPool.flatMap((s, i) => [
                { label: `${wpNames[i]} held`, color: color(i), points: seriesPoints(s.held) },
                { label: "in flight", color: color(i), points: seriesPoints(s.inflight), dash: true },
            ]),
            { unit: "" },
        ),
    );
    y += PANEL + GAP;
    panels.push(
        panel(
            y,
            "Replicas: desired (dashed), routable (solid); GPU nodes (grey)",
            [
                ...series.perWorkerPool.flatMap((s, i) => [
                    { label: `${wpNames[i]}`, color: color(i), points: seriesPoints(s.ready), step: true },
                    { label: "desired", color: color(i), points: seriesPoints(s.desired), dash: true, step: true },
                ]),
                ...series.nodes.map((n, g) => ({ label: `nodes ${input.gpuPools[g].name}`, color: g === 0 ? "#777" : "#bbb", points: seriesPoints(n), step: true })),
            ],
            { unit: "" },
        ),
    );
    y += PANEL + GAP;
    panels.push(
        panel(
            y,
            "Latency P95 per 5 min (queue + service, log scale)",
            lat.map((bs, i) => ({ label: wpNames[i], color: color(i), points: bs.map((v, k) => [k * BIN + BIN / 2, v.length ? quantileSorted(sortedCopy(v), 0.95) : NaN] as [number, number]) })),
            { unit: "s", log: true },
        ),
    );
    y += PANEL + 30;
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
