/**
 * Reads a launch template's user data back: whether it puts the kubelet's directory on the instance store, by the
 * rules of the program that will read it (Bottlerocket's bootstrap commands, AL2023's nodeadm NodeConfig), not by
 * the strings our code writes. test/components/nodeUserData.test.ts checks the TOML with a real TOML parser.
 */
import * as YAML from "yaml";

/** The launch template's user data, decoded (undefined: none). */
export function decodedUserData(lt: { userData?: string }): string | undefined {
    return lt.userData === undefined ? undefined : Buffer.from(lt.userData, "base64").toString("utf8");
}

/** The `[settings.bootstrap-commands.<name>]` tables of Bottlerocket TOML user data (the subset the stack writes). */
function bottlerocketBootstrapCommands(toml: string): Record<string, { commands: string[][]; mode?: string; essential?: boolean }> {
    const out: Record<string, { commands: string[][]; mode?: string; essential?: boolean }> = {};
    let current: string | undefined;
    for (const line of toml.split("\n")) {
        const header = /^\[settings\.bootstrap-commands\.([A-Za-z0-9-]+)\]$/.exec(line.trim());
        if (header) {
            current = header[1];
            out[current] = { commands: [] };
            continue;
        }
        if (/^\[/.test(line.trim())) current = undefined;
        const kv = /^([a-z-]+)\s*=\s*(.+)$/.exec(line.trim());
        if (!current || !kv) continue;
        // TOML basic strings, arrays and booleans as the stack writes them are also JSON.
        const value = JSON.parse(kv[2]);
        (out[current] as Record<string, unknown>)[kv[1]] = value;
    }
    return out;
}

/** The directories Bottlerocket binds to the instance store before kubelet starts (every always-on bootstrap command). */
export function bottlerocketBoundDirs(toml: string): string[] {
    const dirs: string[] = [];
    for (const cmd of Object.values(bottlerocketBootstrapCommands(toml))) {
        if (cmd.mode !== "always" && cmd.mode !== "once") continue; // "off" (the default) never runs
        const initialized = cmd.commands.some((c) => c.join(" ") === "apiclient ephemeral-storage init");
        for (const c of cmd.commands) {
            if (c.slice(0, 3).join(" ") !== "apiclient ephemeral-storage bind" || !initialized) continue;
            const i = c.indexOf("--dirs");
            dirs.push(...c.slice(i + 1).filter((d) => !d.startsWith("--")));
        }
    }
    return dirs;
}

/** nodeadm NodeConfig documents in AL2023 MIME multi-part user data (parts of type application/node.eks.aws). */
export function nodeConfigs(mime: string): any[] {
    const boundary = /boundary="([^"]+)"/.exec(mime)?.[1];
    if (!boundary) return [];
    return mime
        .split(`--${boundary}`)
        .map((part) => part.replace(/^\r?\n/, ""))
        .filter((part) => /^Content-Type: application\/node\.eks\.aws/m.test(part))
        .map((part) => YAML.parse(part.slice(part.search(/\r?\n\r?\n/) + 2)));
}

/** The directories setup-local-disks binds to the RAID (amazon-eks-ami templates/al2023/runtime/bin/setup-local-disks). */
export function al2023BoundDirs(mime: string): string[] {
    const dirs: string[] = [];
    for (const cfg of nodeConfigs(mime)) {
        const ls = cfg?.spec?.instance?.localStorage;
        if (!ls?.strategy) continue;
        const off: string[] = ls.disabledMounts ?? [];
        // --no-bind-* per DisabledMount (nodeadm/internal/system/local_disk.go); the kubelet's has no such option.
        const all: Record<string, string | undefined> = {
            "/var/lib/kubelet": undefined,
            "/var/lib/containerd": "Containerd",
            "/var/log/pods": "PodLogs",
            "/var/lib/soci-snapshotter-grpc": "SOCI",
        };
        for (const [dir, name] of Object.entries(all)) if (!name || !off.includes(name)) dirs.push(dir);
    }
    return dirs;
}

/** Whether a node group of this AMI type with this user data keeps its pods' emptyDirs on the instance store. */
export function kubeletOnInstanceStore(amiType: string, lt: { userData?: string }): boolean {
    const data = decodedUserData(lt);
    if (!data) return false;
    const dirs = amiType.startsWith("BOTTLEROCKET_") ? bottlerocketBoundDirs(data) : al2023BoundDirs(data);
    return dirs.includes("/var/lib/kubelet");
}
