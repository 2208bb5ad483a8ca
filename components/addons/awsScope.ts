/** The account and region an add-on's IAM policy is scoped to. */
import * as pulumi from "@pulumi/pulumi";

export interface AwsScope {
    readonly accountId: pulumi.Input<string>;
    readonly region: string;
    /** Known at plan time (gpuserve-<environment>): IAM condition keys embed it. */
    readonly clusterName: string;
    readonly clusterArn: pulumi.Input<string>;
    /** The same name as an output of the EKS cluster: resources that need the cluster to exist use this. */
    readonly clusterNameOutput: pulumi.Input<string>;
}
