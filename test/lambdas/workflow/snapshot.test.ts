/**
 * The incremental snapshot is the full read's snapshot, byte for byte: for a series of commits
 * (add, modify, delete, rename, changes outside Ballast's paths, a file growing over the size
 * limit, symlinks, non-UTF-8 content, a renamed folder, an empty commit), on CodeCommit (the
 * sandbox, through the SDK) and on GitHub (the REST double), each commit's snapshot built from the
 * previous one's plus the changes equals the one read in full; and it reads only what changed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CodeCommitClient } from '@aws-sdk/client-codecommit';
import { codeCommitSource } from '../../../lambdas/sources/codecommit.ts';
import { gitHubSource } from '../../../lambdas/sources/github.ts';
import { isCandidatePath, memorySource, type RepoEntry } from '../../../lambdas/spec/source.ts';
import { DEFAULT_LIMITS } from '../../../lambdas/spec/types.ts';
import {
  type CandidateChanges,
  captureSnapshot,
  captureSnapshotSince,
  type IncrementalRepoSource,
  type Snapshot,
} from '../../../lambdas/workflow/snapshot.ts';
import { type CodeCommitSandbox, createCodeCommitService } from '../../../sandbox/services/codecommit.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget } from '../../support/aws-targets.ts';
import { buildRepository, type FakeEntry, FakeGitHub, gitSha1 } from '../../support/fake-github.ts';

type State = Record<string, { readonly link?: true; readonly content: string | Buffer }>;

const endpoint = (name: string, count = 1) =>
  `apiVersion: ballast.dev/v1\nkind: Endpoint\nmetadata:\n  name: ${name}\nspec:\n  instanceCount: ${count}\n`;

const INITIAL: State = {
  'ballast.yaml': { content: 'apiVersion: ballast.dev/v1\nkind: Repository\nmetadata:\n  name: demo\n' },
  'models/a.yaml': { content: 'kind: Model\nmetadata:\n  name: a\n' },
  'models/b.yml': { content: 'kind: Model\nmetadata:\n  name: b\n' },
  'endpoints/e1.yaml': { content: endpoint('e1') },
  'endpoints/e2.yaml': { content: endpoint('e2') },
  'README.md': { content: '# demo\n' },
};

/** Each step changes the previous commit's files; the label says what the step is about. */
const STEPS: ReadonlyArray<readonly [string, (s: State) => void]> = [
  [
    'add an endpoint',
    (s) => {
      s['endpoints/e3.yaml'] = { content: endpoint('e3') };
    },
  ],
  [
    'modify an endpoint',
    (s) => {
      s['endpoints/e1.yaml'] = { content: endpoint('e1', 2) };
    },
  ],
  [
    'delete an endpoint',
    (s) => {
      delete s['endpoints/e2.yaml'];
    },
  ],
  [
    'rename an endpoint',
    (s) => {
      s['endpoints/e4.yaml'] = s['endpoints/e3.yaml'] ?? { content: '' };
      delete s['endpoints/e3.yaml'];
    },
  ],
  [
    'change only files outside the candidate paths',
    (s) => {
      s['README.md'] = { content: '# demo, changed\n' };
      s['scripts/run.sh'] = { content: '#!/bin/sh\n' };
      s['.github/ci.yaml'] = { content: 'on: push\n' };
      s['node_modules/pkg/x.yaml'] = { content: 'x: 1\n' };
      s['.hidden.yaml'] = { content: 'x: 1\n' };
    },
  ],
  [
    'grow a file over the size limit',
    (s) => {
      s['models/a.yaml'] = { content: `# ${'a'.repeat(DEFAULT_LIMITS.maxFileBytes)}\n` };
    },
  ],
  [
    'add a symlink and turn a file into one',
    (s) => {
      s['linked.yaml'] = { link: true, content: 'ballast.yaml' };
      s['models/b.yml'] = { link: true, content: '../ballast.yaml' };
    },
  ],
  [
    'add a file that is not UTF-8',
    (s) => {
      s['prompts/latin1.yaml'] = { content: Buffer.from([0x78, 0x3a, 0xff]) };
    },
  ],
  [
    'shrink the big file back and rename its folder',
    (s) => {
      delete s['models/a.yaml'];
      s['catalog/a.yaml'] = { content: 'kind: Model\nmetadata:\n  name: a\n' };
      const b = s['models/b.yml'];
      delete s['models/b.yml'];
      if (b) s['catalog/b.yml'] = b;
    },
  ],
  [
    'turn the symlink back into a file and change nothing else',
    (s) => {
      s['linked.yaml'] = { content: 'x: 1\n' };
    },
  ],
  ['commit nothing', () => undefined],
];

interface Commit {
  readonly label: string;
  readonly id: string;
  readonly state: State;
}

/** Candidate paths whose content or kind differs between two states: what an incremental capture may read. */
function changedCandidates(before: State, after: State): string[] {
  const paths = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...paths].filter((p) => {
    const a = before[p];
    const b = after[p];
    const same = a && b && a.link === b.link && Buffer.from(a.content).equals(Buffer.from(b.content));
    return isCandidatePath(p) && !same;
  });
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    ['-c', 'user.name=Ballast Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args],
    { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: cwd, GIT_CONFIG_NOSYSTEM: '1' } },
  ).trim();
}

/** Writes `state` into a work tree (removing what is gone) and commits it. */
function commitState(work: string, previous: State, state: State, message: string): string {
  for (const file of Object.keys(previous)) if (!(file in state)) unlinkSync(path.join(work, file));
  for (const [file, entry] of Object.entries(state)) {
    const at = path.join(work, file);
    const old = previous[file];
    if (old && old.link === entry.link && Buffer.from(old.content).equals(Buffer.from(entry.content))) continue;
    mkdirSync(path.dirname(at), { recursive: true });
    if (old) unlinkSync(at);
    if (entry.link) symlinkSync(String(entry.content), at);
    else writeFileSync(at, entry.content);
  }
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '--allow-empty', '-m', message);
  return git(work, 'rev-parse', 'HEAD');
}

function fakeEntries(state: State): Record<string, FakeEntry> {
  const files: Record<string, FakeEntry> = {};
  for (const [file, entry] of Object.entries(state)) {
    files[file] = { mode: entry.link ? '120000' : '100644', content: entry.content };
  }
  return files;
}

/** The series as states, starting from INITIAL. */
function series(): Array<{ label: string; state: State }> {
  const out = [{ label: 'initial', state: structuredClone(INITIAL) }];
  for (const [label, change] of STEPS) {
    const state = structuredClone(out[out.length - 1]?.state ?? {});
    change(state);
    out.push({ label, state });
  }
  return out;
}

/**
 * For each commit after the first: the incremental capture equals the full capture, and reads
 * (`reads()`: the paths read, `a|b` when a read may have been for either) only changed candidates.
 */
async function compareSeries(
  commits: readonly Commit[],
  sourceAt: (commit: string) => IncrementalRepoSource,
  reads: () => string[],
  clearReads: () => void,
): Promise<void> {
  assert.ok(commits.length > 2, 'the series has commits to compare');
  let previous: Snapshot = await captureSnapshot(sourceAt(commits[0]?.id ?? ''), commits[0]?.id ?? '');
  for (let i = 1; i < commits.length; i++) {
    const commit = commits[i] as Commit;
    const before = commits[i - 1] as Commit;
    clearReads();
    const incremental = await captureSnapshotSince(sourceAt(commit.id), commit.id, {
      commit: before.id,
      snapshot: previous,
    });
    const incrementalReads = reads();
    const full = await captureSnapshot(sourceAt(commit.id), commit.id);
    assert.equal(incremental.fullRead, undefined, `${commit.label}: built from the previous snapshot`);
    assert.equal(
      JSON.stringify(incremental.snapshot),
      JSON.stringify(full),
      `${commit.label}: the same snapshot as a full read, byte for byte`,
    );
    const allowed = new Set(changedCandidates(before.state, commit.state));
    const extra = incrementalReads.filter((read) => !read.split('|').some((p) => allowed.has(p)));
    assert.deepEqual(extra, [], `${commit.label}: reads only changed candidate files`);
    previous = incremental.snapshot;
  }
}

// ---------------------------------------------------------------------------------------------

describe('incremental snapshot on CodeCommit (the sandbox, through the SDK)', () => {
  let dir: string;
  let target: SandboxTarget;
  let client: CodeCommitClient;
  let service: CodeCommitSandbox | undefined;
  const commits: Commit[] = [];
  const calls: Array<{ command: string; input: Record<string, unknown> }> = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ballast-snapshot-cc-'));
    const work = path.join(dir, 'work');
    mkdirSync(work, { recursive: true });
    git(work, 'init', '-q', '-b', 'main');
    let state: State = {};
    for (const step of series()) {
      commits.push({ label: step.label, id: commitState(work, state, step.state, step.label), state: step.state });
      state = step.state;
    }
    target = await startSandboxTarget((ctx) => {
      service = createCodeCommitService(ctx, { reposDir: path.join(dir, 'repos') });
      return [service];
    });
    assert.ok(service, 'the CodeCommit sandbox started');
    await service.ready();
    await service.registerRepository('models', work);
    client = new CodeCommitClient(clientConfig(target.endpoint));
    client.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push({ command: String(context.commandName), input: args.input as Record<string, unknown> });
        return next(args);
      },
      { step: 'initialize', name: 'recordCalls' },
    );
  });

  after(async () => {
    client?.destroy();
    await target?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    calls.length = 0;
  });

  it('builds every commit of the series exactly as a full read, with GetDifferences and GetFile of what changed', async () => {
    await compareSeries(
      commits,
      (commit) => codeCommitSource(client, 'models', commit),
      () => {
        assert.ok(calls.length > 0, 'the capture called CodeCommit');
        assert.equal(calls.filter((c) => c.command === 'GetFolderCommand').length, 0, 'no GetFolder');
        return calls.filter((c) => c.command === 'GetFileCommand').map((c) => String(c.input.filePath));
      },
      () => {
        calls.length = 0;
      },
    );
  });

  it('a push changing one file costs one GetDifferences and one GetFile', async () => {
    const [, second] = commits;
    const first = commits[0];
    assert.ok(first && second, 'the series has two commits');
    const base = await captureSnapshot(codeCommitSource(client, 'models', first.id), first.id);
    calls.length = 0;
    await captureSnapshotSince(codeCommitSource(client, 'models', second.id), second.id, {
      commit: first.id,
      snapshot: base,
    });
    assert.deepEqual(
      calls.map((c) => c.command),
      ['GetDifferencesCommand', 'GetFileCommand'],
      'GetDifferences, then GetFile of the added endpoint',
    );
    const [differences] = calls;
    assert.equal(differences?.input.beforeCommitSpecifier, first.id, 'before: the previous commit');
    assert.equal(differences?.input.afterCommitSpecifier, second.id, 'after: the pushed commit');
  });

  it('pages GetDifferences with NextToken', async () => {
    const first = commits[0];
    const last = commits[commits.length - 1];
    assert.ok(first && last, 'the series has a first and a last commit');
    const base = await captureSnapshot(codeCommitSource(client, 'models', first.id), first.id);
    calls.length = 0;
    const capture = await captureSnapshotSince(
      codeCommitSource(client, 'models', last.id, { differencesPageSize: 2 }),
      last.id,
      { commit: first.id, snapshot: base },
    );
    const pages = calls.filter((c) => c.command === 'GetDifferencesCommand');
    assert.ok(pages.length > 2, `several pages of 2 differences (saw ${pages.length})`);
    assert.ok(
      pages.slice(1).every((p) => typeof p.input.NextToken === 'string'),
      'every later page sends the token',
    );
    const full = await captureSnapshot(codeCommitSource(client, 'models', last.id), last.id);
    assert.equal(JSON.stringify(capture.snapshot), JSON.stringify(full), 'the paged capture equals a full read');
  });

  it('reads in full past maxDifferences, or without a usable previous snapshot', async () => {
    const first = commits[0];
    const last = commits[commits.length - 1];
    assert.ok(first && last, 'the series has a first and a last commit');
    const base = await captureSnapshot(codeCommitSource(client, 'models', first.id), first.id);
    const full = await captureSnapshot(codeCommitSource(client, 'models', last.id), last.id);
    const cases: Array<[string, Parameters<typeof captureSnapshotSince>[2], number | undefined]> = [
      ['too many differences', { commit: first.id, snapshot: base }, 3],
      ['no previous commit', undefined, undefined],
      ['no previous snapshot', { commit: first.id, snapshot: undefined }, undefined],
      ['a snapshot of another commit', { commit: first.id, snapshot: { ...base, commit: last.id } }, undefined],
      [
        'other limits',
        { commit: first.id, snapshot: { ...base, limits: { ...DEFAULT_LIMITS, maxFiles: 10 } } },
        undefined,
      ],
      ['no recorded limits', { commit: first.id, snapshot: { ...base, limits: undefined } }, undefined],
    ];
    for (const [name, previous, maxDifferences] of cases) {
      calls.length = 0;
      const capture = await captureSnapshotSince(
        codeCommitSource(client, 'models', last.id, maxDifferences ? { maxDifferences } : {}),
        last.id,
        previous,
      );
      assert.equal(typeof capture.fullRead, 'string', `${name}: read in full, with a reason`);
      assert.ok(
        calls.some((c) => c.command === 'GetFolderCommand'),
        `${name}: the full read walked the tree`,
      );
      assert.equal(JSON.stringify(capture.snapshot), JSON.stringify(full), `${name}: the full read's snapshot`);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('incremental snapshot on GitHub (the REST double)', () => {
  let github: FakeGitHub;
  const commits: Commit[] = [];
  const source = (commit: string) =>
    gitHubSource({ apiUrl: github.url, token: 't', repository: 'octo-org/models', commit, maxAttempts: 1 });
  /** The files each blob request may have been for (one blob can be several paths' content): `a|b`. */
  const blobReads = () => {
    const byBlob = new Map<string, Set<string>>();
    for (const c of commits) {
      for (const [file, entry] of Object.entries(c.state)) {
        const sha = gitSha1('blob', Buffer.from(entry.content));
        byBlob.set(sha, (byBlob.get(sha) ?? new Set()).add(file));
      }
    }
    return github.requests
      .filter((r) => r.url.includes('/git/blobs/'))
      .map((r) => [...(byBlob.get(r.url.split('/').pop() ?? '') ?? [r.url])].join('|'));
  };

  before(async () => {
    let parent: string | undefined;
    for (const [index, step] of series().entries()) {
      const repo = buildRepository(fakeEntries(step.state), `commit-${index}`);
      if (!github) github = new FakeGitHub(repo);
      else github.addCommit(repo, parent);
      parent = repo.commit;
      commits.push({ label: step.label, id: repo.commit, state: step.state });
    }
    await github.start();
  });

  after(async () => {
    await github?.stop();
  });

  beforeEach(() => github.reset());

  it('builds every commit of the series exactly as a full read, reading only changed blobs', async () => {
    await compareSeries(commits, source, blobReads, () => github.reset());
  });

  it('a push changing one file costs a compare, the tree and one blob', async () => {
    const [first, second] = commits;
    assert.ok(first && second, 'the series has two commits');
    const base = await captureSnapshot(source(first.id), first.id);
    github.reset();
    await captureSnapshotSince(source(second.id), second.id, { commit: first.id, snapshot: base });
    const urls = github.requests.map((r) => r.url.replace(/[0-9a-f]{40}/g, '<sha>'));
    assert.deepEqual(
      urls,
      [
        '/repos/octo-org/models/compare/<sha>...<sha>?per_page=1',
        '/repos/octo-org/models/git/trees/<sha>?recursive=1',
        '/repos/octo-org/models/git/blobs/<sha>',
      ],
      'compare, the tree for modes and sizes, the one changed blob',
    );
  });

  it('reads in full when the history diverged or GitHub may have cut the file list', async () => {
    const first = commits[0];
    assert.ok(first, 'the series has a first commit');
    const base = await captureSnapshot(source(first.id), first.id);
    // A force push: a commit that does not descend from the previous one.
    const rewritten = buildRepository(
      fakeEntries({ ...first.state, 'endpoints/x.yaml': { content: endpoint('x') } }),
      'rewritten',
    );
    github.addCommit(rewritten);
    // 300 changed files: GitHub's list may be cut there, so it is not trusted.
    const many: State = { ...first.state };
    for (let i = 0; i < 300; i++)
      many[`endpoints/many-${String(i).padStart(3, '0')}.yaml`] = { content: endpoint(`m${i}`) };
    const wide = buildRepository(fakeEntries(many), 'wide');
    github.addCommit(wide, first.id);
    for (const [name, commit] of [
      ['diverged', rewritten.commit],
      ['300 files', wide.commit],
    ] as const) {
      github.reset();
      const capture = await captureSnapshotSince(source(commit), commit, { commit: first.id, snapshot: base });
      const full = await captureSnapshot(source(commit), commit);
      assert.equal(typeof capture.fullRead, 'string', `${name}: read in full, with a reason`);
      assert.equal(JSON.stringify(capture.snapshot), JSON.stringify(full), `${name}: the full read's snapshot`);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('captureSnapshotSince and the total-size limit', () => {
  /** A memory repository that can also say what changed, by comparing with another one. */
  function incremental(files: Record<string, string>, bases: Record<string, Record<string, string>>) {
    const memory = memorySource(files);
    const reads: string[] = [];
    const source: IncrementalRepoSource = {
      list: () => memory.list(),
      read: (p) => {
        reads.push(p);
        return memory.read(p);
      },
      async changesSince(base): Promise<CandidateChanges> {
        const old = bases[base] ?? {};
        const entries = await memory.list();
        const touched = [...new Set([...Object.keys(old), ...Object.keys(files)])].filter(
          (p) => old[p] !== files[p] && isCandidatePath(p),
        );
        return {
          present: entries.filter((e: RepoEntry) => touched.includes(e.path)),
          gone: touched.filter((p) => !(p in files)),
        };
      },
    };
    return { source, reads };
  }

  it('reads an unchanged file that the previous snapshot left out and that now fits', async () => {
    // 17 files of 1 MiB: the 17th is over the 16 MiB total, so the previous snapshot has no content for it.
    const big = (i: number) => `# ${String(i).padStart(2, '0')}${'x'.repeat(DEFAULT_LIMITS.maxFileBytes - 5)}\n`;
    const before: Record<string, string> = {};
    for (let i = 0; i < 17; i++) before[`configs/c${String(i).padStart(2, '0')}.yaml`] = big(i);
    const base = await captureSnapshot(memorySource(before), 'a'.repeat(40));
    assert.equal(base.files['configs/c16.yaml'], undefined, 'the previous snapshot left the last file out');
    const after = { ...before };
    delete after['configs/c00.yaml'];
    const { source, reads } = incremental(after, { ['a'.repeat(40)]: before });
    const capture = await captureSnapshotSince(source, 'b'.repeat(40), { commit: 'a'.repeat(40), snapshot: base });
    const full = await captureSnapshot(memorySource(after), 'b'.repeat(40));
    assert.equal(capture.fullRead, undefined, 'built from the previous snapshot');
    assert.deepEqual(reads, ['configs/c16.yaml'], 'read only the file that now fits');
    assert.equal(JSON.stringify(capture.snapshot), JSON.stringify(full), 'the same snapshot as a full read');
  });
});
