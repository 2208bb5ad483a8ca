/**
 * The discrete-event simulation of one stack's serving path and control loops:
 *
 *   arrivals -> gateway (hold while no worker is routable; bounded queue -> 429,
 *   bounded wait -> 503) -> workers (least outstanding requests; `concurrency` slots,
 *   then vLLM's waiting queue)                                        [gateway.ts]
 *   Prometheus scrapes -> KEDA polls (0 <-> 1, cooldown, cron windows, fallback) and
 *   the HPA (1 <-> N)                                                 [control.ts]
 *   -> Deployment replicas -> scheduler (one GPU per pod) -> Cluster Autoscaler
 *   (scale-up for pending pods, scale-down of empty nodes) -> node boot, device plugin,
 *   image pull, model load -> routable; optional spot reclaims        [cluster.ts]
 *
 * Time is simulated seconds of local wall-clock (stacks/calendar/clock.ts). Arrivals come from a
 * Trace; everything random in the cluster (boot and pull times, spot reclaims) is drawn
 * per node from hashed streams, so two runs differing in one knob stay comparable.
 * The run continues past the horizon until every request has an outcome, so
 * answered + rejected = arrived holds exactly; costs include that short tail.
 */
import { Cluster } from "./cluster";
import { Control } from "./control";
import { Gateway } from "./gatewayQueue";
import { Ev, PodState, SimEvent, SimState } from "./state";
import { mean, quantileSorted, sortedCopy } from "./stats";
import { GpuPoolResult, SimInput, SimResult, WorkerPoolResult } from "./types";

/** The run may go on this long after the horizon to let queues drain; beyond, the config cannot settle. */
const MAX_TAIL_SECONDS = 14 * 86400;

export function simulate(input: SimInput): SimResult {
    const s = new SimState(input);
    const gateway = new Gateway(s);
    const cluster = new Cluster(s);
    gateway.cluster = cluster;
    cluster.gateway = gateway;
    const control = new Control(s, cluster);
    const series = input.params.timeseries ? newSeries(s) : undefined;

    cluster.initialState(control.initialReplicas());
    s.at(0, Ev.Scrape);
    s.at(0, Ev.DcgmScrape);
    s.at(5, Ev.HpaSync);
    s.at(0, Ev.CaScan);
    s.wps.forEach((w, i) => {
        if (w.setup.policy.controller === "keda") s.at(10, Ev.KedaPoll, { i });
    });
    if (series) s.at(0, Ev.Sample);
    const hpaPeriod = Math.min(...input.workerPools.map((w) => w.policy.hpaSyncSeconds));

    const handle = (e: SimEvent): void => {
        switch (e.type) {
            case Ev.Complete:
                return gateway.complete(e.i, e.g);
            case Ev.HoldTimeout:
                return gateway.holdTimeout(e.i, e.g);
            case Ev.UpstreamTimeout:
                return gateway.upstreamTimeout(e.i, e.g);
            case Ev.PodReady:
                return cluster.podReady(e.pod!);
            case Ev.PodRelease:
                return cluster.podRelease(e.pod!);
            case Ev.NodeAllocatable:
                return cluster.nodeAllocatable(e.node!);
            case Ev.SpotNotice:
                return cluster.spotNotice(e.node!);
            case Ev.SpotTerminate:
                return cluster.spotTerminate(e.node!);
            case Ev.CaScan:
                cluster.caScan();
                return s.at(s.now + s.p.caScanSeconds, Ev.CaScan);
            case Ev.Scrape:
                control.scrape();
                return s.at(s.now + s.p.scrapeSeconds, Ev.Scrape);
            case Ev.DcgmScrape:
                control.dcgmScrape();
                return s.at(s.now + s.p.dcgmScrapeSeconds, Ev.DcgmScrape);
            case Ev.HpaSync:
                s.wps.forEach((_, i) => control.hpaSync(i));
                return s.at(s.now + hpaPeriod, Ev.HpaSync);
            case Ev.KedaPoll:
                control.kedaPoll(e.i);
                return s.at(s.now + s.wps[e.i].setup.policy.pollingIntervalSeconds, Ev.KedaPoll, { i: e.i });
            case Ev.Sample:
                sample(s, series!);
                return s.at(s.now + 60, Ev.Sample);
        }
    };

    const times = s.trace.times;
    const n = times.length;
    const horizon = s.trace.horizonSeconds;
    let next = 0;
    for (;;) {
        const ta = next < n ? times[next] : Infinity;
        if (ta <= s.heap.peekTime()) {
            s.now = ta;
            gateway.arrive(next++);
            continue;
        }
        const e = s.heap.pop();
        if (!e) break;
        s.now = e.t;
        if (s.now >= horizon && s.unresolved === 0 && next >= n) break;
        if (s.now > horizon + MAX_TAIL_SECONDS) throw new Error("simulation did not settle two weeks after the horizon: some pool never served its queue");
        handle(e);
    }
    return result(s, Math.max(horizon, s.lastCompletion), series);
}

interface SeriesBuffers {
    t: number[];
    wp: { held: number[]; inflight: number[]; desired: number[]; ready: number[] }[];
    nodes: number[][];
}

function newSeries(s: SimState): SeriesBuffers {
    return { t: [], wp: s.wps.map(() => ({ held: [], inflight: [], desired: [], ready: [] })), nodes: s.gps.map(() => []) };
}

function sample(s: SimState, b: SeriesBuffers): void {
    b.t.push(s.now);
    s.wps.forEach((w, i) => {
        b.wp[i].held.push(w.heldCount);
        b.wp[i].inflight.push(w.inflight);
        b.wp[i].desired.push(w.desired);
        b.wp[i].ready.push(w.ready.length);
    });
    s.gps.forEach((g, i) => b.nodes[i].push(g.nodes.length));
}

function result(s: SimState, end: number, b: SeriesBuffers | undefined): SimResult {
    // Close the books: pods still holding GPUs and nodes still running at the end.
    for (const w of s.wps) for (const pod of w.pods) if (pod.node && pod.state !== PodState.Gone) w.podGpuSeconds += end - pod.boundAt;
    const gpuPools: GpuPoolResult[] = s.gps.map((g) => {
        let nodeSeconds = 0;
        for (const n of [...g.nodes, ...g.retired]) nodeSeconds += Math.min(n.goneAt, end) - n.launchedAt;
        return {
            name: g.setup.name,
            instanceType: g.setup.instanceType,
            capacityType: g.setup.capacityType,
            usdPerHour: g.setup.usdPerHour,
            gpusPerNode: g.setup.gpusPerNode,
            nodeSeconds,
            usd: (nodeSeconds / 3600) * g.setup.usdPerHour,
            nodeLaunches: g.nodeLaunches,
            peakNodes: g.peakNodes,
            interruptions: g.interruptions,
        };
    });
    const all: number[] = [];
    const workerPools: WorkerPoolResult[] = s.wps.map((w) => {
        const sorted = sortedCopy(w.latencies);
        for (const l of w.latencies) all.push(l);
        return {
            name: w.setup.name,
            model: w.setup.model,
            gpuPool: s.gps[w.setup.gpuPool].setup.name,
            policy: w.setup.policy.name,
            arrived: w.arrived,
            answered: w.answered,
            rejected429: w.rejected429,
            rejected503: w.rejected503,
            timedOut: w.timedOut,
            held: w.held,
            requeued: w.requeued,
            latency: {
                p50: quantileSorted(sorted, 0.5),
                p95: quantileSorted(sorted, 0.95),
                p99: quantileSorted(sorted, 0.99),
                mean: mean(sorted),
                max: sorted.length ? sorted[sorted.length - 1] : NaN,
            },
            coldStarts: w.coldStarts,
            coldStartsUnanswered: w.coldStartsUnanswered,
            timeToFirstAnswer: w.ttfa,
            podStarts: w.podStarts,
            podGpuSeconds: w.podGpuSeconds,
            peakReplicas: w.peakReplicas,
            workSeconds: w.workSeconds,
        };
    });
    const sortedAll = sortedCopy(all);
    // Interactive requests only: batch lines have no latency sample.
    const withFailures = new Float64Array(s.outcome.length - (s.batch?.lines ?? 0)).fill(Infinity);
    sortedAll.forEach((l, k) => (withFailures[k] = l));
    withFailures.sort();
    return {
        horizonSeconds: s.trace.horizonSeconds,
        endSeconds: end,
        workerPools,
        gpuPools,
        usd: gpuPools.reduce((a, g) => a + g.usd, 0),
        latency: { p50: quantileSorted(sortedAll, 0.5), p95: quantileSorted(sortedAll, 0.95), p99: quantileSorted(sortedAll, 0.99) },
        latencyAllRequests: { p50: quantileSorted(withFailures, 0.5), p95: quantileSorted(withFailures, 0.95), p99: quantileSorted(withFailures, 0.99) },
        completion: s.completion,
        outcome: s.outcome,
        batch: s.batch?.result(),
        steps: s.meters?.steps(end),
        signals: s.rec,
        series: b && {
            t: Float64Array.from(b.t),
            perWorkerPool: b.wp.map((x) => ({
                held: Float64Array.from(x.held),
                inflight: Float64Array.from(x.inflight),
                desired: Float64Array.from(x.desired),
                ready: Float64Array.from(x.ready),
            })),
            nodes: b.nodes.map((x) => Float64Array.from(x)),
        },
    };
}
