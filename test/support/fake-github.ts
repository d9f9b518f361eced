/**
 * A test double of the GitHub REST API on 127.0.0.1: the Git database endpoints Resolve reads (trees,
 * blobs), "Compare two commits" between the commits it was given, and the commit statuses Record
 * posts, for the repository `octo-org/models`, with scripted answers (rate limits, 5xx, hangs),
 * truncated listings and corrupted blobs. Every request is recorded.
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
  return { commit, blobs, treeBySha, listTree, paths };
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

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  readonly script: ScriptedResponse[] = [];
  /** Tree shas whose recursive listing comes back truncated. */
  readonly truncate = new Set<string>();
  /** Blob shas served with the wrong content. */
  readonly corrupt = new Set<string>();
  private server: Server | undefined;
  url = '';
  /** Every commit served, by id; `parents` links a commit to the one it was made on. */
  private readonly commits = new Map<string, FakeRepository>();
  private readonly parents = new Map<string, string>();

  constructor(public repo: FakeRepository) {
    this.commits.set(repo.commit, repo);
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
      const owner = [...this.commits.values()].find((r) => r.treeBySha.has(sha)) ?? this.repo;
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
    return this.json(res, 404, {
      message: 'Not Found',
      documentation_url: 'https://docs.github.com/rest',
      status: '404',
    });
  }
}
