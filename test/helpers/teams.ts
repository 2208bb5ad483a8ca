/**
 * The example platform (Pulumi.lab.yaml) and its team stacks, rendered under the mocks: a team reads
 * the platform's real `platform` output through its StackReference, as offline and in a real `up`.
 */
import { PLATFORM_OUTPUT, PlatformOutputs, parsePlatformOutputs } from "../../stacks/platformOutputs";
import { StackRun, clone, runStack, stackConfig } from "./program";

const PLATFORM_REFERENCE = "acme/gpuserve/lab";
export const TEAMS = ["biology", "chemistry", "physics"] as const;

/** A stack file's config with its stack name as the environment (what `npm run plan` does). */
export function exampleConfig(stack: string): Record<string, any> {
    return { ...clone(stackConfig(stack)), environment: stack };
}

/** parseStackConfig's raw input for a stack file: region from aws:region. */
export function exampleRaw(stack: string): Record<string, any> {
    const { "aws:region": region, ...rest } = exampleConfig(stack);
    return { ...rest, region };
}

export function renderPlatform(config: Record<string, unknown> = exampleConfig("lab"), secrets: Record<string, string> = {}): Promise<StackRun> {
    return runStack(config, secrets);
}

export function platformOutputsOf(run: StackRun): PlatformOutputs {
    return parsePlatformOutputs(run.outputs[PLATFORM_OUTPUT], "the rendered platform");
}

/** A team stack against a platform's outputs (the lab's unless given). */
export async function renderTeam(config: Record<string, unknown>, platform?: PlatformOutputs, secrets: Record<string, string> = {}): Promise<StackRun> {
    const p = platform ?? platformOutputsOf(await renderPlatform());
    return runStack(config, secrets, { [PLATFORM_REFERENCE]: { [PLATFORM_OUTPUT]: p } });
}
