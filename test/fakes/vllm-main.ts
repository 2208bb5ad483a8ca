/**
 * Runs the fake vLLM as its own process: options as JSON in FAKE_VLLM_OPTIONS, prints
 * {"port":N} on stdout once listening. Used by spawnFakeVllm (tests that kill a worker) and the benchmark.
 */
import { FakeVllmOptions, startFakeVllm } from "./vllm";

startFakeVllm(JSON.parse(process.env.FAKE_VLLM_OPTIONS ?? "{}") as FakeVllmOptions).then(
    (fake) => {
        process.stdout.write(`${JSON.stringify({ port: fake.port })}\n`);
        process.on("SIGTERM", () => void fake.stop().then(() => process.exit(0)));
    },
    (e: unknown) => {
        process.stderr.write(`fake vLLM failed to start: ${(e as Error).message}\n`);
        process.exit(1);
    },
);
