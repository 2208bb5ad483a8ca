/**
 * Mocha's config (`npm test`). Mocha hands the test files to its 3 workers in `spec` order, one
 * at a time as each worker frees up: the longest files go first, then the rest in path order, so
 * that no long file starts last while the other worker runs out of work (longest first is the
 * classic fix for that). Every test/**\/*.test.ts file is listed exactly once (mocha would run a
 * file listed twice twice); test/helpers/mocharc.test.ts checks it.
 */
const fs = require("fs");
const path = require("path");

/**
 * The longest files, longest first: wall seconds each took in a full run on 2 busy cores
 * (Nov 2026). Re-measure when the suite changes much; a file missing here only runs later.
 */
const LONGEST = [
    // plan.test.ts starts beside the Prometheus suite, which mostly waits on scrapes (every 500 ms),
    // not beside chromium or the simulator properties (CPU-bound). How fast a plan is is a bench
    // figure (npm run bench -- plan), no longer a test assertion.
    "test/prometheus/signals.test.ts", // 25-35 s
    "test/scripts/plan.test.ts", // 27-30 s (60 s beside chromium)
    "test/ui/page.test.ts", // 40-53 s
    "test/ui/hostile-dicom.test.ts", // 17-25 s
    "test/capacity/properties.test.ts", // 21-25 s
    "test/prometheus/teamCostDashboard.test.ts", // 20-27 s (promtool backfills, three Prometheus starts)
    "test/capacity/compare.test.ts", // 15-17 s
    "test/prometheus/conformance.test.ts", // 12-20 s: two simulated days, a backfill and a Prometheus
    "test/gateway/batchLifecycle.test.ts", // 15 s
    "test/ui/batch.test.ts", // 12-14 s
    "test/gateway/batch-process.test.ts", // 11-13 s
    "test/gateway/batch.test.ts", // 12 s
    "test/gateway/hostile-memory.test.ts", // 12 s
    "test/policy/load.test.ts", // 11-12 s
    "test/capacity/expected.test.ts", // 11-13 s
    "test/components/addons.test.ts", // 11-15 s
    "test/ui/warmup.test.ts", // 10-11 s
    "test/gateway/process.test.ts", // 7-11 s
    "test/components/cluster.test.ts", // 9-10 s
];

/** test/**\/*.test.ts, as paths relative to the repository with "/", in path order. */
function testFiles(dir = "test") {
    return fs
        .readdirSync(path.join(__dirname, dir), { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? testFiles(`${dir}/${e.name}`) : e.name.endsWith(".test.ts") ? [`${dir}/${e.name}`] : []))
        .sort();
}

const all = testFiles();
const first = LONGEST.filter((f) => all.includes(f));

module.exports = {
    "node-option": ["import=tsx"],
    require: ["test/setup.ts"],
    extension: ["ts"],
    spec: [...first, ...all.filter((f) => !first.includes(f))],
    timeout: 30000,
    reporter: "spec",
    parallel: true,
    // 3 workers on 2 cores: many suites wait on a program (Prometheus scrapes, redis, chromium), so a third
    // worker fills the idle CPU. Measured on an idle 2-core machine, 981 tests: 2 jobs 4m05, 3 jobs 3m34, 4 jobs 3m26.
    jobs: 3,
};
