import { parse } from 'yaml';
import { z } from 'zod';
import { codecommit } from '../aws/codecommit.ts';
import { InvalidInputError } from '../aws/errors.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { answer, gitHubTokens } from '../sources/answer.ts';
import { type HealRequest, isHealRequest, parseHealRequest } from '../sources/heal.ts';
import { pushFromWorkflowInput, repoSourceForPush } from '../sources/index.ts';
import { isRetryRequest, parseRetryRequest, type RetryRequest } from '../sources/retry.ts';
import { type DesiredRef, type EndpointState, isNewer } from '../state/endpoint-state.ts';
import type { JsonStore } from '../state/json-store.ts';
import { keys } from '../state/keys.ts';
import type { EnvironmentSeen } from '../workflow/plan.ts';
import {
  captureSnapshot,
  captureSnapshotSince,
  type IncrementalRepoSource,
  type Snapshot,
} from '../workflow/snapshot.ts';
import type { Push, Resolved, Retry } from '../workflow/types.ts';
import { answerSettings, logger, optionalSetting, setting, stateStore } from './runtime.ts';

const resolveInput = z.object({
  /**
   * The execution input: a CodeCommit EventBridge event, `{ source: 'github', push }` from the
   * webhook, `{ source: 'ballast', action: 'retry', ... }` from `ballast retry`, or the reconciler's
   * `{ source: 'ballast', action: 'heal', ... }` and `{ source: 'ballast', action: 'push', reason:
   * 'missed', push }`. Each source's parser checks its own shape (pushFromWorkflowInput,
   * parseRetryRequest, parseHealRequest).
   */
  event: z.unknown(),
  execution: z.string().min(1),
});

/**
 * Resolve: which commit, which environment, and a snapshot of the commit's Ballast files; GitHub
 * gets a `pending` status for the environment at once. Idempotent: the snapshot key is the commit
 * id and written once, and a status is an upsert.
 */
export async function resolve(input: z.output<typeof resolveInput>): Promise<Resolved> {
  const store = stateStore();
  if (isRetryRequest(input.event)) return resolveRetry(store, parseRetryRequest(input.event));
  if (isHealRequest(input.event)) return resolveHeal(store, parseHealRequest(input.event));
  const push = pushFromWorkflowInput(input.event);
  if ('ignored' in push) {
    logger.info('push ignored', { reason: push.ignored });
    return { push: placeholderPush(input.event), ignored: push.ignored, retry: null };
  }
  const snapshotKey = keys.snapshot(push.commit);
  const snapshot = await snapshotOf(store, push);
  const environment = environmentFor(snapshot, push.branch);
  if (environment.ignored || !environment.name) {
    const ignored = environment.ignored ?? `branch ${push.branch} feeds no environment`;
    logger.info('push ignored', { reason: ignored, commit: push.commit });
    await retireEnvironments(store, push, ignored);
    return { push, ignored, retry: null };
  }
  await answer(
    {
      push,
      environment: environment.name,
      state: 'pending',
      summary: `deploying ${push.commit.slice(0, 12)} to ${environment.name}`,
      idempotencyKey: `${input.execution}-pending`,
    },
    answerSettings(),
  );
  logger.info('push resolved', { commit: push.commit, branch: push.branch, environment: environment.name });
  return { push, snapshotKey, environment: environment.name, retry: null };
}

/**
 * `ballast retry`: deploy the endpoint's desired commit again, as the push that asked for it.
 * The state says which push that was; the commit's snapshot is already in the store.
 */
async function resolveRetry(store: JsonStore, request: RetryRequest): Promise<Resolved & { retry: Retry }> {
  const desired = await desiredOf(store, request, 'retry');
  const resolved = await redeploy(store, request, desired, {
    endpoint: request.endpoint,
    requestedBy: request.requestedBy,
    requestedAt: request.requestedAt,
    ...(request.reason ? { reason: request.reason } : {}),
  });
  logger.info('retry resolved', { endpoint: request.endpoint, commit: desired.commit, by: request.requestedBy });
  return resolved;
}

/**
 * A heal from the reconciler: like a retry, the endpoint's desired commit, but only while that is
 * still the content the reconciler compared with. A push that moved the endpoint on since brings
 * its own rollout (or has already), so the heal is answered as ignored: the execution ends with
 * the reason in its output (the `Ignored` state), and deploys nothing stale.
 */
async function resolveHeal(store: JsonStore, request: HealRequest): Promise<Resolved & { retry: Retry }> {
  const desired = await desiredOf(store, request, 'heal');
  const retry: Retry = {
    endpoint: request.endpoint,
    requestedBy: request.requestedBy,
    requestedAt: request.requestedAt,
    reason: request.reason,
    kind: 'heal',
    paths: request.paths,
  };
  if (desired.digest !== request.digest) {
    const ignored = `the heal is for content ${request.digest.slice(0, 12)}, but ${request.environment}/${request.endpoint} now wants ${desired.digest.slice(0, 12)} (commit ${desired.commit.slice(0, 12)}): a push moved it on since the reconciler looked, so nothing stale is deployed`;
    logger.info('heal ignored', { endpoint: request.endpoint, reason: ignored });
    return { push: pushOfDesired(request, desired, 'heal'), ignored, retry };
  }
  const resolved = await redeploy(store, request, desired, retry);
  logger.info('heal resolved', { endpoint: request.endpoint, commit: desired.commit, paths: request.paths });
  return resolved;
}

/** The endpoint's desired commit, which a retry or a heal deploys again. */
async function desiredOf(
  store: JsonStore,
  request: Pick<RetryRequest, 'environment' | 'endpoint'>,
  what: 'retry' | 'heal',
): Promise<DesiredRef> {
  const state = (await store.get<EndpointState>(keys.state(request.environment, request.endpoint)))?.value;
  if (!state?.desired) {
    throw new InvalidInputError(
      `${request.environment}/${request.endpoint} has no desired commit to ${what}; push one`,
    );
  }
  return state.desired;
}

/** The push that asked for the desired commit, as the state remembers it. */
function pushOfDesired(
  request: Pick<RetryRequest, 'environment' | 'endpoint' | 'requestedAt'>,
  desired: DesiredRef,
  what: 'retry' | 'heal',
): Push {
  if (!desired.source || !desired.repository || !desired.branch || !desired.pushedBy) {
    throw new InvalidInputError(
      `${request.environment}/${request.endpoint}: the state does not say which push asked for ${desired.commit.slice(0, 12)} (written by an older Ballast); push again`,
    );
  }
  return {
    source: desired.source,
    repository: desired.repository,
    branch: desired.branch,
    commit: desired.commit,
    ...(desired.previousCommit ? { previousCommit: desired.previousCommit } : {}),
    pushedBy: desired.pushedBy,
    pushedAt: desired.pushedAt,
    deliveryId: `${what}-${request.requestedAt}`,
  };
}

/** What a retry or a heal resolves to: the desired push, its environment and the snapshot already stored. */
async function redeploy(
  store: JsonStore,
  request: Pick<RetryRequest, 'environment' | 'endpoint' | 'requestedAt'>,
  desired: DesiredRef,
  retry: Retry,
): Promise<Resolved & { retry: Retry }> {
  const push = pushOfDesired(request, desired, retry.kind ?? 'retry');
  const snapshotKey = keys.snapshot(desired.commit);
  if (!(await store.get<Snapshot>(snapshotKey))) {
    throw new InvalidInputError(`the snapshot of ${desired.commit} is gone (s3://${store.bucket}/${snapshotKey})`);
  }
  return { push, environment: request.environment, snapshotKey, retry };
}

/**
 * The commit's snapshot, written once under keys.snapshot(commit). With a previous commit it is
 * built from that commit's snapshot (which the previous push's Resolve wrote) and the changes
 * between the two, so a push reads what it changed, not the whole repository; captureSnapshotSince
 * reads in full when there is no usable base. The capture is deterministic (a commit never
 * changes), so it is not looked up first: a retry captures again and putIfAbsent keeps the first
 * copy. Without a previous commit (a new branch) the commit may well have been captured already
 * (the same commit pushed to another branch), so the store is asked first.
 */
async function snapshotOf(store: JsonStore, push: Push): Promise<Snapshot> {
  const key = keys.snapshot(push.commit);
  let snapshot: Snapshot;
  if (push.previousCommit && push.previousCommit !== push.commit) {
    const previous = (await store.get<Snapshot>(keys.snapshot(push.previousCommit)))?.value;
    const capture = await captureSnapshotSince(await sourceFor(push), push.commit, {
      commit: push.previousCommit,
      snapshot: previous,
    });
    if (capture.fullRead) logger.info('snapshot read in full', { commit: push.commit, reason: capture.fullRead });
    snapshot = capture.snapshot;
  } else {
    const stored = (await store.get<Snapshot>(key))?.value;
    if (stored) return stored;
    snapshot = await captureSnapshot(await sourceFor(push), push.commit);
  }
  await store.putIfAbsent(key, snapshot);
  return snapshot;
}

async function sourceFor(push: Push): Promise<IncrementalRepoSource> {
  if (push.source === 'codecommit') return repoSourceForPush(push, { codecommit: codecommit() });
  const token = await gitHubTokens.get(setting('BALLAST_GITHUB_TOKEN_SECRET_NAME'));
  return repoSourceForPush(push, {
    github: { apiUrl: optionalSetting('BALLAST_GITHUB_API_URL') ?? 'https://api.github.com', token: token.value },
  });
}

/**
 * A push to a branch that fed an environment and no longer does (ballast.yaml dropped it, or moved
 * it to another account or region): the environment's newest seen push says so (`retired`), so the
 * reconciler stops watching the branch and treats its endpoints as no longer declared (reported, or
 * pruned with prune: true) instead of healing them forever. Newest push wins, as in Validate; a
 * later push that declares the environment again is seen without `retired`. Rare (only ignored
 * pushes), so the few environments' seen pushes are simply listed and read.
 */
async function retireEnvironments(store: JsonStore, push: Push, reason: string): Promise<void> {
  const names = [
    ...new Set((await store.list(keys.environmentsPrefix, { limit: 1000 })).map((k) => k.split('/')[1] ?? '')),
  ];
  for (const environment of names.filter((n) => n.length > 0)) {
    const seen = await store.get<EnvironmentSeen>(keys.seen(environment));
    if (!seen || seen.value.repository !== push.repository || seen.value.branch !== push.branch) continue;
    const retired: EnvironmentSeen = {
      ...seen.value,
      commit: push.commit,
      pushedAt: push.pushedAt,
      ...(push.previousCommit ? { previousCommit: push.previousCommit } : {}),
      retired: reason,
    };
    await store.update<EnvironmentSeen>(
      keys.seen(environment),
      (current) => (!current || (current.commit !== push.commit && isNewer(push, current)) ? retired : undefined),
      8,
      seen,
    );
    logger.info('environment retired', { environment, reason });
  }
}

/**
 * The environment a branch feeds, read from ballast.yaml at the commit. A commit whose
 * ballast.yaml cannot be read still goes on to Validate (which reports why), recorded under the
 * branch's name, so a broken push to a watched branch is never silently dropped.
 */
export function environmentFor(snapshot: Snapshot, branch: string): { name?: string; ignored?: string } {
  const text = snapshot.files['ballast.yaml'];
  let environments: unknown;
  try {
    environments = (parse(text ?? '', { maxAliasCount: 100 }) as { spec?: { environments?: unknown } } | null)?.spec
      ?.environments;
  } catch {
    return { name: `branch-${branch.replace(/[^A-Za-z0-9-]/g, '-')}` };
  }
  if (!Array.isArray(environments)) return { name: `branch-${branch.replace(/[^A-Za-z0-9-]/g, '-')}` };
  const match = environments.find(
    (e) => typeof e === 'object' && e !== null && (e as { branch?: unknown }).branch === branch,
  ) as { name?: unknown; account?: unknown; region?: unknown } | undefined;
  if (!match || typeof match.name !== 'string')
    return { ignored: `branch ${branch} feeds no environment in ballast.yaml` };
  const account = optionalSetting('BALLAST_ACCOUNT_ID');
  const region = optionalSetting('BALLAST_REGION');
  if ((account && match.account !== account) || (region && match.region !== region)) {
    return {
      ignored: `environment ${match.name} deploys to ${String(match.account)}/${String(match.region)}, not to this stack's ${account ?? '*'}/${region ?? '*'}`,
    };
  }
  return { name: match.name };
}

function placeholderPush(event: unknown): Push {
  const e = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
  return {
    source: 'codecommit',
    repository: String((e.detail as Record<string, unknown> | undefined)?.repositoryName ?? 'unknown'),
    branch: String((e.detail as Record<string, unknown> | undefined)?.referenceName ?? 'unknown'),
    commit: String((e.detail as Record<string, unknown> | undefined)?.commitId ?? 'unknown'),
    pushedBy: 'unknown',
    pushedAt: typeof e.time === 'string' ? e.time : new Date(0).toISOString(),
    deliveryId: typeof e.id === 'string' ? e.id : 'unknown',
  };
}

export const handler = lambdaHandler(resolveInput, resolve, { keys: (input) => ({ execution: input.execution }) });
