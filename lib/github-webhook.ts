import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { BallastFunction, projectPath } from './ballast-function.ts';
import { secretArn } from './least-privilege.ts';

export interface GitHubWebhookProps {
  /** The repository as `owner/name`; deliveries for any other repository are refused. */
  readonly repository: string;
  /** Secrets Manager secret (name) holding the webhook's HMAC secret. */
  readonly webhookSecretName: string;
  /** The Ballast store: deliveries are recorded under `deliveries/` (replay protection). */
  readonly bucket: s3.IBucket;
  /** The deploy workflow a verified push starts. */
  readonly stateMachine: sfn.IStateMachine;
  /**
   * Concurrency reserved for (and capping) the webhook function. The URL is public, so this bounds
   * what a flood of requests can cost or take from the account's other functions.
   * @default 10
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * How old a delivery may be (by its push's timestamp) and still start a deployment; older ones are
   * refused, which bounds how long a captured request could be replayed.
   * @default Duration.minutes(10)
   */
  readonly maxDeliveryAge?: Duration;
  /**
   * How long the function's log events are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Receives GitHub push webhooks: a Lambda function behind a Function URL. GitHub cannot sign
 * requests with SigV4, so the URL has no IAM auth; the handler authenticates every delivery by its
 * X-Hub-Signature-256 HMAC before it does anything, records the delivery id once (replays are
 * dropped), and starts the deploy workflow.
 */
export class GitHubWebhook extends Construct {
  public readonly function: BallastFunction;
  public readonly functionUrl: lambda.FunctionUrl;
  /** The payload URL to configure on the GitHub repository's webhook. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: GitHubWebhookProps) {
    super(scope, id);
    this.function = new BallastFunction(this, 'Handler', {
      entry: projectPath('lambdas/handlers/github-webhook.ts'),
      description: `Ballast: GitHub push webhook for ${props.repository}`,
      timeout: Duration.seconds(15),
      memorySize: 256,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions ?? 10,
      logRetention: props.logRetention,
      environment: {
        BALLAST_STATE_BUCKET: props.bucket.bucketName,
        BALLAST_GITHUB_REPOSITORY: props.repository,
        BALLAST_GITHUB_WEBHOOK_SECRET_NAME: props.webhookSecretName,
        BALLAST_DEPLOY_STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
        BALLAST_GITHUB_MAX_DELIVERY_AGE_SECONDS: String((props.maxDeliveryAge ?? Duration.minutes(10)).toSeconds()),
      },
    });
    this.function.allow(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secretArn(Stack.of(this), props.webhookSecretName)],
      }),
    );
    this.function.grantObjects(props.bucket, 'readWrite', ['deliveries/']);
    this.function.allow(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [props.stateMachine.stateMachineArn] }),
    );

    this.functionUrl = this.function.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.url = this.functionUrl.url;
    new CfnOutput(this, 'WebhookUrl', {
      value: this.url,
      description: 'Payload URL for the GitHub webhook (content type application/json, push events, your secret)',
    });
  }
}
