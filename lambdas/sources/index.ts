/**
 * Push sources, as Resolve and the handlers use them. The deploy workflow's input for a push is
 * the raw EventBridge CodeCommit event (the EventBridge rule starts the execution),
 * `{ "source": "github", "push": <Push> }` (the GitHub webhook handler starts it) or a missed push
 * `{ "source": "ballast", "action": "push", "reason": "missed", "push": <Push> }` (the reconciler
 * starts it for a branch head no push event brought); {@link pushFromWorkflowInput} turns each
 * into a Push, and {@link repoSourceForPush} gives the files of the pushed commit.
 */
import { InvalidInputError } from '../aws/errors.ts';
import type { IncrementalRepoSource } from '../workflow/snapshot.ts';
import type { Push } from '../workflow/types.ts';
import {
  type CodeCommitLike,
  type CodeCommitSourceOptions,
  codeCommitSource,
  type Ignored,
  isCodeCommitEvent,
  pushFromCodeCommitEvent,
} from './codecommit.ts';
import { isObject } from './common.ts';
import { type GitHubApiOptions, type GitHubSourceOptions, gitHubSource } from './github.ts';
import { isMissedPushRequest, parseMissedPushRequest } from './missed-push.ts';
import { parsePush } from './push.ts';

export * from './codecommit.ts';
export { DEFAULT_MAX_READ_BYTES } from './common.ts';
export * from './deliveries.ts';
export * from './github.ts';
export { parsePush } from './push.ts';
export * from './secret-cache.ts';

/** The execution input the GitHub webhook handler starts the deploy workflow with. */
export interface GitHubWorkflowInput {
  readonly source: 'github';
  readonly push: Push;
}

/**
 * The Push an execution is about, from any of those inputs. Ignored CodeCommit events come back as
 * `{ ignored }`; anything else is InvalidInputError.
 */
export function pushFromWorkflowInput(input: unknown): Push | Ignored {
  if (isCodeCommitEvent(input)) return pushFromCodeCommitEvent(input);
  if (isMissedPushRequest(input)) return parseMissedPushRequest(input).push;
  if (isObject(input) && input.source === 'github') {
    const push = parsePush(input.push);
    if (push.source !== 'github') throw new InvalidInputError(`a GitHub workflow input carries a ${push.source} push`);
    return push;
  }
  throw new InvalidInputError(
    'the workflow input is none of a CodeCommit "Repository State Change" event, { "source": "github", "push": … }, or a Ballast request ({ "source": "ballast", "action": "retry" | "heal" | "push", … })',
  );
}

/**
 * The deploy execution's name for a webhook delivery. Step Functions keeps a name unique for 90
 * days: a repeated StartExecution with the same name and input returns the first execution while
 * it runs, and ExecutionAlreadyExists once it has closed (which the webhook counts as a
 * duplicate), so a redelivered webhook can never start a second one. Names allow 80 characters of
 * `[A-Za-z0-9_-]`; a GitHub delivery GUID is 36.
 */
export function executionNameForDelivery(source: 'github', deliveryId: string): string {
  const name = `${source}-${deliveryId}`;
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new InvalidInputError(`'${deliveryId}' cannot name an execution`);
  return name;
}

export interface RepoSourceDeps {
  /** For CodeCommit pushes: usually `clients.codecommit()`. */
  readonly codecommit?: CodeCommitLike;
  /** For GitHub pushes: the API URL and a token (from Secrets Manager), plus test injections. */
  readonly github?: GitHubApiOptions;
  readonly codecommitOptions?: CodeCommitSourceOptions;
  readonly githubOptions?: Pick<GitHubSourceOptions, 'maxReadBytes' | 'maxEntries' | 'maxTreeRequests'>;
}

/**
 * The files of the pushed commit, from wherever the push came from, and what changed in them since
 * another commit (`changesSince`, for a snapshot that costs what the push changed).
 */
export function repoSourceForPush(push: Push, deps: RepoSourceDeps): IncrementalRepoSource {
  if (push.source === 'codecommit') {
    if (!deps.codecommit) throw new Error('repoSourceForPush: a CodeCommit push needs a CodeCommit client');
    return codeCommitSource(deps.codecommit, push.repository, push.commit, deps.codecommitOptions);
  }
  if (!deps.github) throw new Error('repoSourceForPush: a GitHub push needs GitHub API settings');
  return gitHubSource({ ...deps.github, ...deps.githubOptions, repository: push.repository, commit: push.commit });
}
