/**
 * Entry point: `node gateway/dist/main.js --config <file.json>` (or GATEWAY_CONFIG=<file.json>).
 * PORT overrides the port (default 8080), HOST the bind address (default 0.0.0.0).
 * SIGTERM/SIGINT: drain (readyz 503, refuse new requests, finish held ones), then exit 0.
 */
import { parseArgs } from "util";
import { ConfigError, loadConfigFile } from "./config";
import { createGateway } from "./server";

function fail(message: string): never {
    process.stderr.write(`gateway: ${message}\n`);
    process.exit(1);
}

async function main(): Promise<void> {
    let file: string | undefined;
    try {
        const { values } = parseArgs({ options: { config: { type: "string", short: "c" } }, strict: true });
        file = values.config ?? process.env.GATEWAY_CONFIG;
    } catch (e) {
        fail(`${(e as Error).message}\nusage: node main.js --config <file.json>   (or set GATEWAY_CONFIG)`);
    }
    if (!file) fail("no config: pass --config <file.json> or set GATEWAY_CONFIG");
    const portText = process.env.PORT ?? "8080";
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) fail(`PORT must be a port number, got ${JSON.stringify(portText)}`);

    let gateway;
    try {
        gateway = createGateway(loadConfigFile(file), { processMetrics: true });
    } catch (e) {
        if (e instanceof ConfigError) fail(`${e.message}\n(config file: ${file})`);
        throw e;
    }
    const gw = gateway;
    let stopping = false;
    const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        gw.app.log.info({ signal }, "shutting down");
        gw.drain().then(
            () => process.exit(0),
            (e: unknown) => {
                gw.app.log.error({ err: (e as Error).message }, "error while draining");
                process.exit(1);
            },
        );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
    const url = await gw.listen({ port, host: process.env.HOST ?? "0.0.0.0" });
    gw.app.log.info({ url, pools: gw.config.pools.map((p) => p.name) }, "gateway listening");
}

main().catch((e: unknown) => fail((e as Error).stack ?? String(e)));
