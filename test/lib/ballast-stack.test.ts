import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { ArtifactStore } from '../../lib/artifact-store.ts';
import { BallastStack } from '../../lib/ballast-stack.ts';
import { awsSolutionsFindings } from '../support/nag.ts';

function synth(): { stack: BallastStack; template: Template } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new BallastStack(app, 'Ballast', {
    source: { type: 'codecommit', repositoryName: 'model-repo' },
    env: { account: '111122223333', region: 'us-east-1' },
  });
  return { stack, template: Template.fromStack(stack) };
}

describe('BallastStack', () => {
  it('passes cdk-nag AwsSolutions with no unacknowledged findings', () => {
    const { stack } = synth();
    assert.deepEqual(awsSolutionsFindings(stack), []);
  });

  it('keeps the system-of-record bucket versioned, encrypted, private, TLS-only and retained', () => {
    const { template } = synth();
    const buckets = template.findResources('AWS::S3::Bucket', {
      Properties: { VersioningConfiguration: { Status: 'Enabled' } },
    });
    assert.equal(Object.keys(buckets).length, 1, 'exactly one versioned bucket: the artifact store');
    const [logicalId, bucket] = Object.entries(buckets)[0] ?? [];
    assert.ok(logicalId && bucket);
    assert.equal(bucket.DeletionPolicy, 'Retain');
    assert.equal(bucket.UpdateReplacePolicy, 'Retain');
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'artifact-store/' }),
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({
              Status: 'Enabled',
              NoncurrentVersionExpiration: { NoncurrentDays: 90 },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
            }),
          ]),
        },
      }),
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('exposes its resource prefix and source as typed props', () => {
    const { stack } = synth();
    assert.equal(stack.resourcePrefix, 'ballast');
    assert.deepEqual(stack.source, { type: 'codecommit', repositoryName: 'model-repo' });
  });
});

describe('ArtifactStore', () => {
  it('honours removal policy and noncurrent-version retention overrides', () => {
    const stack = new Stack(new App(), 'S');
    new ArtifactStore(stack, 'Store', { removalPolicy: RemovalPolicy.DESTROY });
    const template = Template.fromStack(stack);
    const buckets = Object.values(template.findResources('AWS::S3::Bucket'));
    assert.equal(buckets.length, 2);
    for (const bucket of buckets) assert.equal(bucket.DeletionPolicy, 'Delete');
  });

  it('leaves cdk-nag findings visible next to it (the nag check can fail)', () => {
    const stack = new Stack(new App(), 'Unacknowledged');
    new ArtifactStore(stack, 'Store');
    // A bucket without access logs and without an acknowledgement must be reported.
    new Bucket(stack, 'Plain', { enforceSSL: true });
    const findings = awsSolutionsFindings(stack);
    assert.ok(
      findings.some((f) => f.rule === 'AwsSolutions-S1' && f.path.includes('Plain')),
      `expected AwsSolutions-S1 on Plain in ${JSON.stringify(findings)}`,
    );
    assert.ok(!findings.some((f) => f.path.includes('Store')), 'the store itself stays clean');
  });
});
