/**
 * Conformance harness: run ONE suite of node:test tests against the Ballast sandbox and against moto
 * (`python3 -m moto.server`), so the sandbox is held to the behaviour of an independent emulator and,
 * where they disagree, to AWS's documentation.
 *
 * Usage (a conformance test file):
 *
 *   import { S3Client } from '@aws-sdk/client-s3';
 *   import { createS3Service } from '../../sandbox/services/s3.ts';
 *   import { clientConfig, describeConformance, knownDifference } from '../support/aws-targets.ts';
 *
 *   describeConformance('S3 versioning', (ctx) => [createS3Service(ctx)], (target, name) => {
 *     it('lists versions', async () => {
 *       const s3 = new S3Client(clientConfig(target().endpoint));
 *       …
 *     });
 *     it('rejects X', knownDifference(name, { moto: 'moto 5.2.1 accepts X; AWS rejects it (https://docs…)' }), async () => {
 *       …
 *     });
 *   });
 *
 * - The suite callback runs twice, once per target, inside `describe('<title> [sandbox]')` and
 *   `describe('<title> [moto]')`. `target()` is only valid inside tests and hooks (it is started in a
 *   `before` hook and stopped in an `after` hook).
 * - When python3 or moto is missing, the moto `describe` is skipped and the reason is printed by the
 *   test reporter (`# SKIP moto is not available: …`).
 * - moto is one process per `describeConformance` call and keeps state between tests: use unique
 *   resource names (`uniqueName('bucket')`).
 * - `clientConfig(endpoint)` works for every SDK v3 client. S3 needs no `forcePathStyle`: for an IP
 *   endpoint such as `http://127.0.0.1:PORT` the SDK's endpoint rules already choose path-style
 *   addressing, for the sandbox and for moto alike, which is also what Ballast's handlers get from
 *   `AWS_ENDPOINT_URL`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe } from 'node:test';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { VirtualClock } from '../../sandbox/clock.ts';
import { EventBus } from '../../sandbox/events.ts';
import { FaultInjector } from '../../sandbox/faults.ts';
import { RequestLog } from '../../sandbox/request-log.ts';
import { SandboxServer } from '../../sandbox/server.ts';
import type { SandboxService, ServiceContext } from '../../sandbox/service.ts';

export type TargetName = 'sandbox' | 'moto';

export interface AwsTarget {
  readonly name: TargetName;
  /** The base URL to give SDK clients as `endpoint` (or `AWS_ENDPOINT_URL`). */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** The sandbox target also exposes its in-process parts, for sandbox-only tests. */
export interface SandboxTarget extends AwsTarget {
  readonly name: 'sandbox';
  readonly ctx: ServiceContext;
  readonly clock: VirtualClock;
  readonly events: EventBus;
  readonly faults: FaultInjector;
  readonly requests: RequestLog;
  readonly services: readonly SandboxService[];
}

export type ServiceFactory = (ctx: ServiceContext) => SandboxService[];

export interface SandboxTargetOptions {
  /** Simulated ms per wall ms (default 1: real time). */
  readonly timeScale?: number;
  /** The account and region services stamp into ARNs and events (moto's defaults). */
  readonly account?: string;
  readonly region?: string;
}

/** Starts a SandboxServer with the given services on a free port of 127.0.0.1. */
export async function startSandboxTarget(
  services: ServiceFactory,
  options: SandboxTargetOptions = {},
): Promise<SandboxTarget> {
  const clock = new VirtualClock(options.timeScale ?? 1);
  const account = options.account ?? '123456789012';
  const region = options.region ?? 'us-east-1';
  const events = new EventBus(account, region, () => clock.now());
  const ctx: ServiceContext = { clock, events, account, region };
  const faults = new FaultInjector();
  const requests = new RequestLog();
  const instances = services(ctx);
  const server = new SandboxServer({ services: instances, clock, events, faults, requests });
  const endpoint = await server.listen(0);
  return {
    name: 'sandbox',
    endpoint,
    ctx,
    clock,
    events,
    faults,
    requests,
    services: instances,
    stop: () => server.close(),
  };
}

/** Why moto cannot run here, or undefined when `python3 -c "import moto"` works. Checked once. */
let motoProbe: string | undefined | null = null;
export function motoUnavailableReason(): string | undefined {
  if (motoProbe !== null) return motoProbe;
  const result = spawnSync('python3', ['-c', 'import moto.server, sys; sys.stdout.write(moto.__version__)'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.error) motoProbe = `python3 is not available (${result.error.message})`;
  else if (result.status !== 0) {
    const lastLine = result.stderr.trim().split('\n').pop() ?? '';
    motoProbe = `moto is not installed for python3 (${lastLine || `exit ${result.status}`}); pip install 'moto[server]'`;
  } else motoProbe = undefined;
  return motoProbe;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `python3 -m moto.server -H 127.0.0.1 -p <free port>` and waits until it answers. Returns
 * `{ skip }` with a reason when python3 or moto is absent (a moto that is installed but fails to start
 * is an error, not a skip).
 */
export async function startMotoTarget(): Promise<AwsTarget | { skip: string }> {
  const reason = motoUnavailableReason();
  if (reason) return { skip: reason };
  const port = await freePort();
  const child: ChildProcess = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto.server exited with ${child.exitCode}: ${stderr}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto.server did not answer on ${endpoint} within 30 s: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    name: 'moto',
    endpoint,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(killer);
      }
    },
  };
}

/**
 * SDK v3 client configuration for a target. `maxAttempts: 1` so a wrong answer fails fast instead of
 * being retried; tests about retries pass their own `maxAttempts`.
 */
export function clientConfig(endpoint: string) {
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
}

/** A name no earlier test used, valid as an S3 bucket name and a CloudWatch alarm name. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/**
 * `it` options that skip a case on the targets known to be wrong, with the reason printed. Use it only
 * when the other target has been checked against AWS's documentation: the reason should cite it.
 */
export function knownDifference(target: TargetName, reasons: Partial<Record<TargetName, string>>): { skip?: string } {
  const reason = reasons[target];
  return reason ? { skip: reason } : {};
}

/**
 * Runs `suite` once against the sandbox (with the services `services` builds) and once against moto.
 * `target()` returns the running target inside tests and hooks.
 */
export function describeConformance(
  title: string,
  services: ServiceFactory,
  suite: (target: () => AwsTarget, name: TargetName) => void,
): void {
  describe(`${title} [sandbox]`, () => {
    let target: AwsTarget | undefined;
    before(async () => {
      target = await startSandboxTarget(services);
    });
    after(async () => {
      await target?.stop();
    });
    suite(() => {
      if (!target) throw new Error('the sandbox target is not running (use target() inside tests or hooks)');
      return target;
    }, 'sandbox');
  });

  const skip = motoUnavailableReason();
  describe(`${title} [moto]`, skip ? { skip: `moto is not available: ${skip}` } : {}, () => {
    let target: AwsTarget | undefined;
    before(async () => {
      const started = await startMotoTarget();
      if ('skip' in started) throw new Error(started.skip);
      target = started;
    });
    after(async () => {
      await target?.stop();
    });
    suite(() => {
      if (!target) throw new Error('the moto target is not running (use target() inside tests or hooks)');
      return target;
    }, 'moto');
  });
}

/**
 * Asserts that `promise` rejects with an S3 error of this name (code) and HTTP status, and returns
 * it. Pass `undefined` as the name for answers without a body (304, HEAD errors other than
 * 404/403), which the SDK can only name `Unknown`.
 */
export async function rejectsWithS3(
  promise: Promise<unknown>,
  name: string | undefined,
  status: number,
): Promise<S3ServiceException> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof S3ServiceException, `expected an S3ServiceException, got ${String(error)}`);
    if (name !== undefined) assert.equal(error.name, name, `error name (message: ${error.message})`);
    assert.equal(error.$metadata.httpStatusCode, status, `status of ${error.name}`);
    return error;
  }
  assert.fail(`expected ${name} (${status}), but the call succeeded`);
}
