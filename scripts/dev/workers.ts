/**
 * Fake GPU workers for `npm run dev`: one fake vLLM (test/fakes/vllm.ts: the OpenAI API,
 * streamed answers that echo the question) per worker pool, in this process.
 *
 * Always on by default. With a simulated cold start, a pool starts at zero and scales the way
 * the stack's KEDA ScaledObject does (components/serving/scaling.ts), reading the same gateway
 * metrics: a worker is started when `gateway_queue_depth`, `gateway_warmup_replicas` or
 * `gateway_batch_backlog` of its pool is above zero, answers only after the cold start (its
 * /v1/models says 503 until then, as vLLM loading a model does), and stops after `idleSeconds`
 * without queued, in-flight or warm-up demand. Meanwhile the gateway holds the requests and the
 * page shows how long they have waited.
 */
import { FakeVllm, startFakeVllm } from "../../test/fakes/vllm";

export interface WorkerPool {
    /** Worker pool name (the gateway's `pool` label). */
    readonly name: string;
    /** Model ids and names the worker answers to. */
    readonly models: readonly string[];
    readonly port: number;
}

export interface WorkerOptions {
    /** Seconds from start to ready; undefined: always on, no cold start. */
    readonly coldStartSeconds?: number;
    /** Seconds without demand before a worker stops (cold start only). @default 60 */
    readonly idleSeconds?: number;
    /** Delay between streamed tokens, so the stream is visible. @default 40 */
    readonly tokenDelayMs?: number;
    /** Prints what the workers do. */
    readonly say: (line: string) => void;
}

/** Demand per pool from the gateway's /metrics (Prometheus text), as the ScaledObject's triggers read it. */
function demandByPool(metrics: string): Map<string, number> {
    const demand = new Map<string, number>();
    const re = /^(gateway_queue_depth|gateway_inflight_requests|gateway_warmup_replicas|gateway_batch_backlog)\{[^}]*pool="([^"]+)"[^}]*\} ([0-9.eE+-]+)$/gm;
    for (const m of metrics.matchAll(re)) demand.set(m[2], (demand.get(m[2]) ?? 0) + Number(m[3]));
    return demand;
}

export class Workers {
    private readonly running = new Map<string, { fake: FakeVllm; startedAt: number; idleSince: number; announced: boolean }>();
    private timer: NodeJS.Timeout | undefined;
    private polling = false;

    constructor(
        private readonly pools: readonly WorkerPool[],
        private readonly opts: WorkerOptions,
    ) {}

    /** Always-on workers start now; scale-from-zero ones wait for demand (call watch()). */
    async start(): Promise<void> {
        if (this.opts.coldStartSeconds === undefined) for (const p of this.pools) await this.up(p);
    }

    /** Polls the gateway's metrics every second and starts or stops workers (scale from and to zero). */
    watch(gatewayUrl: string): void {
        if (this.opts.coldStartSeconds === undefined) return;
        this.timer = setInterval(() => void this.poll(gatewayUrl), 1000);
    }

    async stop(): Promise<void> {
        clearInterval(this.timer);
        await Promise.all([...this.running.values()].map((w) => w.fake.stop()));
        this.running.clear();
    }

    private async up(p: WorkerPool): Promise<void> {
        const fake = await startFakeVllm({
            port: p.port,
            models: [...p.models],
            tokenDelayMs: this.opts.tokenDelayMs ?? 40,
            startupDelayMs: (this.opts.coldStartSeconds ?? 0) * 1000,
            maxTokens: 256,
        });
        this.running.set(p.name, { fake, startedAt: Date.now(), idleSince: Date.now(), announced: this.opts.coldStartSeconds === undefined });
    }

    private async poll(gatewayUrl: string): Promise<void> {
        if (this.polling) return;
        this.polling = true;
        try {
            const res = await fetch(`${gatewayUrl}/metrics`);
            const demand = demandByPool(await res.text());
            for (const p of this.pools) {
                const want = demand.get(p.name) ?? 0;
                const w = this.running.get(p.name);
                if (w && !w.announced && w.fake.ready()) {
                    w.announced = true;
                    this.opts.say(`worker ${p.name}: ready after ${Math.round((Date.now() - w.startedAt) / 1000)} s; the gateway sends it the held requests`);
                }
                if (!w && want > 0) {
                    await this.up(p);
                    this.opts.say(
                        `worker ${p.name}: starting from zero for ${want} waiting request(s) or warm-up(s); ready in ${this.opts.coldStartSeconds} s`,
                    );
                } else if (w && want > 0) {
                    w.idleSince = Date.now();
                } else if (w && Date.now() - w.idleSince >= (this.opts.idleSeconds ?? 60) * 1000) {
                    this.running.delete(p.name);
                    await w.fake.stop();
                    this.opts.say(`worker ${p.name}: stopped after ${this.opts.idleSeconds ?? 60} s without requests (scaled to zero)`);
                }
            }
        } catch {
            /* the gateway is starting or stopping */
        } finally {
            this.polling = false;
        }
    }
}
