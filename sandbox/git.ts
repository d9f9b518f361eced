import { execFile } from 'node:child_process';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { devNull, tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A small typed wrapper over the `git` CLI for one repository on disk (bare or with a working tree).
 *
 * The CodeCommit sandbox and the local runner read commits, trees, blobs and diffs through it, and
 * write commits with plumbing only (hash-object, a throw-away index, write-tree, commit-tree,
 * update-ref with the expected old value), so a user's working tree and index are never touched.
 *
 * Every call runs `git` with an argument array (never a shell), a timeout and an output cap, in an
 * environment built from scratch: no system or global config, no inherited `GIT_*` variables (a
 * hook's `GIT_DIR` or `GIT_INDEX_FILE` would otherwise redirect us), literal pathspecs, no hooks,
 * no commit signing. Repository-local config still applies where it cannot change what we read.
 */

export const DEFAULT_GIT_TIMEOUT_MS = 30_000;
/** The most any single git call may print before it is treated as an error. */
export const DEFAULT_GIT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** The largest blob `readBlob` returns unless the caller asks for a different limit. */
export const DEFAULT_MAX_BLOB_BYTES = 64 * 1024 * 1024;

/** Git tree entry modes. `100664` is a legacy regular-file mode some old repositories still carry. */
export const GIT_MODE = {
  file: '100644',
  executable: '100755',
  symlink: '120000',
  submodule: '160000',
  tree: '040000',
} as const;

export type GitObjectType = 'blob' | 'tree' | 'commit' | 'tag';

export interface TreeEntry {
  /** Octal mode as git prints it: `100644`, `100755`, `120000` (symlink), `160000` (submodule), `040000`. */
  readonly mode: string;
  readonly type: GitObjectType;
  readonly id: string;
  /** Blob size in bytes; undefined for trees and submodules. */
  readonly size: number | undefined;
  /** Path relative to the tree that was listed, `/`-separated, no leading slash. */
  readonly path: string;
}

export interface GitIdentity {
  readonly name: string;
  readonly email: string;
  /** Seconds since the epoch. */
  readonly timestamp: number;
  /** Offset as git stores it: `+0000`, `-0800`. */
  readonly timezone: string;
}

export interface CommitInfo {
  readonly id: string;
  readonly treeId: string;
  readonly parents: readonly string[];
  readonly author: GitIdentity;
  readonly committer: GitIdentity;
  /** The message exactly as stored (usually with its trailing newline). */
  readonly message: string;
}

/** `A`dded, `M`odified, `D`eleted, or `T`ype changed (file ↔ symlink ↔ submodule). Renames are off. */
export type DiffStatus = 'A' | 'M' | 'D' | 'T';

export interface DiffEntry {
  readonly status: DiffStatus;
  readonly path: string;
  /** Undefined for additions. */
  readonly oldMode: string | undefined;
  readonly oldId: string | undefined;
  /** Undefined for deletions. */
  readonly newMode: string | undefined;
  readonly newId: string | undefined;
}

export type TreeChange =
  | { readonly kind: 'put'; readonly path: string; readonly mode: string; readonly blobId: string }
  | { readonly kind: 'delete'; readonly path: string };

export interface RefInfo {
  /** Full ref name: `refs/heads/main`, `refs/tags/v1`. */
  readonly name: string;
  /** The commit the ref points to (annotated tags are peeled). */
  readonly commitId: string;
}

export type GitErrorReason = 'failed' | 'timeout' | 'output-too-large' | 'blob-too-large' | 'ref-conflict';

/** A git call that failed, timed out, printed too much, or (for update-ref) lost a compare-and-swap. */
export class GitError extends Error {
  override readonly name = 'GitError';
  constructor(
    message: string,
    readonly reason: GitErrorReason,
    readonly args: readonly string[] = [],
    readonly stderr = '',
    readonly exitCode: number | undefined = undefined,
  ) {
    super(message);
  }
}

export interface GitRunOptions {
  readonly input?: Buffer | string;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  readonly maxOutputBytes?: number;
  /** Exit codes that are answers rather than failures (`rev-parse --verify -q` exits 1 for "no such object"). */
  readonly okExitCodes?: readonly number[];
}

export interface GitRunResult {
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly exitCode: number;
}

export interface GitRepositoryOptions {
  /** Per-call timeout. Default 30 s. */
  readonly timeoutMs?: number;
  /** Output cap per call. Default 64 MiB. */
  readonly maxOutputBytes?: number;
  /** The `git` executable. Default `git` from PATH. */
  readonly gitPath?: string;
}

/**
 * Config given on the command line wins over the repository's own, so a user's `commit.gpgSign`,
 * hooks or fsmonitor daemon cannot run, block or change what the sandbox writes.
 */
const CONFIG_OVERRIDES = [
  '-c',
  `core.hooksPath=${devNull}`,
  '-c',
  'core.fsmonitor=false',
  '-c',
  'commit.gpgSign=false',
  '-c',
  'i18n.commitEncoding=UTF-8',
  '-c',
  'gc.auto=0',
  '-c',
  'maintenance.auto=false',
  '-c',
  'core.quotePath=false',
  // The repository is one the sandbox was told to serve; do not refuse it for being owned by
  // another uid (container bind mounts). Command-line config is "protected" and may set this.
  '-c',
  'safe.directory=*',
];

/** A HOME that does not exist: git then reads no per-user files (attributes, ignores, credentials). */
const ISOLATED_HOME = path.join(tmpdir(), 'ballast-git-no-home');

function gitEnvironment(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: ISOLATED_HOME,
    XDG_CONFIG_HOME: ISOLATED_HOME,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: devNull,
    GIT_TERMINAL_PROMPT: '0',
    GIT_LITERAL_PATHSPECS: '1',
    GIT_OPTIONAL_LOCKS: '0',
    GIT_ADVICE: '0',
    LC_ALL: 'C',
    LANG: 'C',
  };
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  if (process.env.SYSTEMROOT) env.SYSTEMROOT = process.env.SYSTEMROOT;
  return { ...env, ...extra };
}

/** Runs git once. Exported for tests and for callers that need a one-off command (e.g. `git init`). */
export function runGit(
  args: readonly string[],
  options: GitRunOptions & { readonly cwd?: string; readonly gitPath?: string } = {},
): Promise<GitRunResult> {
  const timeout = options.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS;
  const maxBuffer = options.maxOutputBytes ?? DEFAULT_GIT_MAX_OUTPUT_BYTES;
  const fullArgs = [...CONFIG_OVERRIDES, ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      options.gitPath ?? 'git',
      fullArgs,
      {
        cwd: options.cwd ?? tmpdir(),
        env: gitEnvironment(options.env),
        timeout,
        killSignal: 'SIGKILL',
        maxBuffer,
        encoding: 'buffer',
        windowsHide: true,
      },
      (error, stdout, stderrBuffer) => {
        const stderr = stderrBuffer.toString('utf8').trim();
        if (!error) {
          resolve({ stdout, stderr, exitCode: 0 });
          return;
        }
        const err = error as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
        if (err.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          reject(new GitError(`git ${args[0]} printed more than ${maxBuffer} bytes`, 'output-too-large', args, stderr));
          return;
        }
        if (err.killed) {
          reject(new GitError(`git ${args[0]} timed out after ${timeout} ms`, 'timeout', args, stderr));
          return;
        }
        const exitCode = typeof err.code === 'number' ? err.code : undefined;
        if (exitCode !== undefined && options.okExitCodes?.includes(exitCode)) {
          resolve({ stdout, stderr, exitCode });
          return;
        }
        reject(
          new GitError(
            `git ${args[0]} failed${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${stderr || err.message}`,
            'failed',
            args,
            stderr,
            exitCode,
          ),
        );
      },
    );
    // A command that exits before reading all of its input closes the pipe; that is reported by
    // the exit status above, not as an unhandled EPIPE.
    child.stdin?.on('error', () => {});
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

const HEX_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** True for a full object id (SHA-1 or SHA-256), lower-case hex. */
export function isFullObjectId(value: string): boolean {
  return HEX_ID.test(value);
}

/**
 * Whether `name` is a valid branch or tag name under git-check-ref-format's rules (checked here so a
 * name can be put after `refs/heads/` without being read as revision syntax like `main~1`).
 */
export function isValidRefName(name: string): boolean {
  if (name.length === 0 || name === '@') return false;
  if (name.startsWith('/') || name.endsWith('/') || name.endsWith('.') || name.startsWith('-')) return false;
  if (name.includes('..') || name.includes('//') || name.includes('@{')) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is forbidden
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  return name.split('/').every((part) => part.length > 0 && !part.startsWith('.') && !part.endsWith('.lock'));
}

/**
 * Rejects tree paths git would refuse or silently drop (`update-index --index-info` prints
 * "Ignoring path" and exits 0), and paths that would escape the tree: empty components, `.`, `..`,
 * any `.git` component, NUL, a leading or trailing slash.
 */
export function assertSafeTreePath(treePath: string): void {
  const problem = treePathProblem(treePath);
  if (problem) throw new GitError(`unsafe tree path ${JSON.stringify(treePath)}: ${problem}`, 'failed');
}

export function treePathProblem(treePath: string): string | undefined {
  if (treePath.length === 0) return 'empty';
  if (treePath.includes('\0')) return 'contains NUL';
  if (treePath.startsWith('/') || treePath.endsWith('/')) return 'leading or trailing slash';
  for (const part of treePath.split('/')) {
    if (part.length === 0) return 'empty path component';
    if (part === '.' || part === '..') return `"${part}" component`;
    if (part.toLowerCase() === '.git') return '".git" component';
  }
  return undefined;
}

/** A Git repository on disk. Construct with `GitRepository.open` or `GitRepository.initBare`. */
export class GitRepository {
  private objectFormatCache: 'sha1' | 'sha256' | undefined;
  private emptyTreeCache: string | undefined;

  private constructor(
    /** Absolute path of the git directory (`repo.git`, or `work/.git`). */
    readonly gitDir: string,
    /** The working tree's top directory, or undefined for a bare repository. */
    readonly workTree: string | undefined,
    private readonly options: GitRepositoryOptions,
  ) {}

  get bare(): boolean {
    return this.workTree === undefined;
  }

  /**
   * Opens the repository whose git directory or working-tree top is exactly `repoPath` (a path
   * inside some other repository's working tree is refused rather than silently served).
   */
  static async open(repoPath: string, options: GitRepositoryOptions = {}): Promise<GitRepository> {
    const requested = await realpath(repoPath);
    const probe = await runGit(['rev-parse', '--absolute-git-dir', '--is-bare-repository'], {
      cwd: requested,
      timeoutMs: options.timeoutMs,
      gitPath: options.gitPath,
      env: { GIT_CEILING_DIRECTORIES: path.dirname(requested) },
    });
    const [gitDirLine, bareLine] = probe.stdout.toString('utf8').split('\n');
    if (!gitDirLine) throw new GitError(`${repoPath} is not a git repository`, 'failed');
    const gitDir = await realpath(gitDirLine);
    if (bareLine === 'true') {
      if (gitDir !== requested) throw new GitError(`${repoPath} is inside the bare repository ${gitDir}`, 'failed');
      return new GitRepository(gitDir, undefined, options);
    }
    if (gitDir === requested) {
      // Pointed at `work/.git` itself: its working tree is the directory that holds it.
      if (path.basename(gitDir) !== '.git') throw new GitError(`cannot tell the working tree of ${repoPath}`, 'failed');
      return new GitRepository(gitDir, path.dirname(gitDir), options);
    }
    const top = await runGit(['rev-parse', '--show-toplevel'], {
      cwd: requested,
      timeoutMs: options.timeoutMs,
      gitPath: options.gitPath,
      env: { GIT_CEILING_DIRECTORIES: path.dirname(requested) },
    });
    const workTree = await realpath(top.stdout.toString('utf8').trim());
    if (workTree !== requested) {
      throw new GitError(`${repoPath} is not the top of a git working tree (that is ${workTree})`, 'failed');
    }
    return new GitRepository(gitDir, workTree, options);
  }

  /** Creates a bare repository at `repoPath` (which must not hold one yet) and opens it. */
  static async initBare(
    repoPath: string,
    initialBranch = 'main',
    options: GitRepositoryOptions = {},
  ): Promise<GitRepository> {
    if (!isValidRefName(initialBranch)) throw new GitError(`invalid branch name ${initialBranch}`, 'failed');
    await runGit(['init', '--quiet', '--bare', `--initial-branch=${initialBranch}`, '--', repoPath], {
      timeoutMs: options.timeoutMs,
      gitPath: options.gitPath,
    });
    return GitRepository.open(repoPath, options);
  }

  /** Runs a git command against this repository (`--git-dir` is added). */
  async run(args: readonly string[], options: GitRunOptions = {}): Promise<GitRunResult> {
    return runGit([`--git-dir=${this.gitDir}`, ...args], {
      ...options,
      cwd: this.gitDir,
      timeoutMs: options.timeoutMs ?? this.options.timeoutMs,
      maxOutputBytes: options.maxOutputBytes ?? this.options.maxOutputBytes,
      gitPath: this.options.gitPath,
    });
  }

  private async text(args: readonly string[], options: GitRunOptions = {}): Promise<string> {
    return (await this.run(args, options)).stdout.toString('utf8').trim();
  }

  async objectFormat(): Promise<'sha1' | 'sha256'> {
    if (!this.objectFormatCache) {
      const format = await this.text(['rev-parse', '--show-object-format']);
      this.objectFormatCache = format === 'sha256' ? 'sha256' : 'sha1';
    }
    return this.objectFormatCache;
  }

  /** The all-zero object id, which `update-ref` reads as "the ref must not exist yet". */
  async zeroId(): Promise<string> {
    return '0'.repeat((await this.objectFormat()) === 'sha256' ? 64 : 40);
  }

  /** The id of the empty tree (git knows it without it being stored). */
  async emptyTreeId(): Promise<string> {
    this.emptyTreeCache ??= await this.text(['hash-object', '-t', 'tree', '--stdin'], { input: '' });
    return this.emptyTreeCache;
  }

  /**
   * Resolves a revision to a commit id, or undefined when it names no commit. Pass only full ids,
   * validated ref names (`refs/heads/x`) or `HEAD`: anything else is git revision syntax.
   */
  async resolveCommit(revision: string): Promise<string | undefined> {
    if (revision.length === 0 || revision.includes('\0')) return undefined;
    const result = await this.run(['rev-parse', '--verify', '--quiet', '--end-of-options', `${revision}^{commit}`], {
      okExitCodes: [1, 128],
    });
    const id = result.stdout.toString('utf8').trim();
    return result.exitCode === 0 && isFullObjectId(id) ? id : undefined;
  }

  /** The object type of `id`, or undefined when no such object exists. */
  async objectType(id: string): Promise<GitObjectType | undefined> {
    if (!isFullObjectId(id)) return undefined;
    const result = await this.run(['cat-file', '-t', id], { okExitCodes: [1, 128] });
    if (result.exitCode !== 0) return undefined;
    const type = result.stdout.toString('utf8').trim();
    return type === 'blob' || type === 'tree' || type === 'commit' || type === 'tag' ? type : undefined;
  }

  /** Branches and tags with the commits they point at. */
  async refs(prefixes: readonly string[] = ['refs/heads/', 'refs/tags/']): Promise<RefInfo[]> {
    const out = await this.run(['for-each-ref', '--format=%(refname)%00%(objectname)%00%(*objectname)', ...prefixes]);
    const refs: RefInfo[] = [];
    for (const line of out.stdout.toString('utf8').split('\n')) {
      if (!line) continue;
      const [name, objectId, peeled] = line.split('\0');
      if (!name || !objectId) continue;
      refs.push({ name, commitId: peeled || objectId });
    }
    return refs;
  }

  /** Local branches (short names) with their head commits, sorted by name. */
  async branches(): Promise<Array<{ name: string; commitId: string }>> {
    return (await this.refs(['refs/heads/']))
      .map((ref) => ({ name: ref.name.slice('refs/heads/'.length), commitId: ref.commitId }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The commit a branch points at, or undefined when the branch does not exist. */
  async branchHead(branch: string): Promise<string | undefined> {
    if (!isValidRefName(branch)) return undefined;
    return this.resolveCommit(`refs/heads/${branch}`);
  }

  /** The branch HEAD names (even if it has no commits yet), or undefined when HEAD is detached. */
  async headBranch(): Promise<string | undefined> {
    const result = await this.run(['symbolic-ref', '--quiet', 'HEAD'], { okExitCodes: [1, 128] });
    const ref = result.stdout.toString('utf8').trim();
    return result.exitCode === 0 && ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
  }

  /** Points HEAD at a branch (a bare repository's "default branch"). */
  async setHeadBranch(branch: string): Promise<void> {
    if (!isValidRefName(branch)) throw new GitError(`invalid branch name ${branch}`, 'failed');
    await this.run(['symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
  }

  /** Reads and parses a commit object, or undefined when `id` is not a commit. */
  async readCommit(id: string): Promise<CommitInfo | undefined> {
    if (!isFullObjectId(id)) return undefined;
    if ((await this.objectType(id)) !== 'commit') return undefined;
    // Commit metadata is capped at 20 MB by CodeCommit; the same cap keeps memory bounded here.
    const raw = await this.run(['cat-file', 'commit', id], { maxOutputBytes: 20 * 1024 * 1024 });
    return parseCommit(id, raw.stdout);
  }

  /**
   * Lists a tree: the root tree of a commit, or `<commit>:<dir>`. With `recursive`, descends into
   * subtrees and returns only blobs and submodules, with paths relative to the listed tree.
   */
  async listTree(treeish: string, options: { recursive?: boolean } = {}): Promise<TreeEntry[]> {
    const args = ['ls-tree', '-z', '-l', '--full-tree'];
    if (options.recursive) args.push('-r');
    args.push('--end-of-options', treeish);
    return parseLsTree((await this.run(args)).stdout);
  }

  /** The entry at `treePath` in `commitOrTree` (file, symlink, submodule or tree), or undefined. */
  async entry(commitOrTree: string, treePath: string): Promise<TreeEntry | undefined> {
    if (treePathProblem(treePath)) return undefined;
    const out = await this.run([
      'ls-tree',
      '-z',
      '-l',
      '--full-tree',
      '--end-of-options',
      commitOrTree,
      '--',
      treePath,
    ]);
    return parseLsTree(out.stdout).find((entry) => entry.path === treePath);
  }

  /** The id of the tree at `dirPath` in `commit` (`''` is the root), or undefined when it is not a tree. */
  async treeIdAt(commit: string, dirPath: string): Promise<string | undefined> {
    if (dirPath === '') return (await this.readCommit(commit))?.treeId;
    const entry = await this.entry(commit, dirPath);
    return entry?.type === 'tree' ? entry.id : undefined;
  }

  async blobSize(id: string): Promise<number> {
    const size = Number(await this.text(['cat-file', '-s', id]));
    if (!Number.isSafeInteger(size)) throw new GitError(`git cat-file -s ${id} printed no size`, 'failed');
    return size;
  }

  /** Reads a blob's bytes. Throws `GitError` with reason `blob-too-large` past `maxBytes` (checked first). */
  async readBlob(id: string, maxBytes = DEFAULT_MAX_BLOB_BYTES): Promise<Buffer> {
    if (!isFullObjectId(id)) throw new GitError(`not an object id: ${id}`, 'failed');
    const size = await this.blobSize(id);
    if (size > maxBytes) {
      throw new GitError(`blob ${id} is ${size} bytes, over the ${maxBytes}-byte limit`, 'blob-too-large');
    }
    return (await this.run(['cat-file', 'blob', id], { maxOutputBytes: size + 1 })).stdout;
  }

  /**
   * The files that differ between two trees (commits or `<commit>:<dir>` tree-ishes), with renames
   * off: a rename is a deletion plus an addition. `before` undefined compares with the empty tree.
   * `paths` limits the diff to those paths (literal, a directory includes everything below it).
   */
  async diff(before: string | undefined, after: string, paths: readonly string[] = []): Promise<DiffEntry[]> {
    const base = before ?? (await this.emptyTreeId());
    const args = ['diff-tree', '-r', '-z', '--raw', '--no-renames', '--no-abbrev', '--end-of-options', base, after];
    if (paths.length > 0) args.push('--', ...paths);
    return parseRawDiff((await this.run(args)).stdout, await this.zeroId());
  }

  /** Stores `content` as a blob (no clean/smudge filters) and returns its id. */
  async writeBlob(content: Buffer): Promise<string> {
    return this.text(['hash-object', '-w', '--no-filters', '--stdin'], { input: content });
  }

  /**
   * Builds a tree from `base` (a commit or tree id; undefined for an empty tree) plus `changes`, in a
   * temporary index, and returns its id. A put whose parent directories exist as files replaces
   * them (git's own rule); callers that must refuse such conflicts check before.
   */
  async writeTree(base: string | undefined, changes: readonly TreeChange[]): Promise<string> {
    for (const change of changes) assertSafeTreePath(change.path);
    const zero = await this.zeroId();
    const dir = await mkdtemp(path.join(tmpdir(), 'ballast-index-'));
    const env = { GIT_INDEX_FILE: path.join(dir, 'index') };
    try {
      if (base) await this.run(['read-tree', '--end-of-options', base], { env });
      else await this.run(['read-tree', '--empty'], { env });
      if (changes.length > 0) {
        const input = changes
          .map((change) =>
            change.kind === 'delete'
              ? `0 ${zero}\t${change.path}\0`
              : `${change.mode} ${change.blobId}\t${change.path}\0`,
          )
          .join('');
        const result = await this.run(['update-index', '-z', '--index-info'], { env, input });
        if (result.stderr.includes('Ignoring path')) {
          throw new GitError(`git update-index refused a path: ${result.stderr}`, 'failed', ['update-index']);
        }
      }
      return await this.text(['write-tree'], { env });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Writes a commit object for `treeId` and returns its id (no ref is moved). */
  async commitTree(input: {
    treeId: string;
    parents: readonly string[];
    author: GitIdentity;
    committer: GitIdentity;
    message: string;
  }): Promise<string> {
    const args = ['commit-tree', input.treeId];
    for (const parent of input.parents) args.push('-p', parent);
    args.push('-F', '-');
    return this.text(args, {
      input: input.message,
      env: {
        GIT_AUTHOR_NAME: input.author.name,
        GIT_AUTHOR_EMAIL: input.author.email,
        GIT_AUTHOR_DATE: `@${input.author.timestamp} ${input.author.timezone}`,
        GIT_COMMITTER_NAME: input.committer.name,
        GIT_COMMITTER_EMAIL: input.committer.email,
        GIT_COMMITTER_DATE: `@${input.committer.timestamp} ${input.committer.timezone}`,
      },
    });
  }

  /**
   * Moves `ref` to `newId` only if it still points at `expectedOldId` (null: only if it does not
   * exist yet). Losing that compare-and-swap throws `GitError` with reason `ref-conflict`.
   */
  async updateRef(ref: string, newId: string, expectedOldId: string | null, reason = 'ballast'): Promise<void> {
    const old = expectedOldId ?? (await this.zeroId());
    try {
      await this.run(['update-ref', '-m', reason, '--no-deref', ref, newId, old]);
    } catch (error) {
      if (!(error instanceof GitError) || error.reason !== 'failed') throw error;
      const current = await this.resolveCommit(ref);
      if (current !== (expectedOldId ?? undefined)) {
        throw new GitError(
          `${ref} is at ${current ?? '(missing)'}, expected ${expectedOldId ?? '(missing)'}`,
          'ref-conflict',
          error.args,
          error.stderr,
          error.exitCode,
        );
      }
      throw error;
    }
  }

  /**
   * Creates a commit on `branch` without a working tree: blobs, a temporary index, write-tree,
   * commit-tree, then update-ref guarded by the branch's expected head (compare-and-swap).
   */
  async createCommit(input: {
    branch: string;
    /** The branch head the commit builds on; null when the branch must not exist yet. */
    expectedHead: string | null;
    changes: ReadonlyArray<
      { readonly kind: 'put'; readonly path: string; readonly mode: string; readonly content: Buffer } | TreeChange
    >;
    author: GitIdentity;
    committer?: GitIdentity;
    message: string;
  }): Promise<{ commitId: string; treeId: string }> {
    if (!isValidRefName(input.branch)) throw new GitError(`invalid branch name ${input.branch}`, 'failed');
    const changes: TreeChange[] = [];
    for (const change of input.changes) {
      if ('content' in change) {
        assertSafeTreePath(change.path);
        changes.push({
          kind: 'put',
          path: change.path,
          mode: change.mode,
          blobId: await this.writeBlob(change.content),
        });
      } else {
        changes.push(change);
      }
    }
    const treeId = await this.writeTree(input.expectedHead ?? undefined, changes);
    const commitId = await this.commitTree({
      treeId,
      parents: input.expectedHead ? [input.expectedHead] : [],
      author: input.author,
      committer: input.committer ?? input.author,
      message: input.message,
    });
    await this.updateRef(`refs/heads/${input.branch}`, commitId, input.expectedHead, 'ballast: commit');
    return { commitId, treeId };
  }
}

/** Parses `git cat-file commit` output. */
export function parseCommit(id: string, raw: Buffer): CommitInfo {
  const text = raw.toString('utf8');
  const split = text.indexOf('\n\n');
  const header = split === -1 ? text : text.slice(0, split);
  const message = split === -1 ? '' : text.slice(split + 2);
  let treeId = '';
  const parents: string[] = [];
  let author: GitIdentity | undefined;
  let committer: GitIdentity | undefined;
  for (const line of header.split('\n')) {
    // Continuation lines (a gpgsig or mergetag block) start with a space and belong to the previous header.
    if (line.startsWith(' ')) continue;
    const space = line.indexOf(' ');
    const key = space === -1 ? line : line.slice(0, space);
    const value = space === -1 ? '' : line.slice(space + 1);
    if (key === 'tree') treeId = value;
    else if (key === 'parent') parents.push(value);
    else if (key === 'author') author = parseIdentity(value);
    else if (key === 'committer') committer = parseIdentity(value);
  }
  const unknown: GitIdentity = { name: '', email: '', timestamp: 0, timezone: '+0000' };
  return { id, treeId, parents, author: author ?? unknown, committer: committer ?? author ?? unknown, message };
}

/** Parses `Name <email> 1484167798 -0800`. */
export function parseIdentity(value: string): GitIdentity {
  const match = /^(.*?) ?<([^>]*)> (-?\d+)(?: ([+-]\d{4}))?$/.exec(value);
  if (!match) return { name: value, email: '', timestamp: 0, timezone: '+0000' };
  return {
    name: match[1] ?? '',
    email: match[2] ?? '',
    timestamp: Number(match[3]),
    timezone: match[4] ?? '+0000',
  };
}

/** Parses `git ls-tree -z -l` output: `<mode> SP <type> SP <id> SP+ <size|->\t<path>\0`. */
export function parseLsTree(out: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  for (const record of out.toString('utf8').split('\0')) {
    if (!record) continue;
    const tab = record.indexOf('\t');
    if (tab === -1) continue;
    const [mode, type, id, size] = record.slice(0, tab).split(/ +/);
    if (!mode || !type || !id) continue;
    entries.push({
      mode: mode.padStart(6, '0'),
      type: type as GitObjectType,
      id,
      size: size && size !== '-' ? Number(size) : undefined,
      path: record.slice(tab + 1),
    });
  }
  return entries;
}

/** Parses `git diff-tree -r -z --raw --no-renames` output. */
export function parseRawDiff(out: Buffer, zeroId: string): DiffEntry[] {
  const tokens = out.toString('utf8').split('\0');
  const entries: DiffEntry[] = [];
  for (let i = 0; i + 1 < tokens.length; i += 2) {
    const meta = tokens[i];
    const filePath = tokens[i + 1];
    if (!meta?.startsWith(':') || filePath === undefined) continue;
    const [oldMode, newMode, oldId, newId, status] = meta.slice(1).split(' ');
    if (!oldMode || !newMode || !oldId || !newId || !status) continue;
    const kind = status.charAt(0);
    if (kind !== 'A' && kind !== 'M' && kind !== 'D' && kind !== 'T') continue;
    entries.push({
      status: kind,
      path: filePath,
      oldMode: kind === 'A' ? undefined : oldMode,
      oldId: kind === 'A' || oldId === zeroId ? undefined : oldId,
      newMode: kind === 'D' ? undefined : newMode,
      newId: kind === 'D' || newId === zeroId ? undefined : newId,
    });
  }
  return entries;
}
