import * as assert from "assert";
import * as net from "net";
import { config, fake, gateway } from "./helpers";

/** Sends one keep-alive GET /healthz on a raw socket; resolves with the socket after the answer. */
function keepAliveRequest(url: string): Promise<net.Socket> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
        const socket = net.connect(Number(port), hostname, () => socket.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}\r\nConnection: keep-alive\r\n\r\n`));
        socket.once("data", () => resolve(socket));
        socket.once("error", reject);
    });
}

const closedWithin = (socket: net.Socket, ms: number) =>
    new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), ms);
        socket.once("close", () => {
            clearTimeout(t);
            resolve(true);
        });
    });

describe("gateway keep-alive", () => {
    it("keeps idle client connections open for keepAliveTimeoutSeconds, then closes them", async () => {
        const upstream = await fake();
        const short = await gateway(config([upstream.url], { keepAliveTimeoutSeconds: 0.3 }));
        const long = await gateway(config([upstream.url], { keepAliveTimeoutSeconds: 30 }));
        const [a, b] = await Promise.all([keepAliveRequest(short.url), keepAliveRequest(long.url)]);
        try {
            const [aClosed, bClosed] = await Promise.all([closedWithin(a, 1500), closedWithin(b, 1500)]);
            assert.strictEqual(aClosed, true, "a 0.3 s keep-alive connection should be closed after 1.5 s idle");
            assert.strictEqual(bClosed, false, "a 30 s keep-alive connection must stay open after 1.5 s idle (a load balancer may reuse it)");
        } finally {
            a.destroy();
            b.destroy();
        }
    });
});
