/**
 * The rollback write-back's CodeCommit calls (write-back.ts decides what to call).
 *
 * API: CodeCommit API Reference, GetBranch / GetFile / GetCommit / CreateCommit (`parentCommitId`
 * must be the branch's tip, else ParentCommitIdOutdatedException) / CreateBranch /
 * CreatePullRequest (a `clientRequestToken` makes it idempotent) / ListPullRequests / GetPullRequest.
 * Every call goes through the client it is given (`codecommit()`: timeouts and the SDK's adaptive
 * retries, lambdas/aws/client-config.ts); what outlasts those retries is TransientError.
 *
 * IAM: codecommit:GetBranch, GetFile, GetCommit, CreateCommit; for pull requests also CreateBranch,
 * CreatePullRequest, ListPullRequests and GetPullRequest.
 */
import { createHash } from 'node:crypto';
import {
  CreateBranchCommand,
  CreateCommitCommand,
  CreatePullRequestCommand,
  GetBranchCommand,
  GetCommitCommand,
  GetFileCommand,
  GetPullRequestCommand,
  ListPullRequestsCommand,
} from '@aws-sdk/client-codecommit';
import { InvalidInputError } from '../aws/errors.ts';
import { type CodeCommitLike, codeCommitCallFailed, errorName } from './codecommit.ts';
import { mapWithConcurrency, truncate } from './common.ts';
import type { BranchFile, WriteBackHost } from './write-back.ts';

/** "File size: Maximum of 6 MB for any individual file when using the CodeCommit console, APIs, or the AWS CLI." */
export const CODECOMMIT_MAX_FILE_BYTES = 6 * 1024 * 1024;
/** FileContentSizeLimitExceededException: "the combined file content change size is 7 MB". */
export const CODECOMMIT_MAX_COMBINED_BYTES = 7 * 1024 * 1024;
/**
 * CreatePullRequest's title: InvalidTitleException says "cannot exceed 100 characters", the
 * request's length constraint 150; the smaller one holds either way.
 */
export const CODECOMMIT_MAX_PULL_REQUEST_TITLE_CHARS = 100;
/** CreatePullRequest's description: "Maximum length of 10240". */
export const CODECOMMIT_MAX_PULL_REQUEST_DESCRIPTION_CHARS = 10_240;
/** How many pull requests (newest first) a search for one whose token was used differently looks at. */
const MAX_PULL_REQUESTS_SEARCHED = 200;
/** GetFile calls in flight at once (CodeCommit throttles per account). */
const READ_CONCURRENCY = 4;

/**
 * The clientRequestToken of a rollback's pull request: a digest of what identifies it, so every
 * retry sends the same one and two repositories' write-backs by one execution never share one.
 */
export function pullRequestToken(repositoryName: string, source: string, destination: string, key: string): string {
  return createHash('sha256').update([repositoryName, source, destination, key].join('\0')).digest('hex');
}

export function codeCommitWriteBackHost(client: CodeCommitLike, repositoryName: string): WriteBackHost {
  const where = `CodeCommit repository ${repositoryName}`;
  const failed = (error: unknown, what: string): never => {
    if (errorName(error) === 'BranchDoesNotExistException') {
      throw new InvalidInputError(`${where}: ${what}: the branch does not exist`);
    }
    return codeCommitCallFailed(where, error, what);
  };

  async function head(branch: string): Promise<string | undefined> {
    try {
      const response = await client.send(new GetBranchCommand({ repositoryName, branchName: branch }));
      return response.branch?.commitId?.toLowerCase();
    } catch (error) {
      if (errorName(error) === 'BranchDoesNotExistException') return undefined;
      return failed(error, `GetBranch ${branch}`);
    }
  }

  async function file(commit: string, path: string): Promise<BranchFile> {
    try {
      const response = await client.send(
        new GetFileCommand({ repositoryName, commitSpecifier: commit, filePath: path }),
      );
      if (response.fileMode === 'SYMLINK') return { unreadable: 'a symlink' };
      return response.fileContent ?? new Uint8Array();
    } catch (error) {
      const name = errorName(error);
      if (name === 'FileDoesNotExistException') return null;
      if (name === 'FileTooLargeException') return { unreadable: "larger than CodeCommit's 6 MB API limit" };
      return failed(error, `GetFile ${path} at ${commit.slice(0, 12)}`);
    }
  }

  /** A pull request of ours whose token was first used with other parameters: found by its branches. */
  async function findPullRequest(source: string, destination: string): Promise<{ id: string } | undefined> {
    let nextToken: string | undefined;
    let searched = 0;
    do {
      const page = await client
        .send(new ListPullRequestsCommand({ repositoryName, ...(nextToken ? { nextToken } : {}) }))
        .catch((error: unknown) => failed(error, 'ListPullRequests'));
      for (const id of page.pullRequestIds ?? []) {
        if (++searched > MAX_PULL_REQUESTS_SEARCHED) return undefined;
        const { pullRequest } = await client
          .send(new GetPullRequestCommand({ pullRequestId: id }))
          .catch((error: unknown) => failed(error, `GetPullRequest ${id}`));
        const matches = (pullRequest?.pullRequestTargets ?? []).some(
          (t) =>
            t.repositoryName === repositoryName &&
            t.sourceReference?.replace(/^refs\/heads\//, '') === source &&
            t.destinationReference?.replace(/^refs\/heads\//, '') === destination,
        );
        if (matches) return { id };
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return undefined;
  }

  return {
    where,
    limits: { maxFileBytes: CODECOMMIT_MAX_FILE_BYTES, maxCombinedBytes: CODECOMMIT_MAX_COMBINED_BYTES },
    head,

    async files(commit, paths) {
      const files = await mapWithConcurrency(paths, READ_CONCURRENCY, (path) => file(commit, path));
      return new Map(paths.map((path, i) => [path, files[i] ?? null]));
    },

    async commit({ branch, parent, changes, message, author }) {
      try {
        const response = await client.send(
          new CreateCommitCommand({
            repositoryName,
            branchName: branch,
            parentCommitId: parent,
            commitMessage: message,
            ...(author ? { authorName: author.name, email: author.email } : {}),
            putFiles: changes.put.map((put) => ({ filePath: put.path, fileContent: Buffer.from(put.content, 'utf8') })),
            deleteFiles: changes.delete.map((path) => ({ filePath: path })),
          }),
        );
        if (!response.commitId)
          throw new InvalidInputError(`${where}: CreateCommit on ${branch} returned no commit id`);
        return { commit: response.commitId.toLowerCase() };
      } catch (error) {
        if (errorName(error) === 'ParentCommitIdOutdatedException') return 'moved';
        if (errorName(error) === 'FileContentSizeLimitExceededException') {
          throw new InvalidInputError(`${where}: CreateCommit on ${branch}: ${(error as Error).message}`);
        }
        const paths = [...changes.put.map((p) => p.path), ...changes.delete].join(', ');
        return failed(error, `CreateCommit on ${branch} (${paths})`);
      }
    },

    async commitDetails(commit) {
      const response = await client
        .send(new GetCommitCommand({ repositoryName, commitId: commit }))
        .catch((error: unknown) => failed(error, `GetCommit ${commit.slice(0, 12)}`));
      return {
        parents: (response.commit?.parents ?? []).map((p) => p.toLowerCase()),
        message: response.commit?.message ?? '',
      };
    },

    async createBranch(branch, at) {
      try {
        await client.send(new CreateBranchCommand({ repositoryName, branchName: branch, commitId: at }));
        return 'created';
      } catch (error) {
        if (errorName(error) === 'BranchNameExistsException') return 'exists';
        return failed(error, `CreateBranch ${branch} at ${at.slice(0, 12)}`);
      }
    },

    async pullRequest({ source, destination, title, body, idempotencyKey }) {
      const what = `CreatePullRequest ${source} -> ${destination}`;
      const description = truncate(body.trim(), CODECOMMIT_MAX_PULL_REQUEST_DESCRIPTION_CHARS, '\n\n… (truncated)');
      try {
        const response = await client.send(
          new CreatePullRequestCommand({
            title: truncate(title, CODECOMMIT_MAX_PULL_REQUEST_TITLE_CHARS),
            ...(description ? { description } : {}),
            targets: [{ repositoryName, sourceReference: source, destinationReference: destination }],
            clientRequestToken: pullRequestToken(repositoryName, source, destination, idempotencyKey),
          }),
        );
        const id = response.pullRequest?.pullRequestId;
        if (!id) throw new InvalidInputError(`${where}: ${what} returned no pull request id`);
        return { id };
      } catch (error) {
        // The token was used before with another title or description: that pull request is ours.
        if (errorName(error) === 'IdempotencyParameterMismatchException') {
          const found = await findPullRequest(source, destination);
          if (found) return found;
        }
        return failed(error, what);
      }
    },
  };
}
