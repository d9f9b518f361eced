/**
 * Writing an automatic rollback back to Git (ballast.yaml `writeBack`): after the rollback workflow
 * put an endpoint's last good content live again, the environment's branch is made to say so, with
 * a revert commit on the branch or a pull request into it.
 *
 * The rules, whatever the source:
 * - Nothing is overwritten. The branch head must still have exactly the rolled-back (bad) content
 *   of every path; if a path changed since, a human moved on and the answer is `skipped`, naming the
 *   file. If the head already has the good content everywhere (a retry of this step, or a human who
 *   reverted first) the answer is `skipped` too: "already restored". That check is what makes a
 *   Step Functions retry safe.
 * - A revert commit is made on the head that was read and moves the branch with a compare-and-swap
 *   (CodeCommit's `parentCommitId`, GitHub's fast-forward-only ref update). When the branch moved in
 *   between, everything is read and checked again, at most {@link MAX_WRITE_ATTEMPTS} times.
 * - A pull request comes from a branch named after the idempotency key ({@link rollbackBranchName}),
 *   so a retry finds the branch, its commit and its pull request instead of opening another.
 *
 * This module is the pure part (checks, decisions, messages) and the sequence; the two sources'
 * calls live in write-back-codecommit.ts and write-back-github.ts behind {@link WriteBackHost}.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError, TransientError } from '../aws/errors.ts';
import { isSafeRelativePath, isSkippedDirectory } from '../spec/source.ts';
import type { CodeCommitLike } from './codecommit.ts';
import { isObject, requireCommitId } from './common.ts';
import { type GitHubApiOptions, parseRepository } from './github.ts';
import { codeCommitWriteBackHost } from './write-back-codecommit.ts';
import { gitHubWriteBackHost } from './write-back-github.ts';

export type WriteBackMode = 'revert-commit' | 'pull-request';

export interface WriteBackRequest {
  readonly source: 'codecommit' | 'github';
  /** CodeCommit repository name, or GitHub "owner/name". */
  readonly repository: string;
  /** The environment's branch. */
  readonly branch: string;
  readonly mode: WriteBackMode;
  /** The commit whose content was rolled back. */
  readonly badCommit: string;
  /** The last good commit, now live again. */
  readonly goodCommit: string;
  /** The files to put back: path -> the good commit's content (UTF-8), or null when the good commit does not have the file. */
  readonly restore: Readonly<Record<string, string | null>>;
  /** The bad commit's content of the same paths (null = absent): the branch must still have exactly this, else someone already moved on and nothing is written. */
  readonly expected: Readonly<Record<string, string | null>>;
  /** First line of the commit message / the pull request's title (names the alarm and the endpoint). */
  readonly title: string;
  /** The rest of the message / the pull request's description (ledger entry key etc.). */
  readonly body: string;
  /** The rollback execution's name: a retry must not write twice. */
  readonly idempotencyKey: string;
  readonly author?: { readonly name: string; readonly email: string };
}

export type WriteBackResult =
  | { readonly kind: 'committed'; readonly commit: string; readonly branch: string }
  | {
      readonly kind: 'pull-request';
      readonly commit: string;
      /** The rollback branch the pull request comes from. */
      readonly branch: string;
      /** CodeCommit's pull request id, or GitHub's pull request number. */
      readonly pullRequest: string;
      readonly url?: string;
    }
  | { readonly kind: 'skipped'; readonly reason: string };

/** What `writeBack` calls: the client of the request's source. */
export interface WriteBackClients {
  /** For CodeCommit: the container's client, `codecommit()` from lambdas/aws/codecommit.ts. */
  readonly codecommit?: CodeCommitLike;
  /**
   * For GitHub: the API URL and a token (from Secrets Manager) that may write contents and pull
   * requests; `fetch`, `sleep`, timeouts and attempts as for every GitHub call (github.ts).
   */
  readonly github?: GitHubApiOptions;
}

/** Reads and writes of a revert or a rollback branch, before a moving branch is reported as an error. */
export const MAX_WRITE_ATTEMPTS = 3;
/** CreateCommit: "Commit messages are limited to 256 KB"; GitHub takes as much, so one limit for both. */
export const MAX_COMMIT_MESSAGE_BYTES = 256 * 1024;
export const ROLLBACK_BRANCH_PREFIX = 'ballast/rollback-';

/** ballast.yaml's default when `writeBack.mode` is not set: a revert commit on CodeCommit, a pull request on GitHub. */
export function defaultWriteBackMode(source: WriteBackRequest['source']): WriteBackMode {
  return source === 'github' ? 'pull-request' : 'revert-commit';
}

// ---------------------------------------------------------------------------------------------
// What the sources do (write-back-codecommit.ts, write-back-github.ts)
// ---------------------------------------------------------------------------------------------

/** What a branch has at a path: the bytes, null when there is no such file, or why it is not a file Ballast can compare. */
export type BranchFile = Uint8Array | null | { readonly unreadable: string };

export interface FileChanges {
  readonly put: ReadonlyArray<{ readonly path: string; readonly content: string }>;
  readonly delete: readonly string[];
}

export interface HostCommit {
  readonly branch: string;
  /** The head the changes were decided on; the branch moves only if it is still there. */
  readonly parent: string;
  readonly changes: FileChanges;
  readonly message: string;
  readonly author?: { readonly name: string; readonly email: string };
}

/** One source's Git calls, each with its timeout and retries; errors name the repository, branch and path. */
export interface WriteBackHost {
  /** "CodeCommit repository models", "GitHub octo-org/models": for messages. */
  readonly where: string;
  /** What one commit may carry (CodeCommit's API limits); checked before anything is written. */
  readonly limits?: { readonly maxFileBytes: number; readonly maxCombinedBytes: number };
  /** The branch's head commit, or undefined when there is no such branch. */
  head(branch: string): Promise<string | undefined>;
  /** What `commit` has at each of `paths`. */
  files(commit: string, paths: readonly string[]): Promise<Map<string, BranchFile>>;
  /** A commit of `changes` on `parent`, and the branch moved to it; 'moved' when the branch is no longer at `parent`. */
  commit(input: HostCommit): Promise<{ readonly commit: string } | 'moved'>;
  commitDetails(commit: string): Promise<{ readonly parents: readonly string[]; readonly message: string }>;
  /** Creates `branch` at `at`; 'exists' when it already exists (wherever it points). */
  createBranch(branch: string, at: string): Promise<'created' | 'exists'>;
  /** The pull request from `source` into `destination`: an existing one (open or closed), else a new one. */
  pullRequest(input: {
    readonly source: string;
    readonly destination: string;
    readonly title: string;
    readonly body: string;
    readonly idempotencyKey: string;
  }): Promise<{ readonly id: string; readonly url?: string }>;
}

// ---------------------------------------------------------------------------------------------
// Checks and decisions (pure)
// ---------------------------------------------------------------------------------------------

/** git check-ref-format's rules for a branch name, plus CodeCommit's 256 characters. */
export function isBranchName(name: string): boolean {
  if (name.length === 0 || name.length > 256 || name === '@') return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what git refuses
  if (/[\x00-\x20\x7f~^:?*[\\]|\.\.|@\{|\/\/|^\/|\/$|\.$/.test(name)) return false;
  return name.split('/').every((part) => !part.startsWith('.') && !part.endsWith('.lock'));
}

/**
 * The branch a pull request comes from, the same for every retry of one rollback execution. A key
 * that is not a plain name ([A-Za-z0-9_-], at most 80 characters: Step Functions execution names
 * mostly are) is cleaned up and suffixed with a digest of the original, so two keys never share it.
 */
export function rollbackBranchName(idempotencyKey: string): string {
  if (/^[A-Za-z0-9_-]{1,80}$/.test(idempotencyKey)) return `${ROLLBACK_BRANCH_PREFIX}${idempotencyKey}`;
  const slug = idempotencyKey
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  const digest = createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 12);
  return `${ROLLBACK_BRANCH_PREFIX}${slug ? `${slug}-` : ''}${digest}`;
}

/**
 * Checks a request (it crosses the workflow's trust boundary) and returns it normalised (lower-case
 * commit ids). InvalidInputError names the first bad field.
 */
export function parseWriteBackRequest(value: unknown): WriteBackRequest {
  const what = 'write-back request';
  if (!isObject(value)) throw new InvalidInputError(`${what}: expected an object`);
  const request = value as unknown as WriteBackRequest;
  const { source, repository, branch, mode } = request;
  if (source !== 'codecommit' && source !== 'github') {
    throw new InvalidInputError(`${what}: source must be codecommit or github, not ${JSON.stringify(source)}`);
  }
  if (typeof repository !== 'string') throw new InvalidInputError(`${what}: 'repository' must be a string`);
  if (source === 'github') parseRepository(repository);
  else if (!/^[\w.-]{1,100}$/.test(repository)) {
    throw new InvalidInputError(`${what}: '${repository}' is not a CodeCommit repository name`);
  }
  if (typeof branch !== 'string' || !isBranchName(branch)) {
    throw new InvalidInputError(`${what}: '${String(branch)}' is not a branch name`);
  }
  if (mode !== 'revert-commit' && mode !== 'pull-request') {
    throw new InvalidInputError(`${what}: mode must be revert-commit or pull-request, not ${JSON.stringify(mode)}`);
  }
  const badCommit = requireCommitId(String(request.badCommit ?? ''), `${what}.badCommit`);
  const goodCommit = requireCommitId(String(request.goodCommit ?? ''), `${what}.goodCommit`);
  const restore = fileMap(request.restore, `${what}.restore`);
  const expected = fileMap(request.expected, `${what}.expected`);
  const paths = Object.keys(restore);
  if (paths.length === 0) throw new InvalidInputError(`${what}: 'restore' names no file`);
  const missing = paths.filter((p) => !(p in expected));
  const extra = Object.keys(expected).filter((p) => !(p in restore));
  if (missing.length > 0 || extra.length > 0) {
    throw new InvalidInputError(
      `${what}: 'restore' and 'expected' must name the same files (only in restore: ${missing.join(', ') || '-'}; only in expected: ${extra.join(', ') || '-'})`,
    );
  }
  const { title, body, idempotencyKey, author } = request;
  if (typeof title !== 'string' || title.trim().length === 0) {
    throw new InvalidInputError(`${what}: 'title' must be a non-empty string`);
  }
  if (/[\r\n]/.test(title)) throw new InvalidInputError(`${what}: 'title' must be one line`);
  if (typeof body !== 'string') throw new InvalidInputError(`${what}: 'body' must be a string`);
  if (typeof idempotencyKey !== 'string' || idempotencyKey.length === 0 || idempotencyKey.length > 256) {
    throw new InvalidInputError(`${what}: 'idempotencyKey' must be a string of 1 to 256 characters`);
  }
  // null as well as absent: a Step Functions payload may carry `"author": null`.
  if (author !== undefined && author !== null) {
    const valid = (s: unknown) => typeof s === 'string' && s.length > 0 && s.length <= 256 && !/[<>\r\n\0]/.test(s);
    if (!isObject(author) || !valid(author.name) || !valid(author.email)) {
      throw new InvalidInputError(`${what}: 'author' must have a name and an email (no <, >, or line breaks)`);
    }
  }
  return {
    source,
    repository,
    branch,
    mode,
    badCommit,
    goodCommit,
    restore,
    expected,
    title: title.trim(),
    body,
    idempotencyKey,
    ...(author ? { author: { name: author.name, email: author.email } } : {}),
  };
}

function fileMap(value: unknown, what: string): Record<string, string | null> {
  if (!isObject(value)) throw new InvalidInputError(`${what}: expected an object of path -> content or null`);
  const files: Record<string, string | null> = {};
  for (const [path, content] of Object.entries(value)) {
    if (!isSafeRelativePath(path) || path.split('/').slice(0, -1).some(isSkippedDirectory)) {
      // Hidden folders and node_modules are never read by Ballast, so never written back either.
      throw new InvalidInputError(`${what}: '${path}' is not a path Ballast writes (relative, no hidden folder)`);
    }
    if (content !== null && typeof content !== 'string') {
      throw new InvalidInputError(`${what}: the content of '${path}' must be a string or null`);
    }
    files[path] = content;
  }
  return files;
}

function hasContent(file: BranchFile | undefined, content: string | null): boolean {
  if (content === null) return file === null;
  return file instanceof Uint8Array && Buffer.from(content, 'utf8').equals(file);
}

/** What to write so that a branch whose files are `files` has the `restore` content (nothing when it has). */
export function changesToRestore(
  restore: Readonly<Record<string, string | null>>,
  files: ReadonlyMap<string, BranchFile>,
): FileChanges {
  const put: Array<{ path: string; content: string }> = [];
  const remove: string[] = [];
  for (const [path, content] of Object.entries(restore).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const file = files.get(path) ?? null;
    if (hasContent(file, content)) continue;
    if (content === null) remove.push(path);
    else put.push({ path, content });
  }
  return { put, delete: remove };
}

export type BranchAssessment =
  | { readonly kind: 'restored' }
  | { readonly kind: 'moved-on'; readonly path: string; readonly why: string }
  | { readonly kind: 'revert'; readonly changes: FileChanges };

/**
 * What to do with a branch whose files at the head are `files`: nothing when it already has the good
 * content everywhere, nothing when any path has something else than the rolled-back content (the
 * first such path, in path order, and why), else the changes that put the good content back.
 */
export function assessBranch(
  request: Pick<WriteBackRequest, 'restore' | 'expected'>,
  files: ReadonlyMap<string, BranchFile>,
): BranchAssessment {
  const paths = Object.keys(request.restore).sort();
  if (paths.every((path) => hasContent(files.get(path), request.restore[path] ?? null))) return { kind: 'restored' };
  for (const path of paths) {
    const file = files.get(path) ?? null;
    const bad = request.expected[path] ?? null;
    if (hasContent(file, bad)) continue;
    let why: string;
    if (file !== null && !(file instanceof Uint8Array)) why = `it is ${file.unreadable} now`;
    else if (hasContent(file, request.restore[path] ?? null))
      why = 'it already has the good content, but other files do not (a revert by hand under way?)';
    else if (file === null) why = 'it was deleted';
    else if (bad === null) why = 'it was added';
    else why = 'its content is neither the rolled-back nor the good version';
    return { kind: 'moved-on', path, why };
  }
  return { kind: 'revert', changes: changesToRestore(request.restore, files) };
}

/**
 * The commit message: the title, a blank line, the body; cut (at a character boundary, marked) so
 * it stays within {@link MAX_COMMIT_MESSAGE_BYTES} of UTF-8.
 */
export function commitMessage(title: string, body: string): string {
  const message = body.trim() ? `${title}\n\n${body.trim()}\n` : `${title}\n`;
  if (Buffer.byteLength(message, 'utf8') <= MAX_COMMIT_MESSAGE_BYTES) return message;
  const suffix = '\n\n… (truncated)\n';
  const room = MAX_COMMIT_MESSAGE_BYTES - Buffer.byteLength(suffix, 'utf8');
  // A cut inside a multi-byte character decodes as U+FFFD: drop it.
  const cut = Buffer.from(message, 'utf8')
    .subarray(0, room)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
  return `${cut}${suffix}`;
}

/** Refuses, before anything is written, content a source cannot take in one commit. */
function checkLimits(host: WriteBackHost, request: WriteBackRequest): void {
  if (!host.limits) return;
  let combined = 0;
  for (const [path, content] of Object.entries(request.restore)) {
    if (content === null) continue;
    const bytes = Buffer.byteLength(content, 'utf8');
    combined += bytes;
    if (bytes > host.limits.maxFileBytes) {
      throw new InvalidInputError(
        `${host.where}: the good content of '${path}' is ${bytes} bytes, over the ${host.limits.maxFileBytes}-byte limit of one file; write it back with git`,
      );
    }
  }
  if (combined > host.limits.maxCombinedBytes) {
    throw new InvalidInputError(
      `${host.where}: the files to restore add up to ${combined} bytes, over the ${host.limits.maxCombinedBytes}-byte limit of one commit; write them back with git`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The sequence
// ---------------------------------------------------------------------------------------------

const short = (commit: string) => commit.slice(0, 12);

/**
 * Records a rollback in Git as `request.mode` says. `request` is checked first
 * ({@link parseWriteBackRequest}); `clients` needs the client of `request.source`.
 *
 * Errors: InvalidInputError for a bad request, a missing repository or branch, or content over the
 * source's limits; TransientError when throttling or 5xx outlast the retries, or when the branch
 * moved on every one of {@link MAX_WRITE_ATTEMPTS} attempts; GitHubApiError when GitHub refuses
 * (a token without write access, a protected branch in revert-commit mode).
 */
export async function writeBack(request: WriteBackRequest, clients: WriteBackClients): Promise<WriteBackResult> {
  const checked = parseWriteBackRequest(request);
  return writeBackTo(hostFor(checked, clients), checked);
}

/** The commit a branch points at (undefined: no such branch): GetBranch, or GitHub's "Get a reference". */
export async function branchHead(
  request: Pick<WriteBackRequest, 'source' | 'repository'>,
  branch: string,
  clients: WriteBackClients,
): Promise<string | undefined> {
  return hostFor(request, clients).head(branch);
}

function hostFor(request: Pick<WriteBackRequest, 'source' | 'repository'>, clients: WriteBackClients): WriteBackHost {
  if (request.source === 'codecommit') {
    if (!clients.codecommit) throw new Error('writeBack: a CodeCommit write-back needs a CodeCommit client');
    return codeCommitWriteBackHost(clients.codecommit, request.repository);
  }
  if (!clients.github) throw new Error('writeBack: a GitHub write-back needs GitHub API settings and a token');
  return gitHubWriteBackHost(clients.github, request.repository);
}

async function writeBackTo(host: WriteBackHost, request: WriteBackRequest): Promise<WriteBackResult> {
  checkLimits(host, request);
  const message = commitMessage(request.title, request.body);
  const paths = Object.keys(request.restore).sort();
  const { branch } = request;
  /** The head this call moved the branch from, when a commit's answer was "the branch moved". */
  let triedOn: string | undefined;

  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    const head = await host.head(branch);
    if (head === undefined) throw new InvalidInputError(`${host.where}: there is no branch '${branch}'`);
    const files = await host.files(head, paths);
    const assessment = assessBranch(request, files);
    if (assessment.kind === 'restored') {
      // The branch "moved" to this very commit: an earlier try of ours landed and its answer was lost.
      if (triedOn !== undefined && (await isOwnCommit(host, head, triedOn, message))) {
        return { kind: 'committed', commit: head, branch };
      }
      // A retry of the whole step after its commit landed (another invocation: no `triedOn`): the
      // head is that commit when it carries this very message (its trailers name the execution).
      if (triedOn === undefined && (await host.commitDetails(head)).message.trim() === message.trim()) {
        return { kind: 'committed', commit: head, branch };
      }
      return {
        kind: 'skipped',
        reason: `already restored: ${branch} at ${short(head)} has the content of ${short(request.goodCommit)} for ${paths.join(', ')}`,
      };
    }
    if (assessment.kind === 'moved-on') {
      return {
        kind: 'skipped',
        reason: `${assessment.path} changed on ${branch} since the rolled-back commit ${short(request.badCommit)}: ${assessment.why}; nothing was written`,
      };
    }
    if (request.mode === 'pull-request') return pullRequest(host, request, { head, files }, message);
    const result = await host.commit({
      branch,
      parent: head,
      changes: assessment.changes,
      message,
      ...(request.author ? { author: request.author } : {}),
    });
    if (result !== 'moved') return { kind: 'committed', commit: result.commit, branch };
    triedOn = head;
  }
  throw new TransientError(
    `${host.where}: ${branch} moved during each of ${MAX_WRITE_ATTEMPTS} attempts to write the rollback back; try again later`,
  );
}

async function isOwnCommit(host: WriteBackHost, commit: string, parent: string, message: string): Promise<boolean> {
  const details = await host.commitDetails(commit);
  return details.parents.length === 1 && details.parents[0] === parent && details.message.trim() === message.trim();
}

/**
 * The rollback branch (created at the environment's head unless a previous attempt did), the good
 * content on it, and the pull request into the environment's branch, which is left untouched.
 */
async function pullRequest(
  host: WriteBackHost,
  request: WriteBackRequest,
  base: { readonly head: string; readonly files: Map<string, BranchFile> },
  message: string,
): Promise<WriteBackResult> {
  const branch = rollbackBranchName(request.idempotencyKey);
  if (branch === request.branch) {
    throw new InvalidInputError(`${host.where}: the rollback branch would be the environment's branch ${branch}`);
  }
  const paths = Object.keys(request.restore).sort();
  // What the rollback branch has, when known without reading it (it was just created at the base).
  let known: typeof base | undefined;
  if ((await host.head(branch)) === undefined && (await host.createBranch(branch, base.head)) === 'created') {
    known = base;
  }
  let commit: string | undefined;
  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS && commit === undefined; attempt++) {
    let state = known;
    known = undefined;
    if (!state) {
      const head = await host.head(branch);
      if (head === undefined) throw new TransientError(`${host.where}: the rollback branch ${branch} disappeared`);
      state = { head, files: await host.files(head, paths) };
    }
    const changes = changesToRestore(request.restore, state.files);
    // A previous attempt already put the good content on the branch.
    if (changes.put.length === 0 && changes.delete.length === 0) {
      commit = state.head;
      break;
    }
    const result = await host.commit({
      branch,
      parent: state.head,
      changes,
      message,
      ...(request.author ? { author: request.author } : {}),
    });
    if (result !== 'moved') commit = result.commit;
  }
  if (commit === undefined) {
    throw new TransientError(
      `${host.where}: the rollback branch ${branch} moved during each of ${MAX_WRITE_ATTEMPTS} attempts; try again later`,
    );
  }
  const pr = await host.pullRequest({
    source: branch,
    destination: request.branch,
    title: request.title,
    body: request.body,
    idempotencyKey: request.idempotencyKey,
  });
  return {
    kind: 'pull-request',
    commit,
    branch,
    pullRequest: pr.id,
    ...(pr.url ? { url: pr.url } : {}),
  };
}
