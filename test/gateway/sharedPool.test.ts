/**
 * A platform's shared pool (issue 25): teams' gateways forward the pool to the platform's shared
 * gateway with their team key (pool field upstreamApiKeyEnv), and the shared gateway queues the
 * teams fairly and applies each team's limits. Real gateways and a fake vLLM on 127.0.0.1.
 */
import * as assert from "assert";
import { sha256Hex } from "../../gateway/src/index";
import { expectedAnswer, startFakeVllm } from "../fakes/vllm";
import { FAST_HEALTH, MODEL, chatBody, fake, freePort, gateway, metric, metrics, onCleanup, post, waitFor } from "./helpers";

/** Keys the platform made for two teams (components/platform/sharedKeys.ts). */
const PHYSICS = "physics-shared-key-0123456789abcdefghijkl";
const BIOLOGY = "biology-shared-key-0123456789abcdefghijkl";
/** The keys the teams' own users hold on their own gateways. */
const STUDENT = { physics: "physics-student-key-0123456789abcdefghij", biology: "biology-student-key-0123456789abcdefghij" };

function sharedGateway(upstream: string, extra: Record<string, unknown> = {}) {
    return gateway({
        pools: [{ name: "qwen3-vl-2b", models: [MODEL], upstreams: [upstream], maxConcurrentPerUpstream: 1 }],
        queue: { maxDepth: 100, maxWaitSeconds: 10 },
        auth: {
            keys: [
                { team: "physics", sha256: sha256Hex(PHYSICS) },
                { team: "biology", sha256: sha256Hex(BIOLOGY) },
            ],
        },
        health: FAST_HEALTH,
        logLevel: "silent",
        ...extra,
    });
}

/** A team's gateway whose pool is the shared gateway, its key in an env var (as the Secret puts it there). */
async function teamGateway(team: "physics" | "biology", sharedUrl: string, key: string) {
    const env = `GATEWAY_SHARED_POOL_KEY_TEST_${team.toUpperCase()}`;
    process.env[env] = key;
    onCleanup(async () => {
        delete process.env[env];
    });
    return gateway({
        pools: [{ name: "qwen3-vl-2b", models: [MODEL], upstreams: [sharedUrl], upstreamApiKeyEnv: env }],
        queue: { maxDepth: 100, maxWaitSeconds: 3 },
        auth: { keys: [{ team: `${team}-students`, sha256: sha256Hex(STUDENT[team]) }] },
        health: FAST_HEALTH,
        logLevel: "silent",
    });
}

describe("a shared pool behind the platform's gateway", function () {
    this.timeout(30_000);

    it("a team's gateway forwards with its team key (probes included); the key goes no further than the shared gateway", async () => {
        const f = await fake();
        const shared = await sharedGateway(f.url);
        const physics = await teamGateway("physics", shared.url, PHYSICS);
        const body = chatBody("what does this spectrum show?");
        const r = await post(physics.url, body, { key: STUDENT.physics });
        assert.strictEqual(r.status, 200, r.text);
        assert.strictEqual(r.json.choices[0].message.content, expectedAnswer(body));
        assert.strictEqual(f.requests.length, 1);
        assert.strictEqual(f.requests[0].headers.authorization, undefined, "vLLM never sees a key");
        assert.strictEqual(metric(await metrics(shared.url), "gateway_requests_total", { pool: "qwen3-vl-2b", code: "200" }), 1);
    });

    it("with a wrong key the shared gateway refuses the team's probes, so nothing is sent and the request ends in 503", async () => {
        const f = await fake();
        const shared = await sharedGateway(f.url);
        const physics = await teamGateway("physics", shared.url, "not-the-platform-key-0123456789abcdefgh");
        const r = await post(physics.url, chatBody("hello"), { key: STUDENT.physics });
        assert.strictEqual(r.status, 503, r.text);
        assert.strictEqual(f.requests.length, 0);
    });

    it("a pool naming an unset key variable fails at start, naming it", async () => {
        await assert.rejects(
            gateway({
                pools: [{ name: "p", models: [MODEL], upstreams: ["http://127.0.0.1:9"], upstreamApiKeyEnv: "GATEWAY_NOT_SET_ANYWHERE" }],
                auth: { disabled: true },
                logLevel: "silent",
            }),
            /upstreamApiKeyEnv: environment variable GATEWAY_NOT_SET_ANYWHERE is not set/,
        );
    });

    it("two teams on one warm GPU are served in turn, and each team's limit on the shared gateway holds", async () => {
        const port = await freePort();
        const shared = await sharedGateway(`http://127.0.0.1:${port}`, { limits: { teams: { biology: { maxConcurrent: 8 } } } });
        const biology = await teamGateway("biology", shared.url, BIOLOGY);
        const physics = await teamGateway("physics", shared.url, PHYSICS);
        // The pool is cold: biology's class asks 9 questions first (its 9th is over its limit of 8), then physics asks 2.
        const bio = Array.from({ length: 9 }, (_, i) => post(biology.url, chatBody(`biology ${i}`), { key: STUDENT.biology }));
        await waitFor(async () => metric(await metrics(shared.url), "gateway_queue_depth", { pool: "qwen3-vl-2b" }) === 8, 5000, "biology's 8 held");
        const phy = Array.from({ length: 2 }, (_, i) => post(physics.url, chatBody(`physics ${i}`), { key: STUDENT.physics }));
        await waitFor(async () => metric(await metrics(shared.url), "gateway_queue_depth", { pool: "qwen3-vl-2b" }) === 10, 5000, "all 10 held");
        const f = await startFakeVllm({ port });
        onCleanup(() => f.stop());
        const answers = await Promise.all([...bio, ...phy]);
        assert.deepStrictEqual(answers.map((a) => a.status).sort(), [...Array(10).fill(200), 429].sort());
        assert.match(answers.find((a) => a.status === 429)!.text, /Team 'biology' already has 8 requests in progress \(limit 8\)/);
        // One request at a time (maxConcurrentPerUpstream 1), round-robin across teams: physics does not wait for biology's class.
        const order = f.requests.map((r) => String((r.body.messages as Array<{ content: string }>)[0].content).split(" ")[0]);
        assert.deepStrictEqual(order.slice(0, 4), ["biology", "physics", "biology", "physics"], order.join(", "));
    });
});
