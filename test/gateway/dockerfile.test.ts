import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../helpers/program";

describe("gateway image (Dockerfile)", () => {
    const text = fs.readFileSync(path.join(ROOT, "gateway", "Dockerfile"), "utf8");
    const froms = [...text.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);

    it("runs on a maintained distroless Node LTS on Debian 13, pinned by digest, as nonroot", () => {
        const runtime = froms[froms.length - 1];
        // nodejs*-debian12 builds were removed from distroless (commit 5cd38c1e, 2026-02-27).
        assert.match(runtime, /^gcr\.io\/distroless\/nodejs(22|24)-debian13:nonroot@sha256:[0-9a-f]{64}$/);
        assert.match(text, /^USER nonroot$/m);
        assert.ok(!froms.some((f) => /distroless\/nodejs\d+-debian12/.test(f)), froms.join(", "));
    });
});
