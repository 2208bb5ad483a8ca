/**
 * A real redis-server for one test file (scripts/dev/redis.ts starts it: a free port on
 * 127.0.0.1, a temporary dir, no RDB snapshots, killed after).
 */
import { type RedisServer, startRedis } from "../../scripts/dev/redis";

export type { RedisServer };
export { startRedis };

/**
 * One redis-server for a test file: started in a before() hook, stopped in an after() hook.
 * Read `url` and `port` inside tests and hooks (the server does not exist before).
 */
export function redisForFile(): Pick<RedisServer, "url" | "port"> {
    let server: RedisServer | undefined;
    before(async function () {
        this.timeout(20_000);
        server = await startRedis();
    });
    after(async () => server?.stop());
    const started = (): RedisServer => {
        if (server === undefined) throw new Error("redis-server is not started yet: use it inside a test or hook");
        return server;
    };
    return {
        get url() {
            return started().url;
        },
        get port() {
            return started().port;
        },
    };
}
