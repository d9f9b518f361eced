import { readFileSync } from 'node:fs';
import type { Context } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import type { VirtualClock } from './clock.ts';

/** A Lambda handler as Ballast writes them: an event in, a JSON-serialisable result out. */
export type LambdaHandler = (event: never, context: LocalLambdaContext) => Promise<unknown>;

/**
 * The Lambda context object, complete: middy reads getRemainingTimeInMillis (its early-timeout
 * guard), the Powertools Logger logs the function's name, version, ARN, memory and request id.
 */
export type LocalLambdaContext = Context;

export type WorkflowDefinition = WorkflowSource & {
  /**
   * The handler behind each `${NameFunctionArn}` placeholder in the ASL (key: `Name`). The CDK
   * stack substitutes the same placeholders with real Lambda ARNs (definitionSubstitutions).
   */
  readonly functions: Readonly<Record<string, LambdaHandler>>;
};

/** Where a workflow's ASL comes from: Ballast's files, or a definition handed over (CreateStateMachine). */
type WorkflowSource =
  | {
      /** Path of the ASL file: the same file the CDK stack deploys. */
      readonly aslPath: string;
    }
  | { readonly definition: Record<string, unknown> };

export interface LocalRunnerOptions {
  /**
   * How Wait states pass. `clock` (Ballast's workflows): the simulated clock jumps by the wait,
   * and no wall time passes. `wall`: a fixed `Seconds` wait sleeps its duration scaled by the
   * clock's time scale and the clock runs on by itself, so an execution is visibly RUNNING while
   * it waits (state machines created through the sandbox's Step Functions API).
   * @default 'clock'
   */
  readonly waits?: 'clock' | 'wall';
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface LocalExecution {
  readonly workflow: string;
  readonly name: string;
  readonly input: unknown;
  readonly startedAt: Date;
  status: ExecutionStatus;
  output?: unknown;
  error?: { name: string; message: string };
  /** The states entered, in order (`Map` iterations included), for narration and tests. */
  readonly states: string[];
  /** Resolves with the output, or rejects with the execution's error. */
  readonly result: Promise<unknown>;
  readonly abort: () => void;
}

const LOCAL_ACCOUNT = '000000000000';
const LOCAL_REGION = 'us-east-1';

export function localFunctionArn(name: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:ballast-local-${name}`;
}

/**
 * Runs Ballast's real ASL files with aws-local-stepfunctions, an independent interpreter, binding
 * each Lambda Task state to the real handler module in-process.
 *
 * Time: when a Wait state is entered, the runner moves the sandbox's virtual clock forward by the
 * state's duration (Seconds, SecondsPath, Timestamp or TimestampPath, read from the state's input)
 * and lets the state itself sleep for a millisecond. A one-hour canary bake therefore costs the
 * same state transitions as on AWS and no wall time, and every SageMaker phase the sandbox derives
 * from its clock happens in order.
 */
export class LocalRunner {
  private readonly machines = new Map<
    string,
    { machine: StateMachine; definition: WorkflowDefinition; asl: Record<string, unknown> }
  >();
  private readonly history: LocalExecution[] = [];
  private sequence = 0;

  constructor(
    private readonly clock: VirtualClock,
    workflows: Readonly<Record<string, WorkflowDefinition>>,
    private readonly options: LocalRunnerOptions = {},
  ) {
    for (const [name, definition] of Object.entries(workflows)) {
      const text =
        'aslPath' in definition ? readFileSync(definition.aslPath, 'utf8') : JSON.stringify(definition.definition);
      const asl = JSON.parse(text) as Record<string, unknown>;
      const substituted = text.replace(/\$\{(\w+)FunctionArn\}/g, (_, fn: string) => {
        if (!definition.functions[fn])
          throw new Error(`workflow ${name} uses \${${fn}FunctionArn}, which has no handler`);
        return localFunctionArn(fn);
      });
      const machine = new StateMachine(JSON.parse(substituted), {
        validationOptions: { checkArn: true, checkPaths: true },
      });
      this.machines.set(name, { machine, definition, asl });
    }
  }

  /** Starts an execution; names are unique per workflow, as in Step Functions. */
  start(workflow: string, input: unknown, name?: string): LocalExecution {
    const entry = this.machines.get(workflow);
    if (!entry) throw new Error(`no workflow named ${workflow}`);
    const executionName = name ?? `${workflow}-${Date.now().toString(36)}-${(this.sequence++).toString(36)}`;
    if (this.history.some((e) => e.workflow === workflow && e.name === executionName)) {
      throw new ExecutionAlreadyExists(`Execution Already Exists: '${executionName}'`);
    }
    const { machine, definition, asl } = entry;
    const wall = this.options.waits === 'wall';
    const states: string[] = [];
    const execution = machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: this.taskHandlers(asl, definition, executionName) as never,
        waitTimeOverrides: wall ? scaledFixedWaits(asl, this.clock) : everyName(1),
        // Retry pauses also pass in simulated time; a millisecond of wall time keeps ordering intact.
        ...(wall ? {} : { retryIntervalOverrides: everyName(1) }),
      },
      context: {
        Execution: {
          Id: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${workflow}:${executionName}`,
          Name: executionName,
          RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/ballast-local`,
        },
        StateMachine: {
          Id: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${workflow}`,
          Name: workflow,
        },
      },
    });
    const record: LocalExecution = {
      workflow,
      name: executionName,
      input,
      startedAt: this.clock.now(),
      status: 'RUNNING',
      states,
      abort: () => execution.abort(),
      result: execution.result.then(
        (output) => {
          record.status = 'SUCCEEDED';
          record.output = output;
          return output;
        },
        (error: unknown) => {
          const cause =
            error instanceof Error && 'cause' in error && error.cause instanceof Error ? error.cause : error;
          record.status = error instanceof Error && error.name === 'ExecutionAbortedError' ? 'ABORTED' : 'FAILED';
          record.error = {
            name: cause instanceof Error ? cause.name : 'Error',
            message: cause instanceof Error ? cause.message : String(cause),
          };
          throw error;
        },
      ),
    };
    // Callers may only look at `record.status`; an unobserved rejection must not crash the process.
    record.result.catch(() => undefined);
    this.history.push(record);
    void this.followEvents(execution.eventLogs, states, !wall);
    return record;
  }

  executions(workflow?: string): readonly LocalExecution[] {
    return workflow ? this.history.filter((e) => e.workflow === workflow) : this.history;
  }

  /** Resolves when no execution is running (tests and the demo use it to settle). */
  async idle(): Promise<void> {
    for (;;) {
      const running = this.history.filter((e) => e.status === 'RUNNING');
      if (running.length === 0) return;
      await Promise.allSettled(running.map((e) => e.result));
    }
  }

  private taskHandlers(
    asl: Record<string, unknown>,
    definition: WorkflowDefinition,
    executionName: string,
  ): Record<string, (input: unknown) => Promise<unknown>> {
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [stateName, resource] of taskStates(asl)) {
      const fn = /^\$\{(\w+)FunctionArn\}$/.exec(resource)?.[1];
      const handler = fn ? definition.functions[fn] : undefined;
      if (!fn || !handler) continue;
      handlers[stateName] = async (input) => {
        const deadline = Date.now() + 15 * 60 * 1000;
        const context = localLambdaContext(fn, `${executionName}/${stateName}/${crypto.randomUUID()}`, deadline);
        // Like Lambda, hand the handler a fresh copy: handlers must not share objects with the interpreter.
        const result = await (handler as (event: unknown, context: LocalLambdaContext) => Promise<unknown>)(
          structuredClone(input),
          context,
        );
        return result === undefined ? null : JSON.parse(JSON.stringify(result));
      };
    }
    return handlers;
  }

  private async followEvents(events: AsyncGenerator<unknown>, states: string[], advanceClock: boolean): Promise<void> {
    for await (const raw of events) {
      const event = raw as { type?: string; state?: { name: string; type: string; input: unknown } };
      if (event.type !== 'StateEntered' || !event.state) continue;
      states.push(event.state.name);
      if (advanceClock && event.state.type === 'Wait') {
        const seconds = waitSeconds(this.waitState(event.state.name), event.state.input, this.clock.nowMs());
        if (seconds > 0) this.clock.advance(seconds * 1000);
      }
    }
  }

  private waitState(name: string): Record<string, unknown> {
    for (const { asl } of this.machines.values()) {
      const found = findState(asl, name);
      if (found?.Type === 'Wait') return found;
    }
    return {};
  }
}

/** What Lambda hands a function invocation; the callbacks of old-style handlers are not supported. */
export function localLambdaContext(fn: string, awsRequestId: string, deadlineMs: number): LocalLambdaContext {
  const functionName = `ballast-local-${fn}`;
  const unsupported = () => {
    throw new Error('Ballast handlers return a promise; the context callbacks are not supported');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: localFunctionArn(fn),
    memoryLimitInMB: '512',
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

export class ExecutionAlreadyExists extends Error {
  override readonly name = 'ExecutionAlreadyExists';
}

/** How long a Wait state would sleep on AWS for this input (simulated seconds). */
export function waitSeconds(state: Record<string, unknown>, input: unknown, nowMs: number): number {
  if (typeof state.Seconds === 'number') return state.Seconds;
  if (typeof state.SecondsPath === 'string') return Number(readPath(input, state.SecondsPath)) || 0;
  const timestamp =
    typeof state.Timestamp === 'string'
      ? state.Timestamp
      : typeof state.TimestampPath === 'string'
        ? String(readPath(input, state.TimestampPath))
        : undefined;
  if (timestamp === undefined) return 0;
  return Math.max(0, (Date.parse(timestamp) - nowMs) / 1000);
}

/** Reads a simple JSONPath (`$.a.b`), which is all Ballast's Wait states use. */
function readPath(input: unknown, path: string): unknown {
  let value: unknown = input;
  for (const part of path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Every Task state (name, Resource) in a definition, including those inside Map and Parallel states. */
function taskStates(definition: Record<string, unknown>): Array<[string, string]> {
  const found: Array<[string, string]> = [];
  for (const [name, state] of Object.entries((definition.States ?? {}) as Record<string, Record<string, unknown>>)) {
    if (state.Type === 'Task' && typeof state.Resource === 'string') found.push([name, state.Resource]);
    for (const nested of nestedDefinitions(state)) found.push(...taskStates(nested));
  }
  return found;
}

function findState(definition: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const states = (definition.States ?? {}) as Record<string, Record<string, unknown>>;
  if (states[name]) return states[name];
  for (const state of Object.values(states)) {
    for (const nested of nestedDefinitions(state)) {
      const found = findState(nested, name);
      if (found) return found;
    }
  }
  return undefined;
}

/** The definitions nested in a Map (ItemProcessor, Iterator) or Parallel (Branches) state. */
export function nestedDefinitions(state: Record<string, unknown>): Array<Record<string, unknown>> {
  const nested: Array<Record<string, unknown>> = [];
  for (const key of ['ItemProcessor', 'Iterator']) {
    if (typeof state[key] === 'object' && state[key] !== null) nested.push(state[key] as Record<string, unknown>);
  }
  if (Array.isArray(state.Branches)) nested.push(...(state.Branches as Array<Record<string, unknown>>));
  return nested;
}

/** Wall-clock sleeps for the fixed-`Seconds` Wait states, scaled by the clock's time scale. */
function scaledFixedWaits(definition: Record<string, unknown>, clock: VirtualClock): Record<string, number> {
  const waits: Record<string, number> = {};
  const visit = (def: Record<string, unknown>) => {
    for (const [name, state] of Object.entries((def.States ?? {}) as Record<string, Record<string, unknown>>)) {
      if (state.Type === 'Wait' && typeof state.Seconds === 'number') {
        waits[name] = Math.max(1, clock.wallMsFor(state.Seconds * 1000));
      }
      for (const nested of nestedDefinitions(state)) visit(nested);
    }
  };
  visit(definition);
  return waits;
}

/** An override table that answers the same value for every state name. */
function everyName(value: number): Record<string, number> {
  return new Proxy({}, { get: () => value, has: () => true });
}
