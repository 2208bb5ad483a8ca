/**
 * Who gets cluster-admin through EKS access entries, minus the deployer.
 *
 * pulumi-eks 4.3.0 always creates the cluster with bootstrapClusterCreatorAdminPermissions
 * (pulumi-eks#2373), so EKS itself gives the identity that runs `pulumi up` an admin access
 * entry. An explicit entry for the same principal then fails with 409 ResourceInUseException.
 *
 * The deployer is known from sts:GetCallerIdentity. For a role it is a session ARN,
 * `arn:<partition>:sts::<account>:assumed-role/<role name>/<session>`, which carries the role
 * name but not its path: `role/team/platform-admin` and `role/platform-admin` both appear as
 * `assumed-role/platform-admin/...`. The full role ARN would need iam:GetRole, which the
 * deployer may lack. Matching on account + role name is still exact: role names are unique
 * within an account whatever their path (IAM quotas and names, "Names of IAM entities").
 */

export interface Principal {
    readonly partition: string;
    readonly account: string;
    readonly kind: "role" | "user";
    /** Role or user name, without path. */
    readonly name: string;
}

/** Parses an IAM role/user ARN or an STS assumed-role session ARN; undefined for anything else (root, federated user). */
export function principalOf(arn: string): Principal | undefined {
    const session = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
    if (session) return { partition: session[1], account: session[2], kind: "role", name: session[3] };
    const iam = /^arn:(aws[a-z-]*):iam::(\d{12}):(role|user)\/(?:.*\/)?([^/]+)$/.exec(arn);
    if (iam) return { partition: iam[1], account: iam[2], kind: iam[3] as "role" | "user", name: iam[4] };
    return undefined;
}

/** The role ARN (without path, see above) behind a caller ARN, e.g. for messages. */
export function callerRoleArn(callerArn: string): string | undefined {
    const p = principalOf(callerArn);
    return p ? `arn:${p.partition}:iam::${p.account}:${p.kind}/${p.name}` : undefined;
}

function samePrincipal(a: Principal, b: Principal): boolean {
    return a.partition === b.partition && a.account === b.account && a.kind === b.kind && a.name === b.name;
}

/** Admin principals that need an explicit access entry: all of them except the deployer's own role or user. */
export function explicitAdminPrincipals(adminPrincipalArns: readonly string[], callerArn: string): { entries: string[]; skipped: string[] } {
    const caller = principalOf(callerArn);
    const entries: string[] = [];
    const skipped: string[] = [];
    for (const arn of adminPrincipalArns) {
        const p = principalOf(arn);
        if (caller && p && samePrincipal(p, caller)) skipped.push(arn);
        else entries.push(arn);
    }
    return { entries, skipped };
}
