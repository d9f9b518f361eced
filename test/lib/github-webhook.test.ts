import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { GitHubWebhook, type GitHubWebhookProps } from '../../lib/github-webhook.ts';
import { awsSolutionsFindings } from '../support/nag.ts';
import { actionsOf, flat, statementsOfRole, testStack } from './fixtures/stacks.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:111122223333:stateMachine:ballast-deploy';

function synth(props: Partial<GitHubWebhookProps> = {}) {
  const stack = testStack();
  const bucket = s3.Bucket.fromBucketName(stack, 'Store', 'ballast-store');
  const stateMachine = sfn.StateMachine.fromStateMachineArn(stack, 'Workflow', STATE_MACHINE_ARN);
  const webhook = new GitHubWebhook(stack, 'Webhook', {
    repository: 'acme/models',
    webhookSecretName: 'ballast/webhook',
    bucket,
    stateMachine,
    ...props,
  });
  return { stack, webhook, template: Template.fromStack(stack) };
}

describe('GitHubWebhook', () => {
  it('is a Function URL without IAM auth (GitHub cannot sign with SigV4), output as the payload URL', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    const outputs = template.findOutputs('*');
    const url = Object.entries(outputs).find(([id]) => id.startsWith('WebhookWebhookUrl'));
    assert.ok(url, `a WebhookUrl output in ${Object.keys(outputs).join(', ')}`);
    assert.deepEqual(Object.keys(url[1].Value), ['Fn::GetAtt']);
    assert.equal(url[1].Value['Fn::GetAtt'][1], 'FunctionUrl');
  });

  it('caps its concurrency, so a flood of requests is bounded', () => {
    template().hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 10 });
    synth({ reservedConcurrentExecutions: 2 }).template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 2,
    });
  });

  it('runs the github-webhook handler with the settings it reads', () => {
    template().hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Environment: {
        Variables: {
          POWERTOOLS_SERVICE_NAME: 'ballast',
          BALLAST_STATE_BUCKET: 'ballast-store',
          BALLAST_GITHUB_REPOSITORY: 'acme/models',
          BALLAST_GITHUB_WEBHOOK_SECRET_NAME: 'ballast/webhook',
          BALLAST_DEPLOY_STATE_MACHINE_ARN: STATE_MACHINE_ARN,
          BALLAST_GITHUB_MAX_DELIVERY_AGE_SECONDS: '600',
        },
      },
    });
  });

  it('may read its secret, record deliveries and start the workflow, and nothing more', () => {
    const statements = statementsOfRole(template(), 'WebhookHandlerServiceRole').filter(
      (s) => !actionsOf(s).some((a) => a.startsWith('logs:') || a.startsWith('xray:')),
    );
    assert.deepEqual(
      statements.map((s) => ({ actions: actionsOf(s).sort(), resources: [s.Resource].flat().map(flat) })),
      [
        {
          actions: ['secretsmanager:GetSecretValue'],
          resources: ['arn:<AWS::Partition>:secretsmanager:us-east-1:111122223333:secret:ballast/webhook-??????'],
        },
        {
          actions: ['s3:GetObject', 's3:PutObject'],
          resources: ['arn:<AWS::Partition>:s3:::ballast-store/deliveries/*'],
        },
        { actions: ['s3:ListBucket'], resources: ['arn:<AWS::Partition>:s3:::ballast-store'] },
        { actions: ['states:StartExecution'], resources: [STATE_MACHINE_ARN] },
      ],
    );
  });

  it('is clean under cdk-nag AwsSolutions', () => {
    assert.deepEqual(awsSolutionsFindings(synth().stack), []);
  });
});

function template(): Template {
  return synth().template;
}
