import { randomInt, randomUUID } from 'node:crypto';
import { awsJsonService, type JsonOperation } from '../protocols/aws-json.ts';
import type { SandboxService, ServiceContext } from '../service.ts';
import { AwsServiceError } from '../service.ts';

/*
 * AWS Secrets Manager over awsJson 1.1 (target prefix `secretsmanager`, signing name
 * `secretsmanager`), the subset Ballast's GitHub path uses: the webhook secret and the API token
 * are read with GetSecretValue; tests, the demo and users create and rotate them.
 *
 * Follows the Secrets Manager API Reference:
 * - ARNs end in the name, a hyphen and six random characters
 *   (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf`); a SecretId is the name, the full ARN
 *   or the partial ARN without the suffix.
 * - Versions carry staging labels: a new value becomes AWSCURRENT, the version it replaces
 *   AWSPREVIOUS; a version that loses every label stays readable by VersionId.
 * - ClientRequestToken (which the SDK fills in) is the VersionId: a repeated request with the same
 *   token and value is ignored, the same token with another value is ResourceExistsException.
 * - DeleteSecret schedules deletion after a recovery window (7–30 days, default 30) in simulated
 *   time; until then the secret is described and listed (with IncludePlannedDeletion) but its
 *   value cannot be read or changed (InvalidRequestException), its name cannot be reused, and
 *   RestoreSecret cancels the deletion. ForceDeleteWithoutRecovery deletes at once and, as
 *   documented, succeeds for a secret that does not exist.
 * Not emulated: rotation, replication, resource policies, KMS (values are stored as given).
 */

export interface SecretsManagerSandbox extends SandboxService {
  /** Names of the secrets that exist (including those scheduled for deletion), sorted. */
  secretNames(): string[];
}

interface Version {
  readonly id: string;
  readonly createdMs: number;
  readonly secretString?: string;
  /** Base64, as it travels in JSON. */
  readonly secretBinary?: string;
  stages: string[];
}

interface Secret {
  readonly name: string;
  readonly arn: string;
  readonly createdMs: number;
  description?: string;
  kmsKeyId?: string;
  lastChangedMs: number;
  lastAccessedMs?: number;
  /** When DeleteSecret was called, and when the secret goes for good. */
  deletion?: { readonly requestedMs: number; readonly purgeMs: number };
  readonly tags: Array<{ Key: string; Value: string }>;
  readonly versions: Map<string, Version>;
}

const NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const DAY_MS = 24 * 60 * 60 * 1000;

const epochSeconds = (ms: number) => ms / 1000;

export function createSecretsManagerService(ctx: ServiceContext): SecretsManagerSandbox {
  const secrets = new Map<string, Secret>();
  const arnPrefix = `arn:aws:secretsmanager:${ctx.region}:${ctx.account}:secret:`;
  const now = () => ctx.clock.nowMs();

  /** Secrets whose recovery window has passed are gone (AWS purges them in the background). */
  function purge(): void {
    for (const [name, secret] of secrets) {
      if (secret.deletion && secret.deletion.purgeMs <= now()) secrets.delete(name);
    }
  }

  function notFound(): AwsServiceError {
    return new AwsServiceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  }

  /** A secret by name, full ARN, or partial ARN (the ARN without the random suffix). */
  function lookup(secretId: string): Secret | undefined {
    purge();
    const byName = secrets.get(secretId);
    if (byName) return byName;
    if (!secretId.startsWith('arn:')) return undefined;
    for (const secret of secrets.values()) if (secret.arn === secretId) return secret;
    if (secretId.startsWith(arnPrefix)) return secrets.get(secretId.slice(arnPrefix.length));
    return undefined;
  }

  function find(input: Record<string, unknown>): Secret {
    const secret = lookup(requireField(input, 'SecretId'));
    if (!secret) throw notFound();
    return secret;
  }

  function refuseDeleted(secret: Secret): void {
    if (secret.deletion) {
      throw new AwsServiceError(
        'InvalidRequestException',
        "You can't perform this operation on the secret because it was marked for deletion.",
      );
    }
  }

  function newArn(name: string): string {
    let suffix = '';
    for (let i = 0; i < 6; i++) suffix += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
    return `${arnPrefix}${name}-${suffix}`;
  }

  function secretValueOf(input: Record<string, unknown>): { secretString?: string; secretBinary?: string } | undefined {
    const secretString = optionalString(input, 'SecretString');
    const secretBinary = optionalString(input, 'SecretBinary');
    if (secretString !== undefined && secretBinary !== undefined) {
      throw new AwsServiceError(
        'InvalidParameterException',
        "You can't specify both a binary secret value and a string secret value in the same secret.",
      );
    }
    if (secretString !== undefined) return { secretString };
    if (secretBinary !== undefined) return { secretBinary };
    return undefined;
  }

  function versionToken(input: Record<string, unknown>): string {
    const token = optionalString(input, 'ClientRequestToken');
    if (token === undefined) return randomUUID();
    if (token.length < 32 || token.length > 64) {
      throw new AwsServiceError(
        'ValidationException',
        `1 validation error detected: Value '${token}' at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64`,
      );
    }
    return token;
  }

  const sameValue = (version: Version, value: { secretString?: string; secretBinary?: string }) =>
    version.secretString === value.secretString && version.secretBinary === value.secretBinary;

  /**
   * Adds a version with the given labels, moving each label off the version that had it; the
   * version that loses AWSCURRENT becomes AWSPREVIOUS.
   */
  function addVersion(
    secret: Secret,
    id: string,
    value: { secretString?: string; secretBinary?: string },
    stages: readonly string[],
  ): Version {
    const labels = [...new Set(stages)];
    const previous = labels.includes('AWSCURRENT') ? currentVersion(secret) : undefined;
    for (const version of secret.versions.values()) {
      version.stages = version.stages.filter((s) => !labels.includes(s));
    }
    if (previous) {
      for (const version of secret.versions.values())
        version.stages = version.stages.filter((s) => s !== 'AWSPREVIOUS');
      previous.stages.push('AWSPREVIOUS');
    }
    const version: Version = { id, createdMs: now(), ...value, stages: labels };
    secret.versions.set(id, version);
    secret.lastChangedMs = now();
    return version;
  }

  const currentVersion = (secret: Secret) => [...secret.versions.values()].find((v) => v.stages.includes('AWSCURRENT'));

  const versionIdsToStages = (secret: Secret) => {
    const map: Record<string, string[]> = {};
    for (const version of secret.versions.values()) if (version.stages.length > 0) map[version.id] = version.stages;
    return map;
  };

  const describe = (secret: Secret, versionsKey: 'VersionIdsToStages' | 'SecretVersionsToStages') => ({
    ARN: secret.arn,
    Name: secret.name,
    ...(secret.description !== undefined ? { Description: secret.description } : {}),
    ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
    CreatedDate: epochSeconds(secret.createdMs),
    LastChangedDate: epochSeconds(secret.lastChangedMs),
    ...(secret.lastAccessedMs !== undefined ? { LastAccessedDate: epochSeconds(secret.lastAccessedMs) } : {}),
    ...(secret.deletion ? { DeletedDate: epochSeconds(secret.deletion.requestedMs) } : {}),
    ...(secret.tags.length > 0 ? { Tags: secret.tags } : {}),
    ...(secret.versions.size > 0 ? { [versionsKey]: versionIdsToStages(secret) } : {}),
  });

  const operations: Record<string, JsonOperation> = {
    CreateSecret(input) {
      const name = requireField(input, 'Name');
      if (!NAME.test(name)) {
        // The message AWS returns (seen in aws/aws-sdk-js-v3 users' reports, e.g. smithy-typescript#1546).
        throw new AwsServiceError(
          'ValidationException',
          'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
        );
      }
      if (Array.isArray(input.AddReplicaRegions) && input.AddReplicaRegions.length > 0) {
        throw new AwsServiceError('InvalidParameterException', 'The Ballast sandbox does not replicate secrets.');
      }
      const value = secretValueOf(input);
      const token = versionToken(input);
      const existing = lookup(name);
      if (existing) {
        if (existing.deletion) {
          throw new AwsServiceError(
            'InvalidRequestException',
            "You can't create this secret because a secret with this name is already scheduled for deletion.",
          );
        }
        // A retried CreateSecret (same token, same value) is ignored.
        const version = existing.versions.get(token);
        if (version && value && sameValue(version, value)) {
          return { ARN: existing.arn, Name: existing.name, VersionId: version.id };
        }
        throw new AwsServiceError(
          'ResourceExistsException',
          `The operation failed because the secret ${name} already exists.`,
        );
      }
      const tags = Array.isArray(input.Tags) ? (input.Tags as Array<{ Key: string; Value: string }>) : [];
      const secret: Secret = {
        name,
        arn: newArn(name),
        createdMs: now(),
        lastChangedMs: now(),
        tags: tags.map((t) => ({ Key: String(t.Key), Value: String(t.Value) })),
        versions: new Map(),
        ...(typeof input.Description === 'string' ? { description: input.Description } : {}),
        ...(typeof input.KmsKeyId === 'string' ? { kmsKeyId: input.KmsKeyId } : {}),
      };
      secrets.set(name, secret);
      if (!value) return { ARN: secret.arn, Name: name };
      const version = addVersion(secret, token, value, ['AWSCURRENT']);
      return { ARN: secret.arn, Name: name, VersionId: version.id };
    },

    GetSecretValue(input) {
      const secret = find(input);
      refuseDeleted(secret);
      const versionId = optionalString(input, 'VersionId');
      const stage = optionalString(input, 'VersionStage');
      let version: Version | undefined;
      if (versionId !== undefined) {
        version = secret.versions.get(versionId);
        if (!version) {
          throw new AwsServiceError(
            'ResourceNotFoundException',
            `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
          );
        }
        if (stage !== undefined && !version.stages.includes(stage)) {
          throw new AwsServiceError(
            'InvalidRequestException',
            'You provided a VersionStage that is not associated to the provided VersionId.',
          );
        }
      } else {
        const label = stage ?? 'AWSCURRENT';
        version = [...secret.versions.values()].find((v) => v.stages.includes(label));
        if (!version) {
          throw new AwsServiceError(
            'ResourceNotFoundException',
            `Secrets Manager can't find the specified secret value for staging label: ${label}`,
          );
        }
      }
      // LastAccessedDate is a date: AWS rounds it down to midnight UTC.
      secret.lastAccessedMs = Math.floor(now() / DAY_MS) * DAY_MS;
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.id,
        ...(version.secretString !== undefined ? { SecretString: version.secretString } : {}),
        ...(version.secretBinary !== undefined ? { SecretBinary: version.secretBinary } : {}),
        VersionStages: version.stages,
        CreatedDate: epochSeconds(version.createdMs),
      };
    },

    PutSecretValue(input) {
      const secret = find(input);
      refuseDeleted(secret);
      const value = secretValueOf(input);
      if (!value) {
        throw new AwsServiceError('InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
      }
      const token = versionToken(input);
      const existing = secret.versions.get(token);
      if (existing) {
        if (sameValue(existing, value)) {
          return { ARN: secret.arn, Name: secret.name, VersionId: existing.id, VersionStages: existing.stages };
        }
        throw new AwsServiceError(
          'ResourceExistsException',
          `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${secret.arn}.`,
        );
      }
      let stages = Array.isArray(input.VersionStages) ? input.VersionStages.map(String) : ['AWSCURRENT'];
      // The first version of a secret is always AWSCURRENT.
      if (!currentVersion(secret) && !stages.includes('AWSCURRENT')) stages = [...stages, 'AWSCURRENT'];
      const version = addVersion(secret, token, value, stages);
      return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: version.stages };
    },

    DescribeSecret(input) {
      return describe(find(input), 'VersionIdsToStages');
    },

    DeleteSecret(input) {
      const secretId = requireField(input, 'SecretId');
      const force = input.ForceDeleteWithoutRecovery === true;
      const window = input.RecoveryWindowInDays;
      if (window !== undefined && window !== null) {
        if (force) {
          throw new AwsServiceError(
            'InvalidParameterException',
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
          );
        }
        if (typeof window !== 'number' || !Number.isInteger(window) || window < 7 || window > 30) {
          throw new AwsServiceError(
            'InvalidParameterException',
            'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
          );
        }
      }
      const secret = lookup(secretId);
      if (!secret) {
        // "If you forcibly delete an already deleted or nonexistent secret, the operation does not
        // return ResourceNotFoundException" (DeleteSecret, ForceDeleteWithoutRecovery).
        if (!force) throw notFound();
        const name = secretId.startsWith(arnPrefix) ? secretId.slice(arnPrefix.length) : secretId;
        return {
          ARN: secretId.startsWith('arn:') ? secretId : newArn(name),
          Name: name,
          DeletionDate: epochSeconds(now()),
        };
      }
      if (force) {
        secrets.delete(secret.name);
        return { ARN: secret.arn, Name: secret.name, DeletionDate: epochSeconds(now()) };
      }
      if (secret.deletion) {
        throw new AwsServiceError(
          'InvalidRequestException',
          "You can't perform this operation on the secret because it was already scheduled for deletion.",
        );
      }
      const days = typeof window === 'number' ? window : 30;
      secret.deletion = { requestedMs: now(), purgeMs: now() + days * DAY_MS };
      return { ARN: secret.arn, Name: secret.name, DeletionDate: epochSeconds(secret.deletion.purgeMs) };
    },

    RestoreSecret(input) {
      const secret = find(input);
      delete secret.deletion;
      secret.lastChangedMs = now();
      return { ARN: secret.arn, Name: secret.name };
    },

    ListSecrets(input) {
      purge();
      const includeDeleted = input.IncludePlannedDeletion === true;
      const filters = Array.isArray(input.Filters) ? (input.Filters as Array<{ Key?: unknown; Values?: unknown }>) : [];
      const max = typeof input.MaxResults === 'number' ? input.MaxResults : 100;
      if (!Number.isInteger(max) || max < 1 || max > 100) {
        throw new AwsServiceError(
          'ValidationException',
          `1 validation error detected: Value '${String(input.MaxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100`,
        );
      }
      const ascending = input.SortOrder === 'asc';
      const matching = [...secrets.values()]
        .filter((s) => includeDeleted || !s.deletion)
        .filter((s) => filters.every((f) => matchesFilter(s, f)))
        .sort(
          (a, b) => (ascending ? a.createdMs - b.createdMs : b.createdMs - a.createdMs) || a.name.localeCompare(b.name),
        );
      const start = typeof input.NextToken === 'string' ? Number.parseInt(input.NextToken, 10) : 0;
      if (!Number.isInteger(start) || start < 0 || start > matching.length) {
        throw new AwsServiceError('InvalidNextTokenException', 'The NextToken value is not valid.');
      }
      const page = matching.slice(start, start + max);
      const next = start + page.length < matching.length ? String(start + page.length) : undefined;
      return {
        SecretList: page.map((s) => describe(s, 'SecretVersionsToStages')),
        ...(next ? { NextToken: next } : {}),
      };
    },
  };

  const service = awsJsonService({
    signingName: 'secretsmanager',
    targetPrefix: 'secretsmanager',
    version: '1.1',
    operations,
    throttlingCode: 'ThrottlingException',
  });

  return {
    ...service,
    secretNames: () => {
      purge();
      return [...secrets.keys()].sort();
    },
  };
}

/**
 * ListSecrets filters: `name`, `description`, `tag-key`, `tag-value` and `all` match a prefix
 * (case-sensitive); a value starting with `!` negates it.
 */
function matchesFilter(secret: Secret, filter: { Key?: unknown; Values?: unknown }): boolean {
  const values = Array.isArray(filter.Values) ? filter.Values.map(String) : [];
  const fields = (): string[] => {
    switch (filter.Key) {
      case 'name':
        return [secret.name];
      case 'description':
        return secret.description ? [secret.description] : [];
      case 'tag-key':
        return secret.tags.map((t) => t.Key);
      case 'tag-value':
        return secret.tags.map((t) => t.Value);
      case 'all':
        return [secret.name, secret.description ?? '', ...secret.tags.flatMap((t) => [t.Key, t.Value])];
      default:
        throw new AwsServiceError(
          'ValidationException',
          `1 validation error detected: Value '${String(filter.Key)}' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: [all, name, tag-key, description, owning-service, primary-region, tag-value]`,
        );
    }
  };
  const candidates = fields();
  return values.some((value) =>
    value.startsWith('!')
      ? !candidates.some((c) => c.startsWith(value.slice(1)))
      : candidates.some((c) => c.startsWith(value)),
  );
}

function requireField(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new AwsServiceError(
      'ValidationException',
      `1 validation error detected: Value at '${field[0]?.toLowerCase()}${field.slice(1)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

function optionalString(input: Record<string, unknown>, field: string): string | undefined {
  const value = input[field];
  return typeof value === 'string' ? value : undefined;
}
