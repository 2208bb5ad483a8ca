/**
 * `npm run test:unit`: the fast part of `npm test` (under a minute on 2 cores), for the edit-test
 * loop. It runs every test file except those that start a program: a browser (the UI suites), a
 * redis-server, Prometheus, nginx, containerd, a built gateway process or any other program (a
 * CLI such as `npm run plan`, curl, a shell), and the simulator's long runs. `npm test` still runs everything,
 * and CI runs `npm test`. A file is classed by what its source uses (INTEGRATION below), so a new
 * test file lands on the right side without a list to update; test/helpers/mocharc.test.ts
 * checks the split.
 */
const fs = require("fs");
const path = require("path");
const base = require("./.mocharc.cjs");

/** What in a test file's source means it starts another program (or runs for long). */
const INTEGRATION = [
    /\blaunchChromium\(|\bopenPage\(|\bstartStack\(|playwright-core/.source, // chromium (test/ui)
    /\bredisForFile\(|\bstartRedis\(/.source, // redis-server
    /\brequirePrometheus\(|\bstartPrometheus\(/.source, // Prometheus, promtool
    /\bstartNginx\(/.source, // nginx
    /\bspawnGateway\(|\bbuildGateway\(/.source, // the built gateway as a process
    /\bstartContainerd\(|\bstartRegistry\(|\brequireSystem\(/.source, // containerd, docker-registry, skopeo, python3
    /\b(?:spawn|spawnSync|execFile|execFileSync|execSync)\(/.source, // any other program: a CLI, curl, a shell
    /\bplanResources\(/.source, // the plan CLI, through test/stacks/standaloneFixture.ts
].map((s) => new RegExp(s));

/** Pure but long: simulator properties over many random stacks (20-25 s), 28-day simulated months (~60 s). */
const LONG = ["test/capacity/properties.test.ts", "test/capacity/expected.test.ts"];

function isUnit(file) {
    if (LONG.includes(file)) return false;
    const text = fs.readFileSync(path.join(__dirname, file), "utf8");
    return !INTEGRATION.some((re) => re.test(text));
}

module.exports = { ...base, spec: base.spec.filter(isUnit) };
