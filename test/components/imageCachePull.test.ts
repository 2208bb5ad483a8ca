/**
 * The image-cache build's pull-and-tag step, run for real: the very shell lines the runbook emits
 * (imageCacheRunbook()'s aws:runCommand step, {{ Image }} substituted as SSM Automation does),
 * with Debian's `ctr` against a real containerd (with its CRI plugin) and a real registry
 * (`docker-registry`) holding a tiny OCI image pushed with `skopeo`. Only the registry host differs
 * from production: `docker.io/` becomes `127.0.0.1:<port>/`. Bottlerocket's `apiclient exec admin
 * sheltie` (which runs a command on the host through the admin container) is a stand-in that runs
 * the command here, with `ctr` pointed at the test containerd's socket.
 *
 * Then the kubelet's side, through containerd's CRI image service: ImageStatus of the pod's image
 * string finds what the build stored, and CRI's own PullImage stores the same names. The
 * normalisation table (test/helpers/imageRefTable.ts) is checked against containerd's own lookup.
 * Every outbound connection a test run makes goes to loopback: registry hosts other than 127.0.0.1
 * go through a recording proxy on 127.0.0.1 that refuses them.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { IMAGE_PARAMETER, IMAGE_PATTERN, imageCacheRunbook } from "../../components/cluster/imageCache/runbook";
import { imageRepository, normalizeImageRef } from "../../stacks/imageRef";
import { servingSchema } from "../../stacks/schema";
import { CONTAINERD, CTR, Containerd, startContainerd } from "../helpers/containerd";
import { INVALID, NORMALIZED } from "../helpers/imageRefTable";
import { OciLayout, writeOciLayout } from "../helpers/oci";
import { DOCKER_REGISTRY, Registry, SKOPEO, pushOciLayout, requireSystem, startRegistry } from "../helpers/registry";
import { tempDir } from "../helpers/tmp";
import { eventually } from "../prometheus/server";

/** Bottlerocket's API client as far as the runbook uses it (bottlerocket-os/bottlerocket README, "Admin container"). */
const APICLIENT = `#!/bin/sh
set -eu
if [ "$#" -lt 4 ] || [ "$1 $2 $3" != "exec admin sheltie" ]; then echo "apiclient stand-in: unexpected use: $*" >&2; exit 64; fi
shift 3
echo "$*" >> "$APICLIENT_LOG"
case "$1" in
  ctr)
    shift
    if [ "$1" != -a ] || [ "$2" != /run/containerd/containerd.sock ]; then echo "apiclient stand-in: ctr must address Bottlerocket's containerd socket" >&2; exit 64; fi
    shift 2
    exec ctr -a "$CONTAINERD_SOCKET" "$@" ;;
  systemctl) exit 0 ;;
  true)
    # The admin container answers only from the ADMIN_UP_AFTER-th call on (SSM is Online before it runs).
    n=$(($(cat "$APICLIENT_LOG.admin" 2>/dev/null || echo 0) + 1)); echo "$n" > "$APICLIENT_LOG.admin"
    [ "$n" -ge "\${ADMIN_UP_AFTER:-1}" ] ;;
  *) echo "apiclient stand-in: no host command $1 here" >&2; exit 64 ;;
esac
`;

/** The runbook's pull step as AWS-RunShellScript receives it: the `commands` lines with the parameter substituted. */
function pullStepScript(image: string): string {
    const step = imageCacheRunbook().mainSteps.find((s) => s.action === "aws:runCommand");
    assert.ok(step, "the runbook has no aws:runCommand step");
    const commands = (step.inputs.Parameters as { commands: string[] }).commands;
    assert.ok(commands.join("\n").includes(IMAGE_PARAMETER), "the pull step does not use the Image parameter");
    return commands.join("\n").replaceAll(IMAGE_PARAMETER, image) + "\n";
}

/** An HTTP proxy on loopback that refuses every CONNECT and remembers where it was asked to go. */
async function recordingProxy(): Promise<{ url: string; targets: string[]; close(): Promise<void> }> {
    const targets: string[] = [];
    const server = net.createServer((sock) => {
        sock.once("data", (d) => {
            const m = /^CONNECT (\S+) /.exec(d.toString());
            if (m) targets.push(m[1]);
            sock.end("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        });
        sock.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, targets, close: () => new Promise((r) => server.close(() => r())) };
}

describe("image-cache build: the runbook's pull-and-tag step against real containerd, registry and CRI", function () {
    this.timeout(120_000);
    let registry: Registry | undefined;
    let containerd: Containerd | undefined;
    let proxy: Awaited<ReturnType<typeof recordingProxy>> | undefined;
    let layout: OciLayout;
    let shim: string;
    let log: string;
    /** serving.vllmImage's default, normalized: what the stack passes as the runbook's Image and the worker pods ask for. */
    const image = normalizeImageRef(servingSchema.parse({}).vllmImage);
    /** The same reference with the local registry in place of docker.io. */
    let local: string;

    before(async function () {
        requireSystem(this, [CONTAINERD, CTR, DOCKER_REGISTRY, SKOPEO], { root: true });
        const dir = tempDir("image-cache-");
        layout = writeOciLayout(path.join(dir, "layout"));
        [registry, containerd, proxy] = await Promise.all([startRegistry(), startContainerd(), recordingProxy()]);
        assert.match(image, /^docker\.io\//);
        local = image.replace(/^docker\.io\//, `${registry.host}/`);
        await pushOciLayout(layout.dir, local);
        shim = path.join(dir, "bin");
        fs.mkdirSync(shim);
        fs.writeFileSync(path.join(shim, "apiclient"), APICLIENT, { mode: 0o755 });
        log = path.join(dir, "apiclient.log");
    });

    after(async () => {
        await Promise.all([registry?.stop(), containerd?.stop(), proxy?.close()]);
    });

    const env = () => ({
        ...process.env,
        PATH: `${shim}:${process.env.PATH}`,
        APICLIENT_LOG: log,
        CONTAINERD_SOCKET: containerd!.socket,
        HTTPS_PROXY: proxy!.url,
        HTTP_PROXY: proxy!.url,
        NO_PROXY: "",
    });

    /**
     * Runs the step's script with `sh`, as SSM's runShellScript plugin does (`sh -c _script.sh`). `adminUpAfter`: the
     * admin container answers from that probe on; `sleep` is then a stand-in that only counts, so the wait runs at once.
     */
    async function runPullStep(imageArg: string, adminUpAfter = 1): Promise<{ code: number; output: string; sleeps: number }> {
        const dir = tempDir("ssm-");
        const file = path.join(dir, "_script.sh");
        fs.writeFileSync(file, pullStepScript(imageArg), { mode: 0o700 });
        fs.writeFileSync(path.join(dir, "sleep"), `#!/bin/sh\necho "$1" >> "${dir}/sleeps"\n`, { mode: 0o755 });
        fs.rmSync(log, { force: true });
        fs.rmSync(`${log}.admin`, { force: true });
        const path_ = adminUpAfter > 1 ? `${dir}:${env().PATH}` : env().PATH;
        const proc = spawn("sh", ["-c", file], { env: { ...env(), PATH: path_, ADMIN_UP_AFTER: String(adminUpAfter) }, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        proc.stdout.on("data", (d: Buffer) => (output += d.toString()));
        proc.stderr.on("data", (d: Buffer) => (output += d.toString()));
        const code = await new Promise<number>((r) => proc.on("exit", (c) => r(c ?? 1)));
        const sleeps = fs.existsSync(path.join(dir, "sleeps")) ? fs.readFileSync(path.join(dir, "sleeps"), "utf8").trim().split("\n").length : 0;
        return { code, output, sleeps };
    }
    /** The host commands the script ran through the admin container, in order. */
    const hostCommands = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : []);

    /** Removes every image from the k8s.io namespace and waits until the CRI has forgotten them. */
    async function clear(names: string[] = []): Promise<void> {
        const all = (await containerd!.images()).map((i) => i.name);
        if (all.length > 0) assert.strictEqual((await containerd!.ctr(["images", "rm", ...all])).code, 0);
        for (const n of names)
            await eventually(
                `the CRI to forget ${n}`,
                () => containerd!.imageStatus(n),
                (s) => s === undefined,
                5000,
            );
    }

    const names = async () =>
        (await containerd!.images())
            .map((i) => i.name)
            .filter((n) => !n.startsWith("sha256:"))
            .sort();
    let built: string[] = [];

    it("stores the image under the normalized name and its repository digest, labelled as CRI pulls are, and the kubelet's lookup finds it", async () => {
        const pattern = new RegExp(IMAGE_PATTERN);
        assert.ok(pattern.test(image) && pattern.test(local), "the runbook's Image parameter admits the normalized names");
        const r = await runPullStep(local);
        assert.strictEqual(r.code, 0, r.output);
        const repoDigest = `${imageRepository(local)}@${layout.manifestDigest}`;
        built = await names();
        assert.deepStrictEqual(built, [local, repoDigest].sort());
        for (const i of await containerd!.images()) assert.match(i.labels, /io\.cri-containerd\.image=managed/, i.name);
        assert.deepStrictEqual(
            hostCommands().slice(0, 2),
            ["true", "systemctl stop kubelet"],
            "the admin container answers, then kubelet is stopped before anything else",
        );
        // The kubelet asks the CRI for the pod's image string; containerd resolves it to what the build stored.
        const status = await eventually(
            "the CRI to see the pulled image",
            () => containerd!.imageStatus(local),
            (s) => s !== undefined,
            5000,
        );
        assert.strictEqual(status!.id, layout.configDigest);
        assert.deepStrictEqual(status!.repoTags, [local]);
        assert.deepStrictEqual(status!.repoDigests, [repoDigest]);
        assert.deepStrictEqual(proxy!.targets, [], "nothing left loopback");
    });

    it("leaves containerd as the kubelet's own pull would: CRI PullImage stores the same names", async () => {
        assert.ok(built.length > 0, "the build test ran first");
        await clear([local]);
        const id = await containerd!.pullImage(local);
        assert.strictEqual(id, layout.configDigest);
        assert.deepStrictEqual(await names(), built);
    });

    it("waits, bounded, for the admin container that SSM's Online does not wait for, then pulls", async () => {
        await clear([local]);
        const late = await runPullStep(local, 4);
        assert.strictEqual(late.code, 0, late.output);
        assert.deepStrictEqual(hostCommands().slice(0, 5), ["true", "true", "true", "true", "systemctl stop kubelet"]);
        assert.strictEqual(late.sleeps, 3);
        assert.deepStrictEqual(await names(), built);
        await clear([local]);
        const never = await runPullStep(local, 1e6);
        assert.notStrictEqual(never.code, 0);
        assert.match(never.output, /the admin container did not answer in 300 s/);
        assert.ok(
            hostCommands().every((c) => c === "true"),
            "nothing ran on the host",
        );
        assert.strictEqual(never.sleeps, 59);
        assert.deepStrictEqual(await names(), []);
    });

    it("fails with a short name, as the runbook ran before: ctr dials the first path part as a registry and caches nothing", async () => {
        await clear([local]);
        const short = servingSchema.parse({}).vllmImage;
        assert.strictEqual(short, "vllm/vllm-openai:v0.33.0");
        assert.ok(!new RegExp(IMAGE_PATTERN).test(short), "SSM refuses a short name before the run starts");
        const r = await runPullStep(short);
        assert.notStrictEqual(r.code, 0, r.output);
        assert.match(r.output, /failed to resolve reference "vllm\/vllm-openai:v0\.33\.0"/);
        assert.ok(proxy!.targets.includes("vllm:443"), `ctr dialled ${JSON.stringify(proxy!.targets)}`);
        assert.deepStrictEqual(await names(), []);
    });

    it("resolves every reference of the normalisation table as normalizeImageRef does (containerd's CRI lookup)", async () => {
        await clear();
        const r = await runPullStep(local);
        assert.strictEqual(r.code, 0, r.output);
        for (const [input, expected] of NORMALIZED) {
            assert.strictEqual(normalizeImageRef(input), expected);
            assert.strictEqual(await containerd!.imageStatus(input), undefined, `${input} resolves before it is tagged`);
            const tag = await containerd!.ctr(["images", "tag", local, expected]);
            assert.strictEqual(tag.code, 0, tag.stderr);
            const found = await eventually(
                `the CRI to resolve ${input} to ${expected}`,
                () => containerd!.imageStatus(input),
                (s) => s !== undefined,
                5000,
            );
            assert.strictEqual(found!.id, layout.configDigest, input);
            assert.ok([...found!.repoTags, ...found!.repoDigests].includes(expected), `${input}: ${JSON.stringify(found)}`);
            assert.strictEqual((await containerd!.ctr(["images", "rm", expected])).code, 0);
            await eventually(
                `the CRI to forget ${expected}`,
                () => containerd!.imageStatus(input),
                (s) => s === undefined,
                5000,
            );
        }
        for (const input of INVALID) {
            const status = await containerd!.imageStatus(input).catch(() => undefined);
            assert.strictEqual(status, undefined, `containerd resolved ${input}`);
        }
    });
});
