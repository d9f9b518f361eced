import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { BallastStackProps } from '../lib/ballast-stack.ts';
import type { SourceConfig } from '../lib/source-config.ts';

/** Reads one CDK context value (`app.node.tryGetContext`). */
export type ContextReader = (key: string) => unknown;

/** A context value that cannot become a typed stack prop; `cdk synth` prints it and stops. */
export class ContextError extends Error {
  override readonly name = 'ContextError';
}

export interface AppConfig {
  readonly stackName: string;
  readonly props: BallastStackProps;
}

const RESOURCE_PREFIX = /^[a-z][a-z0-9-]{1,19}$/;
/** S3 general purpose bucket names: 3-63 lowercase letters, digits, dots and hyphens. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Secrets Manager names: letters, digits and /_+=.@- (Secrets Manager API Reference, CreateSecret Name). */
const SECRET_PREFIX = /^[A-Za-z0-9/_+=.@-]{1,256}$/;
const KMS_KEY_ARN =
  /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/mrk-[0-9a-f]{32}$/;

/**
 * Turns CDK context (cdk.json, `-c key=value`) into typed stack props. This is the only place that
 * reads context: constructs take typed props, so they can be tested and reused without it.
 */
export function readAppConfig(get: ContextReader, env: NodeJS.ProcessEnv = process.env): AppConfig {
  const stackName = optionalString(get, 'ballast:stackName') ?? 'Ballast';
  const resourcePrefix = optionalString(get, 'ballast:resourcePrefix') ?? 'ballast';
  if (!RESOURCE_PREFIX.test(resourcePrefix)) {
    throw new ContextError(
      `ballast:resourcePrefix '${resourcePrefix}' must be 2-20 lowercase letters, digits or hyphens, starting with a letter`,
    );
  }
  const artifactSourceBuckets = readBucketNames(get('ballast:artifactSourceBuckets'));
  const artifactKmsKeys = readKeyArns(get('ballast:artifactKmsKeyArns'), 'ballast:artifactKmsKeyArns');
  const secretKmsKeys = readKeyArns(get('ballast:secretKmsKeyArns'), 'ballast:secretKmsKeyArns');
  const secretPrefix = optionalString(get, 'ballast:secretPrefix');
  if (secretPrefix !== undefined && !SECRET_PREFIX.test(secretPrefix)) {
    throw new ContextError(
      `ballast:secretPrefix '${secretPrefix}' must be 1-256 characters of a Secrets Manager name (letters, digits, /_+=.@-), e.g. 'acme-ml/'`,
    );
  }
  const alarmEmail = optionalString(get, 'ballast:alarmEmail');
  if (alarmEmail !== undefined && !EMAIL.test(alarmEmail)) {
    throw new ContextError(`ballast:alarmEmail '${alarmEmail}' is not an email address`);
  }
  const logRetention = readLogRetention(get('ballast:logRetentionDays'));
  const reconcileTickMinutes = readTickMinutes(get('ballast:reconcileTickMinutes'));
  const reconcileEnabled = readBoolean(get('ballast:reconcile'), 'ballast:reconcile');
  const account = optionalString(get, 'ballast:account') ?? env.CDK_DEFAULT_ACCOUNT;
  const region = optionalString(get, 'ballast:region') ?? env.CDK_DEFAULT_REGION;
  return {
    stackName,
    props: {
      source: readSource(parseMaybeJson(get('ballast:source'))),
      resourcePrefix,
      ...(artifactSourceBuckets.length > 0 ? { artifactSourceBuckets } : {}),
      ...(artifactKmsKeys.length > 0 ? { artifactKmsKeys } : {}),
      ...(secretPrefix ? { secretPrefix } : {}),
      ...(secretKmsKeys.length > 0 ? { secretKmsKeys } : {}),
      ...(alarmEmail ? { alarmEmail } : {}),
      ...(logRetention !== undefined ? { logRetention } : {}),
      ...(reconcileTickMinutes !== undefined ? { reconcileTickMinutes } : {}),
      ...(reconcileEnabled !== undefined ? { reconcileEnabled } : {}),
      ...(account || region ? { env: { ...(account ? { account } : {}), ...(region ? { region } : {}) } } : {}),
    },
  };
}

function readSource(raw: unknown): SourceConfig {
  if (typeof raw !== 'object' || raw === null) {
    throw new ContextError(
      'ballast:source is required, e.g. -c \'ballast:source={"type":"codecommit","repositoryName":"model-repo"}\'',
    );
  }
  const source = raw as Record<string, unknown>;
  switch (source.type) {
    case 'codecommit': {
      const repositoryName = requiredString(source, 'repositoryName');
      if (!/^[\w.-]{1,100}$/.test(repositoryName) || repositoryName.endsWith('.git')) {
        throw new ContextError(`ballast:source.repositoryName '${repositoryName}' is not a valid CodeCommit name`);
      }
      return { type: 'codecommit', repositoryName, createRepository: source.createRepository === true };
    }
    case 'github': {
      const repository = requiredString(source, 'repository');
      if (!/^[\w.-]+\/[\w.-]+$/.test(repository)) {
        throw new ContextError(`ballast:source.repository '${repository}' must be 'owner/name'`);
      }
      const apiUrl = typeof source.apiUrl === 'string' ? source.apiUrl : undefined;
      return {
        type: 'github',
        repository,
        webhookSecretName: requiredString(source, 'webhookSecretName'),
        tokenSecretName: requiredString(source, 'tokenSecretName'),
        ...(apiUrl ? { apiUrl } : {}),
      };
    }
    default:
      throw new ContextError(
        `ballast:source.type must be 'codecommit' or 'github', got ${JSON.stringify(source.type)}`,
      );
  }
}

/**
 * `ballast:artifactSourceBuckets`: the buckets Model artifacts may be registered from, as a list of
 * names (cdk.json) or, on the command line, a JSON list or a comma-separated string.
 */
function readBucketNames(value: unknown): string[] {
  if (value === undefined) return [];
  const raw = typeof value === 'string' && value.trim().startsWith('[') ? parseMaybeJson(value) : value;
  const names =
    typeof raw === 'string' ? raw.split(',').map((name) => name.trim()) : Array.isArray(raw) ? raw : undefined;
  if (!names || names.some((name) => typeof name !== 'string')) {
    throw new ContextError(
      'ballast:artifactSourceBuckets must be a list of bucket names, e.g. -c \'ballast:artifactSourceBuckets=["my-models"]\'',
    );
  }
  const invalid = (names as string[]).filter((name) => !BUCKET_NAME.test(name) || name.includes('..'));
  if (invalid.length > 0) {
    throw new ContextError(
      `ballast:artifactSourceBuckets: not S3 bucket names: ${invalid.map((n) => `'${n}'`).join(', ')}`,
    );
  }
  return [...new Set(names as string[])];
}

/** A list of KMS key ARNs (cdk.json list, or on the command line a JSON list or comma-separated string). */
function readKeyArns(value: unknown, key: string): string[] {
  if (value === undefined) return [];
  const raw = typeof value === 'string' && value.trim().startsWith('[') ? parseMaybeJson(value) : value;
  const arns = typeof raw === 'string' ? raw.split(',').map((arn) => arn.trim()) : Array.isArray(raw) ? raw : undefined;
  if (!arns || arns.some((arn) => typeof arn !== 'string')) {
    throw new ContextError(
      `${key} must be a list of KMS key ARNs, e.g. -c '${key}=["arn:aws:kms:us-east-1:111122223333:key/..."]'`,
    );
  }
  const invalid = (arns as string[]).filter((arn) => !KMS_KEY_ARN.test(arn));
  if (invalid.length > 0) {
    throw new ContextError(
      `${key}: not KMS key ARNs (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID; aliases cannot be granted): ${invalid.map((a) => `'${a}'`).join(', ')}`,
    );
  }
  return [...new Set(arns as string[])];
}

/** `ballast:logRetentionDays`: one of the retention periods CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ...). */
function readLogRetention(value: unknown): RetentionDays | undefined {
  if (value === undefined) return undefined;
  const days = typeof value === 'string' ? Number(value) : value;
  const allowed = Object.values(RetentionDays).filter((v): v is number => typeof v === 'number');
  if (typeof days !== 'number' || !allowed.includes(days)) {
    throw new ContextError(
      `ballast:logRetentionDays must be one of ${allowed.filter((d) => d > 0).join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return days as RetentionDays;
}

/** `ballast:reconcileTickMinutes`: whole minutes between the reconciler's ticks, 1 to 60. */
function readTickMinutes(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const minutes = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > 60) {
    throw new ContextError(
      `ballast:reconcileTickMinutes must be a whole number of minutes from 1 to 60, got ${JSON.stringify(value)}`,
    );
  }
  return minutes;
}

/** A flag: true or false in cdk.json, 'true' or 'false' on the command line (-c). */
function readBoolean(value: unknown, key: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ContextError(`${key} must be true or false, got ${JSON.stringify(value)}`);
}

function parseMaybeJson(value: unknown): unknown {
  // `-c key=value` on the command line arrives as a string; cdk.json gives objects.
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new ContextError(`context value is not valid JSON: ${value}`);
  }
}

function optionalString(get: ContextReader, key: string): string | undefined {
  const value = get(key);
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new ContextError(`${key} must be a non-empty string`);
  return value;
}

function requiredString(record: Record<string, unknown>, key: string): string {
  const value = record[key];
  if (typeof value !== 'string' || value.length === 0) {
    throw new ContextError(`ballast:source.${key} is required and must be a non-empty string`);
  }
  return value;
}
