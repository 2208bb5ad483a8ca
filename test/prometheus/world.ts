/**
 * One plan's monitoring world on 127.0.0.1: the stack rendered under the mocks, the real
 * gateway with the stack's own gateway config, fake vLLM workers (real metric names) that
 * come and go per pool, a fake DCGM exporter (real names and labels), and a real Prometheus
 * scraping them the way the plan's ServiceMonitors ask, with the plan's rules loaded.
 */
import * as fs from "fs";
import * as path from "path";
import { Agent, request } from "undici";
import { dcgmExporterValues } from "../../components/addons/dcgmExporter";
import { MONITORING_NAMESPACE } from "../../components/addons";
import { GATEWAY_NAME } from "../../components/serving/gatewayDeployment";
import { gatewayConfig } from "../../components/serving/gatewayConfig";
import { WORKER_POOL_LABEL } from "../../components/serving/workers";
import { Gateway, GatewayConfigInput, startGateway } from "../../gateway/src/index";
import type { StackConfig } from "../../stacks/resolved";
import { FakeDcgm, FakeGpu, startFakeDcgm } from "../fakes/dcgm";
import { FakeVllm, startFakeVllm } from "../fakes/vllm";
import { FAST_HEALTH, KEY } from "../gateway/helpers";
import { StackRun } from "../helpers/program";
import { deployments, grafanaToPromQL, MonitorSpec, panelQueries, PlanPod, ruleSpecs, rules, scrapeJobs, serviceMonitors, services, triggers } from "./plan";
import { eventually, PrometheusServer, startPrometheus, tempDir } from "./server";

/** Scrape and rule-evaluation interval of the test Prometheus (15 s / 1 m in the cluster). */
const INTERVAL = "500ms";

export interface Expression {
    /** Where it comes from: "trigger worker-x/demand", "rule gpuserve:usd_per_hour", "serving.json: P95 latency". */
    readonly source: string;
    /** "alert": an alerting rule's condition, which has data only while it fires. */
    readonly kind: "trigger" | "rule" | "alert" | "panel";
    /** Panels: the unit they show. */
    readonly unit?: string;
    /** As Prometheus receives it. */
    readonly expr: string;
}

/** The chart-made DCGM ServiceMonitor (charts render nothing under the mocks), from our chart values. */
function dcgmMonitor(): { monitor: MonitorSpec; service: ReturnType<typeof services>[number]; podLabels: Record<string, string> } {
    const sm = dcgmExporterValues().serviceMonitor as { honorLabels?: boolean; relabelings?: unknown[] };
    // dcgm-exporter chart 4.8.2 templates/service-monitor.yaml: port "metrics", path /metrics, honorLabels and relabelings from values.
    const labels = { "app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": "dcgm-exporter" };
    return {
        monitor: {
            namespace: MONITORING_NAMESPACE,
            name: "dcgm-exporter",
            spec: {
                selector: { matchLabels: labels },
                namespaceSelector: { matchNames: [MONITORING_NAMESPACE] },
                endpoints: [{ port: "metrics", path: "/metrics", honorLabels: sm.honorLabels ?? false, relabelings: sm.relabelings ?? [] }],
            },
        },
        service: { namespace: MONITORING_NAMESPACE, name: "dcgm-exporter", labels, selector: labels, ports: ["metrics"] },
        podLabels: labels,
    };
}

const hostPort = (url: string) => new URL(url).host;

export class World {
    private readonly workers = new Map<string, FakeVllm[]>();
    private readonly held: AbortController[] = [];
    private readonly agent = new Agent({ connections: 64 });

    private constructor(
        readonly label: string,
        readonly run: StackRun,
        readonly cfg: StackConfig,
        readonly gateway: Gateway & { url: string },
        readonly dcgm: FakeDcgm,
        readonly prometheus: PrometheusServer,
        private readonly jobs: ReturnType<typeof scrapeJobs>,
        private readonly basePods: PlanPod[],
        /** Worker pool name -> its Deployment (namespace, pod labels, container). */
        readonly pools: Map<string, ReturnType<typeof deployments>[number]>,
    ) {}

    /**
     * Renders the stack, starts the gateway (its pools at zero workers: discovery finds no
     * pods), the DCGM exporter and Prometheus. `holdLimit` caps each pool's queue so the
     * next request is refused with 429 (the stack's depth is in the hundreds).
     */
    static async start(label: string, run: StackRun, cfg: StackConfig, holdLimit: number): Promise<World> {
        const gwCfg = gatewayConfig(cfg, [{ team: "radiology", key: KEY }]) as Record<string, any>;
        const gateway = await startGateway(
            // A budget for the team, so the budget panels and alerts have their series.
            {
                ...gwCfg,
                queue: { ...gwCfg.queue, maxDepth: holdLimit },
                health: FAST_HEALTH,
                logLevel: "silent",
                limits: { ...gwCfg.limits, teams: { radiology: { budgetUsdPerMonth: 1000 } } },
            } as GatewayConfigInput,
            {
                port: 0,
                host: "127.0.0.1",
                // The pools' headless Services have no ready pods yet (NXDOMAIN); workers are added with setUpstreams.
                resolver: async (host) => {
                    throw Object.assign(new Error(`queryA ENOTFOUND ${host}`), { code: "ENOTFOUND" });
                },
            },
        );
        const dcgm = await startFakeDcgm();

        const deps = deployments(run.resources);
        const gwDep = deps.find((d) => d.name === GATEWAY_NAME);
        if (!gwDep) throw new Error("the plan has no gateway Deployment");
        const d = dcgmMonitor();
        const basePods: PlanPod[] = [
            {
                name: `${GATEWAY_NAME}-6d4cf56db9-x2x7q`,
                namespace: gwDep.namespace,
                labels: gwDep.podLabels,
                container: gwDep.container,
                address: hostPort(gateway.url),
            },
            { name: "dcgm-exporter-n4k8w", namespace: MONITORING_NAMESPACE, labels: d.podLabels, container: "exporter", address: hostPort(dcgm.url) },
        ];
        const pools = new Map(deps.filter((x) => x.podLabels[WORKER_POOL_LABEL]).map((x) => [x.podLabels[WORKER_POOL_LABEL], x]));

        const dir = tempDir("prom-world-");
        const sdDir = path.join(dir, "sd");
        fs.mkdirSync(sdDir);
        const jobs = scrapeJobs([...serviceMonitors(run.resources), d.monitor], [...services(run.resources), d.service], sdDir, INTERVAL);
        const ruleFiles = ruleSpecs(run.resources).map((r, i) => {
            const file = path.join(dir, `rules-${i}.json`);
            // The plan's groups as they are, evaluated every INTERVAL instead of every minute.
            fs.writeFileSync(file, JSON.stringify({ groups: r.groups.map((g) => ({ ...g, interval: INTERVAL })) }));
            return file;
        });
        writeTargets(jobs, basePods);
        const prometheus = await startPrometheus(
            { global: { scrape_interval: INTERVAL, evaluation_interval: INTERVAL }, rule_files: ruleFiles, scrape_configs: jobs.map((j) => j.config) },
            dir,
        );
        return new World(label, run, cfg, gateway, dcgm, prometheus, jobs, basePods, pools);
    }

    /** Every PromQL expression the plan emits, as Prometheus receives it. */
    expressions(): Expression[] {
        const poolNames = [...this.pools.keys()];
        return [
            ...triggers(this.run.resources).map((t) => ({ source: `trigger ${t.scaledObject}/${t.name}`, kind: "trigger" as const, expr: t.query })),
            ...rules(this.run.resources).map((r) => ({
                source: `rule ${r.record ?? r.alert}${JSON.stringify(r.labels)}`,
                kind: r.alert ? ("alert" as const) : ("rule" as const),
                expr: r.expr,
            })),
            ...panelQueries(this.run.resources).map((p) => ({
                source: `${p.dashboard}: ${p.panel}`,
                kind: "panel" as const,
                unit: p.unit,
                expr: grafanaToPromQL(p.expr, { pool: poolNames }),
            })),
        ];
    }

    /** The pool whose GPU nodes carry the most GPUs (a worker there keeps the biggest node up). */
    biggestNodePool(): string {
        const gpus = (pool: string) => this.cfg.gpuPools.find((p) => p.name === this.cfg.models.find((m) => m.name === pool)!.pool)!.gpusPerNode;
        return [...this.pools.keys()].sort((a, b) => gpus(b) - gpus(a) || a.localeCompare(b))[0];
    }

    /** Worker pod names a pool's Deployment would create. */
    podName(pool: string, i: number): string {
        return `${this.pools.get(pool)!.name}-7f9c8d6b5-${"abcdefghjk"[i]}${i}x9z`;
    }

    /** Starts n fake vLLM workers for a pool: Prometheus scrapes them, the gateway routes to them. */
    async addWorkers(pool: string, n: number): Promise<FakeVllm[]> {
        const fakes = await Promise.all(Array.from({ length: n }, () => startFakeVllm({ models: [pool, this.cfg.models.find((m) => m.name === pool)!.id] })));
        this.workers.set(pool, [...(this.workers.get(pool) ?? []), ...fakes]);
        this.gateway.pools.get(pool)!.setUpstreams(this.workers.get(pool)!.map((f) => f.url));
        writeTargets(this.jobs, this.pods());
        return fakes;
    }

    /** The pods now running: gateway, DCGM exporter, workers. */
    pods(): PlanPod[] {
        const workers = [...this.workers].flatMap(([pool, fakes]) => {
            const dep = this.pools.get(pool)!;
            return fakes.map((f, i) => ({
                name: this.podName(pool, i),
                namespace: dep.namespace,
                labels: dep.podLabels,
                container: dep.container,
                address: hostPort(f.url),
            }));
        });
        return [...this.basePods, ...workers];
    }

    /** Resolves once every target is up and every rule group has been evaluated. */
    async ready(): Promise<void> {
        const targets = this.jobs.reduce((n, j) => n + j.targetsFor(this.pods()).length, 0);
        await eventually(
            `${targets} targets up`,
            async () => (await this.prometheus.query("count(up == 1)")).samples[0]?.value ?? 0,
            (n) => n === targets,
        );
        // Two scrapes of every target, so rules on rate() have a value (a minute after a start in the cluster).
        await eventually(
            `${targets} targets scraped twice`,
            async () => (await this.prometheus.query("count(rate(up[5m]))")).samples[0]?.value ?? 0,
            (n) => n === targets,
        );
        // Twice: a group evaluates at its interval-aligned timestamp, which can precede the wall time its
        // lastEvaluation reports, so one evaluation "since" may still query before the scrapes above (the team
        // floor rule was empty once in a full run); the second round's queries run after the first round ended.
        for (const round of [1, 2]) {
            const since = Date.now();
            await eventually(
                `every rule group evaluated since (round ${round})`,
                async () => {
                    const body = (await (await fetch(`${this.prometheus.url}/api/v1/rules`)).json()) as {
                        data: { groups: Array<{ name: string; lastEvaluation: string }> };
                    };
                    return body.data.groups.filter((g) => Date.parse(g.lastEvaluation) <= since).map((g) => g.name);
                },
                (pending) => pending.length === 0,
            );
        }
    }

    setGpus(gpus: FakeGpu[]): void {
        this.dcgm.setGpus(gpus);
    }

    /** Sends a chat request through the gateway and does not wait for it; returns a promise of its status. */
    send(pool: string): Promise<number> {
        const ac = new AbortController();
        this.held.push(ac);
        return request(`${this.gateway.url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
            body: JSON.stringify({ model: pool, messages: [{ role: "user", content: "what is on this x-ray" }], max_tokens: 4 }),
            signal: ac.signal,
            dispatcher: this.agent,
        }).then(
            async (r) => {
                await r.body.text();
                return r.statusCode;
            },
            () => -1,
        );
    }

    /** A request straight to a worker (not through the gateway), left running until stop(). */
    sendDirect(worker: FakeVllm, pool: string): void {
        const ac = new AbortController();
        this.held.push(ac);
        request(`${worker.url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model: pool, messages: [{ role: "user", content: "long answer please" }], stream: true }),
            signal: ac.signal,
            dispatcher: this.agent,
        }).then(
            (r) => r.body.dump().catch(() => undefined),
            () => undefined,
        );
    }

    /** The pool's trigger of that name; throws when the plan has none (a test names only triggers the plan must have). */
    trigger(pool: string, name: string) {
        const dep = this.pools.get(pool)!;
        const t = triggers(this.run.resources).find((x) => x.target === dep.name && x.name === name);
        if (!t)
            throw new Error(
                `${dep.name} has no trigger '${name}'; it has: ${triggers(this.run.resources)
                    .filter((x) => x.target === dep.name)
                    .map((x) => x.name)
                    .join(", ")}`,
            );
        return t;
    }

    /**
     * The value a KEDA trigger reads: exactly one finite sample. KEDA errors on several, and would read an empty
     * result, NaN or Inf as 0 (pkg/scalers/prometheus_scaler.go ExecutePromQuery, ignoreNullValues default
     * true), which hides a broken query: here each of those throws.
     */
    async triggerValue(pool: string, name: string): Promise<number> {
        const t = this.trigger(pool, name);
        const r = await this.prometheus.query(t.query);
        if (r.status !== "success") throw new Error(`${t.scaledObject}/${t.name}: ${r.error}`);
        if (r.samples.length !== 1) throw new Error(`${t.scaledObject}/${t.name} returned ${r.samples.length} series (one finite value expected): ${t.query}`);
        const v = r.samples[0].value;
        if (!Number.isFinite(v)) throw new Error(`${t.scaledObject}/${t.name} returned ${v} (KEDA would read it as 0): ${t.query}`);
        return v;
    }

    /** Every trigger of the plan as [pool, name], for the pools this world knows. */
    triggerNames(): Array<[pool: string, name: string]> {
        return [...this.pools].flatMap(([pool, dep]) =>
            triggers(this.run.resources)
                .filter((t) => t.target === dep.name)
                .map((t) => [pool, t.name] as [string, string]),
        );
    }

    async stop(): Promise<void> {
        for (const ac of this.held) ac.abort();
        await Promise.allSettled([this.prometheus.stop(), this.gateway.close(), this.dcgm.stop(), ...[...this.workers.values()].flat().map((f) => f.stop())]);
        await this.agent.close().catch(() => undefined);
    }
}

/** Writes each job's file_sd targets (atomically: Prometheus watches the files). */
function writeTargets(jobs: ReturnType<typeof scrapeJobs>, pods: PlanPod[]): void {
    for (const j of jobs) {
        const tmp = `${j.file}.tmp`;
        fs.writeFileSync(tmp, JSON.stringify(j.targetsFor(pods)));
        fs.renameSync(tmp, j.file);
    }
}
