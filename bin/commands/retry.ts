/**
 * `ballast retry ENDPOINT`: the deliberate way out of a quarantine. It reads the endpoint's state,
 * refuses what the workflow would refuse (or should not be asked for), says what it will do, and
 * starts the deploy workflow with the retry input `lambdas/sources/retry.ts` parses. The workflow
 * decides the rest from the endpoint's state: only the desired commit, which a push to a watched
 * branch put there, can be deployed again.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ListStateMachinesCommand,
  SFNClient,
  type SFNClientConfig,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { parseAllDocuments } from 'yaml';
import { type RetryRequest, retryExecutionName } from '../../lambdas/sources/retry.ts';
import { type EndpointState, isQuarantined, type Quarantined } from '../../lambdas/state/endpoint-state.ts';
import { keys } from '../../lambdas/state/keys.ts';
import { type LedgerEntry, readLedger } from '../../lambdas/state/ledger.ts';
import { renderHistory } from './history.ts';
import {
  type ConnectionFlags,
  checkConnectionFlags,
  connect,
  connectionOptions,
  connectionUsage,
  explainError,
  formatTime,
  listFolders,
  parseOrUsage,
  readEndpointStates,
  type StateConnection,
  short,
} from './state-reader.ts';
import { shortDigest } from './status.ts';
import { type CliIo, type Command, ExitCode, UsageError } from './types.ts';

const DEFAULT_TIMEOUT_SECONDS = 3600;
/** Longer than any rollout can take: SageMaker's deployment timeout is at most 8 hours. */
const MAX_TIMEOUT_SECONDS = 86_400;

/**
 * The deploy workflow in a Ballast sandbox. `sandbox/pipeline.ts` (deployStateMachineArn) binds
 * StartExecution on `arn:aws:states:<region>:<account>:stateMachine:ballast-deploy` to the local
 * runner. Repeated here rather than imported: importing the pipeline loads every handler.
 */
const SANDBOX_STATE_MACHINE_NAME = 'ballast-deploy';
/** The account a sandbox pretends to be unless told otherwise (sandbox/sandbox.ts). */
const SANDBOX_ACCOUNT = '111122223333';

const NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;
const STATE_MACHINE_ARN =
  /^arn:aws[a-z-]*:states:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):stateMachine:[A-Za-z0-9_-]{1,80}$/;

const usage = `Usage: ballast retry ENDPOINT [--environment ENV] [--reason TEXT] [--wait [--timeout SECONDS]] [--json]
                     [--state-machine ARN] [--requested-by WHO]
                     (--endpoint-url URL | --bucket B | --stack NAME) [--region R]

Deploys an endpoint's desired commit again and lifts the quarantine of its content. Content
(the endpoint's digest) whose rollout failed or was rolled back is quarantined: no push, re-delivery
or reconcile deploys it again, only this command. It reads the endpoint's state first, refuses when
there is nothing to retry or a rollout is running, says what it will do, and starts the deploy
workflow with a retry request (execution name retry-<environment>-<endpoint>-<time>). The ledger
entry of the retried rollout records who asked for it (\`ballast history ENDPOINT\`).

Arguments:
  ENDPOINT              the Endpoint's metadata.name

Options:
  --environment ENV     the endpoint's environment (default: the only environment that has this
                        endpoint; required when several have it)
  --reason TEXT         why you retry (recorded in the ledger entry with who asked)
  --wait                wait for the rollout to finish, then print its ledger entry
  --timeout SECONDS     with --wait: stop waiting after this long; the rollout goes on
                        (default: ${DEFAULT_TIMEOUT_SECONDS})
  --json                print the request, the execution and (with --wait) the ledger entry as JSON
  --requested-by WHO    who asks, for the ledger (default: the OS user; on AWS $USER). The CLI
                        does not call STS, so on AWS this is what you say; CloudTrail records
                        the IAM identity that called StartExecution.
  -h, --help            show this help

Which deploy workflow is started (the first that applies):
  --state-machine ARN   this one (default: $BALLAST_DEPLOY_STATE_MACHINE_ARN)
  --endpoint-url URL    a Ballast sandbox (\`ballast local\`, the tests): its deploy workflow
                        arn:aws:states:REGION:ACCOUNT:stateMachine:${SANDBOX_STATE_MACHINE_NAME}, where
                        ACCOUNT and REGION are what ballast.yaml gives the environment (the sandbox
                        pretends to be them; default ${SANDBOX_ACCOUNT}, us-east-1; --region wins).
                        For another endpoint (LocalStack, moto), pass --state-machine.
  --stack NAME          on AWS: the state machine named NAME-deploy (the name the stack gives its
                        deploy workflow), found with Step Functions ListStateMachines
With only --bucket, pass --state-machine.

${connectionUsage}

Needs s3:GetObject and s3:ListBucket on the state bucket, states:StartExecution on the deploy
workflow, states:DescribeExecution with --wait, states:ListStateMachines with --stack.

Exit codes:
  0  the retry was started (with --wait: it finished and the endpoint deployed)
  1  refused: no desired commit, a rollout holds the lease, or the desired content is already
     live; with --wait: the retried rollout did not deploy (rolled back, failed, superseded), or
     it was still running when --timeout ran out
  2  usage error, unknown endpoint, the state could not be read or the workflow not started
`;

export interface RetryFlags extends ConnectionFlags {
  readonly environment?: string | undefined;
  readonly reason?: string | undefined;
  readonly wait?: boolean | undefined;
  readonly timeout?: string | undefined;
  readonly json?: boolean | undefined;
  readonly 'state-machine'?: string | undefined;
  readonly 'requested-by'?: string | undefined;
}

/** What a retry of this state would do, or why it must not be started. */
export type RetryPlan =
  | { readonly refused: string }
  | {
      readonly refused?: undefined;
      readonly commit: string;
      readonly digest: string;
      /** The quarantine the retry lifts, when the desired content is quarantined. */
      readonly lifts: Quarantined | undefined;
      /** One sentence for the user: what the retry will do. */
      readonly summary: string;
    };

/** Decides from the endpoint's state alone whether a retry makes sense, and what it would do. Pure. */
export function planRetry(state: EndpointState): RetryPlan {
  const where = `${state.environment}/${state.endpoint}`;
  const desired = state.desired;
  if (!desired) {
    return { refused: `${where} has no desired commit: no push has asked for it yet, so there is nothing to retry` };
  }
  if (state.lease) {
    return {
      refused: `a rollout holds ${where}'s lease: ${short(state.lease.commit)} (execution ${state.lease.execution}, since ${formatTime(
        state.lease.acquiredAt,
      )}); let it finish (\`ballast status\`), then retry if it is held back`,
    };
  }
  if (!desired.source || !desired.repository || !desired.branch || !desired.pushedBy) {
    // Resolve would fail the same way; say it before starting an execution that cannot work.
    return {
      refused: `${where}: the state does not say which push asked for ${short(desired.commit)} (written by an older Ballast); push again`,
    };
  }
  const lifts = state.quarantined.find((q) => q.digest === desired.digest);
  if (!isQuarantined(state, desired.digest) && state.live?.digest === desired.digest) {
    return {
      refused: `${where} already runs its desired content (${short(desired.commit)}): there is nothing to retry`,
    };
  }
  const again = `deploys ${short(desired.commit)} again`;
  const summary = lifts
    ? `lifts the quarantine of ${shortDigest(lifts.digest)} (rolled back at ${short(lifts.commit)}: ${lifts.reason}) and ${again}`
    : `${again} (its content ${shortDigest(desired.digest)} is not quarantined; live is ${short(state.live?.commit)})`;
  return { commit: desired.commit, digest: desired.digest, lifts, summary };
}

export const retryCommand: Command = {
  name: 'retry',
  summary: "Deploy an endpoint's desired commit again and lift the quarantine of its content",
  usage,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOrUsage(() =>
      parseArgs({
        args: [...args],
        options: {
          ...connectionOptions,
          environment: { type: 'string' },
          reason: { type: 'string' },
          wait: { type: 'boolean' },
          timeout: { type: 'string' },
          json: { type: 'boolean' },
          'state-machine': { type: 'string' },
          'requested-by': { type: 'string' },
        },
        strict: true,
        allowPositionals: true,
      }),
    );
    const endpoint = checkArguments(values, positionals);
    const timeoutSeconds = values.timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(values.timeout);
    checkConnectionFlags(values, io);
    const endpointUrl = values['endpoint-url'] ?? sfnEndpoint(io);
    const givenArn = values['state-machine'] ?? io.env.BALLAST_DEPLOY_STATE_MACHINE_ARN ?? undefined;
    if (givenArn !== undefined && !STATE_MACHINE_ARN.test(givenArn)) {
      throw new UsageError(`--state-machine '${givenArn}' is not a Step Functions state machine ARN`);
    }
    if (givenArn === undefined && endpointUrl === undefined && values.stack === undefined) {
      throw new UsageError(
        'say which deploy workflow to start: --state-machine ARN, or --stack NAME (its NAME-deploy state machine)',
      );
    }

    let conn: StateConnection | undefined;
    let sfn: SFNClient | undefined;
    const fail = (error: unknown): number => {
      io.stderr(`ballast retry: ${explainRetryError(error, conn, endpointUrl)}\n`);
      return ExitCode.Usage;
    };
    try {
      conn = await connect(values, io);
      const found = await findEndpoint(conn, endpoint, values.environment);
      if ('error' in found) {
        io.stderr(`ballast retry: ${found.error}\n`);
        return ExitCode.Usage;
      }
      const state = found.state;
      const plan = planRetry(state);
      if (plan.refused !== undefined) {
        io.stderr(`ballast retry: refused: ${plan.refused}\n`);
        return ExitCode.Invalid;
      }
      const request: RetryRequest = {
        source: 'ballast',
        action: 'retry',
        environment: state.environment,
        endpoint: state.endpoint,
        requestedBy: requestedBy(values, endpointUrl !== undefined, io),
        requestedAt: requestInstant(state),
        ...(values.reason ? { reason: values.reason } : {}),
      };
      const stateMachineArn =
        givenArn ??
        (endpointUrl !== undefined
          ? await sandboxStateMachineArn(conn, state, values.region ?? regionOf(io))
          : undefined);
      sfn = new SFNClient(sfnConfig(io, endpointUrl, stateMachineArn ?? givenArn, values.region));
      const arn = stateMachineArn ?? (await findStackStateMachine(sfn, values.stack ?? ''));
      const where = `${state.environment}/${state.endpoint}`;
      if (!values.json) io.stdout(`Retrying ${where}: ${plan.summary}.\n`);

      const started = await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: arn,
          name: retryExecutionName(request),
          input: JSON.stringify(request),
        }),
      );
      const executionArn = started.executionArn ?? '';
      const follow = `ballast history ${state.endpoint} --environment ${state.environment}${connectionArgs(values)}`;
      const result = {
        environment: state.environment,
        endpoint: state.endpoint,
        commit: plan.commit,
        digest: plan.digest,
        liftsQuarantine: plan.lifts ?? null,
        requestedBy: request.requestedBy,
        requestedAt: request.requestedAt,
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
        const message = `${executionArn} is still running after ${timeoutSeconds}s; follow it with: ${follow}`;
        if (values.json) io.stdout(`${JSON.stringify({ ...result, status: 'RUNNING' }, null, 2)}\n`);
        io.stderr(`ballast retry: ${message}\n`);
        return ExitCode.Invalid;
      }
      const status = execution.status ?? 'UNKNOWN';
      const entry = status === 'SUCCEEDED' ? await retryLedgerEntry(conn, state, request.requestedAt) : undefined;
      if (values.json) {
        io.stdout(
          `${JSON.stringify(
            {
              ...result,
              status,
              ...(execution.error ? { error: execution.error, cause: execution.cause ?? null } : {}),
              entry: entry ?? null,
            },
            null,
            2,
          )}\n`,
        );
      } else if (entry) {
        io.stdout(`${renderHistory(state.endpoint, conn.where, [entry]).join('\n')}\n`);
      }
      if (status !== 'SUCCEEDED') {
        io.stderr(
          `ballast retry: the execution ended ${status}${execution.error ? `: ${execution.error}` : ''}${
            execution.cause ? ` (${execution.cause})` : ''
          }\n`,
        );
        return ExitCode.Invalid;
      }
      if (!entry) {
        io.stderr(`ballast retry: the execution succeeded but wrote no ledger entry for this retry; see ${follow}\n`);
        return ExitCode.Invalid;
      }
      if (entry.outcome !== 'deployed') {
        io.stderr(`ballast retry: ${where} ${entry.outcome}${entry.reason ? `: ${entry.reason}` : ''}\n`);
        return ExitCode.Invalid;
      }
      if (!values.json) io.stdout(`${where} runs ${short(entry.commit)} again.\n`);
      return ExitCode.Ok;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      return fail(error);
    } finally {
      sfn?.destroy();
      conn?.close();
    }
  },
};

/** Checks what parseArgs cannot; returns the endpoint. */
function checkArguments(values: RetryFlags, positionals: readonly string[]): string {
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'which endpoint? (ENDPOINT is required)'
        : `expected one ENDPOINT, got ${positionals.join(' ')}`,
    );
  }
  const endpoint = positionals[0] ?? '';
  // The names the retry request accepts (lambdas/sources/retry.ts).
  if (!NAME.test(endpoint)) throw new UsageError(`'${endpoint}' is not an endpoint name`);
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
  const known = await readEndpointStates(conn);
  return {
    error: `no endpoint ${endpoint}${environment ? ` in ${environment}` : ''} in ${conn.where}${
      known.length > 0
        ? ` (endpoints: ${known.map((k) => `${k.endpoint} (${k.environment})`).join(', ')})`
        : ' (nothing has been deployed yet)'
    }`,
  };
}

/** Who asks: --requested-by, else the OS user (on AWS $USER first, as a shell sets it). */
function requestedBy(values: RetryFlags, local: boolean, io: CliIo): string {
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
 * ahead of this machine's. The retry's ledger key starts with this instant, so the entry then sorts
 * after the rollout it retries.
 */
function requestInstant(state: EndpointState): string {
  const updated = Date.parse(state.updatedAt);
  const now = Date.now();
  return new Date(Number.isFinite(updated) && updated >= now ? updated + 1 : now).toISOString();
}

/**
 * The sandbox's deploy workflow. `ballast local` makes the sandbox pretend to be the account and
 * region ballast.yaml gives the watched branch's environment, so that is read from the desired
 * commit's snapshot (in the state bucket); a sandbox started otherwise is the default account.
 */
async function sandboxStateMachineArn(
  conn: StateConnection,
  state: EndpointState,
  region: string | undefined,
): Promise<string> {
  const home = state.desired ? await environmentOf(conn, state.desired.commit, state.environment) : undefined;
  const account = home?.account ?? SANDBOX_ACCOUNT;
  return `arn:aws:states:${region ?? home?.region ?? 'us-east-1'}:${account}:stateMachine:${SANDBOX_STATE_MACHINE_NAME}`;
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
 * The deploy workflow of a stack: lib/deploy-workflow.ts names it `<stack>-deploy` unless the stack
 * sets `stateMachineName` (then pass --state-machine). Every page is read; names are unique per
 * account and region.
 */
export async function findStackStateMachine(sfn: Pick<SFNClient, 'send'>, stack: string): Promise<string> {
  const name = `${stack}-deploy`;
  let token: string | undefined;
  do {
    const page = await sfn.send(new ListStateMachinesCommand({ nextToken: token, maxResults: 1000 }));
    const match = page.stateMachines?.find((m) => m.name === name);
    if (match?.stateMachineArn) return match.stateMachineArn;
    token = page.nextToken;
  } while (token);
  throw new RetryError(
    `found no state machine named ${name} for the stack ${stack} (Step Functions ListStateMachines); pass the deploy workflow with --state-machine`,
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

/** The ledger entry Record wrote for this retry (matched by the instant it was requested at). */
async function retryLedgerEntry(
  conn: StateConnection,
  state: EndpointState,
  requestedAt: string,
): Promise<LedgerEntry | undefined> {
  const entries = await readLedger(conn.store, state.environment, state.endpoint, 50);
  return entries.filter((e) => e.retry?.requestedAt === requestedAt).at(-1);
}

/** The connection flags as given, for the `ballast history` line to copy. */
function connectionArgs(values: ConnectionFlags): string {
  return (['endpoint-url', 'bucket', 'stack', 'region'] as const)
    .flatMap((flag) => (values[flag] === undefined ? [] : [` --${flag} ${values[flag]}`]))
    .join('');
}

function sfnEndpoint(io: CliIo): string | undefined {
  return io.env.AWS_ENDPOINT_URL_SFN || io.env.AWS_ENDPOINT_URL || undefined;
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
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    // A sandbox takes any credentials; do not make a newcomer configure some.
    ...(endpoint && !io.env.AWS_ACCESS_KEY_ID && !io.env.AWS_PROFILE
      ? { credentials: { accessKeyId: 'ballast-sandbox', secretAccessKey: 'ballast-sandbox' } }
      : {}),
    // Two attempts at most: a second StartExecution with the same name and input returns the
    // execution the first one started (STANDARD workflows), so a retried call starts nothing twice.
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 30_000 }),
  };
}

/** A failure the user can act on, with no stack trace. */
class RetryError extends Error {
  override readonly name = 'RetryError';
}

function explainRetryError(error: unknown, conn: StateConnection | undefined, endpoint: string | undefined): string {
  if (error instanceof RetryError) return error.message;
  const e = error as Error;
  if (e?.name === 'StateMachineDoesNotExist') {
    return `${e.message}${
      endpoint
        ? '; is `ballast local` running there? (`ballast sandbox` alone runs no deploy workflow; for another endpoint pass --state-machine)'
        : '; check --state-machine, --stack and --region'
    }`;
  }
  if (e?.name === 'ExecutionAlreadyExists') return `${e.message}: a retry was already requested at this instant`;
  if (e?.name === 'AccessDeniedException') {
    return `${e.message} (the retry needs states:StartExecution on the deploy workflow, and states:DescribeExecution with --wait)`;
  }
  return explainError(error, conn);
}
