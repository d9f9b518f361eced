/**
 * What every workflow handler shares: configuration from the environment, one Logger, the state
 * store, and the commit's resolved endpoints (loaded once per snapshot per container).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { clients } from '../aws/clients.ts';
import { InvalidInputError } from '../aws/errors.ts';
import { resolveEndpoints, validateRepository } from '../spec/index.ts';
import type { ResolvedEndpoint } from '../spec/resolve.ts';
import { JsonStore } from '../state/json-store.ts';
import { type Snapshot, snapshotSource } from '../workflow/snapshot.ts';

export const logger = new Logger({ serviceName: 'ballast' });

/** Reads a required BALLAST_* setting (read per call, so tests and the local runner can set them). */
export function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new InvalidInputError(`the ${name} environment variable is not set`);
  return value;
}

export function optionalSetting(name: string): string | undefined {
  return process.env[name] || undefined;
}

export function stateStore(): JsonStore {
  return new JsonStore(clients.s3(), setting('BALLAST_STATE_BUCKET'));
}

export function resourcePrefix(): string {
  return optionalSetting('BALLAST_RESOURCE_PREFIX') ?? 'ballast';
}

let clock: () => Date = () => new Date();

/**
 * The handlers' notion of "now" (ledger times, rollout elapsed time). Injectable, like the SDK
 * clients' endpoints: the local runner hands in the sandbox's simulated clock so that durations
 * in the ledger match the simulated AWS timeline; on Lambda it is the system clock.
 */
export function useClock(now: () => Date): void {
  clock = now;
}

export function nowIso(): string {
  return clock().toISOString();
}

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
