import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { BallastFunction, projectPath } from './ballast-function.ts';
import { WAKE_FUNCTION, wakeEventPattern } from './workflow-steps.ts';

export interface RolloutWakeProps {
  /** The Ballast store: Park parks the waits' task tokens under `wake/`, which Wake reads. */
  readonly bucket: s3.IBucket;
  /** Prefix of the SageMaker endpoints Ballast creates: only their events wake executions. */
  readonly resourcePrefix: string;
  /**
   * How long EventBridge, then Lambda, keep trying to deliver an event to Wake. A deploy execution
   * waits at most an hour between two looks at its endpoint (CheckRollout's longest sleep), so an
   * older wake-up has been overtaken by the scheduled look.
   * @default Duration.hours(1)
   */
  readonly maxEventAge?: Duration;
  /**
   * How long the function's log events are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where the alarm on Wake's errors notifies.
   * @default - the alarm changes state in CloudWatch without notifying anyone
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * Ends the waits of deploy executions as soon as SageMaker is done with their endpoint: an
 * EventBridge rule on SageMaker's endpoint events ("SageMaker Endpoint State Change" and
 * "SageMaker Endpoint Deployment State Change", InService or Failed, endpoints under the resource
 * prefix) invokes the Wake function, which answers the task tokens Park parked for the endpoint
 * (states:SendTaskSuccess). A rollback SageMaker finishes early in a long bake is then recorded
 * within moments instead of at the execution's next scheduled check.
 *
 * Nothing depends on it for correctness: a wake-up that is lost, late or failed leaves the
 * execution to look at its scheduled time, as without this construct. So the rule has no
 * dead-letter queue (a lost wake-up is nothing anyone could act on); an alarm on Wake's errors
 * says when executions are back to their schedule.
 */
export class RolloutWake extends Construct {
  public readonly function: BallastFunction;
  public readonly rule: events.Rule;
  /** Wake failed (after Lambda's retries of the event): executions wait for their scheduled checks. */
  public readonly errorsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: RolloutWakeProps) {
    super(scope, id);
    const maxEventAge = props.maxEventAge ?? Duration.hours(1);
    const settings: Record<(typeof WAKE_FUNCTION.settings)[number], string> = {
      BALLAST_STATE_BUCKET: props.bucket.bucketName,
      BALLAST_RESOURCE_PREFIX: props.resourcePrefix,
    };
    this.function = new BallastFunction(this, 'Handler', {
      entry: projectPath(`lambdas/handlers/${WAKE_FUNCTION.file}`),
      description: WAKE_FUNCTION.description,
      timeout: Duration.seconds(WAKE_FUNCTION.timeoutSeconds),
      memorySize: WAKE_FUNCTION.memorySize,
      logRetention: props.logRetention,
      environment: settings,
    });
    this.function.grantObjects(props.bucket, 'read', WAKE_FUNCTION.store.read);
    this.function.allow(
      new iam.PolicyStatement({ actions: ['states:SendTaskSuccess'], resources: ['*'] }),
      'states:SendTaskSuccess supports no resource-level permissions (the Service Authorization Reference lists no ' +
        'resource type for it): the task token names the task. Wake answers only the tokens Park parked under wake/, ' +
        'and may not fail or heartbeat a task.',
    );
    this.function.function.configureAsyncInvoke({ maxEventAge, retryAttempts: 2 });

    const pattern = wakeEventPattern(props.resourcePrefix);
    this.rule = new events.Rule(this, 'EndpointSettled', {
      description: `Ballast: wake the deploy executions waiting on a SageMaker endpoint ${props.resourcePrefix}-* once it is InService or Failed again`,
      eventPattern: { source: [...pattern.source], detailType: [...pattern['detail-type']], detail: pattern.detail },
    });
    this.rule.addTarget(new targets.LambdaFunction(this.function.function, { maxEventAge, retryAttempts: 8 }));

    this.errorsAlarm = this.function.function
      .metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM })
      .createAlarm(this, 'ErrorsAlarm', {
        alarmDescription:
          'Ballast Wake failed: deploy executions waiting on SageMaker endpoints are not woken and look at their ' +
          'endpoints at their scheduled checks instead (later, not wrong). See the function logs.',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    if (props.alarmTopic) this.errorsAlarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
  }
}
