import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Context } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import type { VirtualClock } from './clock.ts';
import {
  type IssuedTaskToken,
  type TaskOutcome,
  type TaskTokenIssuer,
  TaskTokens,
} from './services/stepfunctions/task-tokens.ts';

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
  /**
   * Where callback tasks (`arn:aws:states:::lambda:invoke.waitForTaskToken`) get their task tokens,
   * and so who can answer them: LocalPipeline gives the sandbox's Step Functions service, whose
   * SendTaskSuccess and SendTaskFailure answer them.
   * @default - tokens of the runner's own, which nobody can answer: the tasks end by their timeout
   */
  readonly taskTokens?: TaskTokenIssuer;
}

/** The Resource of a Lambda invocation that waits for its task token (Step Functions' callback pattern). */
export const LAMBDA_CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
/** What `$$.Task.Token` reads locally; a callback task's handler gets the task's real token in its place. */
const TOKEN_PLACEHOLDER = 'ballast-local-task-token';
/** The Parameters field through which the runner reads a callback task's TimeoutSecondsPath (see the class). */
const TIMEOUT_FIELD = 'BallastLocalTimeoutSeconds';
/** Step Functions' TimeoutSeconds for a Task that sets none. */
const DEFAULT_TASK_TIMEOUT_SECONDS = 99_999_999;
/**
 * The interpreter's own (wall-clock) timeout for a callback task, which the runner's simulated one
 * always beats: about 23 days, within setTimeout's 32-bit delay (a longer one would fire at once).
 */
const INTERPRETER_BACKSTOP_SECONDS = 2_000_000;
/** Simulated time a parked callback task moves the clock by at a time. */
export const PARK_STEP_MS = 5_000;
/** Wall time the clock waits for an event target's invocation before it moves on regardless. */
const QUIESCE_LIMIT_MS = 1_000;

/** A callback task of a definition: the function it invokes and where its timeout comes from. */
interface CallbackTask {
  readonly fn: string;
  /** TimeoutSeconds, when fixed; otherwise the runner reads TimeoutSecondsPath through TIMEOUT_FIELD. */
  readonly timeoutSeconds?: number;
}

/** A callback task waiting for its answer or its timeout. */
interface Parked {
  readonly deadlineMs: number;
  finish(result: TaskOutcome | 'timeout' | 'stopped'): void;
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
  /**
   * The largest input or output of a state so far (`Map` iterations included), in bytes of JSON:
   * Step Functions fails a state whose input or output is over 256 KiB (States.DataLimitExceeded).
   */
  largestPayload?: PayloadSize;
  /** Resolves with the output, or rejects with the execution's error. */
  readonly result: Promise<unknown>;
  readonly abort: () => void;
}

/** One state's input or output, measured. */
export interface PayloadSize {
  readonly state: string;
  readonly direction: 'input' | 'output';
  /** UTF-8 bytes of its JSON, as Step Functions counts them. */
  readonly bytes: number;
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
  private readonly tokens: TaskTokenIssuer;
  /** Callback tasks by state name (names are unique within a definition), per workflow. */
  private readonly callbacks = new Map<string, ReadonlyMap<string, CallbackTask>>();
  /** Callback tasks waiting in clock mode, which {@link drive} moves the clock for. */
  private readonly parked = new Set<Parked>();
  private readonly parkedByExecution = new Map<string, Set<Parked>>();
  private driving = false;
  /** Event-target invocations in flight ({@link invoke}): the clock does not step while they run. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly clock: VirtualClock,
    workflows: Readonly<Record<string, WorkflowDefinition>>,
    private readonly options: LocalRunnerOptions = {},
  ) {
    this.tokens = options.taskTokens ?? new TaskTokens();
    for (const [name, definition] of Object.entries(workflows)) {
      const text =
        'aslPath' in definition ? readFileSync(definition.aslPath, 'utf8') : JSON.stringify(definition.definition);
      const asl = JSON.parse(text) as Record<string, unknown>;
      const substituted = text.replace(/\$\{(\w+)FunctionArn\}/g, (_, fn: string) => {
        if (!definition.functions[fn])
          throw new Error(`workflow ${name} uses \${${fn}FunctionArn}, which has no handler`);
        return localFunctionArn(fn);
      });
      const callbacks = callbackTasks(asl);
      const local = JSON.parse(substituted) as Record<string, unknown>;
      for (const state of callbackStates(local)) asInterpreted(state);
      const machine = new StateMachine(local as never, {
        validationOptions: { checkArn: true, checkPaths: true },
      });
      this.machines.set(name, { machine, definition, asl });
      this.callbacks.set(name, callbacks);
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
        taskResourceLocalHandlers: this.taskHandlers(workflow, asl, definition, executionName) as never,
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
        // The callback task's handler puts the task's own token in place of this one.
        Task: { Token: TOKEN_PLACEHOLDER },
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
    // A stopped execution's callback tasks close (a later answer gets TaskTimedOut), and stop waiting.
    const closeParked = () => {
      for (const parked of this.parkedByExecution.get(executionName) ?? []) parked.finish('stopped');
      this.parkedByExecution.delete(executionName);
    };
    void record.result.then(closeParked, closeParked);
    this.history.push(record);
    void this.followEvents(execution.eventLogs, record, !wall);
    return record;
  }

  executions(workflow?: string): readonly LocalExecution[] {
    return workflow ? this.history.filter((e) => e.workflow === workflow) : this.history;
  }

  /**
   * Resolves when no execution is running and no event target's invocation ({@link invoke}) is in
   * flight: tests, the demo and the benchmarks use it to settle.
   */
  async idle(): Promise<void> {
    for (;;) {
      const running = this.history.filter((e) => e.status === 'RUNNING');
      if (running.length === 0 && this.inFlight.size === 0) return;
      await Promise.allSettled([...running.map((e) => e.result), ...this.inFlight]);
    }
  }

  /**
   * Invokes a Lambda handler as the target of an event (an EventBridge rule with a function
   * target), in-process, with a Lambda context. While it runs, waiting callback tasks do not move
   * the clock (see the class): what the function does happens at the instant of the event.
   */
  async invoke(fn: string, handler: LambdaHandler, event: unknown): Promise<unknown> {
    const call = this.callHandler(fn, handler, event, `${fn}/${randomUUID()}`);
    this.inFlight.add(call);
    try {
      return await call;
    } finally {
      this.inFlight.delete(call);
    }
  }

  private async callHandler(fn: string, handler: LambdaHandler, input: unknown, requestId: string): Promise<unknown> {
    const deadline = Date.now() + 15 * 60 * 1000;
    const context = localLambdaContext(fn, requestId, deadline);
    // Like Lambda, hand the handler a fresh copy: handlers must not share objects with the interpreter.
    const result = await (handler as (event: unknown, context: LocalLambdaContext) => Promise<unknown>)(
      structuredClone(input),
      context,
    );
    return result === undefined ? null : JSON.parse(JSON.stringify(result));
  }

  private taskHandlers(
    workflow: string,
    asl: Record<string, unknown>,
    definition: WorkflowDefinition,
    executionName: string,
  ): Record<string, (input: unknown) => Promise<unknown>> {
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [stateName, resource] of taskStates(asl)) {
      const fn = /^\$\{(\w+)FunctionArn\}$/.exec(resource)?.[1];
      const handler = fn ? definition.functions[fn] : undefined;
      if (!fn || !handler) continue;
      handlers[stateName] = (input) =>
        this.callHandler(fn, handler, input, `${executionName}/${stateName}/${crypto.randomUUID()}`);
    }
    for (const [stateName, task] of this.callbacks.get(workflow) ?? []) {
      const handler = definition.functions[task.fn];
      if (!handler) continue;
      handlers[stateName] = (input) => this.runCallbackTask(workflow, executionName, stateName, task, handler, input);
    }
    return handlers;
  }

  /** A callback task, as Step Functions runs it (see the class). */
  private async runCallbackTask(
    workflow: string,
    executionName: string,
    stateName: string,
    task: CallbackTask,
    handler: LambdaHandler,
    input: unknown,
  ): Promise<unknown> {
    const { Payload: payload, [TIMEOUT_FIELD]: fromPath } = (input ?? {}) as Record<string, unknown>;
    const seconds = task.timeoutSeconds ?? fromPath;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1) {
      throw namedError(
        'States.Runtime',
        `${stateName}: TimeoutSecondsPath must select a positive integer, got ${JSON.stringify(seconds)}`,
      );
    }
    // The timeout runs from when the task is scheduled, the function's invocation included.
    const deadlineMs = this.clock.nowMs() + seconds * 1000;
    const issued = this.tokens.issueTaskToken({
      executionArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${workflow}:${executionName}`,
      stateName,
    });
    try {
      await this.callHandler(
        task.fn,
        handler,
        withToken(payload ?? {}, issued.token),
        `${executionName}/${stateName}/${randomUUID()}`,
      );
    } catch (error) {
      issued.close();
      throw error;
    }
    const outcome = await this.answerOrTimeout(executionName, issued, deadlineMs);
    if (outcome === 'timeout' || outcome === 'stopped') {
      issued.close();
      throw outcome === 'timeout'
        ? namedError('States.Timeout', `${stateName} was not answered within ${seconds} s`)
        : namedError('States.Runtime', `${stateName}: the execution stopped`);
    }
    if (outcome.status === 'failed') throw namedError(outcome.error, outcome.cause);
    return outcome.output;
  }

  private answerOrTimeout(
    executionName: string,
    issued: IssuedTaskToken,
    deadlineMs: number,
  ): Promise<TaskOutcome | 'timeout' | 'stopped'> {
    return new Promise((resolve) => {
      let cleanup: () => void = () => undefined;
      let done = false;
      const parked: Parked = {
        deadlineMs,
        finish: (result) => {
          if (done) return;
          done = true;
          cleanup();
          this.parked.delete(parked);
          this.parkedByExecution.get(executionName)?.delete(parked);
          resolve(result);
        },
      };
      const mine = this.parkedByExecution.get(executionName) ?? new Set<Parked>();
      mine.add(parked);
      this.parkedByExecution.set(executionName, mine);
      void issued.outcome.then((outcome) => parked.finish(outcome));
      if (this.options.waits === 'wall') {
        // The clock runs by itself: time out once it passes the deadline (or someone moves it past).
        let timer: NodeJS.Timeout | undefined;
        const check = () => {
          clearTimeout(timer);
          const left = deadlineMs - this.clock.nowMs();
          if (left <= 0) parked.finish('timeout');
          else timer = setTimeout(check, Math.min(1000, Math.max(1, this.clock.wallMsFor(left))));
        };
        const unsubscribe = this.clock.onAdvance(check);
        cleanup = () => {
          clearTimeout(timer);
          unsubscribe();
        };
        check();
        return;
      }
      this.parked.add(parked);
      void this.drive();
    });
  }

  /**
   * Moves the clock for the callback tasks that wait, in steps, towards the earliest deadline: one
   * loop for all of them, so that their waits overlap. Between steps, the event loop runs and the
   * event targets in flight finish (bounded, so that a stuck one cannot stop time).
   */
  private async drive(): Promise<void> {
    if (this.driving) return;
    this.driving = true;
    try {
      for (;;) {
        await this.quiesce();
        const now = this.clock.nowMs();
        for (const parked of [...this.parked]) if (parked.deadlineMs <= now) parked.finish('timeout');
        if (this.parked.size === 0) return;
        const earliest = Math.min(...[...this.parked].map((p) => p.deadlineMs));
        this.clock.advance(Math.min(PARK_STEP_MS, earliest - now));
      }
    } finally {
      this.driving = false;
    }
  }

  private async quiesce(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    const until = Date.now() + QUIESCE_LIMIT_MS;
    while (this.inFlight.size > 0) {
      const left = until - Date.now();
      if (left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, left);
        }),
      ]);
      clearTimeout(timer);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private async followEvents(
    events: AsyncGenerator<unknown>,
    execution: LocalExecution,
    advanceClock: boolean,
  ): Promise<void> {
    for await (const raw of events) {
      const event = raw as { type?: string; state?: { name: string; type: string; input: unknown; output?: unknown } };
      if (event.type === 'StateExited' && event.state)
        measurePayload(execution, event.state.name, 'output', event.state.output);
      if (event.type !== 'StateEntered' || !event.state) continue;
      execution.states.push(event.state.name);
      measurePayload(execution, event.state.name, 'input', event.state.input);
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

/** Keeps the execution's largest state payload (see {@link LocalExecution.largestPayload}). */
function measurePayload(
  execution: LocalExecution,
  state: string,
  direction: PayloadSize['direction'],
  value: unknown,
): void {
  if (value === undefined) return;
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > (execution.largestPayload?.bytes ?? -1)) execution.largestPayload = { state, direction, bytes };
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

/**
 * An Error whose name is what Retry and Catch match (the interpreter matches on `error.name`).
 * States.Runtime, as on AWS, is neither retried nor caught (not even by States.ALL).
 */
function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  if (name === 'States.Runtime') Object.assign(error, { isRetryable: false, isCatchable: false });
  return error;
}

/** The payload with the task's token wherever `$$.Task.Token` put the placeholder. */
function withToken(payload: unknown, token: string): unknown {
  if (payload === TOKEN_PLACEHOLDER) return token;
  if (Array.isArray(payload)) return payload.map((item) => withToken(item, token));
  if (typeof payload === 'object' && payload !== null) {
    return Object.fromEntries(Object.entries(payload).map(([key, value]) => [key, withToken(value, token)]));
  }
  return payload;
}

/** Every callback task of a definition (nested ones included), by state name, with the function it invokes. */
function callbackTasks(definition: Record<string, unknown>): ReadonlyMap<string, CallbackTask> {
  const found = new Map<string, CallbackTask>();
  const visit = (def: Record<string, unknown>) => {
    for (const [name, state] of Object.entries((def.States ?? {}) as Record<string, Record<string, unknown>>)) {
      if (state.Type === 'Task' && state.Resource === LAMBDA_CALLBACK) {
        const target = (state.Parameters as { FunctionName?: unknown } | undefined)?.FunctionName;
        const fn = typeof target === 'string' ? /^\$\{(\w+)FunctionArn\}$/.exec(target)?.[1] : undefined;
        if (!fn)
          throw new Error(
            `${name}: a callback task names its function as Parameters.FunctionName: \${NameFunctionArn}`,
          );
        if (state.HeartbeatSeconds !== undefined || state.HeartbeatSecondsPath !== undefined) {
          throw new Error(`${name}: the local runner does not time heartbeats`);
        }
        found.set(name, {
          fn,
          ...(typeof state.TimeoutSecondsPath === 'string'
            ? {}
            : {
                timeoutSeconds:
                  typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : DEFAULT_TASK_TIMEOUT_SECONDS,
              }),
        });
      }
      for (const nested of nestedDefinitions(state)) visit(nested);
    }
  };
  visit(definition);
  return found;
}

/** The callback task states of a (parsed, substituted) definition, to rewrite for the interpreter. */
function callbackStates(definition: Record<string, unknown>): Array<Record<string, unknown>> {
  const found: Array<Record<string, unknown>> = [];
  for (const state of Object.values((definition.States ?? {}) as Record<string, Record<string, unknown>>)) {
    if (state.Type === 'Task' && state.Resource === LAMBDA_CALLBACK) found.push(state);
    for (const nested of nestedDefinitions(state)) found.push(...callbackStates(nested));
  }
  return found;
}

/**
 * A callback task as the interpreter gets it: TimeoutSecondsPath becomes a Parameters field the
 * runner reads (resolved against the state's input, as on AWS), and the interpreter's own timeout a
 * wall-clock bound that the runner's simulated one always beats.
 */
function asInterpreted(state: Record<string, unknown>): void {
  if (typeof state.TimeoutSecondsPath === 'string') {
    state.Parameters = { ...(state.Parameters as object), [`${TIMEOUT_FIELD}.$`]: state.TimeoutSecondsPath };
    delete state.TimeoutSecondsPath;
  }
  state.TimeoutSeconds = INTERPRETER_BACKSTOP_SECONDS;
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
