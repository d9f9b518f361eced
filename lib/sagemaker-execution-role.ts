import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { allow as grant, modelSecretsArn } from './least-privilege.ts';

export interface SageMakerExecutionRoleProps {
  /** The Ballast store: models read their artifacts from its `artifacts/` prefix. */
  readonly bucket: s3.IBucket;
  /**
   * Prefix of the SageMaker endpoints Ballast creates; their CloudWatch log groups
   * (`/aws/sagemaker/Endpoints/<prefix>-*`) are the only ones the role can write to.
   */
  readonly resourcePrefix: string;
  /**
   * ECR repositories the serving images may come from. Models declare their image in Git, per
   * Model, so by default any repository (SageMaker's own Deep Learning Containers live in AWS-owned
   * accounts) is allowed; list your repositories here to narrow it.
   * @default - every repository: `arn:<partition>:ecr:*:*:repository/*`
   */
  readonly imageRepositoryArns?: readonly string[];
  /**
   * The prefix of the Secrets Manager secrets Models may declare: a model's container reads the
   * secrets it is given by ARN (`<NAME>_SECRET_ARN`) with this role, so the role may read these.
   * @default - none: the role reads no secret
   */
  readonly secretPrefix?: string;
  /**
   * Customer managed KMS keys those secrets are encrypted with.
   * @default - none (secrets encrypted with aws/secretsmanager need no grant)
   */
  readonly secretKmsKeys?: readonly kms.IKey[];
}

/**
 * The role SageMaker models run as (the `ExecutionRoleArn` of CreateModel). It can read model
 * artifacts from the store's content-addressed `artifacts/` keys, pull serving images, and write
 * its endpoints' logs and metrics; nothing else.
 */
export class SageMakerExecutionRole extends Construct {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: SageMakerExecutionRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.role = new iam.Role(this, 'Role', {
      // aws:SourceAccount keeps another account's SageMaker from being handed this role (confused deputy).
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': stack.account },
      }),
      description: 'Ballast: the role SageMaker models run as (artifacts, image pull, endpoint logs and metrics)',
    });

    const allow = (statement: iam.PolicyStatement, reason?: string) => grant(this, this.role, statement, reason);

    allow(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.bucket.arnForObjects('artifacts/*')] }),
      'Artifacts are stored under content-addressed keys (artifacts/<sha256>) that each Model names at run time; ' +
        'the role reads that prefix only.',
    );
    // A directory model is ModelDataSource S3Prefix: SageMaker lists the objects under its prefix.
    allow(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [props.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': ['artifacts/directories/*'] } },
      }),
    );
    if (props.secretPrefix) {
      allow(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          resources: [modelSecretsArn(stack, props.secretPrefix)],
        }),
        `Models name their secrets in Git; a container reads the ones it is given by ARN, and only under the ` +
          `stack's secret prefix (${props.secretPrefix}), which Validate enforces.`,
      );
      const keys = props.secretKmsKeys ?? [];
      if (keys.length > 0) {
        allow(
          new iam.PolicyStatement({
            actions: ['kms:Decrypt'],
            resources: keys.map((key) => key.keyArn),
            conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` } },
          }),
        );
      }
    }

    allow(
      new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
      'ecr:GetAuthorizationToken supports no resource-level permissions.',
    );
    const repositories = props.imageRepositoryArns ?? [
      stack.formatArn({ service: 'ecr', region: '*', account: '*', resource: 'repository', resourceName: '*' }),
    ];
    allow(
      new iam.PolicyStatement({
        actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
        resources: [...repositories],
      }),
      'Serving images are declared per Model in the watched repository (including AWS-owned Deep Learning ' +
        'Container registries), so they are not known at deploy time; narrow with imageRepositoryArns.',
    );

    const logGroup = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: `/aws/sagemaker/Endpoints/${props.resourcePrefix}-*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    allow(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [logGroup],
      }),
      `SageMaker names endpoint log groups and streams after the endpoint and instance; the role writes only to ` +
        `the groups of endpoints Ballast creates (/aws/sagemaker/Endpoints/${props.resourcePrefix}-*).`,
    );

    allow(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': '/aws/sagemaker/Endpoints' } },
      }),
      'cloudwatch:PutMetricData supports no resource-level permissions; the cloudwatch:namespace condition limits ' +
        'it to the SageMaker endpoint namespace.',
    );
  }

  public get roleArn(): string {
    return this.role.roleArn;
  }
}
