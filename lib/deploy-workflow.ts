import { readFileSync } from 'node:fs';
import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { projectPath } from './ballast-function.ts';
import { allow } from './least-privilege.ts';
import { executionMetrics, occurrenceAlarm } from './workflow-alarms.ts';
import { DEPLOY_STEPS, type StepName } from './workflow-steps.ts';

/** The Lambda function behind each task state of the deploy workflow, by manifest step. */
export type DeployWorkflowFunctions = Readonly<Record<StepName, lambda.IFunction>>;

/**
 * Failed or rolled-back deployments across all environments. The Record step publishes
 * `Ballast/DeploymentsFailed` as EMF with the dimensions `Environment` and `service` (Powertools
 * Metrics adds its service name as a default dimension); environments are declared in Git, not
 * known at deploy time, so the alarm sums them with a Metrics Insights query over that schema.
 */
export const DEPLOYMENTS_FAILED_QUERY = 'SELECT SUM(DeploymentsFailed) FROM SCHEMA("Ballast", Environment, service)';

/** The deploy state machine's default name, `<stack name>-deploy` (see {@link DeployWorkflowProps.stateMachineName}). */
export function defaultDeployStateMachineName(stack: Stack): string {
  return `${stack.stackName}-deploy`;
}

/**
 * The ARN of a state machine of `stack` built from its fixed name. It refers to no resource, so a
 * role can be granted it before (or inside) the state machine it names without a circular
 * dependency: the deploy workflow's own role, and the functions built before it.
 */
export function stateMachineArnOf(stack: Stack, name: string): string {
  return stack.formatArn({
    service: 'states',
    resource: 'stateMachine',
    resourceName: name,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

export interface DeployWorkflowProps {
  /** The functions behind the task states. */
  readonly functions: DeployWorkflowFunctions;
  /**
   * The workflow definition: an ASL file (JSONPath) with a `${<Name>FunctionArn}` placeholder per
   * task. It is the same file the local runner executes. Its top-level `TimeoutSeconds` is the
   * workflow's overall timeout and must be present.
   * @default 'stepfunctions/deploy.asl.json'
   */
  readonly definitionFile?: string;
  /**
   * The state machine's name. It is fixed (not generated) because the workflow starts its own
   * child executions (one per endpoint, a Distributed Map), and its role must name its own ARN.
   * @default `<stack name>-deploy`
   */
  readonly stateMachineName?: string;
  /**
   * How long the execution history log is kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where the workflow's alarms notify.
   * @default - the alarms change state in CloudWatch without notifying anyone
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Also alarm on the `Ballast/DeploymentsFailed` metric the Record step publishes (a rollout that
   * failed or rolled back while the execution itself succeeded).
   * @default true
   */
  readonly alarmOnFailedDeployments?: boolean;
}

/**
 * The deploy workflow: a STANDARD state machine loaded from the ASL file, logging every event
 * (without execution data) to CloudWatch Logs, traced with X-Ray, able to invoke exactly its task
 * functions, with alarms on failed, timed-out and aborted executions.
 */
export class DeployWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  /** The overall timeout, as declared by the definition's `TimeoutSeconds`. */
  public readonly timeout: Duration;
  public readonly executionsFailedAlarm: cloudwatch.Alarm;
  public readonly executionsTimedOutAlarm: cloudwatch.Alarm;
  public readonly executionsAbortedAlarm: cloudwatch.Alarm;
  /** Present unless `alarmOnFailedDeployments` is false. */
  public readonly deploymentsFailedAlarm?: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: DeployWorkflowProps) {
    super(scope, id);
    const tasks = (Object.entries(props.functions) as Array<[StepName, lambda.IFunction]>).map(
      ([step, fn]): WorkflowTask => [DEPLOY_STEPS[step].placeholder, fn],
    );
    const { timeout, ...definition } = workflowDefinition(
      props.definitionFile ?? projectPath('stepfunctions/deploy.asl.json'),
      tasks,
    );
    this.timeout = timeout;

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });

    const stack = Stack.of(this);
    const stateMachineName = props.stateMachineName ?? defaultDeployStateMachineName(stack);
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      ...definition,
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      // Execution data (state input and output) carries commit metadata: who pushed, branch, commit,
      // endpoint names, S3 keys. It is already in the ledger and the execution history; keeping it out of
      // the logs keeps the log group free of anything a reader of operational logs should not need.
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });

    allowTaskInvocations(this.stateMachine, tasks);
    // The Endpoints Map is a Distributed Map: Step Functions starts one child execution of this state
    // machine per endpoint, as this role, and watches and stops them. ("IAM policies for using
    // Distributed Map states", AWS Step Functions Developer Guide.) The ARNs are built from the
    // fixed name: referring to the state machine's own ARN attribute would be a circular dependency.
    const ownArn = stateMachineArnOf(stack, stateMachineName);
    const childExecutions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachineName}/*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [ownArn] }),
    );
    // allow() derives the acknowledgement from the resolved statement, so it names the finding
    // exactly as cdk-nag reports it (a stack with a concrete env has no <AWS::Region> in the ARN).
    allow(
      this.stateMachine,
      this.stateMachine.role,
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [childExecutions],
      }),
      'Distributed Map child executions are named by Step Functions at run time; the grant covers only the executions of this state machine.',
    );

    const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) =>
      occurrenceAlarm(this, alarmId, metric, description, props.alarmTopic);
    const period = Duration.minutes(5);
    const executions = executionMetrics(this.stateMachine, period);
    this.executionsFailedAlarm = alarm(
      'ExecutionsFailed',
      executions.failed,
      'Ballast deploy workflow: an execution failed (a push was not deployed). Open the execution in the Step Functions console.',
    );
    this.executionsTimedOutAlarm = alarm(
      'ExecutionsTimedOut',
      executions.timedOut,
      `Ballast deploy workflow: an execution ran past its ${this.timeout.toHumanString()} timeout.`,
    );
    this.executionsAbortedAlarm = alarm(
      'ExecutionsAborted',
      executions.aborted,
      'Ballast deploy workflow: an execution was stopped before it finished.',
    );
    if (props.alarmOnFailedDeployments ?? true) {
      this.deploymentsFailedAlarm = alarm(
        'DeploymentsFailed',
        new cloudwatch.MathExpression({
          expression: DEPLOYMENTS_FAILED_QUERY,
          usingMetrics: {},
          period,
          label: 'Deployments failed (all environments)',
        }),
        'Ballast: a deployment failed or was rolled back (published by the Record step). See the ledger entry.',
      );
    }
  }
}

/** A task state's placeholder name (`Resolve`) and the function that fills its `${ResolveFunctionArn}`. */
export type WorkflowTask = readonly [placeholder: string, fn: lambda.IFunction];

/**
 * A state machine's definition from an ASL file (the one the local runner executes) with its task
 * placeholders filled by `tasks`, checked by {@link checkDefinition}, and the overall timeout it declares.
 */
export function workflowDefinition(
  file: string,
  tasks: readonly WorkflowTask[],
): { definitionBody: sfn.DefinitionBody; definitionSubstitutions: Record<string, string>; timeout: Duration } {
  const definitionSubstitutions = Object.fromEntries(
    tasks.map(([placeholder, fn]) => [`${placeholder}FunctionArn`, fn.functionArn]),
  );
  const timeout = checkDefinition(file, Object.keys(definitionSubstitutions));
  return { definitionBody: sfn.DefinitionBody.fromFile(file), definitionSubstitutions, timeout };
}

/**
 * Lets a state machine invoke exactly its task functions: its definition comes from a file, so CDK
 * cannot derive the permissions from it (unqualified ARNs, as the ASL uses them). Also acknowledges
 * the wildcards that Step Functions logging and tracing add to its role.
 */
export function allowTaskInvocations(stateMachine: sfn.StateMachine, tasks: readonly WorkflowTask[]): void {
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: tasks.map(([, fn]) => fn.functionArn) }),
  );
  Validations.of(stateMachine).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'Added by Step Functions logging and tracing: the CloudWatch Logs vended-delivery actions ' +
      '(logs:CreateLogDelivery, PutResourcePolicy, DescribeLogGroups, ...) and X-Ray trace actions support no ' +
      'resource-level permissions.',
  });
}

/**
 * Reads the ASL file and checks it against the substitutions: every `${...}` placeholder has a
 * value, every value fills a placeholder, and a top-level TimeoutSeconds bounds the workflow.
 * Returns that timeout. A mismatch fails `cdk synth` instead of a deployment.
 */
export function checkDefinition(file: string, names: readonly string[]): Duration {
  const text = readFileSync(file, 'utf8');
  const definition = JSON.parse(text) as { TimeoutSeconds?: unknown };
  const placeholders = new Set([...text.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1] ?? ''));
  const missing = [...placeholders].filter((p) => !names.includes(p));
  const unused = names.filter((n) => !placeholders.has(n));
  if (missing.length > 0 || unused.length > 0) {
    throw new Error(
      `${file}: placeholders without a function: [${missing.join(', ')}]; functions without a placeholder: [${unused.join(', ')}]`,
    );
  }
  if (typeof definition.TimeoutSeconds !== 'number' || definition.TimeoutSeconds <= 0) {
    throw new Error(`${file}: the workflow needs a top-level TimeoutSeconds (its overall timeout)`);
  }
  return Duration.seconds(definition.TimeoutSeconds);
}
