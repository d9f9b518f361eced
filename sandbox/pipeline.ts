import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { resetClients } from '../lambdas/aws/client-config.ts';
import { logger, useClock } from '../lambdas/handlers/runtime.ts';
import { metrics } from '../lambdas/runtime/powertools.ts';
import type { EndpointResult } from '../lambdas/workflow/types.ts';
import {
  DEPLOY_STEPS,
  RECONCILE_STEPS,
  ROLLBACK_STEPS,
  WAKE_FUNCTION,
  type WorkflowStep,
  wakeEventPattern,
} from '../lib/workflow-steps.ts';
import { emfSink } from './emf.ts';
import type { EventBridgeEvent, EventPattern } from './events.ts';
import { type LambdaHandler, type LocalExecution, LocalRunner } from './runner.ts';
import type { Sandbox } from './sandbox.ts';
import { ALARM_PATTERN, LocalTriggers } from './triggers.ts';

export const DEPLOY_ASL = fileURLToPath(new URL('../stepfunctions/deploy.asl.json', import.meta.url));
export const ROLLBACK_ASL = fileURLToPath(new URL('../stepfunctions/rollback.asl.json', import.meta.url));
export const RECONCILE_ASL = fileURLToPath(new URL('../stepfunctions/reconcile.asl.json', import.meta.url));

/** What the stack's schedule sends the reconcile workflow (lib/reconcile-workflow.ts). */
export const RECONCILE_TICK_INPUT = { source: 'ballast.scheduler' } as const;

/**
 * The deploy workflow's state machine ARN in a sandbox: StartExecution on it through the sandbox's
 * Step Functions API (what the GitHub webhook does) starts the local deploy workflow.
 */
export function deployStateMachineArn(sandbox: Pick<Sandbox, 'account' | 'region'>): string {
  return `arn:aws:states:${sandbox.region}:${sandbox.account}:stateMachine:ballast-deploy`;
}

/** The rollback workflow's state machine ARN in a sandbox (what `ballast rollback` starts). */
export function rollbackStateMachineArn(sandbox: Pick<Sandbox, 'account' | 'region'>): string {
  return `arn:aws:states:${sandbox.region}:${sandbox.account}:stateMachine:ballast-rollback`;
}

/**
 * The EventBridge rule the CDK stack creates for CodeCommit (lib/codecommit-source.ts): pushes
 * that create or move a branch start the deploy workflow, with the event as the execution input.
 */
export const CODECOMMIT_PUSH_PATTERN: EventPattern = {
  source: ['aws.codecommit'],
  'detail-type': ['CodeCommit Repository State Change'],
  detail: { event: ['referenceCreated', 'referenceUpdated'], referenceType: ['branch'] },
};

/**
 * The handler behind each `${NameFunctionArn}` of the deploy workflow, as the stack binds them:
 * read from the step manifest (lib/workflow-steps.ts), the same list lib/ builds the functions from.
 */
async function handlersOf(steps: Readonly<Record<string, WorkflowStep>>): Promise<Record<string, LambdaHandler>> {
  return Object.fromEntries(
    await Promise.all(
      Object.values(steps).map(async (step) => {
        const module = (await import(`../lambdas/handlers/${step.file}`)) as { handler?: LambdaHandler };
        if (typeof module.handler !== 'function') throw new Error(`lambdas/handlers/${step.file} exports no handler`);
        return [step.placeholder, module.handler] as const;
      }),
    ),
  );
}

export const DEPLOY_FUNCTIONS: Readonly<Record<string, LambdaHandler>> = await handlersOf(DEPLOY_STEPS);

/**
 * The rollback workflow's handlers, as the stack binds them: its own steps, and the deploy
 * workflow's CheckRollout for its CheckRollback state (lib/rollback-workflow.ts).
 */
export const ROLLBACK_FUNCTIONS: Readonly<Record<string, LambdaHandler>> = {
  ...(await handlersOf(ROLLBACK_STEPS)),
  CheckRollout: DEPLOY_FUNCTIONS.CheckRollout as LambdaHandler,
};

/** The reconcile workflow's handlers, as the stack binds them (lib/reconcile-workflow.ts). */
export const RECONCILE_FUNCTIONS: Readonly<Record<string, LambdaHandler>> = await handlersOf(RECONCILE_STEPS);

/** The Wake handler: the target of the rule on SageMaker's endpoint events (see {@link LocalPipeline}). */
export const WAKE_HANDLER: LambdaHandler = await (async () => {
  const module = (await import(`../lambdas/handlers/${WAKE_FUNCTION.file}`)) as { handler?: LambdaHandler };
  if (typeof module.handler !== 'function')
    throw new Error(`lambdas/handlers/${WAKE_FUNCTION.file} exports no handler`);
  return module.handler;
})();

/**
 * The endpoints' results in a finished deploy execution's output: the Map writes them over the
 * plan's items (the names they came from), see stepfunctions/deploy.asl.json. Empty for a push that
 * reached no endpoint.
 */
export function endpointResults(output: unknown): EndpointResult[] {
  const items = (output as { plan?: { items?: unknown } } | undefined)?.plan?.items;
  return Array.isArray(items)
    ? items.filter((item): item is EndpointResult => typeof item === 'object' && item !== null && 'outcome' in item)
    : [];
}

export interface LocalPipelineOptions {
  readonly sandbox: Sandbox;
  /** The state bucket (created in the sandbox). @default 'ballast-state' */
  readonly stateBucket?: string;
  /** @default 'ballast' */
  readonly resourcePrefix?: string;
  /** Only pushes to these CodeCommit repositories start deployments. @default every repository */
  readonly repositories?: readonly string[];
  /** The stack's ballast:secretPrefix: the secrets Models may declare. @default none (Models may declare no secrets) */
  readonly secretPrefix?: string;
  /**
   * The handlers bound to the ASL's Task states, by placeholder (`Register`, `Pin`, ...). Benchmarks
   * wrap the real ones to time a phase. @default DEPLOY_FUNCTIONS
   */
  readonly functions?: Readonly<Record<string, LambdaHandler>>;
  /**
   * The stack's alarm topic (with `alarmEmail` on AWS): created in the sandbox's SNS, and where the
   * rollback workflow tells about rollbacks. `false`: no topic.
   * @default 'ballast-alarms'
   */
  readonly alarmTopic?: string | false;
  /** The rollback workflow's handlers, by placeholder. @default ROLLBACK_FUNCTIONS */
  readonly rollbackFunctions?: Readonly<Record<string, LambdaHandler>>;
  /**
   * The reconciler's schedule, as the stack's EventBridge Scheduler schedule: every `tickSeconds`
   * of simulated time the reconcile workflow runs (ballast.yaml says which environments are due).
   * Off unless asked for, so that tests which change endpoints by hand decide when it looks.
   * `pipeline.reconcile()` runs it once either way.
   * @default false
   */
  readonly reconcile?: boolean | { readonly tickSeconds: number };
  /** The reconcile workflow's handlers, by placeholder. @default RECONCILE_FUNCTIONS */
  readonly reconcileFunctions?: Readonly<Record<string, LambdaHandler>>;
}

/**
 * Ballast on the sandbox: the deploy workflow (the ASL file the stack deploys) run by the local
 * runner with the real handlers, wired to sandbox events the way the stack wires EventBridge.
 * Handlers reach the sandbox only through the SDK's standard endpoint configuration.
 */
export class LocalPipeline {
  readonly runner: LocalRunner;
  readonly stateBucket: string;
  /** The local EventBridge rules and schedules (push → deploy, alarm → rollback, SageMaker → Wake). */
  readonly triggers: LocalTriggers;

  private constructor(
    private readonly options: LocalPipelineOptions,
    functions: Readonly<Record<string, LambdaHandler>>,
  ) {
    this.stateBucket = options.stateBucket ?? 'ballast-state';
    // The sandbox's Step Functions issues the callback tasks' tokens, so its SendTaskSuccess answers them.
    this.runner = new LocalRunner(
      options.sandbox.clock,
      {
        deploy: { aslPath: DEPLOY_ASL, functions },
        rollback: { aslPath: ROLLBACK_ASL, functions: options.rollbackFunctions ?? ROLLBACK_FUNCTIONS },
        reconcile: { aslPath: RECONCILE_ASL, functions: options.reconcileFunctions ?? RECONCILE_FUNCTIONS },
      },
      { taskTokens: options.sandbox.stepfunctions },
    );
    // Through `this.runner` at call time, so a test that swaps the runner keeps its triggers.
    this.triggers = new LocalTriggers(
      (w, input) => this.runner.start(w, input),
      options.sandbox.events,
      options.sandbox.clock,
    );
  }

  static async start(options: LocalPipelineOptions): Promise<LocalPipeline> {
    const { sandbox } = options;
    const stateBucket = options.stateBucket ?? 'ballast-state';
    // What the stack's Lambda environment would hold, pointed at the sandbox.
    Object.assign(process.env, sandbox.env(), {
      BALLAST_STATE_BUCKET: stateBucket,
      BALLAST_RESOURCE_PREFIX: options.resourcePrefix ?? 'ballast',
      BALLAST_SAGEMAKER_ROLE_ARN: `arn:aws:iam::${sandbox.account}:role/ballast-sagemaker-execution`,
      BALLAST_ACCOUNT_ID: sandbox.account,
      BALLAST_REGION: sandbox.region,
      BALLAST_DEPLOY_STATE_MACHINE_ARN: deployStateMachineArn(sandbox),
    });
    if (options.secretPrefix) process.env.BALLAST_SECRET_PREFIX = options.secretPrefix;
    else delete process.env.BALLAST_SECRET_PREFIX;
    const topicName = options.alarmTopic ?? 'ballast-alarms';
    if (topicName) {
      const sns = new SNSClient({ endpoint: sandbox.url, region: sandbox.region });
      const topic = await sns.send(new CreateTopicCommand({ Name: topicName }));
      sns.destroy();
      process.env.BALLAST_ALARM_TOPIC_ARN = topic.TopicArn ?? '';
    } else {
      delete process.env.BALLAST_ALARM_TOPIC_ARN;
    }
    // Handler logs are for CloudWatch; locally they would drown the narration. BALLAST_LOG_LEVEL=INFO shows them.
    logger.setLogLevel((process.env.BALLAST_LOG_LEVEL ?? 'SILENT') as 'SILENT');
    resetClients();
    // The handlers' EMF goes to the sandbox's CloudWatch (as CloudWatch Logs does on AWS), not stdout.
    metrics.sendEmfTo(emfSink(sandbox.cloudwatch));
    useClock(() => sandbox.clock.now());
    const s3 = new S3Client({ endpoint: sandbox.url, region: sandbox.region });
    await s3.send(new CreateBucketCommand({ Bucket: stateBucket })).catch((error: unknown) => {
      if (!(error instanceof Error && /BucketAlreadyOwnedByYou|BucketAlreadyExists/.test(error.name))) throw error;
    });
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: stateBucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    s3.destroy();
    const pipeline = new LocalPipeline(options, options.functions ?? DEPLOY_FUNCTIONS);
    pipeline.triggers.onEvent(CODECOMMIT_PUSH_PATTERN, 'deploy', (event) => pipeline.watches(event));
    // The stack's rule on alarms going into ALARM (lib/rollback-workflow.ts).
    pipeline.triggers.onEvent(ALARM_PATTERN, 'rollback');
    sandbox.stepfunctions.bind(
      rollbackStateMachineArn(sandbox),
      (input, name) => pipeline.runner.start('rollback', input, name),
      { definition: readFileSync(ROLLBACK_ASL, 'utf8') },
    );
    // Wake, as the stack's rule on SageMaker's endpoint events invokes it (lib/rollout-wake.ts).
    pipeline.triggers.onEventInvoke(wakeEventPattern(options.resourcePrefix ?? 'ballast'), (event) =>
      pipeline.runner.invoke(WAKE_FUNCTION.name, WAKE_HANDLER, event),
    );
    if (options.reconcile) pipeline.scheduleReconcile(options.reconcile === true ? 60 : options.reconcile.tickSeconds);
    // Through `pipeline.runner` at call time, like the triggers.
    sandbox.stepfunctions.bind(
      deployStateMachineArn(sandbox),
      (input, name) => pipeline.runner.start('deploy', input, name),
      { definition: readFileSync(DEPLOY_ASL, 'utf8') },
    );
    return pipeline;
  }

  /** Starts a deploy execution for an event, as the EventBridge rule target does. */
  deployFor(event: EventBridgeEvent): LocalExecution {
    return this.runner.start('deploy', event);
  }

  /** The reconciler's schedule from now on: a tick every `tickSeconds` of simulated time (the stack's is a minute). */
  scheduleReconcile(tickSeconds = 60): void {
    this.triggers.every(tickSeconds, 'reconcile', RECONCILE_TICK_INPUT);
  }

  /** Runs the reconcile workflow once, as a tick of its schedule does. */
  reconcile(): LocalExecution {
    return this.runner.start('reconcile', RECONCILE_TICK_INPUT);
  }

  /** Resolves when every execution has finished. */
  async idle(): Promise<void> {
    await this.runner.idle();
  }

  /** Stops starting executions (rules, schedules, StartExecution); running ones go on. */
  stop(): void {
    this.triggers.stop();
    this.options.sandbox.stepfunctions.unbind(deployStateMachineArn(this.options.sandbox));
    this.options.sandbox.stepfunctions.unbind(rollbackStateMachineArn(this.options.sandbox));
  }

  /** The rule's resource filter: the stack's rule matches its one repository's ARN. */
  private watches(event: EventBridgeEvent): boolean {
    const repository = (event.detail as { repositoryName?: string }).repositoryName;
    return !(this.options.repositories && repository && !this.options.repositories.includes(repository));
  }
}
