/**
 * Temporary directories for tests, removed when the test process exits (a full run used to leave
 * ~1,000 directories and ~700 MB in the system temp dir).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const made: string[] = [];
let hooked = false;

/** A new directory under the system temp dir, named `<prefix>XXXXXX`, deleted at process exit. */
export function tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(dir);
    if (!hooked) {
        hooked = true;
        process.once("exit", () => {
            for (const d of made) fs.rmSync(d, { recursive: true, force: true });
        });
    }
    return dir;
}
