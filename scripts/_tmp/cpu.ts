// Temporary: CPU per request of a gateway bundle (closed loop, N connections). Not committed.
import { spawn } from "child_process";
import * as fs from "fs";
import { createHash } from "crypto";
import { Pool } from "undici";
import { spawnFakeVllm } from "../../test/fakes/vllm";
const [bundle, connsText] = process.argv.slice(2);
const conns = Number(connsText ?? 100);
const KEY = "sk-bench-key-0123456789abcdefghijkl";
const body = JSON.stringify({ model: "Qwen/Qwen3-VL-2B-Instruct", max_tokens: 16, messages: [{ role: "system", content: "You are a radiology assistant. Answer briefly." }, { role: "user", content: "What does this chest X-ray show? Any sign of pneumonia?" }] });
const cpu = (pid: number) => { const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; };
(async () => {
  const up = await spawnFakeVllm({ serviceTimeMs: 5 });
  const cfg = `/tmp/i13/cpu-${process.pid}.json`;
  fs.writeFileSync(cfg, JSON.stringify({ pools: [{ name: "a10g", models: ["Qwen/Qwen3-VL-2B-Instruct"], upstreams: [up.url] }], queue: { maxDepth: 10000, maxWaitSeconds: 120 }, auth: { keys: [{ team: "bench", sha256: createHash("sha256").update(KEY).digest("hex") }] }, logLevel: "info" }));
  const port = 20000 + (process.pid % 20000);
  const gw = spawn(process.execPath, [bundle, "--config", cfg], { env: { ...process.env, PORT: String(port), HOST: "127.0.0.1" }, stdio: ["ignore", "ignore", "inherit"] });
  const url = `http://127.0.0.1:${port}`;
  for (;;) { try { const t = await (await fetch(`${url}/metrics`)).text(); if (/gateway_upstreams_ready\{pool="a10g"\} 1/.test(t)) break; } catch {} await new Promise((r) => setTimeout(r, 100)); }
  const pool = new Pool(url, { connections: conns });
  const run = async (ms: number) => { let ok = 0; const end = Date.now() + ms; await Promise.all(Array.from({ length: conns }, async () => { while (Date.now() < end) { const r = await pool.request({ method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` }, body }); await r.body.text(); if (r.statusCode === 200) ok++; } })); return ok; };
  await run(2000);
  const c0 = cpu(gw.pid!); const ok = await run(Number(process.env.SECONDS ?? 6) * 1000); const c1 = cpu(gw.pid!);
  console.log(`${bundle}: ${conns} conns: ${ok} requests, ${(((c1 - c0) * 1000) / ok).toFixed(0)} us CPU/request`);
  await pool.close(); gw.kill("SIGKILL"); await up.kill();
  process.exit(0);
})();
