/**
 * A test double of the GitHub REST API on 127.0.0.1: the Git database endpoints Resolve reads (trees,
 * blobs), "Compare two commits" between the commits it was given, and the commit statuses Record
 * posts, for the repository `octo-org/models`, with scripted answers (rate limits, 5xx, hangs),
 * truncated listings and corrupted blobs. Every request is recorded.
 *
 * For the rollback write-back it also keeps a small Git database that the API changes: branches
 * (`main` at the first commit), trees made with `POST /git/trees` (inline content or blob shas on a
 * `base_tree`, `sha: null` deleting a path), commits made with `POST /git/commits`, references read
 * with `GET /git/ref/...`, created with `POST /git/refs` and moved with `PATCH /git/refs/...`
 * (fast-forward only unless `force`, refused on a protected branch), and pull requests
 * (`GET`/`POST /pulls`, one open pull request per head and base, as GitHub allows). Tree and commit
 * ids are derived from their content and a counter, not Git's own hashing.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Mode = '100644' | '100755' | '120000' | '160000';
export interface FakeEntry {
  readonly mode: Mode;
  readonly content?: string | Uint8Array;
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface ScriptedResponse {
  readonly match: RegExp;
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** Never answer (the client's timeout must fire). */
  readonly hang?: boolean;
}

export const gitSha1 = (type: string, content: Buffer) =>
  createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');

/**
 * Trees and blobs for a set of files, addressed the way GitHub's Git database API addresses them.
 * `name` seeds the commit id and the tree ids, so several commits can be served side by side
 * (the default keeps the ids of a single-commit repository: sha1('commit'), sha1('tree:<dir>')).
 */
export function buildRepository(files: Record<string, FakeEntry>, name = 'commit') {
  const seed = name === 'commit' ? '' : `${name}:`;
  /** Path -> mode and object id, for comparisons. */
  const paths = new Map<string, { mode: string; sha: string }>();
  const blobs = new Map<string, Buffer>();
  interface Node {
    mode: string;
    type: 'blob' | 'tree' | 'commit';
    sha: string;
    size?: number;
  }
  const dirs = new Map<string, Map<string, Node>>([['', new Map()]]);
  for (const [path, entry] of Object.entries(files)) {
    const parts = path.split('/');
    let dir = '';
    for (const part of parts.slice(0, -1)) {
      const child = dir ? `${dir}/${part}` : part;
      if (!dirs.has(child)) {
        dirs.set(child, new Map());
        dirs.get(dir)?.set(part, {
          mode: '040000',
          type: 'tree',
          sha: createHash('sha1').update(`tree:${seed}${child}`).digest('hex'),
        });
      }
      dir = child;
    }
    const file = parts[parts.length - 1] as string;
    if (entry.mode === '160000') {
      const sha = createHash('sha1')
        .update(`sub:${path}${entry.content ? `:${entry.content}` : ''}`)
        .digest('hex');
      dirs.get(dir)?.set(file, { mode: entry.mode, type: 'commit', sha });
      paths.set(path, { mode: entry.mode, sha });
    } else {
      const content = Buffer.from(entry.content ?? '');
      const sha = gitSha1('blob', content);
      blobs.set(sha, content);
      dirs.get(dir)?.set(file, { mode: entry.mode, type: 'blob', sha, size: content.length });
      paths.set(path, { mode: entry.mode, sha });
    }
  }
  const treeBySha = new Map<string, string>();
  for (const [dir, nodes] of dirs) {
    for (const [name, node] of nodes) if (node.type === 'tree') treeBySha.set(node.sha, dir ? `${dir}/${name}` : name);
  }
  const commit = createHash('sha1').update(name).digest('hex');
  treeBySha.set(commit, '');
  const listTree = (dir: string, recursive: boolean, prefix = ''): Array<Node & { path: string }> => {
    const out: Array<Node & { path: string }> = [];
    for (const [name, node] of [...(dirs.get(dir) ?? new Map<string, Node>())].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out.push({ ...node, path: prefix + name });
      if (recursive && node.type === 'tree')
        out.push(...listTree(dir ? `${dir}/${name}` : name, true, `${prefix}${name}/`));
    }
    return out;
  };
  return { commit, blobs, treeBySha, listTree, paths, files };
}

export type FakeRepository = ReturnType<typeof buildRepository>;

/** One entry of a comparison's `files[]`, with the fields Resolve reads. */
export interface CompareFile {
  readonly filename: string;
  readonly status: 'added' | 'removed' | 'modified' | 'renamed' | 'changed';
  readonly sha: string;
  readonly previous_filename?: string;
}

/**
 * What GitHub's compare lists from `base` to `head`: a removed path whose object reappears under
 * one added path is `renamed` (with `previous_filename`), a mode change alone is `changed`, and
 * the list stops at 300 files as GitHub's does.
 */
export function compareFiles(base: FakeRepository, head: FakeRepository): CompareFile[] {
  const files: CompareFile[] = [];
  const removed = new Map<string, string>();
  for (const [path, entry] of base.paths) if (!head.paths.has(path)) removed.set(entry.sha, path);
  for (const [path, entry] of head.paths) {
    const old = base.paths.get(path);
    if (!old) {
      const from = removed.get(entry.sha);
      if (from !== undefined) {
        removed.delete(entry.sha);
        files.push({ filename: path, status: 'renamed', sha: entry.sha, previous_filename: from });
      } else files.push({ filename: path, status: 'added', sha: entry.sha });
    } else if (old.sha !== entry.sha) files.push({ filename: path, status: 'modified', sha: entry.sha });
    else if (old.mode !== entry.mode) files.push({ filename: path, status: 'changed', sha: entry.sha });
  }
  for (const [sha, path] of removed) files.push({ filename: path, status: 'removed', sha });
  return files.sort((a, b) => (a.filename < b.filename ? -1 : 1)).slice(0, 300);
}

export interface FakePullRequest {
  readonly number: number;
  readonly title: string;
  readonly body: string | null;
  /** Branch names. */
  readonly head: string;
  readonly base: string;
  readonly state: 'open' | 'closed';
}

/** What GitHub's Git database says of a commit made through the API (or served from the start). */
export interface FakeCommitDetails {
  readonly tree: string;
  readonly parents: readonly string[];
  readonly message: string;
  readonly author?: { readonly name: string; readonly email: string };
}

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  readonly script: ScriptedResponse[] = [];
  /** Tree shas whose recursive listing comes back truncated. */
  readonly truncate = new Set<string>();
  /** Blob shas served with the wrong content. */
  readonly corrupt = new Set<string>();
  /** Branches a reference update may not move (GitHub's branch protection). */
  readonly protectedBranches = new Set<string>();
  /** Branch name -> commit. */
  readonly branches = new Map<string, string>();
  readonly pulls: FakePullRequest[] = [];
  private server: Server | undefined;
  url = '';
  /** Every commit served, by id; `parents` links a commit to the one it was made on. */
  private readonly commits = new Map<string, FakeRepository>();
  private readonly parents = new Map<string, string>();
  /** Trees made with POST /git/trees, by id (each held as a repository whose root is that tree). */
  private readonly trees = new Map<string, FakeRepository>();
  private readonly details = new Map<string, FakeCommitDetails>();
  private made = 0;

  constructor(public repo: FakeRepository) {
    this.commits.set(repo.commit, repo);
    this.branches.set('main', repo.commit);
  }

  /** The tree, parents, message and author of a commit. */
  commitDetails(commit: string): FakeCommitDetails | undefined {
    if (!this.commits.has(commit)) return undefined;
    const parent = this.parents.get(commit);
    return (
      this.details.get(commit) ?? {
        tree: commit,
        parents: parent === undefined ? [] : [parent],
        message: `commit ${commit}`,
      }
    );
  }

  /** The text of every file at a commit (or a tree made through the API), by path. */
  filesAt(commitOrTree: string): Record<string, string> | undefined {
    const repo = this.commits.get(commitOrTree) ?? this.trees.get(commitOrTree);
    if (!repo) return undefined;
    const out: Record<string, string> = {};
    for (const [path, entry] of Object.entries(repo.files))
      out[path] = Buffer.from(entry.content ?? '').toString('utf8');
    return out;
  }

  /**
   * A commit on top of a branch, as a push by someone else would make it (`null` deletes a file);
   * returns its id.
   */
  push(branch: string, changes: Record<string, string | null>, message = 'a push'): string {
    const at = this.branches.get(branch);
    const base = at === undefined ? undefined : this.commits.get(at);
    if (!at || !base) throw new Error(`no branch ${branch}`);
    const files: Record<string, FakeEntry> = { ...base.files };
    for (const [path, content] of Object.entries(changes)) {
      if (content === null) delete files[path];
      else files[path] = { mode: '100644', content };
    }
    const tree = this.makeTree(files);
    const commit = this.makeCommit({ tree, parents: [at], message });
    this.branches.set(branch, commit);
    return commit;
  }

  private makeTree(files: Record<string, FakeEntry>): string {
    const listing = Object.entries(files)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([path, entry]) => `${entry.mode} ${path} ${gitSha1('blob', Buffer.from(entry.content ?? ''))}`)
      .join('\n');
    const repo = buildRepository(files, `tree:${createHash('sha1').update(listing).digest('hex')}`);
    this.trees.set(repo.commit, repo);
    return repo.commit;
  }

  private makeCommit(details: FakeCommitDetails): string {
    const files = (this.trees.get(details.tree) ?? this.commits.get(details.tree))?.files ?? {};
    this.made += 1;
    const repo = buildRepository(
      files,
      `made:${this.made}:${details.tree}:${details.parents.join(',')}:${details.message}`,
    );
    this.addCommit(repo, details.parents[0]);
    this.details.set(repo.commit, details);
    return repo.commit;
  }

  private isAncestor(ancestor: string, commit: string): boolean {
    return this.ancestors(commit).includes(ancestor);
  }

  /** Serves another commit too, made on `parent` (a commit already served) unless it is a new root. */
  addCommit(repo: FakeRepository, parent?: string): void {
    this.commits.set(repo.commit, repo);
    if (parent !== undefined) this.parents.set(repo.commit, parent);
  }

  private ancestors(commit: string): string[] {
    const line = [commit];
    for (let at = this.parents.get(commit); at !== undefined; at = this.parents.get(at)) line.push(at);
    return line;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  reset(): void {
    this.requests.length = 0;
    this.script.length = 0;
    this.truncate.clear();
    this.corrupt.clear();
    this.protectedBranches.clear();
  }

  /** Answers; returns true so `return this.json(…)` reads as "handled". */
  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'x-github-api-version-selected': '2022-11-28',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '4999',
      ...headers,
    });
    res.end(body === undefined ? '' : JSON.stringify(body));
    return true;
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): boolean {
    const url = req.url ?? '/';
    this.requests.push({ method: req.method ?? '', url, headers: req.headers, body });
    const index = this.script.findIndex((s) => s.match.test(`${req.method} ${url}`));
    if (index >= 0) {
      const [scripted] = this.script.splice(index, 1);
      if (scripted?.hang) return false;
      return this.json(res, scripted?.status ?? 500, scripted?.body, scripted?.headers);
    }
    const api = this.url;
    let match = /^\/repos\/octo-org\/models\/git\/trees\/([0-9a-f]{40})(\?recursive=1)?$/.exec(url);
    if (req.method === 'GET' && match) {
      const sha = match[1] as string;
      const recursive = Boolean(match[2]);
      const owner = [...this.commits.values(), ...this.trees.values()].find((r) => r.treeBySha.has(sha)) ?? this.repo;
      const dir = owner.treeBySha.get(sha);
      if (dir === undefined)
        return this.json(res, 404, {
          message: 'Not Found',
          documentation_url: 'https://docs.github.com/rest/git/trees#get-a-tree',
          status: '404',
        });
      let tree = owner.listTree(dir, recursive);
      const truncated = recursive && this.truncate.has(sha);
      if (truncated) tree = tree.slice(0, 1);
      return this.json(res, 200, {
        sha,
        url: `${api}/repos/octo-org/models/git/trees/${sha}`,
        tree: tree.map((e) => ({
          path: e.path,
          mode: e.mode,
          type: e.type,
          sha: e.sha,
          ...(e.size === undefined ? {} : { size: e.size }),
          url: `${api}/repos/octo-org/models/git/${e.type === 'tree' ? 'trees' : 'blobs'}/${e.sha}`,
        })),
        truncated,
      });
    }
    match = /^\/repos\/octo-org\/models\/git\/blobs\/([0-9a-f]{40})$/.exec(url);
    if (req.method === 'GET' && match) {
      const sha = match[1] as string;
      const content = [...this.commits.values()].find((r) => r.blobs.has(sha))?.blobs.get(sha);
      if (!content) return this.json(res, 404, { message: 'Not Found', status: '404' });
      const served = this.corrupt.has(sha) ? Buffer.from(`${content.toString('utf8')} `) : content;
      // GitHub wraps base64 content at 60 characters.
      const base64 = served.toString('base64').replace(/(.{60})/g, '$1\n');
      return this.json(res, 200, {
        sha,
        node_id: 'B_kwDO',
        size: content.length,
        url: `${api}${url}`,
        content: base64,
        encoding: 'base64',
      });
    }
    match = /^\/repos\/octo-org\/models\/compare\/([0-9a-f]{40})\.\.\.([0-9a-f]{40})(\?.*)?$/.exec(url);
    if (req.method === 'GET' && match) {
      const base = this.commits.get(match[1] as string);
      const head = this.commits.get(match[2] as string);
      if (!base || !head) return this.json(res, 404, { message: 'Not Found', status: '404' });
      // Three-dot: the files are those of the merge base → head.
      const behind = this.ancestors(base.commit);
      const ahead = this.ancestors(head.commit);
      const mergeBase = ahead.find((c) => behind.includes(c));
      const status =
        base.commit === head.commit
          ? 'identical'
          : mergeBase === base.commit
            ? 'ahead'
            : mergeBase === head.commit
              ? 'behind'
              : 'diverged';
      const from = this.commits.get(mergeBase ?? '') ?? base;
      const files = compareFiles(from, head);
      return this.json(res, 200, {
        url: `${api}${url}`,
        status,
        ahead_by: ahead.indexOf(mergeBase ?? '') === -1 ? ahead.length : ahead.indexOf(mergeBase ?? ''),
        behind_by: behind.indexOf(mergeBase ?? '') === -1 ? behind.length : behind.indexOf(mergeBase ?? ''),
        merge_base_commit: { sha: from.commit },
        base_commit: { sha: base.commit },
        commits: [],
        files: files.map((f) => ({ ...f, additions: 0, deletions: 0, changes: 0 })),
      });
    }
    match = /^\/repos\/octo-org\/models\/statuses\/([0-9a-f]{40})$/.exec(url);
    if (req.method === 'POST' && match) {
      const input = JSON.parse(body) as Record<string, unknown>;
      return this.json(res, 201, {
        url: `${api}${url}`,
        id: 1,
        node_id: 'SC_kwDO',
        state: input.state,
        description: input.description ?? null,
        target_url: input.target_url ?? null,
        context: input.context ?? 'default',
        created_at: '2024-01-01T00:00:00Z',
        updated_at: '2024-01-01T00:00:00Z',
      });
    }
    if (this.handleWrites(req.method ?? '', url, body, res)) return true;
    return this.json(res, 404, {
      message: 'Not Found',
      documentation_url: 'https://docs.github.com/rest',
      status: '404',
    });
  }

  /** The Git database and pull request routes of the write-back; false when none matches. */
  private handleWrites(method: string, rawUrl: string, body: string, res: ServerResponse): boolean {
    const api = this.url;
    const parsed = new URL(rawUrl, 'http://fake');
    const route = `${method} ${parsed.pathname}`;
    const input = (): Record<string, unknown> => {
      try {
        const value = JSON.parse(body) as unknown;
        return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
      } catch {
        return {};
      }
    };
    const invalid = (message: string) =>
      this.json(res, 422, { message, documentation_url: 'https://docs.github.com/rest', status: '422' });
    const refJson = (branch: string, sha: string) => ({
      ref: `refs/heads/${branch}`,
      node_id: 'REF_kwDO',
      url: `${api}/repos/octo-org/models/git/refs/heads/${branch}`,
      object: { sha, type: 'commit', url: `${api}/repos/octo-org/models/git/commits/${sha}` },
    });
    const pullJson = (pr: FakePullRequest) => ({
      number: pr.number,
      state: pr.state,
      title: pr.title,
      body: pr.body,
      html_url: `https://github.com/octo-org/models/pull/${pr.number}`,
      head: { ref: pr.head, sha: this.branches.get(pr.head) ?? null, label: `octo-org:${pr.head}` },
      base: { ref: pr.base, sha: this.branches.get(pr.base) ?? null, label: `octo-org:${pr.base}` },
    });
    const branchIn = (prefix: string) =>
      parsed.pathname.slice(prefix.length).split('/').map(decodeURIComponent).join('/');

    const refPrefix = '/repos/octo-org/models/git/ref/heads/';
    if (method === 'GET' && parsed.pathname.startsWith(refPrefix)) {
      const branch = branchIn(refPrefix);
      const sha = this.branches.get(branch);
      if (sha === undefined) return this.json(res, 404, { message: 'Not Found', status: '404' });
      return this.json(res, 200, refJson(branch, sha));
    }
    const refsPrefix = '/repos/octo-org/models/git/refs/heads/';
    if (method === 'PATCH' && parsed.pathname.startsWith(refsPrefix)) {
      const branch = branchIn(refsPrefix);
      const { sha, force } = input();
      const current = this.branches.get(branch);
      if (current === undefined) return invalid('Reference does not exist');
      if (typeof sha !== 'string' || !this.commits.has(sha)) return invalid('Object does not exist');
      if (this.protectedBranches.has(branch))
        return invalid(`Protected branch update failed for refs/heads/${branch}.`);
      if (force !== true && !this.isAncestor(current, sha)) return invalid('Update is not a fast forward');
      this.branches.set(branch, sha);
      return this.json(res, 200, refJson(branch, sha));
    }
    const match = /^\/repos\/octo-org\/models\/git\/commits\/([0-9a-f]{40})$/.exec(parsed.pathname);
    if (method === 'GET' && match) {
      const sha = match[1] as string;
      const details = this.commitDetails(sha);
      if (!details) return this.json(res, 404, { message: 'Not Found', status: '404' });
      return this.json(res, 200, {
        sha,
        node_id: 'C_kwDO',
        url: `${api}/repos/octo-org/models/git/commits/${sha}`,
        message: details.message,
        tree: { sha: details.tree, url: `${api}/repos/octo-org/models/git/trees/${details.tree}` },
        parents: details.parents.map((p) => ({ sha: p, url: `${api}/repos/octo-org/models/git/commits/${p}` })),
        author: { name: details.author?.name ?? 'Octo Cat', email: details.author?.email ?? 'octocat@example.com' },
      });
    }
    switch (route) {
      case 'POST /repos/octo-org/models/git/trees': {
        const { base_tree: baseTree, tree } = input();
        if (!Array.isArray(tree)) return invalid('Invalid request.\n\n"tree" wasn\'t supplied.');
        let files: Record<string, FakeEntry> = {};
        if (baseTree !== undefined) {
          const base =
            typeof baseTree === 'string' ? (this.trees.get(baseTree) ?? this.commits.get(baseTree)) : undefined;
          if (!base) return invalid('base_tree is not a valid tree oid');
          files = { ...base.files };
        }
        for (const raw of tree as Array<Record<string, unknown>>) {
          const path = raw.path;
          const mode = raw.mode;
          if (typeof path !== 'string' || (mode !== '100644' && mode !== '100755') || raw.type !== 'blob') {
            return invalid(`tree entry not supported by this fake: ${JSON.stringify(raw)}`);
          }
          if (typeof raw.content === 'string') files[path] = { mode, content: raw.content };
          else if (raw.sha === null) {
            if (!(path in files)) return invalid(`GitRPC::BadObjectState: ${path} does not exist`);
            delete files[path];
          } else if (typeof raw.sha === 'string') {
            const blob = [...this.commits.values(), ...this.trees.values()].find((r) => r.blobs.has(raw.sha as string));
            if (!blob) return invalid('tree.sha is not a valid blob');
            files[path] = { mode, content: blob.blobs.get(raw.sha) ?? Buffer.alloc(0) };
          } else return invalid(`tree entry ${path} has neither content nor sha`);
        }
        const sha = this.makeTree(files);
        const made = this.trees.get(sha);
        return this.json(res, 201, {
          sha,
          url: `${api}/repos/octo-org/models/git/trees/${sha}`,
          tree: (made?.listTree('', true) ?? []).map((e) => ({ path: e.path, mode: e.mode, type: e.type, sha: e.sha })),
          truncated: false,
        });
      }
      case 'POST /repos/octo-org/models/git/commits': {
        const { message, tree, parents, author } = input();
        if (typeof message !== 'string') return invalid('Invalid request.\n\n"message" wasn\'t supplied.');
        if (typeof tree !== 'string' || !(this.trees.has(tree) || this.commits.has(tree))) {
          return invalid('Tree SHA does not exist');
        }
        if (!Array.isArray(parents) || parents.some((p) => typeof p !== 'string' || !this.commits.has(p))) {
          return invalid('Parent SHA does not exist or is not a commit object');
        }
        const who =
          typeof author === 'object' && author !== null ? (author as { name?: unknown; email?: unknown }) : undefined;
        const sha = this.makeCommit({
          tree,
          parents: parents as string[],
          message,
          ...(typeof who?.name === 'string' && typeof who.email === 'string'
            ? { author: { name: who.name, email: who.email } }
            : {}),
        });
        return this.json(res, 201, {
          sha,
          url: `${api}/repos/octo-org/models/git/commits/${sha}`,
          message,
          tree: { sha: tree },
          parents: (parents as string[]).map((p) => ({ sha: p })),
        });
      }
      case 'POST /repos/octo-org/models/git/refs': {
        const { ref, sha } = input();
        if (typeof ref !== 'string' || !/^refs\/heads\/.+/.test(ref)) return invalid('Reference name is invalid');
        if (typeof sha !== 'string' || !this.commits.has(sha)) return invalid('Object does not exist');
        const branch = ref.slice('refs/heads/'.length);
        if (this.branches.has(branch)) return invalid('Reference already exists');
        this.branches.set(branch, sha);
        return this.json(res, 201, refJson(branch, sha));
      }
      case 'GET /repos/octo-org/models/pulls': {
        const state = parsed.searchParams.get('state') ?? 'open';
        const head = parsed.searchParams.get('head');
        const base = parsed.searchParams.get('base');
        const found = this.pulls
          .filter((pr) => state === 'all' || pr.state === state)
          .filter((pr) => head === null || `octo-org:${pr.head}` === head)
          .filter((pr) => base === null || pr.base === base)
          .reverse();
        return this.json(res, 200, found.map(pullJson));
      }
      case 'POST /repos/octo-org/models/pulls': {
        const { title, head, base, body: text } = input();
        const failed = (field: string, code: string, message?: string) =>
          this.json(res, 422, {
            message: 'Validation Failed',
            errors: [{ resource: 'PullRequest', field, code, ...(message ? { message } : {}) }],
            documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
            status: '422',
          });
        if (typeof title !== 'string' || title.length === 0) return failed('title', 'missing_field');
        if (title.length > 256) return failed('title', 'custom', 'title is too long (maximum is 256 characters)');
        if (typeof text === 'string' && text.length > 65_536) {
          return failed('body', 'custom', 'body is too long (maximum is 65536 characters)');
        }
        if (typeof head !== 'string' || !this.branches.has(head)) return failed('head', 'invalid');
        if (typeof base !== 'string' || !this.branches.has(base)) return failed('base', 'invalid');
        const headSha = this.branches.get(head) as string;
        const baseSha = this.branches.get(base) as string;
        if (head === base || this.isAncestor(headSha, baseSha)) {
          return failed('', 'custom', `No commits between ${base} and ${head}`);
        }
        if (this.pulls.some((pr) => pr.state === 'open' && pr.head === head && pr.base === base)) {
          return failed('', 'custom', `A pull request already exists for octo-org:${head}.`);
        }
        const pr: FakePullRequest = {
          number: this.pulls.length + 1,
          title,
          body: typeof text === 'string' ? text : null,
          head,
          base,
          state: 'open',
        };
        this.pulls.push(pr);
        return this.json(res, 201, pullJson(pr));
      }
      default:
        return false;
    }
  }
}
