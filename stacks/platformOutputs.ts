/**
 * What a platform stack hands its team stacks: one typed, versioned shape, exported as the
 * platform's stack output `platform` and read by a team stack through a Pulumi StackReference
 * (`gpuserve:platformStack`), or offline from plan/<platform>/outputs.json, which
 * `npm run plan -- --stack <platform>` writes. Both paths parse it here, so a team never builds
 * on a shape it does not understand; a team on an existing cluster (`gpuserve:existingCluster`)
 * gets the same shape from its own config (stacks/team.ts).
 *
 * Versioning: `version` changes when a field is removed or changes meaning; a team stack refuses
 * other versions with the fix (re-run the platform's `pulumi up` / plan). New optional fields keep
 * the version.
 */
import { z } from "zod";
import { GPU_TYPES } from "./catalog/instances";
import { ConfigError, ConfigIssue, showValue } from "./errors";
import { GPU_AMIS, modelSchema, pricesSchema } from "./schema";

export const PLATFORM_OUTPUTS_VERSION = 1;
/** The stack output a platform exports and its teams read. */
export const PLATFORM_OUTPUT = "platform";

const gpuPoolOutput = z.strictObject({
    name: z.string(),
    gpuType: z.enum(GPU_TYPES),
    instanceTypes: z.array(z.string()).min(1),
    capacityType: z.enum(["spot", "on-demand"]),
    minNodes: z.int().nonnegative(),
    maxNodes: z.int().positive(),
    ami: z.enum(GPU_AMIS),
    diskSizeGiB: z.int().positive(),
    /**
     * Where the pool's nodes keep the pods' emptyDirs, as the platform resolved gpuPools[].podStorage (its launch
     * templates bind the instance store or not): a team models and sizes its weights copies on that disk. Absent in
     * outputs of platforms planned before it existed: the team resolves "auto" itself, as the platform then did.
     */
    podStorage: z.enum(["instanceStore", "volume"]).optional(),
    scaleDownUnneededSeconds: z.number().optional(),
    /** GPUs per node and memory per GPU (the platform resolved them from the catalog). */
    gpusPerNode: z.int().positive(),
    gpuMemoryGiB: z.number().positive(),
    /** Labels of the pool's nodes: a worker's nodeSelector. */
    nodeSelector: z.record(z.string(), z.string()),
});

const teamOutput = z.strictObject({
    namespace: z.string(),
    host: z.string(),
    /** GPUs per GPU type the team's own pools may request (its ResourceQuota holds their sum). */
    gpus: z.record(z.string(), z.int().nonnegative()),
    quota: z.strictObject({ gpus: z.int().nonnegative(), cpu: z.number().positive(), memoryGiB: z.number().positive() }),
    sharedPools: z.array(z.string()),
    /** The permissions boundary of every IAM role the team's stack creates. */
    permissionsBoundaryArn: z.string().optional(),
});

const sharedPoolOutput = z.strictObject({
    /** The worker pool's name (the platform's models[].name). */
    name: z.string(),
    /** The platform's model entry, as the platform resolved it (the team re-validates it). */
    model: modelSchema,
    /** The shared gateway that queues the pool's requests fairly per team: host:port. */
    gateway: z.string(),
    namespace: z.string(),
    /** How long the shared gateway holds a request while the pool starts (its queue.maxWaitSeconds). */
    maxWaitSeconds: z.int().positive(),
});

export const platformOutputsSchema = z.strictObject({
    version: z.literal(PLATFORM_OUTPUTS_VERSION),
    /** The platform stack's name (its Pulumi.<stack>.yaml). */
    stack: z.string(),
    /** The platform's environment, the prefix of its resource names. */
    environment: z.string(),
    region: z.string(),
    cluster: z.strictObject({
        name: z.string(),
        arn: z.string(),
        /** API server endpoint; absent for an existing cluster (the team stack looks it up). */
        endpoint: z.string().optional(),
        /** Base64 PEM of the API server's CA; absent for an existing cluster. */
        certificateAuthority: z.string().optional(),
        version: z.string(),
    }),
    /** The VPC's CIDR (an external batch store lives in it). */
    vpcCidr: z.string(),
    /** Where the ALB's targets see traffic from (its subnets' CIDRs): NetworkPolicies admit only these. */
    loadBalancerSourceCidrs: z.array(z.string()).min(1),
    ingress: z.strictObject({
        /** IngressClass of the platform: it puts every team's Ingress on one ALB (IngressClassParams group). */
        className: z.string(),
        /** Absent on an existing cluster: the team's Ingress gets an ALB of its own. */
        groupName: z.string().optional(),
        tls: z.boolean(),
        /** The ALB's idle timeout: a team gateway keeps connections open longer, so the ALB never reuses one it closed. */
        idleTimeoutSeconds: z.int().positive(),
    }),
    prometheus: z.strictObject({ url: z.string(), namespace: z.string(), retention: z.string() }),
    /** Add-ons the platform runs (a team's scale triggers need them). */
    addons: z.strictObject({ keda: z.boolean(), dcgmExporter: z.boolean(), nvidiaDevicePlugin: z.boolean(), clusterAutoscaler: z.boolean() }),
    coldStart: z.strictObject({ imageCache: z.enum(["snapshot", "none"]), vllmImage: z.string() }),
    prices: pricesSchema,
    gpuPools: z.array(gpuPoolOutput),
    teams: z.record(z.string(), teamOutput),
    sharedPools: z.array(sharedPoolOutput),
    /** USD/month the platform costs at zero load (its cost.json floor): the teams' shared floor. */
    floorUsdPerMonth: z.number().nonnegative(),
});

export type PlatformOutputs = z.output<typeof platformOutputsSchema>;
export type SharedPoolOutput = PlatformOutputs["sharedPools"][number];

/**
 * Validates a platform's outputs as read from `source` (a StackReference or an outputs.json),
 * with one error naming the source and the fix.
 */
export function parsePlatformOutputs(value: unknown, source: string, configKey = "gpuserve:platformStack"): PlatformOutputs {
    const fail = (message: string, fix: string): never => {
        throw new ConfigError([{ key: configKey, message: `${source}: ${message}`, fix }]);
    };
    if (value === undefined || value === null) {
        fail(
            `has no '${PLATFORM_OUTPUT}' output: it is not a gpuserve platform stack, or it was never deployed`,
            `set gpuserve:role: platform in that stack and run its \`pulumi up\` (offline: npm run plan -- --stack <platform>)`,
        );
    }
    const version = (value as { version?: unknown }).version;
    if (version !== PLATFORM_OUTPUTS_VERSION) {
        fail(
            `its outputs are version ${showValue(version)}, this program reads version ${PLATFORM_OUTPUTS_VERSION}`,
            "run the platform's `pulumi up` (offline: npm run plan -- --stack <platform>) with this version of the program first",
        );
    }
    const parsed = platformOutputsSchema.safeParse(value);
    if (!parsed.success) {
        const issues: ConfigIssue[] = parsed.error.issues.slice(0, 5).map((i) => ({
            key: configKey,
            message: `${source}: output ${PLATFORM_OUTPUT}.${i.path.join(".")} ${i.message}`,
            fix: "run the platform's `pulumi up` (offline: npm run plan -- --stack <platform>) with this version of the program",
        }));
        throw new ConfigError(issues);
    }
    return parsed.data;
}
