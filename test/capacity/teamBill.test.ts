/**
 * The plan's bill of a simulated span (capacity/bill/simulatedBill.ts): the simulated gateway
 * meters teams with the gateway's own PoolMeter, and the steps go through the gateway's own
 * rule. Checked by hand on a trace with fixed service times, and against the gateway's books
 * (gateway/src/billing/books.ts) fed the very same steps: one rule, the same charges.
 */
import * as assert from "assert";
import { billSimulation } from "../../capacity/bill/simulatedBill";
import { buildSimInput, simulate } from "../../capacity/sim";
import type { SimInput } from "../../capacity/sim/types";
import { Books } from "../../gateway/src/billing/books";
import { MemoryUsage, RETENTION_SECONDS } from "../../gateway/src/billing/store";
import { parseConfig } from "../../gateway/src/config";
import { csvTrace, fixedService, oneStack } from "./helpers";

/** Two teams on one pool: requests alternate radiology, cardiology; `extra` of them (by index) are radiology's too. */
function twoTeams(input: SimInput, radiologyToo: (i: number) => boolean = () => false): SimInput {
    const n = input.trace.times.length;
    const ofRequest = new Uint16Array(n);
    for (let i = 0; i < n; i++) ofRequest[i] = i % 2 === 0 || radiologyToo(i) ? 0 : 1;
    return { ...input, teams: { names: ["radiology", "cardiology"], ofRequest } };
}

describe("the plan's bill of a simulated span (same meter and rule as the gateway)", function () {
    this.timeout(60_000);

    it("meters each team's busy worker-seconds: its requests' service time / the worker's slots", () => {
        // A warm worker (min 1 replica), 10 requests of 4 s each, one every minute: no waiting anywhere.
        const lines = Array.from({ length: 10 }, (_, i) => `${3600 + i * 60},image`);
        const { root, file } = csvTrace(lines);
        const config = oneStack({ scaling: { minReplicas: 1 }, traffic: { profile: "csv", csvFile: file, service: fixedService(4, 64) } });
        const input = twoTeams(buildSimInput(config, { root, historyDays: 0 }));
        const result = simulate(input);
        const slots = input.workerPools[0].maxConcurrentPerWorker;
        const bill = billSimulation(input, result);
        // 5 requests each x 4 s / slots.
        assert.ok(Math.abs(bill.teams.radiology.wp.busy - (5 * 4) / slots) < 1e-9, `radiology busy ${bill.teams.radiology.wp.busy}`);
        assert.ok(Math.abs(bill.teams.cardiology.wp.busy - (5 * 4) / slots) < 1e-9, `cardiology busy ${bill.teams.cardiology.wp.busy}`);
        // The worker is the floor's (min 1 replica): its time costs the teams nothing.
        assert.strictEqual(bill.attributedUsd, 0);
        // The day's worker time (one worker, 86400 s) is all accounted: busy + idle of the teams + nobody's.
        const r = bill.teams.radiology.wp;
        const c = bill.teams.cardiology.wp;
        const total = r.busy + r.idle + c.busy + c.idle + bill.unattributed.wp.seconds;
        assert.ok(Math.abs(total - 86400) < 1e-6, `accounted ${total} of 86400 worker-seconds`);
        // The teams pay the minutes from their first request (minute 60) until an hour after their last
        // (minute 69 + 59): 69 minutes = 4140 worker-seconds; the rest of the day is nobody's.
        assert.ok(Math.abs(r.busy + r.idle + c.busy + c.idle - 4140) < 1e-6, `teams ${r.busy + r.idle + c.busy + c.idle}`);
        assert.ok(Math.abs(bill.unattributed.wp.seconds - (86400 - 4140)) < 1e-6, `unattributed ${bill.unattributed.wp.seconds}`);
        assert.ok(r.idle > 1800 && c.idle > 1800, `idle ${r.idle} and ${c.idle}: each used the pool half the time`);
    });

    it("a pool woken from zero: the waiting team pays the cold start, and dollars follow the node price", () => {
        // At zero replicas; radiology's request at 3600 wakes the pool, cardiology's arrives an hour later on a warm or cold pool.
        const { root, file } = csvTrace(["3600,image", "3650,image"]);
        const config = oneStack({
            gateway: { maxWaitSeconds: 3600 },
            scaling: { cooldownSeconds: 300 },
            traffic: { profile: "csv", csvFile: file, service: fixedService(2, 4) },
        });
        const input = twoTeams(buildSimInput(config, { root, historyDays: 0 }), () => true); // both radiology's
        const result = simulate(input);
        const bill = billSimulation(input, result);
        assert.deepStrictEqual(Object.keys(bill.teams), ["radiology"]);
        const c = bill.teams.radiology.wp;
        assert.ok(c.coldStart > 60, `cold start ${c.coldStart} s`);
        // Every attributed worker-second at the g5.xlarge node's price (one worker per one-GPU node): $1.006/h and its volume.
        const node = input.gpuPools[0].usdPerHour;
        assert.ok(node > 1.006 && node < 1.1, `node $${node}/h`);
        const seconds = c.busy + c.warmup + c.idle + c.coldStart;
        assert.ok(Math.abs(c.usd - (seconds * node) / 3600) < 1e-9, `$${c.usd} for ${seconds} s`);
        // The nodes cost at least what was attributed (node boot and scale-down delay are on top).
        assert.ok(bill.nodeUsd >= bill.attributedUsd - (c.coldStart * node) / 3600, `nodes $${bill.nodeUsd} vs attributed $${bill.attributedUsd}`);
    });

    it("the gateway's books, fed the simulated steps, bill exactly what the plan bills", async () => {
        const lines = Array.from({ length: 40 }, (_, i) => `${3600 + i * 37},${i % 3 === 0 ? "text" : "image"}`);
        const { root, file } = csvTrace(lines);
        const config = oneStack({ gateway: { maxWaitSeconds: 3600 }, traffic: { profile: "csv", csvFile: file, service: fixedService(3, 2) } });
        const input = twoTeams(buildSimInput(config, { root, historyDays: 0 }), (i) => i % 5 === 1);
        const result = simulate(input);
        const plan = billSimulation(input, result, () => 600);
        const g = input.gpuPools[0];
        const store = new MemoryUsage(RETENTION_SECONDS);
        await store.write("wp", "sim", result.steps![0]);
        const gw = parseConfig({
            pools: [
                {
                    name: "wp",
                    models: ["m"],
                    upstreams: ["http://127.0.0.1:9"],
                    coldStartSecondsEstimate: 600,
                    billing: { nodePool: g.name, nodeUsdPerHour: g.usdPerHour, gpusPerNode: g.gpusPerNode, minNodes: g.minNodes },
                },
            ],
            auth: { disabled: true },
        });
        const books = new Books(gw, store);
        const end = result.endSeconds + 60;
        await books.fold(end, end);
        for (const team of ["radiology", "cardiology"]) {
            const measured = books.usage(team, end).pools.wp;
            const planned = plan.teams[team].wp;
            for (const k of ["busy", "warmup", "idle", "coldStart", "usd"] as const)
                assert.ok(Math.abs(measured[k] - planned[k]) < 1e-9, `${team} ${k}: books ${measured[k]} vs plan ${planned[k]}`);
        }
        assert.ok(plan.teams.cardiology.wp.usd > 0 && plan.teams.radiology.wp.usd > plan.teams.cardiology.wp.usd, JSON.stringify(plan.teams));
    });

    it("leaves the simulation unchanged when teams are metered", () => {
        const lines = Array.from({ length: 30 }, (_, i) => `${3600 + i * 41},image`);
        const { root, file } = csvTrace(lines);
        const input = buildSimInput(oneStack({ traffic: { profile: "csv", csvFile: file, service: fixedService(3, 2) } }), { root, historyDays: 0 });
        const plain = simulate(input);
        const metered = simulate(twoTeams(input));
        assert.deepStrictEqual(Array.from(metered.completion), Array.from(plain.completion));
        assert.strictEqual(metered.usd, plain.usd);
        assert.strictEqual(plain.steps, undefined);
    });
});
