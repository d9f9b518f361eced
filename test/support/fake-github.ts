/**
 * A test double of the GitHub REST API on 127.0.0.1: the Git database endpoints Resolve reads (trees,
 * blobs) and the commit statuses Record posts, for the repository `octo-org/models`, with scripted
 * answers (rate limits, 5xx, hangs), truncated listings and corrupted blobs. Every request is recorded.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Mode = '100644' | '100755' | '120000' | '160000';
export interface FakeEntry {
  readonly mode: Mode;
  readonly content?: string;
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

/** Trees and blobs for a set of files, addressed the way GitHub's Git database API addresses them. */
export function buildRepository(files: Record<string, FakeEntry>) {
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
        dirs
          .get(dir)
          ?.set(part, { mode: '040000', type: 'tree', sha: createHash('sha1').update(`tree:${child}`).digest('hex') });
      }
      dir = child;
    }
    const name = parts[parts.length - 1] as string;
    if (entry.mode === '160000') {
      dirs
        .get(dir)
        ?.set(name, { mode: entry.mode, type: 'commit', sha: createHash('sha1').update(`sub:${path}`).digest('hex') });
    } else {
      const content = Buffer.from(entry.content ?? '');
      const sha = gitSha1('blob', content);
      blobs.set(sha, content);
      dirs.get(dir)?.set(name, { mode: entry.mode, type: 'blob', sha, size: content.length });
    }
  }
  const treeBySha = new Map<string, string>();
  for (const [dir, nodes] of dirs) {
    for (const [name, node] of nodes) if (node.type === 'tree') treeBySha.set(node.sha, dir ? `${dir}/${name}` : name);
  }
  const commit = createHash('sha1').update('commit').digest('hex');
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
  return { commit, blobs, treeBySha, listTree };
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

  constructor(public repo: ReturnType<typeof buildRepository>) {}

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
      const dir = this.repo.treeBySha.get(sha);
      if (dir === undefined)
        return this.json(res, 404, {
          message: 'Not Found',
          documentation_url: 'https://docs.github.com/rest/git/trees#get-a-tree',
          status: '404',
        });
      let tree = this.repo.listTree(dir, recursive);
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
      const content = this.repo.blobs.get(sha);
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
