import { parse } from 'yaml';
import { clients } from '../aws/clients.ts';
import { createSecretCache, pushFromWorkflowInput, repoSourceForPush } from '../sources/index.ts';
import type { RepoSource } from '../spec/source.ts';
import { keys } from '../state/keys.ts';
import { captureSnapshot, type Snapshot } from '../workflow/snapshot.ts';
import type { Push, Resolved } from '../workflow/types.ts';
import { logger, optionalSetting, setting, stateStore } from './runtime.ts';

interface ResolveInput {
  /** The execution input: a CodeCommit EventBridge event, or `{ source: 'github', push }` from the webhook. */
  readonly event: unknown;
  readonly execution: string;
}

/**
 * Resolve: which commit, which environment, and a snapshot of the commit's Ballast files.
 * Idempotent: the snapshot key is the commit id and written once.
 */
export async function handler(input: ResolveInput): Promise<Resolved> {
  const push = pushFromWorkflowInput(input.event);
  if ('ignored' in push) {
    logger.info('push ignored', { reason: push.ignored });
    return { push: placeholderPush(input.event), ignored: push.ignored };
  }
  const store = stateStore();
  const snapshotKey = keys.snapshot(push.commit);
  let snapshot = (await store.get<Snapshot>(snapshotKey))?.value;
  if (!snapshot) {
    snapshot = await captureSnapshot(await sourceFor(push), push.commit);
    await store.putIfAbsent(snapshotKey, snapshot);
  }
  const environment = environmentFor(snapshot, push.branch);
  if (environment.ignored) {
    logger.info('push ignored', { reason: environment.ignored, commit: push.commit });
    return { push, ignored: environment.ignored };
  }
  logger.info('push resolved', { commit: push.commit, branch: push.branch, environment: environment.name });
  return { push, snapshotKey, ...(environment.name ? { environment: environment.name } : {}) };
}

// The GitHub token is read once per container and refreshed after a few minutes (rotation).
const secrets = createSecretCache(() => clients.secrets());

async function sourceFor(push: Push): Promise<RepoSource> {
  if (push.source === 'codecommit') return repoSourceForPush(push, { codecommit: clients.codecommit() });
  const token = await secrets.get(setting('BALLAST_GITHUB_TOKEN_SECRET_NAME'));
  return repoSourceForPush(push, {
    github: { apiUrl: optionalSetting('BALLAST_GITHUB_API_URL') ?? 'https://api.github.com', token: token.value },
  });
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
