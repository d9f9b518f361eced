import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BallastFunction, projectPath } from './ballast-function.ts';
import type { DeployWorkflowFunctions } from './deploy-workflow.ts';
import { sagemakerArns, secretArn } from './least-privilege.ts';
import type { SourceConfig } from './source-config.ts';

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
   * How long the functions' log events are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

type Step = keyof DeployWorkflowFunctions;

/** Handler file, sizing and purpose per step. */
const STEPS: Readonly<Record<Step, { file: string; description: string; timeout: Duration; memorySize: number }>> = {
  resolve: {
    file: 'resolve.ts',
    description: 'Ballast Resolve: the pushed commit, its environment, a snapshot of its Ballast files',
    timeout: Duration.minutes(2),
    memorySize: 1024,
  },
  validate: {
    file: 'validate.ts',
    description: 'Ballast Validate: schema and semantic checks; the plan of endpoints to roll out',
    timeout: Duration.minutes(2),
    memorySize: 1024,
  },
  lease: {
    file: 'lease.ts',
    description: "Ballast Lease: take the endpoint's lease (compare-and-swap); newer pushes win",
    timeout: Duration.seconds(30),
    memorySize: 256,
  },
  register: {
    file: 'register.ts',
    // Streams each artifact through sha256 and copies it: time and network bound, so generous.
    description: 'Ballast Register: verify artifact digests, store them content-addressed, write the version pointer',
    timeout: Duration.minutes(15),
    memorySize: 1769,
  },
  deploy: {
    file: 'deploy.ts',
    description: 'Ballast Deploy: SageMaker model, endpoint config, and a blue/green endpoint update',
    timeout: Duration.minutes(1),
    memorySize: 512,
  },
  checkRollout: {
    file: 'check-rollout.ts',
    description: 'Ballast CheckRollout: has the SageMaker rollout settled',
    timeout: Duration.seconds(30),
    memorySize: 256,
  },
  verify: {
    file: 'verify.ts',
    description: 'Ballast Verify: the live endpoint runs this commit (SageMaker rolls back silently)',
    timeout: Duration.minutes(1),
    memorySize: 256,
  },
  record: {
    file: 'record.ts',
    description: 'Ballast Record: endpoint state, ledger entry, commit comment or status, cleanup',
    timeout: Duration.minutes(1),
    memorySize: 512,
  },
};

/**
 * The eight Lambda functions behind the deploy workflow's task states, each with only the
 * permissions and the BALLAST_* settings its handler uses.
 */
export class WorkflowFunctions extends Construct {
  public readonly resolve: BallastFunction;
  public readonly validate: BallastFunction;
  public readonly lease: BallastFunction;
  public readonly register: BallastFunction;
  public readonly deploy: BallastFunction;
  public readonly checkRollout: BallastFunction;
  public readonly verify: BallastFunction;
  public readonly record: BallastFunction;

  constructor(scope: Construct, id: string, props: WorkflowFunctionsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { bucket, source } = props;

    // Every BALLAST_* setting a handler can read; each function gets the subset it reads.
    const settings: Record<string, string | undefined> = {
      BALLAST_STATE_BUCKET: bucket.bucketName,
      BALLAST_RESOURCE_PREFIX: props.resourcePrefix,
      BALLAST_SAGEMAKER_ROLE_ARN: props.sagemakerRole.roleArn,
      BALLAST_GITHUB_API_URL: source.type === 'github' ? (source.apiUrl ?? 'https://api.github.com') : undefined,
      BALLAST_GITHUB_TOKEN_SECRET_NAME: source.type === 'github' ? source.tokenSecretName : undefined,
      BALLAST_ACCOUNT_ID: stack.account,
      BALLAST_REGION: stack.region,
    };
    const make = (step: Step, names: readonly string[]): BallastFunction => {
      const spec = STEPS[step];
      const environment: Record<string, string> = {};
      for (const name of names) {
        const value = settings[name];
        if (value !== undefined) environment[name] = value;
      }
      return new BallastFunction(this, `${step[0]?.toUpperCase()}${step.slice(1)}`, {
        entry: projectPath(`lambdas/handlers/${spec.file}`),
        description: spec.description,
        timeout: spec.timeout,
        memorySize: spec.memorySize,
        logRetention: props.logRetention,
        environment,
      });
    };
    // Resolve reads commits and Record sets commit statuses through the GitHub API, with the token.
    const github = ['BALLAST_GITHUB_API_URL', 'BALLAST_GITHUB_TOKEN_SECRET_NAME'];

    const codecommitRepositoryArn =
      source.type === 'codecommit' ? stack.formatArn({ service: 'codecommit', resource: source.repositoryName }) : '';
    const tokenSecretArn = source.type === 'github' ? secretArn(stack, source.tokenSecretName) : '';
    const readToken = (fn: BallastFunction) =>
      fn.allow(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [tokenSecretArn] }));
    const prefixReason =
      `SageMaker resources are named per environment, endpoint and content digest at run time; every permission ` +
      `stops at Ballast's own prefix (${props.resourcePrefix}-*).`;

    // Resolve: the commit's files from the source, the snapshot under commits/.
    this.resolve = make('resolve', [
      'BALLAST_STATE_BUCKET',
      'BALLAST_ACCOUNT_ID',
      'BALLAST_REGION',
      ...(source.type === 'github' ? github : []),
    ]);
    this.resolve.grantObjects(bucket, 'readWrite', ['commits/']);
    if (source.type === 'codecommit') {
      this.resolve.allow(
        new iam.PolicyStatement({
          actions: [
            'codecommit:GetFolder',
            'codecommit:GetFile',
            'codecommit:GetCommit',
            'codecommit:GetBlob',
            'codecommit:GetBranch',
          ],
          resources: [codecommitRepositoryArn],
        }),
      );
    } else {
      readToken(this.resolve);
    }

    // Validate: reads the snapshot, endpoint state and the live version pointer (to say what
    // changed); writes the full validation report next to the snapshot.
    this.validate = make('validate', ['BALLAST_STATE_BUCKET']);
    this.validate.grantObjects(bucket, 'readWrite', ['commits/']);
    this.validate.grantObjects(bucket, 'read', ['state/', 'pointers/']);

    // Lease: compare-and-swap on the endpoint's state document.
    this.lease = make('lease', ['BALLAST_STATE_BUCKET']);
    this.lease.grantObjects(bucket, 'readWrite', ['state/']);

    // Register: source artifacts in, content-addressed artifacts and version pointers out.
    this.register = make('register', ['BALLAST_STATE_BUCKET']);
    this.register.grantObjects(bucket, 'readWrite', ['artifacts/', 'pointers/']);
    this.register.grantObjects(bucket, 'read', ['commits/', 'state/']);
    for (const source of props.artifactSourceBuckets ?? []) {
      // The copy names the exact version it hashed (versionId), and S3 copies an object's tags by
      // default, which needs the tagging read on the source and the tagging write on the copy.
      this.register.allow(
        new iam.PolicyStatement({
          actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectTagging', 's3:GetObjectVersionTagging'],
          resources: [source.arnForObjects('*')],
        }),
        'Artifact URIs are declared per Model in the watched repository, so their keys are not known at deploy ' +
          'time; the grant covers only the buckets the stack owner listed as artifactSourceBuckets.',
      );
      this.register.allow(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [source.bucketArn] }));
    }
    if ((props.artifactSourceBuckets ?? []).length > 0) {
      this.register.allow(
        new iam.PolicyStatement({ actions: ['s3:PutObjectTagging'], resources: [bucket.arnForObjects('artifacts/*')] }),
        "Artifacts are copied to content-addressed keys (artifacts/sha256/<digest>) named at run time; S3 copies the source object's tags with it.",
      );
    }

    // Deploy: create the model and endpoint config, create or update the endpoint.
    this.deploy = make('deploy', ['BALLAST_STATE_BUCKET', 'BALLAST_RESOURCE_PREFIX', 'BALLAST_SAGEMAKER_ROLE_ARN']);
    this.deploy.allow(
      new iam.PolicyStatement({
        actions: [
          'sagemaker:CreateModel',
          'sagemaker:DescribeModel',
          'sagemaker:CreateEndpointConfig',
          'sagemaker:DescribeEndpointConfig',
          'sagemaker:CreateEndpoint',
          'sagemaker:UpdateEndpoint',
          'sagemaker:DescribeEndpoint',
          // A first CreateEndpoint that ends Failed is deleted so that a retry can create it again.
          'sagemaker:DeleteEndpoint',
          'sagemaker:AddTags',
        ],
        resources: sagemakerArns(stack, props.resourcePrefix, ['model', 'endpoint-config', 'endpoint']),
      }),
      prefixReason,
    );
    this.deploy.allow(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [props.sagemakerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      }),
    );
    this.deploy.allow(
      new iam.PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] }),
      "Deploy checks that an endpoint's rollback alarms exist, metric and composite alarms alike; CloudWatch " +
        'returns composite alarms only to a DescribeAlarms permission scoped to "*". Read-only.',
    );
    this.deploy.grantObjects(bucket, 'read', ['state/', 'pointers/', 'commits/']);

    // CheckRollout and Verify: read-only views of the endpoint. The rollout and its alarms come
    // with their input (Deploy passes them on), so they read nothing from the store.
    this.checkRollout = make('checkRollout', []);
    this.verify = make('verify', []);
    // Verify names the alarm behind a silent rollback from the alarms' state history.
    this.verify.allow(
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
      'Rollback alarms are named per Endpoint in Git; Verify reads the history of the alarms an endpoint declares, read-only.',
    );
    for (const fn of [this.checkRollout, this.verify]) {
      fn.allow(
        new iam.PolicyStatement({
          actions: ['sagemaker:DescribeEndpoint', 'sagemaker:DescribeEndpointConfig'],
          resources: sagemakerArns(stack, props.resourcePrefix, ['endpoint-config', 'endpoint']),
        }),
        prefixReason,
      );
    }

    // Record: state, ledger and live pointer; superseded SageMaker resources cleaned up; a metric
    // for failed deployments; the outcome reported on the commit.
    this.record = make('record', ['BALLAST_STATE_BUCKET', ...(source.type === 'github' ? github : [])]);
    // Ledger entries are write-once (If-None-Match): Record never reads them back.
    this.record.grantObjects(bucket, 'readWrite', ['state/', 'pointers/']);
    this.record.grantObjects(bucket, 'write', ['ledger/']);
    this.record.allow(
      new iam.PolicyStatement({
        actions: ['sagemaker:DeleteModel', 'sagemaker:DeleteEndpointConfig'],
        resources: sagemakerArns(stack, props.resourcePrefix, ['model', 'endpoint-config']),
      }),
      prefixReason,
    );
    this.record.allow(
      new iam.PolicyStatement({ actions: ['sagemaker:ListModels', 'sagemaker:ListEndpointConfigs'], resources: ['*'] }),
      'sagemaker:ListModels and sagemaker:ListEndpointConfigs support no resource-level permissions; Record lists ' +
        `with NameContains=${props.resourcePrefix}- and deletes only under the prefix-scoped statement.`,
    );
    this.record.allow(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': 'Ballast' } },
      }),
      'cloudwatch:PutMetricData supports no resource-level permissions; the cloudwatch:namespace condition limits ' +
        'it to the Ballast namespace.',
    );
    if (source.type === 'codecommit') {
      this.record.allow(
        new iam.PolicyStatement({
          // GetCommit finds the parent to compare with when the push has no previous commit (a new branch).
          actions: ['codecommit:PostCommentForComparedCommit', 'codecommit:GetCommit'],
          resources: [codecommitRepositoryArn],
        }),
      );
    } else {
      readToken(this.record);
    }
  }

  /** The functions by workflow step, for {@link DeployWorkflow}. */
  public get byStep(): DeployWorkflowFunctions {
    return {
      resolve: this.resolve.function,
      validate: this.validate.function,
      lease: this.lease.function,
      register: this.register.function,
      deploy: this.deploy.function,
      checkRollout: this.checkRollout.function,
      verify: this.verify.function,
      record: this.record.function,
    };
  }
}
