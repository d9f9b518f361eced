import { parseArgs } from 'node:util';
import type { EventBridgeEvent } from '../../sandbox/events.ts';
import type { Sandbox, SandboxOptions } from '../../sandbox/sandbox.ts';
import { parseOrUsage } from './state-reader.ts';
import { type CliIo, type Command, ExitCode, UsageError } from './types.ts';

/** The port `ballast sandbox` and `ballast local` listen on unless told otherwise. */
export const DEFAULT_PORT = 4599;
/** Simulated seconds per wall-clock second: a 6-minute endpoint creation or a 10-minute bake take about a second. */
export const DEFAULT_TIME_SCALE = 600;

const usage = `Usage: ballast sandbox [--port N] [--time-scale X] [--account ID] [--region R] [--quiet]

Runs the Ballast sandbox in the foreground: one HTTP endpoint on 127.0.0.1 that speaks the AWS
wire protocols of S3, SageMaker, CloudWatch and CodeCommit, so the AWS CLI and any AWS SDK can use
it through AWS_ENDPOINT_URL. SageMaker endpoint rollouts and CloudWatch alarms run on a simulated
clock. Its state lives in memory; Ctrl-C (SIGINT) or SIGTERM stops it.

Options:
  --port N          port on 127.0.0.1; 0 picks a free one (default: ${DEFAULT_PORT})
  --time-scale X    simulated seconds per real second (default: ${DEFAULT_TIME_SCALE}, so a 10-minute
                    canary bake takes one second); 1 runs in real time
  --account ID      the 12-digit account the sandbox pretends to be (default: 111122223333)
  --region R        its region (default: us-east-1)
  --quiet           do not print the events the sandbox emits (endpoint and alarm state changes, pushes)
  -h, --help        show this help

Exit codes: 0 stopped by a signal, 2 usage error or the port is taken.
`;

export interface SandboxFlags {
  readonly port: number;
  readonly timeScale: number;
  readonly account?: string;
  readonly region?: string;
}

export const sandboxCommand: Command = {
  name: 'sandbox',
  summary:
    'Run the local AWS sandbox (S3, SageMaker, CloudWatch, CodeCommit, Secrets Manager, Step Functions, SNS, EventBridge, Application Auto Scaling) for the AWS CLI and SDKs',
  usage,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values } = parseOrUsage(() =>
      parseArgs({
        args: [...args],
        options: {
          port: { type: 'string' },
          'time-scale': { type: 'string' },
          account: { type: 'string' },
          region: { type: 'string' },
          quiet: { type: 'boolean' },
        },
        strict: true,
        allowPositionals: false,
      }),
    );
    const flags = parseSandboxFlags(values);
    const sandbox = await startOrExplain(flags, io, 'sandbox');
    if (!sandbox) return ExitCode.Usage;
    const unsubscribe = values.quiet
      ? () => {}
      : sandbox.events.subscribe({}, (e) => io.stdout(`${describeEvent(e)}\n`));
    io.stdout(`${banner(sandbox, flags.timeScale).join('\n')}\n`);
    const signal = await untilSignal();
    io.stdout(`\n${signal ?? 'signal'}: stopping the sandbox\n`);
    unsubscribe();
    await sandbox.stop();
    return ExitCode.Ok;
  },
};

/** Validates --port, --time-scale, --account and --region (UsageError on a bad value). */
export function parseSandboxFlags(values: {
  port?: string | undefined;
  'time-scale'?: string | undefined;
  account?: string | undefined;
  region?: string | undefined;
}): SandboxFlags {
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!/^\d+$/.test(values.port ?? '0') || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, got '${values.port}'`);
  }
  const timeScale = values['time-scale'] === undefined ? DEFAULT_TIME_SCALE : Number(values['time-scale']);
  if (!Number.isFinite(timeScale) || timeScale <= 0 || timeScale > 1_000_000 || values['time-scale']?.trim() === '') {
    throw new UsageError(
      `--time-scale must be a number above 0 (simulated seconds per real second, at most 1000000), got '${values['time-scale']}'`,
    );
  }
  if (values.account !== undefined && !/^\d{12}$/.test(values.account)) {
    throw new UsageError(`--account must be a 12-digit AWS account ID, got '${values.account}'`);
  }
  if (values.region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(values.region)) {
    throw new UsageError(`--region '${values.region}' is not an AWS region (e.g. us-east-1)`);
  }
  return {
    port,
    timeScale,
    ...(values.account ? { account: values.account } : {}),
    ...(values.region ? { region: values.region } : {}),
  };
}

/** Starts a sandbox; a taken port is the user's to fix, so it is explained rather than thrown. */
export async function startOrExplain(
  flags: SandboxFlags,
  io: CliIo,
  command: string,
  extra: Partial<SandboxOptions> = {},
): Promise<Sandbox | undefined> {
  const { startSandbox } = await import('../../sandbox/sandbox.ts');
  try {
    return await startSandbox({
      port: flags.port,
      timeScale: flags.timeScale,
      ...(flags.account ? { account: flags.account } : {}),
      ...(flags.region ? { region: flags.region } : {}),
      ...extra,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      io.stderr(
        `ballast ${command}: cannot listen on 127.0.0.1:${flags.port} (${code === 'EADDRINUSE' ? 'the port is in use' : 'permission denied'}); pick another with --port, or --port 0 for any free port\n`,
      );
      return undefined;
    }
    throw error;
  }
}

/** What to tell the user once the sandbox listens: the URL, the exports, the control API. */
export function banner(sandbox: Sandbox, timeScale: number): string[] {
  const { url } = sandbox;
  return [
    `Ballast sandbox on ${url}: S3, SageMaker, CloudWatch and CodeCommit`,
    `Account ${sandbox.account}, region ${sandbox.region}; simulated time runs ${timeScale}x real time${
      timeScale === 1 ? '' : ` (a 10-minute bake takes ${formatWall(600 / timeScale)})`
    }.`,
    '',
    'Point the AWS CLI or any AWS SDK at it:',
    ...exportLines(sandbox),
    '',
    `Control API (${url}/_ballast/...):`,
    ...CONTROL_ROUTES.map(([method, path, what]) => `  ${method.padEnd(6)} ${path.padEnd(24)} ${what}`),
    '',
    'Ctrl-C stops the sandbox; its state lives in memory and goes with it.',
    '',
  ];
}

export function exportLines(sandbox: Sandbox): string[] {
  return Object.entries(sandbox.env()).map(([name, value]) => `  export ${name}=${value}`);
}

const CONTROL_ROUTES: ReadonlyArray<readonly [string, string, string]> = [
  ['GET', '/_ballast/health', 'liveness, simulated time and time scale'],
  ['GET', '/_ballast/clock', 'simulated time'],
  ['POST', '/_ballast/clock/advance', '{"seconds": N}: move simulated time forward'],
  ['GET', '/_ballast/requests', 'the AWS calls answered, with counts per operation'],
  ['DELETE', '/_ballast/requests', 'forget them'],
  ['POST', '/_ballast/faults', '{"service","operation","kind":"throttle|server-error|latency","times"?,"latencyMs"?}'],
  ['DELETE', '/_ballast/faults', 'clear injected faults'],
  ['GET', '/_ballast/events', 'the EventBridge events emitted (pushes, endpoint and alarm state changes)'],
  [
    'POST',
    '/_ballast/sagemaker/load',
    '{"endpointName","requestsPerMinute"}: background InvokeEndpoint traffic (0 stops it)',
  ],
  ['GET', '/_ballast/sagemaker/load', 'the background loads'],
];

/** One line per sandbox event: simulated time, what changed and on what. */
export function describeEvent(event: EventBridgeEvent): string {
  const d = event.detail as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
  let what: string;
  switch (event['detail-type']) {
    case 'SageMaker Endpoint State Change':
    case 'SageMaker Endpoint Deployment State Change':
      what = `${str(d.EndpointName)} ${str(d.EndpointStatus)}${d.FailureReason ? `: ${str(d.FailureReason)}` : ''}`;
      break;
    case 'CloudWatch Alarm State Change': {
      const state = (d.state ?? {}) as Record<string, unknown>;
      const previous = (d.previousState ?? {}) as Record<string, unknown>;
      what = `${str(d.alarmName)} ${str(previous.value)} -> ${str(state.value)}`;
      break;
    }
    case 'CloudWatch Alarm Configuration Change':
      what = `${str(d.alarmName)} ${str(d.operation)}`;
      break;
    case 'CodeCommit Repository State Change':
      what = `${str(d.repositoryName)} ${str(d.referenceType)} ${str(d.referenceName)} ${str(d.event)}${
        d.commitId ? ` ${str(d.commitId).slice(0, 7)}` : ''
      }`;
      break;
    default:
      what = '';
  }
  return `${event.time}  ${event['detail-type']}${what ? `  ${what}` : ''}`;
}

/**
 * Resolves with the signal's name on the first SIGINT or SIGTERM (the command then stops cleanly
 * instead of being killed), or with undefined once `cancel` aborts; either way the listeners go.
 */
export function untilSignal(cancel?: AbortSignal): Promise<NodeJS.Signals | undefined> {
  return new Promise((resolve) => {
    const done = (signal: NodeJS.Signals | undefined) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      cancel?.removeEventListener('abort', onAbort);
      resolve(signal);
    };
    const on = (signal: NodeJS.Signals) => done(signal);
    const onAbort = () => done(undefined);
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
    cancel?.addEventListener('abort', onAbort, { once: true });
  });
}

function formatWall(seconds: number): string {
  if (seconds >= 60) return `${Math.round(seconds / 60)} min`;
  if (seconds >= 1) return `${Math.round(seconds * 10) / 10} s`;
  return `${Math.round(seconds * 1000)} ms`;
}
