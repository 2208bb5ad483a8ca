/**
 * The gateway config `npm run dev` runs with: the one the stack deploys
 * (components/serving/gatewayConfig.ts, from the stack file's config), with what only exists in
 * the cluster replaced by local stand-ins: each pool's workers are a fake vLLM on 127.0.0.1
 * instead of the headless Service's DNS name, the batch store a local redis-server (or no
 * batch API without one), the API key a demo key made for this run.
 */
import { gatewayConfig } from "../../components/serving/gatewayConfig";
import type { StackConfig } from "../../stacks/resolved";

export interface LocalGatewayOptions {
    /** The demo key (given the `warmup` permission, so the page shows "Get GPUs ready for class"). */
    readonly key: string;
    /** Team the key belongs to (the stack's `team` tag). */
    readonly team: string;
    /** Fake worker base URL per worker pool name. */
    readonly upstreams: Readonly<Record<string, string>>;
    /** redis://127.0.0.1:<port>, or undefined for no batch API. */
    readonly redisUrl?: string;
    /** The fake workers' simulated cold start: what the UI then says to expect. @default the stack's estimate */
    readonly coldStartSeconds?: number;
}

type Pool = Record<string, unknown> & { name: string; dns?: string; upstreams?: string[]; coldStartSecondsEstimate?: number };

export function localGatewayConfig(cfg: StackConfig, opts: LocalGatewayOptions): Record<string, unknown> {
    const config = gatewayConfig(cfg, [{ team: opts.team, key: opts.key, permissions: ["warmup"] }]);
    config.pools = (config.pools as Pool[]).map((p) => {
        const upstream = opts.upstreams[p.name];
        if (!upstream) throw new Error(`no local worker for pool '${p.name}'`);
        const { dns: _dns, ...rest } = p;
        return {
            ...rest,
            upstreams: [upstream],
            ...(opts.coldStartSeconds !== undefined ? { coldStartSecondsEstimate: Math.max(1, Math.round(opts.coldStartSeconds)) } : {}),
        };
    });
    if (opts.redisUrl && config.batch) config.batch = { ...(config.batch as Record<string, unknown>), redisUrl: opts.redisUrl };
    else delete config.batch;
    return config;
}
