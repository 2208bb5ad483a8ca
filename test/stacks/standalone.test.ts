/**
 * `standalone` stacks (the default role) plan as before the platform/team split: every resource of
 * dev and prod keeps its type, name and parent (the parts of a URN: a changed one would make
 * `pulumi up` replace a live resource), and a standalone plan has none of the team or platform
 * objects. The fixtures are the dev and prod plans of main before issue 25 (ec55ae8), as
 * `type::name <- parent`, regenerated when main itself removed resources on purpose (5eca809,
 * issue 22: allow-prometheus-scrape split in two, the image-cache builder's SSM attachment); the
 * merged branch was checked to plan the same resources as main.
 *
 * A resource added on purpose to every standalone stack does not fail this test (it is listed);
 * one that disappears or moves does. After a deliberate rename (with an alias), regenerate:
 *   npx tsx test/stacks/standaloneFixture.ts
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { ROOT } from "../helpers/program";
import { tempDir } from "../helpers/tmp";
import { planResources, urnsOf } from "./standaloneFixture";

const FIXTURES = path.join(ROOT, "test", "fixtures", "standalone");

describe("standalone stacks plan as before the platform/team split", function () {
    this.timeout(120_000);
    const tmp = tempDir("gpuserve-standalone-");
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const plan = (stack: string) => {
        const out = path.join(tmp, stack);
        const resources = planResources(ROOT, stack, out);
        const manifests = fs.readdirSync(path.join(out, "manifests")).map((f) => parse(fs.readFileSync(path.join(out, "manifests", f), "utf8")));
        return { resources, manifests, dir: out };
    };
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: every resource keeps its type, name and parent`, () => {
            const before: string[] = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${stack}.json`), "utf8"));
            const p = plan(stack);
            const now = urnsOf(p.resources);
            const gone = before.filter((u) => !now.includes(u));
            assert.deepStrictEqual(gone, [], `resources of '${stack}' renamed, moved or removed (a live stack would replace them):\n${gone.join("\n")}`);
            // Nothing of the other roles leaks into a standalone stack.
            assert.deepStrictEqual(
                p.resources.filter((r) => r.type === "pulumi:pulumi:StackReference" || r.type === "kubernetes:core/v1:ResourceQuota").map((r) => r.name),
                [],
            );
            assert.ok(!fs.existsSync(path.join(p.dir, "outputs.json")), "only a platform's plan writes outputs.json");
            const ingress = p.manifests.find((m) => m.kind === "Ingress")!;
            assert.strictEqual(ingress.metadata.annotations["alb.ingress.kubernetes.io/group.name"], undefined, "a standalone ALB is its own");
        });
    }
});
