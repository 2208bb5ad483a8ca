/**
 * Structured JSON logs (pino, through fastify). One line per request with its request id;
 * never request bodies, never headers (the API key travels in one).
 */
import type { FastifyBaseLogger, FastifyServerOptions } from "fastify";
import type { GatewayConfig } from "./config";

export type Logger = FastifyBaseLogger;

/**
 * Stdout that writes once per event-loop turn instead of once per line: under load that
 * is one write syscall for many requests. Lines pending at exit are written synchronously
 * (stdout to a pipe or file is synchronous on Linux).
 */
class BatchedStdout {
    private pending: string[] = [];
    private scheduled = false;

    constructor() {
        process.on("exit", () => this.flush());
    }

    write(line: string): boolean {
        this.pending.push(line);
        if (!this.scheduled) {
            this.scheduled = true;
            setImmediate(() => this.flush());
        }
        return true;
    }

    flush(): void {
        this.scheduled = false;
        if (this.pending.length === 0) return;
        const text = this.pending.join("");
        this.pending = [];
        process.stdout.write(text);
    }
}

let stdout: BatchedStdout | undefined;

export function loggerOptions(level: GatewayConfig["logLevel"], stream?: { write(line: string): unknown }): FastifyServerOptions["logger"] {
    return {
        level,
        stream: stream ?? (stdout ??= new BatchedStdout()),
        // Only these request fields are ever logged: no headers, no body.
        serializers: {
            req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }),
            res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        },
        redact: { paths: ["req.headers", "headers", "authorization", "body"], remove: true },
    };
}
