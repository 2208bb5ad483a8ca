/**
 * The admission policy that keeps each team to its own host on the shared ALB: its CEL run by a CEL
 * evaluator (@bufbuild/cel, the CEL spec's ECMAScript implementation) over the Ingresses the teams
 * really emit, which it admits, and over the ones a team could write to take another team's traffic,
 * which it refuses.
 */
import * as assert from "assert";
import { CelInput, run } from "@bufbuild/cel";
import { isKubernetesObject, manifestOf } from "../../scripts/engine/plan";
import { validateManifests } from "../helpers/k8sSchema";
import { StackRun, clone } from "../helpers/program";
import { TEAMS, exampleConfig, platformOutputsOf, renderPlatform, renderTeam } from "../helpers/teams";

/** JSON as CEL values: objects as maps (so `has(x.field)` and `.all()` work as on the API server's objects). */
const toCel = (v: unknown): CelInput =>
    Array.isArray(v) ? v.map(toCel) : v && typeof v === "object" ? new Map(Object.entries(v).map(([k, x]) => [k, toCel(x)])) : (v as CelInput);
const objects = (r: StackRun) => r.resources.filter(isKubernetesObject).map(manifestOf) as any[];

describe("each team's Ingresses are held to its host on the shared ALB (ValidatingAdmissionPolicy)", function () {
    this.timeout(120_000);
    let lab: any[];
    const ingress: Record<string, any> = {};
    before(async () => {
        const platform = await renderPlatform();
        lab = objects(platform);
        const outputs = platformOutputsOf(platform);
        for (const t of TEAMS) ingress[t] = objects(await renderTeam(exampleConfig(t), outputs)).find((o) => o.kind === "Ingress");
    });

    const policyOf = (team: string) => {
        const p = lab.find((o) => o.kind === "ValidatingAdmissionPolicy" && o.metadata.name === `gpuserve-lab-${team}-ingress`);
        assert.ok(
            p,
            `no policy for ${team}: ${lab
                .filter((o) => o.kind === "ValidatingAdmissionPolicy")
                .map((o) => o.metadata.name)
                .join(", ")}`,
        );
        return p;
    };
    /** The messages of the validations an Ingress fails (what the API server would refuse it with). */
    const refusals = (team: string, ing: any) =>
        (policyOf(team).spec.validations as { expression: string; message: string }[])
            .filter((v) => run(v.expression, { object: toCel(ing) }) !== true)
            .map((v) => v.message);

    it("one policy and binding per team, on its namespace only, valid against the Kubernetes schema", async () => {
        for (const t of TEAMS) {
            const p = policyOf(t);
            assert.deepStrictEqual(p.spec.matchConstraints.namespaceSelector, { matchLabels: { "kubernetes.io/metadata.name": t } });
            assert.deepStrictEqual(p.spec.matchConstraints.resourceRules[0].resources, ["ingresses"]);
            const binding = lab.find((o) => o.kind === "ValidatingAdmissionPolicyBinding" && o.spec.policyName === p.metadata.name);
            assert.deepStrictEqual(binding.spec.validationActions, ["Deny"]);
        }
        await validateManifests(lab.filter((o) => o.kind.startsWith("ValidatingAdmissionPolicy")));
    });

    it("admits the Ingress each team emits", () => {
        for (const t of TEAMS) assert.deepStrictEqual(refusals(t, ingress[t]), [], t);
    });

    it("refuses another team's host, a rule without host, TLS for another host, a default backend and another IngressClass", () => {
        const hostile = (f: (ing: any) => void) => {
            const ing = clone(ingress.biology);
            f(ing);
            return refusals("biology", ing);
        };
        assert.deepStrictEqual(
            hostile((i) => (i.spec.rules[0].host = "chemistry.lab.example.org")),
            [
                "every rule of this namespace's Ingresses names its host biology.lab.example.org (a rule without a host answers for every host on the shared ALB)",
            ],
        );
        assert.deepStrictEqual(
            hostile((i) => i.spec.rules.push({ http: i.spec.rules[0].http })),
            [
                "every rule of this namespace's Ingresses names its host biology.lab.example.org (a rule without a host answers for every host on the shared ALB)",
            ],
        );
        assert.deepStrictEqual(
            hostile((i) => (i.spec.tls = [{ hosts: ["physics.lab.example.org"] }])),
            ["TLS entries name only biology.lab.example.org"],
        );
        assert.deepStrictEqual(
            hostile((i) => (i.spec.defaultBackend = { service: { name: "gateway", port: { name: "http" } } })),
            ["no default backend: on the shared ALB it would answer for hosts no rule names"],
        );
        assert.deepStrictEqual(
            hostile((i) => (i.spec.ingressClassName = "alb")),
            ["a team's Ingress uses the platform's IngressClass 'gpuserve-lab'"],
        );
        // The policy of another team admits biology's own Ingress nowhere but in biology.
        assert.ok(refusals("chemistry", ingress.biology).length > 0);
    });
});
