import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ArtifactStore } from '../../lib/artifact-store.ts';
import { BallastStack } from '../../lib/ballast-stack.ts';
import { awsSolutionsFindings } from '../support/nag.ts';
import { ballastStack, GITHUB } from './fixtures/stacks.ts';

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
            // The reconciler's batches live for a run; both their versions go after a day.
            {
              Id: 'expire-reconcile-runs',
              Status: 'Enabled',
              Prefix: 'reconcile/runs/',
              ExpirationInDays: 1,
              NoncurrentVersionExpiration: { NoncurrentDays: 1 },
            },
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

  it('outputs the reconcile state machine and the dashboard, and ticks the reconciler every minute by default', () => {
    const { stack, template } = synth();
    const outputs = template.findOutputs('*');
    assert.deepEqual(
      outputs.ReconcileStateMachineArn?.Value,
      stack.resolve(stack.reconcileWorkflow.stateMachine.stateMachineArn),
    );
    assert.deepEqual(outputs.DashboardName?.Value, stack.resolve(stack.dashboard.dashboard.dashboardName));
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
    });
  });

  it('exposes its resource prefix and source as typed props', () => {
    const { stack } = synth();
    assert.equal(stack.resourcePrefix, 'ballast');
    assert.deepEqual(stack.source, { type: 'codecommit', repositoryName: 'model-repo' });
  });

  it('passes cdk-nag AwsSolutions with a GitHub source, artifact buckets and an alarm email too', () => {
    const { stack } = ballastStack({
      source: GITHUB,
      artifactSourceBuckets: ['acme-model-artifacts'],
      alarmEmail: 'ml-platform@example.com',
    });
    assert.deepEqual(awsSolutionsFindings(stack), []);
    const created = ballastStack({ source: { type: 'codecommit', repositoryName: 'm', createRepository: true } });
    assert.deepEqual(awsSolutionsFindings(created.stack), []);
  });

  it('wires a CodeCommit source: the push rule starts the workflow; no public URL', () => {
    const { stack, template } = synth();
    assert.ok(stack.codeCommitSource && !stack.gitHubWebhook);
    // The deploy, rollback and reconcile workflows; their steps and Wake.
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 3);
    template.resourceCountIs('AWS::Lambda::Function', 20);
    template.resourceCountIs('AWS::Lambda::Url', 0);
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [Match.objectLike({ Arn: stack.resolve(stack.deployWorkflow.stateMachine.stateMachineArn) })],
    });
  });

  it('wires a GitHub source: the webhook function behind a Function URL; no CodeCommit rule', () => {
    const { stack, template } = ballastStack({ source: GITHUB });
    assert.ok(stack.gitHubWebhook && !stack.codeCommitSource);
    template.resourceCountIs('AWS::Lambda::Function', 21);
    template.resourceCountIs('AWS::Lambda::Url', 1);
    // The rollback workflow's rule on alarms and Wake's on SageMaker's endpoint events: no CodeCommit push rule.
    template.resourceCountIs('AWS::Events::Rule', 2);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['aws.sagemaker'] }),
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { state: { value: ['ALARM'] } },
      },
      Targets: [Match.objectLike({ Arn: stack.resolve(stack.rollbackWorkflow.stateMachine.stateMachineArn) })],
    });
    assert.equal(Object.keys(template.findOutputs('*')).filter((id) => id.includes('WebhookUrl')).length, 1);
  });

  it('creates an encrypted, TLS-only alarm topic for an alarm email, and every alarm notifies it', () => {
    const { template } = ballastStack({ alarmEmail: 'ml-platform@example.com' });
    const [topicId, topic] = Object.entries(template.findResources('AWS::SNS::Topic'))[0] ?? [];
    assert.ok(topicId && topic);
    assert.ok(topic.Properties.KmsMasterKeyId, 'encrypted with a customer managed key');
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ml-platform@example.com',
      TopicArn: { Ref: topicId },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    assert.equal(
      alarms.length,
      12,
      'deploy: failed, timed out, aborted, failed deployments; push dead letters; Wake errors; rollback: failed, ' +
        'timed out, dead letters; reconcile: failed, timed out, undelivered ticks',
    );
    for (const alarm of alarms) assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: topicId }]);
    // The rollback workflow's Finish tells the topic about rollbacks: it may publish there, with a
    // data key of the topic's key, and nowhere else.
    const finish = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) =>
      id.startsWith('FunctionsFinishServiceRoleDefaultPolicy'),
    )?.[1];
    const statements = (finish?.Properties.PolicyDocument.Statement ?? []) as Array<{
      Action: unknown;
      Resource: unknown;
    }>;
    const publish = statements.filter((st) => JSON.stringify(st.Action).includes('sns:'));
    assert.equal(publish.length, 1, 'one statement names SNS');
    assert.equal((publish[0] as { Action: unknown } | undefined)?.Action, 'sns:Publish');
    assert.deepEqual((publish[0] as { Resource: unknown } | undefined)?.Resource, { Ref: topicId });
  });

  it('uses a given alarm topic instead of creating one', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const shared = new Stack(app, 'Shared', { env: { account: '111122223333', region: 'us-east-1' } });
    const topic = new sns.Topic(shared, 'Ops', { enforceSSL: true });
    const stack = new BallastStack(app, 'Ballast', {
      source: { type: 'codecommit', repositoryName: 'model-repo' },
      env: { account: '111122223333', region: 'us-east-1' },
      alarmTopic: topic,
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Topic', 0);
    assert.equal(stack.alarmTopic, topic);
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      assert.equal(alarm.Properties.AlarmActions.length, 1);
    }
  });

  it('matches the snapshot (asset hashes masked)', () => {
    for (const [name, props] of [
      ['codecommit', {}],
      ['github', { source: GITHUB, artifactSourceBuckets: ['acme-model-artifacts'], alarmEmail: 'ops@example.com' }],
    ] as const) {
      matchesSnapshot(`ballast-stack.${name}`, ballastStack(props).template.toJSON());
    }
  });
});

const SNAPSHOTS = fileURLToPath(new URL('./__snapshots__/', import.meta.url));

/**
 * Compares a template with its stored snapshot; asset hashes (which change with every handler
 * edit) are masked. A missing snapshot is written (outside CI); `UPDATE_SNAPSHOTS=1` rewrites them.
 */
function matchesSnapshot(name: string, template: unknown): void {
  const file = `${SNAPSHOTS}${name}.json`;
  const actual = `${JSON.stringify(template, null, 2).replace(/[0-9a-f]{64}/g, '<asset-hash>')}\n`;
  if (process.env.UPDATE_SNAPSHOTS === '1' || (!existsSync(file) && !process.env.CI)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `snapshot ${file} is missing; run the tests with UPDATE_SNAPSHOTS=1 and commit it`);
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs from its snapshot (UPDATE_SNAPSHOTS=1 to accept)`);
}

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
