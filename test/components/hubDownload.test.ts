/**
 * The weights sync Job's download script (components/serving/weights/hubDownload.ts), run with
 * Debian's python3 (the image runs python 3.13; the script uses the standard library only) against
 * a Hub on 127.0.0.1 that speaks the Hub's HTTP interface as huggingface_hub uses it: the tree
 * listing, paginated by `Link: rel="next"`, and `resolve/` URLs that redirect LFS files to a CDN
 * on another host. Checks what the script writes, what it sends where, and that it refuses bad
 * checksums, gated models without a token, and paths outside its destination.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { HUB_DOWNLOAD_SCRIPT, IGNORED_PATTERNS } from "../../components/serving/weights/hubDownload";
import { PYTHON_IMAGE, syncJobSpec } from "../../components/serving/weights/syncJob";
import { requireSystem } from "../helpers/registry";
import { tempDir } from "../helpers/tmp";

const PYTHON = "/usr/bin/python3";
const REPO = "google/medgemma-1.5-4b-it";
const REV = "0123456789abcdef0123456789abcdef01234567";
const TOKEN = "hf_testTokenThatMustStayOnTheHub";

interface HubFile {
    readonly path: string;
    readonly content: Buffer;
    readonly lfs: boolean;
}

const gitSha1 = (b: Buffer) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface Seen {
    readonly host: "hub" | "cdn";
    readonly url: string;
    readonly authorization?: string;
}

/** The Hub and its CDN on two loopback ports (two hosts as far as a client can tell). */
async function fakeHub(files: HubFile[], opts: { gated?: boolean; corrupt?: string; pageSize?: number } = {}) {
    const seen: Seen[] = [];
    const cdn = http.createServer((req, res) => {
        seen.push({ host: "cdn", url: req.url!, authorization: req.headers.authorization });
        const f = files.find((x) => `/blobs/${sha256(x.content)}` === req.url);
        if (!f) return void res.writeHead(404).end();
        res.end(opts.corrupt === f.path ? Buffer.concat([f.content, Buffer.from("!")]) : f.content);
    });
    const hub = http.createServer((req, res) => {
        seen.push({ host: "hub", url: req.url!, authorization: req.headers.authorization });
        if (opts.gated && req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end("{}");
        const u = new URL(req.url!, "http://hub");
        const tree = `/api/models/${REPO}/tree/${REV}`;
        if (u.pathname === tree && u.searchParams.get("recursive") === "true") {
            const page = Number(u.searchParams.get("cursor") ?? 0);
            const size = opts.pageSize ?? 2;
            const entries = [
                { type: "directory", path: "processor", oid: "x", size: 0 },
                ...files.map((f) => ({
                    type: "file",
                    path: f.path,
                    size: f.content.length,
                    oid: gitSha1(f.content),
                    ...(f.lfs ? { lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: 134 } } : {}),
                })),
            ];
            const slice = entries.slice(page * size, (page + 1) * size);
            const headers: Record<string, string> = { "content-type": "application/json" };
            if ((page + 1) * size < entries.length) headers.link = `<http://${req.headers.host}${tree}?recursive=true&cursor=${page + 1}>; rel="next"`;
            return void res.writeHead(200, headers).end(JSON.stringify(slice));
        }
        const prefix = `/${REPO}/resolve/${REV}/`;
        if (u.pathname.startsWith(prefix)) {
            const f = files.find((x) => x.path === decodeURIComponent(u.pathname.slice(prefix.length)));
            if (!f) return void res.writeHead(404).end();
            if (f.lfs)
                return void res.writeHead(302, { location: `http://127.0.0.1:${(cdn.address() as { port: number }).port}/blobs/${sha256(f.content)}` }).end();
            return void res.end(opts.corrupt === f.path ? Buffer.from("tampered") : f.content);
        }
        res.writeHead(404).end();
    });
    await Promise.all([new Promise<void>((r) => hub.listen(0, "127.0.0.1", () => r())), new Promise<void>((r) => cdn.listen(0, "127.0.0.1", () => r()))]);
    return {
        endpoint: `http://127.0.0.1:${(hub.address() as { port: number }).port}`,
        seen,
        close: () => Promise.all([new Promise((r) => hub.close(r)), new Promise((r) => cdn.close(r))]),
    };
}

async function download(endpoint: string, work: string, token?: string): Promise<{ code: number; output: string }> {
    const env = {
        PATH: process.env.PATH ?? "",
        WORK_DIR: work,
        HF_ENDPOINT: endpoint,
        MODEL_ID: REPO,
        REVISION: REV,
        NO_PROXY: "127.0.0.1",
        ...(token ? { HF_TOKEN: token } : {}),
    };
    const proc = spawn(PYTHON, ["-c", HUB_DOWNLOAD_SCRIPT], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    proc.stdout.on("data", (d: Buffer) => (output += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (output += d.toString()));
    return { code: await new Promise<number>((r) => proc.on("exit", (c) => r(c ?? 1))), output };
}

const FILES: HubFile[] = [
    { path: "config.json", content: Buffer.from('{"architectures":["Gemma3ForConditionalGeneration"]}\n'), lfs: false },
    { path: "tokenizer.json", content: Buffer.from('{"version":"1.0"}\n'), lfs: false },
    { path: "model-00001-of-00002.safetensors", content: Buffer.alloc(3 << 20, 7), lfs: true },
    { path: "model-00002-of-00002.safetensors", content: Buffer.alloc(1 << 20, 9), lfs: true },
    { path: "processor/preprocessor_config.json", content: Buffer.from('{"size":{"longest_edge":896}}\n'), lfs: false },
    { path: "pytorch_model.bin", content: Buffer.alloc(1024, 1), lfs: true },
    { path: "original/params.json", content: Buffer.from("{}"), lfs: false },
];

describe("weights sync: the Hub download step (python3, standard library)", function () {
    this.timeout(60_000);
    before(function () {
        requireSystem(this, [PYTHON]);
    });

    it("runs in the small python image, not the vLLM image", () => {
        const pod = (syncJobSpec({ model: { id: REPO, name: "medgemma-4b", revision: REV, weightsGiB: 8.6 }, bucket: "b", region: "us-east-1" }) as any)
            .template.spec;
        const download = pod.initContainers.find((c: any) => c.name === "download");
        assert.strictEqual(download.image, PYTHON_IMAGE);
        assert.strictEqual(PYTHON_IMAGE, "docker.io/library/python:3.13.9-slim");
        assert.deepStrictEqual(download.command, ["python3", "-c", HUB_DOWNLOAD_SCRIPT]);
        const images = [...pod.initContainers, ...pod.containers].map((c: any) => c.image);
        assert.ok(!images.some((i: string) => i.includes("vllm")), JSON.stringify(images));
    });

    it("downloads the pinned revision across listing pages, verified, skipping formats the streamer does not read; the token never leaves the Hub", async () => {
        const hub = await fakeHub(FILES);
        try {
            const work = tempDir("hub-");
            const r = await download(hub.endpoint, work, TOKEN);
            assert.strictEqual(r.code, 0, r.output);
            const ignored = (p: string) => IGNORED_PATTERNS.some((g) => (g.endsWith("/*") ? p.startsWith(g.slice(0, -1)) : p.endsWith(g.slice(1))));
            for (const f of FILES) {
                const target = path.join(work, "model", f.path);
                if (ignored(f.path)) assert.ok(!fs.existsSync(target), `${f.path} was copied`);
                else assert.ok(fs.readFileSync(target).equals(f.content), f.path);
            }
            assert.deepStrictEqual(
                fs.readdirSync(path.join(work, "model")).filter((n) => n.endsWith(".part")),
                [],
            );
            assert.ok(hub.seen.filter((s) => s.url.includes("/tree/")).length >= 3, "followed the Link pages");
            assert.ok(hub.seen.filter((s) => s.host === "hub").every((s) => s.authorization === `Bearer ${TOKEN}`));
            const cdn = hub.seen.filter((s) => s.host === "cdn");
            assert.strictEqual(cdn.length, 2, "the two safetensors shards came from the CDN");
            assert.ok(
                cdn.every((s) => s.authorization === undefined),
                "the token went to another host after a redirect",
            );
            // A second run (a restarted container) verifies what is there and downloads nothing.
            const before = hub.seen.filter((s) => s.url.includes("/resolve/")).length;
            const again = await download(hub.endpoint, work, TOKEN);
            assert.strictEqual(again.code, 0, again.output);
            assert.match(again.output, /downloaded 0 files/);
            assert.strictEqual(hub.seen.filter((s) => s.url.includes("/resolve/")).length, before);
            // A file damaged on disk is fetched again.
            fs.writeFileSync(path.join(work, "model", "config.json"), "{}");
            const repaired = await download(hub.endpoint, work, TOKEN);
            assert.match(repaired.output, /downloaded 1 files/);
            assert.ok(fs.readFileSync(path.join(work, "model", "config.json")).equals(FILES[0].content));
        } finally {
            await hub.close();
        }
    });

    it("refuses a file whose bytes do not match the listing (LFS sha256 or git blob sha1), and keeps no partial file", async () => {
        for (const corrupt of ["model-00002-of-00002.safetensors", "tokenizer.json"]) {
            const hub = await fakeHub(FILES, { corrupt });
            try {
                const work = tempDir("hub-");
                const r = await download(hub.endpoint, work);
                assert.notStrictEqual(r.code, 0);
                assert.match(r.output, new RegExp(`${corrupt.replace(/\./g, "\\.")}: checksum [0-9a-f]+, the Hub lists [0-9a-f]+`));
                assert.ok(!fs.existsSync(path.join(work, "model", corrupt)) && !fs.existsSync(path.join(work, "model", `${corrupt}.part`)));
            } finally {
                await hub.close();
            }
        }
    });

    it("says what to do for a gated model without a token, and does nothing when the copy is already complete", async () => {
        const hub = await fakeHub(FILES, { gated: true });
        try {
            const r = await download(hub.endpoint, tempDir("hub-"));
            assert.notStrictEqual(r.code, 0);
            assert.match(r.output, /HTTP 401 \(a gated model: set the hfToken secret and accept the model's licence on the Hub\)/);
            const done = tempDir("hub-");
            fs.writeFileSync(path.join(done, "done"), "");
            const requests = hub.seen.length;
            assert.strictEqual((await download(hub.endpoint, done)).code, 0);
            assert.strictEqual(hub.seen.length, requests, "the check step's marker short-circuits the download");
        } finally {
            await hub.close();
        }
    });

    it("refuses a listed path that leaves the destination", async () => {
        const hub = await fakeHub([{ path: "../escape.json", content: Buffer.from("{}"), lfs: false }]);
        try {
            const work = tempDir("hub-");
            const r = await download(hub.endpoint, work);
            assert.notStrictEqual(r.code, 0);
            assert.match(r.output, /refusing '\.\.\/escape\.json': outside the destination/);
            assert.ok(!fs.existsSync(path.join(work, "escape.json")));
        } finally {
            await hub.close();
        }
    });
});
