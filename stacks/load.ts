/**
 * Reads the stack's Pulumi config (`gpuserve:*` keys and `aws:region`) into a validated
 * StackConfig. Runs before any resource is created; throws ConfigError on bad input.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, ConfigIssue, closest } from "./errors";
import { checkExampleValues } from "./examples";
import { CONFIG_KEYS, PROJECT, SECRET_KEYS, existingClusterSchema } from "./schema";
import { existingClusterOutputs } from "./existingCluster";
import { PLATFORM_OUTPUT, PlatformOutputs, parsePlatformOutputs } from "./platformOutputs";
import { roleIssues, roleOf } from "./roles";
import { ParseOptions, parseStackConfig } from "./validate";
import type { StackConfig } from "./resolved";

export interface StackSecrets {
    /** Hugging Face token for gated models (MedGemma). */
    readonly hfToken?: pulumi.Output<string>;
    /** Gateway API keys as JSON: [{"team":"radiology","key":"..."}]. */
    readonly gatewayApiKeys?: pulumi.Output<string>;
    /** Password of an external batch store (serving.batch.store "external"). */
    readonly batchStorePassword?: pulumi.Output<string>;
}

export interface LoadedConfig {
    readonly config: StackConfig;
    readonly secrets: StackSecrets;
}

function parseValue(value: string): unknown {
    try {
        return JSON.parse(value);
    } catch {
        return value;
    }
}

/** Collects the raw config object from Pulumi's config store. */
export function rawStackConfig(all: Record<string, string> = pulumi.runtime.allConfig()): { raw: Record<string, unknown>; issues: ConfigIssue[] } {
    const raw: Record<string, unknown> = {};
    const issues: ConfigIssue[] = [];
    const allowed = [...CONFIG_KEYS, ...SECRET_KEYS];
    for (const [fullKey, value] of Object.entries(all)) {
        if (!fullKey.startsWith(`${PROJECT}:`)) continue;
        const k = fullKey.slice(PROJECT.length + 1);
        if ((SECRET_KEYS as readonly string[]).includes(k)) continue;
        if (!CONFIG_KEYS.includes(k)) {
            const hint = closest(k, allowed);
            issues.push({
                key: fullKey,
                message: `unknown config key '${k}'`,
                fix: hint ? `did you mean '${PROJECT}:${hint}'?` : `remove it; known keys: ${allowed.join(", ")}`,
            });
            continue;
        }
        raw[k] = parseValue(value);
    }
    const region = all["aws:region"];
    if (region !== undefined) raw.region = region;
    return { raw, issues };
}

/** Whether a config key was set as a secret (the runtime knows; its typings do not expose it). */
function isSecretConfig(fullKey: string): boolean {
    const check = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    return check ? check(fullKey) : true;
}

/** Problems found before anything else is read (region, plain-text secrets, unknown keys, role keys). */
function earlyIssues(): { raw: Record<string, unknown>; issues: ConfigIssue[] } {
    const { raw, issues } = rawStackConfig();
    if (raw.region === undefined) {
        issues.push({ key: "aws:region", message: "the AWS region is not set", fix: "pulumi config set aws:region us-east-1" });
    }
    if (raw.environment === undefined) raw.environment = pulumi.getStack();
    for (const k of SECRET_KEYS) {
        const full = `${PROJECT}:${k}`;
        if (pulumi.runtime.allConfig()[full] !== undefined && !isSecretConfig(full)) {
            issues.push({ key: full, message: "is stored in plain text", fix: `pulumi config set --secret ${k} <value>` });
        }
    }
    return { raw, issues };
}

/**
 * The validated config of a standalone or platform stack, or of a team stack given its platform's
 * outputs. Throws ConfigError, before any resource is created, naming every bad key. `opts.root`: the
 * project directory the config's files (timetable calendars) are relative to. @default process.cwd()
 */
export function loadStackConfig(platform?: PlatformOutputs, opts: ParseOptions = {}): LoadedConfig {
    const { raw, issues } = earlyIssues();
    if (issues.length > 0) {
        // Report schema problems too, so the user fixes everything in one round.
        try {
            parseStackConfig(raw, platform, opts);
        } catch (e) {
            if (e instanceof ConfigError) issues.push(...e.issues.filter((i) => !issues.some((j) => j.key === i.key)));
        }
        throw new ConfigError(issues);
    }
    const cfg = new pulumi.Config(PROJECT);
    const config = parseStackConfig(raw, platform, opts);
    // Example values from the committed stack files: fine offline, refused by a real `up`.
    checkExampleValues(raw);
    return {
        config,
        secrets: {
            hfToken: cfg.getSecret("hfToken"),
            gatewayApiKeys: cfg.getSecret("gatewayApiKeys"),
            batchStorePassword: cfg.getSecret("batchStorePassword"),
        },
    };
}

/** Name of the StackReference a team stack reads its platform through. */
const PLATFORM_REFERENCE = "platform";

/**
 * The config of any stack. A team stack's platform is read first: through a Pulumi StackReference
 * to gpuserve:platformStack (offline, the mock engine answers it from plan/<platform>/outputs.json),
 * or from gpuserve:existingCluster. The team's own keys are checked before the reference is read.
 */
export async function loadStack(opts: ParseOptions = {}): Promise<LoadedConfig> {
    const { raw, issues } = earlyIssues();
    if (!isTeamStack(raw)) return loadStackConfig(undefined, opts);
    const early = [...issues, ...roleIssues(raw)];
    if (early.length > 0) throw new ConfigError(early);
    return loadStackConfig(await readPlatform(raw), opts);
}

async function readPlatform(raw: Record<string, unknown>): Promise<PlatformOutputs> {
    if (raw.existingCluster !== undefined) {
        const ec = existingClusterSchema.safeParse(raw.existingCluster);
        if (!ec.success) {
            parseStackConfig(raw); // throws: the schema names the bad existingCluster keys with the rest
            throw new Error("unreachable: existingCluster failed its schema");
        }
        return existingClusterOutputs(raw, ec.data);
    }
    const name = String(raw.platformStack);
    const source = `platform stack '${name}'`;
    let value: unknown;
    try {
        const ref = new pulumi.StackReference(PLATFORM_REFERENCE, { name });
        const details = await ref.getOutputDetails(PLATFORM_OUTPUT);
        value = details.value ?? details.secretValue;
    } catch (e) {
        throw new ConfigError([
            {
                key: `${PROJECT}:platformStack`,
                message: `cannot read ${source}: ${String((e as Error).message ?? e).split("\n")[0]}`,
                fix: "check the name (<org>/<project>/<stack>), that the platform was deployed (pulumi up), and that your Pulumi token may read it",
            },
        ]);
    }
    return parsePlatformOutputs(value, source);
}

/** Whether this stack's config asks for the team role (read before anything is validated). */
export function isTeamStack(raw: Record<string, unknown> = rawStackConfig().raw): boolean {
    return roleOf(raw) === "team";
}
