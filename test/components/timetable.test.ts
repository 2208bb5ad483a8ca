/**
 * The timetable as a scaling input, end to end: the example course stack (examples/) renders a
 * ScaledObject whose cron triggers are exactly the ones the simulator runs, valid for KEDA, and
 * the simulated month warms the pool before every session and not in the cancelled week.
 */
import * as assert from "assert";
import * as path from "path";
import { readStackFile } from "../../scripts/engine/stackFile";
import { buildSimInput } from "../../capacity/sim/setup";
import { simulateStack } from "../../capacity/sim";
import { compileCron } from "../../capacity/sim/cron";
import { pessimisticWarmupSeconds, sessionGateFor, timetableLeadSeconds, timetableWarnings } from "../../capacity/timetableWarm";
import { coldStartPhases, mechanismsFor, pessimisticTotalSeconds } from "../../stacks/model/coldStartPhases";
import { DEFAULT_SIM_PARAMS } from "../../stacks/model/params";
import { expectedSummary } from "../../capacity/sim/report/summary";
import { rawStackConfig } from "../../stacks/load";
import { PROJECT } from "../../stacks/schema";
import { parseStackConfig } from "../../stacks/validate";
import { runStack } from "../helpers/program";
import { validateManifest } from "../helpers/k8sSchema";

const EXAMPLES = path.join(__dirname, "../../examples");
const SCALED = "kubernetes:keda.sh/v1alpha1:ScaledObject";

/** The example course stack's raw config (keys without gpuserve:), calendar path made absolute for the program. */
function courseRaw(): Record<string, unknown> {
    const { raw } = rawStackConfig(readStackFile(EXAMPLES, "course", PROJECT).config);
    const t = raw.timetable as { calendars: { file: string }[] };
    t.calendars = t.calendars.map((c) => ({ ...c, file: path.join(EXAMPLES, c.file) }));
    return { ...raw, environment: "course" };
}

describe("a session's lead (pessimistic warm-up)", () => {
    it("is the pool's pessimistic cold start without the metric scrape and the answer, the compile cache a hit as deployed", () => {
        const config = parseStackConfig(courseRaw());
        const m = config.models[0];
        const pool = config.gpuPools[0];
        const phases = coldStartPhases(DEFAULT_SIM_PARAMS, {
            mechanisms: mechanismsFor(config, pool, m),
            weightsGiB: m.spec.weightsGiB,
            instanceType: "g5.xlarge",
            pollingIntervalSeconds: 15,
            firstAnswer: { expected: 0, pessimistic: 0 },
        });
        const p = DEFAULT_SIM_PARAMS;
        const hit = p.engineProfileSeconds + p.compileCachedSeconds + p.compileCacheRestoreSeconds.max;
        const engineInit = phases.find((x) => x.key === "engineInit")!.pessimisticSeconds;
        assert.strictEqual(pessimisticWarmupSeconds(config, m), Math.ceil(pessimisticTotalSeconds(phases) - p.scrapeSeconds - engineInit + hit));
        // A measured phase replaces the model; gpuserve:timetable.leadSeconds replaces the whole lead.
        const measured = parseStackConfig({ ...courseRaw(), coldStart: { phases: { nodeBoot: { expected: 200, pessimistic: 300 } } } });
        assert.ok(pessimisticWarmupSeconds(measured, measured.models[0]) > pessimisticWarmupSeconds(config, m) + 150);
        // A pool of several instance types: the slowest (g5.xlarge's lower network and EBS baselines than g5.2xlarge's).
        // The catalog has no two A10G types of one shape yet, which validation requires: the pool is set directly.
        const withTypes = (instanceTypes: string[]) => pessimisticWarmupSeconds({ ...config, gpuPools: [{ ...pool, instanceTypes }] }, m);
        assert.ok(withTypes(["g5.2xlarge"]) < withTypes(["g5.xlarge"]), `${withTypes(["g5.2xlarge"])} vs ${withTypes(["g5.xlarge"])}`);
        assert.strictEqual(withTypes(["g5.2xlarge", "g5.xlarge"]), withTypes(["g5.xlarge"]));
        const fixed = parseStackConfig({ ...courseRaw(), timetable: { ...(courseRaw().timetable as object), leadSeconds: 600 } });
        assert.strictEqual(timetableLeadSeconds(fixed, fixed.models[0]), 600);
    });
});

describe("timetable: deployed cron triggers = simulated cron triggers (example course)", function () {
    this.timeout(60000);

    it("emits the timetable's cron triggers in the ScaledObject, valid for KEDA, and the simulator's policy runs exactly those", async () => {
        const raw = courseRaw();
        const { region, ...config } = raw;
        const run = await runStack({ ...config, "aws:region": region });
        const scaled = run
            .find(SCALED)
            .map((r) => r.inputs as any)
            .find((s) => s.metadata.name === "worker-qwen3-vl-2b");
        assert.ok(scaled, "the worker pool's ScaledObject");
        await validateManifest(scaled);
        const emitted = scaled.spec.triggers.filter((t: any) => t.type === "cron").map((t: any) => ({ name: t.name, ...t.metadata }));
        assert.strictEqual(emitted.length, 5);
        assert.ok(emitted.every((t: any) => t.timezone === "Europe/Berlin" && t.desiredReplicas === "1"));
        const sim = buildSimInput(parseStackConfig(raw), { days: 7 });
        const simulated = sim.workerPools[0].policy.cron.map((c) => ({
            name: c.name,
            start: c.start,
            end: c.end,
            timezone: c.timezone,
            desiredReplicas: String(c.desiredReplicas),
        }));
        assert.deepStrictEqual(simulated, emitted);
        // The stack output lists them too.
        assert.strictEqual((run.outputs.scaling as any)["worker-qwen3-vl-2b"].timetableTriggers.length, 5);
    });

    it("warms the pool before every simulated session, answers the first question without a cold start, and skips the cancelled week", () => {
        const config = parseStackConfig(courseRaw());
        const s = simulateStack(config, { days: 28, params: { timeseries: true } });
        assert.strictEqual(s.input.trace.startDate, "2026-09-07");
        const minute = (day: number, hhmm: string) => day * 1440 + Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
        // The first week has no history, so only the timetable warms: Monday 7 Sep 09:15 from one pessimistic warm-up
        // before (the window's start minute), Thursday 10 Sep.
        const lead = timetableLeadSeconds(config, config.models[0]);
        assert.strictEqual(lead, pessimisticWarmupSeconds(config, config.models[0]));
        const from = Math.floor((9.25 * 3600 - lead) / 60);
        const desired = s.result.series!.perWorkerPool[0].desired;
        assert.deepStrictEqual([desired[from - 1], desired[from + 1], desired[minute(0, "10:30")], desired[3 * 1440 + from + 1]], [0, 1, 1, 1]);
        // The timetable's triggers are off in the field-trip week (21 and 24 Sep), on again on 28 Sep.
        const windows = s.input.workerPools[0].policy.cron.map((c) => compileCron(c, { startWeekday: 1, startDate: "2026-09-07", days: 28 }));
        const warm = (day: number, hhmm: string) => windows.some((w) => w.activeAt(minute(day, hhmm) * 60));
        assert.deepStrictEqual([warm(0, "09:20"), warm(14, "09:20"), warm(17, "09:20"), warm(21, "09:20")], [true, false, false, true]);
        const e = s.expected;
        assert.ok(e.timetable, "expected.timetable");
        assert.deepStrictEqual(e.timetable.triggers, { "qwen3-vl-2b": 5 });
        // Its recent-requests trigger reads 120 s after a session (gateway_timetable_session), the look-back during one.
        assert.deepStrictEqual(e.timetable.afterSessionLookbackSeconds, { "qwen3-vl-2b": 120 });
        assert.deepStrictEqual(s.input.workerPools[0].policy.sessionGate?.windows.length, 28);
        // 6 sessions in these 4 weeks (2 a week, none in the field-trip week), per month.
        assert.strictEqual(e.timetable.sessionsPerMonth, Math.round(6 * (730 / (28 * 24)) * 10) / 10);
        // "Without" is the same stack with timetable.warm false (its predictive warm-up back on) on the same trace; the
        // warm-ups remove the cold starts at the start of class.
        const unwarmed = parseStackConfig({ ...courseRaw(), timetable: { ...(courseRaw().timetable as object), warm: false } });
        assert.strictEqual(unwarmed.models[0].scaling.predictiveWarmup.enabled, true);
        const w = simulateStack(unwarmed, { days: 28, historyDays: 0 }).expected;
        assert.deepStrictEqual(e.timetable.without, {
            gpuUsdPerMonth: w.gpuUsdPerMonth,
            p95LatencySeconds: w.p95LatencySeconds,
            p99LatencySeconds: w.p99LatencySeconds,
            coldStarts: w.coldStarts,
        });
        assert.ok(e.coldStarts < e.timetable.without.coldStarts, `${e.coldStarts} vs ${e.timetable.without.coldStarts}`);
        assert.ok(e.p99LatencySeconds! <= 10, `P99 ${e.p99LatencySeconds}`);
        // The plan's summary says what is deployed and what it does.
        const lines = expectedSummary(e);
        const line = (label: string) => lines.find((l) => l.includes(`${label}:`)) ?? assert.fail(`no '${label}' line in\n${lines.join("\n")}`);
        assert.match(
            line("timetable"),
            /biology-101\.ics: 28 sessions 2026-09-07\.\.2026-12-17 \(1 all-day skipped\); 5 cron triggers \(dated ones recur yearly: replace the calendar each term\)$/,
        );
        assert.match(
            line("timetable warm-ups"),
            new RegExp(
                `warmed ${e.timetable.leadSeconds["qwen3-vl-2b"]} s ahead, released once idle 120 s after a session: GPU \\$[\\d.]+, P99 [\\d.]+ s, [\\d.]+ cold starts; without: \\$[\\d.]+, P99 [\\d.]+ s, ${e.timetable.without.coldStarts} cold starts$`,
            ),
        );
    });
});

describe("timetableWarnings", () => {
    it("says nothing for the example course stack (its load is its timetable, its cooldown the default)", () => {
        assert.deepStrictEqual(timetableWarnings(parseStackConfig(courseRaw())), []);
    });

    it("warns when the simulated load is not the timetable's sessions, and when a cooldown outlasts the window after a session", () => {
        const raw = courseRaw() as Record<string, any>;
        raw.traffic = { ...raw.traffic, profile: "classroom" };
        raw.models[0].scaling = { ...raw.models[0].scaling, cooldownSeconds: 600 };
        const [profile, cooldown, ...rest] = timetableWarnings(parseStackConfig(raw));
        assert.deepStrictEqual(rest, []);
        assert.match(
            profile,
            /^gpuserve:traffic\.profile is 'classroom': the plan's expected month simulates that load, not the sessions of gpuserve:timetable.* Fix: set traffic\.profile to timetable/,
        );
        assert.match(
            cooldown,
            /^gpuserve:models\[0\]\.scaling\.cooldownSeconds \(600\) keeps pool 'qwen3-vl-2b' 600 s longer .* \(120\) alone.* Fix: remove cooldownSeconds/,
        );
        // No window after sessions (0): the cooldown is not compared with it.
        raw.timetable = { ...raw.timetable, afterSessionLookbackSeconds: 0 };
        assert.strictEqual(timetableWarnings(parseStackConfig(raw)).length, 1);
    });
});

describe("sessionGateFor", () => {
    it("gives the gateway every session of the pool but those of 0 minutes (a calendar event under half a minute), which it would refuse", () => {
        const cfg = parseStackConfig(courseRaw());
        const slots = cfg.timetable.slots;
        assert.strictEqual(sessionGateFor(cfg, cfg.models[0])!.windows.length, slots.length);
        const withBlip = { ...cfg, timetable: { ...cfg.timetable, slots: [...slots, { ...slots[0], minutes: 0 }] } };
        assert.strictEqual(sessionGateFor(withBlip, cfg.models[0])!.windows.length, slots.length);
    });

    it("refuses an after-session window under a minute (increase() over fewer than four scrapes is mostly empty)", () => {
        const raw = courseRaw() as Record<string, any>;
        raw.timetable = { ...raw.timetable, afterSessionLookbackSeconds: 30 };
        assert.throws(() => parseStackConfig(raw), /gpuserve:timetable\.afterSessionLookbackSeconds.*must be 0 \(off\) or at least 60/s);
    });
});
