/**
 * Telling Git what happened to a push: a comment on the commit (CodeCommit) or a commit status
 * (GitHub). Every push gets an answer, so both Record (per endpoint) and RecordPush (per push)
 * come here. Permanent failures are logged and swallowed (a comment must not undo a deployment);
 * transient ones are thrown so Step Functions retries the step, everything before it being
 * idempotent (the CodeCommit comment carries a client request token, a status is a plain upsert).
 */
import { codecommit } from '../aws/codecommit.ts';
import { isTransient } from '../aws/errors.ts';
import { secretsManager } from '../aws/secrets-manager.ts';
import { logger } from '../handlers/runtime.ts';
import type { Outcome, PlanIssue, Push } from '../workflow/types.ts';
import { postCodeCommitComment } from './codecommit.ts';
import { setGitHubCommitStatus } from './github.ts';
import { createSecretCache } from './secret-cache.ts';

export interface Answer {
  readonly push: Push;
  readonly environment: string;
  /** The endpoint, or undefined for the push as a whole (GitHub context `ballast/<env>`). */
  readonly endpoint?: string;
  readonly state: 'pending' | Outcome;
  readonly summary: string;
  readonly details?: readonly string[];
  readonly issues?: readonly PlanIssue[];
  /** Makes the CodeCommit comment idempotent across retries of the same step. */
  readonly idempotencyKey: string;
}

export interface AnswerSettings {
  readonly githubApiUrl?: string;
  readonly githubTokenSecretName?: string;
}

/** The GitHub commit status state for an outcome; branch protection reads it. */
export function gitHubState(state: Answer['state']): 'pending' | 'success' | 'failure' | 'error' {
  switch (state) {
    case 'pending':
      return 'pending';
    case 'deployed':
    case 'unchanged':
      return 'success';
    case 'superseded':
    case 'deferred':
      return 'error';
    default:
      return 'failure';
  }
}

export function gitHubContext(environment: string, endpoint?: string): string {
  return endpoint ? `ballast/${environment}/${endpoint}` : `ballast/${environment}`;
}

/**
 * The GitHub token, read once per container and refreshed after a few minutes (rotation): the one
 * cache for every use in a container (Resolve reads commits with it too).
 */
export const gitHubTokens = createSecretCache(() => secretsManager());

export async function answer(message: Answer, settings: AnswerSettings): Promise<void> {
  const { push } = message;
  const subject = message.endpoint ?? 'repository';
  try {
    if (push.source === 'codecommit') {
      if (message.state === 'pending') return; // CodeCommit has no statuses; the final comment answers.
      const lines = [
        `Ballast ${message.environment}/${subject}: ${message.state} — ${message.summary}`,
        ...(message.details ?? []).map((d) => `- ${d}`),
        ...(message.issues ?? []).map((i) => `- ${i.file}:${i.line}:${i.column}: ${i.message}`),
      ];
      await postCodeCommitComment(codecommit(), {
        repositoryName: push.repository,
        commitId: push.commit,
        ...(push.previousCommit ? { beforeCommitId: push.previousCommit } : {}),
        content: lines.join('\n'),
        execution: message.idempotencyKey,
        outcome: message.state,
      });
      return;
    }
    if (!settings.githubTokenSecretName) return;
    const token = await gitHubTokens.get(settings.githubTokenSecretName);
    const first = message.issues?.[0];
    await setGitHubCommitStatus({
      apiUrl: settings.githubApiUrl ?? 'https://api.github.com',
      repository: push.repository,
      token: token.value,
      commit: push.commit,
      state: gitHubState(message.state),
      context: gitHubContext(message.environment, message.endpoint),
      description: `${message.state}: ${first ? `${first.file}:${first.line}: ${first.message}` : message.summary}`,
    });
  } catch (error) {
    if (isTransient(error)) throw error;
    logger.warn('could not answer the commit', { error });
  }
}
