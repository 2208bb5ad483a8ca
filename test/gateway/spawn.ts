/**
 * The built gateway bundle as a child process on 127.0.0.1, resolved once it logs its URL;
 * killed (SIGKILL) at test cleanup if still running.
 */
import { ChildProcess, spawn } from "child_process";
import { buildGateway, onCleanup } from "./helpers";

export interface GatewayProcess {
    url: string;
    proc: ChildProcess;
    logs: () => string;
    exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function spawnGateway(args: string[], env: Record<string, string>): Promise<GatewayProcess> {
    const bundle = await buildGateway();
    const proc = spawn(process.execPath, [bundle, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once("exit", (code, signal) => r({ code, signal })));
    onCleanup(async () => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
        await exit;
    });
    const url = await new Promise<string>((resolve, reject) => {
        const timer = setInterval(() => {
            const m = /"url":"(http:\/\/[^"]+)".*"msg":"gateway listening"/.exec(out);
            if (m) {
                clearInterval(timer);
                resolve(m[1]);
            }
        }, 10);
        void exit.then(({ code }) => {
            clearInterval(timer);
            reject(new Error(`gateway exited with ${code} before listening:\n${out}`));
        });
    });
    return { url, proc, logs: () => out, exit };
}
