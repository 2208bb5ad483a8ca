/**
 * The GPU node groups' user data that puts the pods' emptyDirs (and so the weights copies) on the NVMe instance
 * store: parsed by a real TOML parser (Python's tomllib, TOML 1.0) and YAML parser, and checked against the rules of
 * the programs that read it (Bottlerocket's bootstrap-commands and ephemeral-storage API, nodeadm's NodeConfig;
 * sources in components/cluster/userData.ts), then read back from what the program registers: only the pools whose
 * podStorage resolves to the instance store get it, and the image-cache builder never binds anything.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as YAML from "yaml";
import {
    BOTTLEROCKET_BOOTSTRAP_COMMAND,
    KUBELET_DIR,
    MIME_BOUNDARY,
    al2023InstanceStoreMime,
    bottlerocketInstanceStoreToml,
    nodeUserData,
} from "../../components/cluster/userData";
import { al2023BoundDirs, bottlerocketBoundDirs, decodedUserData, kubeletOnInstanceStore, nodeConfigs } from "../helpers/userData";
import { StackRun, ROOT, clone, prodWithA100, runStack } from "../helpers/program";
import { expectedCost } from "../../capacity/sim";
import { expectedSummary } from "../../capacity/sim/report/summary";
import { parseStackConfig } from "../../stacks/validate";

/** A runStack config (aws:region, short gpuserve keys) as the raw object parseStackConfig reads. */
function parsed(config: Record<string, any>) {
    const { "aws:region": region, ...rest } = config;
    return parseStackConfig({ environment: "test", ...rest, region });
}

/** Python's tomllib (strict TOML 1.0), as JSON. */
function parseToml(text: string): any {
    const out = execFileSync("python3", ["-c", "import sys, tomllib, json; print(json.dumps(tomllib.loads(sys.stdin.read())))"], {
        input: text,
        encoding: "utf8",
    });
    return JSON.parse(out);
}

/** bottlerocket-core-kit sources/api/apiserver/src/server/ephemeral_storage.rs allowed_bind_dirs, a k8s variant. */
const BOTTLEROCKET_K8S_BIND_DIRS = ["/var/lib/containerd", "/var/lib/host-containerd", "/var/lib/kubelet", "/var/log/pods"];
/** nodeadm/api/v1alpha1/nodeconfig_types.go: LocalStorageStrategy and DisabledMount enums (v20260724). */
const NODEADM = { strategies: ["RAID0", "RAID10", "Mount"], disabledMounts: ["Containerd", "PodLogs", "SOCI"] };

describe("node user data: the kubelet's directory on the instance store", () => {
    it("is Bottlerocket TOML that binds only /var/lib/kubelet, before kubelet, on every boot, and stops the boot if it fails", () => {
        const toml = bottlerocketInstanceStoreToml();
        const parsed = parseToml(toml);
        assert.deepStrictEqual(parsed, {
            settings: {
                "bootstrap-commands": {
                    [BOTTLEROCKET_BOOTSTRAP_COMMAND]: {
                        commands: [
                            ["apiclient", "ephemeral-storage", "init"],
                            ["apiclient", "ephemeral-storage", "bind", "--dirs", "/var/lib/kubelet"],
                        ],
                        mode: "always",
                        essential: true,
                    },
                },
            },
        });
        // Bottlerocket's rules: an Identifier name (ASCII letters, digits, '-'), commands starting with apiclient,
        // bind targets from the k8s variants' allow list; and the kubelet's directory, not containerd's.
        const cmd = parsed.settings["bootstrap-commands"][BOTTLEROCKET_BOOTSTRAP_COMMAND];
        assert.match(BOTTLEROCKET_BOOTSTRAP_COMMAND, /^[A-Za-z0-9-]+$/);
        for (const c of cmd.commands) assert.strictEqual(c[0], "apiclient");
        const bound = bottlerocketBoundDirs(toml);
        assert.deepStrictEqual(bound, [KUBELET_DIR]);
        for (const d of bound) assert.ok(BOTTLEROCKET_K8S_BIND_DIRS.includes(d), d);
        assert.ok(!bound.includes("/var/lib/containerd"), "containerd's images stay on the snapshot-restored volume");
        // TOML forms EKS's merge does not support (launch-templates.adoc): a quoted key in a header, escaped quotes.
        assert.doesNotMatch(toml, /^\[[^\]]*"/m);
        assert.doesNotMatch(toml, /\\"/);
    });

    it("is an AL2023 MIME multi-part NodeConfig whose localStorage RAID0 keeps containerd and pod logs off the instance store", () => {
        const mime = al2023InstanceStoreMime();
        assert.match(mime, new RegExp(`^MIME-Version: 1\\.0\\nContent-Type: multipart/mixed; boundary="${MIME_BOUNDARY}"\\n`));
        assert.match(mime, new RegExp(`\\n--${MIME_BOUNDARY}--\\n$`));
        const [cfg, ...more] = nodeConfigs(mime);
        assert.strictEqual(more.length, 0);
        assert.deepStrictEqual([cfg.apiVersion, cfg.kind], ["node.eks.aws/v1alpha1", "NodeConfig"]);
        const ls = cfg.spec.instance.localStorage;
        assert.ok(NODEADM.strategies.includes(ls.strategy));
        assert.strictEqual(ls.strategy, "RAID0");
        for (const m of ls.disabledMounts) assert.ok(NODEADM.disabledMounts.includes(m), m);
        assert.deepStrictEqual(Object.keys(cfg.spec), ["instance"], "nothing EKS's own NodeConfig sets (cluster, kubelet)");
        // setup-local-disks binds what is not disabled: the kubelet's directory (and SOCI's, unused: userData.ts).
        assert.deepStrictEqual(al2023BoundDirs(mime), ["/var/lib/kubelet", "/var/lib/soci-snapshotter-grpc"]);
    });

    it("is base64 for a launch template, per AMI type, and nothing when the pods stay on the volume", () => {
        assert.strictEqual(decodedUserData({ userData: nodeUserData("BOTTLEROCKET_x86_64_NVIDIA", true) }), bottlerocketInstanceStoreToml());
        assert.strictEqual(decodedUserData({ userData: nodeUserData("AL2023_x86_64_NVIDIA", true) }), al2023InstanceStoreMime());
        assert.strictEqual(nodeUserData("BOTTLEROCKET_x86_64_NVIDIA", false), undefined);
        assert.strictEqual(nodeUserData("AL2023_x86_64_NVIDIA", false), undefined);
        assert.throws(() => nodeUserData("WINDOWS_CORE_2022_x86_64", true), /no instance-store user data for EKS AMI type WINDOWS_CORE_2022_x86_64/);
    });
});

describe("node user data: what the plan emits", () => {
    let prod: StackRun;
    let al2023: StackRun;
    let forced: StackRun;
    let forcedConfig: Record<string, any>;
    const lt = (run: StackRun, name: string) => run.get("aws:ec2/launchTemplate:LaunchTemplate", name).inputs as any;
    const ng = (run: StackRun, pool: string) => run.get("aws:eks/nodeGroup:NodeGroup", `gpuserve-test-gpu-${pool}-ng`).inputs as any;
    before(async () => {
        prod = await runStack(prodWithA100());
        const al = clone(prodWithA100());
        al.gpuPools = al.gpuPools.map((p: any) => ({ ...p, ami: "al2023" }));
        al.coldStart = { ...al.coldStart, imageCache: "none" };
        al2023 = await runStack(al);
        const f = clone(prodWithA100());
        f.gpuPools = f.gpuPools.map((p: any) => ({ ...p, podStorage: p.name === "a100" ? "volume" : "instanceStore" }));
        forcedConfig = f;
        forced = await runStack(f);
    });

    it("binds the instance store on the pools podStorage resolves to it (auto: p4de), and only there", () => {
        const on = (run: StackRun, pool: string) => kubeletOnInstanceStore(ng(run, pool).amiType, lt(run, `gpuserve-test-gpu-${pool}-lt`));
        assert.deepStrictEqual(
            ["a10g", "l40s", "a100"].map((p) => on(prod, p)),
            [false, false, true],
        );
        assert.deepStrictEqual(
            ["a10g", "l40s", "a100"].map((p) => on(al2023, p)),
            [false, false, true],
        );
        assert.deepStrictEqual(
            ["a10g", "l40s", "a100"].map((p) => on(forced, p)),
            [true, true, false],
            "an explicit podStorage wins over auto",
        );
        assert.strictEqual(decodedUserData(lt(prod, "gpuserve-test-gpu-a100-lt")), bottlerocketInstanceStoreToml());
        assert.strictEqual(decodedUserData(lt(al2023, "gpuserve-test-gpu-a100-lt")), al2023InstanceStoreMime());
        // The data volume (containerd's images, restored from the snapshot) is still there, unchanged.
        assert.deepStrictEqual(
            lt(prod, "gpuserve-test-gpu-a100-lt").blockDeviceMappings.map((b: any) => b.deviceName),
            ["/dev/xvda", "/dev/xvdb"],
        );
        assert.strictEqual(lt(prod, "gpuserve-test-system-lt").userData, undefined, "system nodes: EKS's user data only");
    });

    it("is what cost.json and the plan's summary say about each pool's pods' disk", () => {
        const pools = ["a10g", "l40s", "a100"];
        for (const [run, config] of [
            [prod, prodWithA100()],
            [forced, forcedConfig],
        ] as const) {
            const e = expectedCost(parsed(config), { days: 1, root: ROOT });
            assert.deepStrictEqual(
                e.perPool.map((p) => p.pool),
                pools,
            );
            const bound = pools.map((p) => kubeletOnInstanceStore(ng(run, p).amiType, lt(run, `gpuserve-test-gpu-${p}-lt`)));
            assert.deepStrictEqual(
                e.perPool.map((p) => p.podStorage.disk === "instanceStore"),
                bound,
            );
            const lines = expectedSummary(e).filter((l) => l.includes("pods' disk (weights copies):"));
            assert.deepStrictEqual(
                lines.map((l) => /:\s+(the NVMe instance store|the node's EBS volume): /.exec(l)?.[1]),
                bound.map((b) => (b ? "the NVMe instance store" : "the node's EBS volume")),
            );
            for (const [i, p] of e.perPool.entries()) assert.ok(lines[i].endsWith(p.podStorage.reason) && p.podStorage.reason.length > 0, lines[i]);
        }
    });

    it("never binds anything on the image-cache builder: its snapshot is containerd's store on the data volume", () => {
        const builder = decodedUserData(lt(prod, "gpuserve-test-image-cache-lt"))!;
        assert.deepStrictEqual(parseToml(builder), { settings: { "host-containers": { admin: { enabled: true } } } });
        assert.deepStrictEqual(bottlerocketBoundDirs(builder), []);
    });

    it("keeps YAML and TOML parsers in agreement with the helper that reads the user data back", () => {
        // The helper's TOML reading (JSON values) must match tomllib's on what the program emits.
        const toml = decodedUserData(lt(prod, "gpuserve-test-gpu-a100-lt"))!;
        const cmds = parseToml(toml).settings["bootstrap-commands"];
        const bound = Object.values<any>(cmds).flatMap((c) =>
            c.commands.filter((x: string[]) => x[2] === "bind").flatMap((x: string[]) => x.slice(x.indexOf("--dirs") + 1)),
        );
        assert.deepStrictEqual(bound, bottlerocketBoundDirs(toml));
        const mime = decodedUserData(lt(al2023, "gpuserve-test-gpu-a100-lt"))!;
        assert.deepStrictEqual(nodeConfigs(mime)[0], YAML.parse(mime.split(`--${MIME_BOUNDARY}`)[1].split("\n\n").slice(1).join("\n\n")));
    });
});
