import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface ArtifactStoreProps {
  /**
   * How long a superseded version of a state object, pointer or ledger page is kept. Version
   * pointers and content-addressed artifacts are never overwritten, so this only trims the
   * history of mutable objects (endpoint state, leases).
   * @default Duration.days(90)
   */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * What happens to the buckets when the stack is deleted. The store is Ballast's system of record
   * (what went live, when, and why), so it outlives the stack unless you say otherwise.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The S3 bucket that is Ballast's system of record: model artifacts under immutable
 * content-addressed keys, version pointers, endpoint state and the deployment ledger.
 *
 * Versioning keeps every state transition recoverable; conditional writes (If-None-Match,
 * If-Match) give immutability and compare-and-swap without a second store. Server access logs go
 * to a separate bucket so that who read which artifact can be audited.
 */
export class ArtifactStore extends Construct {
  /** The system-of-record bucket. */
  public readonly bucket: s3.Bucket;
  /** Receives the server access logs of {@link bucket}. */
  public readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: ArtifactStoreProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365) }],
      removalPolicy,
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket is the access-log destination; logging it into itself would loop.',
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'artifact-store/',
      lifecycleRules: [
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(90),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
          expiredObjectDeleteMarker: true,
        },
        {
          // The reconciler's batches (reconcile/runs/<run>/batch-<n>.json) live for one run, a
          // minute or so; a day leaves time to look at a failed run. Both versions go: the
          // expiration leaves a delete marker over a noncurrent version, which then expires too,
          // and the rule above removes the marker once nothing is left under it.
          id: 'expire-reconcile-runs',
          prefix: 'reconcile/runs/',
          expiration: Duration.days(1),
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
      removalPolicy,
    });
  }
}
