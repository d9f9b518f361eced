/**
 * The rollback write-back's GitHub calls (write-back.ts decides what to call), through the Git
 * database REST API and the pull requests API, each with github.ts's timeout and retry policy.
 *
 * - head: `GET /repos/{owner}/{repo}/git/ref/heads/{branch}` ("Get a reference"; 404 when missing).
 * - files: the commit's tree and blobs, read as Resolve reads them (gitHubSource).
 * - commit: `GET /git/commits/{parent}` for its tree, `POST /git/trees` with inline content on
 *   `base_tree` (an entry with `sha: null` deletes a path), `POST /git/commits` with `parents:
 *   [parent]`, then `PATCH /git/refs/heads/{branch}` with `force: false`: GitHub moves the branch
 *   only as a fast-forward, so a branch that moved since `parent` is refused (422) and reported as
 *   moved. Retried POSTs only leave unreferenced objects behind; a retried PATCH to the same commit
 *   changes nothing.
 * - createBranch: `POST /git/refs`; 422 when the reference already exists.
 * - pullRequest: `GET /pulls?head=OWNER:BRANCH&base=BRANCH&state=all` first, so a retry (or a pull
 *   request a human already closed) is found, not opened again; then `POST /pulls`, whose 422 for
 *   "a pull request already exists" is answered by looking again.
 *
 * The token needs Contents (write) and Pull requests (write) on the repository. A revert commit on
 * a protected branch is refused by GitHub; such a branch takes `writeBack.mode: pull-request`.
 */
import { TransientError } from '../aws/errors.ts';
import { RepoSourceError } from '../spec/source.ts';
import { isObject, mapWithConcurrency, truncate } from './common.ts';
import { GitHubApiError, type GitHubApiOptions, gitHubRequest, gitHubSource, parseRepository } from './github.ts';
import type { BranchFile, WriteBackHost } from './write-back.ts';

/** GitHub refuses a pull request title over 256 characters. */
export const GITHUB_MAX_PULL_REQUEST_TITLE_CHARS = 256;
/** GitHub refuses a pull request body over 65,536 characters. */
export const GITHUB_MAX_PULL_REQUEST_BODY_CHARS = 65_536;
/** Blob reads in flight at once. */
const READ_CONCURRENCY = 4;

/** A branch name in a URL path: each segment encoded, the slashes kept. */
function refPath(branch: string): string {
  return branch.split('/').map(encodeURIComponent).join('/');
}

function shaOf(body: unknown, what: string): string {
  if (!isObject(body) || typeof body.sha !== 'string') throw new TransientError(`${what}: unexpected answer (no sha)`);
  return body.sha.toLowerCase();
}

export function gitHubWriteBackHost(api: GitHubApiOptions, repository: string): WriteBackHost {
  const { owner, name } = parseRepository(repository);
  const repoPath = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  const where = `GitHub ${repository}`;

  async function head(branch: string): Promise<string | undefined> {
    const path = `${repoPath}/git/ref/heads/${refPath(branch)}`;
    try {
      const { body } = await gitHubRequest(api, 'GET', path);
      const object = isObject(body) ? body.object : undefined;
      if (!isObject(object) || typeof object.sha !== 'string' || object.type !== 'commit') {
        throw new TransientError(`${where}: GET ${path}: unexpected answer (no commit)`);
      }
      return object.sha.toLowerCase();
    } catch (error) {
      if (error instanceof GitHubApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  async function findPullRequest(source: string, destination: string) {
    const query = `head=${encodeURIComponent(`${owner}:${source}`)}&base=${encodeURIComponent(destination)}&state=all&per_page=10`;
    const path = `${repoPath}/pulls?${query}`;
    const { body } = await gitHubRequest(api, 'GET', path);
    if (!Array.isArray(body)) throw new TransientError(`${where}: GET ${path}: unexpected answer (not a list)`);
    const found = body.find((pr) => isObject(pr) && typeof pr.number === 'number');
    return found ? pullRequestOf(found) : undefined;
  }

  function pullRequestOf(pr: Record<string, unknown>): { id: string; url?: string } {
    return {
      id: String(pr.number),
      ...(typeof pr.html_url === 'string' ? { url: pr.html_url } : {}),
    };
  }

  return {
    where,
    head,

    async files(commit, paths) {
      const source = gitHubSource({ ...api, repository, commit });
      const entries = new Map((await source.list()).map((entry) => [entry.path, entry]));
      const files = await mapWithConcurrency(paths, READ_CONCURRENCY, async (path): Promise<BranchFile> => {
        const entry = entries.get(path);
        if (!entry) return null;
        if (entry.kind === 'symlink') return { unreadable: 'a symlink' };
        if (entry.kind !== 'file') return { unreadable: 'not a regular file' };
        try {
          return await source.read(path);
        } catch (error) {
          if (error instanceof RepoSourceError) return { unreadable: error.message };
          throw error;
        }
      });
      return new Map(paths.map((path, i) => [path, files[i] ?? null]));
    },

    async commit({ branch, parent, changes, message, author }) {
      const parentPath = `${repoPath}/git/commits/${parent}`;
      const { body: parentCommit } = await gitHubRequest(api, 'GET', parentPath);
      const baseTree = isObject(parentCommit) ? shaOf(parentCommit.tree, `${where}: GET ${parentPath}`) : undefined;
      if (!baseTree) throw new TransientError(`${where}: GET ${parentPath}: unexpected answer (no tree)`);
      // Restored files are Ballast's YAML documents: regular files (100644).
      const tree = [
        ...changes.put.map((put) => ({ path: put.path, mode: '100644', type: 'blob', content: put.content })),
        ...changes.delete.map((path) => ({ path, mode: '100644', type: 'blob', sha: null })),
      ];
      const treePath = `${repoPath}/git/trees`;
      const created = await gitHubRequest(api, 'POST', treePath, { base_tree: baseTree, tree });
      const treeSha = shaOf(created.body, `${where}: POST ${treePath}`);
      const commitPath = `${repoPath}/git/commits`;
      const made = await gitHubRequest(api, 'POST', commitPath, {
        message,
        tree: treeSha,
        parents: [parent],
        ...(author ? { author: { name: author.name, email: author.email } } : {}),
      });
      const commit = shaOf(made.body, `${where}: POST ${commitPath}`);
      const updatePath = `${repoPath}/git/refs/heads/${refPath(branch)}`;
      try {
        await gitHubRequest(api, 'PATCH', updatePath, { sha: commit, force: false });
        return { commit };
      } catch (error) {
        if (!(error instanceof GitHubApiError) || error.status !== 422) throw error;
        // Not a fast-forward (the branch moved since `parent`), or a refusal of another kind.
        const now = await head(branch);
        if (now === commit) return { commit };
        if (now !== parent) return 'moved';
        throw new GitHubApiError(
          `${where}: GitHub refused to move ${branch} to the rollback commit ${commit.slice(0, 12)} (${error.message}); a protected branch needs writeBack.mode: pull-request`,
          error.status,
        );
      }
    },

    async commitDetails(commit) {
      const path = `${repoPath}/git/commits/${commit}`;
      const { body } = await gitHubRequest(api, 'GET', path);
      if (!isObject(body) || !Array.isArray(body.parents)) {
        throw new TransientError(`${where}: GET ${path}: unexpected answer (no parents)`);
      }
      return {
        parents: body.parents.map((p) => shaOf(p, `${where}: GET ${path}`)),
        message: typeof body.message === 'string' ? body.message : '',
      };
    },

    async createBranch(branch, at) {
      try {
        await gitHubRequest(api, 'POST', `${repoPath}/git/refs`, { ref: `refs/heads/${branch}`, sha: at });
        return 'created';
      } catch (error) {
        // "Reference already exists" (a previous attempt, or a retried POST whose answer was lost).
        if (error instanceof GitHubApiError && error.status === 422 && (await head(branch)) !== undefined) {
          return 'exists';
        }
        throw error;
      }
    },

    async pullRequest({ source, destination, title, body }) {
      const existing = await findPullRequest(source, destination);
      if (existing) return existing;
      const path = `${repoPath}/pulls`;
      try {
        const { body: created } = await gitHubRequest(api, 'POST', path, {
          title: truncate(title, GITHUB_MAX_PULL_REQUEST_TITLE_CHARS),
          head: source,
          base: destination,
          body: truncate(body.trim(), GITHUB_MAX_PULL_REQUEST_BODY_CHARS, '\n\n… (truncated)'),
        });
        if (!isObject(created) || typeof created.number !== 'number') {
          throw new TransientError(`${where}: POST ${path}: unexpected answer (no number)`);
        }
        return pullRequestOf(created);
      } catch (error) {
        // "A pull request already exists" (a retried POST whose answer was lost, or a race).
        if (error instanceof GitHubApiError && error.status === 422) {
          const found = await findPullRequest(source, destination);
          if (found) return found;
        }
        throw error;
      }
    },
  };
}
