/** The compare chart's axes and legends (capacity/sim/report/chart.ts). */
import * as assert from "assert";
import { simulateStack } from "../../capacity/sim";
import { axisTicks, legendLayout, stackChart, tickLabel } from "../../capacity/sim/report/chart";
import { parseStackConfig } from "../../stacks/validate";

/** Two GPU pools, three worker pools, classroom traffic: the shape that showed the bugs. */
function threePools() {
    return parseStackConfig({
        region: "us-east-1",
        environment: "t",
        tags: { team: "t" },
        serving: { allowInsecureHttp: true },
        gpuPools: [
            { name: "a10g", gpuType: "a10g", maxNodes: 4 },
            { name: "l40s", gpuType: "l40s", maxNodes: 2 },
        ],
        models: [
            { id: "google/medgemma-4b-it", pool: "a10g", scaling: { maxReplicas: 2 } },
            { id: "Qwen/Qwen3-VL-2B-Instruct", pool: "a10g", scaling: { maxReplicas: 2 } },
            { id: "Qwen/Qwen3-VL-8B-Instruct", pool: "l40s", scaling: { maxReplicas: 2 } },
        ],
        traffic: { profile: "classroom" },
    });
}

/** The panels of a chart: title, tick labels (top to bottom) and legend items with their x. */
function panels(svg: string) {
    const titles = [...svg.matchAll(/<text x="70" y="([\d.]+)" font-size="13" font-weight="bold">([^<]+)<\/text>/g)].map((m) => ({
        y: Number(m[1]),
        title: m[2],
    }));
    return titles.map((t, i) => {
        const end = titles[i + 1]?.y ?? Infinity;
        const inPanel = (y: number) => y > t.y && y < end;
        const tickTexts = [...svg.matchAll(/<text x="64" y="([\d.]+)" font-size="10" text-anchor="end">([^<]*)<\/text>/g)].filter((m) => inPanel(Number(m[1])));
        const ticks = tickTexts.map((m) => m[2]);
        // SVG y grows downwards: the top tick has the smallest y (its label sits 4 px below the line).
        const topTickY = Math.min(...tickTexts.map((m) => Number(m[1]) - 4));
        const pathYs = [...svg.matchAll(/<path fill="none"[^>]* d="([^"]+)"\/>/g)]
            .flatMap((m) => [...m[1].matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((p) => Number(p[2])))
            .filter(inPanel);
        const legend = [
            ...svg.matchAll(
                /<line x1="([\d.]+)" x2="[\d.]+" y1="([\d.]+)" y2="[\d.]+" stroke="([^"]+)" stroke-width="2"(?: stroke-dasharray="[^"]+")?\/>\n<text x="[\d.]+" y="[\d.]+" font-size="10">([^<]+)<\/text>/g,
            ),
        ]
            .filter((m) => inPanel(Number(m[2])))
            .map((m) => ({ x: Number(m[1]), row: Number(m[2]), color: m[3], label: m[4] }));
        return { title: t.title, ticks, legend, topTickY, pathYs };
    });
}

describe("chart axes", () => {
    it("counts get whole-number ticks (no replica 0.5 or 1.5)", () => {
        assert.deepStrictEqual(axisTicks(1, { integer: true }).ticks, [0, 1]);
        assert.deepStrictEqual(axisTicks(3, { integer: true }).ticks, [0, 1, 2, 3]);
        assert.deepStrictEqual(axisTicks(2, { integer: true }).ticks, [0, 1, 2]);
        for (let max = 1; max <= 300; max += 7) for (const t of axisTicks(max, { integer: true }).ticks) assert.ok(Number.isInteger(t), `${max}: ${t}`);
    });

    it("the axis top is a labelled tick at or above the largest value, linear and log", () => {
        for (const max of [0.4, 1, 5.8, 29.7, 200, 631]) {
            const lin = axisTicks(max, {});
            assert.ok(lin.top >= max && lin.ticks.at(-1) === lin.top, `linear ${max}: ${JSON.stringify(lin)}`);
        }
        const log = axisTicks(630.27, { log: true, min: 0.6 });
        assert.deepStrictEqual(log.ticks, [0.1, 1, 10, 100, 1000]);
        assert.strictEqual(log.top, 1000);
    });

    it("labels ticks in one format per axis", () => {
        assert.deepStrictEqual(
            [0.1, 1, 10, 100, 1000].map((v) => tickLabel(v, "s")),
            ["0.1 s", "1 s", "10 s", "100 s", "1,000 s"],
        );
        assert.deepStrictEqual(
            [0, 2, 4, 6].map((v) => tickLabel(v, "")),
            ["0", "2", "4", "6"],
        );
    });

    it("lays legend items out without overlap, wrapping rows within the plot width", () => {
        const labels = ["medgemma-4b held", "medgemma-4b in flight", "qwen3-vl-2b held", "qwen3-vl-2b in flight", "qwen3-vl-8b held", "qwen3-vl-8b in flight"];
        const at = legendLayout(labels, 850);
        for (let i = 1; i < at.length; i++) {
            if (at[i].row !== at[i - 1].row) continue;
            // Swatch 22 px + the text at <= 6.2 px per character + a gap.
            assert.ok(at[i].x >= at[i - 1].x + 22 + labels[i - 1].length * 6.2 + 8, `${labels[i - 1]} runs into ${labels[i]}`);
        }
        for (let i = 0; i < at.length; i++) assert.ok(at[i].x + 22 + labels[i].length * 6.2 <= 850, `${labels[i]} overflows`);
        assert.ok(
            at.some((a) => a.row > 0),
            "six long labels need a second row",
        );
    });
});

describe("compare chart of a stack with two GPU pools and three worker pools", function () {
    this.timeout(60000);
    const sim = simulateStack(threePools(), { days: 7, params: { timeseries: true } });
    const svg = stackChart("t", sim.input, sim.result);
    const [load, queue, replicas, latency] = panels(svg);

    it("draws the four panels with every legend entry clear of the next", () => {
        assert.deepStrictEqual(
            [load, queue, replicas, latency].map((p) => p.title.split(/[:( ]/)[0]),
            ["Load", "Queue", "Replicas", "Latency"],
        );
        for (const p of [load, queue, replicas, latency]) {
            assert.ok(p.legend.length > 0, p.title);
            for (let i = 1; i < p.legend.length; i++) {
                const [a, b] = [p.legend[i - 1], p.legend[i]];
                if (a.row === b.row) assert.ok(b.x >= a.x + 22 + a.label.length * 6.2, `${p.title}: '${a.label}' runs into '${b.label}'`);
            }
        }
        assert.deepStrictEqual(queue.legend.map((l) => l.label).slice(0, 2), ["medgemma-4b held", "medgemma-4b in flight"]);
    });

    it("gives each GPU pool's node line its own colour, none a worker pool's", () => {
        const nodes = replicas.legend.filter((l) => l.label.startsWith("nodes "));
        assert.deepStrictEqual(
            nodes.map((n) => n.label),
            ["nodes a10g", "nodes l40s"],
        );
        assert.notStrictEqual(nodes[0].color, nodes[1].color);
        // Two shades of grey read as one line: at most one node colour is a neutral grey.
        const grey = (c: string) => /^#([0-9a-f]{2})\1\1$/i.test(c) || /^#([0-9a-f])\1\1$/i.test(c);
        assert.ok(nodes.filter((n) => grey(n.color)).length <= 1, nodes.map((n) => n.color).join(", "));
        const workerColors = new Set(replicas.legend.filter((l) => !l.label.startsWith("nodes ")).map((l) => l.color));
        for (const n of nodes) assert.ok(!workerColors.has(n.color), `${n.label} shares a worker pool's colour`);
    });

    it("labels whole replicas only, and a latency top tick above the highest P95 plotted", () => {
        assert.ok(
            replicas.ticks.every((t) => /^\d+$/.test(t)),
            replicas.ticks.join(","),
        );
        assert.ok(
            queue.ticks.every((t) => /^[\d,]+$/.test(t)),
            queue.ticks.join(","),
        );
        // Nothing is drawn above the top tick, which carries a value (the 400 s spikes were cut off unlabelled).
        assert.ok(latency.pathYs.length > 0);
        assert.ok(
            Math.min(...latency.pathYs) >= latency.topTickY - 0.05,
            `a line rises above the top tick (${Math.min(...latency.pathYs)} < ${latency.topTickY})`,
        );
        for (const p of [load, queue, replicas]) assert.ok(Math.min(...p.pathYs) >= p.topTickY - 0.05, p.title);
        assert.ok(
            latency.ticks.every((t) => /^[\d,.]+ s$/.test(t) && !/\.0 s$/.test(t)),
            latency.ticks.join(" / "),
        );
    });
});
