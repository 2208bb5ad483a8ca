/**
 * One worker (vLLM server): its HTTP connection pool, load (outstanding requests) and
 * health. Health is active (GET /v1/models: vLLM answers it only once the model is
 * loaded; /health says only that the process is up) and passive (a failure ejects the
 * upstream for a while, then it must pass a probe again).
 */
import { Pool as HttpPool } from "undici";
import type { GatewayConfig } from "./config";

/**
 * How a request ended on an upstream. Only "connect-failure" (the connection failed or was
 * cut: the worker's fault) ejects. A 5xx answer may be caused by the request's own content,
 * so it only triggers a probe at once: the worker is taken out if the probe fails. A timeout
 * (a long generation the client asked for) is not the worker's fault either.
 */
export type Outcome = "ok" | "connect-failure" | "http-5xx" | "timeout" | "aborted";

export interface UpstreamEvents {
    /** Availability may have increased: the pool should serve its queue. */
    onAvailable(): void;
    /** Availability changed either way (metrics). */
    onStateChange(): void;
    onEjected(up: Upstream, reason: string): void;
}

export class Upstream {
    readonly http: HttpPool;
    outstanding = 0;
    /** Passed its last probe. */
    ready = false;
    ejectedUntil = 0;
    private timer: NodeJS.Timeout | undefined;
    private stopped = false;
    private probing = false;

    constructor(
        readonly origin: string,
        private readonly config: GatewayConfig,
        private readonly events: UpstreamEvents,
        /** Sent with every request and probe to this upstream (config.ts upstreamHeaders). @default {} */
        readonly headers: Readonly<Record<string, string>> = {},
    ) {
        const u = config.upstream;
        this.http = new HttpPool(origin, {
            connectTimeout: u.connectTimeoutSeconds * 1000,
            headersTimeout: u.headersTimeoutSeconds * 1000,
            bodyTimeout: u.bodyTimeoutSeconds * 1000,
            // Below uvicorn's 5 s keep-alive, so we rarely reuse a socket the server is closing.
            keepAliveTimeout: 4000,
        });
    }

    available(now: number, maxConcurrent: number | undefined): boolean {
        return this.ready && !this.stopped && now >= this.ejectedUntil && (maxConcurrent === undefined || this.outstanding < maxConcurrent);
    }

    startProbing(): void {
        this.schedule(0);
    }

    private schedule(ms: number): void {
        if (this.stopped) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.probe(), ms);
        this.timer.unref();
    }

    private async probe(): Promise<void> {
        const h = this.config.health;
        const wait = this.ejectedUntil - Date.now();
        if (wait > 0) return this.schedule(wait);
        if (this.probing) return;
        this.probing = true;
        const ok = await this.probeOnce(h.probeTimeoutSeconds * 1000).finally(() => (this.probing = false));
        if (this.stopped) return;
        this.setReady(ok);
        this.schedule((ok ? h.probeIntervalSeconds : h.probeIntervalNotReadySeconds) * 1000);
    }

    private async probeOnce(timeoutMs: number): Promise<boolean> {
        try {
            const res = await this.http.request({
                method: "GET",
                path: "/v1/models",
                headers: { ...this.headers },
                headersTimeout: timeoutMs,
                bodyTimeout: timeoutMs,
                signal: AbortSignal.timeout(timeoutMs),
            });
            const body = (await res.body.json()) as { data?: unknown };
            return res.statusCode === 200 && Array.isArray(body?.data);
        } catch {
            return false;
        }
    }

    private setReady(ready: boolean): void {
        if (ready === this.ready) return;
        this.ready = ready;
        this.events.onStateChange();
        if (ready) this.events.onAvailable();
    }

    /** Passive health: called when a request finishes. */
    report(outcome: Outcome): void {
        if (outcome === "connect-failure") {
            this.eject("connection failed");
        } else if (outcome === "http-5xx") {
            // Is it the worker or the request? Ask the worker (GET /v1/models) now; a failed probe takes it out.
            if (!this.stopped && Date.now() >= this.ejectedUntil) this.schedule(0);
        }
    }

    private eject(reason: string): void {
        if (Date.now() < this.ejectedUntil) return;
        this.ejectedUntil = Date.now() + this.config.health.ejectSeconds * 1000;
        this.ready = false;
        this.events.onEjected(this, reason);
        this.events.onStateChange();
        this.schedule(this.config.health.ejectSeconds * 1000);
    }

    /** Stops probing and closes connections once in-flight requests are done. */
    async stop(): Promise<void> {
        this.stopped = true;
        clearTimeout(this.timer);
        await this.http.close().catch(() => undefined);
    }

    /** Closes at once, failing in-flight requests (drain timeout). */
    async destroy(): Promise<void> {
        this.stopped = true;
        clearTimeout(this.timer);
        await this.http.destroy().catch(() => undefined);
    }
}
