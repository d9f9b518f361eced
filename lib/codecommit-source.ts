import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codecommit from 'aws-cdk-lib/aws-codecommit';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { deadLetterQueue } from './workflow-alarms.ts';

export interface CodeCommitSourceProps {
  /** The CodeCommit repository Ballast watches. */
  readonly repositoryName: string;
  /**
   * Create the repository with the stack. Leave false for a repository that already exists.
   * @default false
   */
  readonly createRepository?: boolean;
  /** The deploy workflow each push starts. */
  readonly stateMachine: sfn.IStateMachine;
  /**
   * How long EventBridge keeps retrying to start the workflow before the event goes to the
   * dead-letter queue.
   * @default Duration.hours(24) (EventBridge's maximum)
   */
  readonly maxEventAge?: Duration;
  /**
   * How many times EventBridge retries to start the workflow.
   * @default 185 (EventBridge's maximum)
   */
  readonly retryAttempts?: number;
  /**
   * How long an undeliverable push event is kept in the dead-letter queue.
   * @default Duration.days(14) (SQS's maximum)
   */
  readonly deadLetterRetention?: Duration;
  /**
   * Where the dead-letter alarm notifies.
   * @default - the alarm changes state in CloudWatch without notifying anyone
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * Starts the deploy workflow on every push to a branch of a CodeCommit repository: an EventBridge
 * rule on "CodeCommit Repository State Change" (referenceCreated / referenceUpdated on a branch)
 * whose target is the state machine, with the event itself as the execution input.
 *
 * No push is lost silently: EventBridge retries StartExecution, an event it cannot deliver lands in
 * an encrypted dead-letter queue, and an alarm fires as soon as that queue holds a message; the
 * reconciler deploys a branch head no execution saw (lambdas/handlers/reconcile-scan.ts).
 */
export class CodeCommitSource extends Construct {
  public readonly repository: codecommit.IRepository;
  public readonly rule: events.Rule;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: CodeCommitSourceProps) {
    super(scope, id);

    this.repository = props.createRepository
      ? new codecommit.Repository(this, 'Repository', {
          repositoryName: props.repositoryName,
          description: 'Ballast model repository: models, endpoints, prompts and configs, deployed on push',
        })
      : codecommit.Repository.fromRepositoryName(this, 'Repository', props.repositoryName);

    const deadLetters = deadLetterQueue(this, {
      of: 'the push rule',
      alarmDescription:
        'Ballast: a CodeCommit push could not start the deploy workflow. The event is in the dead-letter queue; ' +
        'start an execution with it as input (or push again) once the cause is fixed.',
      alarmTopic: props.alarmTopic,
      ...(props.deadLetterRetention ? { retention: props.deadLetterRetention } : {}),
    });
    this.deadLetterQueue = deadLetters.queue;
    this.deadLetterAlarm = deadLetters.alarm;

    this.rule = new events.Rule(this, 'PushRule', {
      description: `Ballast: start the deploy workflow on a push to a branch of ${props.repositoryName}`,
      eventPattern: {
        source: ['aws.codecommit'],
        detailType: ['CodeCommit Repository State Change'],
        resources: [this.repository.repositoryArn],
        detail: {
          event: ['referenceCreated', 'referenceUpdated'],
          referenceType: ['branch'],
        },
      },
    });
    // No `input`: the execution input is the raw event, which the Resolve step normalises.
    this.rule.addTarget(
      new targets.SfnStateMachine(props.stateMachine, {
        deadLetterQueue: this.deadLetterQueue,
        maxEventAge: props.maxEventAge ?? Duration.hours(24),
        retryAttempts: props.retryAttempts ?? 185,
      }),
    );
  }
}
