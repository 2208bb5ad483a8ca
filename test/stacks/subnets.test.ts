import * as assert from "assert";
import * as fc from "fast-check";
import { intToIp, ipToInt, parseCidr, planSubnets } from "../../stacks/subnets";

const range = (cidr: string) => {
    const { base, prefix } = parseCidr(cidr);
    return { start: base, end: base + 2 ** (32 - prefix) - 1 };
};

describe("planSubnets", () => {
    it("lays out a /16 over 3 AZs as /19 private and /22 public subnets", () => {
        assert.deepStrictEqual(planSubnets("10.0.0.0/16", 3), {
            privateCidrs: ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"],
            publicCidrs: ["10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22"],
        });
    });

    it("rejects prefixes outside /16-/20 and unaligned bases", () => {
        assert.throws(() => planSubnets("10.0.0.0/24", 2), /prefix must be between \/16 and \/20/);
        assert.throws(() => planSubnets("10.0.1.0/16", 2), /host bits are set/);
    });

    it("keeps every subnet inside the VPC, aligned and non-overlapping (property)", () => {
        fc.assert(
            fc.property(fc.integer({ min: 16, max: 20 }), fc.nat(2 ** 32 - 1), fc.integer({ min: 1, max: 7 }), (prefix, addr, azs) => {
                const size = 2 ** (32 - prefix);
                const base = Math.floor(addr / size) * size;
                const vpc = `${intToIp(base)}/${prefix}`;
                const plan = planSubnets(vpc, azs);
                const all = [...plan.privateCidrs, ...plan.publicCidrs];
                assert.strictEqual(all.length, 2 * azs);
                const v = range(vpc);
                const ranges = all.map(range).sort((a, b) => a.start - b.start);
                ranges.forEach((r, i) => {
                    assert.ok(r.start >= v.start && r.end <= v.end, `${all} outside ${vpc}`);
                    assert.strictEqual(r.start % (r.end - r.start + 1), 0, `unaligned subnet in ${all}`);
                    if (i > 0) assert.ok(r.start > ranges[i - 1].end, `overlap in ${all}`);
                });
                assert.strictEqual(ipToInt(intToIp(base)), base);
            }),
            { numRuns: 500 },
        );
    });
});
