import * as assert from "assert";
import { BUILD_TIMEOUT_SECONDS } from "../../components/cluster/imageCache/runbook";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { ROOT } from "../helpers/program";
import { tempDir } from "../helpers/tmp";

const DIR = path.join(ROOT, ".github", "workflows");
const VALIDATOR = path.join(ROOT, "node_modules", "@action-validator", "cli", "cli.mjs");
const raw = (f: string) => fs.readFileSync(path.join(DIR, f), "utf8");
const load = (f: string) => parse(raw(f));
const DEPLOY_DOC = fs.readFileSync(path.join(ROOT, "docs", "deploy.md"), "utf8");

/**
 * The actions we use, at the commit we pin, with the inputs their action.yml declares at that
 * tag (all `runs.using: node24`). Checked in each repository at the tag: action.yml.
 */
const ACTIONS: Record<string, { sha: string; tag: string; inputs: string[] }> = {
    "actions/checkout": {
        sha: "3d3c42e5aac5ba805825da76410c181273ba90b1",
        tag: "v7.0.1",
        inputs: [
            "repository",
            "ref",
            "token",
            "ssh-key",
            "ssh-known-hosts",
            "ssh-strict",
            "ssh-user",
            "persist-credentials",
            "path",
            "clean",
            "filter",
            "sparse-checkout",
            "sparse-checkout-cone-mode",
            "fetch-depth",
            "fetch-tags",
            "show-progress",
            "lfs",
            "submodules",
            "set-safe-directory",
            "github-server-url",
            "allow-unsafe-pr-checkout",
        ],
    },
    "actions/setup-node": {
        sha: "820762786026740c76f36085b0efc47a31fe5020",
        tag: "v7.0.0",
        inputs: [
            "node-version",
            "node-version-file",
            "architecture",
            "check-latest",
            "registry-url",
            "scope",
            "token",
            "cache",
            "package-manager-cache",
            "cache-dependency-path",
            "mirror",
            "mirror-token",
        ],
    },
    "aws-actions/configure-aws-credentials": {
        sha: "e6de054238d6b7531b4efff3b6587d9aade6a06c",
        tag: "v6.2.3",
        inputs: [
            "aws-region",
            "aws-profile",
            "overwrite-aws-profile",
            "role-to-assume",
            "aws-access-key-id",
            "aws-secret-access-key",
            "aws-session-token",
            "web-identity-token-file",
            "role-chaining",
            "audience",
            "http-proxy",
            "no-proxy",
            "mask-aws-account-id",
            "role-duration-seconds",
            "role-external-id",
            "role-session-name",
            "role-skip-session-tagging",
            "transitive-tag-keys",
            "inline-session-policy",
            "managed-session-policies",
            "output-credentials",
            "output-env-credentials",
            "unset-current-credentials",
            "disable-retry",
            "retry-max-attempts",
            "special-characters-workaround",
            "use-existing-credentials",
            "allowed-account-ids",
            "force-skip-oidc",
            "action-timeout-s",
            "custom-tags",
            "sts-endpoint",
        ],
    },
    "pulumi/actions": {
        sha: "8e5e406f4007fca908480587cb9893c07090f58d",
        tag: "v7.0.0",
        inputs: [
            "command",
            "stack-name",
            "pulumi-version",
            "pulumi-version-file",
            "work-dir",
            "comment-on-pr",
            "comment-on-pr-number",
            "comment-on-summary",
            "github-token",
            "cloud-url",
            "secrets-provider",
            "parallel",
            "message",
            "config-map",
            "expect-no-changes",
            "diff",
            "replace",
            "exclude",
            "exclude-dependents",
            "target",
            "target-dependents",
            "policyPacks",
            "policyPackConfigs",
            "refresh",
            "upsert",
            "remove",
            "edit-pr-comment",
            "color",
            "exclude-protected",
            "plan",
            "suppress-outputs",
            "suppress-progress",
            "always-include-summary",
            "continue-on-error",
            "log-verbosity",
            "log-flow",
            "debug",
        ],
    },
    "actions/upload-artifact": {
        sha: "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
        tag: "v7.0.0",
        inputs: ["name", "path", "if-no-files-found", "retention-days", "compression-level", "overwrite", "include-hidden-files", "archive"],
    },
    "actions/download-artifact": {
        sha: "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c",
        tag: "v8.0.1",
        inputs: ["name", "artifact-ids", "path", "pattern", "merge-multiple", "github-token", "repository", "run-id", "skip-decompress", "digest-mismatch"],
    },
    "actions/github-script": {
        sha: "ed597411d8f924073f98dfc5c65a23a2325f34cd",
        tag: "v8.0.0",
        inputs: ["script", "github-token", "debug", "user-agent", "previews", "result-encoding", "retries", "retry-exempt-status-codes", "base-url"],
    },
};

interface Step {
    uses?: string;
    run?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
    if?: string;
    name?: string;
}
interface Job {
    steps: Step[];
    environment?: string;
    "runs-on": unknown;
    if?: string;
    concurrency?: { group: string; "cancel-in-progress": boolean };
    "timeout-minutes"?: number;
}

function jobs(f: string): Array<[string, Job]> {
    return Object.entries(load(f).jobs as Record<string, Job>);
}
const triggers = (f: string) => Object.keys(load(f).on);
const files = fs
    .readdirSync(DIR)
    .filter((f) => f.endsWith(".yml"))
    .sort();
const stepOf = (job: Job, action: string) => job.steps.find((s) => String(s.uses ?? "").startsWith(`${action}@`));

describe("GitHub workflows", () => {
    it("all pass the workflow schema validator, and `npm run validate:workflows` checks them one by one", function () {
        this.timeout(60_000);
        assert.deepStrictEqual(files, ["ci.yml", "deploy.yml", "plan-comment.yml", "plan.yml", "preview.yml", "team.yml"]);
        // The npm script runs the validator on each file (it takes one file at a time).
        const npm = spawnSync("npm", ["run", "--silent", "validate:workflows"], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(npm.status, 0, npm.stdout + npm.stderr);
    });

    it("the validator rejects a broken workflow (the check can fail)", () => {
        const bad = path.join(tempDir("wf-"), "bad.yml");
        fs.writeFileSync(bad, "name: bad\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n");
        assert.notStrictEqual(spawnSync(process.execPath, [VALIDATOR, bad], { encoding: "utf8" }).status, 0);
    });

    it("pins every action by commit (tag in a comment) at its Node 24 major, with only inputs its action.yml declares", () => {
        for (const f of files) {
            for (const line of raw(f)
                .split("\n")
                .filter((l) => /^\s*-?\s*uses:/.test(l))) {
                const m = /uses:\s*([\w.-]+\/[\w.-]+)@([0-9a-f]{40}) # (v[\d.]+)$/.exec(line);
                assert.ok(m, `${f}: not pinned by commit with its tag: ${line.trim()}`);
                const known = ACTIONS[m[1]];
                assert.ok(known, `${f}: ${m[1]} is not one of the checked actions`);
                assert.deepStrictEqual([m[2], m[3]], [known.sha, known.tag], `${f}: ${m[1]}`);
            }
            for (const [name, job] of jobs(f)) {
                for (const s of job.steps.filter((x) => x.uses)) {
                    const action = String(s.uses).split("@")[0];
                    for (const input of Object.keys(s.with ?? {}))
                        assert.ok(ACTIONS[action].inputs.includes(input), `${f} ${name}: ${action} has no input '${input}'`);
                }
            }
        }
    });

    it("uses the Pulumi CLI of the SDK version the program pins", () => {
        const sdk = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).dependencies["@pulumi/pulumi"];
        let steps = 0;
        for (const f of files) {
            for (const [, job] of jobs(f)) {
                const s = stepOf(job, "pulumi/actions");
                if (!s) continue;
                steps++;
                assert.strictEqual(String(s.with!["pulumi-version"]), sdk, f);
                assert.strictEqual(s.with!.policyPacks, "policy", `${f}: every real run applies the policy pack`);
            }
        }
        assert.strictEqual(steps, 5);
    });

    it("runs the README's test command on every push and pull request", () => {
        const ci = load("ci.yml");
        assert.ok("push" in ci.on && "pull_request" in ci.on);
        assert.ok(ci.jobs.test.steps.some((s: Step) => s.run === "bash .ci/run"));
        assert.match(fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8"), /npm test/);
    });

    it("no secret reaches a job that runs on pull_request, and secrets live only in environment-scoped jobs", () => {
        for (const f of files) {
            for (const [name, job] of jobs(f)) {
                const text = JSON.stringify(job);
                const secrets = [...text.matchAll(/secrets\.([A-Z_]+)/g)].map((m) => m[1]).filter((s) => s !== "GITHUB_TOKEN");
                if (triggers(f).includes("pull_request")) assert.deepStrictEqual(secrets, [], `${f} ${name} runs PR code`);
                if (secrets.length > 0) assert.ok(job.environment, `${f} ${name} reads ${secrets.join(", ")} outside an environment`);
                if (/id-token|role-to-assume/.test(text)) assert.ok(job.environment, `${f} ${name} assumes an AWS role outside an environment`);
            }
            if (triggers(f).includes("pull_request")) assert.doesNotMatch(raw(f), /id-token:\s*write/, `${f}: no OIDC token for PR code`);
        }
    });

    it("never interpolates event or artifact data into a script", () => {
        for (const f of files) {
            for (const [name, job] of jobs(f)) {
                for (const s of job.steps) {
                    const code = `${s.run ?? ""}\n${typeof s.with?.script === "string" ? s.with.script : ""}`;
                    assert.doesNotMatch(code, /\$\{\{\s*(github\.event|steps\.|needs\.|env\.)/, `${f} ${name}: ${s.name ?? s.uses}`);
                    if (f === "plan-comment.yml") assert.doesNotMatch(code, /\$\{\{/, `${f}: the commenting job interpolates nothing into code`);
                }
            }
        }
    });

    it("plans base and head without secrets and uploads only the diff; the PR number is not an output of PR code", () => {
        const plan = load("plan.yml");
        assert.deepStrictEqual(triggers("plan.yml"), ["pull_request"]);
        assert.deepStrictEqual(plan.permissions, { contents: "read" });
        const steps: Step[] = plan.jobs.plan.steps;
        const runs = steps.map((s) => s.run ?? "").join("\n");
        assert.match(runs, /npm run --silent plan -- --stack/);
        assert.match(runs, /npm run --silent plan:diff --/);
        assert.doesNotMatch(raw("plan.yml") + raw("plan-comment.yml"), /pr-number/);
        assert.strictEqual(stepOf(plan.jobs.plan, "actions/upload-artifact")!.with!.path, "plan-diff.md");
        for (const s of steps.filter((x) => String(x.uses).startsWith("actions/checkout@"))) assert.strictEqual(s.with!["persist-credentials"], false);
        const comment = load("plan-comment.yml");
        assert.deepStrictEqual(comment.on.workflow_run.workflows, ["plan"]);
        assert.deepStrictEqual(comment.permissions, { actions: "read", "pull-requests": "write" });
        assert.ok(
            !comment.jobs.comment.steps.some((s: Step) => String(s.uses ?? "").startsWith("actions/checkout")),
            "the commenting workflow must not check out PR code",
        );
        assert.match(stepOf(comment.jobs.comment, "actions/download-artifact")!.with!.path as string, /runner\.temp/);
    });

    it("previews only in the `preview` environment, from branch pushes (not PRs), on a configurable runner", () => {
        const p = load("preview.yml");
        assert.deepStrictEqual(triggers("preview.yml").sort(), ["push", "workflow_dispatch"]);
        assert.deepStrictEqual(p.on.push["branches-ignore"], ["main"]);
        const job: Job = p.jobs.preview;
        assert.strictEqual(job.environment, "preview");
        assert.match(String(job["runs-on"]), /vars\.GPUSERVE_PREVIEW_RUNS_ON/);
        assert.match(String(job.if), /vars\.GPUSERVE_PREVIEW == 'true'/);
        assert.strictEqual(stepOf(job, "pulumi/actions")!.with!.command, "preview");
        assert.strictEqual(stepOf(job, "aws-actions/configure-aws-credentials")!.with!["role-to-assume"], "${{ vars.AWS_ROLE_ARN }}");
        assert.match(job.concurrency!.group, /matrix\.stack/);
    });

    it("deploys dev from main and prod from v* tags in their environments, one run per stack at a time, with credentials that outlast the job", () => {
        const d = load("deploy.yml");
        assert.strictEqual(d.concurrency, undefined, "no workflow-level group per ref");
        const expect = {
            dev: { env: "dev", ref: /refs\/heads\/main/, group: "gpuserve-deploy-dev" },
            prod: { env: "production", ref: /refs\/tags\/v/, group: "gpuserve-deploy-prod" },
        };
        for (const [name, e] of Object.entries(expect)) {
            const job: Job = d.jobs[name];
            assert.strictEqual(job.environment, e.env);
            assert.match(String(job.if), e.ref);
            assert.match(String(job.if), /vars\.GPUSERVE_DEPLOY == 'true'/);
            // Grouped by stack: two tags (or a tag and a re-run) never deploy prod at once.
            assert.deepStrictEqual(job.concurrency, { group: e.group, "cancel-in-progress": false });
            assert.doesNotMatch(job.concurrency.group, /github\./);
            const pulumi = stepOf(job, "pulumi/actions")!;
            assert.deepStrictEqual([pulumi.with!.command, pulumi.with!["stack-name"]], ["up", name]);
            assert.notStrictEqual(pulumi.with!.upsert, true, "stacks are created with `pulumi stack init` (docs/deploy.md)");
            const aws = stepOf(job, "aws-actions/configure-aws-credentials")!;
            assert.ok(Number(aws.with!["role-duration-seconds"]) >= job["timeout-minutes"]! * 60, `${name}: AWS credentials expire before the job's timeout`);
            // A first `pulumi up` waits for the image-cache snapshot (the association's waitForSuccessTimeoutSeconds)
            // on top of EKS creation, add-ons and the image build: at least 45 minutes more than that wait.
            assert.ok(
                job["timeout-minutes"]! >= BUILD_TIMEOUT_SECONDS / 60 + 45,
                `${name}: ${job["timeout-minutes"]} min is not enough for a ${BUILD_TIMEOUT_SECONDS / 60}-minute snapshot build plus EKS`,
            );
            assert.match(String(job["runs-on"]), new RegExp(`vars\\.GPUSERVE_${name.toUpperCase()}_RUNS_ON`));
        }
        // prod refuses to start on a runner that cannot reach its API endpoint.
        const guard = d.jobs.prod.steps[0] as Step;
        assert.strictEqual(guard.if, "vars.GPUSERVE_PROD_RUNS_ON == ''");
        assert.match(guard.run!, /exit 1/);
    });

    it("previews or deploys one team stack, by hand, in that team's own environments, one run per team at a time", () => {
        const t = load("team.yml");
        assert.deepStrictEqual(
            triggers("team.yml"),
            ["workflow_dispatch"],
            "never on pull_request or push: no secret reaches PR code, a team decides when its stack changes",
        );
        assert.deepStrictEqual(t.on.workflow_dispatch.inputs.command.options, ["preview", "up"]);
        const expect = { preview: { env: "team-${{ inputs.team }}-preview", command: "preview" }, deploy: { env: "team-${{ inputs.team }}", command: "up" } };
        for (const [name, e] of Object.entries(expect)) {
            const job: Job = t.jobs[name];
            // The team's own environment: its AWS role (EKS access to its namespace only) and Pulumi token.
            assert.strictEqual(job.environment, e.env);
            assert.match(String(job.if), /vars\.GPUSERVE_TEAMS == 'true'/);
            assert.match(String(job.if), new RegExp(`inputs\\.command == '${e.command}'`));
            assert.deepStrictEqual(job.concurrency, { group: "gpuserve-team-${{ inputs.team }}", "cancel-in-progress": false });
            const pulumi = stepOf(job, "pulumi/actions")!;
            assert.deepStrictEqual([pulumi.with!.command, pulumi.with!["stack-name"]], [e.command, "${{ inputs.team }}"]);
            assert.notStrictEqual(pulumi.with!.upsert, true);
            const aws = stepOf(job, "aws-actions/configure-aws-credentials")!;
            assert.strictEqual(aws.with!["role-to-assume"], "${{ vars.AWS_ROLE_ARN }}");
            assert.ok(
                Number(aws.with!["role-duration-seconds"] ?? 3600) >= job["timeout-minutes"]! * 60,
                `${name}: AWS credentials expire before the job's timeout`,
            );
        }
    });

    it("docs/deploy.md names every secret, variable and environment the workflows use, and each role's trust", () => {
        const all = files.map(raw).join("\n");
        const names = new Set([...all.matchAll(/(?:vars|secrets)\.([A-Z_]+)/g)].map((m) => m[1]).filter((n) => n !== "GITHUB_TOKEN"));
        for (const n of names) assert.ok(DEPLOY_DOC.includes(`\`${n}\``), `docs/deploy.md does not mention ${n}`);
        for (const env of ["preview", "dev", "production", "team-<team>", "team-<team>-preview"]) {
            assert.ok(DEPLOY_DOC.includes(`repo:<owner>/<repo>:environment:${env}`), `docs/deploy.md: trust of the ${env} role`);
        }
        assert.match(DEPLOY_DOC, /pulumi stack init/);
        assert.match(DEPLOY_DOC, /MaxSessionDuration|max-session-duration/);
    });
});

/**
 * plan-comment.yml's script, run the way actions/github-script v8 runs it (an async function
 * of github, context, core, require: src/async-function.ts at v8.0.0), against a fake GitHub.
 */
describe("plan-comment script (fork PRs, spoofing, untrusted artifact)", () => {
    const script = String(stepOf(load("plan-comment.yml").jobs.comment, "actions/github-script")!.with!.script);
    const BASE = { id: 1, full_name: "org/gpuserve" };
    const SHA = "a".repeat(40);

    interface Pr {
        number: number;
        state: string;
        head: { sha: string; repo: { full_name: string } | null };
        base: { repo: { full_name: string } };
    }
    function pr(number: number, sha = SHA, headRepo = "fork/gpuserve", state = "open"): Pr {
        return { number, state, head: { sha, repo: { full_name: headRepo } }, base: { repo: { full_name: BASE.full_name } } };
    }

    async function runScript(opts: {
        run?: Record<string, unknown>;
        open?: Pr[];
        prs?: Pr[];
        diff?: string | Buffer;
        symlink?: boolean;
        comments?: Array<{ id: number; body: string; user: { login: string; type: string } }>;
    }) {
        const dir = tempDir("plan-diff-");
        const file = path.join(dir, "plan-diff.md");
        if (opts.symlink) fs.symlinkSync("/etc/hostname", file);
        else fs.writeFileSync(file, opts.diff ?? "## Plan diff\n\nno changes\n");
        const calls: Array<[string, any]> = [];
        const prs = opts.prs ?? [pr(7)];
        const github = {
            rest: {
                pulls: {
                    list: async (a: any) => (calls.push(["pulls.list", a]), { data: opts.open ?? prs }),
                    get: async (a: any) => (
                        calls.push(["pulls.get", a]),
                        { data: prs.find((p) => p.number === a.pull_number) ?? pr(a.pull_number, "f".repeat(40)) }
                    ),
                },
                issues: {
                    listComments: async () => ({ data: opts.comments ?? [] }),
                    createComment: async (a: any) => (calls.push(["createComment", a]), { data: {} }),
                    updateComment: async (a: any) => (calls.push(["updateComment", a]), { data: {} }),
                },
            },
            paginate: async (fn: (a: unknown) => Promise<{ data: unknown[] }>, a: unknown) => (await fn(a)).data,
        };
        const failures: string[] = [];
        const core = { setFailed: (m: string) => failures.push(m), info: () => undefined };
        const run = {
            id: 99,
            event: "pull_request",
            head_sha: SHA,
            head_branch: "feature",
            html_url: "https://github.com/org/gpuserve/actions/runs/99",
            head_repository: { full_name: "fork/gpuserve", owner: { login: "fork" } },
            pull_requests: [],
            ...opts.run,
        };
        const context = { repo: { owner: "org", repo: "gpuserve" }, payload: { workflow_run: run, repository: BASE } };
        const prev = process.env.PLAN_DIFF_DIR;
        process.env.PLAN_DIFF_DIR = dir;
        try {
            const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor;
            await new AsyncFunction("github", "context", "core", "require", script)(github, context, core, require);
        } finally {
            process.env.PLAN_DIFF_DIR = prev;
            fs.rmSync(dir, { recursive: true, force: true });
        }
        const posted = calls.filter(([c]) => c === "createComment" || c === "updateComment");
        return { calls, failures, posted };
    }

    it("a fork PR (no pull_requests in the event) is found by its head commit, verified, and commented", async () => {
        const r = await runScript({});
        assert.deepStrictEqual(r.failures, []);
        assert.deepStrictEqual(r.calls.find(([c]) => c === "pulls.list")![1].head, "fork:feature");
        assert.strictEqual(r.posted.length, 1);
        assert.strictEqual(r.posted[0][0], "createComment");
        assert.strictEqual(r.posted[0][1].issue_number, 7);
        assert.match(r.posted[0][1].body, /^<!-- gpuserve-plan-diff -->\n.*\n\n## Plan diff/);
    });

    it("a same-repo PR comes from workflow_run.pull_requests", async () => {
        const r = await runScript({
            run: {
                head_repository: { full_name: BASE.full_name, owner: { login: "org" } },
                pull_requests: [{ number: 12, head: { sha: SHA }, base: { repo: { id: BASE.id } } }],
            },
            prs: [pr(12, SHA, BASE.full_name)],
        });
        assert.deepStrictEqual(r.failures, []);
        assert.ok(!r.calls.some(([c]) => c === "pulls.list"));
        assert.strictEqual(r.posted[0][1].issue_number, 12);
    });

    it("refuses when the PR's head is not the run's commit (a stale or spoofed run)", async () => {
        const r = await runScript({ prs: [pr(7)], open: [pr(7)], run: {} });
        assert.strictEqual(r.posted.length, 1, "control: the matching case posts");
        const stale = await runScript({ open: [pr(7)], prs: [pr(7, "b".repeat(40))] });
        assert.strictEqual(stale.posted.length, 0);
        assert.match(stale.failures[0], /does not match the run/);
    });

    it("refuses a PR listed for another base repository, or from another head repository", async () => {
        const other = await runScript({ run: { pull_requests: [{ number: 3, head: { sha: SHA }, base: { repo: { id: 999 } } }] }, open: [] });
        assert.strictEqual(other.posted.length, 0);
        const wrongHead = await runScript({ open: [pr(7, SHA, "attacker/gpuserve")] });
        assert.strictEqual(wrongHead.posted.length, 0);
        assert.match(wrongHead.failures[0], /no single open PR/);
    });

    it("never takes a number from the artifact", async () => {
        const r = await runScript({ diff: "pr-number: 1\n#1\n" });
        assert.strictEqual(r.posted[0][1].issue_number, 7);
    });

    it("bounds the artifact: refuses a huge file or a symlink, truncates a long diff, defuses mentions", async () => {
        const huge = await runScript({ diff: Buffer.alloc(1024 * 1024 + 1, "x") });
        assert.strictEqual(huge.posted.length, 0);
        const link = await runScript({ symlink: true });
        assert.strictEqual(link.posted.length, 0);
        const long = await runScript({ diff: "y".repeat(200_000) });
        assert.ok(long.posted[0][1].body.length < 65_536);
        const mention = await runScript({ diff: "ping @org/admins and @someone" });
        assert.doesNotMatch(mention.posted[0][1].body, /@(org|someone)/);
    });

    it("updates its own sticky comment, never someone else's", async () => {
        const forged = { id: 1, body: "<!-- gpuserve-plan-diff -->\nforged", user: { login: "attacker", type: "User" } };
        const mine = { id: 2, body: "<!-- gpuserve-plan-diff -->\nold", user: { login: "github-actions[bot]", type: "Bot" } };
        const r = await runScript({ comments: [forged, mine] });
        assert.deepStrictEqual([r.posted[0][0], r.posted[0][1].comment_id], ["updateComment", 2]);
        const onlyForged = await runScript({ comments: [forged] });
        assert.strictEqual(onlyForged.posted[0][0], "createComment");
    });
});
