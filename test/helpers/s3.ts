/**
 * An S3 endpoint on 127.0.0.1 for tests: s3rver (npm), which answers the S3 REST API (ListObjectsV2,
 * HeadObject, GetObject, PutObject, multipart) from a temp directory. The client under test is the real
 * AWS CLI v2 (Debian's `awscli`, scripts/system-deps.sh), pointed at it by a one-line `aws` on PATH that
 * adds `--endpoint-url`: the scripts themselves run unchanged.
 */
import * as fs from "fs";
import * as path from "path";
import { tempDir } from "./tmp";

// s3rver ships no types; the part we use: new S3rver(opts).run() -> {port}, .close().
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require("s3rver") as new (opts: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };

/** Debian's AWS CLI v2 (not a pip-installed v1 that may come first on PATH). */
export const AWS_CLI = "/usr/bin/aws";

export interface S3Server {
    readonly endpoint: string;
    readonly bucket: string;
    /** A directory to put first on PATH: its `aws` is the Debian CLI aimed at this endpoint. */
    readonly shimDir: string;
    /** Environment for the CLI: the shim, s3rver's fixed credentials, a region. */
    env(extra?: Record<string, string>): NodeJS.ProcessEnv;
    close(): Promise<void>;
}

export async function startS3(bucket = "gpuserve-test-weights-0123"): Promise<S3Server> {
    const dir = tempDir("s3rver-");
    const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: path.join(dir, "data"), configureBuckets: [{ name: bucket }] });
    const { port } = await server.run();
    const endpoint = `http://127.0.0.1:${port}`;
    const shimDir = path.join(dir, "bin");
    fs.mkdirSync(shimDir);
    fs.writeFileSync(path.join(shimDir, "aws"), `#!/bin/sh\nexec ${AWS_CLI} --endpoint-url ${endpoint} "$@"\n`, { mode: 0o755 });
    return {
        endpoint,
        bucket,
        shimDir,
        env: (extra = {}) => ({
            PATH: `${shimDir}:/usr/bin:/bin`,
            HOME: dir,
            AWS_ACCESS_KEY_ID: "S3RVER",
            AWS_SECRET_ACCESS_KEY: "S3RVER",
            AWS_REGION: "us-east-1",
            AWS_EC2_METADATA_DISABLED: "true",
            ...extra,
        }),
        close: () => server.close(),
    };
}
