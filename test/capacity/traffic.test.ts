/** Traffic profiles: shapes, volumes, request mix, reproducibility, custom rates and CSV traces. */
import * as assert from "assert";
import { ConfigError } from "../../stacks/errors";
import { trafficSchema } from "../../stacks/schema";
import { Rng } from "../../capacity/sim/rng";
import { buildTrace, countByPool, KIND_IMAGE, poolShares } from "../../capacity/traffic";
import { RATE_TABLE_PROFILES } from "../../capacity/traffic/builtins";
import { classroomSessions } from "../../capacity/traffic/classroom";
import { parseTraceCsv } from "../../capacity/traffic/csv";
import { weeklyVolume } from "../../capacity/traffic/weekly";

const targets = [
    { name: "a", id: "org/model-a" },
    { name: "b", id: "org/model-b" },
];
const traffic = (t: Record<string, unknown>) => trafficSchema.parse(t);
const opts = { days: 14, timezone: "UTC" };

describe("classroom-random profile", () => {
    const shape = traffic({}).classroom;

    it("has 2-4 sessions on each weekday, none on weekends, of 10-30 users for 45-90 min starting 08:00-16:00", () => {
        const sessions = classroomSessions(shape, 28, 1, new Rng(5, "t"));
        const perDay = new Map<number, number>();
        for (const s of sessions) {
            const day = Math.floor(s.start / 86400);
            perDay.set(day, (perDay.get(day) ?? 0) + 1);
            const startHour = (s.start % 86400) / 3600;
            assert.ok(startHour >= 8 && startHour <= 16, `start ${startHour}`);
            assert.ok(s.users >= 10 && s.users <= 30);
            const minutes = (s.end - s.start) / 60;
            assert.ok(minutes >= 45 && minutes <= 90, `length ${minutes}`);
        }
        for (let d = 0; d < 28; d++) {
            const weekday = (1 + d) % 7;
            const n = perDay.get(d) ?? 0;
            if (weekday === 0 || weekday === 6) assert.strictEqual(n, 0, `weekend day ${d}`);
            else assert.ok(n >= 2 && n <= 4, `day ${d}: ${n} sessions`);
        }
    });

    it("sends requests only inside sessions: nothing at night", () => {
        const trace = buildTrace(traffic({ profile: "classroom-random" }), targets, opts);
        assert.ok(trace.times.length > 1000);
        for (const t of trace.times) {
            const hour = (t % 86400) / 3600;
            assert.ok(hour >= 8 && hour < 17.5 + 1e-9, `request at ${hour} h`);
        }
    });

    it("is reproducible for a seed and different for another", () => {
        const a = buildTrace(traffic({ seed: 3 }), targets, opts);
        const b = buildTrace(traffic({ seed: 3 }), targets, opts);
        const c = buildTrace(traffic({ seed: 4 }), targets, opts);
        assert.deepStrictEqual(a, b);
        assert.notDeepStrictEqual(a.times, c.times);
    });
});

describe("rate-table profiles", () => {
    it("deliver their weekly volume within Poisson noise", () => {
        for (const name of ["steady", "office-hours", "batch-night"] as const) {
            const expected = weeklyVolume(RATE_TABLE_PROFILES[name]()) * 2;
            const n = buildTrace(traffic({ profile: name }), targets, opts).times.length;
            assert.ok(Math.abs(n - expected) < 5 * Math.sqrt(expected), `${name}: ${n} vs ${expected}`);
        }
    });

    it("scale with rateScale", () => {
        const base = buildTrace(traffic({ profile: "steady" }), targets, opts).times.length;
        const double = buildTrace(traffic({ profile: "steady", rateScale: 2 }), targets, opts).times.length;
        assert.ok(Math.abs(double / base - 2) < 0.05, `${double} / ${base}`);
    });

    it("follow custom hourly rates per weekday; later entries win", () => {
        const rates = new Array(24).fill(0);
        rates[9] = 600;
        const trace = buildTrace(
            traffic({
                profile: "hourly",
                hourly: [
                    { days: "0-6", rates },
                    { days: "6", rates: new Array(24).fill(0) },
                ],
            }),
            targets,
            opts,
        );
        for (const t of trace.times) {
            assert.strictEqual(Math.floor((t % 86400) / 3600), 9);
            assert.notStrictEqual((1 + Math.floor(t / 86400)) % 7, 6, "Saturday was overridden to 0");
        }
        assert.ok(Math.abs(trace.times.length - 12 * 600) < 5 * Math.sqrt(12 * 600));
    });

    it("rejects profile 'hourly' without rates and 'csv' without a file", () => {
        assert.throws(() => traffic({ profile: "hourly" }), /needs at least one entry/);
        assert.throws(() => traffic({ profile: "csv" }), /needs traffic.csvFile/);
    });
});

describe("request mix and routing", () => {
    it("gives imageShare of requests an image", () => {
        const trace = buildTrace(traffic({ profile: "steady", imageShare: 0.3 }), targets, opts);
        const images = trace.kinds.filter((k) => k === KIND_IMAGE).length / trace.kinds.length;
        assert.ok(Math.abs(images - 0.3) < 0.02, `${images}`);
    });

    it("splits requests by modelShares (by name or id), equally by default", () => {
        const equal = countByPool(buildTrace(traffic({ profile: "steady" }), targets, opts), 2);
        assert.ok(Math.abs(equal[0] / (equal[0] + equal[1]) - 0.5) < 0.02);
        const skewed = countByPool(buildTrace(traffic({ profile: "steady", modelShares: { a: 3, "org/model-b": 1 } }), targets, opts), 2);
        assert.ok(Math.abs(skewed[0] / (skewed[0] + skewed[1]) - 0.75) < 0.02);
        assert.deepStrictEqual(countByPool(buildTrace(traffic({ profile: "steady", modelShares: { b: 1 } }), targets, opts), 2)[0], 0);
    });

    it("names the config key when a share names no worker pool", () => {
        assert.throws(
            () => poolShares(traffic({ modelShares: { nope: 1 } }), targets),
            (e: unknown) => e instanceof ConfigError && e.issues[0].key === "gpuserve:traffic.modelShares.nope",
        );
    });
});

describe("parseTraceCsv", () => {
    it("reads ISO timestamps in the stack's local time, with the weekday of the first day", () => {
        // 2026-03-02 is a Monday; 14:30Z is 09:30 in New York (EST, UTC-5).
        const csv = parseTraceCsv("timestamp,kind,model\n2026-03-02T14:30:00Z,image,a\n2026-03-03T15:00:00Z,text,org/model-b\n", "America/New_York", targets);
        assert.strictEqual(csv.startWeekday, 1);
        assert.deepStrictEqual(Array.from(csv.times), [9.5 * 3600, 86400 + 10 * 3600]);
        assert.deepStrictEqual(Array.from(csv.kinds), [0, 1]);
        assert.deepStrictEqual(Array.from(csv.pools), [0, 1]);
        assert.strictEqual(csv.days, 2);
    });

    it("reads seconds, sorts them, and leaves the model to the shares when absent", () => {
        const csv = parseTraceCsv("90000,text\n5,image+question\n", "UTC", targets);
        assert.deepStrictEqual(Array.from(csv.times), [5, 90000]);
        assert.deepStrictEqual(Array.from(csv.pools), [-1, -1]);
        assert.strictEqual(csv.days, 2);
    });

    it("says which line is wrong", () => {
        assert.throws(() => parseTraceCsv("5,image\n6,video\n", "UTC", targets, "t.csv"), /t\.csv:2: kind 'video'/);
        assert.throws(() => parseTraceCsv("5,image,zzz\n", "UTC", targets, "t.csv"), /t\.csv:1: model 'zzz' is not a worker pool/);
        assert.throws(() => parseTraceCsv("5,image\nyesterday,text\n", "UTC", targets, "t.csv"), /t\.csv:2: 'yesterday'/);
    });
});
