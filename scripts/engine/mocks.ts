/**
 * The offline engine: Pulumi's mock monitor plus a recorder of every resource the
 * program registers (type, name, parent, inputs, options). Used by `npm run plan` and
 * by the tests, so both exercise the real program the same way.
 *
 * Mocks stand in for the cloud only: each mocked resource echoes its inputs and adds the
 * few computed outputs the program reads (ARNs, ids, the EKS kubeconfig, node group ASGs).
 */
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";

export const MOCK_ACCOUNT = "123456789012";
const SECRET_PLACEHOLDER = "[secret]";

export interface ResourceOptionsRecord {
    parent?: string;
    dependsOn?: string[];
    ignoreChanges?: string[];
    protect?: boolean;
    retainOnDelete?: boolean;
    deleteBeforeReplace?: boolean;
    replaceOnChanges?: string[];
    provider?: string;
    aliases?: number;
    customTimeouts?: unknown;
}

export interface ResourceRecord {
    type: string;
    name: string;
    /** `type::name` of the parent resource, if any. */
    parent?: string;
    /** Inputs as the engine received them, secrets replaced by "[secret]". */
    inputs: Record<string, unknown>;
    options: ResourceOptionsRecord;
    custom: boolean;
}

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Every scalar becomes the placeholder; object keys and list lengths stay (manifests remain well-formed). */
function redactLeaves(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(redactLeaves);
    if (value && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (obj[SIG_KEY] === SECRET_SIG) return redactLeaves(obj.value);
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, redactLeaves(v)]));
    }
    return value === undefined || value === null ? value : SECRET_PLACEHOLDER;
}

/** Replaces the values inside secret markers (as the mock monitor passes them) with a placeholder, recursively. */
function redactSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(redactSecrets);
    if (value && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (obj[SIG_KEY] === SECRET_SIG) return redactLeaves(obj.value);
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, redactSecrets(v)]));
    }
    return value;
}

/** Removes secret markers, keeping the values (for mock outputs that echo inputs). */
function unwrapSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (obj[SIG_KEY] === SECRET_SIG) return unwrapSecrets(obj.value);
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

const key = (type: string, name: string) => `${type}::${name}`;
const shortHash = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 8);

/** What the engine hands a mock: a resource's or an invoke's inputs, unchecked. */
type MockInputs = Readonly<Record<string, unknown>>;
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** Computed outputs per resource type: what AWS or Kubernetes would add to the inputs. */
function mockOutputs(type: string, name: string, inputs: MockInputs, region: string): Record<string, unknown> {
    const physical = str(inputs.name) ?? `${name}-${shortHash(name)}`;
    const service = type.split(":")[1]?.split("/")[0] ?? "x";
    const base = { ...inputs, name: physical, arn: `arn:aws:${service}:${region}:${MOCK_ACCOUNT}:${name}`, tagsAll: inputs.tags };
    switch (type) {
        case "eks:index:Cluster": {
            const clusterName = str(inputs.name) ?? name;
            const kubeconfig = {
                apiVersion: "v1",
                kind: "Config",
                clusters: [
                    {
                        name: clusterName,
                        cluster: { server: `https://${shortHash(clusterName)}.gr7.${region}.eks.amazonaws.com`, "certificate-authority-data": "bW9jaw==" },
                    },
                ],
                contexts: [{ name: "aws", context: { cluster: clusterName, user: "aws" } }],
                "current-context": "aws",
                users: [
                    {
                        name: "aws",
                        user: {
                            exec: {
                                apiVersion: "client.authentication.k8s.io/v1beta1",
                                command: "aws",
                                args: ["eks", "get-token", "--cluster-name", clusterName, "--region", region],
                            },
                        },
                    },
                ],
            };
            return {
                eksCluster: {
                    name: clusterName,
                    arn: `arn:aws:eks:${region}:${MOCK_ACCOUNT}:cluster/${clusterName}`,
                    version: inputs.version,
                    endpoint: kubeconfig.clusters[0].cluster.server,
                    certificateAuthority: { data: kubeconfig.clusters[0].cluster["certificate-authority-data"] },
                    vpcConfig: { clusterSecurityGroupId: `sg-${shortHash(`${name}-eks-managed`)}`, vpcId: inputs.vpcId },
                },
                kubeconfig,
                kubeconfigJson: JSON.stringify(kubeconfig),
                clusterSecurityGroupId: `sg-${shortHash(`${name}-cluster`)}`,
                nodeSecurityGroupId: `sg-${shortHash(`${name}-node`)}`,
                oidcProviderArn: `arn:aws:iam::${MOCK_ACCOUNT}:oidc-provider/oidc.eks.${region}.amazonaws.com/id/${shortHash(name)}`,
                oidcIssuer: `oidc.eks.${region}.amazonaws.com/id/${shortHash(name)}`,
            };
        }
        case "aws:eks/nodeGroup:NodeGroup":
            return {
                ...base,
                resources: [{ autoscalingGroups: [{ name: `eks-${str(inputs.nodeGroupName) ?? name}-${shortHash(name)}` }], remoteAccessSecurityGroupId: "" }],
                status: "ACTIVE",
            };
        case "aws:ec2/launchTemplate:LaunchTemplate":
            return { ...base, latestVersion: 1, defaultVersion: 1 };
        case "aws:iam/role:Role":
            return { ...base, arn: `arn:aws:iam::${MOCK_ACCOUNT}:role/${physical}` };
        case "aws:s3/bucket:Bucket": {
            const bucket = str(inputs.bucket) ?? `${str(inputs.bucketPrefix) ?? ""}${shortHash(name)}`;
            return { ...base, bucket, id: bucket, arn: `arn:aws:s3:::${bucket}` };
        }
        case "aws:iam/policy:Policy":
            return { ...base, arn: `arn:aws:iam::${MOCK_ACCOUNT}:policy/${physical}` };
        case "docker-build:index:Image": {
            // A stand-in for the content digest: a hash of what is built (labels carry the source
            // hash), not of paths, so the same source plans the same from any checkout.
            const digest = `sha256:${createHash("sha256")
                .update(JSON.stringify([inputs.labels, inputs.platforms, inputs.buildArgs, inputs.tags]))
                .digest("hex")}`;
            const tags = inputs.tags as readonly string[] | undefined;
            return { ...inputs, ref: tags?.[0] ? `${tags[0]}@${digest}` : "", digest };
        }
        case "random:index/randomPassword:RandomPassword":
            return { ...inputs, result: `offline-${shortHash(name)}`.padEnd(typeof inputs.length === "number" ? inputs.length : 16, "x") };
        case "aws:ecr/repository:Repository":
            return { ...base, repositoryUrl: `${MOCK_ACCOUNT}.dkr.ecr.${region}.amazonaws.com/${physical}` };
        default:
            return base;
    }
}

/** Answers a test sets for an invoke (e.g. a different caller identity); kept until cleared. */
export const callOverrides = new Map<string, (inputs: MockInputs) => Record<string, unknown>>();

function mockCall(token: string, inputs: MockInputs, region: string): Record<string, unknown> {
    const override = callOverrides.get(token);
    if (override) return override(inputs);
    switch (token) {
        case "aws:index/getAvailabilityZones:getAvailabilityZones":
            return { names: ["a", "b", "c", "d"].map((z) => `${region}${z}`), zoneIds: ["az1", "az2", "az4", "az6"].map((z) => `use1-${z}`), id: region };
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: MOCK_ACCOUNT, arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/offline-plan`, userId: "AIDAOFFLINE", id: MOCK_ACCOUNT };
        case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
        case "aws:index/getRegion:getRegion":
            return { name: region, region, id: region };
        case "aws:eks/getCluster:getCluster": {
            // A cluster this program did not create (a team's existingCluster).
            const name = String(inputs.name);
            return {
                id: name,
                name,
                arn: `arn:aws:eks:${region}:${MOCK_ACCOUNT}:cluster/${name}`,
                endpoint: `https://${shortHash(name)}.gr7.${region}.eks.amazonaws.com`,
                certificateAuthorities: [{ data: "bW9jaw==" }],
            };
        }
        case "aws:ec2/getSubnet:getSubnet":
            // An existing VPC's subnet: a /24 derived from its id (the VPC mock is 10.1.0.0/16).
            return { id: inputs.id, cidrBlock: `10.1.${parseInt(shortHash(String(inputs.id)).slice(0, 2), 16)}.0/24` };
        case "aws:ec2/getVpc:getVpc":
            return { id: inputs.id, cidrBlock: "10.1.0.0/16", cidrBlockAssociations: [] };
        case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                userName: "AWS",
                password: "offline-ecr-token",
                proxyEndpoint: `https://${MOCK_ACCOUNT}.dkr.ecr.${region}.amazonaws.com`,
                authorizationToken: "b2ZmbGluZQ==",
                id: region,
            };
        case "aws:ebs/getSnapshotIds:getSnapshotIds":
            // As if the stack's image-cache build had completed (components/cluster/imageCache).
            return { ids: [`snap-0${shortHash(JSON.stringify(inputs.filters ?? []))}0000000`.slice(0, 22)], id: region };
        case "aws:iam/getPolicyDocument:getPolicyDocument":
            return { json: JSON.stringify(inputs), id: shortHash(JSON.stringify(inputs)) };
        default:
            return {};
    }
}

/** One invoke the program made, and which resources the engine had created by then (invoke `dependsOn` waits for them). */
export interface CallRecord {
    token: string;
    inputs: Record<string, unknown>;
    /** `type::name` of every resource created before this call. */
    createdBefore: string[];
}

/** The recorder: one instance per process; `reset()` between program runs. */
class Recorder {
    readonly resources = new Map<string, ResourceRecord>();
    readonly calls: CallRecord[] = [];
    private created: string[] = [];
    private readonly names = new WeakMap<pulumi.Resource, string>();
    private region = "us-east-1";

    reset(region = "us-east-1"): void {
        this.resources.clear();
        this.stackReferences.clear();
        this.calls.length = 0;
        this.created = [];
        this.region = region;
    }

    records(): ResourceRecord[] {
        return [...this.resources.values()];
    }

    find(type: string, name?: string): ResourceRecord[] {
        return this.records().filter((r) => r.type === type && (name === undefined || r.name === name));
    }

    get(type: string, name: string): ResourceRecord {
        const r = this.resources.get(key(type, name));
        if (!r)
            throw new Error(
                `no ${type} named '${name}' was registered; have: ${
                    this.records()
                        .filter((x) => x.type === type)
                        .map((x) => x.name)
                        .join(", ") || "none of that type"
                }`,
            );
        return r;
    }

    private entry(type: string, name: string): ResourceRecord {
        const k = key(type, name);
        let r = this.resources.get(k);
        if (!r) {
            r = { type, name, inputs: {}, options: {}, custom: true };
            this.resources.set(k, r);
        }
        return r;
    }

    /** Outputs of the stacks a program references (pulumi:pulumi:StackReference), by stack name. */
    readonly stackReferences = new Map<string, Record<string, unknown>>();

    readonly mocks: pulumi.runtime.Mocks = {
        newResource: (args) => {
            if (args.type === "pulumi:pulumi:StackReference") return this.stackReference(args.name, args.inputs as MockInputs);
            const r = this.entry(args.type, args.name);
            r.inputs = redactSecrets(args.inputs) as Record<string, unknown>;
            r.custom = args.custom ?? true;
            const inputs = unwrapSecrets(args.inputs) as MockInputs;
            const id = args.custom === false ? undefined : `${args.name}-id`;
            this.created.push(key(args.type, args.name));
            return { id, state: mockOutputs(args.type, args.name, inputs, this.region) };
        },
        call: (args) => {
            const inputs = args.inputs as MockInputs;
            this.calls.push({ token: args.token, inputs, createdBefore: [...this.created] });
            return mockCall(args.token, inputs, this.region);
        },
    };

    /** A read of another stack's outputs: answered from stackReferences (the offline plan fills it from outputs.json). */
    private stackReference(name: string, inputs: MockInputs): { id: string; state: Record<string, unknown> } {
        const stack = str(inputs.name) ?? name;
        const outputs = this.stackReferences.get(stack);
        if (!outputs) throw new Error(`no outputs for stack '${stack}' (the offline plan reads them from plan/<stack>/outputs.json)`);
        const r = this.entry("pulumi:pulumi:StackReference", name);
        r.inputs = { name: stack };
        this.created.push(key("pulumi:pulumi:StackReference", name));
        return { id: stack, state: { name: stack, outputs, secretOutputNames: [] } };
    }

    private nameOf(res: unknown): string | undefined {
        return res && typeof res === "object" ? this.names.get(res as pulumi.Resource) : undefined;
    }

    /** A stack transformation that records resource options; returns undefined (changes nothing). */
    readonly transformation: pulumi.ResourceTransformation = (args) => {
        const k = key(args.type, args.name);
        this.names.set(args.resource, k);
        const r = this.entry(args.type, args.name);
        const o = args.opts;
        const deps = o.dependsOn === undefined ? [] : Array.isArray(o.dependsOn) ? o.dependsOn : [o.dependsOn];
        r.options = {
            parent: this.nameOf(o.parent),
            dependsOn: deps.map((d) => this.nameOf(d) ?? "<unresolved>").filter((d) => d !== undefined),
            ignoreChanges: o.ignoreChanges,
            protect: o.protect,
            retainOnDelete: o.retainOnDelete,
            deleteBeforeReplace: (o as pulumi.CustomResourceOptions).deleteBeforeReplace,
            replaceOnChanges: o.replaceOnChanges,
            provider: this.nameOf(o.provider),
            aliases: o.aliases?.length,
            customTimeouts: (o as pulumi.CustomResourceOptions).customTimeouts,
        };
        r.parent = r.options.parent;
        for (const k2 of Object.keys(r.options) as (keyof ResourceOptionsRecord)[]) {
            const v = r.options[k2];
            if (v === undefined || (Array.isArray(v) && v.length === 0)) delete r.options[k2];
        }
        return undefined;
    };
}

export const recorder = new Recorder();
let installed = false;

/** Installs the mocks once per process (setMocks is process-global). */
export function installMocks(project: string, stack: string): void {
    if (installed) return;
    installed = true;
    void pulumi.runtime.setMocks(recorder.mocks, project, stack, false);
}

/**
 * Runs a program under the mocks with the given config and waits until every
 * resource is registered. Returns the stack outputs.
 */
export async function runProgram<T extends Record<string, unknown>>(opts: {
    project: string;
    stack: string;
    config: Record<string, string>;
    secretKeys?: string[];
    /** Outputs of referenced stacks, by stack name (a team's platform). @default {} */
    stackReferences?: Record<string, Record<string, unknown>>;
    program: () => T | Promise<T>;
}): Promise<{ outputs: Record<string, unknown>; resources: ResourceRecord[]; warnings: string[] }> {
    installMocks(opts.project, opts.stack);
    recorder.reset(opts.config["aws:region"] ?? "us-east-1");
    for (const [stack, outputs] of Object.entries(opts.stackReferences ?? {})) recorder.stackReferences.set(stack, outputs);
    pulumi.runtime.setAllConfig(opts.config, opts.secretKeys ?? []);
    // Without an engine, pulumi.log.warn prints "warning: [runtime] ..." to the console
    // (@pulumi/pulumi log/index.ts). Collect them instead: the plan lists them in its
    // summary and tests assert on them, so a test run prints none.
    const warnings: string[] = [];
    const consoleWarn = console.warn;
    const PREFIX = "warning: [runtime] ";
    console.warn = (...args: unknown[]) => {
        if (args.length === 1 && typeof args[0] === "string" && args[0].startsWith(PREFIX)) warnings.push(args[0].slice(PREFIX.length));
        else consoleWarn(...args);
    };
    // @pulumi/pulumi 3.270.0 records `new Error().stack` for every promise and every resource
    // (runtime/debuggable.js debuggablePromise, resource.js source position); under tsx each of
    // those stacks is source-mapped, ~40 % of a render's CPU. Nothing here reads them, so they stay
    // unmapped while the program runs; an error's stack read after the run is mapped as usual.
    const sourceMaps = process.sourceMapsEnabled;
    process.setSourceMapsEnabled(false);
    try {
        const outputs = await pulumi.runtime.runInPulumiStack(async () => {
            pulumi.runtime.registerStackTransformation(recorder.transformation);
            return opts.program();
        });
        const wait = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
        if (wait) await wait();
        return { outputs: outputs ?? {}, resources: recorder.records(), warnings };
    } finally {
        console.warn = consoleWarn;
        process.setSourceMapsEnabled(sourceMaps);
    }
}
