/**
 * Offline, a team stack reads its platform from the platform's plan: plan/<platform>/outputs.json,
 * which `npm run plan -- --stack <platform>` writes (the `platform` stack output). The platform is
 * the last segment of gpuserve:platformStack (<org>/<project>/<stack>): its stack file is
 * Pulumi.<stack>.yaml next to the team's.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../../stacks/errors";
import { rawStackConfig } from "../../stacks/load";
import { PLATFORM_OUTPUT, parsePlatformOutputs } from "../../stacks/platformOutputs";
import { PROJECT } from "../../stacks/schema";
import { listStacks, readStackFile } from "./stackFile";

/** The file a platform's plan writes its outputs to. */
const OUTPUTS_FILE = "outputs.json";

export interface PlatformPlan {
    /** The platform's stack name (its Pulumi.<name>.yaml). */
    readonly stack: string;
    /** gpuserve:platformStack as the team wrote it. */
    readonly reference: string;
    /** Where its outputs are (or will be) written. */
    readonly file: string;
}

/** The platform a team stack names, or undefined for any other stack (or a team on an existing cluster). */
function platformOf(stackDir: string, stack: string, planRoot: string): PlatformPlan | undefined {
    const { raw } = rawStackConfig(readStackFile(stackDir, stack, PROJECT).config);
    if (raw.role !== "team" || typeof raw.platformStack !== "string" || raw.existingCluster !== undefined) return undefined;
    const reference = raw.platformStack;
    const platform = reference.split("/").pop()!;
    if (!fs.existsSync(path.join(stackDir, `Pulumi.${platform}.yaml`))) {
        throw new ConfigError([
            {
                key: `${PROJECT}:platformStack`,
                message: `unknown platform '${platform}' (${reference}): there is no Pulumi.${platform}.yaml here (stacks: ${listStacks(stackDir).join(", ")})`,
                fix: "name the platform's stack as <org>/<project>/<stack>, where <stack> is its stack file's name, e.g. acme/gpuserve/lab for Pulumi.lab.yaml",
            },
        ]);
    }
    return { stack: platform, reference, file: path.join(planRoot, platform, OUTPUTS_FILE) };
}

/** The platform's outputs from its plan, validated; a missing plan says to plan the platform first. */
function readPlatformPlan(p: PlatformPlan): Record<string, unknown> {
    if (!fs.existsSync(p.file)) {
        throw new ConfigError([
            {
                key: `${PROJECT}:platformStack`,
                message: `platform '${p.stack}' has no plan (${path.relative(process.cwd(), p.file) || p.file} is missing)`,
                fix: `plan the platform first: npm run plan -- --stack ${p.stack}`,
            },
        ]);
    }
    const outputs = JSON.parse(fs.readFileSync(p.file, "utf8")) as Record<string, unknown>;
    // Validated here too, so a stale file fails with the fix before the program runs.
    parsePlatformOutputs(outputs[PLATFORM_OUTPUT], `platform '${p.stack}' (${p.file})`);
    return outputs;
}

/** The plan CLI, which plans a platform for a team (scripts/plan.ts). */
const PLAN_CLI = path.resolve(__dirname, "..", "plan.ts");

/**
 * A team stack's platform outputs from the platform's plan, planning the platform first (in a child
 * process: the mock engine runs one stack per process) when its plan is missing. Undefined for a
 * stack that is not a team on a platform.
 */
export function ensurePlatformPlan(
    stackDir: string,
    stack: string,
    plans: string,
    log: (line: string) => void,
): (PlatformPlan & { readonly outputs: Record<string, unknown> }) | undefined {
    const platform = platformOf(stackDir, stack, plans);
    if (!platform) return undefined;
    if (!fs.existsSync(platform.file)) {
        log(`platform '${platform.stack}' has no plan yet (${path.relative(process.cwd(), platform.file) || platform.file}): planning it first`);
        const child = spawnSync(
            process.execPath,
            ["--import", "tsx", PLAN_CLI, "--stack", platform.stack, "--out", path.dirname(platform.file), "--dir", stackDir, "--plans", plans],
            { stdio: ["ignore", "inherit", "inherit"] },
        );
        if (child.status !== 0) {
            throw new ConfigError([
                {
                    key: `${PROJECT}:platformStack`,
                    message: `the platform '${platform.stack}' did not plan (its errors are above)`,
                    fix: `fix Pulumi.${platform.stack}.yaml, then plan '${stack}' again`,
                },
            ]);
        }
    }
    return { ...platform, outputs: readPlatformPlan(platform) };
}
