import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import { createHash } from "crypto";
const [bundle, n, mib] = process.argv.slice(2);
const KEY = "sk-bench-key-0123456789abcdefghijkl";
const rss = (pid: number) => { const s = fs.readFileSync(`/proc/${pid}/status`, "utf8"); return [/VmRSS:\s+(\d+)/, /VmHWM:\s+(\d+)/].map((r) => Math.round(Number(r.exec(s)![1]) / 1024)); };
(async () => {
  const cfg = `/tmp/i13/slow-${process.pid}.json`;
  fs.writeFileSync(cfg, JSON.stringify({ pools: [{ name: "a10g", models: ["m"], upstreams: ["http://127.0.0.1:9"] }], auth: { keys: [{ team: "t", sha256: createHash("sha256").update(KEY).digest("hex") }] }, maxBodyBytes: 20 << 20, limits: { default: { maxConcurrent: 5 } }, logLevel: "info" }));
  const port = 20000 + (process.pid % 20000);
  const gw = spawn(process.execPath, [bundle, "--config", cfg], { env: { ...process.env, PORT: String(port), HOST: "127.0.0.1" }, stdio: ["ignore", "ignore", "inherit"] });
  for (;;) { try { if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break; } catch {} await new Promise((r) => setTimeout(r, 100)); }
  console.log("idle", rss(gw.pid!));
  const part = Buffer.alloc(Number(mib) * (1 << 20), 0x20);
  const socks: net.Socket[] = [];
  for (let i = 0; i < Number(n); i++) { const s = net.connect(port, "127.0.0.1"); s.on("error", () => {}); if (i === 0) s.on("data", (d) => console.log("reply", d.toString().slice(0, 300))); s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${20 << 20}\r\nAuthorization: Bearer ${KEY}\r\n\r\n`); s.write(part); socks.push(s); }
  for (let t = 0; t < 8; t++) { await new Promise((r) => setTimeout(r, 1000)); console.log(`${t + 1}s`, rss(gw.pid!), "unsent MiB", Math.round(socks.reduce((a, s) => a + (s.destroyed ? 0 : s.writableLength), 0) / 1048576), "closed", socks.filter((s) => s.destroyed).length); }
  gw.kill("SIGKILL"); process.exit(0);
})();
