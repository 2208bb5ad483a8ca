/**
 * IAM for the weights bucket, least privilege per prefix:
 *   - a worker pool reads only its model's pinned revision (models/<id>/<revision>/) and
 *     reads and writes only its own compile cache (compile-cache/<pool>/);
 *   - the sync Job writes models/ (and is the only principal the bucket policy lets write there).
 * Actions and condition keys: Amazon S3 service authorization reference (s3:GetObject,
 * s3:PutObject, s3:ListBucket with s3:prefix; HeadObject needs s3:GetObject). The Run:ai
 * streamer lists the prefix for *.safetensors and reads ranges of each (vllm
 * transformers_utils/runai_utils.py list_safetensors, pull_files).
 */
import * as pulumi from "@pulumi/pulumi";
import type { PolicyStatement } from "../../iam/podIdentityRole";

type Arn = pulumi.Input<string>;
const under = (bucketArn: Arn, prefix: string) => pulumi.interpolate`${bucketArn}/${prefix}/*`;

/** ListBucket limited to one prefix (the key itself and everything under it). */
function listPrefix(bucketArn: Arn, prefix: string): PolicyStatement {
    return { Effect: "Allow", Action: "s3:ListBucket", Resource: bucketArn, Condition: { StringLike: { "s3:prefix": [prefix, `${prefix}/*`] } } };
}

export function workerS3Statements(bucketArn: Arn, weightsPrefix: string | undefined, compilePrefix: string | undefined): PolicyStatement[] {
    const out: PolicyStatement[] = [];
    if (weightsPrefix) {
        out.push({ Sid: "ReadPinnedWeights", Effect: "Allow", Action: "s3:GetObject", Resource: under(bucketArn, weightsPrefix) });
        out.push({ Sid: "ListPinnedWeights", ...listPrefix(bucketArn, weightsPrefix) });
    }
    if (compilePrefix) {
        out.push({ Sid: "ReadWriteOwnCompileCache", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject"], Resource: under(bucketArn, compilePrefix) });
        out.push({ Sid: "ListOwnCompileCache", ...listPrefix(bucketArn, compilePrefix) });
    }
    return out;
}

export function syncS3Statements(bucketArn: Arn): PolicyStatement[] {
    return [
        { Sid: "WriteModels", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], Resource: under(bucketArn, "models") },
        { Sid: "ListModels", ...listPrefix(bucketArn, "models") },
    ];
}
