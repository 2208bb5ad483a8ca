/** Networking for the local run and the tests: everything listens on 127.0.0.1. */
import * as net from "net";

/** A TCP port on 127.0.0.1 that was free a moment ago (callers retry if it is taken by then). */
export async function freePort(): Promise<number> {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    return port;
}
