/**
 * What every workflow handler shares: configuration from the environment, one Logger, the state
 * store, and the commit's resolved endpoints (loaded once per snapshot per container).
 */
import { InvalidInputError } from '../aws/errors.ts';
import { resolveEndpoints, validateRepository } from '../spec/index.ts';
import type { ResolvedEndpoint } from '../spec/resolve.ts';
import type { JsonStore } from '../state/json-store.ts';
import { type Snapshot, snapshotSource } from '../workflow/snapshot.ts';

export { nowIso, optionalSetting, resourcePrefix, setting, stateStore, useClock } from '../runtime/environment.ts';
// The Logger and the settings live in lambdas/runtime/ (a handler that needs no spec imports them
// from there and stays small); re-exported so that existing imports keep working.
export { logger } from '../runtime/powertools.ts';

const resolvedCache = new Map<string, ResolvedEndpoint[]>();

/**
 * The endpoints a commit deploys to an environment, from the commit's snapshot. Deterministic:
 * the same snapshot always resolves to the same endpoints and digests, so every step of an
 * execution (and every retry) works from identical input.
 */
export async function resolvedEndpoints(
  store: JsonStore,
  snapshotKey: string,
  environment: string,
): Promise<ResolvedEndpoint[]> {
  const cacheKey = `${store.bucket}/${snapshotKey}/${environment}`;
  const cached = resolvedCache.get(cacheKey);
  if (cached) return cached;
  const snapshot = await store.get<Snapshot>(snapshotKey);
  if (!snapshot) throw new InvalidInputError(`snapshot s3://${store.bucket}/${snapshotKey} does not exist`);
  const result = await validateRepository(snapshotSource(snapshot.value));
  if (!result.ok || !result.repository) {
    throw new InvalidInputError(`the snapshot at ${snapshotKey} does not validate; Validate should have stopped it`);
  }
  const endpoints = resolveEndpoints(result.repository, environment);
  if (resolvedCache.size > 20) resolvedCache.clear();
  resolvedCache.set(cacheKey, endpoints);
  return endpoints;
}

export async function resolvedEndpoint(
  store: JsonStore,
  snapshotKey: string,
  environment: string,
  name: string,
): Promise<ResolvedEndpoint> {
  const endpoint = (await resolvedEndpoints(store, snapshotKey, environment)).find((e) => e.name === name);
  if (!endpoint) throw new InvalidInputError(`endpoint ${name} is not declared for ${environment} in ${snapshotKey}`);
  return endpoint;
}
