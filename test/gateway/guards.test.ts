/**
 * Issue 23: the guards every route shares, in-process over real HTTP on 127.0.0.1: the warm-up
 * route's bounded body (point 1), GETs under the team's request rate (point 2), each team's
 * reserve of the body budget (point 6), warm-ups per team and per pool (point 8), and slow
 * readers told from readers that read nothing (point 9).
 */
import * as assert from "assert";
import * as net from "net";
import { Readable } from "stream";
import { request } from "undici";
import { sha256Hex } from "../../gateway/src/index";
import { chatBody, config, fake, gateway, get, KEY, KEY2, logCapture, metric, metrics, MODEL, onCleanup, post, sleep, waitFor } from "./helpers";
import { openSocket, requestHead } from "./processes";

const TEACHER_A = "sk-teacher-a-warmup-key-0001";
const TEACHER_B = "sk-teacher-b-warmup-key-0002";
const MiB = 1024 * 1024;

describe("guards shared by every route (issue 23)", function () {
    this.timeout(30_000);

    describe("point 1: POST /v1/warmup takes a small JSON object through the bounded parse", () => {
        it("refuses a 20 MB body by its declared size (413) and a deeply nested one as request_too_complex (400)", async () => {
            const gw = await gateway(
                config(["http://127.0.0.1:9"], { auth: { keys: [{ team: "teaching", sha256: sha256Hex(TEACHER_A), permissions: ["warmup"] }] } }),
            );
            const send = async (body: string | Buffer | Readable) => {
                const res = await request(`${gw.url}/v1/warmup`, {
                    method: "POST",
                    headers: { authorization: `Bearer ${TEACHER_A}`, "content-type": "application/json" },
                    body,
                });
                return { status: res.statusCode, json: (await res.body.json()) as { error: { code: string; message: string } } };
            };
            const huge = await send(Buffer.alloc(20_000_000, "["));
            assert.deepStrictEqual([huge.status, huge.json.error.code], [413, "request_too_large"]);
            assert.match(huge.json.error.message, /65536 bytes/);
            // Chunked, without a Content-Length: refused at 64 KiB read, not parsed.
            const chunked = await send(Readable.from(Array.from({ length: 20 }, () => Buffer.alloc(1_000_000, "["))));
            assert.deepStrictEqual([chunked.status, chunked.json.error.code], [413, "request_too_large"]);
            const deep = await send("[".repeat(50_000));
            assert.deepStrictEqual([deep.status, deep.json.error.code], [400, "request_too_complex"]);
        });
    });

    describe("point 2: GETs count against the team's request rate", () => {
        it("answers 429 with Retry-After once a team's GETs pass its requestsPerMinute burst; another team is not affected", async () => {
            const gw = await gateway(config(["http://127.0.0.1:9"], { limits: { default: { requestsPerMinute: 60, burst: 5 } } }));
            const codes: number[] = [];
            for (let i = 0; i < 8; i++) codes.push((await get(gw.url, "/v1/models", KEY)).status);
            assert.deepStrictEqual(codes, [200, 200, 200, 200, 200, 429, 429, 429]);
            const res = await request(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
            assert.strictEqual(res.statusCode, 429);
            assert.ok(Number(res.headers["retry-after"]) >= 1);
            assert.strictEqual(((await res.body.json()) as { error: { code: string } }).error.code, "rate_limit_exceeded");
            assert.strictEqual((await get(gw.url, "/v1/models", KEY2)).status, 200);
        });
    });

    describe("point 6: each team keeps a share of the body budget", () => {
        it("serves another team's body while one team holds slow bodies up to the rest of the budget", async () => {
            const f = await fake();
            // 10 MiB budget, two teams: each keeps min(4 MiB, 10 / 4) = 2.5 MiB the other cannot take.
            const gw = await gateway(config([f.url], { maxBodyBytes: 4 * MiB, maxHeldBodyBytes: 10 * MiB, requestTimeoutSeconds: 20 }));
            await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
            const port = Number(new URL(gw.url).port);
            const slow = (key: string) =>
                openSocket(port, requestHead("POST", "/v1/chat/completions", key, { "Content-Type": "application/json", "Content-Length": 3 * MiB }) + "{");
            const answers: string[] = [];
            const sockets: net.Socket[] = [];
            for (let i = 0; i < 3; i++) {
                const s = slow(KEY);
                s.on("data", (d: Buffer) => answers.push(d.toString().split("\r\n")[0]));
                sockets.push(s);
                await sleep(150);
            }
            // Team A holds 6 MiB; its third 3 MiB body would leave less than team B's reserve.
            await waitFor(() => answers.length === 1, 5000, "the third slow body refused");
            assert.deepStrictEqual(answers, ["HTTP/1.1 503 Service Unavailable"]);
            const image = `data:image/png;base64,${Buffer.alloc(1.5 * MiB, 7).toString("base64")}`;
            const b = await post(
                gw.url,
                chatBody("x", {
                    messages: [
                        {
                            role: "user",
                            content: [
                                { type: "text", text: "what is this" },
                                { type: "image_url", image_url: { url: image } },
                            ],
                        },
                    ],
                }),
                { key: KEY2 },
            );
            assert.strictEqual(b.status, 200, JSON.stringify(b.json));
            for (const s of sockets) s.destroy();
        });
    });

    describe("point 8: warm-ups are per team and per pool", () => {
        const warmConfig = (pool: Record<string, unknown> = {}) =>
            config(["http://127.0.0.1:9"], {
                pools: [{ name: "qwen3-vl-2b", models: [MODEL, "qwen3-vl-2b"], upstreams: ["http://127.0.0.1:9"], ...pool }],
                auth: {
                    keys: [
                        { team: "teaching", sha256: sha256Hex(TEACHER_A), permissions: ["warmup"] },
                        { team: "anatomy", sha256: sha256Hex(TEACHER_B), permissions: ["warmup"] },
                    ],
                },
            });
        const warm = async (url: string, key: string, body: Record<string, unknown>) => {
            const res = await request(`${url}/v1/warmup`, {
                method: "POST",
                headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
                body: JSON.stringify(body),
            });
            return { status: res.statusCode, json: (await res.body.json()) as any };
        };
        const gauge = async (url: string) => metric(await metrics(url), "gateway_warmup_replicas", { pool: "qwen3-vl-2b" });

        it("counts a team warming both names of one pool once, and lists a team's own warm-ups only", async () => {
            const gw = await gateway(warmConfig());
            assert.strictEqual((await warm(gw.url, TEACHER_A, { model: MODEL, minutes: 30 })).status, 202);
            assert.strictEqual((await warm(gw.url, TEACHER_A, { model: "qwen3-vl-2b", minutes: 30 })).status, 202);
            assert.strictEqual(await gauge(gw.url), 1);
            const listB = await get(gw.url, "/v1/warmup", TEACHER_B);
            assert.deepStrictEqual(listB.json.data, [], "another team's warm-up (and its team name) is not shown");
            const listA = await get(gw.url, "/v1/warmup", TEACHER_A);
            assert.deepStrictEqual(
                listA.json.data.map((w: { team: string; pool: string }) => [w.team, w.pool]),
                [["teaching", "qwen3-vl-2b"]],
            );
            // Another team's warm-up adds its replica.
            assert.strictEqual((await warm(gw.url, TEACHER_B, { model: MODEL, minutes: 30 })).status, 202);
            assert.strictEqual(await gauge(gw.url), 2);
        });

        it("refuses more replicas than the pool warms (400 naming the cap) and honours a valid count", async () => {
            const gw = await gateway(warmConfig({ maxWarmupReplicas: 3 }));
            const many = await warm(gw.url, TEACHER_A, { model: MODEL, minutes: 30, replicas: 1000 });
            assert.strictEqual(many.status, 400);
            assert.strictEqual(many.json.error.code, "invalid_replicas");
            assert.match(many.json.error.message, /from 1 to 3, the most pool 'qwen3-vl-2b' warms \(pools\[\]\.maxWarmupReplicas\)/);
            assert.strictEqual(await gauge(gw.url), 0);
            const two = await warm(gw.url, TEACHER_A, { model: MODEL, minutes: 30, replicas: 2 });
            assert.deepStrictEqual([two.status, two.json.replicas], [202, 2]);
            assert.strictEqual(await gauge(gw.url), 2);
        });
    });

    describe("point 9: a client reading slowly is kept; one reading nothing is cut", () => {
        /** An endless stream read at `bytesPerSecond` (0: never read); resolves after `ms` with what happened. */
        async function reader(port: number, bytesPerSecond: number, ms: number): Promise<{ read: number; readLast: number }> {
            const body = JSON.stringify(chatBody("flood", { stream: true }));
            const s = openSocket(
                port,
                requestHead("POST", "/v1/chat/completions", KEY, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) }) + body,
            );
            s.pause();
            let read = 0;
            const timer = setInterval(() => {
                let want = bytesPerSecond / 4;
                let c: Buffer | null;
                while (want > 0 && (c = s.read(Math.min(want, 4096)) as Buffer | null)) {
                    read += c.length;
                    want -= c.length;
                }
            }, 250);
            onCleanup(async () => clearInterval(timer));
            await sleep(ms - 2000);
            const before = read;
            await sleep(2000);
            clearInterval(timer);
            s.destroy();
            return { read, readLast: read - before };
        }

        it("keeps streaming to a client that reads 64 KiB/s, and cuts one that reads nothing after clientStallSeconds", async () => {
            const f = await fake({ fail: "endless", chunkBytes: 16384 });
            const log = logCapture();
            // Loopback's segments are 64 KiB: a reader shows progress one window update (>= 64 KiB read) at a time.
            const gw = await gateway(config([f.url], { streams: { clientStallSeconds: 3 }, logLevel: "info" }), { logStream: log.stream });
            await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
            const port = Number(new URL(gw.url).port);
            const cuts = () => log.lines().filter((l) => l.msg === "client read nothing while its buffer was full; cutting it off").length;
            // Alone first: the slow reader through 12 s (4 stall periods) is never cut.
            const slow = await reader(port, 64 * 1024, 12_000);
            assert.ok(slow.read > 4 * 64 * 1024, `the slow reader got ${slow.read} bytes`);
            assert.strictEqual(cuts(), 0, "the slow reader was cut");
            // Then one that reads nothing: cut after clientStallSeconds once its buffers are full. It stays
            // connected until the gateway cuts it (filling loopback's buffers takes longer on a busy machine).
            const body = JSON.stringify(chatBody("flood", { stream: true }));
            const none = openSocket(
                port,
                requestHead("POST", "/v1/chat/completions", KEY, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) }) + body,
            );
            none.pause();
            onCleanup(async () => void none.destroy());
            await waitFor(() => cuts() === 1, 60_000, "the client that reads nothing cut");
            // Cut means released: its worker slot is free while the client still holds its socket unread.
            const inflight = async () => metric(await metrics(gw.url), "gateway_inflight_requests", { pool: "a10g" });
            await waitFor(async () => (await inflight()) === 0, 30_000, "the cut request's worker slot released");
            assert.ok(!none.destroyed, "the test's client closed its own socket");
            assert.ok((metric(await metrics(gw.url), "gateway_stream_errors_total", { pool: "a10g" }) ?? 0) >= 1);
        }).timeout(120_000);
    });
});
