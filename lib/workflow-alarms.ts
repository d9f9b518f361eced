import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

/**
 * An alarm that fires on the first occurrence of what `metric` counts (a failed execution, a dead
 * letter), and notifies `topic` when there is one. Missing data is no occurrence.
 */
export function occurrenceAlarm(
  scope: Construct,
  id: string,
  metric: cloudwatch.IMetric,
  description: string,
  topic: sns.ITopic | undefined,
): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    metric,
    alarmDescription: description,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  if (topic) alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
  return alarm;
}

/** The executions of `stateMachine` that failed, timed out or were aborted, summed per `period`. */
export function executionMetrics(
  stateMachine: sfn.StateMachine,
  period: Duration,
): Record<'failed' | 'timedOut' | 'aborted', cloudwatch.Metric> {
  const options = { period, statistic: cloudwatch.Stats.SUM };
  return {
    failed: stateMachine.metricFailed(options),
    timedOut: stateMachine.metricTimedOut(options),
    aborted: stateMachine.metricAborted(options),
  };
}
