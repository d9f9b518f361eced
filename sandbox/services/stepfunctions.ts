import { randomUUID } from 'node:crypto';
import { awsJsonService, type JsonOperation } from '../protocols/aws-json.ts';
import type { ExecutionStatus, LocalExecution } from '../runner.ts';
import { LocalRunner, nestedDefinitions, ExecutionAlreadyExists as RunnerExecutionAlreadyExists } from '../runner.ts';
import type { SandboxService, ServiceContext } from '../service.ts';
import { AwsServiceError } from '../service.ts';
import { type TaskOutcome, type TaskTokenIssuer, TaskTokens } from './stepfunctions/task-tokens.ts';

/*
 * AWS Step Functions over awsJson 1.0 (target prefix `AWSStepFunctions`, signing name `states`):
 * the API a client uses to start and watch executions (StartExecution, DescribeExecution,
 * ListExecutions, StopExecution), so that Ballast's GitHub webhook, which calls StartExecution
 * through the SDK, really starts the local deploy workflow.
 *
 * State machines come from two places:
 * - `bind(arn, start)`: LocalPipeline binds the deploy workflow's ARN to the local runner (the ASL
 *   the stack ships, run by aws-local-stepfunctions with the real handlers).
 * - CreateStateMachine: a minimal version for clients and the conformance suite. The definition is
 *   validated and run by aws-local-stepfunctions as it is; Task states are refused (there are no
 *   Lambda functions behind the sandbox). A Wait state with `Seconds` lasts that long in simulated
 *   time (wall time divided by the sandbox's time scale), so a long Wait keeps an execution RUNNING
 *   as on AWS; `SecondsPath` and `Timestamp` waits take their wall-clock time.
 *
 * Callback tasks (`.waitForTaskToken`): the local runner takes each such task's token from this
 * service (`issueTaskToken`), and SendTaskSuccess / SendTaskFailure answer it, with the errors the
 * API Reference gives them: InvalidToken for a string that is no token, TaskTimedOut for a task
 * that has closed (answered already, timed out, or its execution ended), TaskDoesNotExist for a
 * token this sandbox never issued, InvalidOutput for an output that is not JSON. (moto 5.2.1
 * accepts any token and answers nothing, so these have no conformance suite.)
 *
 * StartExecution follows the API Reference for STANDARD workflows: names are unique per state
 * machine; the same name and input as an execution that is still running returns that execution
 * (same executionArn and startDate) and starts nothing; a different input, or any input once that
 * execution has closed, is ExecutionAlreadyExists. (AWS frees a name 90 days after the execution
 * closes; the sandbox never does.)
 */

/** Starts an execution of a bound workflow; `name` is already validated and unique. */
export type ExecutionStarter = (input: unknown, name: string) => LocalExecution;

export interface BindOptions {
  /** The ASL returned by DescribeStateMachine. @default '{}' */
  readonly definition?: string;
  /** @default a role named after the state machine */
  readonly roleArn?: string;
}

/** An execution as DescribeExecution tells it. */
export interface ExecutionView {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly input: string;
  readonly startDate: Date;
  readonly stopDate?: Date;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

export interface StepFunctionsSandbox extends SandboxService, TaskTokenIssuer {
  /** Makes `stateMachineArn` a state machine whose executions `start` runs (replacing any binding). */
  bind(stateMachineArn: string, start: ExecutionStarter, options?: BindOptions): void;
  unbind(stateMachineArn: string): void;
  /** Every execution started through the API, oldest first. */
  executions(stateMachineArn?: string): ExecutionView[];
}

interface StateMachineRecord {
  readonly arn: string;
  readonly name: string;
  readonly definition: string;
  readonly roleArn: string;
  readonly createdMs: number;
  readonly start: ExecutionStarter;
}

interface ExecutionRecord {
  readonly arn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly local: LocalExecution;
  stopMs?: number;
  /** Stopped with StopExecution. */
  stopped?: boolean;
}

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:([^:]+)$/;
const EXECUTION_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:([^:]+):([^:]+)$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/;
/** What StartExecution's `name` must not contain (API Reference, StartExecution). */
const INVALID_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;

/** Control characters (U+0000–001F, U+007F–009F), U+FFFE–FFFF and lone surrogates, also refused in names. */
function hasInvalidCodePoint(name: string): boolean {
  for (const char of name) {
    const code = char.codePointAt(0) ?? 0;
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0xfffe || code === 0xffff) return true;
    if (code >= 0xd800 && code <= 0xdfff) return true;
  }
  return false;
}

export function createStepFunctionsService(ctx: ServiceContext): StepFunctionsSandbox {
  const machines = new Map<string, StateMachineRecord>();
  const executions = new Map<string, ExecutionRecord>();
  const tokens = new TaskTokens();

  /** SendTaskSuccess and SendTaskFailure: the answer reaches the token's task, or the API says why not. */
  function answer(input: Record<string, unknown>, outcome: TaskOutcome): Record<string, never> {
    const token = requireField(input, 'taskToken');
    const refused = tokens.answer(token, outcome);
    switch (refused) {
      case 'invalid':
        throw new AwsServiceError('InvalidToken', 'Invalid Token: the provided token is not valid');
      case 'unknown':
        throw new AwsServiceError('TaskDoesNotExist', 'Task Does Not Exist: no task of this sandbox has this token');
      case 'closed':
        throw new AwsServiceError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
      default:
        return {};
    }
  }

  const stateMachineArnOf = (name: string) => `arn:aws:states:${ctx.region}:${ctx.account}:stateMachine:${name}`;

  function machineFor(input: Record<string, unknown>): StateMachineRecord {
    const arn = requireField(input, 'stateMachineArn');
    if (!STATE_MACHINE_ARN.test(arn)) throw new AwsServiceError('InvalidArn', `Invalid Arn: '${arn}'`);
    const machine = machines.get(arn);
    if (!machine) throw new AwsServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  function executionFor(input: Record<string, unknown>): ExecutionRecord {
    const arn = requireField(input, 'executionArn');
    if (!EXECUTION_ARN.test(arn)) throw new AwsServiceError('InvalidArn', `Invalid Arn: '${arn}'`);
    const execution = executions.get(arn);
    if (!execution) throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  }

  function statusOf(execution: ExecutionRecord): ExecutionStatus {
    return execution.stopped ? 'ABORTED' : execution.local.status;
  }

  function view(execution: ExecutionRecord): ExecutionView {
    const status = statusOf(execution);
    const failure = execution.local.error
      ? { error: execution.local.error.name, cause: execution.local.error.message }
      : {};
    return {
      executionArn: execution.arn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status,
      input: execution.input,
      startDate: execution.local.startedAt,
      ...(status !== 'RUNNING' && execution.stopMs !== undefined ? { stopDate: new Date(execution.stopMs) } : {}),
      ...(status === 'SUCCEEDED' ? { output: JSON.stringify(execution.local.output ?? null) } : {}),
      // "The error string if the state machine execution failed" (DescribeExecution): not for ABORTED.
      ...(status === 'FAILED' ? failure : {}),
    };
  }

  const wire = (v: ExecutionView) => ({
    ...v,
    startDate: v.startDate.getTime() / 1000,
    ...(v.stopDate ? { stopDate: v.stopDate.getTime() / 1000 } : {}),
  });

  const operations: Record<string, JsonOperation> = {
    CreateStateMachine(input) {
      const name = requireField(input, 'name');
      validateName(name);
      const definition = requireField(input, 'definition');
      const roleArn = requireField(input, 'roleArn');
      if (!ROLE_ARN.test(roleArn)) throw new AwsServiceError('InvalidArn', `Invalid Role Arn: '${roleArn}'`);
      if (input.type !== undefined && input.type !== 'STANDARD') {
        throw new AwsServiceError('ValidationException', 'The Ballast sandbox runs STANDARD state machines only.');
      }
      const arn = stateMachineArnOf(name);
      const existing = machines.get(arn);
      if (existing) {
        // Idempotent for the same definition and role (API Reference, CreateStateMachine).
        if (existing.definition === definition && existing.roleArn === roleArn) {
          return { stateMachineArn: arn, creationDate: existing.createdMs / 1000 };
        }
        throw new AwsServiceError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
      }
      const start = definitionStarter(ctx, name, definition);
      const createdMs = ctx.clock.nowMs();
      machines.set(arn, { arn, name, definition, roleArn, createdMs, start });
      return { stateMachineArn: arn, creationDate: createdMs / 1000 };
    },

    DescribeStateMachine(input) {
      const machine = machineFor(input);
      return {
        stateMachineArn: machine.arn,
        name: machine.name,
        status: 'ACTIVE',
        definition: machine.definition,
        roleArn: machine.roleArn,
        type: 'STANDARD',
        creationDate: machine.createdMs / 1000,
      };
    },

    StartExecution(input) {
      const machine = machineFor(input);
      const name = input.name === undefined ? randomUUID() : requireField(input, 'name');
      validateName(name);
      const inputText = input.input === undefined ? '{}' : String(input.input);
      let parsed: unknown;
      try {
        parsed = JSON.parse(inputText);
      } catch (error) {
        throw new AwsServiceError(
          'InvalidExecutionInput',
          `Invalid State Machine Execution Input: '${error instanceof Error ? error.message : String(error)}'`,
        );
      }
      const arn = `arn:aws:states:${ctx.region}:${ctx.account}:execution:${machine.name}:${name}`;
      const existing = executions.get(arn);
      if (existing) {
        if (statusOf(existing) === 'RUNNING' && existing.input === inputText) {
          return { executionArn: arn, startDate: existing.local.startedAt.getTime() / 1000 };
        }
        throw new AwsServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
      }
      let local: LocalExecution;
      try {
        local = machine.start(parsed, name);
      } catch (error) {
        // The runner keeps its own names: one started on it directly (not through this API) also counts.
        if (error instanceof RunnerExecutionAlreadyExists) {
          throw new AwsServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
        }
        throw error;
      }
      const record: ExecutionRecord = { arn, stateMachineArn: machine.arn, name, input: inputText, local };
      executions.set(arn, record);
      const closed = () => {
        record.stopMs ??= ctx.clock.nowMs();
      };
      void local.result.then(closed, closed);
      return { executionArn: arn, startDate: local.startedAt.getTime() / 1000 };
    },

    DescribeExecution(input) {
      return wire(view(executionFor(input)));
    },

    ListExecutions(input) {
      const machine = machineFor(input);
      const filter = input.statusFilter;
      if (
        filter !== undefined &&
        !['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'].includes(String(filter))
      ) {
        throw new AwsServiceError(
          'ValidationException',
          `1 validation error detected: Value '${String(filter)}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, FAILED, RUNNING, ABORTED]`,
        );
      }
      const max = typeof input.maxResults === 'number' && input.maxResults > 0 ? input.maxResults : 100;
      if (!Number.isInteger(max) || max > 1000) {
        throw new AwsServiceError(
          'ValidationException',
          `1 validation error detected: Value '${String(input.maxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000`,
        );
      }
      // Most recent first, as the API Reference says.
      const all = [...executions.values()]
        .filter((e) => e.stateMachineArn === machine.arn)
        .map(view)
        .filter((e) => filter === undefined || e.status === filter)
        .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
      const from = typeof input.nextToken === 'string' ? Number.parseInt(input.nextToken, 10) : 0;
      if (!Number.isInteger(from) || from < 0 || from > all.length) {
        throw new AwsServiceError('InvalidToken', `Invalid Token: '${String(input.nextToken)}'`);
      }
      const page = all.slice(from, from + max);
      const next = from + page.length < all.length ? String(from + page.length) : undefined;
      return {
        executions: page.map((e) => ({
          executionArn: e.executionArn,
          stateMachineArn: e.stateMachineArn,
          name: e.name,
          status: e.status,
          startDate: e.startDate.getTime() / 1000,
          ...(e.stopDate ? { stopDate: e.stopDate.getTime() / 1000 } : {}),
        })),
        ...(next ? { nextToken: next } : {}),
      };
    },

    SendTaskSuccess(input) {
      requireField(input, 'taskToken');
      maxLength(input, 'taskToken', 2048);
      const text = requireField(input, 'output');
      maxLength(input, 'output', 262144);
      let output: unknown;
      try {
        output = JSON.parse(text);
      } catch (error) {
        throw new AwsServiceError(
          'InvalidOutput',
          `Invalid Output: '${error instanceof Error ? error.message : String(error)}'`,
        );
      }
      return answer(input, { status: 'succeeded', output });
    },

    SendTaskFailure(input) {
      requireField(input, 'taskToken');
      maxLength(input, 'taskToken', 2048);
      maxLength(input, 'error', 256);
      maxLength(input, 'cause', 32768);
      return answer(input, {
        status: 'failed',
        error: typeof input.error === 'string' ? input.error : '',
        cause: typeof input.cause === 'string' ? input.cause : '',
      });
    },

    StopExecution(input) {
      const execution = executionFor(input);
      if (statusOf(execution) === 'RUNNING') {
        execution.stopped = true;
        execution.stopMs = ctx.clock.nowMs();
        execution.local.abort();
      }
      return { stopDate: (execution.stopMs ?? ctx.clock.nowMs()) / 1000 };
    },
  };

  const service = awsJsonService({
    signingName: 'states',
    targetPrefix: 'AWSStepFunctions',
    version: '1.0',
    operations,
    throttlingCode: 'ThrottlingException',
  });

  return {
    ...service,
    issueTaskToken: (task) => tokens.issueTaskToken(task),
    bind(stateMachineArn, start, options = {}) {
      const match = STATE_MACHINE_ARN.exec(stateMachineArn);
      if (!match?.[1]) throw new Error(`'${stateMachineArn}' is not a state machine ARN`);
      machines.set(stateMachineArn, {
        arn: stateMachineArn,
        name: match[1],
        definition: options.definition ?? '{}',
        roleArn: options.roleArn ?? `arn:aws:iam::${ctx.account}:role/${match[1]}`,
        createdMs: ctx.clock.nowMs(),
        start,
      });
    },
    unbind(stateMachineArn) {
      machines.delete(stateMachineArn);
    },
    executions(stateMachineArn) {
      return [...executions.values()]
        .filter((e) => stateMachineArn === undefined || e.stateMachineArn === stateMachineArn)
        .map(view);
    },
  };
}

/** Names: 1–80 characters, none of those StartExecution and CreateStateMachine refuse. */
function validateName(name: string): void {
  if (name.length > 80) {
    throw new AwsServiceError(
      'ValidationException',
      `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80`,
    );
  }
  if (INVALID_NAME_CHARS.test(name) || hasInvalidCodePoint(name))
    throw new AwsServiceError('InvalidName', `Invalid Name: '${name}'`);
}

/**
 * Runs a created state machine's definition with the local runner (aws-local-stepfunctions). Its
 * fixed Waits sleep in scaled wall time, so executions are visibly RUNNING while they wait.
 */
function definitionStarter(ctx: ServiceContext, machineName: string, definitionText: string): ExecutionStarter {
  let definition: Record<string, unknown>;
  let runner: LocalRunner;
  try {
    definition = JSON.parse(definitionText) as Record<string, unknown>;
    runner = new LocalRunner(ctx.clock, { [machineName]: { definition, functions: {} } }, { waits: 'wall' });
  } catch (error) {
    throw new AwsServiceError(
      'InvalidDefinition',
      `Invalid State Machine Definition: '${error instanceof Error ? error.message : String(error)}'`,
    );
  }
  const task = findTaskState(definition);
  if (task) {
    throw new AwsServiceError(
      'InvalidDefinition',
      `The Ballast sandbox cannot run Task state '${task}': there are no Lambda functions behind it. Ballast's own workflows are bound by LocalPipeline.`,
    );
  }
  return (input, name) => runner.start(machineName, input, name);
}

function findTaskState(definition: Record<string, unknown>): string | undefined {
  for (const [name, state] of Object.entries((definition.States ?? {}) as Record<string, Record<string, unknown>>)) {
    if (state.Type === 'Task') return name;
    for (const nested of nestedDefinitions(state)) {
      const found = findTaskState(nested);
      if (found) return found;
    }
  }
  return undefined;
}

/** A string field's length constraint, worded as the API's validation errors are. */
function maxLength(input: Record<string, unknown>, field: string, max: number): void {
  const value = input[field];
  if (typeof value === 'string' && value.length > max) {
    throw new AwsServiceError(
      'ValidationException',
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
    );
  }
}

function requireField(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new AwsServiceError(
      'ValidationException',
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}
