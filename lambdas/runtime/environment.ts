/**
 * What every handler reads from its environment, and its clock: small on purpose (no spec, no
 * YAML, one SDK client), so a handler that only sequences bundles only what it calls.
 */
import { InvalidInputError } from '../aws/errors.ts';
import { s3 } from '../aws/s3.ts';
import { JsonStore } from '../state/json-store.ts';

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
  return new JsonStore(s3(), setting('BALLAST_STATE_BUCKET'));
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
