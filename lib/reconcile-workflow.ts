import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { projectPath } from './ballast-function.ts';
import { allowTaskInvocations, type WorkflowTask, workflowDefinition } from './deploy-workflow.ts';
import { deadLetterQueue, executionMetrics, occurrenceAlarm } from './workflow-alarms.ts';
import { RECONCILE_STEPS, type ReconcileStepName } from './workflow-steps.ts';

/** The longest an Express execution may run (AWS Step Functions Developer Guide, "Service quotas"). */
const EXPRESS_MAX_DURATION = Duration.minutes(5);

/** What every tick hands the workflow: Begin keeps it as `$.event`, Scan reads it. */
export const RECONCILE_TICK_SOURCE = 'ballast.scheduler';

export interface ReconcileWorkflowProps {
  /** The functions behind the workflow's task states. */
  readonly functions: Readonly<Record<ReconcileStepName, lambda.IFunction>>;
  /**
   * Minutes between ticks, 1 to 60. A tick only decides which environments are due: each
   * environment's own interval is ballast.yaml's `reconcile.intervalMinutes`, so this is the
   * finest interval an environment can ask for, not how often each one is reconciled.
   * @default 1
   */
  readonly tickMinutes?: number;
  /**
   * Whether the schedule ticks. False creates it DISABLED: the workflow can still be started by
   * hand (StartExecution), and enabling the schedule later changes nothing else.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * The state machine's name: fixed, so the CLI and the console find it by the stack's name.
   * @default `<stack name>-reconcile`
   */
  readonly stateMachineName?: string;
  /** @default 'stepfunctions/reconcile.asl.json' */
  readonly definitionFile?: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Where the workflow's alarms notify. @default - nobody */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * The reconcile workflow: an EXPRESS state machine from the ASL file (the one the local runner
 * runs), started on every tick of an EventBridge Scheduler schedule, able to invoke exactly its
 * three task functions, with alarms on failed and timed-out executions and on ticks that could
 * not start it.
 *
 * EXPRESS, not STANDARD: a run takes seconds and most ticks find nothing due (Scan and Finish,
 * two invocations). At one tick a minute that is 43,200 executions a month: as Express, about
 * $0.04 of requests plus a few cents of duration; as Standard, five or more state transitions
 * each, about $6 a month for doing nothing. Express executions are started at least once
 * (AWS Step Functions Developer Guide, "Standard vs. Express workflows"): a tick can run twice,
 * which the steps must tolerate as they tolerate a retry.
 */
export class ReconcileWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  /** The overall timeout, as declared by the definition's `TimeoutSeconds`. */
  public readonly timeout: Duration;
  /** The tick: `rate(tickMinutes minutes)`, DISABLED when `enabled` is false. */
  public readonly schedule: scheduler.Schedule;
  /** The role the schedule starts executions as: states:StartExecution on this state machine only. */
  public readonly scheduleRole: iam.Role;
  /** Ticks the schedule could not deliver (StartExecution failed through every retry). */
  public readonly deadLetterQueue: sqs.Queue;
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  public readonly executionsFailedAlarm: cloudwatch.Alarm;
  public readonly executionsTimedOutAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ReconcileWorkflowProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const tickMinutes = props.tickMinutes ?? 1;
    if (!Number.isInteger(tickMinutes) || tickMinutes < 1 || tickMinutes > 60) {
      throw new Error(
        `${this.node.path}: tickMinutes must be a whole number of minutes from 1 to 60, got ${tickMinutes}`,
      );
    }

    const definitionFile = props.definitionFile ?? projectPath('stepfunctions/reconcile.asl.json');
    const tasks = (Object.entries(props.functions) as Array<[ReconcileStepName, lambda.IFunction]>).map(
      ([step, fn]): WorkflowTask => [RECONCILE_STEPS[step].placeholder, fn],
    );
    const { timeout, ...definition } = workflowDefinition(definitionFile, tasks);
    this.timeout = timeout;
    if (timeout.toSeconds() > EXPRESS_MAX_DURATION.toSeconds()) {
      throw new Error(
        `${definitionFile}: TimeoutSeconds ${timeout.toSeconds()} is longer than an Express execution may run (${EXPRESS_MAX_DURATION.toSeconds()} s)`,
      );
    }

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName ?? `${stack.stackName}-reconcile`,
      ...definition,
      stateMachineType: sfn.StateMachineType.EXPRESS,
      tracingEnabled: true,
      // Express keeps no execution history: these logs are all Step Functions keeps of a run. ERROR
      // logs what goes wrong (a failed task, caught or not; a failed or timed-out execution) and
      // nothing of a run that goes right, so an idle tick writes no log event. ALL would log about
      // 20 events a tick, some 860,000 a month (roughly 0.4 GB, $0.20 of ingestion) of nothing
      // happening: more than the executions themselves cost, and many times more with execution data.
      // Execution data stays out (as in the other workflows): it names environments, endpoints and
      // batch keys; what a run did is in reconcile/status.json, the ledger, drift/ and Finish's metrics.
      logs: { destination: this.logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    });
    allowTaskInvocations(this.stateMachine, tasks);
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-SF1',
      reason:
        'The reconcile workflow runs every tick (a minute by default) and almost every run finds nothing to do: it logs ERROR events ' +
        '(every failed task and execution) rather than ALL, so idle ticks cost no log ingestion. What each run did ' +
        'is recorded by the workflow itself (reconcile/status.json, ledger, drift reports, metrics).',
    });

    const deadLetters = deadLetterQueue(this, {
      of: 'the reconcile schedule',
      alarmDescription:
        'Ballast: the reconcile schedule could not start the reconcile workflow (the messages in its dead-letter ' +
        'queue say why): drift is not being detected. Each tick supersedes the last; purge the queue once fixed.',
      alarmTopic: props.alarmTopic,
    });
    this.deadLetterQueue = deadLetters.queue;
    this.deadLetterAlarm = deadLetters.alarm;
    this.scheduleRole = new iam.Role(this, 'ScheduleRole', {
      description: 'Ballast: the reconcile schedule starts the reconcile workflow',
      // The confused-deputy guard Scheduler documents: only schedules of this account's default group.
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': stack.account,
            'aws:SourceArn': stack.formatArn({
              service: 'scheduler',
              resource: 'schedule-group',
              resourceName: 'default',
            }),
          },
        },
      }),
    });
    const tick = Duration.minutes(tickMinutes);
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: `Ballast: the reconcile tick (every ${tick.toHumanString()}); Scan decides which environments are due`,
      schedule: scheduler.ScheduleExpression.rate(tick),
      // Off: the tick is not the unit of work, so spreading ticks buys nothing. The tick only
      // decides which environments are due; Scan spreads them by each environment's
      // reconcile.intervalMinutes and a per-environment offset. A flexible window would only make
      // "due" later by up to the window, and intervals less even.
      timeWindow: scheduler.TimeWindow.off(),
      enabled: props.enabled ?? true,
      target: new schedulerTargets.StepFunctionsStartExecution(this.stateMachine, {
        role: this.scheduleRole,
        input: scheduler.ScheduleTargetInput.fromObject({
          source: RECONCILE_TICK_SOURCE,
          time: scheduler.ContextAttribute.scheduledTime,
        }),
        // Retried while the tick is still the newest: a tick older than the interval is superseded
        // by the next one, and delivering it late would only run two reconciles back to back.
        // What is still undelivered then goes to the queue, whose alarm says the reconciler is not
        // running.
        retryAttempts: 5,
        maxEventAge: tick,
        deadLetterQueue: this.deadLetterQueue,
      }),
    });

    const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) =>
      occurrenceAlarm(this, alarmId, metric, description, props.alarmTopic);
    // Express executions publish the same AWS/States ExecutionsFailed and ExecutionsTimedOut.
    const executions = executionMetrics(this.stateMachine, Duration.minutes(5));
    this.executionsFailedAlarm = alarm(
      'ExecutionsFailed',
      executions.failed,
      'Ballast reconcile workflow: a run failed (Scan or a batch of endpoints could not be checked). Express keeps ' +
        'no execution history: see the workflow log group and reconcile/status.json.',
    );
    this.executionsTimedOutAlarm = alarm(
      'ExecutionsTimedOut',
      executions.timedOut,
      `Ballast reconcile workflow: a run ran past its ${this.timeout.toHumanString()} timeout.`,
    );
  }
}
