import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  assertSafeTreePath,
  GitError,
  type GitIdentity,
  GitRepository,
  isValidRefName,
  parseIdentity,
  runGit,
} from '../../sandbox/git.ts';

const identity: GitIdentity = {
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  timestamp: 1700000000,
  timezone: '+0000',
};
const cliIdentity = {
  GIT_AUTHOR_NAME: 'Grace Hopper',
  GIT_AUTHOR_EMAIL: 'grace@example.com',
  GIT_COMMITTER_NAME: 'Grace Hopper',
  GIT_COMMITTER_EMAIL: 'grace@example.com',
};

async function rejectsWithReason(promise: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof GitError, `expected a GitError, got ${String(error)}`);
    assert.equal(error.reason, reason);
    return true;
  });
}

describe('GitRepository', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ballast-git-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates commits without a working tree and reads them back', async () => {
    const repo = await GitRepository.initBare(path.join(dir, 'plumbing.git'));
    assert.equal(repo.bare, true);
    assert.equal(await repo.headBranch(), 'main');
    assert.deepEqual(await repo.branches(), []);

    const binary = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0]);
    const first = await repo.createCommit({
      branch: 'main',
      expectedHead: null,
      changes: [
        { kind: 'put', path: 'models/llm.yaml', mode: '100644', content: Buffer.from('kind: Model\n') },
        { kind: 'put', path: 'bin/run.sh', mode: '100755', content: Buffer.from('#!/bin/sh\n') },
        { kind: 'put', path: 'weights.bin', mode: '100644', content: binary },
        { kind: 'put', path: 'latest', mode: '120000', content: Buffer.from('models/llm.yaml') },
      ],
      author: identity,
      message: 'first\n',
    });
    const commit = await repo.readCommit(first.commitId);
    assert.ok(commit);
    assert.equal(commit.treeId, first.treeId);
    assert.deepEqual(commit.parents, []);
    assert.deepEqual(commit.author, identity);
    assert.deepEqual(commit.committer, identity);
    assert.equal(commit.message, 'first\n');
    assert.deepEqual(await repo.branches(), [{ name: 'main', commitId: first.commitId }]);

    const tree = await repo.listTree(first.commitId, { recursive: true });
    assert.deepEqual(
      tree.map((e) => [e.path, e.mode, e.type, e.size]),
      [
        ['bin/run.sh', '100755', 'blob', 10],
        ['latest', '120000', 'blob', 15],
        ['models/llm.yaml', '100644', 'blob', 12],
        ['weights.bin', '100644', 'blob', 8],
      ],
    );
    const weights = await repo.entry(first.commitId, 'weights.bin');
    assert.ok(weights);
    assert.deepEqual(await repo.readBlob(weights.id), binary);
    assert.equal((await repo.entry(first.commitId, 'models'))?.type, 'tree');
    assert.equal(await repo.entry(first.commitId, 'missing'), undefined);
    assert.equal(await repo.entry(first.commitId, '../etc/passwd'), undefined);
    const root = await repo.listTree(first.commitId);
    assert.deepEqual(
      root.map((e) => [e.path, e.type]),
      [
        ['bin', 'tree'],
        ['latest', 'blob'],
        ['models', 'tree'],
        ['weights.bin', 'blob'],
      ],
    );

    const second = await repo.createCommit({
      branch: 'main',
      expectedHead: first.commitId,
      changes: [
        { kind: 'put', path: 'models/llm.yaml', mode: '100644', content: Buffer.from('kind: Model\nv: 2\n') },
        { kind: 'delete', path: 'weights.bin' },
        { kind: 'put', path: 'prompts/system.txt', mode: '100644', content: Buffer.from('be brief') },
        { kind: 'put', path: 'latest', mode: '100644', content: Buffer.from('no longer a link') },
      ],
      author: identity,
      message: 'second',
    });
    assert.deepEqual((await repo.readCommit(second.commitId))?.parents, [first.commitId]);
    const diff = await repo.diff(first.commitId, second.commitId);
    assert.deepEqual(
      diff.map((d) => [d.status, d.path]),
      [
        ['T', 'latest'],
        ['M', 'models/llm.yaml'],
        ['A', 'prompts/system.txt'],
        ['D', 'weights.bin'],
      ],
    );
    const added = diff.find((d) => d.status === 'A');
    assert.equal(added?.oldId, undefined);
    assert.equal(added?.newMode, '100644');
    const deleted = diff.find((d) => d.status === 'D');
    assert.equal(deleted?.oldId, weights.id);
    assert.equal(deleted?.newId, undefined);
    // No "before": everything in the commit is an addition.
    assert.ok((await repo.diff(undefined, second.commitId)).every((d) => d.status === 'A'));
    // A path filter, and a comparison of two sub-trees.
    assert.deepEqual(
      (await repo.diff(first.commitId, second.commitId, ['models'])).map((d) => d.path),
      ['models/llm.yaml'],
    );
    assert.deepEqual(
      (await repo.diff(`${first.commitId}:models`, `${second.commitId}:models`)).map((d) => d.path),
      ['llm.yaml'],
    );
  });

  it('moves a branch only with the expected old value (compare-and-swap)', async () => {
    const repo = await GitRepository.initBare(path.join(dir, 'cas.git'));
    const one = await repo.createCommit({
      branch: 'main',
      expectedHead: null,
      changes: [{ kind: 'put', path: 'a', mode: '100644', content: Buffer.from('1') }],
      author: identity,
      message: 'one',
    });
    const two = await repo.createCommit({
      branch: 'main',
      expectedHead: one.commitId,
      changes: [{ kind: 'put', path: 'a', mode: '100644', content: Buffer.from('2') }],
      author: identity,
      message: 'two',
    });
    // A writer that still believes `one` is the head loses.
    await rejectsWithReason(
      repo.createCommit({
        branch: 'main',
        expectedHead: one.commitId,
        changes: [{ kind: 'put', path: 'a', mode: '100644', content: Buffer.from('3') }],
        author: identity,
        message: 'stale',
      }),
      'ref-conflict',
    );
    // Creating a branch that already exists loses too.
    await rejectsWithReason(repo.updateRef('refs/heads/main', one.commitId, null), 'ref-conflict');
    assert.equal(await repo.branchHead('main'), two.commitId);
    await repo.updateRef('refs/heads/release', one.commitId, null);
    assert.equal(await repo.branchHead('release'), one.commitId);
  });

  it('refuses unsafe tree paths instead of letting git silently drop them', async () => {
    const repo = await GitRepository.initBare(path.join(dir, 'unsafe.git'));
    for (const bad of ['../x', 'a/../b', '.git/config', 'a/.GIT/hooks', '/abs', 'trailing/', 'a//b', '', 'nul\0x']) {
      assert.throws(() => assertSafeTreePath(bad), GitError, bad);
      await assert.rejects(
        repo.createCommit({
          branch: 'main',
          expectedHead: null,
          changes: [{ kind: 'put', path: bad, mode: '100644', content: Buffer.from('x') }],
          author: identity,
          message: 'bad',
        }),
        GitError,
      );
    }
    assert.equal(await repo.branchHead('main'), undefined);
  });

  it('bounds blob reads and command output', async () => {
    const repo = await GitRepository.initBare(path.join(dir, 'bounded.git'));
    const id = await repo.writeBlob(Buffer.alloc(4096, 7));
    assert.equal(await repo.blobSize(id), 4096);
    await rejectsWithReason(repo.readBlob(id, 4095), 'blob-too-large');
    assert.equal((await repo.readBlob(id, 4096)).length, 4096);
    await rejectsWithReason(repo.run(['cat-file', 'blob', id], { maxOutputBytes: 100 }), 'output-too-large');
  });

  it('times out a git that hangs', async () => {
    const fakeGit = path.join(dir, 'hanging-git');
    writeFileSync(fakeGit, '#!/bin/sh\nexec sleep 30\n');
    chmodSync(fakeGit, 0o755);
    const started = Date.now();
    await rejectsWithReason(runGit(['status'], { gitPath: fakeGit, timeoutMs: 200 }), 'timeout');
    assert.ok(Date.now() - started < 5000);
  });

  it('opens a working repository, ignores inherited GIT_* variables, and sees CLI commits', async () => {
    const work = path.join(dir, 'work');
    mkdirSync(work);
    await runGit(['init', '--quiet', '--initial-branch=main'], { cwd: work });
    writeFileSync(path.join(work, 'ballast.yaml'), 'kind: Repository\n');
    symlinkSync('ballast.yaml', path.join(work, 'link'));
    await runGit(['add', '-A'], { cwd: work });
    await runGit(['commit', '--quiet', '-m', 'init'], { cwd: work, env: cliIdentity });
    await runGit(['tag', '-a', 'v1', '-m', 'release v1'], { cwd: work, env: cliIdentity });

    const saved = { GIT_DIR: process.env.GIT_DIR, GIT_INDEX_FILE: process.env.GIT_INDEX_FILE };
    process.env.GIT_DIR = path.join(dir, 'does-not-exist.git');
    process.env.GIT_INDEX_FILE = path.join(dir, 'bogus-index');
    try {
      const repo = await GitRepository.open(work);
      assert.equal(repo.bare, false);
      assert.equal(repo.workTree, work);
      assert.equal(repo.gitDir, path.join(work, '.git'));
      const head = await repo.branchHead('main');
      assert.ok(head);
      const commit = await repo.readCommit(head);
      assert.equal(commit?.author.name, 'Grace Hopper');
      assert.equal(commit?.message, 'init\n');
      assert.equal((await repo.entry(head, 'link'))?.mode, '120000');
      // The annotated tag is peeled to its commit.
      const refs = await repo.refs();
      assert.deepEqual(refs.find((r) => r.name === 'refs/tags/v1')?.commitId, head);
      assert.equal(await repo.resolveCommit('refs/tags/v1'), head);

      // A plumbing commit on another branch leaves the user's index and working tree alone.
      await repo.updateRef('refs/heads/side', head, null);
      await repo.createCommit({
        branch: 'side',
        expectedHead: head,
        changes: [{ kind: 'put', path: 'new.txt', mode: '100644', content: Buffer.from('x') }],
        author: identity,
        message: 'side',
      });
      const status = await runGit(['status', '--porcelain'], { cwd: work });
      assert.equal(status.stdout.toString('utf8'), '');
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
    // A directory inside the working tree is not the repository.
    mkdirSync(path.join(work, 'sub'));
    await assert.rejects(GitRepository.open(path.join(work, 'sub')), GitError);
  });

  it('validates ref names and parses identities', () => {
    for (const good of ['main', 'feature/x', 'release-1.2', 'a@b']) assert.ok(isValidRefName(good), good);
    for (const bad of [
      '',
      '@',
      'a..b',
      'a b',
      'a~1',
      'a^',
      'a:b',
      '-x',
      '/a',
      'a/',
      'a.lock',
      'a//b',
      '.hidden',
      'a@{1}',
    ]) {
      assert.ok(!isValidRefName(bad), bad);
    }
    assert.deepEqual(parseIdentity('Mary Major <mary_major@example.com> 1484167798 -0800'), {
      name: 'Mary Major',
      email: 'mary_major@example.com',
      timestamp: 1484167798,
      timezone: '-0800',
    });
  });
});
