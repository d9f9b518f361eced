import { Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { projectPath } from './ballast-function.ts';
import { allowTaskInvocations, type WorkflowTask, workflowDefinition } from './deploy-workflow.ts';
import { deadLetterQueue, executionMetrics, occurrenceAlarm } from './workflow-alarms.ts';
import { ROLLBACK_STEPS, type RollbackStepName } from './workflow-steps.ts';

/**
 * The EventBridge pattern of the rule that starts the rollback workflow: any CloudWatch alarm of
 * the account and region going into ALARM ("CloudWatch Alarm State Change", Amazon CloudWatch User
 * Guide, "Alarm events and EventBridge"). Alarms are declared per Endpoint in Git, so the rule
 * cannot list them; Triage looks the alarm up and ends at once for an alarm no endpoint declares.
 */
export const ALARM_STATE_CHANGE_PATTERN: events.EventPattern = {
  source: ['aws.cloudwatch'],
  detailType: ['CloudWatch Alarm State Change'],
  detail: { state: { value: ['ALARM'] } },
};

export interface RollbackWorkflowProps {
  /** The functions behind the workflow's own task states. */
  readonly functions: Readonly<Record<RollbackStepName, lambda.IFunction>>;
  /** The deploy workflow's CheckRollout: the CheckRollback state runs it. */
  readonly checkRollout: lambda.IFunction;
  /**
   * The state machine's name: fixed, so `ballast rollback --stack NAME` finds it.
   * @default `<stack name>-rollback`
   */
  readonly stateMachineName?: string;
  /** @default 'stepfunctions/rollback.asl.json' */
  readonly definitionFile?: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Where the workflow's own failure alarm notifies. @default - nobody */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * The rollback workflow: a STANDARD state machine from the ASL file (the one the local runner
 * runs), started by an EventBridge rule on alarms going into ALARM and by `ballast rollback`
 * (StartExecution), able to invoke exactly its task functions, with an alarm on failed executions.
 */
export class RollbackWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  /** The overall timeout, as declared by the definition's `TimeoutSeconds`. */
  public readonly timeout: Duration;
  public readonly rule: events.Rule;
  /** Alarm events the rule could not deliver (an alarm nobody acted on). */
  public readonly deadLetterQueue: sqs.Queue;
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  public readonly executionsFailedAlarm: cloudwatch.Alarm;
  public readonly executionsTimedOutAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: RollbackWorkflowProps) {
    super(scope, id);
    const tasks: WorkflowTask[] = [
      ...(Object.entries(props.functions) as Array<[RollbackStepName, lambda.IFunction]>).map(
        ([step, fn]): WorkflowTask => [ROLLBACK_STEPS[step].placeholder, fn],
      ),
      ['CheckRollout', props.checkRollout],
    ];
    const { timeout, ...definition } = workflowDefinition(
      props.definitionFile ?? projectPath('stepfunctions/rollback.asl.json'),
      tasks,
    );
    this.timeout = timeout;
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName ?? `${Stack.of(this).stackName}-rollback`,
      ...definition,
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      // As for the deploy workflow: execution data carries commit metadata; it stays out of the logs.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    allowTaskInvocations(this.stateMachine, tasks);
    const deadLetters = deadLetterQueue(this, {
      of: 'the alarm rule',
      alarmDescription:
        'Ballast: an alarm event could not start the rollback workflow. The event is in the dead-letter queue; ' +
        'start a rollback execution with it as input, or run `ballast rollback`.',
      alarmTopic: props.alarmTopic,
    });
    this.deadLetterQueue = deadLetters.queue;
    this.deadLetterAlarm = deadLetters.alarm;
    this.rule = new events.Rule(this, 'AlarmRule', {
      description: 'Ballast: an alarm went into ALARM; the rollback workflow decides whether an endpoint rolls back',
      eventPattern: ALARM_STATE_CHANGE_PATTERN,
      targets: [
        // EventBridge retries StartExecution for a day; an event it cannot deliver lands in the queue.
        new targets.SfnStateMachine(this.stateMachine, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) =>
      occurrenceAlarm(this, alarmId, metric, description, props.alarmTopic);
    const executions = executionMetrics(this.stateMachine, Duration.minutes(5));
    this.executionsFailedAlarm = alarm(
      'ExecutionsFailed',
      executions.failed,
      'Ballast rollback workflow: an execution failed (an alarm may not have been acted on or recorded). Open the execution in the Step Functions console.',
    );
    this.executionsTimedOutAlarm = alarm(
      'ExecutionsTimedOut',
      executions.timedOut,
      'Ballast rollback workflow: an execution ran past its timeout (a rollback that never settled).',
    );
  }
}
