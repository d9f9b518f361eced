/**
 * CodeCommit as a push source: the EventBridge "CodeCommit Repository State Change" event, the
 * repository's files at a commit (a RepoSource), and the commit comment Record posts.
 *
 * Event shape: CodeCommit User Guide, "Monitoring CodeCommit events in Amazon EventBridge and Amazon
 * CloudWatch Events" (referenceCreated / referenceUpdated / referenceDeleted examples).
 * API shapes: CodeCommit API Reference, GetFolder / GetFile / GetDifferences / GetCommit /
 * PostCommentForComparedCommit.
 */
import { createHash } from 'node:crypto';
import {
  type CodeCommitClient,
  GetCommitCommand,
  GetDifferencesCommand,
  GetFileCommand,
  GetFolderCommand,
  PostCommentForComparedCommitCommand,
} from '@aws-sdk/client-codecommit';
import { classify, InvalidInputError } from '../aws/errors.ts';
import {
  isCandidatePath,
  isSafeRelativePath,
  isSkippedDirectory,
  type RepoEntry,
  RepoSourceError,
} from '../spec/source.ts';
import type { CandidateChanges, IncrementalRepoSource } from '../workflow/snapshot.ts';
import type { Push } from '../workflow/types.ts';
import {
  byPath,
  DEFAULT_MAX_READ_BYTES,
  isObject,
  isZeroId,
  mapWithConcurrency,
  optionalString,
  requireCommitId,
  requireInstant,
  requireString,
  truncate,
} from './common.ts';

export const CODECOMMIT_EVENT_SOURCE = 'aws.codecommit';
export const REPOSITORY_STATE_CHANGE = 'CodeCommit Repository State Change';

/** The narrow slice of the SDK client this module needs; the shared `clients.codecommit()` satisfies it. */
export type CodeCommitLike = Pick<CodeCommitClient, 'send'>;

/** Why a push needs no deployment; Resolve passes it on as `resolved.ignored`. */
export interface Ignored {
  readonly ignored: string;
}

/** CodeCommit repository names: 1–100 of `[\w.-]` (CreateRepository's constraint). */
const REPOSITORY_NAME = /^[\w.-]{1,100}$/;

/** True when `value` looks like an EventBridge event from CodeCommit (of any detail-type). */
export function isCodeCommitEvent(value: unknown): boolean {
  return isObject(value) && value.source === CODECOMMIT_EVENT_SOURCE;
}

/**
 * Normalises an EventBridge "CodeCommit Repository State Change" event into a {@link Push}.
 *
 * Ignored (a reason, no error): other CodeCommit detail-types (comments, pull requests) that a broad
 * rule let through, reference deletions, tag references, and reference events other than
 * created/updated (e.g. `unreferencedMergeCommitCreated`). They are legitimate events that simply
 * deploy nothing.
 * Malformed (InvalidInputError): not an object, not from `aws.codecommit`, or a branch
 * create/update that lacks or garbles what the workflow needs (repository, branch, full commit id,
 * event id, event time). Retrying cannot fix those, and deploying from a guess would be wrong.
 *
 * `callerUserArn` is optional: AWS's own referenceCreated example omits it, so a missing one becomes
 * `pushedBy: 'unknown'` rather than an error.
 */
export function pushFromCodeCommitEvent(event: unknown): Push | Ignored {
  const what = 'CodeCommit event';
  if (!isObject(event)) throw new InvalidInputError(`${what}: expected an EventBridge event object`);
  if (event.source !== CODECOMMIT_EVENT_SOURCE) {
    throw new InvalidInputError(
      `${what}: source is ${JSON.stringify(event.source)}, expected ${CODECOMMIT_EVENT_SOURCE}`,
    );
  }
  const detailType = event['detail-type'];
  if (detailType !== REPOSITORY_STATE_CHANGE) {
    return { ignored: `CodeCommit event '${String(detailType)}' is not a repository state change` };
  }
  const detail = event.detail;
  if (!isObject(detail)) throw new InvalidInputError(`${what}: 'detail' must be an object`);

  const kind = requireString(detail, 'event', `${what} detail`);
  // Checked before the reference fields: e.g. unreferencedMergeCommitCreated has no referenceName.
  if (kind !== 'referenceCreated' && kind !== 'referenceUpdated' && kind !== 'referenceDeleted') {
    return { ignored: `CodeCommit '${kind}' events do not move a branch` };
  }
  const referenceType = requireString(detail, 'referenceType', `${what} detail`);
  const referenceName = requireString(detail, 'referenceName', `${what} detail`);
  if (kind === 'referenceDeleted') return { ignored: `${referenceType} '${referenceName}' was deleted` };
  if (referenceType !== 'branch') return { ignored: `${referenceType} '${referenceName}' is not a branch` };

  const repositoryName = requireString(detail, 'repositoryName', `${what} detail`);
  if (!REPOSITORY_NAME.test(repositoryName)) {
    throw new InvalidInputError(`${what}: '${repositoryName}' is not a CodeCommit repository name`);
  }
  const fullName = optionalString(detail, 'referenceFullName', `${what} detail`);
  if (fullName !== undefined && fullName !== `refs/heads/${referenceName}`) {
    throw new InvalidInputError(
      `${what}: referenceFullName '${fullName}' does not match branch '${referenceName}' (expected refs/heads/${referenceName})`,
    );
  }
  const commit = requireCommitId(requireString(detail, 'commitId', `${what} detail`), `${what} commitId`);
  const old = optionalString(detail, 'oldCommitId', `${what} detail`);
  const previousCommit = old === undefined || isZeroId(old) ? undefined : requireCommitId(old, `${what} oldCommitId`);
  const deliveryId = requireString(event, 'id', what);
  const pushedAt = requireInstant(requireString(event, 'time', what), `${what} time`);
  const pushedBy = optionalString(detail, 'callerUserArn', `${what} detail`) ?? 'unknown';

  return {
    source: 'codecommit',
    repository: repositoryName,
    branch: referenceName,
    commit,
    ...(previousCommit ? { previousCommit } : {}),
    pushedBy,
    pushedAt,
    deliveryId,
  };
}

// ---------------------------------------------------------------------------------------------
// The repository at a commit
// ---------------------------------------------------------------------------------------------

/**
 * `RepoEntry.size` of a file whose size was not measured. GetFolder returns no sizes and no API
 * returns a size without the content, so only the files the validator reads are measured (see
 * {@link CodeCommitSourceOptions.measure}); `read()` still enforces `maxReadBytes` on the rest.
 */
export const SIZE_NOT_MEASURED = -1;
/** `RepoEntry.size` of a file CodeCommit refused to return (FileTooLargeException: over its 6 MB API limit). */
export const SIZE_OVER_API_LIMIT = Number.MAX_SAFE_INTEGER;

export interface CodeCommitSourceOptions {
  /**
   * Which files `list()` measures, by fetching them with GetFile (the content is kept for `read()`,
   * so nothing is fetched twice). Default: the files the validator reads (`isCandidatePath`).
   */
  readonly measure?: (path: string) => boolean;
  /** The most `read()` returns; larger files are refused with RepoSourceError. Default 4 MiB. */
  readonly maxReadBytes?: number;
  /** Fail past this many entries (files and folders), so a huge tree cannot stall a Lambda. Default 100 000. */
  readonly maxEntries?: number;
  /** GetFolder/GetFile calls in flight at once. Default 8 (CodeCommit throttles per account). */
  readonly concurrency?: number;
  /** Total bytes of measured content kept in memory for `read()`; past it, files are fetched again. Default 64 MiB. */
  readonly cacheBytes?: number;
  /**
   * `changesSince()` gives up (and the caller reads the commit in full) past this many
   * differences: a push that rewrites the repository costs what a full read costs anyway. Default 2,000.
   */
  readonly maxDifferences?: number;
  /** GetDifferences' MaxResults. Default 100. */
  readonly differencesPageSize?: number;
}

interface GetFolderItem {
  relativePath?: string;
  fileMode?: string;
}

/** Errors that mean "this repository or commit is not there": retrying cannot help. */
const MISSING = new Set([
  'RepositoryDoesNotExistException',
  'CommitDoesNotExistException',
  'CommitIdDoesNotExistException',
  'InvalidCommitException',
  'InvalidCommitIdException',
  'InvalidRepositoryNameException',
]);

/** The SDK error's name (CodeCommit's exception name), or '' for anything else. */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

/**
 * Rethrows a failed CodeCommit call: a missing repository or commit as InvalidInputError (retrying
 * cannot help), throttling and 5xx as TransientError, anything else as it is; `where` and `what`
 * name the repository and the call.
 */
export function codeCommitCallFailed(where: string, error: unknown, what: string): never {
  if (MISSING.has(errorName(error))) {
    throw new InvalidInputError(`${where}: ${what}: ${errorName(error)}: ${(error as Error).message}`);
  }
  return classify(error, `${where}: ${what}`);
}

/**
 * The files of `repositoryName` exactly at `commitId` (every call passes the commit id as
 * `commitSpecifier`, never the branch, so a push that lands meanwhile cannot change what is read).
 *
 * - `list()` walks the tree from `/` with GetFolder, one folder level at a time with at most
 *   `concurrency` calls in flight. Like the directory source, it does not descend into hidden
 *   folders or node_modules (the validator ignores them; walking a committed node_modules would be
 *   thousands of calls). Symbolic links are `symlink`, submodules `other`.
 * - Sizes: GetFolder returns none, so the files `measure` selects are fetched with GetFile during
 *   `list()` (GetFile returns `fileSize` with the content) and their content cached; other files
 *   get {@link SIZE_NOT_MEASURED}. A file over CodeCommit's 6 MB API limit gets
 *   {@link SIZE_OVER_API_LIMIT}, so a size check refuses it.
 * - `read()` refuses unsafe paths, symlinks (GetFile reports `fileMode: SYMLINK`) and anything over
 *   `maxReadBytes`, checked on the bytes actually returned.
 *
 * Errors: a missing repository or commit is InvalidInputError; a refused path is RepoSourceError;
 * throttling and 5xx that outlast the SDK's retries are TransientError.
 */
export function codeCommitSource(
  client: CodeCommitLike,
  repositoryName: string,
  commitId: string,
  options: CodeCommitSourceOptions = {},
): IncrementalRepoSource {
  const commit = requireCommitId(commitId, 'codeCommitSource');
  const measure = options.measure ?? isCandidatePath;
  const maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  const maxEntries = options.maxEntries ?? 100_000;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const maxDifferences = options.maxDifferences ?? 2_000;
  const differencesPageSize = Math.max(1, options.differencesPageSize ?? 100);
  let cacheBudget = options.cacheBytes ?? 64 * 1024 * 1024;
  const cache = new Map<string, Uint8Array>();
  const where = `CodeCommit ${repositoryName}@${commit.slice(0, 12)}`;
  let listing: Promise<RepoEntry[]> | undefined;

  const failed = (error: unknown, what: string): never => codeCommitCallFailed(where, error, what);

  const getFile = (path: string) =>
    client.send(new GetFileCommand({ repositoryName, commitSpecifier: commit, filePath: path }));

  const joinPath = (parent: string, item: GetFolderItem, folder: string): string => {
    const name = item.relativePath ?? '';
    const path = parent === '' ? name : `${parent}/${name}`;
    if (name.includes('/') || !isSafeRelativePath(path)) {
      throw new InvalidInputError(`${where}: GetFolder ${folder} returned an unusable path '${path}'`);
    }
    return path;
  };

  async function walk(): Promise<RepoEntry[]> {
    const entries: RepoEntry[] = [];
    let seen = 0;
    const count = (n: number) => {
      seen += n;
      if (seen > maxEntries) {
        throw new InvalidInputError(
          `${where} has more than ${maxEntries} files and folders; is it really a model repository?`,
        );
      }
    };
    let level: string[] = [''];
    while (level.length > 0) {
      const children = await mapWithConcurrency(level, concurrency, async (folder) => {
        const folderPath = `/${folder}`;
        const response = await client
          .send(new GetFolderCommand({ repositoryName, commitSpecifier: commit, folderPath }))
          .catch((error: unknown) => failed(error, `GetFolder ${folderPath}`));
        // The commit id comes back resolved; anything else means we are not reading what we asked for.
        if (response.commitId && response.commitId.toLowerCase() !== commit) {
          throw new InvalidInputError(`${where}: GetFolder answered for commit ${response.commitId}`);
        }
        const next: string[] = [];
        const files = response.files ?? [];
        const links = response.symbolicLinks ?? [];
        const modules = response.subModules ?? [];
        const folders = response.subFolders ?? [];
        count(files.length + links.length + modules.length + folders.length);
        for (const file of files) {
          const path = joinPath(folder, file, folderPath);
          entries.push({ path, kind: file.fileMode === 'SYMLINK' ? 'symlink' : 'file', size: SIZE_NOT_MEASURED });
        }
        for (const link of links) entries.push({ path: joinPath(folder, link, folderPath), kind: 'symlink', size: 0 });
        for (const module of modules)
          entries.push({ path: joinPath(folder, module, folderPath), kind: 'other', size: 0 });
        for (const sub of folders) {
          if (!isSkippedDirectory(sub.relativePath ?? '')) next.push(joinPath(folder, sub, folderPath));
        }
        return next;
      });
      level = children.flat();
    }
    return entries;
  }

  async function measured(entry: RepoEntry): Promise<RepoEntry> {
    if (entry.kind !== 'file' || !measure(entry.path)) return entry;
    try {
      const response = await getFile(entry.path);
      if (response.fileMode === 'SYMLINK') return { ...entry, kind: 'symlink', size: 0 };
      const content = response.fileContent ?? new Uint8Array();
      const size = response.fileSize ?? content.length;
      if (content.length <= maxReadBytes && content.length <= cacheBudget) {
        cacheBudget -= content.length;
        cache.set(entry.path, content);
      }
      return { ...entry, size };
    } catch (error) {
      if (errorName(error) === 'FileTooLargeException') return { ...entry, size: SIZE_OVER_API_LIMIT };
      return failed(error, `GetFile /${entry.path}`);
    }
  }

  /**
   * GetDifferences between `base` and the commit (CodeCommit API Reference, GetDifferences: each
   * Difference has a beforeBlob and/or afterBlob — BlobMetadata with blobId, path and mode, where
   * 120000 is a symlink and 160000 a submodule — and a changeType A, M or D; the answer is paged
   * with NextToken, MaxResults at a time). It compares the two commits' trees, so `base` need not
   * be an ancestor. A rename is a path in a beforeBlob and another in an afterBlob, whichever
   * changeType it comes with. Changed candidate files are measured with GetFile, as `list()` does.
   */
  async function changesSince(base: string): Promise<CandidateChanges | { fullRead: string }> {
    const before = requireCommitId(base, 'codeCommitSource.changesSince');
    const after = new Map<string, string | undefined>();
    const removed = new Set<string>();
    let seen = 0;
    let token: string | undefined;
    do {
      const response = await client
        .send(
          new GetDifferencesCommand({
            repositoryName,
            beforeCommitSpecifier: before,
            afterCommitSpecifier: commit,
            MaxResults: differencesPageSize,
            ...(token ? { NextToken: token } : {}),
          }),
        )
        .catch((error: unknown) => failed(error, `GetDifferences ${before.slice(0, 12)}..${commit.slice(0, 12)}`));
      const differences = response.differences ?? [];
      seen += differences.length;
      if (seen > maxDifferences) return { fullRead: `more than ${maxDifferences} files changed since ${before}` };
      for (const difference of differences) {
        const gone = difference.beforeBlob?.path;
        const now = difference.afterBlob?.path;
        for (const path of [gone, now]) {
          // An unusable path: the full read refuses it with its own message.
          if (path !== undefined && isCandidatePath(path) && !isSafeRelativePath(path)) {
            return { fullRead: `GetDifferences named an unusable path '${path}'` };
          }
        }
        if (gone !== undefined && isCandidatePath(gone)) removed.add(gone);
        if (now !== undefined && isCandidatePath(now)) after.set(now, difference.afterBlob?.mode);
      }
      token = response.NextToken;
    } while (token);

    const present = await mapWithConcurrency([...after], concurrency, ([path, mode]) => {
      if (mode === '120000') return Promise.resolve<RepoEntry>({ path, kind: 'symlink', size: 0 });
      if (mode === '160000') return Promise.resolve<RepoEntry>({ path, kind: 'other', size: 0 });
      return measured({ path, kind: 'file', size: SIZE_NOT_MEASURED });
    });
    return { present, gone: [...removed].filter((path) => !after.has(path)) };
  }

  return {
    changesSince,

    list() {
      listing ??= (async () => {
        const entries = await walk();
        const sized = await mapWithConcurrency(entries, concurrency, measured);
        return sized.sort(byPath);
      })();
      // A failed listing is not cached: Step Functions may retry the Lambda in the same container.
      listing.catch(() => {
        listing = undefined;
      });
      return listing.then((entries) => entries.map((entry) => ({ ...entry })));
    },

    async read(path) {
      if (!isSafeRelativePath(path))
        throw new RepoSourceError(`refusing to read '${path}': not a path inside the repository`);
      const cached = cache.get(path);
      if (cached) return cached;
      let response: Awaited<ReturnType<typeof getFile>>;
      try {
        response = await getFile(path);
      } catch (error) {
        const name = errorName(error);
        if (name === 'FileDoesNotExistException') throw new RepoSourceError(`${where}: no file '${path}'`);
        if (name === 'FileTooLargeException') {
          throw new RepoSourceError(`${where}: '${path}' is larger than CodeCommit's 6 MB API limit`);
        }
        return failed(error, `GetFile /${path}`);
      }
      if (response.fileMode === 'SYMLINK') {
        throw new RepoSourceError(`refusing to read '${path}': it is a symlink (Ballast never follows links)`);
      }
      const content = response.fileContent ?? new Uint8Array();
      if (content.length > maxReadBytes) {
        throw new RepoSourceError(
          `refusing to read '${path}': ${content.length} bytes is over the ${maxReadBytes}-byte limit`,
        );
      }
      return content;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Commit comments
// ---------------------------------------------------------------------------------------------

/** "Comment length: Maximum of 10,240 characters" (CodeCommit quotas; CommentContentSizeLimitExceededException). */
export const MAX_COMMENT_CHARS = 10_240;

export interface CodeCommitCommentInput {
  readonly repositoryName: string;
  /** The commit commented on (the comparison's "after" side). */
  readonly commitId: string;
  /**
   * The comparison's "before" side, usually the push's previous branch head, so the comment sits on
   * the whole push. Default: the commit's first parent (GetCommit); none for a root commit.
   */
  readonly beforeCommitId?: string;
  /** Markdown; cut to 10,240 characters. */
  readonly content: string;
  /** The Step Functions execution name: with `commitId` and `outcome`, what makes the comment unique. */
  readonly execution: string;
  /** `deployed`, `rejected`, …: one comment per outcome of an execution. */
  readonly outcome: string;
}

export interface CodeCommitCommentResult {
  /** The comment's id; undefined when `alreadyPosted`. */
  readonly commentId: string | undefined;
  /**
   * True when CodeCommit refused the token as used before with other parameters: an earlier
   * attempt posted this (commit, execution, outcome)'s comment with different content. (A retry
   * with identical parameters just gets the original comment back, with `alreadyPosted: false`.)
   */
  readonly alreadyPosted: boolean;
}

/** The idempotency token of a comment: a digest of what identifies it, so every retry sends the same one. */
export function commentRequestToken(
  input: Pick<CodeCommitCommentInput, 'repositoryName' | 'commitId' | 'execution' | 'outcome'>,
): string {
  return createHash('sha256')
    .update([input.repositoryName, input.commitId, input.execution, input.outcome].join('\0'))
    .digest('hex');
}

/**
 * Posts a comment on a commit (PostCommentForComparedCommit), at most once per (commit, execution,
 * outcome): the clientRequestToken is derived from them, and CodeCommit answers a repeated token
 * with the original comment ("If a request is received with the same parameters and a token is
 * included, the request returns information about the initial request that used that token").
 * A retry whose content differs gets IdempotencyParameterMismatchException: that comment exists,
 * so it counts as posted rather than failing Record.
 */
export async function postCodeCommitComment(
  client: CodeCommitLike,
  input: CodeCommitCommentInput,
): Promise<CodeCommitCommentResult> {
  const { repositoryName } = input;
  const afterCommitId = requireCommitId(input.commitId, 'postCodeCommitComment commitId');
  const where = `CodeCommit ${repositoryName}@${afterCommitId.slice(0, 12)}`;
  const failed = (error: unknown, what: string): never => codeCommitCallFailed(where, error, what);

  let beforeCommitId =
    input.beforeCommitId && !isZeroId(input.beforeCommitId)
      ? requireCommitId(input.beforeCommitId, 'postCodeCommitComment beforeCommitId')
      : undefined;
  if (beforeCommitId === afterCommitId) beforeCommitId = undefined;
  if (beforeCommitId === undefined) {
    // "beforeCommitId: Required for commenting on any commit unless that commit is the initial commit."
    const response = await client
      .send(new GetCommitCommand({ repositoryName, commitId: afterCommitId }))
      .catch((error: unknown) => failed(error, 'GetCommit'));
    beforeCommitId = response.commit?.parents?.[0];
  }

  try {
    const response = await client.send(
      new PostCommentForComparedCommitCommand({
        repositoryName,
        afterCommitId,
        ...(beforeCommitId ? { beforeCommitId } : {}),
        content: truncate(input.content, MAX_COMMENT_CHARS, '\n\n… (truncated)'),
        clientRequestToken: commentRequestToken({ ...input, commitId: afterCommitId }),
      }),
    );
    return { commentId: response.comment?.commentId, alreadyPosted: false };
  } catch (error) {
    if (errorName(error) === 'IdempotencyParameterMismatchException')
      return { commentId: undefined, alreadyPosted: true };
    return failed(error, 'PostCommentForComparedCommit');
  }
}
