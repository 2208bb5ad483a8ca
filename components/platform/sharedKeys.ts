/**
 * The keys teams' gateways use on the platform's shared gateway: one random key per team that uses
 * a shared pool, made by the platform. The shared gateway gets its hash (team = the registered team
 * name, so its fair queue and limits are per team); the key itself goes into a Secret in the team's
 * namespace, which only that team and the platform can read. It is never a stack output: a team
 * stack (and its preview role) reading the platform's outputs learns no other team's key.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { childOf } from "../deps";
import { ApiKey, SHARED_POOL_KEY_SECRET } from "../serving/gatewayConfig";
import { TEAM_LABEL } from "./teamSpace";

export interface SharedKeysArgs {
    /** Team name -> its namespace (and the namespace resource, which must exist first). */
    readonly teams: readonly { readonly team: string; readonly namespace: string; readonly namespaceResource: pulumi.Resource; readonly warmup: boolean }[];
}

export class SharedKeys extends pulumi.ComponentResource {
    /** The shared gateway's auth entries. */
    readonly keys: pulumi.Output<ApiKey[]>;

    constructor(name: string, args: SharedKeysArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:platform:SharedKeys", name, {}, opts);
        const keys = args.teams.map((t) => {
            const key = new random.RandomPassword(`${name}-${t.team}`, { length: 48, special: false }, { parent: this });
            new k8s.core.v1.Secret(
                `${name}-${t.team}`,
                {
                    metadata: { name: SHARED_POOL_KEY_SECRET, namespace: t.namespace, labels: { [TEAM_LABEL]: t.team } },
                    type: "Opaque",
                    stringData: { key: pulumi.secret(key.result) },
                },
                childOf(this, opts, [t.namespaceResource]),
            );
            return key.result.apply((k): ApiKey => ({ team: t.team, key: k, ...(t.warmup ? { permissions: ["warmup" as const] } : {}) }));
        });
        this.keys = pulumi.secret(pulumi.all(keys));
        this.registerOutputs({});
    }
}
