import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EventBridgeEvent } from '../events.ts';
import {
  type DiffEntry,
  GIT_MODE,
  GitError,
  type GitIdentity,
  GitRepository,
  isFullObjectId,
  isValidRefName,
  type TreeChange,
  type TreeEntry,
  treePathProblem,
} from '../git.ts';
import { awsJsonService } from '../protocols/aws-json.ts';
import { AwsServiceError, type SandboxService, type ServiceContext } from '../service.ts';
import { createPullRequestOperations } from './codecommit/pull-requests.ts';

/**
 * The CodeCommit sandbox: the CodeCommit_20150413 awsJson1.1 API over real Git repositories on disk.
 *
 * Every repository is a Git repository: `<reposDir>/<name>.git` (bare) for CreateRepository, or any
 * repository registered with `registerRepository(name, path)`, so `ballast local --repo PATH` serves
 * the user's own working repository. Reads go through `git` plumbing; CreateCommit builds the commit
 * in a throw-away index and moves the branch with a compare-and-swap, so the user's working tree and
 * index are never touched. Pull requests (codecommit/pull-requests.ts) are records beside the
 * repository whose branches are its own.
 *
 * Reference changes, made through the API or by an outside `git commit`/`git push` (found by
 * `detectReferenceChanges` or the polling `watchRepository`), are put on the sandbox's event bus as
 * "CodeCommit Repository State Change" events in the shape the CodeCommit User Guide documents
 * ("Monitoring CodeCommit events in Amazon EventBridge", referenceCreated / referenceUpdated /
 * referenceDeleted), which is what Ballast's EventBridge rule matches on.
 */

export const CODECOMMIT_EVENT_SOURCE = 'aws.codecommit';
export const REPOSITORY_STATE_CHANGE = 'CodeCommit Repository State Change';
export const COMMENT_ON_COMMIT = 'CodeCommit Comment on Commit';

// Limits from "Quotas in AWS CodeCommit" (User Guide) and the API reference.
/** "File size: Maximum of 6 MB for any individual file when using the CodeCommit console, APIs, or the AWS CLI." */
export const MAX_FILE_BYTES = 6 * 1024 * 1024;
/** FileContentSizeLimitExceededException: "the combined file content change size is 7 MB". */
export const MAX_COMBINED_CONTENT_BYTES = 7 * 1024 * 1024;
/** CreateCommit: "Commit messages are limited to 256 KB." */
const MAX_COMMIT_MESSAGE_BYTES = 256 * 1024;
/** "Comment length: Maximum of 10,240 characters." */
const MAX_COMMENT_CHARS = 10_240;
/** "File paths: … between 1 and 4,096 characters … cannot exceed 20 directories in depth." */
const MAX_PATH_CHARS = 4096;
const MAX_PATH_DIRECTORIES = 20;
/** "User names in commits made in the console: … between 1 and 1,024 characters." */
const MAX_AUTHOR_NAME_CHARS = 1024;
/** "Email addresses in commits made in the console: … between 1 and 256 characters." */
const MAX_EMAIL_CHARS = 256;
/** "Repository descriptions: … between 0 and 1,000 characters." */
const MAX_DESCRIPTION_CHARS = 1000;
/** "Branch names: … between 1 and 256 characters". */
const MAX_BRANCH_NAME_CHARS = 256;
/** ListRepositories: "Batch sizes are 1,000 for list repository operations." */
const REPOSITORY_PAGE_SIZE = 1000;
const BRANCH_PAGE_SIZE = 1000;
const DEFAULT_DIFFERENCES_PAGE_SIZE = 100;
/** GetCommentsForComparedCommit: "The default is 100 comments, but you can configure up to 500." */
const DEFAULT_COMMENTS_PAGE_SIZE = 100;
const MAX_COMMENTS_PAGE_SIZE = 500;

/** Used when CreateCommit has no commitMessage ("If no message is specified, a default message is used"). */
const DEFAULT_COMMIT_MESSAGE = 'Commit made with the CodeCommit API\n';
const METADATA_FILE = 'ballast-repository.json';

export interface ReferenceChangeDetail extends Record<string, unknown> {
  readonly event: 'referenceCreated' | 'referenceUpdated' | 'referenceDeleted';
  readonly repositoryName: string;
  readonly repositoryId: string;
  readonly referenceType: 'branch' | 'tag';
  readonly referenceName: string;
  readonly referenceFullName: string;
  /** Absent for referenceDeleted. */
  readonly commitId?: string;
  /** Absent for referenceCreated. */
  readonly oldCommitId?: string;
  readonly callerUserArn: string;
}

export interface CodeCommitServiceOptions {
  /** Where CreateRepository puts `<name>.git`; existing `*.git` repositories there are served on start. */
  readonly reposDir: string;
  /** The identity the sandbox reports as the caller (events, comment authors). */
  readonly callerUserArn?: string;
  /** Timeout for each git call. Default 30 s. */
  readonly gitTimeoutMs?: number;
}

export interface RegisterRepositoryOptions {
  readonly description?: string;
  /**
   * Let CreateCommit move the branch that a working repository has checked out. Off by default:
   * like `git push` into a non-bare repository (receive.denyCurrentBranch), moving it would leave
   * the user's working tree and index showing the commit reversed.
   */
  readonly allowWritesToCheckedOutBranch?: boolean;
}

export interface RepositorySummary {
  readonly repositoryName: string;
  readonly repositoryId: string;
  readonly arn: string;
  /** The git directory on disk. */
  readonly gitDir: string;
  readonly workTree: string | undefined;
}

export interface CodeCommitSandbox extends SandboxService {
  /** Resolves once repositories already under `reposDir` are loaded. */
  ready(): Promise<void>;
  /** Serves an existing repository (bare, or the top of a working tree) under `name`. */
  registerRepository(name: string, repoPath: string, options?: RegisterRepositoryOptions): Promise<RepositorySummary>;
  repository(name: string): RepositorySummary | undefined;
  /** The wrapper over the repository's git directory (the local runner reads trees through it). */
  git(name: string): GitRepository | undefined;
  /**
   * Compares the repository's branches and tags with the last snapshot and emits one
   * "CodeCommit Repository State Change" event per created, updated or deleted reference.
   * Call it after an outside `git commit` / `git push`; API writes update the snapshot themselves.
   */
  detectReferenceChanges(name: string): Promise<Array<EventBridgeEvent<ReferenceChangeDetail>>>;
  /** Polls `detectReferenceChanges` every `intervalMs` (fs.watch misses ref updates); returns stop(). */
  watchRepository(name: string, intervalMs?: number, onError?: (error: unknown) => void): () => void;
  /** Stops every watcher. */
  close(): void;
}

interface StoredComment {
  readonly commentId: string;
  readonly content: string;
  readonly creationDate: number;
  readonly authorArn: string;
  readonly clientRequestToken: string | undefined;
  readonly beforeCommitId: string | undefined;
  readonly afterCommitId: string;
  readonly beforeBlobId: string | undefined;
  readonly afterBlobId: string | undefined;
  readonly location: { filePath: string; filePosition?: number; relativeFileVersion: 'BEFORE' | 'AFTER' } | undefined;
  /** What the request looked like, to answer a replayed clientRequestToken (or refuse a changed one). */
  readonly fingerprint: string;
}

interface RepositoryRecord {
  readonly name: string;
  readonly id: string;
  readonly description: string | undefined;
  /** Epoch ms (simulated clock). */
  readonly creationDate: number;
  lastModifiedDate: number;
  readonly git: GitRepository;
  readonly allowWritesToCheckedOutBranch: boolean;
  /** Full ref name → commit id, as last seen (the base for detectReferenceChanges). */
  refs: Map<string, string>;
  /** Serializes writes and ref detection so an API write is never also reported as an outside change. */
  lock: Promise<void>;
  readonly comments: StoredComment[];
}

type Input = Record<string, unknown>;

const fail = (code: string, message: string): AwsServiceError => new AwsServiceError(code, message);

function optionalString(input: Input, field: string): string | undefined {
  const value = input[field];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function optionalObject(input: Input, field: string): Input | undefined {
  const value = input[field];
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Input) : undefined;
}

function objectList(input: Input, field: string): Input[] {
  const value = input[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw fail('ValidationException', `${field} must be a list`);
  return value.map((item) => (typeof item === 'object' && item !== null ? (item as Input) : {}));
}

/** "Repository names: letters, numbers, periods, underscores, and dashes between 1 and 100 characters … cannot end in .git". */
function isValidRepositoryName(name: string): boolean {
  return /^[\w.-]{1,100}$/.test(name) && !name.toLowerCase().endsWith('.git');
}

/** Branch names: git-check-ref-format, 1–256 characters, and "branch names of exactly 40 hexadecimal characters are not allowed". */
function isValidBranchName(name: string): boolean {
  return name.length <= MAX_BRANCH_NAME_CHARS && isValidRefName(name) && !/^[0-9a-fA-F]{40}$/.test(name);
}

function fileModeName(gitMode: string): 'NORMAL' | 'EXECUTABLE' | 'SYMLINK' {
  if (gitMode === GIT_MODE.executable) return 'EXECUTABLE';
  if (gitMode === GIT_MODE.symlink) return 'SYMLINK';
  return 'NORMAL';
}

function gitModeOf(fileMode: unknown): string | undefined {
  if (fileMode === 'NORMAL') return GIT_MODE.file;
  if (fileMode === 'EXECUTABLE') return GIT_MODE.executable;
  if (fileMode === 'SYMLINK') return GIT_MODE.symlink;
  return undefined;
}

function isFileEntry(entry: TreeEntry): boolean {
  return entry.type === 'blob';
}

/**
 * CodeCommit paths are "fully qualified": `/examples/file.md` and `examples/file.md` name the same
 * file. Returns the path git uses (no leading slash; `''` is the root folder when `allowRoot`).
 */
function normalizePath(raw: string, allowRoot: boolean): string {
  if (raw.length > MAX_PATH_CHARS)
    throw fail('InvalidPathException', `The path is longer than ${MAX_PATH_CHARS} characters.`);
  let treePath = raw.startsWith('/') ? raw.slice(1) : raw;
  if (allowRoot && treePath.endsWith('/')) treePath = treePath.slice(0, -1);
  if (treePath === '') {
    if (allowRoot) return '';
    throw fail('PathRequiredException', 'The folderPath for a location cannot be null.');
  }
  const problem = treePathProblem(treePath);
  if (problem) throw fail('InvalidPathException', `The specified path is not valid (${problem}): ${raw}`);
  if (treePath.split('/').length - 1 > MAX_PATH_DIRECTORIES) {
    throw fail('InvalidPathException', `The path is more than ${MAX_PATH_DIRECTORIES} directories deep: ${raw}`);
  }
  return treePath;
}

function parentDirectory(treePath: string): string {
  const slash = treePath.lastIndexOf('/');
  return slash === -1 ? '' : treePath.slice(0, slash);
}

function ancestors(treePath: string): string[] {
  const parts = treePath.split('/');
  const result: string[] = [];
  for (let i = 1; i < parts.length; i += 1) result.push(parts.slice(0, i).join('/'));
  return result;
}

function encodeToken(offset: number, key: string): string {
  return Buffer.from(JSON.stringify({ o: offset, k: key }), 'utf8').toString('base64');
}

function decodeToken(token: string | undefined, key: string): number {
  if (token === undefined) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { o?: unknown; k?: unknown };
    if (typeof parsed.o === 'number' && Number.isSafeInteger(parsed.o) && parsed.o >= 0 && parsed.k === key) {
      return parsed.o;
    }
  } catch {
    // fall through to the error below
  }
  throw fail('InvalidContinuationTokenException', 'The specified continuation token is not valid.');
}

function epochSeconds(ms: number): number {
  return Math.floor(ms) / 1000;
}

/** A UUID-shaped id derived from `seed`, so a registered repository keeps its id across restarts. */
function stableUuid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function createCodeCommitService(ctx: ServiceContext, options: CodeCommitServiceOptions): CodeCommitSandbox {
  const reposDir = path.resolve(options.reposDir);
  const callerUserArn = options.callerUserArn ?? `arn:aws:iam::${ctx.account}:user/ballast-sandbox`;
  const defaultAuthorName = callerUserArn.split('/').pop() || 'ballast-sandbox';
  const gitOptions = options.gitTimeoutMs ? { timeoutMs: options.gitTimeoutMs } : {};
  const repositories = new Map<string, RepositoryRecord>();
  /** Names being created or registered right now, so two concurrent calls cannot both claim one. */
  const reserved = new Set<string>();
  const watchers = new Set<() => void>();

  const arnOf = (name: string): string => `arn:aws:codecommit:${ctx.region}:${ctx.account}:${name}`;

  // Never rejects: a broken entry under reposDir is skipped, so every operation can await it.
  const loaded = loadExisting().catch(() => {});

  async function loadExisting(): Promise<void> {
    if (!existsSync(reposDir)) return;
    for (const entry of readdirSync(reposDir)) {
      if (!entry.endsWith('.git')) continue;
      try {
        await loadOne(entry);
      } catch {
        // Not a repository (or unreadable): leave it alone rather than refuse to start.
      }
    }
  }

  async function loadOne(entry: string): Promise<void> {
    const name = entry.slice(0, -'.git'.length);
    const gitDirPath = path.join(reposDir, entry);
    if (!isValidRepositoryName(name) || !statSync(gitDirPath).isDirectory()) return;
    const git = await GitRepository.open(gitDirPath, gitOptions);
    const metadata = readMetadata(gitDirPath);
    const now = ctx.clock.nowMs();
    const record: RepositoryRecord = {
      name,
      id: metadata.repositoryId ?? stableUuid(`${ctx.account}:${ctx.region}:${name}`),
      description: metadata.repositoryDescription,
      creationDate: metadata.creationDate ?? now,
      lastModifiedDate: metadata.creationDate ?? now,
      git,
      allowWritesToCheckedOutBranch: true,
      refs: await snapshotRefs(git),
      lock: Promise.resolve(),
      comments: [],
    };
    repositories.set(name, record);
  }

  function readMetadata(gitDirPath: string): {
    repositoryId?: string;
    repositoryDescription?: string;
    creationDate?: number;
  } {
    try {
      const parsed = JSON.parse(readFileSync(path.join(gitDirPath, METADATA_FILE), 'utf8')) as Record<string, unknown>;
      return {
        ...(typeof parsed.repositoryId === 'string' ? { repositoryId: parsed.repositoryId } : {}),
        ...(typeof parsed.repositoryDescription === 'string'
          ? { repositoryDescription: parsed.repositoryDescription }
          : {}),
        ...(typeof parsed.creationDate === 'number' ? { creationDate: parsed.creationDate } : {}),
      };
    } catch {
      return {};
    }
  }

  async function snapshotRefs(git: GitRepository): Promise<Map<string, string>> {
    return new Map((await git.refs()).map((ref) => [ref.name, ref.commitId]));
  }

  async function withLock<T>(record: RepositoryRecord, work: () => Promise<T>): Promise<T> {
    const previous = record.lock;
    let release: () => void = () => {};
    record.lock = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await work();
    } finally {
      release();
    }
  }

  async function repositoryOf(input: Input): Promise<RepositoryRecord> {
    await loaded;
    const name = input.repositoryName;
    if (typeof name !== 'string' || name.length === 0) {
      throw fail('RepositoryNameRequiredException', 'A repository name is required, but was not specified.');
    }
    if (!isValidRepositoryName(name)) {
      throw fail('InvalidRepositoryNameException', `The repository name is not valid: ${name}`);
    }
    const record = repositories.get(name);
    if (!record) throw fail('RepositoryDoesNotExistException', `${name} does not exist`);
    return record;
  }

  async function defaultBranch(record: Pick<RepositoryRecord, 'git'>): Promise<string | undefined> {
    const branches = await record.git.branches();
    if (branches.length === 0) return undefined;
    const head = await record.git.headBranch();
    if (head && branches.some((b) => b.name === head)) return head;
    return (branches.find((b) => b.name === 'main') ?? branches.find((b) => b.name === 'master') ?? branches[0])?.name;
  }

  function requireBranchName(input: Input): string {
    const branchName = input.branchName;
    if (typeof branchName !== 'string' || branchName.length === 0) {
      throw fail('BranchNameRequiredException', 'A branch name is required, but was not specified.');
    }
    if (!isValidBranchName(branchName)) {
      throw fail('InvalidBranchNameException', `The specified reference name is not valid: ${branchName}`);
    }
    return branchName;
  }

  /**
   * A commit specifier: a full commit id, a branch or tag name, a full reference (`refs/heads/main`)
   * or HEAD; undefined means the default branch's head. Returns undefined when it names no commit.
   */
  async function resolveSpecifier(
    record: RepositoryRecord,
    specifier: string | undefined,
  ): Promise<string | undefined> {
    const git = record.git;
    if (specifier === undefined) {
      const branch = await defaultBranch(record);
      return branch ? git.branchHead(branch) : undefined;
    }
    if (isFullObjectId(specifier.toLowerCase())) return git.resolveCommit(specifier.toLowerCase());
    if (specifier === 'HEAD') return git.resolveCommit('HEAD');
    if (isValidRefName(specifier)) {
      if (specifier.startsWith('refs/')) return git.resolveCommit(specifier);
      const found =
        (await git.resolveCommit(`refs/heads/${specifier}`)) ?? (await git.resolveCommit(`refs/tags/${specifier}`));
      if (found) return found;
    }
    // An abbreviated commit id (git's own minimum is 4 hex digits).
    if (/^[0-9a-fA-F]{4,39}$/.test(specifier)) return git.resolveCommit(specifier.toLowerCase());
    return undefined;
  }

  async function requireCommit(record: RepositoryRecord, specifier: string | undefined): Promise<string> {
    const commitId = await resolveSpecifier(record, specifier);
    if (!commitId) {
      throw fail(
        'CommitDoesNotExistException',
        specifier === undefined
          ? `The repository ${record.name} has no commits.`
          : `Could not find the specified commit: ${specifier}`,
      );
    }
    return commitId;
  }

  /** A full commit id input (comments, CreateBranch): required, well-formed, existing. */
  async function requireCommitId(record: RepositoryRecord, value: unknown): Promise<string> {
    if (typeof value !== 'string' || value.length === 0) {
      throw fail('CommitIdRequiredException', 'A commit ID is required, but was not specified.');
    }
    const commitId = value.toLowerCase();
    if (!isFullObjectId(commitId))
      throw fail('InvalidCommitIdException', `The specified commit ID is not valid: ${value}`);
    const found = await record.git.resolveCommit(commitId);
    if (found !== commitId) throw fail('CommitDoesNotExistException', `Could not find the specified commit: ${value}`);
    return commitId;
  }

  function repositoryMetadata(record: RepositoryRecord, branch: string | undefined): Record<string, unknown> {
    return {
      accountId: ctx.account,
      repositoryId: record.id,
      repositoryName: record.name,
      ...(record.description !== undefined ? { repositoryDescription: record.description } : {}),
      ...(branch ? { defaultBranch: branch } : {}),
      lastModifiedDate: epochSeconds(record.lastModifiedDate),
      creationDate: epochSeconds(record.creationDate),
      cloneUrlHttp: `https://git-codecommit.${ctx.region}.amazonaws.com/v1/repos/${record.name}`,
      cloneUrlSsh: `ssh://git-codecommit.${ctx.region}.amazonaws.com/v1/repos/${record.name}`,
      Arn: arnOf(record.name),
    };
  }

  function summary(record: RepositoryRecord): RepositorySummary {
    return {
      repositoryName: record.name,
      repositoryId: record.id,
      arn: arnOf(record.name),
      gitDir: record.git.gitDir,
      workTree: record.git.workTree,
    };
  }

  function emitReferenceChange(
    record: RepositoryRecord,
    refName: string,
    oldCommitId: string | undefined,
    commitId: string | undefined,
  ): EventBridgeEvent<ReferenceChangeDetail> | undefined {
    const isBranch = refName.startsWith('refs/heads/');
    if (!isBranch && !refName.startsWith('refs/tags/')) return undefined;
    const event =
      oldCommitId === undefined ? 'referenceCreated' : commitId === undefined ? 'referenceDeleted' : 'referenceUpdated';
    const detail: ReferenceChangeDetail = {
      event,
      repositoryName: record.name,
      repositoryId: record.id,
      referenceType: isBranch ? 'branch' : 'tag',
      referenceName: refName.slice(isBranch ? 'refs/heads/'.length : 'refs/tags/'.length),
      referenceFullName: refName,
      ...(commitId !== undefined ? { commitId } : {}),
      ...(oldCommitId !== undefined ? { oldCommitId } : {}),
      callerUserArn,
    };
    return ctx.events.put({
      source: CODECOMMIT_EVENT_SOURCE,
      detailType: REPOSITORY_STATE_CHANGE,
      resources: [arnOf(record.name)],
      detail,
    });
  }

  /** After an API write: record the new head in the snapshot and emit the event. Call under the lock. */
  function recordRefWrite(record: RepositoryRecord, refName: string, commitId: string): void {
    const previous = record.refs.get(refName);
    record.refs.set(refName, commitId);
    emitReferenceChange(record, refName, previous, commitId);
  }

  /** Refuses to move the branch a registered working repository has checked out (see RegisterRepositoryOptions). */
  async function assertWritableBranch(record: RepositoryRecord, branch: string): Promise<void> {
    if (record.git.bare || record.allowWritesToCheckedOutBranch) return;
    if ((await record.git.headBranch()) === branch) {
      throw fail(
        'OperationNotAllowedException',
        `The Ballast sandbox will not move ${branch}: it is checked out in the working tree of ${record.name} ` +
          '(register the repository with allowWritesToCheckedOutBranch to permit it).',
      );
    }
  }

  /** A bare repository's first branch becomes its default branch, as in CodeCommit. */
  async function adoptFirstBranch(record: RepositoryRecord, branch: string): Promise<void> {
    if (!record.git.bare) return;
    const head = await record.git.headBranch();
    if (!head || !(await record.git.branchHead(head))) await record.git.setHeadBranch(branch);
  }

  // ---------------------------------------------------------------------------------------------
  // Operations

  async function createRepository(input: Input): Promise<unknown> {
    await loaded;
    const name = input.repositoryName;
    if (typeof name !== 'string' || name.length === 0) {
      throw fail('RepositoryNameRequiredException', 'A repository name is required, but was not specified.');
    }
    if (!isValidRepositoryName(name))
      throw fail('InvalidRepositoryNameException', `The repository name is not valid: ${name}`);
    const description = typeof input.repositoryDescription === 'string' ? input.repositoryDescription : undefined;
    if (description !== undefined && description.length > MAX_DESCRIPTION_CHARS) {
      throw fail(
        'InvalidRepositoryDescriptionException',
        'The repository description is longer than 1,000 characters.',
      );
    }
    if (repositories.has(name) || reserved.has(name)) {
      throw fail('RepositoryNameExistsException', `Repository named ${name} already exists`);
    }
    reserved.add(name);
    try {
      const gitDirPath = path.join(reposDir, `${name}.git`);
      if (existsSync(gitDirPath))
        throw fail('RepositoryNameExistsException', `Repository named ${name} already exists`);
      mkdirSync(reposDir, { recursive: true });
      const git = await GitRepository.initBare(gitDirPath, 'main', gitOptions);
      const now = ctx.clock.nowMs();
      const record: RepositoryRecord = {
        name,
        id: randomUUID(),
        description,
        creationDate: now,
        lastModifiedDate: now,
        git,
        allowWritesToCheckedOutBranch: true,
        refs: new Map(),
        lock: Promise.resolve(),
        comments: [],
      };
      writeFileSync(
        path.join(gitDirPath, METADATA_FILE),
        `${JSON.stringify({ repositoryId: record.id, repositoryDescription: description, creationDate: now }, null, 2)}\n`,
      );
      repositories.set(name, record);
      return { repositoryMetadata: repositoryMetadata(record, undefined) };
    } finally {
      reserved.delete(name);
    }
  }

  async function getRepository(input: Input): Promise<unknown> {
    const record = await repositoryOf(input);
    return { repositoryMetadata: repositoryMetadata(record, await defaultBranch(record)) };
  }

  async function listRepositories(input: Input): Promise<unknown> {
    await loaded;
    const sortBy = input.sortBy ?? 'repositoryName';
    const order = input.order ?? 'ascending';
    if (sortBy !== 'repositoryName' && sortBy !== 'lastModifiedDate') {
      throw fail('InvalidSortByException', 'The specified sort by value is not valid.');
    }
    if (order !== 'ascending' && order !== 'descending') {
      throw fail('InvalidOrderException', 'The specified sort order is not valid.');
    }
    const records = [...repositories.values()].sort((a, b) => {
      const byName = a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
      const primary = sortBy === 'lastModifiedDate' ? a.lastModifiedDate - b.lastModifiedDate : 0;
      return (primary || byName) * (order === 'descending' ? -1 : 1);
    });
    const offset = decodeToken(optionalString(input, 'nextToken'), `repos:${String(sortBy)}:${String(order)}`);
    const page = records.slice(offset, offset + REPOSITORY_PAGE_SIZE);
    const next = offset + page.length;
    return {
      repositories: page.map((r) => ({ repositoryName: r.name, repositoryId: r.id })),
      ...(next < records.length ? { nextToken: encodeToken(next, `repos:${String(sortBy)}:${String(order)}`) } : {}),
    };
  }

  async function getBranch(input: Input): Promise<unknown> {
    const record = await repositoryOf(input);
    const branchName = requireBranchName(input);
    const commitId = await record.git.branchHead(branchName);
    if (!commitId) throw fail('BranchDoesNotExistException', `Branch ${branchName} does not exist in ${record.name}`);
    return { branch: { branchName, commitId } };
  }

  async function listBranches(input: Input): Promise<unknown> {
    const record = await repositoryOf(input);
    const names = (await record.git.branches()).map((b) => b.name);
    const offset = decodeToken(optionalString(input, 'nextToken'), `branches:${record.name}`);
    const page = names.slice(offset, offset + BRANCH_PAGE_SIZE);
    const next = offset + page.length;
    return {
      branches: page,
      ...(next < names.length ? { nextToken: encodeToken(next, `branches:${record.name}`) } : {}),
    };
  }

  async function createBranch(input: Input): Promise<unknown> {
    const record = await repositoryOf(input);
    const branchName = requireBranchName(input);
    return withLock(record, async () => {
      if (await record.git.branchHead(branchName)) {
        throw fail('BranchNameExistsException', `Branch ${branchName} already exists in ${record.name}`);
      }
      const commitId = await requireCommitId(record, input.commitId);
      await assertWritableBranch(record, branchName);
      const refName = `refs/heads/${branchName}`;
      try {
        await record.git.updateRef(refName, commitId, null, 'ballast: CreateBranch');
      } catch (error) {
        if (error instanceof GitError && error.reason === 'ref-conflict') {
          throw fail('BranchNameExistsException', `Branch ${branchName} already exists in ${record.name}`);
        }
        throw error;
      }
      await adoptFirstBranch(record, branchName);
      recordRefWrite(record, refName, commitId);
      return {};
    });
  }

  async function getCommit(input: Input): Promise<unknown> {
    const record = await repositoryOf(input);
    const raw = input.commitId;
    if (typeof raw !== 'string' || raw.length === 0) {
      throw fail('CommitIdRequiredException', 'A commit ID is required, but was not specified.');
    }
    const commitId = raw.toLowerCase();
    if (!isFullObjectId(commitId))
      throw fail('InvalidCommitIdException', `The specified commit ID is not valid: ${raw}`);
    const commit = await record.git.readCommit(commitId);
    if (!commit) throw fail('CommitIdDoesNotExistException', `Could not find the specified commit ID: ${raw}`);
    const user = (who: GitIdentity) => ({ name: who.name, email: who.email, date: `${who.timestamp} ${who.timezone}` });
    return {
      commit: {
        commitId: commit.id,
        treeId: commit.treeId,
        parents: commit.parents,
        message: commit.message,
        author: user(commit.author),
        committer: user(commit.committer),
        additionalData: '',
      },
    };
  }

  async function getFile(input: Input): Promise<unknown> {
    const record = await repositoryOf(input);
    const rawPath = input.filePath;
    if (typeof rawPath !== 'string' || rawPath.length === 0) {
      throw fail('PathRequiredException', 'The filePath for a location cannot be null.');
    }
    const filePath = normalizePath(rawPath, false);
    const commitId = await requireCommit(record, optionalString(input, 'commitSpecifier'));
    const entry = await record.git.entry(commitId, filePath);
    if (!entry || !isFileEntry(entry)) {
      throw fail('FileDoesNotExistException', `The specified file does not exist: ${rawPath}`);
    }
    const size = entry.size ?? (await record.git.blobSize(entry.id));
    if (size > MAX_FILE_BYTES) {
      throw fail(
        'FileTooLargeException',
        `The file ${rawPath} is ${size} bytes; files larger than 6 MB cannot be read with the CodeCommit API.`,
      );
    }
    const content = await record.git.readBlob(entry.id, MAX_FILE_BYTES);
    return {
      commitId,
      blobId: entry.id,
      filePath,
      fileMode: fileModeName(entry.mode),
      fileSize: content.length,
      fileContent: content.toString('base64'),
    };
  }

  async function getFolder(input: Input): Promise<unknown> {
    const record = await repositoryOf(input);
    const rawPath = input.folderPath;
    if (typeof rawPath !== 'string')
      throw fail('PathRequiredException', 'The folderPath for a location cannot be null.');
    const folderPath = normalizePath(rawPath, true);
    const commitId = await requireCommit(record, optionalString(input, 'commitSpecifier'));
    const treeId = await record.git.treeIdAt(commitId, folderPath);
    if (!treeId) throw fail('FolderDoesNotExistException', `The specified folder does not exist: ${rawPath}`);
    const absolute = (name: string) => (folderPath ? `${folderPath}/${name}` : name);
    const files: unknown[] = [];
    const symbolicLinks: unknown[] = [];
    const subModules: unknown[] = [];
    const subFolders: unknown[] = [];
    for (const entry of await record.git.listTree(treeId)) {
      const base = { absolutePath: absolute(entry.path), relativePath: entry.path };
      if (entry.type === 'tree') subFolders.push({ treeId: entry.id, ...base });
      else if (entry.type === 'commit') subModules.push({ commitId: entry.id, ...base });
      else if (entry.mode === GIT_MODE.symlink) symbolicLinks.push({ blobId: entry.id, ...base, fileMode: 'SYMLINK' });
      else files.push({ blobId: entry.id, ...base, fileMode: fileModeName(entry.mode) });
    }
    return { commitId, folderPath, treeId, subFolders, files, symbolicLinks, subModules };
  }

  async function getDifferences(input: Input): Promise<unknown> {
    const record = await repositoryOf(input);
    const afterSpecifier = optionalString(input, 'afterCommitSpecifier');
    if (afterSpecifier === undefined)
      throw fail('CommitRequiredException', 'A commit is required, but was not specified.');
    const maxResults = input.MaxResults;
    if (maxResults !== undefined && (!Number.isSafeInteger(maxResults) || (maxResults as number) < 1)) {
      throw fail('InvalidMaxResultsException', 'The specified number of maximum results is not valid.');
    }
    const pageSize = (maxResults as number | undefined) ?? DEFAULT_DIFFERENCES_PAGE_SIZE;
    const beforeSpecifier = optionalString(input, 'beforeCommitSpecifier');
    const after = await requireCommit(record, afterSpecifier);
    const before = beforeSpecifier === undefined ? undefined : await requireCommit(record, beforeSpecifier);
    const rawBeforePath = optionalString(input, 'beforePath');
    const rawAfterPath = optionalString(input, 'afterPath');
    const beforePath = rawBeforePath === undefined ? undefined : normalizePath(rawBeforePath, true);
    const afterPath = rawAfterPath === undefined ? undefined : normalizePath(rawAfterPath, true);

    let diff: DiffEntry[];
    const limit = afterPath ?? beforePath;
    if (limit === undefined || limit === '') {
      diff = await record.git.diff(before, after);
    } else if (beforePath === undefined || afterPath === undefined || beforePath === afterPath) {
      // One path: "Limits the results to this path" — a filter, paths stay repository-relative.
      const inAfter = await record.git.entry(after, limit);
      const inBefore = before ? await record.git.entry(before, limit) : undefined;
      if (!inAfter && !inBefore) throw fail('PathDoesNotExistException', `The specified path does not exist: ${limit}`);
      diff = await record.git.diff(before, after, [limit]);
    } else {
      // Two different paths compare a folder with its renamed self; as in the AWS CLI example for
      // get-differences (--before-path tmp/example-folder --after-path tmp/renamed-folder), the
      // paths in the answer are relative to those folders.
      const beforeTree = before ? await record.git.treeIdAt(before, beforePath) : undefined;
      const afterTree = await record.git.treeIdAt(after, afterPath);
      if (!afterTree && !beforeTree) {
        throw fail('PathDoesNotExistException', `The specified path does not exist: ${afterPath}`);
      }
      diff = await record.git.diff(beforeTree, afterTree ?? (await record.git.emptyTreeId()));
    }

    const key = createHash('sha256')
      .update(JSON.stringify([record.name, before ?? null, after, beforePath ?? null, afterPath ?? null]))
      .digest('hex')
      .slice(0, 16);
    const offset = decodeToken(optionalString(input, 'NextToken'), key);
    const page = diff.slice(offset, offset + pageSize);
    const next = offset + page.length;
    return {
      differences: page.map((change) => ({
        ...(change.oldId !== undefined
          ? { beforeBlob: { blobId: change.oldId, path: change.path, mode: change.oldMode } }
          : {}),
        ...(change.newId !== undefined
          ? { afterBlob: { blobId: change.newId, path: change.path, mode: change.newMode } }
          : {}),
        // CodeCommit's ChangeTypeEnum has only A, M and D; a type change (file ↔ symlink) is a modification.
        changeType: change.status === 'T' ? 'M' : change.status,
      })),
      ...(next < diff.length ? { NextToken: encodeToken(next, key) } : {}),
    };
  }

  interface PutRequest {
    readonly path: string;
    readonly mode: string | undefined;
    readonly content: Buffer | undefined;
    readonly source: { readonly path: string; readonly isMove: boolean } | undefined;
  }

  function parseCommitEntries(input: Input): {
    puts: PutRequest[];
    deletes: string[];
    modes: Array<{ path: string; mode: string }>;
  } {
    const putFiles = objectList(input, 'putFiles');
    const deleteFiles = objectList(input, 'deleteFiles');
    const setFileModes = objectList(input, 'setFileModes');
    if (putFiles.length + deleteFiles.length + setFileModes.length === 0) {
      throw fail(
        'FileEntryRequiredException',
        'The commit cannot be created because no files have been specified as added, updated, or changed (PutFile or DeleteFile) for the commit.',
      );
    }
    const requirePath = (entry: Input): string => {
      const raw = entry.filePath;
      if (typeof raw !== 'string' || raw.length === 0) {
        throw fail('PathRequiredException', 'The filePath for a location cannot be null.');
      }
      return normalizePath(raw, false);
    };
    const seen = new Set<string>();
    const claim = (treePath: string) => {
      if (seen.has(treePath)) {
        throw fail(
          'SamePathRequestException',
          `The commit cannot be created because one or more changes in this commit duplicate actions in the same file path: ${treePath}`,
        );
      }
      seen.add(treePath);
    };

    let combined = 0;
    const puts: PutRequest[] = [];
    for (const entry of putFiles) {
      const treePath = requirePath(entry);
      const mode = entry.fileMode === undefined ? undefined : gitModeOf(entry.fileMode);
      if (entry.fileMode !== undefined && mode === undefined) {
        throw fail(
          'InvalidFileModeException',
          `The specified file mode permission is not valid: ${String(entry.fileMode)}`,
        );
      }
      const hasContent = entry.fileContent !== undefined && entry.fileContent !== null;
      const sourceInput = optionalObject(entry, 'sourceFile');
      if (hasContent && sourceInput) {
        throw fail(
          'FileContentAndSourceFileSpecifiedException',
          `The commit cannot be created because both a source file and file content have been specified for ${treePath}.`,
        );
      }
      if (!hasContent && !sourceInput) {
        throw fail(
          'SourceFileOrContentRequiredException',
          `The commit cannot be created because no source files or file content have been specified for ${treePath}.`,
        );
      }
      let content: Buffer | undefined;
      if (hasContent) {
        if (typeof entry.fileContent !== 'string') throw fail('SerializationException', 'fileContent must be base64');
        content = Buffer.from(entry.fileContent, 'base64');
        combined += content.length;
        if (content.length > MAX_FILE_BYTES || combined > MAX_COMBINED_CONTENT_BYTES) {
          throw fail(
            'FileContentSizeLimitExceededException',
            'The file cannot be added because it is too large. The maximum file size is 6 MB, and the combined file content change size is 7 MB. Consider making these changes using a Git client.',
          );
        }
      }
      let source: PutRequest['source'];
      if (sourceInput) {
        const sourcePath = requirePath(sourceInput);
        if (sourcePath.split('/').pop() === '.gitkeep') {
          throw fail(
            'RestrictedSourceFileException',
            'The commit cannot be created because one of the changes specifies copying or moving a .gitkeep file.',
          );
        }
        source = { path: sourcePath, isMove: sourceInput.isMove === true };
      }
      claim(treePath);
      puts.push({ path: treePath, mode, content, source });
    }
    for (const put of puts) if (put.source?.isMove) claim(put.source.path);
    const deletes = deleteFiles.map((entry) => {
      const treePath = requirePath(entry);
      claim(treePath);
      return treePath;
    });
    const modes = setFileModes.map((entry) => {
      const treePath = requirePath(entry);
      if (entry.fileMode === undefined || entry.fileMode === null) {
        throw fail(
          'FileModeRequiredException',
          `The commit cannot be created because no file mode has been specified for ${treePath}.`,
        );
      }
      const mode = gitModeOf(entry.fileMode);
      if (!mode)
        throw fail(
          'InvalidFileModeException',
          `The specified file mode permission is not valid: ${String(entry.fileMode)}`,
        );
      claim(treePath);
      return { path: treePath, mode };
    });

    // One put may not use another put's path as a folder ("a" and "a/b" in the same commit).
    const putPaths = new Set(puts.map((p) => p.path));
    for (const put of puts) {
      for (const dir of ancestors(put.path)) {
        if (putPaths.has(dir)) {
          throw fail(
            'PutFileEntryConflictException',
            `The commit cannot be created because ${dir} is specified both as a file and as a folder.`,
          );
        }
      }
    }
    return { puts, deletes, modes };
  }

  async function createCommit(input: Input): Promise<unknown> {
    const record = await repositoryOf(input);
    const branch = requireBranchName(input);
    const parentCommitId = optionalString(input, 'parentCommitId');
    const message = typeof input.commitMessage === 'string' ? input.commitMessage : DEFAULT_COMMIT_MESSAGE;
    if (Buffer.byteLength(message, 'utf8') > MAX_COMMIT_MESSAGE_BYTES) {
      throw fail('CommitMessageLengthExceededException', 'The commit message is longer than 256 KB.');
    }
    const authorName = optionalString(input, 'authorName') ?? defaultAuthorName;
    if (authorName.length > MAX_AUTHOR_NAME_CHARS) {
      throw fail('NameLengthExceededException', 'The user name is longer than 1,024 characters.');
    }
    const email = optionalString(input, 'email') ?? '';
    // biome-ignore lint/suspicious/noControlCharactersInRegex: a control character would corrupt the commit header
    if (email.length > MAX_EMAIL_CHARS || /[<>\x00-\x1f]/.test(email)) {
      throw fail('InvalidEmailException', `The specified email address is not valid: ${email}`);
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: as above, for the name
    if (/[<>\x00-\x1f]/.test(authorName)) throw fail('NameLengthExceededException', 'The user name is not valid.');
    const { puts, deletes, modes } = parseCommitEntries(input);

    return withLock(record, async () => {
      const git = record.git;
      const head = await git.branchHead(branch);
      let parent: string | null;
      if ((await git.branches()).length === 0) {
        // "parentCommitId: … Not required if this is an empty repository."
        if (parentCommitId !== undefined) {
          if (!isFullObjectId(parentCommitId.toLowerCase())) {
            throw fail('InvalidParentCommitIdException', `The parent commit ID is not valid: ${parentCommitId}`);
          }
          throw fail('ParentCommitDoesNotExistException', `The parent commit ID ${parentCommitId} does not exist.`);
        }
        parent = null;
      } else if (!head) {
        throw fail('BranchDoesNotExistException', `Branch ${branch} does not exist in ${record.name}`);
      } else {
        if (parentCommitId === undefined) {
          throw fail('ParentCommitIdRequiredException', 'A parent commit ID is required, but was not specified.');
        }
        const wanted = parentCommitId.toLowerCase();
        if (!isFullObjectId(wanted)) {
          throw fail('InvalidParentCommitIdException', `The parent commit ID is not valid: ${parentCommitId}`);
        }
        if ((await git.resolveCommit(wanted)) !== wanted) {
          throw fail('ParentCommitDoesNotExistException', `The parent commit ID ${parentCommitId} does not exist.`);
        }
        if (wanted !== head) {
          throw fail(
            'ParentCommitIdOutdatedException',
            `The parent commit ID ${parentCommitId} is not the current tip of ${branch} (${head}). Use GetBranch to find the current head.`,
          );
        }
        parent = head;
      }
      await assertWritableBranch(record, branch);

      const before = new Map<string, TreeEntry>();
      if (parent) for (const entry of await git.listTree(parent, { recursive: true })) before.set(entry.path, entry);
      const directories = new Set<string>();
      for (const treePath of before.keys()) for (const dir of ancestors(treePath)) directories.add(dir);
      const after = new Map<string, { mode: string; id: string }>();
      for (const [treePath, entry] of before) after.set(treePath, { mode: entry.mode, id: entry.id });
      const removed: string[] = [];

      const requireExistingFile = (treePath: string): TreeEntry => {
        const entry = before.get(treePath);
        if (!entry || !isFileEntry(entry)) {
          throw fail('FileDoesNotExistException', `The specified file does not exist: ${treePath}`);
        }
        return entry;
      };
      for (const treePath of deletes) {
        requireExistingFile(treePath);
        after.delete(treePath);
        removed.push(treePath);
      }
      for (const put of puts) {
        if (!put.source) continue;
        requireExistingFile(put.source.path);
        if (put.source.isMove) {
          after.delete(put.source.path);
          removed.push(put.source.path);
        }
      }
      for (const put of puts) {
        const existing = before.get(put.path);
        if (existing?.type === 'commit') {
          throw fail(
            'FilePathConflictsWithSubmodulePathException',
            `The commit cannot be created because ${put.path} is the path of a submodule.`,
          );
        }
        if (directories.has(put.path) && [...after.keys()].some((p) => p.startsWith(`${put.path}/`))) {
          throw fail(
            'FileNameConflictsWithDirectoryNameException',
            `A file cannot be added because ${put.path} is the name of a folder in this repository.`,
          );
        }
        for (const dir of ancestors(put.path)) {
          if (after.has(dir)) {
            throw fail(
              'DirectoryNameConflictsWithFileNameException',
              `A file cannot be added because the folder name ${dir} is the name of a file in this repository.`,
            );
          }
        }
        const source = put.source ? before.get(put.source.path) : undefined;
        const mode = put.mode ?? (existing ? existing.mode : undefined) ?? source?.mode ?? GIT_MODE.file;
        const id = put.content ? await git.writeBlob(put.content) : (source?.id ?? '');
        after.set(put.path, { mode, id });
      }
      for (const change of modes) {
        const current = after.get(change.path);
        if (!current || !before.has(change.path)) {
          throw fail('FileDoesNotExistException', `The specified file does not exist: ${change.path}`);
        }
        after.set(change.path, { ...current, mode: change.mode });
      }
      // "keepEmptyFolders: … If true, a .gitkeep file is created for empty folders."
      if (input.keepEmptyFolders === true) {
        for (const treePath of removed) {
          const dir = parentDirectory(treePath);
          if (dir === '') continue;
          const stillUsed = [...after.keys()].some((p) => p.startsWith(`${dir}/`));
          if (!stillUsed)
            after.set(`${dir}/.gitkeep`, { mode: GIT_MODE.file, id: await git.writeBlob(Buffer.alloc(0)) });
        }
      }

      const changes: TreeChange[] = [];
      const filesAdded: unknown[] = [];
      const filesUpdated: unknown[] = [];
      const filesDeleted: unknown[] = [];
      const meta = (treePath: string, entry: { mode: string; id: string }) => ({
        absolutePath: treePath,
        blobId: entry.id,
        fileMode: fileModeName(entry.mode),
      });
      for (const [treePath, entry] of after) {
        const old = before.get(treePath);
        if (old && old.id === entry.id && old.mode === entry.mode) continue;
        changes.push({ kind: 'put', path: treePath, mode: entry.mode, blobId: entry.id });
        (old ? filesUpdated : filesAdded).push(meta(treePath, entry));
      }
      for (const [treePath, entry] of before) {
        if (after.has(treePath)) continue;
        changes.push({ kind: 'delete', path: treePath });
        filesDeleted.push(meta(treePath, entry));
      }
      if (changes.length === 0) {
        throw fail(
          'NoChangeException',
          'The commit cannot be created because no changes will be made to the repository as a result of this commit. A commit must contain at least one change.',
        );
      }

      const treeId = await git.writeTree(parent ?? undefined, changes);
      const identity: GitIdentity = {
        name: authorName,
        email,
        timestamp: Math.floor(ctx.clock.nowMs() / 1000),
        timezone: '+0000',
      };
      const commitId = await git.commitTree({
        treeId,
        parents: parent ? [parent] : [],
        author: identity,
        committer: identity,
        message,
      });
      const refName = `refs/heads/${branch}`;
      try {
        await git.updateRef(refName, commitId, parent, 'ballast: CreateCommit');
      } catch (error) {
        if (error instanceof GitError && error.reason === 'ref-conflict') {
          throw fail(
            'ParentCommitIdOutdatedException',
            `${branch} moved while the commit was being created; its tip is no longer ${parent ?? '(none)'}.`,
          );
        }
        throw error;
      }
      if (!parent) await adoptFirstBranch(record, branch);
      recordRefWrite(record, refName, commitId);
      return { commitId, treeId, filesAdded, filesUpdated, filesDeleted };
    });
  }

  async function fileBlobAt(record: RepositoryRecord, commitId: string | undefined, treePath: string) {
    if (!commitId) return undefined;
    const entry = await record.git.entry(commitId, treePath);
    return entry && isFileEntry(entry) ? entry.id : undefined;
  }

  async function postCommentForComparedCommit(input: Input): Promise<unknown> {
    const record = await repositoryOf(input);
    const afterCommitId = await requireCommitId(record, input.afterCommitId);
    const rawBefore = optionalString(input, 'beforeCommitId');
    const beforeCommitId = rawBefore === undefined ? undefined : await requireCommitId(record, rawBefore);
    // "beforeCommitId: … Required for commenting on any commit unless that commit is the initial commit."
    if (beforeCommitId === undefined && ((await record.git.readCommit(afterCommitId))?.parents.length ?? 0) > 0) {
      throw fail('CommitIdRequiredException', 'A commit ID is required, but was not specified (beforeCommitId).');
    }
    if (beforeCommitId === afterCommitId) {
      throw fail(
        'BeforeCommitIdAndAfterCommitIdAreSameException',
        'The before commit ID and the after commit ID are the same.',
      );
    }
    const content = input.content;
    if (typeof content !== 'string' || content.length === 0) {
      throw fail(
        'CommentContentRequiredException',
        'The comment is empty. You must provide some content for a comment.',
      );
    }
    if (content.length > MAX_COMMENT_CHARS) {
      throw fail(
        'CommentContentSizeLimitExceededException',
        'The comment is too large. Comments are limited to 10,240 characters.',
      );
    }
    let location: StoredComment['location'];
    const locationInput = optionalObject(input, 'location');
    if (locationInput) {
      const rawPath = locationInput.filePath;
      if (typeof rawPath !== 'string' || rawPath.length === 0) {
        throw fail('PathRequiredException', 'The filePath for a location cannot be null.');
      }
      const filePath = normalizePath(rawPath, false);
      const version = locationInput.relativeFileVersion ?? 'AFTER';
      if (version !== 'BEFORE' && version !== 'AFTER') {
        throw fail(
          'InvalidRelativeFileVersionEnumException',
          'Either the enum is not in a valid format, or the specified file version enum is not valid.',
        );
      }
      const position = locationInput.filePosition;
      if (position !== undefined && (!Number.isSafeInteger(position) || (position as number) < 0)) {
        throw fail(
          'InvalidFilePositionException',
          'The position is not valid. Make sure that the line number exists in the version of the file you want to comment on.',
        );
      }
      const commitForVersion = version === 'BEFORE' ? beforeCommitId : afterCommitId;
      if (!(await fileBlobAt(record, commitForVersion, filePath))) {
        throw fail('PathDoesNotExistException', `The specified path does not exist: ${rawPath}`);
      }
      location = {
        filePath,
        ...(position !== undefined ? { filePosition: position as number } : {}),
        relativeFileVersion: version,
      };
    }
    const clientRequestToken = optionalString(input, 'clientRequestToken');
    const fingerprint = JSON.stringify([beforeCommitId ?? null, afterCommitId, location ?? null, content]);
    const replay = clientRequestToken
      ? record.comments.find((comment) => comment.clientRequestToken === clientRequestToken)
      : undefined;
    if (replay && replay.fingerprint !== fingerprint) {
      throw fail(
        'IdempotencyParameterMismatchException',
        'The client request token is not valid. Either the token is not in a valid format, or the token has been used in a previous request and cannot be reused.',
      );
    }
    let comment = replay;
    if (!comment) {
      comment = {
        commentId: randomUUID(),
        content,
        creationDate: ctx.clock.nowMs(),
        authorArn: callerUserArn,
        clientRequestToken,
        beforeCommitId,
        afterCommitId,
        beforeBlobId: location ? await fileBlobAt(record, beforeCommitId, location.filePath) : undefined,
        afterBlobId: location ? await fileBlobAt(record, afterCommitId, location.filePath) : undefined,
        location,
        fingerprint,
      };
      record.comments.push(comment);
      ctx.events.put({
        source: CODECOMMIT_EVENT_SOURCE,
        detailType: COMMENT_ON_COMMIT,
        resources: [arnOf(record.name)],
        detail: {
          ...(beforeCommitId ? { beforeCommitId } : {}),
          afterCommitId,
          callerUserArn,
          commentId: comment.commentId,
          event: 'commentOnCommitCreated',
          repositoryId: record.id,
          repositoryName: record.name,
          notificationBody: `A comment event occurred in the following repository: ${record.name}. The user ${callerUserArn} made a comment. The comment was made on the following comment ID: ${comment.commentId}.`,
        },
      });
    }
    return {
      repositoryName: record.name,
      ...comparedCommitFields(comment),
      comment: commentOutput(comment),
    };
  }

  function comparedCommitFields(comment: StoredComment): Record<string, unknown> {
    return {
      ...(comment.beforeCommitId ? { beforeCommitId: comment.beforeCommitId } : {}),
      afterCommitId: comment.afterCommitId,
      ...(comment.beforeBlobId ? { beforeBlobId: comment.beforeBlobId } : {}),
      ...(comment.afterBlobId ? { afterBlobId: comment.afterBlobId } : {}),
      ...(comment.location ? { location: comment.location } : {}),
    };
  }

  function commentOutput(comment: StoredComment): Record<string, unknown> {
    return {
      commentId: comment.commentId,
      content: comment.content,
      creationDate: epochSeconds(comment.creationDate),
      lastModifiedDate: epochSeconds(comment.creationDate),
      authorArn: comment.authorArn,
      deleted: false,
      ...(comment.clientRequestToken ? { clientRequestToken: comment.clientRequestToken } : {}),
      callerReactions: [],
      reactionCounts: {},
    };
  }

  async function getCommentsForComparedCommit(input: Input): Promise<unknown> {
    const record = await repositoryOf(input);
    const afterCommitId = await requireCommitId(record, input.afterCommitId);
    const rawBefore = optionalString(input, 'beforeCommitId');
    const beforeCommitId = rawBefore === undefined ? undefined : await requireCommitId(record, rawBefore);
    const maxResults = input.maxResults;
    if (
      maxResults !== undefined &&
      (!Number.isSafeInteger(maxResults) ||
        (maxResults as number) < 1 ||
        (maxResults as number) > MAX_COMMENTS_PAGE_SIZE)
    ) {
      throw fail('InvalidMaxResultsException', 'The specified number of maximum results is not valid.');
    }
    const pageSize = (maxResults as number | undefined) ?? DEFAULT_COMMENTS_PAGE_SIZE;
    const matching = record.comments.filter(
      (c) => c.afterCommitId === afterCommitId && c.beforeCommitId === beforeCommitId,
    );
    const key = `comments:${record.name}:${beforeCommitId ?? ''}:${afterCommitId}`;
    const offset = decodeToken(optionalString(input, 'nextToken'), key);
    const page = matching.slice(offset, offset + pageSize);
    // Comments on the same comparison and location are grouped, as CodeCommit does.
    const groups = new Map<string, { fields: Record<string, unknown>; comments: unknown[] }>();
    for (const comment of page) {
      const groupKey = JSON.stringify(comment.location ?? null);
      let group = groups.get(groupKey);
      if (!group) {
        group = { fields: { repositoryName: record.name, ...comparedCommitFields(comment) }, comments: [] };
        groups.set(groupKey, group);
      }
      group.comments.push(commentOutput(comment));
    }
    const next = offset + page.length;
    return {
      commentsForComparedCommitData: [...groups.values()].map((g) => ({ ...g.fields, comments: g.comments })),
      ...(next < matching.length ? { nextToken: encodeToken(next, key) } : {}),
    };
  }

  const pullRequests = createPullRequestOperations({
    ctx,
    callerUserArn,
    repositoryOf,
    defaultBranch,
    isValidBranchName,
    encodeToken,
    decodeToken,
  });

  const service = awsJsonService({
    signingName: 'codecommit',
    targetPrefix: 'CodeCommit_20150413',
    version: '1.1',
    throttlingCode: 'ThrottlingException',
    operations: {
      CreateRepository: createRepository,
      GetRepository: getRepository,
      ListRepositories: listRepositories,
      GetBranch: getBranch,
      ListBranches: listBranches,
      CreateBranch: createBranch,
      GetCommit: getCommit,
      GetFile: getFile,
      GetFolder: getFolder,
      GetDifferences: getDifferences,
      CreateCommit: createCommit,
      PostCommentForComparedCommit: postCommentForComparedCommit,
      GetCommentsForComparedCommit: getCommentsForComparedCommit,
      ...pullRequests,
    },
  });

  async function registerRepository(
    name: string,
    repoPath: string,
    registerOptions: RegisterRepositoryOptions = {},
  ): Promise<RepositorySummary> {
    await loaded;
    if (!isValidRepositoryName(name)) throw new Error(`invalid CodeCommit repository name: ${name}`);
    if (repositories.has(name) || reserved.has(name)) throw new Error(`a repository named ${name} is already served`);
    reserved.add(name);
    try {
      const git = await GitRepository.open(repoPath, gitOptions);
      const now = ctx.clock.nowMs();
      const record: RepositoryRecord = {
        name,
        id: stableUuid(`${ctx.account}:${ctx.region}:${name}:${git.gitDir}`),
        description: registerOptions.description,
        creationDate: now,
        lastModifiedDate: now,
        git,
        allowWritesToCheckedOutBranch: registerOptions.allowWritesToCheckedOutBranch ?? false,
        refs: await snapshotRefs(git),
        lock: Promise.resolve(),
        comments: [],
      };
      repositories.set(name, record);
      return summary(record);
    } finally {
      reserved.delete(name);
    }
  }

  async function detectReferenceChanges(name: string): Promise<Array<EventBridgeEvent<ReferenceChangeDetail>>> {
    await loaded;
    const record = repositories.get(name);
    if (!record) throw new Error(`no CodeCommit repository named ${name} is served`);
    return withLock(record, async () => {
      const current = await snapshotRefs(record.git);
      const previous = record.refs;
      const names = [...new Set([...previous.keys(), ...current.keys()])].sort();
      const events: Array<EventBridgeEvent<ReferenceChangeDetail>> = [];
      for (const refName of names) {
        const was = previous.get(refName);
        const now = current.get(refName);
        if (was === now) continue;
        const event = emitReferenceChange(record, refName, was, now);
        if (event) events.push(event);
      }
      record.refs = current;
      return events;
    });
  }

  function watchRepository(name: string, intervalMs = 1000, onError?: (error: unknown) => void): () => void {
    let running = false;
    let stopped = false;
    const timer = setInterval(() => {
      if (running || stopped) return;
      running = true;
      void detectReferenceChanges(name)
        .catch((error: unknown) => onError?.(error))
        .finally(() => {
          running = false;
        });
    }, intervalMs);
    timer.unref();
    const stop = () => {
      stopped = true;
      clearInterval(timer);
      watchers.delete(stop);
    };
    watchers.add(stop);
    return stop;
  }

  return {
    ...service,
    ready: () => loaded,
    registerRepository,
    repository: (name) => {
      const record = repositories.get(name);
      return record ? summary(record) : undefined;
    },
    git: (name) => repositories.get(name)?.git,
    detectReferenceChanges,
    watchRepository,
    close: () => {
      for (const stop of [...watchers]) stop();
    },
  };
}
