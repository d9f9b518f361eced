import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ROLLBACK_DETAIL_TYPE } from '../../lambdas/handlers/rollback-finish.ts';
import { DRIFT_DETAIL_TYPE, PRUNED_DETAIL_TYPE, REMOVED_DETAIL_TYPE } from '../../lambdas/reconcile/check.ts';
import { SageMakerExecutionRole } from '../../lib/sagemaker-execution-role.ts';
import {
  DEPLOY_STEPS,
  RECONCILE_STEPS,
  ROLLBACK_STEPS,
  type RollbackStepName,
  type StepName,
  type WorkflowStep,
} from '../../lib/workflow-steps.ts';
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

/** Both workflows' steps; the rollback workflow's are named `rollback:<step>`. */
const STEPS: Array<[string, WorkflowStep]> = [
  ...Object.entries(DEPLOY_STEPS),
  ...Object.entries(ROLLBACK_STEPS).map(([name, step]) => [`rollback:${name}`, step] as [string, WorkflowStep]),
  ...Object.entries(RECONCILE_STEPS).map(([name, step]) => [`reconcile:${name}`, step] as [string, WorkflowStep]),
];
/** A step's construct id under Functions/: its placeholder, prefixed for the reconcile workflow (which has a Finish too). */
const idOf = (name: string, step: WorkflowStep) =>
  name.startsWith('reconcile:') ? `Reconcile${step.placeholder}` : step.placeholder;
const FUNCTIONS = STEPS.map(([name, step]) => idOf(name, step));
const role = (placeholder: string) => `Functions${placeholder}ServiceRole`;
/** A function's ARN as the flattened statements show it. */
function arnOf(fn: lambda.IFunction): string {
  const stack = Stack.of(fn);
  return `<${stack.getLogicalId((fn as lambda.Function).node.defaultChild as lambda.CfnFunction)}.Arn>`;
}
const REPOSITORY = `arn:<AWS::Partition>:codecommit:${REGION_ACCOUNT}:model-repo`;
const TOKEN_SECRET = `arn:<AWS::Partition>:secretsmanager:${REGION_ACCOUNT}:secret:ballast/github-token-??????`;
const DEPLOY_STATE_MACHINE = `arn:<AWS::Partition>:states:${REGION_ACCOUNT}:stateMachine:Ballast-deploy`;

/** A statement reduced to what least privilege is about, with its lists sorted. */
interface Grant {
  readonly actions: string[];
  readonly resources: string[];
  readonly condition?: Record<string, Record<string, unknown>>;
}
function grant(actions: readonly string[], resources: readonly string[], condition?: Grant['condition']): Grant {
  return { actions: [...actions].sort(), resources: [...resources].sort(), ...(condition ? { condition } : {}) };
}
const byJson = (a: Grant, b: Grant) => JSON.stringify(a).localeCompare(JSON.stringify(b));

/** The statements of a function's role, without the logs and tracing every function has. */
function grantsOf(template: Template, placeholder: string): Grant[] {
  return statementsOfRole(template, role(placeholder))
    .map((s) => grant(actionsOf(s), resourcesOf(s).map(flat), s.Condition))
    .filter((g) => !g.actions.every((a) => a.startsWith('xray:') || a.startsWith('logs:')))
    .sort(byJson);
}

/**
 * What the manifest's permissions for a step mean as IAM statements, written out with literal
 * ARNs: an independent reading of DEPLOY_STEPS against which the synthesized roles are compared.
 */
interface Configured {
  readonly artifactBuckets?: readonly string[];
  readonly artifactKeys?: readonly string[];
  readonly secretPrefix?: string;
  readonly secretKeys?: readonly string[];
}

function expectedGrants(step: WorkflowStep, source: 'codecommit' | 'github', configured: Configured = {}): Grant[] {
  const artifactBuckets = configured.artifactBuckets ?? [];
  const p = step.permissions;
  const grants: Grant[] = [];
  const actionsFor = { read: ['s3:GetObject'], write: ['s3:PutObject'], readWrite: ['s3:GetObject', 's3:PutObject'] };
  for (const access of ['read', 'write', 'readWrite'] as const) {
    for (const prefix of p.store?.[access] ?? []) grants.push(grant(actionsFor[access], [`${STORE}/${prefix}*`]));
  }
  if (grants.length > 0) grants.push(grant(['s3:ListBucket'], [STORE]));
  if (p.sagemaker) {
    grants.push(
      grant(
        p.sagemaker,
        ['model', 'endpoint-config', 'endpoint'].map((type) => sagemakerArn(type)),
      ),
    );
  }
  if (p.sagemakerDescribeAny) {
    grants.push(
      grant(
        p.sagemakerDescribeAny,
        ['endpoint-config', 'model'].map((type) => `arn:<AWS::Partition>:sagemaker:${REGION_ACCOUNT}:${type}/*`),
      ),
    );
  }
  if (p.sagemakerList) grants.push(grant(p.sagemakerList, ['*']));
  if (p.passSageMakerRole) {
    grants.push(
      grant(['iam:PassRole'], ['<SageMakerExecutionRoleE9F94E59.Arn>'], {
        StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' },
      }),
    );
  }
  for (const action of p.cloudwatch ?? []) {
    if (action === 'DescribeAlarms') grants.push(grant(['cloudwatch:DescribeAlarms'], ['*']));
    if (action === 'DescribeAlarmHistory') {
      grants.push(
        grant(['cloudwatch:DescribeAlarmHistory'], [`arn:<AWS::Partition>:cloudwatch:${REGION_ACCOUNT}:alarm:*`]),
      );
    }
  }
  if (p.codecommit && source === 'codecommit') grants.push(grant(p.codecommit, [REPOSITORY]));
  if (p.githubToken && source === 'github') grants.push(grant(['secretsmanager:GetSecretValue'], [TOKEN_SECRET]));
  if (p.artifactSources) {
    for (const bucket of artifactBuckets) {
      grants.push(
        grant(
          ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectTagging', 's3:GetObjectVersionTagging'],
          [`arn:<AWS::Partition>:s3:::${bucket}/*`],
        ),
        grant(['s3:ListBucket'], [`arn:<AWS::Partition>:s3:::${bucket}`]),
      );
    }
    const keys = configured.artifactKeys ?? [];
    if (keys.length > 0)
      grants.push(grant(['kms:Decrypt'], keys, { StringLike: { 'kms:ViaService': 's3.*.amazonaws.com' } }));
  }
  if (p.artifactCopies) {
    grants.push(
      grant(['s3:PutObjectTagging', 's3:GetObjectTagging', 's3:AbortMultipartUpload'], [`${STORE}/artifacts/*`]),
    );
  }
  if (p.modelSecrets && configured.secretPrefix) {
    const action = p.modelSecrets === 'describe' ? 'secretsmanager:DescribeSecret' : 'secretsmanager:GetSecretValue';
    grants.push(
      grant([action], [`arn:<AWS::Partition>:secretsmanager:${REGION_ACCOUNT}:secret:${configured.secretPrefix}*`]),
    );
    const keys = configured.secretKeys ?? [];
    if (p.modelSecrets === 'read' && keys.length > 0) {
      grants.push(
        grant(['kms:Decrypt'], keys, { StringLike: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } }),
      );
    }
  }
  if (p.putEvents) {
    grants.push(
      grant(['events:PutEvents'], [`arn:<AWS::Partition>:events:${REGION_ACCOUNT}:event-bus/default`], {
        StringEquals: { 'events:source': 'ballast', 'events:detail-type': [...(p.putEvents ?? [])] },
      }),
    );
  }
  if (p.startDeploy) grants.push(grant(['states:StartExecution'], [DEPLOY_STATE_MACHINE]));
  if (p.scalableTargets) grants.push(grant(['application-autoscaling:DescribeScalableTargets'], ['*']));
  return grants.sort(byJson);
}

const ARTIFACT_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/0b6a5f4e-1c2d-4e3f-8a9b-0c1d2e3f4a5b';
const SECRET_KEY = 'arn:aws:kms:us-east-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef';

describe('least privilege', () => {
  it("lets each function put only the events its handler sends (the manifest names the handlers' detail-types)", () => {
    assert.deepEqual(ROLLBACK_STEPS.finish.permissions.putEvents, [ROLLBACK_DETAIL_TYPE]);
    assert.deepEqual(RECONCILE_STEPS.check.permissions.putEvents, [
      DRIFT_DETAIL_TYPE,
      REMOVED_DETAIL_TYPE,
      PRUNED_DETAIL_TYPE,
    ]);
  });

  const { template, stack } = ballastStack({ artifactSourceBuckets: ['acme-model-artifacts'] });
  const github = ballastStack({ source: GITHUB });
  const encrypted = ballastStack({
    artifactSourceBuckets: ['acme-model-artifacts'],
    artifactKmsKeys: [ARTIFACT_KEY],
    secretPrefix: 'acme-ml/',
    secretKmsKeys: [SECRET_KEY],
  });

  it('grants each function exactly the statements its manifest permissions describe, statement by statement', () => {
    assert.ok(STEPS.length > 0, 'the manifest has steps');
    for (const [t, source, configured] of [
      [template, 'codecommit', { artifactBuckets: ['acme-model-artifacts'] }],
      [github.template, 'github', {}],
      [
        encrypted.template,
        'codecommit',
        {
          artifactBuckets: ['acme-model-artifacts'],
          artifactKeys: [ARTIFACT_KEY],
          secretPrefix: 'acme-ml/',
          secretKeys: [SECRET_KEY],
        },
      ],
    ] as const) {
      for (const [name, step] of STEPS) {
        assert.deepEqual(
          grantsOf(t, idOf(name, step)),
          expectedGrants(step, source, configured),
          `${name} (${source})`,
        );
      }
    }
  });

  it('lets only Validate and RegisterFiles decrypt SSE-KMS artifacts, and only through S3 of any region', () => {
    const decrypting = STEPS.filter(([name, step]) =>
      statementsAllowing(encrypted.template, role(idOf(name, step)), 'kms:Decrypt').some((s) =>
        resourcesOf(s).includes(ARTIFACT_KEY),
      ),
    ).map(([name]) => name);
    assert.deepEqual(decrypting.sort(), ['registerFiles', 'validate']);
    const [statement] = statementsAllowing(encrypted.template, role('RegisterFiles'), 'kms:Decrypt');
    assert.deepEqual(statement?.Condition, { StringLike: { 'kms:ViaService': 's3.*.amazonaws.com' } });
  });

  it('lets the SageMaker execution role read exactly the secrets under the prefix, and list only pinned directories', () => {
    const [secrets] = statementsAllowing(encrypted.template, 'SageMakerExecutionRole', 'secretsmanager:GetSecretValue');
    assert.deepEqual(resourcesOf(secrets ?? ({} as never)).map(flat), [
      `arn:<AWS::Partition>:secretsmanager:${REGION_ACCOUNT}:secret:acme-ml/*`,
    ]);
    const [decrypt] = statementsAllowing(encrypted.template, 'SageMakerExecutionRole', 'kms:Decrypt');
    assert.deepEqual(decrypt?.Condition, {
      StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' },
    });
    assert.deepEqual(statementsAllowing(template, 'SageMakerExecutionRole', 'secretsmanager:GetSecretValue'), []);
    const [list] = statementsAllowing(template, 'SageMakerExecutionRole', 's3:ListBucket');
    assert.deepEqual(list?.Condition, { StringLike: { 's3:prefix': ['artifacts/directories/*'] } });
  });

  it('gives every function only its own log group and tracing besides', () => {
    assert.ok(STEPS.length > 0, 'the manifest has steps');
    for (const [name, step] of STEPS) {
      const id = idOf(name, step);
      const baseline = statementsOfRole(template, role(id))
        .map((s) => grant(actionsOf(s), resourcesOf(s).map(flat)))
        .filter((g) => g.actions.some((a) => a.startsWith('xray:') || a.startsWith('logs:')));
      const logGroup = Object.keys(template.findResources('AWS::Logs::LogGroup')).find((logicalId) =>
        logicalId.startsWith(`Functions${id}LogGroup`),
      );
      assert.deepEqual(
        baseline,
        [
          grant(['logs:CreateLogStream', 'logs:PutLogEvents'], [`<${logGroup}.Arn>`]),
          grant(['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], ['*']),
        ],
        id,
      );
    }
  });

  it('grants no service-wide or wildcard actions (no s3:*, sagemaker:*, ...)', () => {
    for (const t of [template, github.template]) {
      const actions = allStatements(t)
        .filter((s) => s.Effect === 'Allow')
        .flatMap(actionsOf);
      assert.ok(actions.length > 0, 'the stack grants actions');
      assert.deepEqual(
        actions.filter((a) => a.includes('*')),
        [],
        'no action has a wildcard',
      );
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
      // Reconcile Check: is a variant autoscaled (no resource types in the Service Authorization Reference).
      'application-autoscaling:DescribeScalableTargets',
      // Wake: the Service Authorization Reference lists no resource type for SendTaskSuccess.
      'states:SendTaskSuccess',
    ]);
    for (const t of [template, github.template]) {
      const onStar = allStatements(t).filter((s) => resourcesOf(s).includes('*'));
      assert.ok(onStar.length > 0, 'some statements are on "*" (tracing at least)');
      for (const statement of onStar) {
        for (const action of actionsOf(statement)) assert.ok(allowed.has(action), `${action} on "*"`);
        if (actionsOf(statement).includes('cloudwatch:PutMetricData')) {
          assert.ok(statement.Condition?.StringEquals?.['cloudwatch:namespace'], 'PutMetricData is namespace-bound');
        }
      }
    }
  });

  it('scopes every SageMaker permission to the resource prefix, per function', () => {
    const sagemaker = (step: string) =>
      grantsOf(template, step).filter((g) => g.actions.some((a) => a.startsWith('sagemaker:')));
    const prefixed = [sagemakerArn('endpoint'), sagemakerArn('endpoint-config'), sagemakerArn('model')];
    assert.deepEqual(
      sagemaker('Deploy'),
      [
        grant(
          [
            'sagemaker:AddTags',
            'sagemaker:CreateEndpoint',
            'sagemaker:CreateEndpointConfig',
            'sagemaker:CreateModel',
            'sagemaker:DeleteEndpoint',
            'sagemaker:DescribeEndpoint',
            'sagemaker:UpdateEndpoint',
            'sagemaker:UpdateEndpointWeightsAndCapacities',
          ],
          prefixed,
        ),
      ],
      'Deploy creates and updates (and a heal puts counts and weights back)',
    );
    assert.deepEqual(
      sagemaker('CheckRollout'),
      [grant(['sagemaker:DescribeEndpoint'], prefixed)],
      'CheckRollout only describes the endpoint',
    );
    assert.deepEqual(
      sagemaker('Record'),
      [
        grant(
          [
            'sagemaker:DeleteEndpointConfig',
            'sagemaker:DeleteModel',
            'sagemaker:DescribeEndpoint',
            'sagemaker:DescribeEndpointConfig',
            'sagemaker:ListTags',
          ],
          prefixed,
        ),
        grant(['sagemaker:ListEndpointConfigs', 'sagemaker:ListModels'], ['*']),
      ].sort(byJson),
      'Record cleans up what it proves its own',
    );
    for (const step of ['Resolve', 'Validate', 'Lease', 'Register', 'RecordPush']) {
      assert.deepEqual(sagemaker(step), [], `${step} has no SageMaker access`);
    }
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
      // The snapshot under commits/; a retry reads the endpoint's state to find its desired push;
      // a push to a branch that no longer feeds an environment retires it (environments/).
      Resolve: {
        's3:GetObject': ['commits/*', 'environments/*', 'state/*'],
        's3:PutObject': ['commits/*', 'environments/*'],
        's3:ListBucket': ['(bucket)'],
      },
      // The plan and releases under commits/, the environment head under environments/.
      Validate: {
        's3:GetObject': ['commits/*', 'environments/*'],
        's3:PutObject': ['commits/*', 'environments/*'],
        's3:ListBucket': ['(bucket)'],
      },
      Lease: { 's3:GetObject': ['commits/*', 'state/*'], 's3:PutObject': ['state/*'], 's3:ListBucket': ['(bucket)'] },
      // Register pins prompts and configs (content-addressed) and plans the files.
      Register: {
        's3:GetObject': ['artifacts/*', 'commits/*', 'state/*'],
        's3:PutObject': ['artifacts/*'],
        's3:ListBucket': ['(bucket)'],
      },
      // RegisterFiles verifies and copies model files into artifacts/ (tags copied with them).
      RegisterFiles: {
        's3:GetObject': ['artifacts/*', 'commits/*'],
        's3:PutObject': ['artifacts/*'],
        's3:PutObjectTagging': ['artifacts/*'],
        's3:GetObjectTagging': ['artifacts/*'],
        's3:AbortMultipartUpload': ['artifacts/*'],
        's3:ListBucket': ['(bucket)'],
      },
      // Pin writes the version pointer, write-once (and reads it back on a retry).
      Pin: {
        's3:GetObject': ['commits/*', 'pointers/*'],
        's3:PutObject': ['pointers/*'],
        's3:ListBucket': ['(bucket)'],
      },
      Deploy: { 's3:GetObject': ['commits/*', 'state/*'], 's3:ListBucket': ['(bucket)'] },
      // Park parks the waits' task tokens (compare-and-swap on wake/<endpointName>.json).
      Park: { 's3:GetObject': ['wake/*'], 's3:PutObject': ['wake/*'], 's3:ListBucket': ['(bucket)'] },
      // CheckRollout gets the rollout from Deploy: it reads nothing from the store.
      CheckRollout: {},
      // Record no longer writes pointers/ (the state's live.pointerKey says which pointer is live);
      // it reads back its own ledger entry on a retry and marks content not live in the head.
      // alarms/: the markers by which the rollback workflow finds an endpoint from an alarm's name.
      Record: {
        's3:GetObject': ['commits/*', 'environments/*', 'ledger/*', 'state/*'],
        's3:PutObject': ['alarms/*', 'environments/*', 'ledger/*', 'state/*'],
        's3:ListBucket': ['(bucket)'],
      },
      // RecordPush writes the push's ledger entry (write-once, never read back) and reads the plan.
      RecordPush: { 's3:GetObject': ['commits/*'], 's3:PutObject': ['ledger/*'], 's3:ListBucket': ['(bucket)'] },
      // The rollback workflow: Triage only reads (alarm markers, endpoint states); Apply and Restore
      // move the endpoint's state; WriteBack reads the two
      // commits' snapshots; Finish writes the ledger entry (and reads it back on a retry).
      Triage: { 's3:GetObject': ['alarms/*', 'state/*'], 's3:ListBucket': ['(bucket)'] },
      Apply: { 's3:GetObject': ['state/*'], 's3:PutObject': ['state/*'], 's3:ListBucket': ['(bucket)'] },
      Restore: { 's3:GetObject': ['state/*'], 's3:PutObject': ['state/*'], 's3:ListBucket': ['(bucket)'] },
      WriteBack: { 's3:GetObject': ['commits/*'], 's3:ListBucket': ['(bucket)'] },
      Finish: { 's3:GetObject': ['ledger/*'], 's3:PutObject': ['ledger/*'], 's3:ListBucket': ['(bucket)'] },
      // The reconcile workflow: Scan reads the heads and lists the endpoint states, and writes the
      // run's status and batches; Check reads a batch and the heads, and writes what it found
      // (state, drift reports, ledger entries); Finish writes the run's summary.
      ReconcileScan: {
        's3:GetObject': ['environments/*', 'reconcile/*', 'state/*'],
        's3:PutObject': ['reconcile/*'],
        's3:ListBucket': ['(bucket)'],
      },
      ReconcileCheck: {
        's3:GetObject': ['drift/*', 'environments/*', 'ledger/*', 'reconcile/*', 'state/*'],
        's3:PutObject': ['drift/*', 'ledger/*', 'state/*'],
        's3:ListBucket': ['(bucket)'],
      },
      ReconcileFinish: {
        's3:GetObject': ['reconcile/*'],
        's3:PutObject': ['reconcile/*'],
        's3:ListBucket': ['(bucket)'],
      },
    };
    assert.deepEqual([...FUNCTIONS].sort(), Object.keys(expected).sort(), 'the table covers every step');
    for (const step of FUNCTIONS) assert.deepEqual(storeAccess(template, role(step)), expected[step], step);
    assert.deepEqual(
      storeAccess(github.template, 'GitHubWebhookHandlerServiceRole'),
      { 's3:GetObject': ['deliveries/*'], 's3:PutObject': ['deliveries/*'], 's3:ListBucket': ['(bucket)'] },
      'the webhook records deliveries only',
    );
    const pointerWriters = FUNCTIONS.filter((step) =>
      storeAccess(template, role(step))['s3:PutObject']?.includes('pointers/*'),
    );
    assert.deepEqual(pointerWriters, ['Pin'], 'only Pin writes version pointers');
  });

  it('lets only Validate (manifests) and RegisterFiles read the artifact source buckets', () => {
    const readers = FUNCTIONS.filter((step) =>
      statementsOfRole(template, role(step)).some((s) =>
        resourcesOf(s)
          .map(flat)
          .some((r) => r.includes('acme-model-artifacts')),
      ),
    );
    assert.deepEqual(readers.sort(), ['RegisterFiles', 'Validate']);
    const [statement] = statementsAllowing(template, role('RegisterFiles'), 's3:GetObjectVersion');
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
    const codecommit = (t: Template, step: string) =>
      grantsOf(t, step).filter((g) => g.actions.some((a) => a.startsWith('codecommit:')));
    assert.deepEqual(
      codecommit(template, 'Resolve'),
      [
        grant(
          [
            'codecommit:GetBlob',
            'codecommit:GetCommit',
            'codecommit:GetDifferences',
            'codecommit:GetFile',
            'codecommit:GetFolder',
          ],
          [REPOSITORY],
        ),
      ],
      'Resolve reads the commit',
    );
    for (const step of ['Record', 'RecordPush', 'Finish']) {
      assert.deepEqual(
        codecommit(template, step),
        [grant(['codecommit:GetCommit', 'codecommit:PostCommentForComparedCommit'], [REPOSITORY])],
        `${step} comments on the commit`,
      );
    }
    // The rollback workflow's write-back: a revert commit, or a branch with a pull request.
    assert.deepEqual(
      codecommit(template, 'WriteBack'),
      [
        grant(
          [
            'codecommit:CreateBranch',
            'codecommit:CreateCommit',
            'codecommit:CreatePullRequest',
            'codecommit:GetBranch',
            'codecommit:GetCommit',
            'codecommit:GetFile',
            'codecommit:GetPullRequest',
            'codecommit:ListPullRequests',
          ],
          [REPOSITORY],
        ),
      ],
      'WriteBack writes to the one repository',
    );
    // Reconcile Scan reads the branch head, to find a push no event started.
    assert.deepEqual(
      codecommit(template, 'ReconcileScan'),
      [grant(['codecommit:GetBranch'], [REPOSITORY])],
      'Scan reads branch heads only',
    );
    const codecommitUsers = FUNCTIONS.filter((step) => codecommit(template, step).length > 0);
    assert.deepEqual(
      codecommitUsers,
      ['Resolve', 'Record', 'RecordPush', 'WriteBack', 'Finish', 'ReconcileScan'],
      'only these talk to CodeCommit',
    );
    const secretReaders = (t: Template) =>
      FUNCTIONS.filter((step) => statementsAllowing(t, role(step), 'secretsmanager:GetSecretValue').length > 0);
    assert.deepEqual(secretReaders(template), [], 'a CodeCommit stack reads no secret');
    const tokenReaders = ['Resolve', 'Record', 'RecordPush', 'WriteBack', 'Finish', 'ReconcileScan'];
    assert.deepEqual(secretReaders(github.template), tokenReaders, 'GitHub token readers');
    for (const step of tokenReaders) {
      const [statement] = statementsAllowing(github.template, role(step), 'secretsmanager:GetSecretValue');
      assert.deepEqual(resourcesOf(statement as Statement).map(flat), [TOKEN_SECRET], `${step} reads only the token`);
    }
    assert.deepEqual(
      FUNCTIONS.filter((step) => codecommit(github.template, step).length > 0),
      [],
      'a GitHub stack has no CodeCommit access',
    );
  });

  it('publishes metrics as EMF in the logs: no workflow function may call PutMetricData', () => {
    // (The SageMaker execution role may, into SageMaker's own namespace, for the model container.)
    assert.ok(FUNCTIONS.length > 0);
    for (const step of FUNCTIONS) {
      assert.equal(statementsAllowing(template, role(step), 'cloudwatch:PutMetricData').length, 0, step);
    }
  });

  it('lets the rollback state machine invoke exactly its task functions and CheckRollout, nothing else', () => {
    const grants = statementsOfRole(template, 'RollbackWorkflowStateMachineRole')
      .map((s) => grant(actionsOf(s), resourcesOf(s).map(flat)))
      .filter((g) => !g.actions.every((a) => a.startsWith('xray:') || a.startsWith('logs:')));
    const functions = [
      ...(Object.keys(ROLLBACK_STEPS) as RollbackStepName[]).map((name) => arnOf(stack.functions.rollbackByStep[name])),
      arnOf(stack.functions.byStep.checkRollout),
    ];
    assert.equal(functions.length, Object.keys(ROLLBACK_STEPS).length + 1);
    assert.deepEqual(grants, [grant(['lambda:InvokeFunction'], functions)]);
  });

  it('lets the state machine invoke exactly the task functions and start only its own executions', () => {
    const machineRole = 'DeployWorkflowStateMachineRole';
    const grants = statementsOfRole(template, machineRole)
      .map((s) => grant(actionsOf(s), resourcesOf(s).map(flat)))
      .filter((g) => g.actions.some((a) => a.startsWith('lambda:') || a.startsWith('states:')));
    const deploySteps = Object.keys(DEPLOY_STEPS) as StepName[];
    const functionArns = deploySteps.map((name) => arnOf(stack.functions.byStep[name]));
    assert.equal(functionArns.length, deploySteps.length, 'one function per step');
    const machineArn = `arn:<AWS::Partition>:states:${REGION_ACCOUNT}:stateMachine:Ballast-deploy`;
    assert.deepEqual(
      grants,
      [
        grant(['lambda:InvokeFunction'], functionArns),
        // The Distributed Map starts one child execution of this state machine per endpoint.
        grant(['states:StartExecution'], [machineArn]),
        grant(
          ['states:DescribeExecution', 'states:StopExecution'],
          [`arn:<AWS::Partition>:states:${REGION_ACCOUNT}:execution:Ballast-deploy/*`],
        ),
      ],
      'invoke the step functions; start, watch and stop its own executions',
    );
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0];
    assert.equal(machine?.Properties.StateMachineName, 'Ballast-deploy', 'the ARN it starts is its own');
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
      // A directory model (ModelDataSource S3Prefix): SageMaker lists the pinned prefix.
      {
        actions: ['s3:ListBucket'],
        resources: [bucketArn],
        condition: { StringLike: { 's3:prefix': ['artifacts/directories/*'] } },
      },
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
