/**
 * What `ballast status` and `ballast history` share: finding Ballast's state bucket (a sandbox, a
 * bucket name, or a CloudFormation stack), reading endpoint state and the ledger from it, turning
 * SDK failures into one-line explanations, and the small text helpers (tables, short commits,
 * times, option parsing) the long-running commands use too.
 */
import {
  GetBucketTaggingCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Drift, IgnoredDrift } from '../../lambdas/state/drift.ts';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
import { JsonStore } from '../../lambdas/state/json-store.ts';
import { keys } from '../../lambdas/state/keys.ts';
import type { CliIo } from './types.ts';
import { UsageError } from './types.ts';

/** The bucket `LocalPipeline` (and so `ballast local` and `npm start`) keeps state in. */
export const SANDBOX_STATE_BUCKET = 'ballast-state';

/** The options every state-reading command accepts, for node:util parseArgs. */
export const connectionOptions = {
  'endpoint-url': { type: 'string' },
  bucket: { type: 'string' },
  stack: { type: 'string' },
  region: { type: 'string' },
} as const;

export const connectionUsage = `Where the state lives (one of):
  --endpoint-url URL  an AWS-compatible endpoint, e.g. a sandbox from \`ballast sandbox\` or
                      \`ballast local\`; the bucket defaults to ${SANDBOX_STATE_BUCKET}
  --bucket B          Ballast's state bucket (default: $BALLAST_STATE_BUCKET)
  --stack NAME        the Ballast CloudFormation stack: its bucket is found by S3 ListBuckets
                      and the aws:cloudformation:* tags CloudFormation puts on it
  --region R          the region (default: $AWS_REGION, $AWS_DEFAULT_REGION, your AWS config)
With no flag, $AWS_ENDPOINT_URL (as \`ballast sandbox\` prints it) means the sandbox's
${SANDBOX_STATE_BUCKET} bucket. Credentials come from the AWS SDK's usual chain.`;

export interface ConnectionFlags {
  readonly 'endpoint-url'?: string | undefined;
  readonly bucket?: string | undefined;
  readonly stack?: string | undefined;
  readonly region?: string | undefined;
}

export interface StateConnection {
  readonly s3: S3Client;
  readonly store: JsonStore;
  readonly bucket: string;
  /** The endpoint the client talks to, when not AWS's own. */
  readonly endpoint: string | undefined;
  /** The region the bucket is read in (undefined: the SDK's own configuration decides). */
  readonly region: string | undefined;
  /** `s3://bucket` plus the endpoint, for headings and error messages. */
  readonly where: string;
  close(): void;
}

/** Runs node's parseArgs and turns its errors into short usage errors. */
export function parseOrUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    // node's own messages are long ("To specify a positional argument starting with a '-'…").
    const option = /'([^']+)'/.exec((error as Error).message)?.[1];
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) throw new UsageError(`unknown option '${option}'`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
      const message = (error as Error).message;
      if (/argument missing/.test(message)) throw new UsageError(`${option.replace(/ <value>$/, '')} needs a value`);
      if (/ambiguous/.test(message)) {
        throw new UsageError(`${option} needs a value; write a value starting with '-' as ${option}=VALUE`);
      }
      throw new UsageError(message.split('\n')[0] ?? message);
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && option)
      throw new UsageError(`unexpected argument '${option}'`);
    throw new UsageError((error as Error).message);
  }
}

/** The one ENDPOINT argument a command takes, checked against the names it accepts. */
export function endpointArgument(positionals: readonly string[], name: RegExp): string {
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'which endpoint? (ENDPOINT is required)'
        : `expected one ENDPOINT, got ${positionals.join(' ')}`,
    );
  }
  const endpoint = positionals[0] ?? '';
  if (!name.test(endpoint)) throw new UsageError(`'${endpoint}' is not an endpoint name`);
  return endpoint;
}

/** Checks the connection flags without touching the network (UsageError on a bad combination). */
export function checkConnectionFlags(flags: ConnectionFlags, io: CliIo): void {
  if (flags.bucket !== undefined && flags.stack !== undefined) {
    throw new UsageError('give --bucket or --stack, not both');
  }
  const endpoint = flags['endpoint-url'];
  if (endpoint !== undefined && !isHttpUrl(endpoint)) {
    throw new UsageError(`--endpoint-url must be an http(s) URL, got '${endpoint}'`);
  }
  if (flags.bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(flags.bucket)) {
    throw new UsageError(`--bucket '${flags.bucket}' is not an S3 bucket name`);
  }
  if (flags.region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(flags.region)) {
    throw new UsageError(`--region '${flags.region}' is not an AWS region (e.g. us-east-1)`);
  }
  if (flags.stack !== undefined && !/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(flags.stack)) {
    throw new UsageError(`--stack '${flags.stack}' is not a CloudFormation stack name`);
  }
  if (
    flags.bucket === undefined &&
    flags.stack === undefined &&
    endpoint === undefined &&
    !io.env.BALLAST_STATE_BUCKET &&
    !envEndpoint(io)
  ) {
    throw new UsageError(
      'say where Ballast keeps its state: --endpoint-url URL (a sandbox), --bucket B, or --stack NAME',
    );
  }
}

/** Opens an S3 client on the state bucket; with --stack, finds the bucket first. */
export async function connect(flags: ConnectionFlags, io: CliIo): Promise<StateConnection> {
  checkConnectionFlags(flags, io);
  const endpoint = flags['endpoint-url'] ?? envEndpoint(io);
  const region = flags.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? (endpoint ? 'us-east-1' : undefined);
  const config = (regionOverride?: string): S3ClientConfig => cliClientConfig(io, endpoint, regionOverride ?? region);
  let s3 = new S3Client(config());
  let bucket = flags.bucket ?? io.env.BALLAST_STATE_BUCKET;
  let bucketRegion = region;
  if (flags.stack !== undefined) {
    try {
      const found = await findStackBucket(s3, flags.stack);
      bucket = found.bucket;
      // Read the bucket in its own region (S3 answers a request to the wrong region with a redirect).
      if (found.region && found.region !== region && !endpoint) {
        s3.destroy();
        s3 = new S3Client(config(found.region));
        bucketRegion = found.region;
      }
    } catch (error) {
      s3.destroy();
      throw error;
    }
  }
  bucket ??= SANDBOX_STATE_BUCKET;
  const client = s3;
  return {
    s3: client,
    store: new JsonStore(client, bucket),
    bucket,
    endpoint,
    region: bucketRegion,
    where: `s3://${bucket}${endpoint ? ` at ${endpoint}` : ''}`,
    close: () => client.destroy(),
  };
}

/**
 * The settings of every SDK client a command creates: the endpoint and region it was given, a
 * sandbox's placeholder credentials, and two attempts.
 */
export function cliClientConfig(io: CliIo, endpoint: string | undefined, region: string | undefined) {
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    // A sandbox takes any credentials; do not make a newcomer configure some.
    ...(endpoint && !io.env.AWS_ACCESS_KEY_ID && !io.env.AWS_PROFILE
      ? { credentials: { accessKeyId: 'ballast-sandbox', secretAccessKey: 'ballast-sandbox' } }
      : {}),
    // A CLI should fail fast on an endpoint that is not there, not back off for half a minute.
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 30_000 }),
  };
}

/**
 * A service's endpoint as the SDK's standard configuration gives it: --endpoint-url, else
 * `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `S3`, `SAGEMAKER`, `APPLICATION_AUTO_SCALING`), else
 * `AWS_ENDPOINT_URL`; undefined for AWS's own endpoint.
 */
export function serviceEndpoint(io: CliIo, service: string, flag?: string): string | undefined {
  return flag ?? (io.env[`AWS_ENDPOINT_URL_${service}`] || io.env.AWS_ENDPOINT_URL || undefined);
}

/** A failure the user can act on, with no stack trace. */
export class StateReadError extends Error {
  override readonly name = 'StateReadError';
}

/**
 * Finds the state bucket of a Ballast stack without the CloudFormation API (the CLI does not ship
 * its client): CloudFormation names a bucket it creates `<stack>-<logical id>-<suffix>` in lower case
 * and tags it with `aws:cloudformation:stack-name` and `aws:cloudformation:logical-id`. The
 * ArtifactStore construct's bucket has the logical id `ArtifactStoreBucket<hash>`.
 */
export async function findStackBucket(
  s3: Pick<S3Client, 'send'>,
  stack: string,
): Promise<{ bucket: string; region?: string }> {
  // Long stack names are truncated in generated bucket names; the tags settle what the prefix cannot.
  const prefix = stack.toLowerCase().slice(0, 20);
  const candidates: Array<{ name: string; region?: string }> = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListBucketsCommand({ Prefix: prefix, ContinuationToken: token, MaxBuckets: 1000 }));
    for (const b of page.Buckets ?? []) {
      if (b.Name?.startsWith(prefix))
        candidates.push({ name: b.Name, ...(b.BucketRegion ? { region: b.BucketRegion } : {}) });
    }
    token = page.ContinuationToken;
  } while (token);

  const matches: Array<{ name: string; region?: string }> = [];
  for (const candidate of candidates) {
    const tags = await s3
      .send(new GetBucketTaggingCommand({ Bucket: candidate.name }))
      .then((r) => new Map((r.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])))
      .catch(() => undefined);
    const byTags =
      tags?.get('aws:cloudformation:stack-name') === stack &&
      /^ArtifactStoreBucket[0-9A-F]{8}$/.test(tags.get('aws:cloudformation:logical-id') ?? '');
    // Without readable tags (another region, no s3:GetBucketTagging), fall back on the generated name.
    const byName =
      tags === undefined &&
      candidate.name.startsWith(`${stack.toLowerCase()}-`) &&
      /-artifactstorebucket[0-9a-f]{8}-/.test(candidate.name);
    if (byTags || byName) matches.push(candidate);
  }
  const [match] = matches;
  if (matches.length === 1 && match) return { bucket: match.name, ...(match.region ? { region: match.region } : {}) };
  if (matches.length === 0) {
    throw new StateReadError(
      `found no Ballast state bucket for the stack ${stack} (S3 ListBuckets with the prefix '${prefix}': ${
        candidates.length === 0 ? 'no buckets' : candidates.map((c) => c.name).join(', ')
      }); pass its ArtifactStore bucket with --bucket`,
    );
  }
  throw new StateReadError(
    `the stack name ${stack} matches more than one bucket (${matches.map((m) => m.name).join(', ')}); pass one with --bucket`,
  );
}

/** Every endpoint's state, sorted by environment and endpoint. */
export async function readEndpointStates(conn: StateConnection, environment?: string): Promise<EndpointState[]> {
  const stateKeys = (await conn.store.list(keys.statePrefix(environment), { limit: 10_000 })).filter((key) =>
    /^state\/[^/]+\/[^/]+\.json$/.test(key),
  );
  const states = await Promise.all(stateKeys.map((key) => conn.store.get<EndpointState>(key)));
  return states
    .flatMap((s) => (s ? [s.value] : []))
    .sort((a, b) => a.environment.localeCompare(b.environment) || a.endpoint.localeCompare(b.endpoint));
}

/** Why ENDPOINT is not there, and which endpoints are (for a command's one-line error). */
export async function noSuchEndpoint(
  conn: StateConnection,
  endpoint: string,
  environment: string | undefined,
): Promise<string> {
  const known = await readEndpointStates(conn);
  return `no endpoint ${endpoint}${environment ? ` in ${environment}` : ''} in ${conn.where}${
    known.length > 0
      ? ` (endpoints: ${known.map((k) => `${k.endpoint} (${k.environment})`).join(', ')})`
      : ' (nothing has been deployed yet)'
  }`;
}

/** The folder names one level under `prefix` (e.g. the environments under `ledger/`). */
export async function listFolders(conn: StateConnection, prefix: string): Promise<string[]> {
  const folders: string[] = [];
  let token: string | undefined;
  do {
    const page = await conn.s3.send(
      new ListObjectsV2Command({ Bucket: conn.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }),
    );
    for (const p of page.CommonPrefixes ?? []) {
      if (p.Prefix) folders.push(p.Prefix.slice(prefix.length, -1));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return folders.sort();
}

/** One line saying why reading the state failed and what to do about it. */
export function explainError(
  error: unknown,
  conn: { where: string; endpoint?: string | undefined; service?: string } | undefined,
): string {
  if (error instanceof StateReadError || error instanceof UsageError) return error.message;
  const e = error as Error & { code?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const text = `${e?.name ?? ''} ${e?.code ?? ''} ${e?.message ?? String(error)}`;
  const where = conn?.where ?? 'S3';
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|socket hang up|TimeoutError/.test(text)) {
    const target = conn?.endpoint ?? conn?.service ?? 'S3';
    const reason = /ECONNREFUSED/.test(text)
      ? 'connection refused'
      : /ENOTFOUND/.test(text)
        ? 'host not found'
        : 'no answer';
    return `cannot reach ${target} (${reason})${conn?.endpoint ? '; is `ballast sandbox` or `ballast local` running there?' : ''}`;
  }
  if (/NoSuchBucket/.test(text) || (e?.$metadata?.httpStatusCode === 404 && /bucket/i.test(text))) {
    return `${where}: the bucket does not exist${conn?.endpoint ? ' (has a deployment run on this sandbox yet?)' : ''}`;
  }
  if (/AccessDenied|Forbidden|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken/.test(text)) {
    return `${where}: access denied (${e?.name ?? 'AccessDenied'}); check your AWS credentials and that they may read the bucket`;
  }
  if (/CredentialsProviderError|Could not load credentials/.test(text)) {
    return 'no AWS credentials found: configure a profile (AWS_PROFILE) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY';
  }
  if (/Region is missing/.test(text)) return 'no AWS region: pass --region or set AWS_REGION';
  return `${where}: ${e?.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e?.message ?? String(error)}`;
}

/** A commit as git abbreviates it. */
export function short(commit: string | undefined): string {
  return commit ? commit.slice(0, 7) : '-';
}

/** `2026-03-01 09:00:01Z`: ISO 8601 without the noise. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '-';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** `28m 1s`, `2h 5m`, `42s`. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/**
 * Drift one pointer a line, the values Ballast deployed and live (`(absent)` for none), paths
 * aligned; each ignored difference after them with its reason. What `ballast diff`, `status` and
 * `history` print under an endpoint; `limit` shows the first pointers and says how many more.
 */
export function driftLines(
  drift: readonly Drift[],
  options: { readonly ignored?: readonly IgnoredDrift[]; readonly indent?: string; readonly limit?: number } = {},
): string[] {
  const { ignored = [], indent = '  ', limit = drift.length } = options;
  const shown = drift.slice(0, limit);
  const width = Math.max(0, ...[...shown, ...ignored].map((d) => d.path.length));
  const line = (d: Drift) =>
    `${indent}${d.path.padEnd(width)}  ${d.expected ?? '(absent)'} -> ${d.actual ?? '(absent)'}`;
  return [
    ...shown.map(line),
    ...(drift.length > shown.length ? [`${indent}(+${drift.length - shown.length} more)`] : []),
    ...ignored.map((d) => `${line(d)}  ignored: ${d.reason}`),
  ];
}

function envEndpoint(io: CliIo): string | undefined {
  return serviceEndpoint(io, 'S3');
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
