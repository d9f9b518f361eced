/**
 * What the workflow handlers share beyond the runtime (lambdas/runtime/): the release documents
 * Validate writes for the per-endpoint steps.
 */
import { InvalidInputError, LeaseLostError } from '../aws/errors.ts';
import { optionalSetting } from '../runtime/environment.ts';
import { type EndpointState, holdsLease } from '../state/endpoint-state.ts';
import type { JsonStore } from '../state/json-store.ts';
import { keys } from '../state/keys.ts';
import type { EndpointWork, Release } from '../workflow/types.ts';

export { nowIso, optionalSetting, resourcePrefix, setting, stateStore, useClock } from '../runtime/environment.ts';
// The Logger and the settings live in lambdas/runtime/ (a handler that needs no spec imports them
// from there and stays small); re-exported so that existing imports keep working.
export { logger } from '../runtime/powertools.ts';

/**
 * The release Validate wrote for this endpoint and execution: what the per-endpoint steps deploy.
 * Lease hands it on in its output when it is small ({@link carriedRelease}); otherwise it is read.
 */
export async function readRelease(
  store: JsonStore,
  work: {
    readonly push: { readonly commit: string };
    readonly environment: string;
    readonly execution: string;
    readonly endpoint: string;
    readonly lease?: { readonly release?: Release | undefined } | undefined;
  },
): Promise<Release> {
  if (work.lease?.release) return work.lease.release;
  const key = keys.release(work.push.commit, work.environment, work.execution, work.endpoint);
  const release = await store.get<Release>(key);
  if (!release) throw new InvalidInputError(`s3://${store.bucket}/${key} does not exist; Validate writes it`);
  return release.value;
}

/** Releases up to this size travel in Lease's output; larger ones (big Configs) are read from S3. */
const CARRIED_RELEASE_BYTES = 32 * 1024;

/** The release to carry in Lease's output, if it is small enough not to crowd the payload. */
export function carriedRelease(release: Release): { release?: Release } {
  return JSON.stringify(release).length <= CARRIED_RELEASE_BYTES ? { release } : {};
}

/** Where a commit's answer goes on GitHub (unset for CodeCommit sources): read per call, like every setting. */
export function answerSettings(): { githubApiUrl?: string; githubTokenSecretName?: string } {
  const githubApiUrl = optionalSetting('BALLAST_GITHUB_API_URL');
  const githubTokenSecretName = optionalSetting('BALLAST_GITHUB_TOKEN_SECRET_NAME');
  return { ...(githubApiUrl ? { githubApiUrl } : {}), ...(githubTokenSecretName ? { githubTokenSecretName } : {}) };
}

/** Steps that act for the endpoint first check that this execution still holds its lease. */
export async function assertLease(store: JsonStore, work: EndpointWork): Promise<void> {
  const state = await store.get<EndpointState>(keys.state(work.environment, work.endpoint));
  if (!holdsLease(state?.value, work.execution)) {
    throw new LeaseLostError(
      `a newer push (${state?.value.lease?.commit.slice(0, 12) ?? 'none'}) took ${work.endpoint}; ${work.push.commit.slice(0, 12)} stops here`,
    );
  }
}
