/**
 * Subnet layout for a new VPC, as a pure function (property-tested).
 *
 * The VPC is cut into 8 equal blocks. Private subnets (nodes and pods: the VPC CNI gives
 * every pod a VPC address, so they need room) take one block per AZ from the start.
 * Public subnets (load balancers and NAT only) share the last block, cut into 8.
 * For a /16 that is /19 private subnets (8,190 addresses) and /22 public ones.
 */

export interface SubnetPlan {
    readonly privateCidrs: string[];
    readonly publicCidrs: string[];
}

const MIN_VPC_PREFIX = 16;
const MAX_VPC_PREFIX = 20;

export function ipToInt(ip: string): number {
    return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIp(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

export function parseCidr(cidr: string): { base: number; prefix: number } {
    const [ip, prefix] = cidr.split("/");
    return { base: ipToInt(ip), prefix: Number(prefix) };
}

export function planSubnets(vpcCidr: string, azCount: number): SubnetPlan {
    const { base, prefix } = parseCidr(vpcCidr);
    if (prefix < MIN_VPC_PREFIX || prefix > MAX_VPC_PREFIX) {
        throw new Error(`VPC CIDR ${vpcCidr}: prefix must be between /${MIN_VPC_PREFIX} and /${MAX_VPC_PREFIX}`);
    }
    if (base % 2 ** (32 - prefix) !== 0) {
        throw new Error(`VPC CIDR ${vpcCidr}: the address is not the start of a /${prefix} block (host bits are set)`);
    }
    if (azCount < 1 || azCount > 7) throw new Error(`azCount must be 1-7, got ${azCount}`);
    const blockSize = 2 ** (32 - prefix - 3);
    const publicSize = 2 ** (32 - prefix - 6);
    const lastBlock = base + 7 * blockSize;
    return {
        privateCidrs: Array.from({ length: azCount }, (_, i) => `${intToIp(base + i * blockSize)}/${prefix + 3}`),
        publicCidrs: Array.from({ length: azCount }, (_, i) => `${intToIp(lastBlock + i * publicSize)}/${prefix + 6}`),
    };
}
