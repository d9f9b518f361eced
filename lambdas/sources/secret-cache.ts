/**
 * Secrets Manager values cached in module scope for a short time: a webhook Lambda must not call
 * GetSecretValue on every delivery, yet a rotated secret has to take effect within minutes.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { classify, InvalidInputError } from '../aws/errors.ts';

export type SecretsLike = Pick<SecretsManagerClient, 'send'>;

export interface SecretCacheOptions {
  /** How long a value is reused. Default 5 minutes. */
  readonly ttlMs?: number;
  /** Injected for tests; default Date.now. */
  readonly now?: () => number;
}

export interface CachedSecret {
  readonly value: string;
  /** When it was fetched (epoch ms, by `now`). */
  readonly fetchedAt: number;
}

export interface SecretCache {
  /**
   * The secret's current value (SecretString, or SecretBinary as UTF-8). `maxAgeMs` asks for a value
   * at most that old, e.g. 0 to refetch after a signature failed right after a rotation.
   */
  get(secretId: string, options?: { maxAgeMs?: number }): Promise<CachedSecret>;
  clear(): void;
}

/**
 * `client` is a function so the cache follows `resetClients()` (tests point the environment at a
 * new endpoint and reset the shared clients; a captured client would keep the old one).
 */
export function createSecretCache(client: () => SecretsLike, options: SecretCacheOptions = {}): SecretCache {
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  // Looked up on every call, not captured, so a mocked Date applies.
  const now = options.now ?? (() => Date.now());
  const cache = new Map<string, CachedSecret>();
  return {
    async get(secretId, { maxAgeMs } = {}) {
      const cached = cache.get(secretId);
      const limit = Math.min(ttlMs, maxAgeMs ?? ttlMs);
      if (cached && now() - cached.fetchedAt < limit) return cached;
      const response = await client()
        .send(new GetSecretValueCommand({ SecretId: secretId }))
        .catch((error: unknown) => classify(error, `reading secret ${secretId}`));
      const value =
        response.SecretString ?? (response.SecretBinary ? new TextDecoder().decode(response.SecretBinary) : undefined);
      if (!value) throw new InvalidInputError(`secret ${secretId} has no value`);
      const fresh = { value, fetchedAt: now() };
      cache.set(secretId, fresh);
      return fresh;
    },
    clear() {
      cache.clear();
    },
  };
}
