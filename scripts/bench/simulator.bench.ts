/**
 * Simulator timing: 30 days of the prod stack's traffic profile (the budget is 10 s on
 * a 2-core machine) and 7 days (what `npm run plan` simulates), plus the classroom
 * comparison the cost estimate is judged on (reference policy vs ours vs oracle).
 */
import * as path from "path";
import { loadStack } from "../compare";
import { simulateStack } from "../../capacity/sim";
import { classroomComparison } from "../../capacity/sim/reference";

const ROOT = path.resolve(__dirname, "../..");

function time<T>(f: () => T): { value: T; ms: number } {
    const t0 = process.hrtime.bigint();
    const value = f();
    return { value, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

const prod = loadStack(ROOT, "prod");
simulateStack(prod, { days: 1 }); // warm up the JIT
for (const days of [7, 30]) {
    const runs = [0, 1, 2].map(() => time(() => simulateStack(prod, { days, root: ROOT })));
    const best = Math.min(...runs.map((r) => r.ms));
    const e = runs[0].value.expected;
    const requests = runs[0].value.input.trace.times.length;
    console.log(
        `prod, ${e.profile}, ${days} days: ${(best / 1000).toFixed(2)} s (best of 3; ${requests.toLocaleString("en-US")} requests simulated)` +
            ` -> $${e.usdPerMonth.toLocaleString("en-US")}/month, P95 ${e.p95LatencySeconds} s, ${e.coldStarts} cold starts/month`,
    );
}

const c = time(() => classroomComparison({ days: 28 }));
console.log(
    `\nclassroom, one A10G on-demand pool, MedGemma 1.5 4B, 28 days (${(c.ms / 1000).toFixed(2)} s, ${c.value.requestsPerMonth.toLocaleString("en-US")} requests/month):`,
);
for (const r of c.value.rows) {
    const p95 = r.p95LatencySeconds === null ? "n/a" : `${r.p95LatencySeconds.toFixed(2)} s`;
    console.log(
        `  ${r.name.padEnd(10)} $${r.usdPerMonth.toFixed(2).padStart(8)}/month  P95 ${p95.padEnd(7)}  cold starts ${String(r.coldStarts).padEnd(4)}  ${r.policy}`,
    );
}
