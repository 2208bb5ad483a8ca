/**
 * Per-team bills in the built gateway (the esbuild bundle as a process, real time): two teams
 * on one pool with a fake worker that holds their requests until the test lets them go. The
 * attribution step is 1 s here (60 s in production), so the bill settles within seconds.
 * Busy time is compared with the hold the test measured, within a scheduling margin; the
 * split of idle time and the dollars follow from it by the rule (gateway/src/billing/rule.ts).
 */
import * as assert from "assert";
import { sha256Hex } from "../../gateway/src/index";
import { spawnGateway } from "./spawn";
import { buildGateway, chatBody, config, fake, get, KEY, KEY2, metric, metrics, MODEL, post, sleep, waitFor, writeConfig } from "./helpers";

/** Scheduling slack between the test's clock and the gateway's (a loaded machine), seconds. */
const MARGIN = 0.25;
const NODE = 3.6; // $0.001 per worker-second
const FLOOR = 36; // $0.01 per second, shared by 2 teams

describe("per-team bill in the built gateway (process, real time)", function () {
    this.timeout(60_000);

    before(async () => {
        await buildGateway();
    });

    it("counts each team's worker-seconds, splits the idle time by them, and bills dollars and the floor from the same seconds", async () => {
        const f = await fake();
        const file = writeConfig(
            config([f.url], {
                pools: [
                    { name: "a10g", models: [MODEL], upstreams: [f.url], maxConcurrentPerUpstream: 4, billing: { nodePool: "a10g", nodeUsdPerHour: NODE } },
                ],
                auth: {
                    keys: [
                        { team: "radiology", sha256: sha256Hex(KEY) },
                        { team: "cardiology", sha256: sha256Hex(KEY2) },
                    ],
                },
                billing: { floorUsdPerHour: FLOOR, stepSeconds: 1 },
                logLevel: "info",
            }),
        );
        const gw = await spawnGateway(["--config", file], { PORT: "0", HOST: "127.0.0.1" });
        await waitFor(async () => (await get(gw.url, "/readyz", null)).json?.pools?.a10g?.readyUpstreams === 1, 10_000, "worker ready");

        // Radiology holds 2 of the worker's 4 slots, cardiology 1, for the same ~1.5 s.
        f.pause();
        const sent = Date.now();
        const replies = [
            post(gw.url, chatBody("r1", { max_tokens: 2 }), { key: KEY }),
            post(gw.url, chatBody("r2", { max_tokens: 2 }), { key: KEY }),
            post(gw.url, chatBody("c1", { max_tokens: 2 }), { key: KEY2 }),
        ];
        await waitFor(() => f.stats().running === 3, 5000, "three requests on the worker");
        const held = Date.now();
        await sleep(1500);
        const released = Date.now();
        f.resume();
        assert.deepStrictEqual(
            (await Promise.all(replies)).map((r) => r.status),
            [200, 200, 200],
        );
        const done = Date.now();
        // The gateway took the slots between `sent` and `held`, and gave them back between `released` and `done`.
        const hold = { min: (released - held) / 1000, max: (done - sent) / 1000 };
        // Idle goes on accruing; wait for a few steps to be folded (fold lag: 2 flushes of 0.25 s).
        await sleep(2500);
        const m = await metrics(gw.url);
        const busy = (team: string) => metric(m, "gateway_team_worker_seconds_total", { team, pool: "a10g" })!;
        const attributed = (team: string, kind: string) => metric(m, "gateway_team_attributed_seconds_total", { team, pool: "a10g", kind })!;
        // 2 slots of 4 for the hold -> hold / 2; 1 slot -> hold / 4.
        assert.ok(
            busy("radiology") >= hold.min / 2 - MARGIN && busy("radiology") <= hold.max / 2 + MARGIN,
            `radiology busy ${busy("radiology")} vs hold ${JSON.stringify(hold)} / 2`,
        );
        assert.ok(
            busy("cardiology") >= hold.min / 4 - MARGIN && busy("cardiology") <= hold.max / 4 + MARGIN,
            `cardiology busy ${busy("cardiology")} vs hold / 4`,
        );
        // The bill's busy is the measured busy (one replica, nothing scaled).
        for (const t of ["radiology", "cardiology"])
            assert.ok(Math.abs(attributed(t, "busy") - busy(t)) < 0.02, `${t}: billed busy ${attributed(t, "busy")} vs measured ${busy(t)}`);
        // Idle is split by the hour's busy: radiology's about twice cardiology's, as its busy is (while the requests
        // were arriving, a step may have seen one team's slot before the other's: hence the margin; the exact rule
        // is checked step by step in billing.test.ts).
        const ratio = attributed("radiology", "idle") / attributed("cardiology", "idle");
        const busyRatio = attributed("radiology", "busy") / attributed("cardiology", "busy");
        assert.ok(attributed("cardiology", "idle") > 0.3, `idle accrued: ${attributed("cardiology", "idle")}`);
        assert.ok(Math.abs(ratio - busyRatio) < 0.15 * busyRatio, `idle split ${ratio} vs busy ratio ${busyRatio}`);
        assert.ok(Math.abs(busyRatio - 2) < 0.5, `busy ratio ${busyRatio}: 2 slots against 1`);
        // Dollars: every attributed second at $0.001.
        for (const t of ["radiology", "cardiology"]) {
            const seconds = ["busy", "warmup", "idle", "cold_start"].reduce((s, k) => s + attributed(t, k), 0);
            const usd = metric(m, "gateway_team_usd_total", { team: t, pool: "a10g" })!;
            assert.ok(Math.abs(usd - seconds * 0.001) < 1e-9, `${t}: $${usd} for ${seconds} s`);
        }
        // GET /v1/usage: GPU dollars and half the floor since metering began.
        const u = (await get(gw.url, "/v1/usage", KEY)).json;
        assert.strictEqual(u.team, "radiology");
        assert.ok(Math.abs(u.spent_usd - (u.gpu_usd + u.floor_usd)) < 2e-4, JSON.stringify(u));
        assert.ok(u.floor_usd > 0 && u.floor_usd < ((FLOOR / 3600) * (Date.now() - sent + 10_000)) / 1000 / 2, `floor ${u.floor_usd}`);
        gw.proc.kill("SIGTERM");
        assert.strictEqual((await gw.exit).code, 0);
    });
});
