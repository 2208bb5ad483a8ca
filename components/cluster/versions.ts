/**
 * EKS managed add-on versions, pinned per Kubernetes version.
 * Source: the "latest version" tables of the EKS user guide pages managing-kube-proxy,
 * managing-coredns, managing-vpc-cni, pod-id-agent-setup and ebs-csi (checked 2026-11),
 * cross-checked against public Terraform stacks pinning the same builds.
 * Bump them together with `gpuserve:cluster.version`; `aws eks describe-addon-versions
 * --kubernetes-version <v> --addon-name <name>` lists what a region offers.
 */
import { KUBERNETES_VERSIONS } from "../../stacks/schema";

export interface EksAddonVersions {
    readonly vpcCni: string;
    readonly coredns: string;
    readonly kubeProxy: string;
    readonly podIdentityAgent: string;
    readonly ebsCsiDriver: string;
}

export const EKS_ADDON_VERSIONS: Readonly<Record<(typeof KUBERNETES_VERSIONS)[number], EksAddonVersions>> = {
    "1.34": {
        vpcCni: "v1.21.1-eksbuild.7",
        coredns: "v1.13.2-eksbuild.4",
        kubeProxy: "v1.34.6-eksbuild.2",
        podIdentityAgent: "v1.3.10-eksbuild.3",
        ebsCsiDriver: "v1.57.1-eksbuild.1",
    },
    "1.35": {
        vpcCni: "v1.21.1-eksbuild.7",
        coredns: "v1.14.2-eksbuild.4",
        kubeProxy: "v1.35.3-eksbuild.2",
        podIdentityAgent: "v1.3.10-eksbuild.3",
        ebsCsiDriver: "v1.62.0-eksbuild.1",
    },
};
