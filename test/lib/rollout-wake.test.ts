import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { WAKING_STATUSES } from '../../lambdas/state/wake.ts';
import { RolloutWake, type RolloutWakeProps } from '../../lib/rollout-wake.ts';
import { WAKE_FUNCTION } from '../../lib/workflow-steps.ts';
import { awsSolutionsFindings } from '../support/nag.ts';
import { actionsOf, flat, statementsOfRole, testStack } from './fixtures/stacks.ts';

function synth(props: Partial<RolloutWakeProps> & { topic?: boolean } = {}) {
  const stack = testStack();
  const bucket = s3.Bucket.fromBucketName(stack, 'Store', 'ballast-store');
  const alarmTopic = props.topic ? new sns.Topic(stack, 'Topic', { enforceSSL: true }) : undefined;
  const wake = new RolloutWake(stack, 'Wake', {
    bucket,
    resourcePrefix: 'ballast',
    ...(alarmTopic ? { alarmTopic } : {}),
    ...props,
  });
  return { stack, wake, template: Template.fromStack(stack), alarmTopic };
}

describe('RolloutWake', () => {
  it("rules on SageMaker's two endpoint events, for endpoints under the prefix that are InService or Failed again", () => {
    const { template } = synth();
    const rules = Object.values(template.findResources('AWS::Events::Rule'));
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0]?.Properties.EventPattern, {
      source: ['aws.sagemaker'],
      'detail-type': ['SageMaker Endpoint State Change', 'SageMaker Endpoint Deployment State Change'],
      detail: { EndpointName: [{ prefix: 'ballast-' }], EndpointStatus: ['IN_SERVICE', 'FAILED'] },
    });
    assert.deepEqual(
      rules[0]?.Properties.EventPattern.detail.EndpointStatus,
      [...WAKING_STATUSES],
      'the statuses the handler wakes on',
    );
    const custom = synth({ resourcePrefix: 'acme-ml' }).template;
    custom.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { EndpointName: [{ prefix: 'acme-ml-' }] } },
    });
  });

  it('targets the Wake function, retrying delivery for at most an hour (the longest wait)', () => {
    const { stack, wake, template } = synth();
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          Arn: stack.resolve(wake.function.function.functionArn),
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 8 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumEventAgeInSeconds: 3600,
      MaximumRetryAttempts: 2,
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
    });
    synth({ maxEventAge: Duration.minutes(15) }).template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [Match.objectLike({ RetryPolicy: Match.objectLike({ MaximumEventAgeInSeconds: 900 }) })],
    });
  });

  it('runs the wake handler with the settings it reads', () => {
    synth().template.hasResourceProperties('AWS::Lambda::Function', {
      Description: WAKE_FUNCTION.description,
      Timeout: WAKE_FUNCTION.timeoutSeconds,
      Environment: {
        Variables: {
          POWERTOOLS_SERVICE_NAME: 'ballast',
          BALLAST_STATE_BUCKET: 'ballast-store',
          BALLAST_RESOURCE_PREFIX: 'ballast',
        },
      },
    });
  });

  it('may read the parked tokens and answer tasks with SendTaskSuccess, and nothing more', () => {
    const statements = statementsOfRole(synth().template, 'WakeHandlerServiceRole').filter(
      (s) => !actionsOf(s).some((a) => a.startsWith('logs:') || a.startsWith('xray:')),
    );
    assert.deepEqual(
      statements.map((s) => ({ actions: actionsOf(s).sort(), resources: [s.Resource].flat().map(flat) })),
      [
        { actions: ['s3:GetObject'], resources: ['arn:<AWS::Partition>:s3:::ballast-store/wake/*'] },
        { actions: ['s3:ListBucket'], resources: ['arn:<AWS::Partition>:s3:::ballast-store'] },
        // No resource type in the Service Authorization Reference: "*". Not SendTaskFailure or SendTaskHeartbeat.
        { actions: ['states:SendTaskSuccess'], resources: ['*'] },
      ],
    );
  });

  it("alarms on Wake's errors, notifying the alarm topic", () => {
    const { template, stack, alarmTopic } = synth({ topic: true });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Threshold: 1,
      AlarmActions: [stack.resolve(alarmTopic?.topicArn)],
    });
  });

  it('passes cdk-nag (AwsSolutions), with the wildcard acknowledged for its reason', () => {
    const { stack } = synth();
    assert.deepEqual(awsSolutionsFindings(stack), []);
  });
});
