import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
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

export interface DeadLetterQueueProps {
  /** What the queue is the dead-letter queue of, for cdk-nag's acknowledgement (`the push rule`). */
  readonly of: string;
  /** What a message in the queue means and what to do about it. */
  readonly alarmDescription: string;
  readonly alarmTopic: sns.ITopic | undefined;
  /** @default Duration.days(14), the longest SQS keeps a message */
  readonly retention?: Duration;
}

/**
 * An encrypted, TLS-only dead-letter queue (`DeadLetterQueue`) for what a rule or schedule could
 * not deliver, and an alarm (`DeadLetterAlarm`) on its first message.
 */
export function deadLetterQueue(
  scope: Construct,
  props: DeadLetterQueueProps,
): { readonly queue: sqs.Queue; readonly alarm: cloudwatch.Alarm } {
  const queue = new sqs.Queue(scope, 'DeadLetterQueue', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: props.retention ?? Duration.days(14),
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue is itself the dead-letter queue of ${props.of}; it has no further queue to fail over to.`,
  });
  const alarm = occurrenceAlarm(
    scope,
    'DeadLetterAlarm',
    queue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(5),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    props.alarmDescription,
    props.alarmTopic,
  );
  return { queue, alarm };
}
