import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { SageMakerExecutionRole } from '../../lib/sagemaker-execution-role.ts';
import { awsSolutionsFindings } from '../support/nag.ts';
import {
  actionsOf,
  ballastStack,
  flat,
  GITHUB,
  resourcesOf,
  type Statement,
  statementsAllowing,
  statementsOfRole,
  testStack,
} from './fixtures/stacks.ts';

const STORE = '<ArtifactStoreBucket47CE7D81.Arn>';
const REGION_ACCOUNT = 'us-east-1:111122223333';
const sagemakerArn = (type: string, prefix = 'ballast') =>
  `arn:<AWS::Partition>:sagemaker:${REGION_ACCOUNT}:${type}/${prefix}-*`;

/** Every statement of every IAM policy in the template. */
function allStatements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) => p.Properties.PolicyDocument.Statement as Statement[],
  );
}

/** S3 object access of a role as { action: [prefixes of the store, sorted] }. */
function storeAccess(template: Template, rolePrefix: string): Record<string, string[]> {
  const access: Record<string, string[]> = {};
  for (const statement of statementsOfRole(template, rolePrefix)) {
    for (const action of actionsOf(statement).filter((a) => a.startsWith('s3:'))) {
      for (const resource of resourcesOf(statement).map(flat)) {
        if (!resource.startsWith(STORE)) continue;
        const where = resource === STORE ? '(bucket)' : resource.slice(STORE.length + 1);
        access[action] = [...(access[action] ?? []), where].sort();
      }
    }
  }
  return access;
}

const FUNCTIONS = ['Resolve', 'Validate', 'Lease', 'Register', 'Deploy', 'CheckRollout', 'Verify', 'Record'];
const role = (step: string) => `Functions${step}ServiceRole`;

describe('least privilege', () => {
  const { template, stack } = ballastStack({ artifactSourceBuckets: ['acme-model-artifacts'] });
  const github = ballastStack({ source: GITHUB });

  it('grants no service-wide or wildcard actions (no s3:*, sagemaker:*, ...)', () => {
    for (const t of [template, github.template]) {
      const wildcards = allStatements(t)
        .filter((s) => s.Effect === 'Allow')
        .flatMap(actionsOf)
        .filter((a) => a.includes('*'));
      assert.deepEqual(wildcards, []);
    }
  });

  it('uses Resource "*" only for actions that support no resource-level permissions (or need it)', () => {
    const allowed = new Set([
      'xray:PutTraceSegments',
      'xray:PutTelemetryRecords',
      'xray:GetSamplingRules',
      'xray:GetSamplingTargets',
      // Step Functions' vended-log delivery to CloudWatch Logs.
      'logs:CreateLogDelivery',
      'logs:GetLogDelivery',
      'logs:UpdateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:DescribeResourcePolicies',
      'logs:DescribeLogGroups',
      'ecr:GetAuthorizationToken',
      'sagemaker:ListModels',
      'sagemaker:ListEndpointConfigs',
      'cloudwatch:PutMetricData',
      'cloudwatch:DescribeAlarms',
    ]);
    for (const t of [template, github.template]) {
      for (const statement of allStatements(t).filter((s) => resourcesOf(s).includes('*'))) {
        for (const action of actionsOf(statement)) assert.ok(allowed.has(action), `${action} on "*"`);
        if (actionsOf(statement).includes('cloudwatch:PutMetricData')) {
          assert.ok(statement.Condition?.StringEquals?.['cloudwatch:namespace'], 'PutMetricData is namespace-bound');
        }
      }
    }
  });

  it('scopes every SageMaker permission to the resource prefix, per function', () => {
    const sagemaker = (step: string) =>
      statementsOfRole(template, role(step))
        .filter((s) => actionsOf(s).some((a) => a.startsWith('sagemaker:')))
        .map((s) => ({ actions: actionsOf(s).sort(), resources: resourcesOf(s).map(flat).sort() }));
    assert.deepEqual(sagemaker('Deploy'), [
      {
        actions: [
          'sagemaker:AddTags',
          'sagemaker:CreateEndpoint',
          'sagemaker:CreateEndpointConfig',
          'sagemaker:CreateModel',
          'sagemaker:DeleteEndpoint',
          'sagemaker:DescribeEndpoint',
          'sagemaker:DescribeEndpointConfig',
          'sagemaker:DescribeModel',
          'sagemaker:UpdateEndpoint',
        ],
        resources: [sagemakerArn('endpoint'), sagemakerArn('endpoint-config'), sagemakerArn('model')].sort(),
      },
    ]);
    for (const step of ['CheckRollout', 'Verify']) {
      assert.deepEqual(sagemaker(step), [
        {
          actions: ['sagemaker:DescribeEndpoint', 'sagemaker:DescribeEndpointConfig'],
          resources: [sagemakerArn('endpoint'), sagemakerArn('endpoint-config')].sort(),
        },
      ]);
    }
    assert.deepEqual(sagemaker('Record'), [
      {
        actions: ['sagemaker:DeleteEndpointConfig', 'sagemaker:DeleteModel'],
        resources: [sagemakerArn('endpoint-config'), sagemakerArn('model')],
      },
      { actions: ['sagemaker:ListEndpointConfigs', 'sagemaker:ListModels'], resources: ['*'] },
    ]);
    for (const step of ['Resolve', 'Validate', 'Lease', 'Register']) assert.deepEqual(sagemaker(step), [], step);
  });

  it('follows a custom resource prefix', () => {
    const custom = ballastStack({ resourcePrefix: 'acme-ml' }).template;
    const [statement] = statementsAllowing(custom, role('Deploy'), 'sagemaker:CreateModel');
    assert.deepEqual(
      resourcesOf(statement as Statement)
        .map(flat)
        .sort(),
      [
        sagemakerArn('endpoint', 'acme-ml'),
        sagemakerArn('endpoint-config', 'acme-ml'),
        sagemakerArn('model', 'acme-ml'),
      ].sort(),
    );
  });

  it('lets only Deploy pass only the SageMaker execution role, only to SageMaker', () => {
    const passRole = allStatements(template).filter((s) => actionsOf(s).includes('iam:PassRole'));
    assert.equal(passRole.length, 1);
    assert.equal(statementsAllowing(template, role('Deploy'), 'iam:PassRole').length, 1);
    const [statement] = passRole;
    const sagemakerRoleId = Object.keys(template.findResources('AWS::IAM::Role')).find((id) =>
      id.startsWith('SageMakerExecutionRole'),
    );
    assert.deepEqual(statement?.Resource, { 'Fn::GetAtt': [sagemakerRoleId, 'Arn'] });
    assert.deepEqual(statement?.Condition, { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } });
  });

  it('grants each function exactly its key prefixes of the store', () => {
    const expected: Record<string, Record<string, string[]>> = {
      Resolve: { 's3:GetObject': ['commits/*'], 's3:PutObject': ['commits/*'], 's3:ListBucket': ['(bucket)'] },
      Validate: {
        's3:GetObject': ['commits/*', 'pointers/*', 'state/*'],
        's3:PutObject': ['commits/*'],
        's3:ListBucket': ['(bucket)'],
      },
      Lease: { 's3:GetObject': ['state/*'], 's3:PutObject': ['state/*'], 's3:ListBucket': ['(bucket)'] },
      Register: {
        's3:GetObject': ['artifacts/*', 'commits/*', 'pointers/*', 'state/*'],
        's3:PutObject': ['artifacts/*', 'pointers/*'],
        's3:PutObjectTagging': ['artifacts/*'],
        's3:ListBucket': ['(bucket)'],
      },
      Deploy: { 's3:GetObject': ['commits/*', 'pointers/*', 'state/*'], 's3:ListBucket': ['(bucket)'] },
      CheckRollout: {},
      Verify: {},
      Record: {
        's3:GetObject': ['pointers/*', 'state/*'],
        's3:PutObject': ['ledger/*', 'pointers/*', 'state/*'],
        's3:ListBucket': ['(bucket)'],
      },
    };
    for (const step of FUNCTIONS) assert.deepEqual(storeAccess(template, role(step)), expected[step], step);
    assert.deepEqual(storeAccess(github.template, 'GitHubWebhookHandlerServiceRole'), {
      's3:GetObject': ['deliveries/*'],
      's3:PutObject': ['deliveries/*'],
      's3:ListBucket': ['(bucket)'],
    });
  });

  it('lets only Register read the artifact source buckets', () => {
    const readers = FUNCTIONS.filter((step) =>
      statementsOfRole(template, role(step)).some((s) =>
        resourcesOf(s)
          .map(flat)
          .some((r) => r.includes('acme-model-artifacts')),
      ),
    );
    assert.deepEqual(readers, ['Register']);
    const [statement] = statementsAllowing(template, role('Register'), 's3:GetObjectVersion');
    assert.deepEqual(resourcesOf(statement as Statement).map(flat), [
      'arn:<AWS::Partition>:s3:::acme-model-artifacts/*',
    ]);
    assert.deepEqual(actionsOf(statement as Statement).sort(), [
      's3:GetObject',
      's3:GetObjectTagging',
      's3:GetObjectVersion',
      's3:GetObjectVersionTagging',
    ]);
    // Without artifact source buckets, Register reads nothing outside the store.
    const none = ballastStack().template;
    const outside = statementsOfRole(none, role('Register'))
      .flatMap((s) => resourcesOf(s).map(flat))
      .filter((r) => r.includes(':s3:::'));
    assert.deepEqual(outside, []);
  });

  it('scopes source access to the one repository or the one token secret', () => {
    const repo = `arn:<AWS::Partition>:codecommit:${REGION_ACCOUNT}:model-repo`;
    const codecommit = (t: Template, step: string) =>
      statementsOfRole(t, role(step))
        .filter((s) => actionsOf(s).some((a) => a.startsWith('codecommit:')))
        .map((s) => ({ actions: actionsOf(s).sort(), resources: resourcesOf(s).map(flat) }));
    assert.deepEqual(codecommit(template, 'Resolve'), [
      {
        actions: [
          'codecommit:GetBlob',
          'codecommit:GetBranch',
          'codecommit:GetCommit',
          'codecommit:GetFile',
          'codecommit:GetFolder',
        ],
        resources: [repo],
      },
    ]);
    assert.deepEqual(codecommit(template, 'Record'), [
      { actions: ['codecommit:GetCommit', 'codecommit:PostCommentForComparedCommit'], resources: [repo] },
    ]);
    const secretReaders = (t: Template) =>
      FUNCTIONS.filter((step) => statementsAllowing(t, role(step), 'secretsmanager:GetSecretValue').length > 0);
    assert.deepEqual(secretReaders(template), []);
    assert.deepEqual(secretReaders(github.template), ['Resolve', 'Record']);
    for (const step of ['Resolve', 'Record']) {
      const [statement] = statementsAllowing(github.template, role(step), 'secretsmanager:GetSecretValue');
      assert.deepEqual(resourcesOf(statement as Statement).map(flat), [
        `arn:<AWS::Partition>:secretsmanager:${REGION_ACCOUNT}:secret:ballast/github-token-??????`,
      ]);
    }
    assert.deepEqual(
      FUNCTIONS.filter((step) =>
        statementsOfRole(github.template, role(step)).some((s) =>
          actionsOf(s).some((a) => a.startsWith('codecommit:')),
        ),
      ),
      [],
    );
  });

  it('publishes metrics only into the Ballast namespace', () => {
    const [statement, ...more] = allStatements(template).filter(
      (s) => actionsOf(s).includes('cloudwatch:PutMetricData') && !flat(s.Condition).includes('sagemaker'),
    );
    assert.equal(more.length, 0);
    assert.deepEqual(statement?.Condition, { StringEquals: { 'cloudwatch:namespace': 'Ballast' } });
    assert.equal(statementsAllowing(template, role('Record'), 'cloudwatch:PutMetricData').length, 1);
  });

  it('the whole stack is clean under cdk-nag AwsSolutions', () => {
    assert.deepEqual(awsSolutionsFindings(stack), []);
  });
});

describe('SageMakerExecutionRole', () => {
  function synth(imageRepositoryArns?: string[]) {
    const stack = testStack();
    const bucket = new s3.Bucket(stack, 'Store');
    new SageMakerExecutionRole(stack, 'Execution', { bucket, resourcePrefix: 'ballast', imageRepositoryArns });
    const template = Template.fromStack(stack);
    const bucketArn = `<${stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>`;
    const statements = statementsOfRole(template, 'ExecutionRole').map((s) => ({
      actions: actionsOf(s).sort(),
      resources: resourcesOf(s).map(flat),
      ...(s.Condition ? { condition: s.Condition } : {}),
    }));
    return { stack, template, bucketArn, statements };
  }

  it('is assumed only by SageMaker, on behalf of this account', () => {
    const { template } = synth();
    const roles = Object.values(template.findResources('AWS::IAM::Role'));
    assert.deepEqual(roles[0]?.Properties.AssumeRolePolicyDocument.Statement, [
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'sagemaker.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': '111122223333' } },
      },
    ]);
    assert.equal(roles[0]?.Properties.ManagedPolicyArns, undefined);
  });

  it('reads artifacts, pulls images, writes its endpoints logs and metrics; nothing else', () => {
    const { statements, bucketArn } = synth();
    assert.deepEqual(statements, [
      { actions: ['s3:GetObject'], resources: [`${bucketArn}/artifacts/*`] },
      { actions: ['ecr:GetAuthorizationToken'], resources: ['*'] },
      {
        actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: ['arn:<AWS::Partition>:ecr:*:*:repository/*'],
      },
      {
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
        resources: [`arn:<AWS::Partition>:logs:${REGION_ACCOUNT}:log-group:/aws/sagemaker/Endpoints/ballast-*`],
      },
      {
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        condition: { StringEquals: { 'cloudwatch:namespace': '/aws/sagemaker/Endpoints' } },
      },
    ]);
  });

  it('narrows image pulls to the repositories given', () => {
    const repository = 'arn:aws:ecr:us-east-1:111122223333:repository/acme/serving';
    const { statements, stack } = synth([repository]);
    const pull = statements.find((s) => s.actions.includes('ecr:BatchGetImage'));
    assert.deepEqual(pull?.resources, [repository]);
    assert.deepEqual(
      awsSolutionsFindings(stack).filter((f) => f.path.includes('Execution')),
      [],
      'no wildcard is left for the repositories, and none is needed',
    );
  });

  it('is clean under cdk-nag AwsSolutions, each wildcard acknowledged with its reason', () => {
    const { stack } = synth();
    assert.deepEqual(
      awsSolutionsFindings(stack).filter((f) => f.path.includes('Execution')),
      [],
    );
  });
});
