/**
 * GitHub as a push source: webhook signature and payload (the Function URL handler), the repository's
 * files at a commit through the Git database REST API and what changed since the previous commit
 * through "Compare two commits" (Resolve), and commit statuses (Record).
 *
 * No Octokit: global `fetch` with a timeout per request, and a small retry that follows GitHub's
 * guidance for 5xx and rate limits ("Rate limits for the REST API", "Exceeding the rate limit").
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidInputError, TransientError } from '../aws/errors.ts';
import {
  isCandidatePath,
  isSafeRelativePath,
  isSkippedDirectory,
  type RepoEntry,
  RepoSourceError,
} from '../spec/source.ts';
import type { CandidateChanges, IncrementalRepoSource } from '../workflow/snapshot.ts';
import type { Push } from '../workflow/types.ts';
import type { Ignored } from './codecommit.ts';
import {
  byPath,
  DEFAULT_MAX_READ_BYTES,
  isObject,
  isZeroId,
  type JsonObject,
  optionalString,
  requireCommitId,
  requireString,
  truncate,
} from './common.ts';

/** "Payloads are capped at 25 MB" (GitHub Docs, Webhook events and payloads). */
export const GITHUB_MAX_PAYLOAD_BYTES = 25 * 1024 * 1024;
/** How old a push delivery may be (by the signed `repository.pushed_at`) before it is refused. */
export const DEFAULT_MAX_DELIVERY_AGE_SECONDS = 600;
/** GitHub refuses a commit status description over 140 characters (422). */
export const MAX_STATUS_DESCRIPTION_CHARS = 140;

/** A signed delivery that is too old (or too far in the future) to act on: a replay, or a clock problem. */
export class StaleDeliveryError extends Error {
  override readonly name = 'StaleDeliveryError';
}

/** GitHub answered with a status retrying cannot fix (401, 403 without a rate limit, 404, 422…). */
export class GitHubApiError extends Error {
  override readonly name = 'GitHubApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Webhook deliveries
// ---------------------------------------------------------------------------------------------

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/**
 * Checks `X-Hub-Signature-256` (`sha256=<hex HMAC-SHA256 of the raw body>`, GitHub Docs "Validating
 * webhook deliveries"). The HMAC is over the exact bytes received, so call this before any parsing
 * or re-encoding. The comparison is constant-time (timingSafeEqual on two 32-byte digests); a
 * missing, malformed or wrong-length header is simply false. An empty secret never verifies: an
 * HMAC under an empty key is one anybody can compute.
 */
export function verifyGitHubSignature(
  secret: string | Uint8Array,
  rawBody: Uint8Array | string,
  signatureHeader: string | null | undefined,
): boolean {
  if (typeof signatureHeader !== 'string' || secret.length === 0) return false;
  const match = SIGNATURE.exec(signatureHeader.trim());
  if (!match?.[1]) return false;
  const received = Buffer.from(match[1], 'hex');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return received.length === expected.length && timingSafeEqual(received, expected);
}

/** A header by name, case-insensitively (Function URLs lower-case them; tests and other callers may not). */
export function headerValue(headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/** GitHub delivery ids are GUIDs; anything else is refused before it reaches an S3 key or an execution name. */
const DELIVERY_ID = /^[A-Za-z0-9-]{1,64}$/;

export interface GitHubDelivery {
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received; its signature must already have been verified. */
  readonly rawBody: Uint8Array | string;
  /** The current time (a Date or epoch milliseconds). */
  readonly now: Date | number;
  /** Default {@link DEFAULT_MAX_DELIVERY_AGE_SECONDS}. */
  readonly maxAgeSeconds?: number;
}

/**
 * Normalises a verified GitHub webhook delivery into a {@link Push}.
 *
 * - `ping` (sent when the webhook is created) and every event other than `push` are ignored with a reason.
 * - A push to a tag, or one that deletes a branch (`deleted: true`, `after` all zeros), is ignored.
 * - Missing or malformed headers, a body that is not a JSON object, or a push without the fields the
 *   workflow needs is InvalidInputError.
 * - Staleness: GitHub signs no timestamp, but the signed push payload carries
 *   `repository.pushed_at`, the server's time of the push in epoch seconds. A delivery whose
 *   `pushed_at` is more than `maxAgeSeconds` from `now` (either way) is refused with
 *   StaleDeliveryError. `head_commit.timestamp` is not used: it is the commit's author time, which
 *   the author's clock sets and which is old for any commit pushed late (a merge of an old branch, a
 *   reset). The cost: a redelivery of an old push from GitHub's UI is refused too; the reconciler
 *   deploys a branch head no delivery started (lambdas/handlers/reconcile-scan.ts).
 */
export function pushFromGitHubDelivery(delivery: GitHubDelivery): Push | Ignored {
  const event = headerValue(delivery.headers, 'x-github-event');
  if (!event) throw new InvalidInputError('GitHub delivery: the X-GitHub-Event header is missing');
  const deliveryId = headerValue(delivery.headers, 'x-github-delivery');
  if (!deliveryId || !DELIVERY_ID.test(deliveryId)) {
    throw new InvalidInputError('GitHub delivery: the X-GitHub-Delivery header is missing or not a delivery id');
  }
  const payload = parseJsonObject(delivery.rawBody);
  const what = `GitHub ${event} delivery ${deliveryId}`;

  if (event === 'ping') {
    const hook = payload.hook_id === undefined ? '' : ` (hook ${String(payload.hook_id)})`;
    return { ignored: `ping: the webhook is set up${hook}` };
  }
  if (event !== 'push') return { ignored: `GitHub '${event}' events do not deploy; only pushes to branches do` };

  const ref = requireString(payload, 'ref', what);
  if (!ref.startsWith('refs/heads/') || ref.length === 'refs/heads/'.length) {
    return { ignored: `${ref} is not a branch` };
  }
  const branch = ref.slice('refs/heads/'.length);
  const after = requireString(payload, 'after', what);
  if (payload.deleted === true || isZeroId(after)) return { ignored: `branch '${branch}' was deleted` };
  const commit = requireCommitId(after, `${what} after`);
  const before = optionalString(payload, 'before', what);
  const previousCommit =
    before === undefined || isZeroId(before) ? undefined : requireCommitId(before, `${what} before`);

  const repository = payload.repository;
  if (!isObject(repository)) throw new InvalidInputError(`${what}: 'repository' must be an object`);
  const fullName = requireString(repository, 'full_name', `${what} repository`);
  parseRepository(fullName);
  const pushedAtMs = pushedAtOf(repository, what);

  const nowMs = typeof delivery.now === 'number' ? delivery.now : delivery.now.getTime();
  const maxAgeSeconds = delivery.maxAgeSeconds ?? DEFAULT_MAX_DELIVERY_AGE_SECONDS;
  const ageSeconds = Math.round((nowMs - pushedAtMs) / 1000);
  if (Math.abs(ageSeconds) > maxAgeSeconds) {
    throw new StaleDeliveryError(
      ageSeconds > 0
        ? `${what}: the push is ${ageSeconds} s old (limit ${maxAgeSeconds} s); refusing a stale or replayed delivery`
        : `${what}: the push is ${-ageSeconds} s in the future (limit ${maxAgeSeconds} s); check the clock`,
    );
  }

  const sender = isObject(payload.sender) ? payload.sender : {};
  const pusher = isObject(payload.pusher) ? payload.pusher : {};
  const pushedBy =
    (typeof sender.login === 'string' && sender.login) || (typeof pusher.name === 'string' && pusher.name) || 'unknown';

  return {
    source: 'github',
    repository: fullName,
    branch,
    commit,
    ...(previousCommit ? { previousCommit } : {}),
    pushedBy,
    pushedAt: new Date(pushedAtMs).toISOString(),
    deliveryId,
  };
}

function parseJsonObject(rawBody: Uint8Array | string): JsonObject {
  let value: unknown;
  try {
    const text = typeof rawBody === 'string' ? rawBody : new TextDecoder('utf-8', { fatal: true }).decode(rawBody);
    value = JSON.parse(text);
  } catch {
    throw new InvalidInputError(
      'GitHub delivery: the body is not JSON (configure the webhook with content type application/json)',
    );
  }
  if (!isObject(value)) throw new InvalidInputError('GitHub delivery: the body is not a JSON object');
  return value;
}

/** `repository.pushed_at`: epoch seconds in push payloads (an ISO string in other events' payloads). */
function pushedAtOf(repository: JsonObject, what: string): number {
  const value = repository.pushed_at;
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value * 1000;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  throw new InvalidInputError(
    `${what}: 'repository.pushed_at' is missing or not a time; cannot tell how old the push is`,
  );
}

// ---------------------------------------------------------------------------------------------
// REST API access
// ---------------------------------------------------------------------------------------------

export interface GitHubApiOptions {
  /** `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server. */
  readonly apiUrl: string;
  /** A token with read access to contents (and commit statuses: write, for statuses). Never logged. */
  readonly token: string;
  /** Injected for tests; default the global fetch. */
  readonly fetch?: typeof fetch;
  /** Injected for tests; default setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Per request. Default 10 s. */
  readonly timeoutMs?: number;
  /** Tries per request, including the first. Default 4. */
  readonly maxAttempts?: number;
  /**
   * The longest wait this process accepts before a retry. GitHub may ask for minutes (a secondary
   * rate limit without Retry-After means "wait at least one minute"); rather than keep a Lambda
   * asleep, a longer wait is a TransientError and Step Functions retries the step later. Default 15 s.
   */
  readonly maxWaitMs?: number;
}

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const NAME = /^[A-Za-z0-9._-]{1,100}$/;

/** `owner/name` → its two parts; InvalidInputError for anything else (it ends up in a URL path). */
export function parseRepository(fullName: string): { owner: string; name: string } {
  const [owner, name, extra] = fullName.split('/');
  if (
    extra !== undefined ||
    !owner ||
    !name ||
    !OWNER.test(owner) ||
    !NAME.test(name) ||
    name === '.' ||
    name === '..'
  ) {
    throw new InvalidInputError(`'${fullName}' is not a GitHub repository (owner/name)`);
  }
  return { owner, name };
}

function baseUrl(apiUrl: string): string {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new InvalidInputError(`GitHub API URL '${apiUrl}' is not a URL`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  // The token travels in a header: never over plain HTTP to anything but this machine.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new InvalidInputError(`GitHub API URL '${apiUrl}' must use https`);
  }
  return url.toString().replace(/\/+$/, '');
}

const RETRY_STATUSES = new Set([500, 502, 503, 504]);

/** Milliseconds GitHub asks us to wait, from Retry-After or the primary limit's reset time; undefined if it says nothing. */
function rateLimitWait(response: Response, nowMs: number): number | undefined {
  const retryAfter = response.headers.get('retry-after');
  if (retryAfter) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const at = Date.parse(retryAfter);
    if (Number.isFinite(at)) return Math.max(0, at - nowMs);
  }
  if (response.headers.get('x-ratelimit-remaining') === '0') {
    const reset = Number(response.headers.get('x-ratelimit-reset'));
    if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - nowMs);
  }
  return undefined;
}

export interface ApiResult {
  readonly status: number;
  readonly body: unknown;
}

/**
 * One GitHub REST call with GitHub's recommended headers and the retry policy:
 * - network errors, timeouts and 500/502/503/504: exponential backoff with full jitter;
 * - 429, and 403 that is a rate limit (Retry-After, `x-ratelimit-remaining: 0`, or a "secondary rate
 *   limit" message): wait as GitHub says (Retry-After, else until x-ratelimit-reset, else the one
 *   minute GitHub asks for), or give up with TransientError if that is over `maxWaitMs`;
 * - any other 4xx: GitHubApiError at once.
 * A retried write must be one whose repetition is harmless or detected by the caller (the rollback
 * write-back's POSTs and PATCH are: see write-back-github.ts).
 */
export async function gitHubRequest(
  options: GitHubApiOptions,
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  body?: unknown,
): Promise<ApiResult> {
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const maxWaitMs = options.maxWaitMs ?? 15_000;
  const url = `${baseUrl(options.apiUrl)}${path}`;
  const what = `GitHub ${method} ${path}`;
  let lastProblem = '';

  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    let response: Response;
    try {
      response = await doFetch(url, {
        method,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${options.token}`,
          'x-github-api-version': '2022-11-28',
          // GitHub rejects API requests without a User-Agent.
          'user-agent': 'ballast',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      lastProblem = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (attempt < maxAttempts) await sleep(backoff(attempt));
      continue;
    }

    const text = await response.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.ok) return { status: response.status, body: parsed };

    const message = isObject(parsed) && typeof parsed.message === 'string' ? parsed.message : text.slice(0, 200);
    lastProblem = `${response.status} ${message}`;
    const wait = rateLimitWait(response, Date.now());
    const rateLimited =
      response.status === 429 || (response.status === 403 && (wait !== undefined || /rate limit/i.test(message)));
    if (rateLimited) {
      // Secondary limit without headers: "wait for at least one minute before retrying".
      const ms = wait ?? 60_000;
      if (ms > maxWaitMs || attempt === maxAttempts) {
        throw new TransientError(`${what}: rate limited by GitHub (retry in ${Math.ceil(ms / 1000)} s): ${message}`);
      }
      await sleep(ms);
      continue;
    }
    if (RETRY_STATUSES.has(response.status)) {
      // A 503 may carry Retry-After too; honour it like a rate limit.
      if (wait !== undefined && wait > maxWaitMs) {
        throw new TransientError(`${what}: GitHub is unavailable (retry in ${Math.ceil(wait / 1000)} s): ${message}`);
      }
      if (attempt < maxAttempts) await sleep(wait ?? backoff(attempt));
      continue;
    }
    throw new GitHubApiError(`${what}: ${response.status} ${message}`, response.status);
  }
  throw new TransientError(`${what}: gave up after ${maxAttempts} attempts: ${lastProblem}`);
}

/** 250 ms, 500 ms, 1 s, … capped at 4 s, with full jitter. */
function backoff(attempt: number): number {
  return Math.random() * Math.min(4_000, 250 * 2 ** (attempt - 1));
}

// ---------------------------------------------------------------------------------------------
// The repository at a commit
// ---------------------------------------------------------------------------------------------

export interface GitHubSourceOptions extends GitHubApiOptions {
  /** `owner/name`. */
  readonly repository: string;
  /** The full commit id (never a branch: a push that lands meanwhile must not change what is read). */
  readonly commit: string;
  /** The most `read()` returns; larger files are refused before they are fetched. Default 4 MiB. */
  readonly maxReadBytes?: number;
  /** Fail past this many entries. Default 100 000. */
  readonly maxEntries?: number;
  /** Tree requests allowed when GitHub truncates a recursive listing. Default 50. */
  readonly maxTreeRequests?: number;
}

interface TreeItem {
  readonly path: string;
  readonly mode: string;
  readonly type: string;
  readonly sha: string;
  readonly size?: number;
}

interface Listed extends RepoEntry {
  readonly sha: string;
}

/**
 * "Compare two commits" lists at most 300 changed files for the whole comparison (GitHub REST API,
 * Commits, "Compare two commits": beyond that, GitHub points to the tree API). A list that long
 * may be cut, so it is never trusted: the commit is read in full instead.
 */
export const COMPARE_MAX_FILES = 300;

/** Git tree modes (git's fast-import docs): 120000 symlink, 160000 gitlink (submodule). */
const FILE_MODES = new Set(['100644', '100755', '100664']);

function parseTree(body: unknown, what: string): { items: TreeItem[]; truncated: boolean } {
  if (!isObject(body) || !Array.isArray(body.tree))
    throw new TransientError(`${what}: unexpected answer (no tree array)`);
  const items: TreeItem[] = [];
  for (const raw of body.tree) {
    if (
      !isObject(raw) ||
      typeof raw.path !== 'string' ||
      typeof raw.mode !== 'string' ||
      typeof raw.type !== 'string' ||
      typeof raw.sha !== 'string'
    ) {
      throw new TransientError(`${what}: unexpected tree entry ${JSON.stringify(raw).slice(0, 200)}`);
    }
    items.push({
      path: raw.path,
      mode: raw.mode,
      type: raw.type,
      sha: raw.sha,
      ...(typeof raw.size === 'number' ? { size: raw.size } : {}),
    });
  }
  return { items, truncated: body.truncated === true };
}

/**
 * The files of a GitHub repository at a commit, through the Git database API.
 *
 * - `list()`: `GET /repos/{owner}/{repo}/git/trees/{commit}?recursive=1` (a commit id resolves to its
 *   root tree). Entries carry sizes, so nothing is fetched to measure. When GitHub truncates the
 *   listing (over 100,000 entries or 7 MB, per "Get a tree"), the walk does what GitHub suggests:
 *   fetch that tree without `recursive` and list each subtree on its own, skipping hidden folders
 *   and node_modules, within `maxTreeRequests` calls. Entries under hidden folders and node_modules
 *   are left out in every case, as the directory source does, so a commit lists the same from
 *   every source. Mode 120000 is `symlink`; submodules (160000) are `other`.
 * - `read()`: `GET /repos/{owner}/{repo}/git/blobs/{sha}` (base64). Symlinks, non-files and files
 *   over `maxReadBytes` (by the tree's size) are refused with RepoSourceError before any request;
 *   the decoded bytes must have the tree's size and hash to the blob id.
 */
export function gitHubSource(options: GitHubSourceOptions): IncrementalRepoSource {
  const { owner, name } = parseRepository(options.repository);
  const commit = requireCommitId(options.commit, 'gitHubSource');
  baseUrl(options.apiUrl); // a bad or plain-HTTP API URL fails here, not on the first read
  const maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  const maxEntries = options.maxEntries ?? 100_000;
  const maxTreeRequests = options.maxTreeRequests ?? 50;
  const repoPath = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  const where = `GitHub ${options.repository}@${commit.slice(0, 12)}`;
  let listing: Promise<Map<string, Listed>> | undefined;

  async function walk(): Promise<Map<string, Listed>> {
    const entries = new Map<string, Listed>();
    let requests = 0;
    const fetchTree = async (sha: string, recursive: boolean) => {
      requests += 1;
      if (requests > maxTreeRequests) {
        throw new InvalidInputError(
          `${where}: the tree is too large to list (GitHub truncated it and ${maxTreeRequests} tree requests were not enough)`,
        );
      }
      const path = `${repoPath}/git/trees/${encodeURIComponent(sha)}${recursive ? '?recursive=1' : ''}`;
      const { body } = await gitHubRequest(options, 'GET', path);
      return parseTree(body, `${where}: GET ${path}`);
    };
    const add = (item: TreeItem, path: string) => {
      if (entries.size >= maxEntries) {
        throw new InvalidInputError(`${where} has more than ${maxEntries} files; is it really a model repository?`);
      }
      const kind =
        item.mode === '120000' ? 'symlink' : item.type === 'blob' && FILE_MODES.has(item.mode) ? 'file' : 'other';
      entries.set(path, { path, kind, size: kind === 'other' ? 0 : (item.size ?? 0), sha: item.sha });
    };
    const visit = async (treeSha: string, prefix: string): Promise<void> => {
      const full = await fetchTree(treeSha, true);
      if (!full.truncated) {
        for (const item of full.items) {
          if (item.type === 'tree') continue;
          const path = prefix + item.path;
          if (!isSafeRelativePath(path))
            throw new InvalidInputError(`${where}: GitHub listed an unusable path '${path}'`);
          const dirs = path.split('/').slice(0, -1);
          if (dirs.some(isSkippedDirectory)) continue;
          add(item, path);
        }
        return;
      }
      // Truncated: this level without recursion, then each subtree on its own.
      const level = await fetchTree(treeSha, false);
      for (const item of level.items) {
        const path = prefix + item.path;
        if (item.path.includes('/') || !isSafeRelativePath(path)) {
          throw new InvalidInputError(`${where}: GitHub listed an unusable path '${path}'`);
        }
        if (item.type === 'tree') {
          if (!isSkippedDirectory(item.path)) await visit(item.sha, `${path}/`);
        } else {
          add(item, path);
        }
      }
    };
    await visit(commit, '');
    return entries;
  }

  const load = () => {
    listing ??= walk();
    listing.catch(() => {
      listing = undefined;
    });
    return listing;
  };

  /**
   * `GET /repos/{owner}/{repo}/compare/{base}...{head}` (GitHub REST API, Commits, "Compare two
   * commits"): `status` (ahead, behind, diverged, identical) and `files[]` with `filename`,
   * `status` (added, removed, modified, renamed, copied, changed, unchanged) and, for renames,
   * `previous_filename`. `per_page=1`: with pagination the files come on the first page only, and
   * the commits, which are not needed, stay one. The comparison is three-dot — from the merge base
   * — so only `ahead` or `identical` (the merge base is `base` itself) describes base → head; a
   * rewritten history, or a list that may have been cut at 300 files, means a full read.
   *
   * Every touched candidate path is then looked up in the commit's tree (the one request `list()`
   * makes anyway, which carries modes and sizes), whatever its status said: present there, it is
   * the entry `list()` gives; absent, it is gone. Contents come from `read()` by blob sha.
   */
  async function changesSince(base: string): Promise<CandidateChanges | { fullRead: string }> {
    const before = requireCommitId(base, 'gitHubSource.changesSince');
    const path = `${repoPath}/compare/${before}...${commit}?per_page=1`;
    const { body } = await gitHubRequest(options, 'GET', path);
    if (!isObject(body)) throw new TransientError(`${where}: GET ${path}: unexpected answer`);
    if (body.status !== 'ahead' && body.status !== 'identical') {
      return { fullRead: `${commit} is ${String(body.status)} of ${before}, not ahead of it` };
    }
    const files = body.files ?? [];
    if (!Array.isArray(files)) throw new TransientError(`${where}: GET ${path}: unexpected answer (files)`);
    if (files.length >= COMPARE_MAX_FILES) {
      return { fullRead: `GitHub lists at most ${COMPARE_MAX_FILES} files of a comparison` };
    }
    const touched = new Set<string>();
    for (const file of files) {
      if (!isObject(file) || typeof file.filename !== 'string') {
        throw new TransientError(`${where}: GET ${path}: unexpected file ${JSON.stringify(file).slice(0, 200)}`);
      }
      for (const name of [file.filename, file.previous_filename]) {
        if (typeof name !== 'string' || !isCandidatePath(name)) continue;
        // An unusable path: the full read refuses it with its own message.
        if (!isSafeRelativePath(name)) return { fullRead: `GitHub compared an unusable path '${name}'` };
        touched.add(name);
      }
    }
    if (touched.size === 0) return { present: [], gone: [] };
    const entries = await load();
    const present: RepoEntry[] = [];
    const gone: string[] = [];
    for (const name of [...touched].sort()) {
      const entry = entries.get(name);
      if (entry) present.push({ path: entry.path, kind: entry.kind, size: entry.size });
      else gone.push(name);
    }
    return { present, gone };
  }

  return {
    changesSince,

    async list() {
      const entries = await load();
      return [...entries.values()].map(({ path, kind, size }) => ({ path, kind, size })).sort(byPath);
    },

    async read(path) {
      if (!isSafeRelativePath(path))
        throw new RepoSourceError(`refusing to read '${path}': not a path inside the repository`);
      const entry = (await load()).get(path);
      if (!entry) throw new RepoSourceError(`${where}: no file '${path}'`);
      if (entry.kind === 'symlink')
        throw new RepoSourceError(`refusing to read '${path}': it is a symlink (Ballast never follows links)`);
      if (entry.kind !== 'file') throw new RepoSourceError(`refusing to read '${path}': not a regular file`);
      if (entry.size > maxReadBytes) {
        throw new RepoSourceError(
          `refusing to read '${path}': ${entry.size} bytes is over the ${maxReadBytes}-byte limit`,
        );
      }
      const blobPath = `${repoPath}/git/blobs/${encodeURIComponent(entry.sha)}`;
      const { body } = await gitHubRequest(options, 'GET', blobPath);
      if (!isObject(body) || typeof body.content !== 'string')
        throw new TransientError(`${where}: GET ${blobPath}: unexpected answer`);
      const bytes =
        body.encoding === 'base64' ? Buffer.from(body.content, 'base64') : Buffer.from(body.content, 'utf8');
      if (bytes.length !== entry.size || !blobIdMatches(entry.sha, bytes)) {
        throw new TransientError(`${where}: the content of '${path}' does not match its blob ${entry.sha}`);
      }
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    },
  };
}

/** Git's blob id: sha1("blob <size>\0" + content). Only SHA-1 ids are checked (GitHub has no SHA-256 repositories). */
function blobIdMatches(sha: string, bytes: Uint8Array): boolean {
  if (!/^[0-9a-f]{40}$/.test(sha)) return true;
  const id = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  return id === sha;
}

// ---------------------------------------------------------------------------------------------
// Commit statuses
// ---------------------------------------------------------------------------------------------

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

/** The status context Ballast uses: one status per (environment, endpoint) on a commit. */
export function commitStatusContext(environment: string, endpoint: string): string {
  return `ballast/${environment}/${endpoint}`;
}

export interface GitHubCommitStatus extends GitHubApiOptions {
  readonly repository: string;
  readonly commit: string;
  readonly state: CommitState;
  /** `ballast/<environment>/<endpoint>` ({@link commitStatusContext}). */
  readonly context: string;
  /** Cut to GitHub's 140 characters. */
  readonly description: string;
  /** A link to the execution or the ledger entry; http(s) only. */
  readonly targetUrl?: string;
}

/**
 * `POST /repos/{owner}/{repo}/statuses/{sha}`. Safe to retry: the latest status of a context is
 * the one GitHub shows, so a repeated call changes nothing visible.
 */
export async function setGitHubCommitStatus(status: GitHubCommitStatus): Promise<void> {
  const { owner, name } = parseRepository(status.repository);
  const commit = requireCommitId(status.commit, 'setGitHubCommitStatus');
  if (!['pending', 'success', 'failure', 'error'].includes(status.state)) {
    throw new InvalidInputError(`commit status state '${status.state}' is not pending, success, failure or error`);
  }
  if (status.context.length === 0) throw new InvalidInputError('commit status context must not be empty');
  if (status.targetUrl !== undefined && !/^https?:\/\//i.test(status.targetUrl)) {
    throw new InvalidInputError(`commit status target URL '${status.targetUrl}' is not http(s)`);
  }
  await gitHubRequest(
    status,
    'POST',
    `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/statuses/${commit}`,
    {
      state: status.state,
      context: status.context,
      description: truncate(status.description, MAX_STATUS_DESCRIPTION_CHARS),
      ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
    },
  );
}
