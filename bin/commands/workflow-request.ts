/**
 * What `ballast retry` and `ballast rollback` share: a deliberate request on an endpoint's behalf.
 * Both read the endpoint's state, refuse what the workflow would not do, say what it will do, find
 * the workflow's state machine (--state-machine, a sandbox's, or a stack's), start an execution
 * with the request as its input, and with --wait wait for it and print the ledger entry it wrote.
 * A command only supplies what differs: its decision, its input and how its entry reads.
 */
import { userInfo } from 'node:os';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ListStateMachinesCommand,
  SFNClient,
  type SFNClientConfig,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { parseAllDocuments } from 'yaml';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
import { keys } from '../../lambdas/state/keys.ts';
import { type LedgerEntry, readLedger } from '../../lambdas/state/ledger.ts';
import { renderHistory } from './history.ts';
import {
  type ConnectionFlags,
  checkConnectionFlags,
  cliClientConfig,
  connect,
  connectionOptions,
  endpointArgument,
  explainError,
  listFolders,
  noSuchEndpoint,
  type StateConnection,
  serviceEndpoint,
} from './state-reader.ts';
import { type CliIo, ExitCode, UsageError } from './types.ts';

export const DEFAULT_TIMEOUT_SECONDS = 3600;
/** Longer than any rollout can take: SageMaker's deployment timeout is at most 8 hours. */
export const MAX_TIMEOUT_SECONDS = 86_400;

/** The account a sandbox pretends to be unless told otherwise (sandbox/sandbox.ts). */
export const SANDBOX_ACCOUNT = '111122223333';

/** Environment and endpoint names as the workflows' requests accept them (lambdas/sources/retry.ts). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;
const STATE_MACHINE_ARN =
  /^arn:aws[a-z-]*:states:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):stateMachine:[A-Za-z0-9_-]{1,80}$/;

/**
 * A Ballast workflow a request starts. In a sandbox, `sandbox/pipeline.ts` binds StartExecution on
 * `arn:aws:states:<region>:<account>:stateMachine:ballast-<name>` to the local runner (repeated here
 * rather than imported: importing the pipeline loads every handler); on AWS the stack names it
 * `<stack>-<name>` (lib/deploy-workflow.ts, lib/rollback-workflow.ts).
 */
export interface Workflow {
  readonly name: 'deploy' | 'rollback';
  /** The environment variable that may name its ARN. */
  readonly arnVariable: string;
}

/** The options every request command accepts, for node:util parseArgs. */
export const requestOptions = {
  ...connectionOptions,
  environment: { type: 'string' },
  reason: { type: 'string' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  'state-machine': { type: 'string' },
  'requested-by': { type: 'string' },
} as const;

export interface RequestFlags extends ConnectionFlags {
  readonly environment?: string | undefined;
  readonly reason?: string | undefined;
  readonly wait?: boolean | undefined;
  readonly timeout?: string | undefined;
  readonly json?: boolean | undefined;
  readonly 'state-machine'?: string | undefined;
  readonly 'requested-by'?: string | undefined;
}

/** The options' help, with the lines that differ per command (`reason`, `wait`, `extra` options). */
export function requestOptionsUsage(text: {
  readonly reason: string;
  readonly wait: string;
  /** What goes on when --timeout runs out: "the rollout", "the rollback". */
  readonly running: string;
  readonly extra?: string;
}): string {
  return `Options:
  --environment ENV     the endpoint's environment (default: the only environment that has this
                        endpoint; required when several have it)
${text.extra ?? ''}  --reason TEXT         ${text.reason}
  --wait                ${text.wait}
  --timeout SECONDS     with --wait: stop waiting after this long; ${text.running} goes on
                        (default: ${DEFAULT_TIMEOUT_SECONDS})
  --json                print the request, the execution and (with --wait) the ledger entry as JSON
  --requested-by WHO    who asks, for the ledger (default: the OS user; on AWS $USER). The CLI
                        does not call STS, so on AWS this is what you say; CloudTrail records
                        the IAM identity that called StartExecution.
  -h, --help            show this help`;
}

/** Which state machine is started, and the permissions the command needs. */
export function stateMachineUsage(workflow: Workflow): string {
  const w = workflow.name;
  return `Which ${w} workflow is started (the first that applies):
  --state-machine ARN   this one (default: $${workflow.arnVariable})
  --endpoint-url URL    a Ballast sandbox (\`ballast local\`, the tests): its ${w} workflow
                        arn:aws:states:REGION:ACCOUNT:stateMachine:ballast-${w}, where
                        ACCOUNT and REGION are what ballast.yaml gives the environment (the sandbox
                        pretends to be them; default ${SANDBOX_ACCOUNT}, us-east-1; --region wins).
                        For another endpoint (LocalStack, moto), pass --state-machine.
  --stack NAME          on AWS: the state machine named NAME-${w} (the name the stack gives its
                        ${w} workflow), found with Step Functions ListStateMachines
With only --bucket, pass --state-machine.`;
}

export function permissionsUsage(workflow: Workflow): string {
  return `Needs s3:GetObject and s3:ListBucket on the state bucket, states:StartExecution on the ${workflow.name}
workflow, states:DescribeExecution with --wait, states:ListStateMachines with --stack.`;
}

/** Checks what parseArgs cannot; returns the endpoint. */
export function checkRequestArguments(values: RequestFlags, positionals: readonly string[]): string {
  const endpoint = endpointArgument(positionals, NAME);
  if (values.environment !== undefined && !NAME.test(values.environment)) {
    throw new UsageError(`--environment '${values.environment}' is not an environment name`);
  }
  if (values.timeout !== undefined) {
    if (!values.wait) throw new UsageError('--timeout only applies with --wait');
    const seconds = Number(values.timeout);
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_TIMEOUT_SECONDS) {
      throw new UsageError(
        `--timeout must be a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}, got '${values.timeout}'`,
      );
    }
  }
  if (values.reason !== undefined && (values.reason.trim() === '' || values.reason.length > 1024)) {
    throw new UsageError('--reason must be 1 to 1024 characters');
  }
  const who = values['requested-by'];
  if (who !== undefined && (who.trim() === '' || who.length > 256)) {
    throw new UsageError('--requested-by must be 1 to 256 characters');
  }
  return endpoint;
}

/** Who asks and when: every request carries them, for the ledger. */
export interface RequestBase {
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly reason?: string;
}

/** What a command would start for this state, or why it must not. */
export type Prepared<Input> =
  | { readonly refused: string }
  | {
      readonly refused?: undefined;
      /** The line printed before the execution starts. */
      readonly announce: string;
      /** The execution input. */
      readonly input: Input;
      /** The execution name: unique per request, valid for Step Functions. */
      readonly name: string;
      /** What the JSON output says of the plan, after the environment and the endpoint. */
      readonly result: Readonly<Record<string, unknown>>;
    };

export interface RequestCommand<Input> {
  /** `retry`, `rollback`: for messages. */
  readonly command: string;
  readonly workflow: Workflow;
  /** Decides from the endpoint's state alone (and the request's who and when). Pure. */
  prepare(state: EndpointState, base: RequestBase): Prepared<Input>;
  /** The entry the execution wrote, among the endpoint's newest. */
  findEntry(entries: readonly LedgerEntry[], name: string, input: Input): LedgerEntry | undefined;
  /** Why the entry says the request did not do what it asked for, or undefined when it did. */
  failure(entry: LedgerEntry, where: string): string | undefined;
  /** The last line once it did. */
  done(entry: LedgerEntry, where: string): string;
}

/**
 * Runs a request command once its arguments are checked: state, decision, state machine,
 * StartExecution, and with --wait the execution's end and its ledger entry. Returns the exit code.
 */
export async function runRequest<Input>(
  spec: RequestCommand<Input>,
  values: RequestFlags,
  endpoint: string,
  io: CliIo,
): Promise<number> {
  const { command, workflow } = spec;
  const timeoutSeconds = values.timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(values.timeout);
  checkConnectionFlags(values, io);
  const endpointUrl = values['endpoint-url'] ?? sfnEndpoint(io);
  const givenArn = values['state-machine'] ?? io.env[workflow.arnVariable] ?? undefined;
  if (givenArn !== undefined && !STATE_MACHINE_ARN.test(givenArn)) {
    throw new UsageError(`--state-machine '${givenArn}' is not a Step Functions state machine ARN`);
  }
  if (givenArn === undefined && endpointUrl === undefined && values.stack === undefined) {
    throw new UsageError(
      `say which ${workflow.name} workflow to start: --state-machine ARN, or --stack NAME (its NAME-${workflow.name} state machine)`,
    );
  }

  let conn: StateConnection | undefined;
  let sfn: SFNClient | undefined;
  try {
    conn = await connect(values, io);
    const found = await findEndpoint(conn, endpoint, values.environment);
    if ('error' in found) {
      io.stderr(`ballast ${command}: ${found.error}\n`);
      return ExitCode.Usage;
    }
    const state = found.state;
    const base: RequestBase = {
      requestedBy: requestedBy(values, endpointUrl !== undefined, io),
      requestedAt: requestInstant(state),
      ...(values.reason ? { reason: values.reason } : {}),
    };
    const plan = spec.prepare(state, base);
    if (plan.refused !== undefined) {
      io.stderr(`ballast ${command}: refused: ${plan.refused}\n`);
      return ExitCode.Invalid;
    }
    const stateMachineArn =
      givenArn ??
      (endpointUrl !== undefined
        ? await sandboxStateMachineArn(conn, state, values.region ?? regionOf(io), workflow)
        : undefined);
    sfn = new SFNClient(sfnConfig(io, endpointUrl, stateMachineArn, values.region));
    const arn = stateMachineArn ?? (await findStackStateMachine(sfn, values.stack ?? '', workflow));
    const where = `${state.environment}/${state.endpoint}`;
    if (!values.json) io.stdout(`${plan.announce}\n`);

    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: plan.name, input: JSON.stringify(plan.input) }),
    );
    const executionArn = started.executionArn ?? '';
    const follow = `ballast history ${state.endpoint} --environment ${state.environment}${connectionArgs(values)}`;
    const result = {
      environment: state.environment,
      endpoint: state.endpoint,
      ...plan.result,
      requestedBy: base.requestedBy,
      requestedAt: base.requestedAt,
      reason: values.reason ?? null,
      stateMachineArn: arn,
      executionArn,
    };
    if (!values.wait) {
      if (values.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
      else io.stdout(`Started ${executionArn}\nFollow it with: ${follow}\n`);
      return ExitCode.Ok;
    }

    if (!values.json) io.stdout(`Started ${executionArn}; waiting (at most ${timeoutSeconds}s)...\n`);
    const execution = await waitForExecution(sfn, executionArn, timeoutSeconds);
    if (execution === undefined) {
      if (values.json) io.stdout(`${JSON.stringify({ ...result, status: 'RUNNING' }, null, 2)}\n`);
      io.stderr(
        `ballast ${command}: ${executionArn} is still running after ${timeoutSeconds}s; follow it with: ${follow}\n`,
      );
      return ExitCode.Invalid;
    }
    const status = execution.status ?? 'UNKNOWN';
    const entry =
      status === 'SUCCEEDED'
        ? spec.findEntry(await readLedger(conn.store, state.environment, state.endpoint, 50), plan.name, plan.input)
        : undefined;
    if (values.json) {
      const error = execution.error ? { error: execution.error, cause: execution.cause ?? null } : {};
      io.stdout(`${JSON.stringify({ ...result, status, ...error, entry: entry ?? null }, null, 2)}\n`);
    } else if (entry) {
      io.stdout(`${renderHistory(state.endpoint, conn.where, [entry]).join('\n')}\n`);
    }
    if (status !== 'SUCCEEDED') {
      const error = `${execution.error ? `: ${execution.error}` : ''}${execution.cause ? ` (${execution.cause})` : ''}`;
      io.stderr(`ballast ${command}: the execution ended ${status}${error}\n`);
      return ExitCode.Invalid;
    }
    if (!entry) {
      io.stderr(
        `ballast ${command}: the execution succeeded but wrote no ledger entry for this ${command}; see ${follow}\n`,
      );
      return ExitCode.Invalid;
    }
    const failure = spec.failure(entry, where);
    if (failure !== undefined) {
      io.stderr(`ballast ${command}: ${failure}\n`);
      return ExitCode.Invalid;
    }
    if (!values.json) io.stdout(`${spec.done(entry, where)}\n`);
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    io.stderr(`ballast ${command}: ${explainRequestError(error, conn, endpointUrl, spec)}\n`);
    return ExitCode.Usage;
  } finally {
    sfn?.destroy();
    conn?.close();
  }
}

/** The endpoint's state: in --environment, or in the only environment that has it. */
async function findEndpoint(
  conn: StateConnection,
  endpoint: string,
  environment: string | undefined,
): Promise<{ state: EndpointState } | { error: string }> {
  const environments = environment ? [environment] : await listFolders(conn, 'state/');
  const found = (
    await Promise.all(environments.map((env) => conn.store.get<EndpointState>(keys.state(env, endpoint))))
  ).flatMap((s) => (s ? [s.value] : []));
  const [only] = found;
  if (found.length === 1 && only) return { state: only };
  if (found.length > 1) {
    throw new UsageError(
      `${endpoint} is in several environments (${found.map((s) => s.environment).join(', ')}); say which with --environment`,
    );
  }
  return { error: await noSuchEndpoint(conn, endpoint, environment) };
}

/** Who asks: --requested-by, else the OS user (on AWS $USER first, as a shell sets it). */
function requestedBy(values: RequestFlags, local: boolean, io: CliIo): string {
  const given = values['requested-by'];
  if (given !== undefined) return given;
  const osUser = (() => {
    try {
      return userInfo().username;
    } catch {
      return undefined;
    }
  })();
  return (local ? osUser : (io.env.USER ?? io.env.LOGNAME ?? osUser)) || 'unknown';
}

/**
 * Now, but never before the state it read was written: a sandbox's clock is simulated and can run
 * ahead of this machine's. The request's ledger key starts with this instant, so the entry then
 * sorts after the rollout it answers.
 */
function requestInstant(state: EndpointState): string {
  const updated = Date.parse(state.updatedAt);
  const now = Date.now();
  return new Date(Number.isFinite(updated) && updated >= now ? updated + 1 : now).toISOString();
}

/**
 * The execution name of a request: `<command>-<environment>-<endpoint>-<time>`, unique per request
 * and within Step Functions' rules (1 to 80 of [A-Za-z0-9_-]).
 */
export function requestExecutionName(
  command: string,
  request: Pick<RequestBase, 'requestedAt'> & { readonly environment: string; readonly endpoint: string },
): string {
  const stamp = request.requestedAt.replace(/[^0-9]/g, '').slice(0, 17);
  const subject = `${command}-${request.environment}-${request.endpoint}`.slice(0, 60).replace(/[^A-Za-z0-9_-]/g, '-');
  return `${subject}-${stamp}`;
}

/**
 * The sandbox's state machine. `ballast local` makes the sandbox pretend to be the account and
 * region ballast.yaml gives the watched branch's environment, so that is read from the desired
 * commit's snapshot (in the state bucket); a sandbox started otherwise is the default account.
 */
async function sandboxStateMachineArn(
  conn: StateConnection,
  state: EndpointState,
  region: string | undefined,
  workflow: Workflow,
): Promise<string> {
  const commit = state.desired?.commit ?? state.live?.commit;
  const home = commit ? await environmentOf(conn, commit, state.environment) : undefined;
  const account = home?.account ?? SANDBOX_ACCOUNT;
  return `arn:aws:states:${region ?? home?.region ?? 'us-east-1'}:${account}:stateMachine:ballast-${workflow.name}`;
}

async function environmentOf(
  conn: StateConnection,
  commit: string,
  environment: string,
): Promise<{ account?: string; region?: string } | undefined> {
  const snapshot = await conn.store
    .get<{ files?: Record<string, string> }>(keys.snapshot(commit))
    .catch(() => undefined);
  const text = snapshot?.value.files?.['ballast.yaml'];
  if (text === undefined) return undefined;
  for (const doc of parseAllDocuments(text)) {
    const value = doc.toJS() as { kind?: unknown; spec?: { environments?: unknown } } | null;
    if (value?.kind !== 'Repository' || !Array.isArray(value.spec?.environments)) continue;
    const env = (value.spec.environments as Array<Record<string, unknown>>).find((e) => e?.name === environment);
    if (!env) return undefined;
    return {
      ...(typeof env.account === 'string' && /^\d{12}$/.test(env.account) ? { account: env.account } : {}),
      ...(typeof env.region === 'string' && /^[a-z]{2}(-[a-z]+)+-\d+$/.test(env.region) ? { region: env.region } : {}),
    };
  }
  return undefined;
}

/**
 * A stack's workflow: lib/ names it `<stack>-<workflow>` unless the stack sets `stateMachineName`
 * (then pass --state-machine). Every page is read; names are unique per account and region.
 */
export async function findStackStateMachine(
  sfn: Pick<SFNClient, 'send'>,
  stack: string,
  workflow: Pick<Workflow, 'name'>,
): Promise<string> {
  const name = `${stack}-${workflow.name}`;
  let token: string | undefined;
  do {
    const page = await sfn.send(new ListStateMachinesCommand({ nextToken: token, maxResults: 1000 }));
    const match = page.stateMachines?.find((m) => m.name === name);
    if (match?.stateMachineArn) return match.stateMachineArn;
    token = page.nextToken;
  } while (token);
  throw new RequestError(
    `found no state machine named ${name} for the stack ${stack} (Step Functions ListStateMachines); pass the ${workflow.name} workflow with --state-machine`,
  );
}

/** Polls DescribeExecution until the execution leaves RUNNING, or undefined when the time is up. */
async function waitForExecution(
  sfn: Pick<SFNClient, 'send'>,
  executionArn: string,
  timeoutSeconds: number,
): Promise<DescribeExecutionCommandOutput | undefined> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  // Quick at first (a sandbox finishes in seconds), then every 5 s (a SageMaker rollout takes minutes).
  let delay = 200;
  for (;;) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== 'RUNNING' && execution.status !== 'PENDING_REDRIVE') return execution;
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
    delay = Math.min(delay * 2, 5_000);
  }
}

/** The connection flags as given, for the `ballast history` line to copy. */
function connectionArgs(values: ConnectionFlags): string {
  return (['endpoint-url', 'bucket', 'stack', 'region'] as const)
    .flatMap((flag) => (values[flag] === undefined ? [] : [` --${flag} ${values[flag]}`]))
    .join('');
}

function sfnEndpoint(io: CliIo): string | undefined {
  return serviceEndpoint(io, 'SFN');
}

function regionOf(io: CliIo): string | undefined {
  return io.env.AWS_REGION || io.env.AWS_DEFAULT_REGION || undefined;
}

function sfnConfig(
  io: CliIo,
  endpoint: string | undefined,
  stateMachineArn: string | undefined,
  regionFlag: string | undefined,
): SFNClientConfig {
  // A state machine is called in its own region, whatever the default region is.
  const region =
    (stateMachineArn ? STATE_MACHINE_ARN.exec(stateMachineArn)?.[1] : undefined) ??
    regionFlag ??
    regionOf(io) ??
    (endpoint ? 'us-east-1' : undefined);
  // Two attempts at most: a second StartExecution with the same name and input returns the
  // execution the first one started (STANDARD workflows), so a retried call starts nothing twice.
  return cliClientConfig(io, endpoint, region);
}

/** A failure the user can act on, with no stack trace. */
class RequestError extends Error {
  override readonly name = 'RequestError';
}

function explainRequestError(
  error: unknown,
  conn: StateConnection | undefined,
  endpoint: string | undefined,
  spec: Pick<RequestCommand<unknown>, 'command' | 'workflow'>,
): string {
  if (error instanceof RequestError) return error.message;
  const e = error as Error;
  const w = spec.workflow.name;
  if (e?.name === 'StateMachineDoesNotExist') {
    return `${e.message}${
      endpoint
        ? `; is \`ballast local\` running there? (\`ballast sandbox\` alone runs no ${w} workflow; for another endpoint pass --state-machine)`
        : '; check --state-machine, --stack and --region'
    }`;
  }
  if (e?.name === 'ExecutionAlreadyExists')
    return `${e.message}: a ${spec.command} was already requested at this instant`;
  if (e?.name === 'AccessDeniedException') {
    return `${e.message} (the ${spec.command} needs states:StartExecution on the ${w} workflow, and states:DescribeExecution with --wait)`;
  }
  return explainError(error, conn);
}
