import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { BallastFunction, projectPath } from './ballast-function.ts';
import { type DeployWorkflowFunctions, defaultDeployStateMachineName, stateMachineArnOf } from './deploy-workflow.ts';
import { modelSecretsArn, sagemakerArns, secretArn } from './least-privilege.ts';
import type { SourceConfig } from './source-config.ts';
import {
  DEPLOY_STEPS,
  RECONCILE_STEPS,
  type ReconcileStepName,
  ROLLBACK_STEPS,
  type RollbackStepName,
  type Setting,
  stepSettings,
  type WorkflowStep,
} from './workflow-steps.ts';

export interface WorkflowFunctionsProps {
  /** The Ballast store (system of record). */
  readonly bucket: s3.IBucket;
  /** Prefix of every SageMaker resource Ballast creates; SageMaker permissions stop at it. */
  readonly resourcePrefix: string;
  /** The model repository, for reading commits and reporting back to them. */
  readonly source: SourceConfig;
  /** The role SageMaker models run as; Deploy may pass it to SageMaker and to nothing else. */
  readonly sagemakerRole: iam.IRole;
  /**
   * Buckets that hold the model artifacts users point at (`s3://` URIs in Model specs). Register
   * reads an artifact there once, verifies its sha256 and copies it into the store.
   * @default - none: every artifact must already be readable some other way (e.g. a bucket policy)
   */
  readonly artifactSourceBuckets?: readonly s3.IBucket[];
  /**
   * KMS keys of SSE-KMS encrypted source buckets: reading (and copying) an object encrypted with a
   * customer managed key takes kms:Decrypt on that key, through S3 only.
   * @default - none: objects encrypted with SSE-S3 (or the AWS managed key aws/s3) need no grant
   */
  readonly artifactKmsKeys?: readonly kms.IKey[];
  /**
   * The prefix of the Secrets Manager secrets Models may declare (`spec.secrets`): Validate may
   * describe them and Deploy may read one a Model asks to have injected; nothing else.
   * @default - none: a Model that declares a secret is refused by Validate
   */
  readonly secretPrefix?: string;
  /**
   * KMS keys that encrypt those secrets, when they use a customer managed key (Deploy decrypts an
   * injected secret's value through Secrets Manager only).
   * @default - none: secrets encrypted with the AWS managed key aws/secretsmanager need no grant
   */
  readonly secretKmsKeys?: readonly kms.IKey[];
  /**
   * How long the functions' log events are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The stack's alarm topic: the rollback workflow tells it about rollbacks.
   * @default - no topic: rollbacks are told through EventBridge, the ledger and Git only
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * The deploy workflow's state machine name, which the reconciler starts heals and missed pushes
   * on. The functions are built before the state machine (it invokes them), so they name it by
   * its ARN built from this fixed name instead of referring to it: no circular dependency. Give
   * the {@link DeployWorkflow} the same name.
   * @default `<stack name>-deploy`, the DeployWorkflow's default
   */
  readonly deployStateMachineName?: string;
}

/**
 * The Lambda functions behind the workflows' task states, one per step of {@link DEPLOY_STEPS},
 * {@link ROLLBACK_STEPS} and {@link RECONCILE_STEPS}: each with its sizing, only the BALLAST_*
 * settings its handler reads, and only the permissions the manifest says it needs.
 */
export class WorkflowFunctions extends Construct {
  /** The functions by step, for {@link DeployWorkflow} and the tests. */
  public readonly byStep: DeployWorkflowFunctions;
  /** The rollback workflow's own steps (its CheckRollback state runs `byStep.checkRollout`). */
  public readonly rollbackByStep: Readonly<Record<RollbackStepName, lambda.IFunction>>;
  /** The reconcile workflow's steps (their construct ids are `Reconcile<Placeholder>`: Finish is also a rollback step). */
  public readonly reconcileByStep: Readonly<Record<ReconcileStepName, lambda.IFunction>>;

  constructor(scope: Construct, id: string, props: WorkflowFunctionsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { bucket, source } = props;
    const deployStateMachineArn = stateMachineArnOf(
      stack,
      props.deployStateMachineName ?? defaultDeployStateMachineName(stack),
    );

    // Every BALLAST_* setting a handler can read; each function gets the subset its step declares.
    const values: Readonly<Record<Setting, string | undefined>> = {
      BALLAST_STATE_BUCKET: bucket.bucketName,
      BALLAST_RESOURCE_PREFIX: props.resourcePrefix,
      BALLAST_SAGEMAKER_ROLE_ARN: props.sagemakerRole.roleArn,
      BALLAST_GITHUB_API_URL: source.type === 'github' ? (source.apiUrl ?? 'https://api.github.com') : undefined,
      BALLAST_GITHUB_TOKEN_SECRET_NAME: source.type === 'github' ? source.tokenSecretName : undefined,
      BALLAST_ACCOUNT_ID: stack.account,
      BALLAST_REGION: stack.region,
      BALLAST_SECRET_PREFIX: props.secretPrefix,
      BALLAST_ALARM_TOPIC_ARN: props.alarmTopic?.topicArn,
      BALLAST_DEPLOY_STATE_MACHINE_ARN: deployStateMachineArn,
    };
    const codecommitRepositoryArn =
      source.type === 'codecommit' ? stack.formatArn({ service: 'codecommit', resource: source.repositoryName }) : '';
    const tokenSecretArn = source.type === 'github' ? secretArn(stack, source.tokenSecretName) : '';
    const prefixReason =
      `SageMaker resources are named per environment, endpoint and content digest at run time; every permission ` +
      `stops at Ballast's own prefix (${props.resourcePrefix}-*).`;

    const build = (step: WorkflowStep, id = step.placeholder): lambda.IFunction => {
      const environment: Record<string, string> = {};
      for (const setting of stepSettings(step, source.type)) {
        const value = values[setting];
        if (value !== undefined) environment[setting] = value;
      }
      const fn = new BallastFunction(this, id, {
        entry: projectPath(`lambdas/handlers/${step.file}`),
        description: step.description,
        timeout: Duration.seconds(step.timeoutSeconds),
        memorySize: step.memorySize,
        logRetention: props.logRetention,
        environment,
      });
      const p = step.permissions;
      for (const access of ['read', 'write', 'readWrite'] as const) {
        const prefixes = p.store?.[access];
        if (prefixes && prefixes.length > 0) fn.grantObjects(bucket, access, prefixes);
      }
      if (p.sagemaker) {
        fn.allow(
          new iam.PolicyStatement({
            actions: [...p.sagemaker],
            resources: sagemakerArns(stack, props.resourcePrefix, ['model', 'endpoint-config', 'endpoint']),
          }),
          prefixReason,
        );
      }
      if (p.sagemakerDescribeAny && p.sagemakerDescribeAny.length > 0) {
        fn.allow(
          new iam.PolicyStatement({
            actions: [...p.sagemakerDescribeAny],
            resources: (['endpoint-config', 'model'] as const).map((resource) =>
              stack.formatArn({ service: 'sagemaker', resource, resourceName: '*' }),
            ),
          }),
          'Read-only: an endpoint changed by hand runs a configuration and Model of any name, which the reconciler reads to report how they differ from what Ballast deployed.',
        );
      }
      if (p.sagemakerList) {
        fn.allow(
          new iam.PolicyStatement({ actions: [...p.sagemakerList], resources: ['*'] }),
          `${p.sagemakerList.join(' and ')} support no resource-level permissions; cleanup lists with ` +
            `NameContains, proves ownership by exact name and tags, and deletes only under the prefix-scoped statement.`,
        );
      }
      if (p.passSageMakerRole) {
        fn.allow(
          new iam.PolicyStatement({
            actions: ['iam:PassRole'],
            resources: [props.sagemakerRole.roleArn],
            conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
          }),
        );
      }
      for (const action of p.cloudwatch ?? []) fn.allow(...cloudwatchStatement(stack, action));
      if (p.codecommit && source.type === 'codecommit') {
        fn.allow(new iam.PolicyStatement({ actions: [...p.codecommit], resources: [codecommitRepositoryArn] }));
      }
      if (p.githubToken && source.type === 'github') {
        fn.allow(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [tokenSecretArn] }));
      }
      if (p.artifactSources) {
        grantArtifactSources(fn, props.artifactSourceBuckets ?? []);
        // Source buckets may be in other regions (the S3 client follows region redirects).
        grantDecrypt(fn, props.artifactKmsKeys ?? [], 's3.*.amazonaws.com');
      }
      if (p.artifactCopies) grantArtifactCopies(fn, bucket);
      if (p.modelSecrets && props.secretPrefix) {
        fn.allow(
          new iam.PolicyStatement({
            actions: [
              p.modelSecrets === 'describe' ? 'secretsmanager:DescribeSecret' : 'secretsmanager:GetSecretValue',
            ],
            resources: [modelSecretsArn(stack, props.secretPrefix)],
          }),
          `Models name their secrets in Git; the grant stops at the secret prefix the stack owner chose (${props.secretPrefix}), which Validate enforces.`,
        );
        if (p.modelSecrets === 'read') {
          grantDecrypt(fn, props.secretKmsKeys ?? [], `secretsmanager.${stack.region}.amazonaws.com`);
        }
      }
      if (p.putEvents && p.putEvents.length > 0) {
        fn.allow(
          new iam.PolicyStatement({
            actions: ['events:PutEvents'],
            resources: [stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })],
            // Ballast speaks only as itself on the bus, and each function only of what it does.
            conditions: { StringEquals: { 'events:source': 'ballast', 'events:detail-type': [...p.putEvents] } },
          }),
        );
      }
      if (p.publishAlarmTopic && props.alarmTopic) {
        fn.allow(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.alarmTopic.topicArn] }));
        // An encrypted topic: publishing needs a data key of its key, and nothing else of it
        // (Amazon SNS Developer Guide, "Enabling compatibility between event sources and encrypted topics").
        const key = props.alarmTopic.masterKey;
        if (key) {
          fn.allow(
            new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] }),
          );
        }
      }
      if (p.startDeploy) {
        // Executions (heals, missed pushes) of the deploy workflow, and of nothing else.
        fn.allow(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [deployStateMachineArn] }));
      }
      if (p.scalableTargets) {
        fn.allow(
          new iam.PolicyStatement({ actions: ['application-autoscaling:DescribeScalableTargets'], resources: ['*'] }),
          'application-autoscaling:DescribeScalableTargets supports no resource-level permissions (Service ' +
            "Authorization Reference, Application Auto Scaling); read-only: it tells whether a variant's instance " +
            'count is autoscaled, so that its count is not reported as drift.',
        );
      }
      return fn.function;
    };
    // One function per step of each workflow; the reconcile ids are prefixed, as both it and the
    // rollback workflow have a Finish step.
    const buildAll = <N extends string>(steps: Readonly<Record<N, WorkflowStep>>, idPrefix = '') =>
      Object.fromEntries(
        (Object.entries(steps) as Array<[N, WorkflowStep]>).map(([name, step]) => [
          name,
          build(step, `${idPrefix}${step.placeholder}`),
        ]),
      ) as Record<N, lambda.IFunction>;
    this.byStep = buildAll(DEPLOY_STEPS);
    this.rollbackByStep = buildAll(ROLLBACK_STEPS);
    this.reconcileByStep = buildAll(RECONCILE_STEPS, 'Reconcile');
  }
}

function cloudwatchStatement(
  stack: Stack,
  action: 'DescribeAlarms' | 'DescribeAlarmHistory',
): [iam.PolicyStatement, string] {
  switch (action) {
    case 'DescribeAlarms':
      return [
        new iam.PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] }),
        "Deploy checks that an endpoint's rollback alarms exist, metric and composite alarms alike; CloudWatch " +
          'returns composite alarms only to a DescribeAlarms permission scoped to "*". Read-only.',
      ];
    case 'DescribeAlarmHistory':
      return [
        new iam.PolicyStatement({
          actions: ['cloudwatch:DescribeAlarmHistory'],
          resources: [
            stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        }),
        'Rollback alarms are named per Endpoint in Git; CheckRollout reads the history of the alarms an endpoint declares, read-only.',
      ];
  }
}

/** Validate and RegisterFiles read artifacts (and manifests) in the buckets the stack owner listed. */
function grantArtifactSources(fn: BallastFunction, sources: readonly s3.IBucket[]): void {
  for (const source of sources) {
    // The copy names the exact version it hashed (versionId), and S3 copies an object's tags by
    // default, which needs the tagging read on the source and the tagging write on the copy.
    fn.allow(
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectTagging', 's3:GetObjectVersionTagging'],
        resources: [source.arnForObjects('*')],
      }),
      'Artifact URIs are declared per Model in the watched repository, so their keys are not known at deploy ' +
        'time; the grant covers only the buckets the stack owner listed as artifactSourceBuckets.',
    );
    fn.allow(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [source.bucketArn] }));
  }
}

/**
 * RegisterFiles copies into the store: S3 copies the source object's tags with it (a copy from an
 * already pinned file reads the store's own tags), and a multipart copy that fails is aborted so
 * its parts stop costing storage (the bucket's lifecycle rule catches one a timeout cut short).
 */
function grantArtifactCopies(fn: BallastFunction, bucket: s3.IBucket): void {
  fn.allow(
    new iam.PolicyStatement({
      actions: ['s3:PutObjectTagging', 's3:GetObjectTagging', 's3:AbortMultipartUpload'],
      resources: [bucket.arnForObjects('artifacts/*')],
    }),
    'Model files are pinned to keys named by their digests at run time (artifacts/sha256/<digest>.tar.gz, ' +
      'artifacts/directories/<digest>/<path>); the grant stops at the artifacts/ prefix.',
  );
}

/** kms:Decrypt on the listed keys, and only for calls that come through `viaService` (never a direct Decrypt). */
function grantDecrypt(fn: BallastFunction, keys: readonly kms.IKey[], viaService: string): void {
  if (keys.length === 0) return;
  fn.allow(
    new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: keys.map((key) => key.keyArn),
      conditions: { StringLike: { 'kms:ViaService': viaService } },
    }),
  );
}
