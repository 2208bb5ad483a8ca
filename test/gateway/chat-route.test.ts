/**
 * POST /v1/chat/completions is served on node:http outside fastify (gateway/src/chat.ts): what
 * fastify did for it (body limits, framing errors, request ids, other methods, query strings,
 * the client address behind a trusted proxy) must hold on that path too. Real HTTP on 127.0.0.1.
 */
import * as assert from "assert";
import * as net from "net";
import { chatBody, config, fake, gateway, KEY, logCapture, post, waitFor } from "./helpers";

/** Raw bytes in, the whole raw answer out (the server closes, or we stop after `ms`). */
function exchange(url: string, bytes: string | Buffer, ms = 3000): Promise<string> {
    return new Promise((resolve) => {
        const socket = net.connect(Number(new URL(url).port), "127.0.0.1");
        let text = "";
        socket.on("data", (d) => (text += d.toString("latin1")));
        socket.on("error", () => undefined);
        const done = () => {
            clearTimeout(timer);
            socket.destroy();
            resolve(text);
        };
        const timer = setTimeout(done, ms);
        socket.on("close", done);
        socket.write(bytes);
    });
}

const head = (extra: string) =>
    `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${KEY}\r\n${extra}\r\n`;

describe("chat completions on the node:http path", () => {
    it("answers 413 and closes the connection when a chunked body grows past maxBodyBytes", async () => {
        const f = await fake();
        const gw = await gateway(config([f.url], { maxBodyBytes: 4096 }));
        const chunk = "x".repeat(3000);
        const body = `${(3000).toString(16)}\r\n${chunk}\r\n`.repeat(3); // 9000 bytes, no end chunk yet
        const text = await exchange(gw.url, head("Transfer-Encoding: chunked\r\n") + body);
        assert.match(text, /^HTTP\/1\.1 413 /);
        assert.match(text, /connection: close/i);
        assert.match(text, /"code":"request_too_large"/);
        assert.strictEqual(f.requests.length, 0);
    });

    it("answers 413 from Content-Length alone, without reading the body", async () => {
        const f = await fake();
        const gw = await gateway(config([f.url], { maxBodyBytes: 4096 }));
        const text = await exchange(gw.url, head("Content-Length: 1000000\r\n") + "{");
        assert.match(text, /^HTTP\/1\.1 413 /);
        assert.match(text, /connection: close/i);
    });

    it("serves a chat body sent chunked, and a path with a query string", async () => {
        const f = await fake();
        const gw = await gateway(config([f.url]));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const json = JSON.stringify(chatBody("chunked question"));
        const half = Math.floor(json.length / 2);
        const parts = [json.slice(0, half), json.slice(half)].map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join("");
        const text = await exchange(gw.url, head("Transfer-Encoding: chunked\r\nConnection: close\r\n") + parts + "0\r\n\r\n");
        assert.match(text, /^HTTP\/1\.1 200 /);
        assert.match(text, /Echo: chunked question/);
        const q = await fetch(`${gw.url}/v1/chat/completions?trace=1`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
            body: JSON.stringify(chatBody("with a query")),
        });
        assert.strictEqual(q.status, 200);
        assert.match(await q.text(), /Echo: with a query/);
    });

    it("answers 400 in the OpenAI shape for an empty or malformed body", async () => {
        const f = await fake();
        const gw = await gateway(config([f.url]));
        const empty = await post(gw.url, undefined, { raw: "" });
        assert.strictEqual(empty.status, 400);
        assert.strictEqual(typeof empty.json.error.message, "string");
        const broken = await post(gw.url, undefined, { raw: '{"model": ' });
        assert.strictEqual(broken.status, 400);
        assert.strictEqual(broken.headers["x-should-retry"], "false");
    });

    it("leaves other methods on the path to the router: GET is a 404 in the OpenAI shape", async () => {
        const f = await fake();
        const gw = await gateway(config([f.url]));
        const r = await fetch(`${gw.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${KEY}` } });
        assert.strictEqual(r.status, 404);
        assert.strictEqual(((await r.json()) as { error: { code: string } }).error.code, "not_found");
    });

    it("releases a pipelined request whose client disconnects before its turn: team slot, body budget, upstream call, drain", async () => {
        const f = await fake({ tokenDelayMs: 100 });
        const gw = await gateway(config([f.url], { limits: { default: { maxConcurrent: 2 } } }));
        await waitFor(() => gw.pools.get("a10g")!.readyCount() === 1, 2000);
        const b1 = JSON.stringify(chatBody("first", { max_tokens: 5 }));
        const b2 = JSON.stringify(chatBody("second", { max_tokens: 5 }));
        const socket = net.connect(Number(new URL(gw.url).port), "127.0.0.1");
        socket.on("error", () => undefined);
        await new Promise((r) => socket.once("connect", r));
        // Two requests on one connection: the second's response must wait for the first's.
        socket.write(head(`Content-Length: ${Buffer.byteLength(b1)}\r\n`) + b1 + head(`Content-Length: ${Buffer.byteLength(b2)}\r\n`) + b2);
        await waitFor(() => f.requests.length === 2, 2000, "both requests upstream");
        socket.destroy();
        // Both are released: both upstream calls are cancelled, the team may send 2 again, and a drain is clean.
        await waitFor(() => f.stats().aborted === 2, 2000, "both upstream calls aborted");
        const again = await Promise.all([post(gw.url, chatBody("a")), post(gw.url, chatBody("b"))]);
        assert.deepStrictEqual(
            again.map((r) => r.status),
            [200, 200],
        );
        assert.deepStrictEqual(await gw.drain(1500), { clean: true });
    });

    it("logs the client address from X-Forwarded-For only when the peer is a trusted proxy", async () => {
        const f = await fake();
        const trustedLogs = logCapture();
        const trusting = await gateway(config([f.url], { logLevel: "info", trustedProxies: ["127.0.0.1/32"] }), { logStream: trustedLogs.stream });
        const plainLogs = logCapture();
        const plain = await gateway(config([f.url], { logLevel: "info" }), { logStream: plainLogs.stream });
        await waitFor(() => trusting.pools.get("a10g")!.readyCount() === 1 && plain.pools.get("a10g")!.readyCount() === 1, 2000);
        for (const gw of [trusting, plain]) {
            const r = await post(gw.url, chatBody("who am I"), { headers: { "x-forwarded-for": "203.0.113.7", "x-request-id": "xff-check" } });
            assert.strictEqual(r.status, 200);
        }
        await waitFor(() => [trustedLogs, plainLogs].every((l) => l.lines().some((x) => x.requestId === "xff-check")), 2000, "log lines");
        assert.strictEqual(trustedLogs.lines().find((x) => x.requestId === "xff-check")!.ip, "203.0.113.7");
        assert.strictEqual(plainLogs.lines().find((x) => x.requestId === "xff-check")!.ip, "127.0.0.1");
        const line = plainLogs.lines().find((x) => x.requestId === "xff-check")!;
        assert.strictEqual(line.msg, "POST /v1/chat/completions");
        assert.strictEqual(line.team, "radiology");
        assert.strictEqual(line.status, 200);
    });
});
