/**
 * The bounds' accounting (capacity/bounds/accounting.ts): worker levels, the release charge,
 * the clairvoyant shortest path (against brute force) and the price of a release rule.
 */
import * as assert from "assert";
import fc from "fast-check";
import { Level, NO_RELEASE_CHARGE, ReleaseCharge, cheapestLevel, priceRule, releaseCharge, releaseTail, workerLevels } from "../../capacity/bounds/accounting";
import { DEFAULT_SIM_PARAMS } from "../../stacks/model/params";
import { buildSimInput } from "../../capacity/sim/setup";
import { busySpans, oneStack, releaseCharges } from "./helpers";

/** preStop 15 s, unneeded 50 s, no delay after add. */
const R65: ReleaseCharge = { preStopSeconds: 15, unneededSeconds: 50, delayAfterAddSeconds: 0 };
const level = (spans: [number, number][]): Level => ({ starts: spans.map((s) => s[0]), ends: spans.map((s) => s[1]) });

describe("workerLevels", () => {
    it("opens a second level only while active requests exceed one worker's concurrency", () => {
        // Concurrency 2: three overlapping requests over [5, 8) need a second worker for 3 s.
        const l = workerLevels([0, 2, 5], [10, 8, 12], 2);
        assert.deepStrictEqual(l.levels, [level([[0, 12]]), level([[5, 8]])]);
        assert.strictEqual(l.busySeconds, 12 + 3);
    });
});

describe("release charge", () => {
    it("is the worker's preStop plus the pool's unneeded time, and the delay after add, from the simulator's input", () => {
        const input = buildSimInput(oneStack(), { days: 1 });
        const r = releaseCharge(input.params, input.gpuPools[0]);
        // Bottlerocket's derived unneeded time (coldStart.ts gpuNodeUnneededSeconds) and the deployed CA delay after add.
        assert.deepStrictEqual(r, {
            preStopSeconds: DEFAULT_SIM_PARAMS.preStopSeconds,
            unneededSeconds: input.gpuPools[0].scaleDownUnneededSeconds,
            delayAfterAddSeconds: 300,
        });
        // 15 s preStop + a Bottlerocket node's launch to allocatable (coldStart.ts gpuNodeUnneededSeconds: 110 s).
        assert.strictEqual(r.preStopSeconds + r.unneededSeconds, 125);
        // A pool's own scaleDownUnneededSeconds (gpuPools[].scaleDownUnneededSeconds) is what the bound charges.
        const own = buildSimInput(oneStack({ pool: { scaleDownUnneededSeconds: 600 } }), { days: 1 });
        assert.strictEqual(releaseCharge(own.params, own.gpuPools[0]).unneededSeconds, 600);
    });

    it("bills a node released soon after its launch until the delay after add has passed", () => {
        const r = { ...R65, delayAfterAddSeconds: 300 };
        assert.strictEqual(releaseTail(r, 0, 100), 200);
        assert.strictEqual(releaseTail(r, 0, 290), 65);
    });
});

describe("cheapestLevel (the clairvoyant bound of one worker)", () => {
    it("pays one cold start, the busy time and one release for a single request", () => {
        const c = cheapestLevel(level([[100, 110]]), 600, R65, Infinity);
        assert.deepStrictEqual(c, { gpuSeconds: 10 + 600 + 65, busySeconds: 10, runs: 1, coldStartSeconds: 600, heldSeconds: 0, releaseSeconds: 65 });
    });

    it("holds a gap shorter than release + cold start and restarts after a longer one", () => {
        // C = 60, release 65: busy [0,10), gap 100 (< 125: hold), busy [110,120), gap 880 (> 125: release 65 + restart 60), busy [1000,1010).
        const c = cheapestLevel(
            level([
                [0, 10],
                [110, 120],
                [1000, 1010],
            ]),
            60,
            R65,
            Infinity,
        );
        assert.deepStrictEqual(c, {
            gpuSeconds: 30 + 2 * 60 + 100 + 2 * 65,
            busySeconds: 30,
            runs: 2,
            coldStartSeconds: 120,
            heldSeconds: 100,
            releaseSeconds: 130,
        });
        // Without the charge (the accounting before): min(gap, C) per gap and nothing after the last request.
        assert.strictEqual(
            cheapestLevel(
                level([
                    [0, 10],
                    [110, 120],
                    [1000, 1010],
                ]),
                60,
                NO_RELEASE_CHARGE,
                Infinity,
            ).gpuSeconds,
            30 + 60 + 60 + 60,
        );
    });

    it("holds through a gap that is cheaper to release gap by gap when the delay after add would bill the node anyway (worked example)", () => {
        // C = 100, P + U = 65, D = 300. Requests [0,10) and [400,410): gap 390.
        // Greedy: release (65 + 100 < 390), but the node launched at -100 stays to 200, so the release costs 190 + 100,
        // and the second run's node (launched at 300) stays to 600: 20 + 200 + 190 + 190 = 600.
        // Holding: 20 + 100 + 390 + 65 = 575.
        const r = { ...R65, delayAfterAddSeconds: 300 };
        const c = cheapestLevel(
            level([
                [0, 10],
                [400, 410],
            ]),
            100,
            r,
            Infinity,
        );
        assert.deepStrictEqual(c, { gpuSeconds: 575, busySeconds: 20, runs: 1, coldStartSeconds: 100, heldSeconds: 390, releaseSeconds: 65 });
    });

    it("bills the last release only up to the end of the span", () => {
        assert.strictEqual(cheapestLevel(level([[0, 10]]), 100, R65, 40).releaseSeconds, 30);
    });

    it("is the cheapest of every hold/release choice (brute force, property)", () => {
        fc.assert(
            fc.property(
                busySpans(400, 9),
                fc.double({ min: 1, max: 300, noNaN: true }),
                releaseCharges(200),
                (l, C, r) => Math.abs(cheapestLevel(level(l), C, r, Infinity).gpuSeconds - bruteForce(l, C, r)) < 1e-6,
            ),
            { numRuns: 1000 },
        );
    });
});

/** Every sequence of hold/release decisions, priced as the header of accounting.ts says. */
function bruteForce(spans: [number, number][], C: number, r: ReleaseCharge): number {
    const n = spans.length;
    let best = Infinity;
    for (let mask = 0; mask < 1 << (n - 1); mask++) {
        let launch = spans[0][0] - C;
        let cost = C + spans[0][1] - spans[0][0];
        for (let i = 0; i + 1 < n; i++) {
            const gap = spans[i + 1][0] - spans[i][1];
            const tail = releaseTail(r, launch, spans[i][1]);
            if (mask & (1 << i) && spans[i][1] + tail < spans[i + 1][0] - C) {
                cost += tail + C;
                launch = spans[i + 1][0] - C;
            } else cost += gap;
            cost += spans[i + 1][1] - spans[i + 1][0];
        }
        best = Math.min(best, cost + releaseTail(r, launch, spans[n - 1][1]));
    }
    return best;
}

describe("priceRule (a release rule that does not know the next arrival)", () => {
    it("pays release + cold start for a gap it releases, and reuses a node still there when the request comes", () => {
        // C = 100, P + U = 65, release at once: gap 50 (node still there: 50), gap 100 (node gone at 65: 65 + 100).
        const c = priceRule(
            level([
                [0, 10],
                [60, 70],
                [170, 180],
            ]),
            100,
            R65,
            Infinity,
            () => 0,
        );
        assert.deepStrictEqual(c, {
            gpuSeconds: 30 + 2 * 100 + 50 + 2 * 65,
            busySeconds: 30,
            runs: 2,
            coldStartSeconds: 200,
            heldSeconds: 50,
            releaseSeconds: 130,
        });
        // The clairvoyant bound holds the 100 s gap (100 < 165).
        assert.strictEqual(
            cheapestLevel(
                level([
                    [0, 10],
                    [60, 70],
                    [170, 180],
                ]),
                100,
                R65,
                Infinity,
            ).gpuSeconds,
            30 + 100 + 50 + 100 + 65,
        );
    });

    it("holds until launch + delay after add - release charge at least (the node is billed that long anyway)", () => {
        // D = 300: a release rule of 0 s after [0,10) waits until 300 - 100 - 65 = 135, and the request at 150 finds the worker.
        const c = priceRule(
            level([
                [0, 10],
                [150, 160],
            ]),
            100,
            { ...R65, delayAfterAddSeconds: 300 },
            Infinity,
            () => 0,
        );
        assert.strictEqual(c.runs, 1);
        assert.strictEqual(c.heldSeconds, 140);
    });

    it("never beats the clairvoyant bound on the same level, whatever it releases (property)", () => {
        fc.assert(
            fc.property(
                busySpans(3000, 40),
                fc.double({ min: 1, max: 600, noNaN: true }),
                releaseCharges(300),
                fc.array(fc.double({ min: 0, max: 2000, noNaN: true }), { minLength: 1, maxLength: 40 }),
                fc.double({ min: 0, max: 1e5, noNaN: true }),
                (l, C, r, holds, spanEnd) => {
                    let k = 0;
                    const rule = priceRule(level(l), C, r, spanEnd, () => holds[k++ % holds.length]).gpuSeconds;
                    return cheapestLevel(level(l), C, r, spanEnd).gpuSeconds <= rule + 1e-6;
                },
            ),
        );
    });
});
