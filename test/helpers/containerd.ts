/**
 * A real containerd (Debian's 1.6.20) for tests, run as root with its own config: root, state and
 * sockets under a temp dir (containerd docs/man/containerd-config.toml.5.md: root, state, [grpc]
 * address, [ttrpc] address; the `opt` plugin's path moved there too), nothing listening on TCP but
 * the CRI stream server on 127.0.0.1 (its default). Driven two ways:
 * - `ctr` against the socket, as the image-cache runbook does on Bottlerocket;
 * - the CRI image service, as the kubelet does: gRPC over the same socket (HTTP/2, `application/grpc`,
 *   5-byte length prefix; grpc/grpc doc/PROTOCOL-HTTP2.md), messages of k8s.io/cri-api
 *   pkg/apis/runtime/v1/api.proto as vendored in containerd v1.6.20 (ImageSpec.image = 1;
 *   ImageStatusRequest.image = 1; ImageStatusResponse.image = 1; Image.id = 1, repo_tags = 2,
 *   repo_digests = 3; PullImageRequest.image = 1; PullImageResponse.image_ref = 1), encoded by hand.
 */
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as http2 from "http2";
import * as net from "net";
import * as path from "path";
import { promisify } from "util";
import { tempDir } from "./tmp";

const run = promisify(execFile);

export const CONTAINERD = "/usr/bin/containerd";
export const CTR = "/usr/bin/ctr";
/** The namespace the CRI plugin (and so the kubelet) uses. */
const K8S_NAMESPACE = "k8s.io";

export interface CriImage {
    readonly id: string;
    readonly repoTags: string[];
    readonly repoDigests: string[];
}

export interface Containerd {
    readonly socket: string;
    /** `ctr -a <socket> -n k8s.io <args>`; never throws: code, stdout, stderr. */
    ctr(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }>;
    /** Image names in the k8s.io namespace with their labels (`ctr images ls`). */
    images(): Promise<Array<{ name: string; digest: string; labels: string }>>;
    /** CRI ImageStatus, as the kubelet calls it before pulling: undefined when containerd resolves nothing. */
    imageStatus(image: string): Promise<CriImage | undefined>;
    /** CRI PullImage, as the kubelet calls it: the image id. */
    pullImage(image: string, env?: NodeJS.ProcessEnv): Promise<string>;
    stop(): Promise<void>;
}

// --- protobuf, the four wire shapes these messages use -------------------------------------------------

function varint(n: number): Buffer {
    const out: number[] = [];
    while (n > 0x7f) {
        out.push((n & 0x7f) | 0x80);
        n = Math.floor(n / 128);
    }
    out.push(n);
    return Buffer.from(out);
}

/** A length-delimited field (wire type 2): strings and embedded messages. */
function field(no: number, value: Buffer | string): Buffer {
    const b = typeof value === "string" ? Buffer.from(value) : value;
    return Buffer.concat([varint((no << 3) | 2), varint(b.length), b]);
}

/** Length-delimited fields of a message by number (other wire types skipped). */
function fields(b: Buffer): Map<number, Buffer[]> {
    const out = new Map<number, Buffer[]>();
    let i = 0;
    const readVarint = () => {
        let n = 0;
        let shift = 0;
        for (;;) {
            const byte = b[i++];
            n += (byte & 0x7f) * 2 ** shift;
            if (byte < 0x80) return n;
            shift += 7;
        }
    };
    while (i < b.length) {
        const key = readVarint();
        const [no, wire] = [Math.floor(key / 8), key & 7];
        if (wire === 0) readVarint();
        else if (wire === 1) i += 8;
        else if (wire === 5) i += 4;
        else if (wire === 2) {
            const len = readVarint();
            out.set(no, [...(out.get(no) ?? []), b.subarray(i, i + len)]);
            i += len;
        } else throw new Error(`protobuf wire type ${wire} not handled`);
    }
    return out;
}

const imageSpec = (image: string) => field(1, field(1, image));

function decodeImage(b: Buffer): CriImage {
    const f = fields(b);
    const strings = (no: number) => (f.get(no) ?? []).map((x) => x.toString());
    return { id: strings(1)[0] ?? "", repoTags: strings(2), repoDigests: strings(3) };
}

// --- gRPC unary calls over the unix socket --------------------------------------------------------------

function grpcCall(session: http2.ClientHttp2Session, method: string, body: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": method, "content-type": "application/grpc", te: "trailers" });
        const chunks: Buffer[] = [];
        let status: string | undefined;
        let message = "";
        const take = (h: http2.IncomingHttpHeaders) => {
            if (h["grpc-status"] !== undefined) {
                status = String(h["grpc-status"]);
                message = decodeURIComponent(String(h["grpc-message"] ?? ""));
            }
        };
        req.on("response", take);
        req.on("trailers", take);
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("error", reject);
        req.on("end", () => {
            if (status !== "0") return reject(new Error(`${method}: grpc-status ${status}: ${message}`));
            const all = Buffer.concat(chunks);
            resolve(all.length >= 5 ? all.subarray(5, 5 + all.readUInt32BE(1)) : Buffer.alloc(0));
        });
        const frame = Buffer.alloc(5 + body.length);
        frame.writeUInt32BE(body.length, 1);
        body.copy(frame, 5);
        req.end(frame);
    });
}

// --- the daemon ------------------------------------------------------------------------------------------

/** Starts containerd with the CRI plugin (its default set of plugins) and waits for its socket. */
export async function startContainerd(): Promise<Containerd> {
    const dir = tempDir("containerd-");
    const socket = path.join(dir, "containerd.sock");
    const config = path.join(dir, "config.toml");
    fs.writeFileSync(
        config,
        [
            "version = 2",
            `root = "${dir}/root"`,
            `state = "${dir}/state"`,
            "[grpc]",
            `  address = "${socket}"`,
            "[ttrpc]",
            `  address = "${socket}.ttrpc"`,
            "[debug]",
            '  address = ""',
            "[metrics]",
            '  address = ""',
            '[plugins."io.containerd.internal.v1.opt"]',
            `  path = "${dir}/opt"`,
            "",
        ].join("\n"),
    );
    const proc: ChildProcess = spawn(CONTAINERD, ["--config", config, "--log-level", "warn"], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    proc.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-8000)));
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    const ctr = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
        try {
            const { stdout, stderr } = await run(CTR, ["-a", socket, "-n", K8S_NAMESPACE, ...args], { timeout: 30_000, env: { ...process.env, ...env } });
            return { code: 0, stdout, stderr };
        } catch (e) {
            const err = e as { code?: number; stdout?: string; stderr?: string };
            return { code: typeof err.code === "number" ? err.code : 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
        }
    };
    const until = Date.now() + 15_000;
    while (!(fs.existsSync(socket) && (await ctr(["version"])).code === 0)) {
        if (proc.exitCode !== null || Date.now() > until) throw new Error(`containerd did not start: ${log}`);
        await new Promise((r) => setTimeout(r, 50));
    }
    const session = http2.connect("http://localhost", { createConnection: () => net.connect(socket) });
    session.on("error", () => undefined);
    const cri = (method: string, body: Buffer) => grpcCall(session, `/runtime.v1.ImageService/${method}`, body);
    return {
        socket,
        ctr,
        async images() {
            const { code, stdout, stderr } = await ctr(["images", "ls"]);
            if (code !== 0) throw new Error(`ctr images ls: ${stderr}`);
            return stdout
                .trim()
                .split("\n")
                .slice(1)
                .filter((l) => l.trim() !== "")
                .map((l) => {
                    const cols = l.trim().split(/\s+/);
                    return { name: cols[0], digest: cols[2], labels: cols[cols.length - 1] };
                });
        },
        async imageStatus(image) {
            const res = fields(await cri("ImageStatus", imageSpec(image)));
            const img = res.get(1)?.[0];
            return img ? decodeImage(img) : undefined;
        },
        async pullImage(image) {
            const res = fields(await cri("PullImage", imageSpec(image)));
            return res.get(1)?.[0]?.toString() ?? "";
        },
        async stop() {
            session.close();
            if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
            await Promise.race([exited, new Promise((r) => setTimeout(r, 5000)).then(() => proc.kill("SIGKILL"))]);
        },
    };
}
