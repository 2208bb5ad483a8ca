/**
 * A GPU node group's launch-template user data: what puts the kubelet's directory (and with it every pod's
 * emptyDir: the workers' weights copies) on the instance's NVMe instance store, when the pool's podStorage is
 * "instanceStore" (stacks/podStorage.ts). Nothing else moves: containerd's store stays on the volume the image-cache
 * snapshot restores (Bottlerocket's /dev/xvdb), and pod logs stay on the volume too.
 *
 * EKS merges this with its own user data for managed node groups without a custom AMI: "TOML format for Bottlerocket
 * AMIs" and "MIME multi-part archive format for Amazon Linux AMIs" (awsdocs/amazon-eks-user-guide
 * latest/ug/nodes/launch-templates.adoc, "Amazon EC2 user data"; EKS accepts no TOML header with a quoted key, which
 * the TOML below avoids).
 *
 * Bottlerocket (bottlerocket-core-kit, checked at v3.1.1 = Bottlerocket 1.26.1 and at 44b81f44, the newest copy we
 * could read; both commands exist since core-kit 2.4.1 = Bottlerocket 1.22.0, whose changelog adds bootstrap
 * commands, below every Kubernetes 1.34/1.35 variant the stack can run):
 * - `settings.bootstrap-commands.<name>` {commands, mode, essential}: run by bootstrap-commands.service, which is
 *   RequiredBy preconfigured.target (packages/os/bootstrap-commands.service), so before containerd and kubelet, which
 *   start After configured.target (packages/containerd/containerd.service, packages/kubernetes-1.31/kubelet.service).
 *   The name is an Identifier (ASCII letters, digits, '-'); every command must start with "apiclient"
 *   (bottlerocket-settings-sdk modeled-types shared.rs Identifier, ApiclientCommand); `mode` defaults to "off"
 *   and `essential` to false (sources/bootstrap-commands/src/main.rs), so both are set. With essential, a failing
 *   command stops the boot (main.rs @44b81f44 checks each command's exit status; at v3.1.1 only a command that could
 *   not start failed it) instead of leaving the kubelet on the volume, which validation did not size for the pods.
 * - `apiclient ephemeral-storage init` makes one filesystem (xfs) on the instance store: one disk as is, several as a
 *   RAID0 array (mdadm --level=0 --chunk=256); `bind --dirs /var/lib/kubelet` mounts it at /mnt/.ephemeral and
 *   rbind-mounts /mnt/.ephemeral/._var_lib_kubelet over /var/lib/kubelet, then makes it rshared; both are no-ops on an
 *   instance without instance store; the k8s variants allow binding /var/lib/containerd, /var/lib/host-containerd,
 *   /var/lib/kubelet and /var/log/pods (sources/api/apiserver/src/server/ephemeral_storage.rs).
 * - mode "always": the instance store is blank after a stop/start, and init skips a disk already formatted.
 *
 * Compared with aws/karpenter-provider-aws @83bbdf05 pkg/providers/amifamily/bootstrap/bottlerocket.go
 * (instanceStorePolicy RAID0): the same two commands, mode and essential, but Karpenter binds /var/lib/containerd
 * and /var/log/pods too. We bind only the kubelet's directory: containerd's images must stay on the snapshot-restored
 * volume (moving them to a blank NVMe would pull the ~10 GB image on every node), and logs need no speed.
 *
 * AL2023 (awslabs/amazon-eks-ami v20260724, nodeadm/api/v1alpha1/nodeconfig_types.go LocalStorageOptions;
 * nodeadm/internal/system/local_disk.go runs templates/al2023/runtime/bin/setup-local-disks): NodeConfig
 * `spec.instance.localStorage.strategy: RAID0` stripes the instance store and bind-mounts /var/lib/kubelet,
 * /var/lib/containerd, /var/log/pods and /var/lib/soci-snapshotter-grpc onto it; `disabledMounts: [Containerd,
 * PodLogs]` (since v20250620, feat #2295) keeps containerd and logs on the root volume. SOCI's directory is still
 * bound (its DisabledMount value only exists since v20260120, older AMIs of an existing node group would reject it);
 * the stack does not enable the SOCI snapshotter, so that directory stays empty. nodeadm merges this NodeConfig with
 * the one EKS adds (nodeadm/doc/examples.md, "Merging multiple configuration objects").
 */

/** The directory whose filesystem holds the pods' emptyDirs: the kubelet's root (--root-dir default). */
export const KUBELET_DIR = "/var/lib/kubelet";

/** The Bottlerocket bootstrap command's name (an Identifier; runs in lexicographic order with any others). */
export const BOTTLEROCKET_BOOTSTRAP_COMMAND = "000-kubelet-instance-store";

/** Bottlerocket user data (TOML) that binds the kubelet's directory to the instance store. */
export function bottlerocketInstanceStoreToml(): string {
    const commands = [
        ["apiclient", "ephemeral-storage", "init"],
        ["apiclient", "ephemeral-storage", "bind", "--dirs", KUBELET_DIR],
    ];
    return [
        `[settings.bootstrap-commands.${BOTTLEROCKET_BOOTSTRAP_COMMAND}]`,
        `commands = [${commands.map((c) => `[${c.map((w) => JSON.stringify(w)).join(", ")}]`).join(", ")}]`,
        'mode = "always"',
        "essential = true",
        "",
    ].join("\n");
}

/** The MIME boundary of the AL2023 user data (no part contains it). */
export const MIME_BOUNDARY = "GPUSERVE-NODECONFIG";

/** AL2023 user data (MIME multi-part with one nodeadm NodeConfig) that binds the kubelet's directory to the instance store. */
export function al2023InstanceStoreMime(): string {
    return [
        "MIME-Version: 1.0",
        `Content-Type: multipart/mixed; boundary="${MIME_BOUNDARY}"`,
        "",
        `--${MIME_BOUNDARY}`,
        "Content-Type: application/node.eks.aws",
        "",
        "---",
        "apiVersion: node.eks.aws/v1alpha1",
        "kind: NodeConfig",
        "spec:",
        "  instance:",
        "    localStorage:",
        "      strategy: RAID0",
        "      disabledMounts:",
        "        - Containerd",
        "        - PodLogs",
        "",
        `--${MIME_BOUNDARY}--`,
        "",
    ].join("\n");
}

/**
 * The launch template's userData (base64) for a node group of this EKS AMI type, or undefined for none (the node
 * then gets EKS's own user data only).
 */
export function nodeUserData(amiType: string, kubeletOnInstanceStore: boolean): string | undefined {
    if (!kubeletOnInstanceStore) return undefined;
    if (amiType.startsWith("BOTTLEROCKET_")) return Buffer.from(bottlerocketInstanceStoreToml()).toString("base64");
    if (amiType.startsWith("AL2023_")) return Buffer.from(al2023InstanceStoreMime()).toString("base64");
    throw new Error(`no instance-store user data for EKS AMI type ${amiType}`);
}
