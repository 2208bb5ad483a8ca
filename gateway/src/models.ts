/**
 * The model objects of GET /v1/models (the list) and GET /v1/models/{model}: OpenAI's fields,
 * plus what the web UI tells a user who waits for a pool at zero (both from the gateway config,
 * which components/serving/gatewayConfig.ts writes from the stack's config and cold-start model):
 * `cold_start_seconds_estimate` (the pool's estimated time from zero workers to a ready one) and
 * `max_wait_seconds` (how long a request is held before a 503). OpenAI clients ignore extra fields
 * (vLLM adds its own, e.g. `max_model_len`).
 *
 * GET /v1/models/{model}: one model object, as the OpenAI SDKs' `models.retrieve(id)`
 * asks for it. Model ids contain '/' ("Qwen/Qwen3-VL-2B-Instruct"): the SDKs send it
 * percent-encoded (openai-node 6.x `internal/utils/path.ts` encodes '/' as %2F), curl
 * users send it raw; both are accepted. Registered inside the /v1 scope, so the same
 * API-key check applies as to every other /v1 route.
 */
import type { FastifyInstance } from "fastify";
import type { GatewayConfig } from "./config";
import { errors } from "./errors";

export interface ModelObject {
    readonly id: string;
    readonly object: "model";
    readonly created: number;
    /** The pool that serves the model. */
    readonly owned_by: string;
    /** The pool's pools[].coldStartSecondsEstimate. */
    readonly cold_start_seconds_estimate: number;
    /** queue.maxWaitSeconds. */
    readonly max_wait_seconds: number;
}

/** Every configured model, in config order. */
export function modelObjects(config: GatewayConfig, created: number): ModelObject[] {
    return config.pools.flatMap((p) =>
        p.models.map((id) => ({
            id,
            object: "model" as const,
            created,
            owned_by: p.name,
            cold_start_seconds_estimate: p.coldStartSecondsEstimate,
            max_wait_seconds: config.queue.maxWaitSeconds,
        })),
    );
}

export function registerModelRoutes(v1: FastifyInstance, deps: { readonly config: GatewayConfig; readonly created: number }): void {
    const byId = new Map(modelObjects(deps.config, deps.created).map((m) => [m.id, m]));

    v1.get("/models/*", async (request) => {
        const raw = (request.params as { "*": string })["*"];
        let id: string;
        try {
            id = decodeURIComponent(raw);
        } catch {
            throw errors.badRequest(`model id '${raw}' is not valid percent-encoding`);
        }
        const model = byId.get(id);
        if (!model) throw errors.modelNotFound(id);
        return model;
    });
}
