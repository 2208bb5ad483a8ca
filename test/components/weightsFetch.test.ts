/**
 * The workers' weights copy (components/serving/weights/fetch.ts), run for real: the init container's very
 * script and environment, with Debian's AWS CLI v2 against an S3 server on loopback (test/helpers/s3.ts) that
 * holds what the sync Job leaves in the bucket (the revision's files under weights/paths.ts modelPrefix, the
 * completion marker last). Only the endpoint and WEIGHTS_DIR differ from a pod: the directory vLLM is given
 * must end up holding exactly the pinned revision, or the pod must stop in Init with a reason.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { FETCHED_MARKER, LOCAL_MODEL_DIR, WEIGHTS_FETCH_SCRIPT, weightsFetchContainer } from "../../components/serving/weights/fetch";
import { COMPLETE_MARKER, modelPrefix } from "../../components/serving/weights/paths";
import { requireSystem } from "../helpers/registry";
import { AWS_CLI, S3Server, startS3 } from "../helpers/s3";
import { tempDir } from "../helpers/tmp";

const MODEL = { id: "Qwen/Qwen3-VL-2B-Instruct", revision: "89644892e4d85e24eaac8bacfd4f463576704203" };
const OTHER = { id: MODEL.id, revision: "0000000000000000000000000000000000000000" };

/** A small sharded checkpoint as the Hub lays it out, its bytes particular to the revision (the copy must be byte-exact). */
function checkpoint(dir: string, revision: string): Record<string, Buffer> {
    const seed = parseInt(revision.slice(0, 6), 16) + 1;
    const files: Record<string, Buffer> = {
        "config.json": Buffer.from(`{"architectures":["Qwen3VLForConditionalGeneration"],"revision":"${revision}"}`),
        "tokenizer.json": Buffer.from('{"version":"1.0"}'),
        "model.safetensors.index.json": Buffer.from('{"weight_map":{}}'),
        "model-00001-of-00002.safetensors": Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => (i * 7919 + seed) & 255)),
        "model-00002-of-00002.safetensors": Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 104729 + seed) & 255)),
    };
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
    return files;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
    const proc = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    proc.stdout.on("data", (d: Buffer) => (output += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (output += d.toString()));
    return new Promise((r) => proc.on("exit", (c) => r({ code: c ?? 1, output })));
}

const listDir = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

describe("weights copy: the worker's init container against an S3 endpoint with the real AWS CLI", function () {
    this.timeout(120_000);
    let s3: S3Server | undefined;
    let mine: Record<string, Buffer>;

    /** The sync Job's end state (weights/syncJob.ts SCRIPT_UPLOAD): the revision's files and, once complete, the marker. */
    async function publish(model: { id: string; revision: string }, opts: { marker: boolean; safetensors?: boolean }): Promise<Record<string, Buffer>> {
        const dir = tempDir("hub-copy-");
        const files = checkpoint(dir, model.revision);
        if (opts.safetensors === false) for (const f of Object.keys(files)) if (f.endsWith(".safetensors")) fs.rmSync(path.join(dir, f));
        if (opts.marker) fs.writeFileSync(path.join(dir, COMPLETE_MARKER), model.revision);
        const r = await run("aws", ["s3", "sync", dir, `s3://${s3!.bucket}/${modelPrefix(model)}/`, "--only-show-errors"], s3!.env());
        assert.strictEqual(r.code, 0, r.output);
        return files;
    }

    /** Runs the init container's command with its env, WEIGHTS_DIR moved to a temp dir. */
    async function fetchInit(
        model: { id: string; revision: string },
        dest = path.join(tempDir("weights-"), "model"),
    ): Promise<{ code: number; output: string; dest: string }> {
        const c = weightsFetchContainer({ bucket: s3!.bucket, prefix: modelPrefix(model), region: "us-east-1", cpu: 2 });
        const env = Object.fromEntries((c.env as { name: string; value: string }[]).map((e) => [e.name, e.value]));
        assert.strictEqual(env.WEIGHTS_DIR, LOCAL_MODEL_DIR, "the pod copies into the directory vLLM loads");
        const [sh, flag, script] = c.command as string[];
        assert.strictEqual(script, WEIGHTS_FETCH_SCRIPT);
        const r = await run(sh, [flag, script], s3!.env({ ...env, HOME: tempDir("home-"), WEIGHTS_DIR: dest }));
        return { ...r, dest };
    }

    before(async function () {
        requireSystem(this, [AWS_CLI]);
        s3 = await startS3();
        mine = await publish(MODEL, { marker: true });
        await publish(OTHER, { marker: true }); // another revision of the same model beside it
    });
    after(async () => s3?.close());

    it("copies exactly the pinned revision, byte for byte, without the sync Job's marker, then marks the directory complete", async () => {
        const r = await fetchInit(MODEL);
        assert.strictEqual(r.code, 0, r.output);
        assert.deepStrictEqual(listDir(r.dest), [...Object.keys(mine), FETCHED_MARKER].sort());
        for (const [name, content] of Object.entries(mine)) assert.ok(fs.readFileSync(path.join(r.dest, name)).equals(content), name);
        assert.match(r.output, /copied s3:\/\/\S+\/models\/Qwen\/Qwen3-VL-2B-Instruct\/89644892e4d85e24eaac8bacfd4f463576704203 to \S+ \(\d+ MiB\) in \d+ s/);
    });

    it("does nothing when its container restarts after a complete copy (not even ask S3)", async () => {
        const first = await fetchInit(MODEL);
        assert.strictEqual(first.code, 0, first.output);
        const offline = s3!;
        s3 = { ...offline, env: (extra) => offline.env({ ...extra, PATH: "/usr/bin:/bin" }) }; // no shim: any S3 call would go to AWS and fail
        try {
            const again = await fetchInit(MODEL, first.dest);
            assert.strictEqual(again.code, 0, again.output);
            assert.match(again.output, /weights already in/);
        } finally {
            s3 = offline;
        }
    });

    it("stops in Init, naming the sync Job, while the revision has no completion marker (a copy in progress)", async () => {
        const pending = { id: "google/medgemma-1.5-4b-it", revision: "1111111111111111111111111111111111111111" };
        await publish(pending, { marker: false });
        const r = await fetchInit(pending);
        assert.notStrictEqual(r.code, 0);
        assert.match(r.output, /has no \.gpuserve-complete: the weights-sync Job has not finished copying this revision/);
        assert.deepStrictEqual(listDir(r.dest), [], "vLLM would load a partial model");
    });

    it("refuses a revision without safetensors, the only format the Run:ai streamer loads, and leaves it unmarked", async () => {
        const bins = { id: "google/medgemma-1.5-4b-it", revision: "2222222222222222222222222222222222222222" };
        await publish(bins, { marker: true, safetensors: false });
        const r = await fetchInit(bins);
        assert.notStrictEqual(r.code, 0);
        assert.match(r.output, /holds no \*\.safetensors/);
        assert.ok(!listDir(r.dest).includes(FETCHED_MARKER));
    });
});
