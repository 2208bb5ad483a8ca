/**
 * The stack's private weights bucket: model files copied once per pinned revision by the
 * sync Jobs, streamed by the workers (and their torch.compile caches). Private (public
 * access blocked, bucket-owner-enforced ownership: no ACLs), encrypted at rest (SSE-S3 with
 * the bucket key; readers need no KMS grant), TLS only, and only the sync role may write or
 * delete model files.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface WeightsBucketArgs {
    /** Bucket name prefix (Pulumi adds a random suffix). */
    readonly namePrefix: string;
    /** Keep the bucket (and its objects) on `pulumi destroy`: production. @default false */
    readonly retain?: boolean;
}

/** The bucket policy: TLS only; model files written only by `writerRoleArn`. */
function weightsBucketPolicy(bucketArn: string, writerRoleArn: string) {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: "s3:*",
                Resource: [bucketArn, `${bucketArn}/*`],
                Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
            {
                // Workers may read weights and write their compile cache, never the weights.
                Sid: "OnlyTheSyncJobWritesModels",
                Effect: "Deny",
                Principal: "*",
                Action: ["s3:PutObject", "s3:DeleteObject"],
                Resource: `${bucketArn}/models/*`,
                Condition: { ArnNotEquals: { "aws:PrincipalArn": writerRoleArn } },
            },
        ],
    };
}

export class WeightsBucket extends pulumi.ComponentResource {
    readonly bucket: aws.s3.Bucket;
    readonly bucketName: pulumi.Output<string>;
    readonly bucketArn: pulumi.Output<string>;
    private readonly name: string;

    constructor(name: string, args: WeightsBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gpuserve:serving:WeightsBucket", name, {}, opts);
        this.name = name;
        const parent = { parent: this };
        this.bucket = new aws.s3.Bucket(
            `${name}-bucket`,
            { bucketPrefix: `${args.namePrefix}-weights-`, forceDestroy: !args.retain },
            { parent: this, retainOnDelete: args.retain ?? false },
        );
        this.bucketName = this.bucket.bucket;
        this.bucketArn = this.bucket.arn;
        new aws.s3.BucketOwnershipControls(`${name}-ownership`, { bucket: this.bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, parent);
        new aws.s3.BucketPublicAccessBlock(
            `${name}-public-access`,
            { bucket: this.bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
            parent,
        );
        new aws.s3.BucketServerSideEncryptionConfiguration(
            `${name}-encryption`,
            { bucket: this.bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }] },
            parent,
        );
        new aws.s3.BucketLifecycleConfiguration(
            `${name}-lifecycle`,
            // A sync Job killed mid-upload leaves parts that are billed until aborted.
            {
                bucket: this.bucket.id,
                rules: [{ id: "abort-incomplete-uploads", status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } }],
            },
            parent,
        );
        this.registerOutputs({ bucketName: this.bucketName });
    }

    /** The bucket policy, once the writer (sync Job) role exists. */
    restrictWrites(writerRoleArn: pulumi.Input<string>): aws.s3.BucketPolicy {
        const policy = pulumi.all([this.bucketArn, writerRoleArn]).apply(([arn, writer]) => JSON.stringify(weightsBucketPolicy(arn, writer)));
        return new aws.s3.BucketPolicy(`${this.name}-policy`, { bucket: this.bucket.id, policy }, { parent: this });
    }
}
