/**
 * What every workflow handler shares: configuration from the environment, one Logger, the state
 * store, the clock, and the release documents Validate writes for the per-endpoint steps.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { clients } from '../aws/clients.ts';
import { InvalidInputError } from '../aws/errors.ts';
import { JsonStore } from '../state/json-store.ts';
import { keys } from '../state/keys.ts';
import type { Release } from '../workflow/types.ts';

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

/** The release Validate wrote for this endpoint and commit: what the per-endpoint steps deploy. */
export async function readRelease(
  store: JsonStore,
  work: {
    readonly push: { readonly commit: string };
    readonly environment: string;
    readonly execution: string;
    readonly endpoint: string;
  },
): Promise<Release> {
  const key = keys.release(work.push.commit, work.environment, work.execution, work.endpoint);
  const release = await store.get<Release>(key);
  if (!release) throw new InvalidInputError(`s3://${store.bucket}/${key} does not exist; Validate writes it`);
  return release.value;
}
