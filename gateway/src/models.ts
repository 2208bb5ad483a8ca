/**
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
    readonly owned_by: string;
}

export function registerModelRoutes(v1: FastifyInstance, deps: { readonly config: GatewayConfig; readonly created: number }): void {
    const byId = new Map<string, ModelObject>();
    for (const p of deps.config.pools) for (const id of p.models) byId.set(id, { id, object: "model", created: deps.created, owned_by: p.name });

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
