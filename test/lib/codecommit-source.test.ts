import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { CodeCommitSource, type CodeCommitSourceProps } from '../../lib/codecommit-source.ts';
import { awsSolutionsFindings } from '../support/nag.ts';
import { flat, testStack } from './fixtures/stacks.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:111122223333:stateMachine:ballast-deploy';

function synth(props: Partial<CodeCommitSourceProps> = {}) {
  const stack = testStack();
  const stateMachine = sfn.StateMachine.fromStateMachineArn(stack, 'Workflow', STATE_MACHINE_ARN);
  const source = new CodeCommitSource(stack, 'Source', { repositoryName: 'model-repo', stateMachine, ...props });
  return { stack, source, template: Template.fromStack(stack) };
}

describe('CodeCommitSource', () => {
  it('starts the workflow on branch pushes to the repository, with the raw event as input', () => {
    const { template } = synth();
    const rules = Object.values(template.findResources('AWS::Events::Rule'));
    assert.equal(rules.length, 1);
    const rule = rules[0]?.Properties;
    assert.deepEqual(rule.EventPattern.source, ['aws.codecommit']);
    assert.deepEqual(rule.EventPattern['detail-type'], ['CodeCommit Repository State Change']);
    assert.deepEqual(rule.EventPattern.detail, {
      event: ['referenceCreated', 'referenceUpdated'],
      referenceType: ['branch'],
    });
    assert.deepEqual(rule.EventPattern.resources.map(flat), [
      'arn:<AWS::Partition>:codecommit:us-east-1:111122223333:model-repo',
    ]);
    const [target, ...more] = rule.Targets;
    assert.equal(more.length, 0);
    assert.equal(target.Arn, STATE_MACHINE_ARN);
    // No Input / InputPath / InputTransformer: the execution input is the event itself.
    assert.equal(target.Input, undefined);
    assert.equal(target.InputPath, undefined);
    assert.equal(target.InputTransformer, undefined);
    assert.deepEqual(target.RetryPolicy, { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 });
    assert.ok(target.DeadLetterConfig?.Arn);
  });

  it('lets EventBridge start executions of exactly that state machine', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [{ Action: 'states:StartExecution', Effect: 'Allow', Resource: STATE_MACHINE_ARN }],
      },
    });
  });

  it('keeps undeliverable pushes in an encrypted, TLS-only dead-letter queue and alarms on it', () => {
    const stack = testStack();
    const stateMachine = sfn.StateMachine.fromStateMachineArn(stack, 'Workflow', STATE_MACHINE_ARN);
    const topic = new sns.Topic(stack, 'Topic', { enforceSSL: true });
    new CodeCommitSource(stack, 'Source', {
      repositoryName: 'model-repo',
      stateMachine,
      alarmTopic: topic,
      maxEventAge: Duration.hours(2),
      retryAttempts: 10,
    });
    const template = Template.fromStack(stack);
    const queues = template.findResources('AWS::SQS::Queue');
    const [queueId, queue] = Object.entries(queues)[0] ?? [];
    assert.ok(queueId && queue);
    assert.equal(queue.Properties.SqsManagedSseEnabled, true);
    assert.equal(queue.Properties.MessageRetentionPeriod, 1209600);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
          RetryPolicy: { MaximumEventAgeInSeconds: 7200, MaximumRetryAttempts: 10 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic) }],
    });
  });

  it('uses an existing repository by default and creates it when asked', () => {
    assert.deepEqual(synth().template.findResources('AWS::CodeCommit::Repository'), {});
    const { template } = synth({ createRepository: true });
    template.resourceCountIs('AWS::CodeCommit::Repository', 1);
    template.hasResourceProperties('AWS::CodeCommit::Repository', { RepositoryName: 'model-repo' });
    const rule = Object.values(template.findResources('AWS::Events::Rule'))[0]?.Properties;
    assert.deepEqual(rule.EventPattern.resources, [
      { 'Fn::GetAtt': [Object.keys(template.findResources('AWS::CodeCommit::Repository'))[0], 'Arn'] },
    ]);
  });

  it('is clean under cdk-nag AwsSolutions', () => {
    assert.deepEqual(awsSolutionsFindings(synth({ createRepository: true }).stack), []);
  });
});
