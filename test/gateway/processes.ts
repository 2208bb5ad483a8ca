/**
 * The built gateway as a child process for the hostile-client tests (issue 13, issue 23): its
 * memory and CPU from /proc, and raw sockets that send what a hostile client sends.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import { buildGateway, onCleanup, sleep, waitFor, writeConfig } from "./helpers";

export interface Proc {
    url: string;
    port: number;
    proc: ChildProcess;
    logs: () => string;
}

/** The gateway bundle reading `cfg`, on an ephemeral port of 127.0.0.1; killed at test cleanup. */
export async function spawnGateway(cfg: unknown, env: Record<string, string> = {}): Promise<Proc> {
    const bundle = await buildGateway();
    const proc = spawn(process.execPath, [bundle, "--config", writeConfig(cfg)], {
        env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    proc.stderr.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    const exit = new Promise<void>((r) => proc.once("exit", () => r()));
    onCleanup(async () => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
        await exit;
    });
    await waitFor(() => /"msg":"gateway listening"/.test(out), 10_000, "gateway listening");
    const url = /"url":"(http:\/\/[^"]+)"/.exec(out)![1];
    return { url, port: Number(new URL(url).port), proc, logs: () => out };
}

/** Current and peak resident memory of a process (VmRSS, VmHWM), MiB. */
export function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } {
    const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]);
    return { rssMiB: kb("VmRSS") / 1024, hwmMiB: kb("VmHWM") / 1024 };
}

/** CPU seconds (user + system) the process has used. */
export function cpuSeconds(pid: number): number {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** The head of a request as a hostile client writes it by hand. */
export function requestHead(method: string, path: string, key: string, headers: Record<string, string | number> = {}): string {
    const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("");
    return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n${extra}\r\n`;
}

/** A raw connection that has written `text` (closed at test cleanup). */
export function openSocket(port: number, text: string | Buffer): net.Socket {
    const s = net.connect(port, "127.0.0.1");
    s.on("error", () => undefined);
    s.write(text);
    onCleanup(async () => void s.destroy());
    return s;
}

/** Waits until every socket has handed its bytes to the kernel or was closed (the gateway read or refused them). */
export async function flushed(sockets: net.Socket[]): Promise<void> {
    await waitFor(() => sockets.every((s) => s.destroyed || s.writableLength === 0), 20_000, "request bytes sent");
    await sleep(300);
}

/** Prints a number for the closing note when GATEWAY_MEMORY_REPORT is set; the assertions are what the tests check. */
export function report(what: string, base: number, peak: number): void {
    if (process.env.GATEWAY_MEMORY_REPORT) process.stdout.write(`      ${what}: baseline ${base.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB\n`);
}
