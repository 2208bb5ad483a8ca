/**
 * The AWS region codes a stack may use: the `aws.Region` enum of the pinned @pulumi/aws
 * (7.48.0, `types/enums/index.ts`, generated from the Terraform AWS provider's region
 * list), which matches AWS's own list of regions and codes:
 * https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html
 * (commercial, China, GovCloud, European Sovereign Cloud and ISO partitions). Reading the
 * enum, not a copy, keeps the list in step with the provider that creates the resources.
 */
import { Region } from "@pulumi/aws/types/enums";

export const AWS_REGIONS: readonly string[] = Object.values(Region).sort();

export function isAwsRegion(region: string): boolean {
    return AWS_REGIONS.includes(region);
}
