/**
 * `npm run dev` stops when what started it goes away. A terminal's Ctrl-C reaches every process
 * of the job, but a plain `kill <npm pid>` (a process manager, a closed IDE task) reaches npm
 * only: npm exits without passing the signal on, and tsx, this process, the gateway and
 * redis-server would live on. So the run watches the processes above it (npm, its shell, the
 * terminal's shell) and stops when one of them exits. Linux: read from /proc; elsewhere, no watch.
 */
import * as fs from "fs";

/** Parent pid of `pid` from /proc/<pid>/stat (the field after the command name, which may hold spaces and parentheses). */
function parentOf(pid: number): number | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
    } catch {
        return undefined;
    }
}

/** The pids above this process, nearest first, up to (not including) init. */
export function ancestors(pid = process.pid): number[] {
    const out: number[] = [];
    for (let p = parentOf(pid); p !== undefined && p > 1 && out.length < 64; p = parentOf(p)) out.push(p);
    return out;
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** Calls `gone(pid)` once, when the first of this process's ancestors exits; checks every `everyMs`. */
export function watchAncestors(gone: (pid: number) => void, everyMs = 1000): () => void {
    const watched = ancestors();
    const timer = setInterval(() => {
        const dead = watched.find((p) => !alive(p));
        if (dead === undefined) return;
        clearInterval(timer);
        gone(dead);
    }, everyMs);
    timer.unref();
    return () => clearInterval(timer);
}
