/**
 * The gateway's config file, generated from the stack config: one gateway pool per
 * worker pool, upstreams discovered from its headless Service, API keys as SHA-256
 * hashes only. Validated with the gateway's own parser, so a config the gateway would
 * refuse at start fails `pulumi up`/`npm run plan` instead.
 */
import { createHash } from "crypto";
import { parseConfig } from "../../gateway/src/config";
import { StackConfig } from "../../stacks/validate";
import { idleTimeoutSeconds } from "./ingress";
import { VLLM_PORT, workerName } from "./workers";

export interface ApiKey {
    readonly team: string;
    readonly key: string;
}

/** Parses the `gatewayApiKeys` secret: JSON [{"team": "...", "key": "..."}]. */
export function parseApiKeys(json: string): ApiKey[] {
    let parsed: unknown;
    try {
        parsed = JSON.parse(json);
    } catch {
        throw new Error(`gpuserve:gatewayApiKeys: not JSON. Fix: pulumi config set --secret gatewayApiKeys '[{"team":"radiology","key":"<random 32+ chars>"}]'`);
    }
    if (!Array.isArray(parsed) || parsed.some((k) => typeof k?.team !== "string" || typeof k?.key !== "string" || k.key.length < 16)) {
        throw new Error(`gpuserve:gatewayApiKeys: must be a JSON list of {"team": string, "key": string of 16+ characters}. Fix: pulumi config set --secret gatewayApiKeys '[{"team":"radiology","key":"<random 32+ chars>"}]'`);
    }
    return parsed as ApiKey[];
}

import { drainSeconds } from "./drain";
export { drainSeconds };

export function gatewayConfig(cfg: StackConfig, keys: ApiKey[] | undefined): Record<string, unknown> {
    const ns = cfg.serving.namespace;
    const config: Record<string, unknown> = {
        pools: cfg.models.map((m) => ({
            name: m.name,
            models: [m.id, m.name],
            dns: `${workerName(m)}.${ns}.svc.cluster.local:${VLLM_PORT}`,
            // Beyond what vLLM batches usefully, hold requests in the gateway (counted as demand).
            maxConcurrentPerUpstream: m.maxNumSeqs,
            ...(cfg.serving.gateway.responseCache ? { cache: { enabled: true } } : {}),
        })),
        queue: { maxDepth: cfg.serving.gateway.maxQueueDepth, maxWaitSeconds: cfg.serving.gateway.maxWaitSeconds, retryAfterSeconds: 30 },
        drainTimeoutSeconds: drainSeconds(cfg.serving.gateway.maxWaitSeconds),
        // Above the ALB's idle timeout, so the ALB never reuses a connection the gateway closed.
        keepAliveTimeoutSeconds: idleTimeoutSeconds(cfg.serving.gateway.maxWaitSeconds) + 5,
        maxBodyBytes: 20 * 1024 * 1024,
    };
    if (!cfg.serving.gateway.requireApiKey) config.auth = { disabled: true };
    else if (keys && keys.length > 0) config.auth = { keys: keys.map((k) => ({ team: k.team, sha256: createHash("sha256").update(k.key).digest("hex") })) };
    // else: no auth section, and the gateway refuses every /v1 request (secure default).
    parseConfig(config); // throws, naming the field, if the gateway would refuse it
    return config;
}
