/**
 * How a team stack reaches its platform's cluster: a Kubernetes provider of its own, from the
 * cluster's name, endpoint and CA (platform outputs) and an `aws eks get-token` exec, so it acts
 * with the team's own credentials (its deploy or preview role, which EKS access entries limit to
 * the team's namespace), never with the platform's kubeconfig. A cluster this program did not
 * create (existingCluster) is looked up by name.
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformOutputs } from "../../stacks/platformOutputs";

/** A kubeconfig that authenticates through `aws eks get-token` (AWS CLI v2) with the caller's credentials. */
function teamKubeconfig(cluster: { name: string; endpoint: string; certificateAuthority: string }, region: string): string {
    return JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: cluster.name, cluster: { server: cluster.endpoint, "certificate-authority-data": cluster.certificateAuthority } }],
        contexts: [{ name: "team", context: { cluster: cluster.name, user: "team" } }],
        "current-context": "team",
        users: [
            {
                name: "team",
                user: {
                    exec: {
                        apiVersion: "client.authentication.k8s.io/v1beta1",
                        command: "aws",
                        args: ["eks", "get-token", "--cluster-name", cluster.name, "--region", region, "--output", "json"],
                    },
                },
            },
        ],
    });
}

export function teamClusterAccess(
    name: string,
    p: PlatformOutputs,
    awsProvider: aws.Provider,
): { provider: k8s.Provider; clusterName: pulumi.Output<string>; clusterArn: pulumi.Output<string> } {
    const known = p.cluster.endpoint !== undefined && p.cluster.certificateAuthority !== undefined;
    const found = known ? undefined : aws.eks.getClusterOutput({ name: p.cluster.name }, { provider: awsProvider });
    const endpoint = found ? found.endpoint : pulumi.output(p.cluster.endpoint!);
    const ca = found ? found.certificateAuthorities.apply((c) => c[0]?.data ?? "") : pulumi.output(p.cluster.certificateAuthority!);
    const kubeconfig = pulumi.all([endpoint, ca]).apply(([e, c]) => teamKubeconfig({ name: p.cluster.name, endpoint: e, certificateAuthority: c }, p.region));
    const provider = new k8s.Provider(`${name}-k8s`, { kubeconfig, enableServerSideApply: true });
    return { provider, clusterName: pulumi.output(p.cluster.name), clusterArn: found ? found.arn : pulumi.output(p.cluster.arn) };
}
