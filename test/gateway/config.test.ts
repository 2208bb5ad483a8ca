/** Gateway config validation (pure) and the fair queue's ordering (pure). */
import * as assert from "assert";
import fc from "fast-check";
import { ConfigError, parseConfig } from "../../gateway/src/config";
import { FairQueue } from "../../gateway/src/queue";

const pool = { name: "a10g", models: ["Qwen/Qwen3-VL-2B-Instruct"], upstreams: ["http://127.0.0.1:9001"] };

function errorOf(raw: unknown): string {
    try {
        parseConfig(raw);
    } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.message;
    }
    assert.fail("expected a ConfigError");
}

describe("gateway config", () => {
    describe("parseConfig", () => {
        it("accepts the documented example and fills defaults", () => {
            const c = parseConfig({
                pools: [pool],
                queue: { maxDepth: 100, maxWaitSeconds: 60 },
                auth: { keys: [{ team: "radiology", sha256: "a".repeat(64) }] },
                maxBodyBytes: 20971520,
            });
            assert.strictEqual(c.queue.maxDepth, 100);
            assert.strictEqual(c.queue.retryAfterSeconds, 30);
            assert.strictEqual(c.health.probeIntervalSeconds, 5);
            assert.strictEqual(c.drainTimeoutSeconds, 60);
            assert.strictEqual(c.pools[0].cache, undefined);
            assert.strictEqual(c.auth?.disabled, false);
        });

        it("accepts a dns pool", () => {
            assert.strictEqual(
                parseConfig({ pools: [{ name: "a10g", models: ["m"], dns: "vllm-a10g-headless:8000" }], auth: { disabled: true } }).pools[0].dns,
                "vllm-a10g-headless:8000",
            );
        });

        it("rejects a bad upstream URL naming the field and the value", () => {
            assert.strictEqual(
                errorOf({ pools: [{ ...pool, upstreams: ["http://127.0.0.1:9001", "htp:/x"] }], auth: { disabled: true } }),
                'invalid gateway config: pools[0].upstreams[1]: must be a base URL such as http://10.0.0.5:8000 (no path) (got "htp:/x")',
            );
        });

        it("rejects a pool with neither or both of upstreams and dns", () => {
            const neither = errorOf({ pools: [{ name: "a10g", models: ["m"] }], auth: { disabled: true } });
            assert.strictEqual(neither, "invalid gateway config: pools[0].upstreams: set exactly one of 'upstreams' (list of URLs) or 'dns' (\"host:port\")");
            assert.match(errorOf({ pools: [{ ...pool, dns: "svc:8000" }], auth: { disabled: true } }), /pools\[0\]\.upstreams: set exactly one of/);
        });

        it("rejects a misspelt field instead of silently using a default", () => {
            assert.strictEqual(
                errorOf({ pools: [pool], queue: { maxWaitSecond: 3 }, auth: { disabled: true } }),
                "invalid gateway config: queue.maxWaitSecond: unknown field ('maxWaitSecond' not allowed here)",
            );
        });

        it("rejects a model served by two pools and duplicate pool names", () => {
            assert.strictEqual(
                errorOf({ pools: [pool, { ...pool }], auth: { disabled: true } }),
                "invalid gateway config:\n  - pools[1].name: duplicate pool name 'a10g' (got \"a10g\")\n  - pools[1].models[0]: model 'Qwen/Qwen3-VL-2B-Instruct' is already served by pool 'a10g' (got \"Qwen/Qwen3-VL-2B-Instruct\")",
            );
        });

        it("rejects an auth section with no keys unless auth is explicitly disabled", () => {
            assert.strictEqual(
                errorOf({ pools: [pool], auth: {} }),
                "invalid gateway config: auth.keys: must list at least one key, or set auth.disabled: true",
            );
            assert.strictEqual(
                errorOf({ pools: [pool], auth: { disabled: true, keys: [{ team: "r", sha256: "b".repeat(64) }] } }),
                "invalid gateway config: auth.disabled: is true while keys are listed; remove one of them (got true)",
            );
        });

        it("rejects a key that is not a SHA-256 hex digest", () => {
            assert.strictEqual(
                errorOf({ pools: [pool], auth: { keys: [{ team: "r", sha256: "sk-plaintext" }] } }),
                'invalid gateway config: auth.keys[0].sha256: must be the hex SHA-256 of the key (64 hex characters) (got "sk-plaintext")',
            );
        });

        it("lists every problem at once", () => {
            const msg = errorOf({
                pools: [{ ...pool, dns: undefined, upstreams: undefined }],
                queue: { maxDepth: 0 },
                maxBodyBytes: "20MB",
                auth: { disabled: true },
            });
            assert.match(msg, /^invalid gateway config:\n/);
            assert.match(msg, /- pools\[0\]\.upstreams: /);
            assert.match(msg, /- queue\.maxDepth: .*\(got 0\)/);
            assert.match(msg, /- maxBodyBytes: .*\(got "20MB"\)/);
        });
    });

    describe("FairQueue", () => {
        it("keeps FIFO order within each team (property)", () => {
            fc.assert(
                fc.property(fc.array(fc.constantFrom("a", "b", "c", "d"), { maxLength: 80 }), (teams) => {
                    const q = new FairQueue<{ team: string; seq: number }>();
                    teams.forEach((team, seq) => q.push(team, { team, seq }));
                    const last = new Map<string, number>();
                    let item;
                    let n = 0;
                    while ((item = q.shift()) !== undefined) {
                        n++;
                        if ((last.get(item.team) ?? -1) > item.seq) return false;
                        last.set(item.team, item.seq);
                    }
                    return n === teams.length && q.size === 0;
                }),
            );
        });

        it("never serves a team twice in a row while another team waits (property)", () => {
            fc.assert(
                fc.property(fc.array(fc.constantFrom("a", "b", "c"), { maxLength: 60 }), (teams) => {
                    const q = new FairQueue<string>();
                    teams.forEach((t) => q.push(t, t));
                    const out: string[] = [];
                    let t;
                    while ((t = q.shift()) !== undefined) out.push(t);
                    for (let i = 1; i < out.length; i++) {
                        const rest = out.slice(i);
                        if (out[i] === out[i - 1] && rest.some((x) => x !== out[i])) return false;
                    }
                    return true;
                }),
            );
        });

        it("removes an entry from the middle and serves urgent entries first", () => {
            const q = new FairQueue<string>();
            q.push("a", "a1");
            const mid = q.push("a", "a2");
            q.push("a", "a3");
            assert.strictEqual(q.remove(mid), true);
            assert.strictEqual(q.remove(mid), false);
            q.push("b", "retry", true);
            assert.strictEqual(q.size, 3);
            assert.deepStrictEqual([q.shift(), q.shift(), q.shift(), q.shift()], ["retry", "a1", "a3", undefined]);
        });
    });
});
